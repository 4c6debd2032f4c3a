//! The URL grammar below a packaged file: which virtual object a path names. Pure, so the
//! router can answer 404 for anything else before any byte of the file is read.

/// A virtual object of a packaged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `master.m3u8`.
    Master,
    /// `manifest.mpd`.
    Mpd,
    /// `<track>/index.m3u8`.
    MediaPlaylist {
        /// Track id.
        track: u32,
    },
    /// `<track>/init.mp4`.
    Init {
        /// Track id.
        track: u32,
    },
    /// `<track>/seg-<number>.m4s`, numbered from 1.
    Segment {
        /// Track id.
        track: u32,
        /// Segment number, from 1.
        number: u32,
    },
}

impl Resource {
    /// The `Content-Type` to answer with.
    pub fn content_type(&self) -> &'static str {
        match self {
            Resource::Master | Resource::MediaPlaylist { .. } => "application/vnd.apple.mpegurl",
            Resource::Mpd => "application/dash+xml",
            Resource::Init { .. } | Resource::Segment { .. } => "video/mp4",
        }
    }
}

/// Splits `path` into the source file's key and the resource below it.
pub fn split(path: &str) -> Option<(&str, Resource)> {
    let (rest, file) = path.rsplit_once('/')?;
    match file {
        "master.m3u8" => return nonempty(rest).map(|key| (key, Resource::Master)),
        "manifest.mpd" => return nonempty(rest).map(|key| (key, Resource::Mpd)),
        _ => {}
    }
    let (key, id) = rest.rsplit_once('/')?;
    let key = nonempty(key)?;
    let track = number(id)?;
    let resource = match file {
        "index.m3u8" => Resource::MediaPlaylist { track },
        "init.mp4" => Resource::Init { track },
        _ => Resource::Segment { track, number: number(file.strip_prefix("seg-")?.strip_suffix(".m4s")?)? },
    };
    Some((key, resource))
}

fn nonempty(key: &str) -> Option<&str> {
    (!key.is_empty()).then_some(key)
}

/// A decimal number ≥ 1 without sign or leading zeros that fits `u32`.
fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use Resource::*;
        let cases: &[(&str, Option<(&str, Resource)>)] = &[
            ("sample/sample.mp4/master.m3u8", Some(("sample/sample.mp4", Master))),
            ("sample/sample.mp4/manifest.mpd", Some(("sample/sample.mp4", Mpd))),
            ("a.mp4/1/index.m3u8", Some(("a.mp4", MediaPlaylist { track: 1 }))),
            ("d/a.mp4/2/init.mp4", Some(("d/a.mp4", Init { track: 2 }))),
            ("a.mp4/1/seg-1.m4s", Some(("a.mp4", Segment { track: 1, number: 1 }))),
            ("a.mp4/1/seg-4294967295.m4s", Some(("a.mp4", Segment { track: 1, number: u32::MAX }))),
            ("a.mp4/1/seg-4294967296.m4s", None),
            ("a.mp4/1/seg-0.m4s", None),
            ("a.mp4/1/seg-01.m4s", None),
            ("a.mp4/1/seg-+1.m4s", None),
            ("a.mp4/1/seg-.m4s", None),
            ("a.mp4/1/seg-1.mp4", None),
            ("a.mp4/01/init.mp4", None),
            ("a.mp4/0/init.mp4", None),
            ("a.mp4/x/init.mp4", None),
            ("a.mp4/1/other.txt", None),
            ("master.m3u8", None),
            ("/master.m3u8", None),
            ("1/index.m3u8", None),
            ("/1/index.m3u8", None),
            ("a.mp4/1/", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(split(path), *want, "{path}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(Resource::Master.content_type(), "application/vnd.apple.mpegurl");
        assert_eq!(Resource::Mpd.content_type(), "application/dash+xml");
        assert_eq!(Resource::Segment { track: 1, number: 1 }.content_type(), "video/mp4");
    }
}
