//! The sample entry (the `stsd` child): which codec, its RFC 6381 string for manifests, and the
//! picture size or channel layout. Only H.264, H.265 and AAC are packaged; anything else is
//! refused with its fourcc so the index can say which track was skipped and why.

use super::PackageError;
use super::boxes::{Reader, find};

/// What a sample entry describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Video { codec: String, width: u32, height: u32 },
    Audio { codec: String, channels: u16, sample_rate: u32 },
}

/// Size of a VisualSampleEntry's fields after the box header (ISO/IEC 14496-12 §12.1.3).
const VISUAL_FIELDS: usize = 78;
/// Size of an AudioSampleEntry's fields after the box header (§12.2.3), version 0.
const AUDIO_FIELDS: usize = 28;

/// Reads a sample entry; `entry` is the whole box, header included.
pub(crate) fn parse(entry: &[u8]) -> Result<Entry, PackageError> {
    let kind = entry.get(4..8).ok_or(PackageError::Invalid("sample entry"))?;
    let body = entry.get(8..).ok_or(PackageError::Invalid("sample entry"))?;
    match kind {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" => video(kind, body),
        b"mp4a" => audio(body),
        other => Err(PackageError::Unsupported(format!("codec {}", fourcc(other)))),
    }
}

/// A fourcc as text, non-printable bytes as `?`.
pub(crate) fn fourcc(kind: &[u8]) -> String {
    kind.iter().map(|&c| if c.is_ascii_graphic() || c == b' ' { c as char } else { '?' }).collect()
}

fn video(kind: &[u8], body: &[u8]) -> Result<Entry, PackageError> {
    let mut r = Reader::new(body, "visual sample entry");
    r.skip(24)?;
    let (width, height) = (u32::from(r.u16()?), u32::from(r.u16()?));
    let children = body.get(VISUAL_FIELDS..).ok_or(PackageError::Invalid("visual sample entry"))?;
    let name = fourcc(kind);
    let codec = if kind.starts_with(b"avc") {
        let avcc = find(children, b"avcC")?.ok_or(PackageError::Invalid("avcC missing"))?;
        let b = avcc.get(1..4).ok_or(PackageError::Invalid("avcC"))?;
        format!("{name}.{:02x}{:02x}{:02x}", b[0], b[1], b[2])
    } else {
        let hvcc = find(children, b"hvcC")?.ok_or(PackageError::Invalid("hvcC missing"))?;
        hevc_codec(&name, hvcc)?
    };
    Ok(Entry::Video { codec, width, height })
}

/// `hvc1.1.6.L93.B0`: profile space and profile, compatibility flags bit-reversed, tier and
/// level, then the constraint bytes without trailing zeros (ISO/IEC 14496-15 Annex E).
fn hevc_codec(name: &str, hvcc: &[u8]) -> Result<String, PackageError> {
    let b = hvcc.get(..13).ok_or(PackageError::Invalid("hvcC"))?;
    let space = ["", "A", "B", "C"][usize::from(b[1] >> 6)];
    let tier = if b[1] & 0x20 != 0 { 'H' } else { 'L' };
    let profile = b[1] & 0x1f;
    let compat = u32::from_be_bytes([b[2], b[3], b[4], b[5]]).reverse_bits();
    let mut s = format!("{name}.{space}{profile}.{compat:X}.{tier}{}", b[12]);
    let constraints = &b[6..12];
    let used = constraints.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    for c in &constraints[..used] {
        s.push_str(&format!(".{c:X}"));
    }
    Ok(s)
}

fn audio(body: &[u8]) -> Result<Entry, PackageError> {
    let mut r = Reader::new(body, "audio sample entry");
    r.skip(8)?;
    let version = r.u16()?;
    r.skip(6)?;
    let channels = r.u16()?;
    r.skip(6)?;
    let rate = r.u32()? >> 16;
    // QuickTime sound descriptions version 1 and 2 carry 16 and 36 more bytes before the children.
    let extra = match version {
        0 => 0,
        1 => 16,
        2 => 36,
        _ => return Err(PackageError::Invalid("audio sample entry version")),
    };
    let children = body.get(AUDIO_FIELDS + extra..).ok_or(PackageError::Invalid("audio sample entry"))?;
    let esds = find(children, b"esds")?.ok_or(PackageError::Invalid("esds missing"))?;
    let asc = audio_specific_config(esds)?;
    let (aot, asc_rate, asc_channels) = parse_asc(asc)?;
    Ok(Entry::Audio {
        codec: format!("mp4a.40.{aot}"),
        channels: if asc_channels > 0 { u16::from(asc_channels) } else { channels },
        sample_rate: asc_rate.unwrap_or(rate),
    })
}

/// A descriptor's tag and body (ISO/IEC 14496-1 §8.3.3: a length of up to four 7-bit bytes).
fn descriptor<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), PackageError> {
    let tag = r.u8()?;
    let mut len = 0usize;
    for _ in 0..4 {
        let b = r.u8()?;
        len = (len << 7) | usize::from(b & 0x7f);
        if b & 0x80 == 0 {
            break;
        }
    }
    Ok((tag, r.take(len)?))
}

/// The AudioSpecificConfig inside `esds`, refusing object types other than MPEG-4 audio (0x40).
fn audio_specific_config(esds: &[u8]) -> Result<&[u8], PackageError> {
    let mut r = Reader::new(esds, "esds");
    r.version_flags()?;
    let (tag, es) = descriptor(&mut r)?;
    if tag != 0x03 {
        return Err(PackageError::Invalid("esds"));
    }
    let mut r = Reader::new(es, "esds");
    r.skip(2)?;
    let flags = r.u8()?;
    if flags & 0x80 != 0 {
        r.skip(2)?;
    }
    if flags & 0x40 != 0 {
        let url_len = r.u8()?;
        r.skip(usize::from(url_len))?;
    }
    if flags & 0x20 != 0 {
        r.skip(2)?;
    }
    let (tag, config) = descriptor(&mut r)?;
    if tag != 0x04 {
        return Err(PackageError::Invalid("esds"));
    }
    let mut r = Reader::new(config, "esds");
    let object_type = r.u8()?;
    if object_type != 0x40 {
        return Err(PackageError::Unsupported(format!("audio object type 0x{object_type:02x}")));
    }
    r.skip(12)?;
    let (tag, asc) = descriptor(&mut r)?;
    if tag != 0x05 {
        return Err(PackageError::Invalid("esds: no AudioSpecificConfig"));
    }
    Ok(asc)
}

/// Audio object type (with the escape for 31), sampling rate when given, channel configuration.
fn parse_asc(asc: &[u8]) -> Result<(u8, Option<u32>, u8), PackageError> {
    const RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
    let mut bits = Bits { bytes: asc, pos: 0 };
    let mut aot = bits.take(5)?;
    if aot == 31 {
        aot = 32 + bits.take(6)?;
    }
    let index = bits.take(4)?;
    let rate = if index == 15 { Some(bits.take(24)?) } else { RATES.get(index as usize).copied() };
    let channels = bits.take(4)?;
    Ok((aot as u8, rate, channels as u8))
}

/// A big-endian bit reader over the AudioSpecificConfig.
struct Bits<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn take(&mut self, n: usize) -> Result<u32, PackageError> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = self.bytes.get(self.pos / 8).ok_or(PackageError::Invalid("AudioSpecificConfig"))?;
            v = (v << 1) | u32::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hevc_strings() {
        let mut main = [0u8; 23];
        main[1] = 0x01; // space 0, tier L, profile 1
        main[2..6].copy_from_slice(&0x6000_0000u32.to_be_bytes());
        main[6] = 0xb0;
        main[12] = 93;
        assert_eq!(hevc_codec("hvc1", &main).unwrap(), "hvc1.1.6.L93.B0");
        main[1] = 0x22; // tier H, profile 2
        main[2..6].copy_from_slice(&0x2000_0000u32.to_be_bytes());
        main[6] = 0;
        main[12] = 120;
        assert_eq!(hevc_codec("hev1", &main).unwrap(), "hev1.2.4.H120");
        assert!(hevc_codec("hvc1", &main[..12]).is_err());
    }

    #[test]
    fn audio_specific_configs() {
        type Case<'a> = (&'a [u8], Result<(u8, Option<u32>, u8), PackageError>);
        let cases: &[Case] = &[
            (&[0x12, 0x10], Ok((2, Some(44100), 2))),
            (&[0x11, 0x90], Ok((2, Some(48000), 2))),
            (&[0x2b, 0x10], Ok((5, Some(24000), 2))),
            // Escape: 31 then 6 bits (32 + 2 = 34), index 3 (48000), 1 channel.
            (&[0xf8, 0x46, 0x20], Ok((34, Some(48000), 1))),
            (&[0x12], Err(PackageError::Invalid("AudioSpecificConfig"))),
        ];
        for (asc, want) in cases {
            assert_eq!(&parse_asc(asc), want, "{asc:02x?}");
        }
    }

    #[test]
    fn refuses_other_codecs() {
        let mut ac3 = vec![0, 0, 0, 36];
        ac3.extend_from_slice(b"ac-3");
        ac3.resize(36, 0);
        assert_eq!(parse(&ac3), Err(PackageError::Unsupported("codec ac-3".into())));
        assert!(parse(&[0, 0]).is_err());
    }
}
