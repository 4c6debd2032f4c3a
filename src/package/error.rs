//! Why a file could not be packaged: one enum whose `Display` is a short reason for a log line,
//! never a copy of the file's bytes.

/// A file that cannot be packaged, or a limit it exceeds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// The first box is not an ISO BMFF top-level box.
    #[error("not an MP4 file")]
    NotMp4,
    /// The top-level boxes end without a `moov`.
    #[error("no moov box")]
    NoMoov,
    /// The `moov` is larger than [`super::Limits::max_moov_bytes`].
    #[error("moov box of {len} bytes exceeds the cap of {cap}")]
    MoovTooLarge {
        /// The box's declared length.
        len: u64,
        /// The cap it exceeds.
        cap: u64,
    },
    /// A box that lies about its size or contents, or is cut short; names the box or table.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A codec or feature this packager refuses (fourcc or object type).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// No video or audio track that can be packaged.
    #[error("no playable track")]
    NoTracks,
    /// A track has more samples than [`super::Limits::max_samples`], or the file more tracks
    /// than [`super::Limits::max_tracks`].
    #[error("too many samples or tracks")]
    TooManySamples,
}
