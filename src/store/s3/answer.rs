//! What an S3 answer says about the object: the metadata in a HeadObject's or a GetObject's
//! headers, and which bytes a GetObject's body holds. Checked, never trusted: an answer without
//! a length, a strong ETag or a date, or with a `Content-Range` that does not add up, is S3's
//! fault (502), logged with the bucket and key.

use std::time::SystemTime;

use aws_smithy_types::DateTime;
use http::HeaderValue;

use crate::key::ObjectKey;
use crate::media_type;
use crate::plan::{ByteRange, whole_seconds};
use crate::store::{ObjectMeta, StoreError};

/// The headers of one answer that describe the object.
pub(super) struct Described<'a> {
    pub operation: &'static str,
    pub bucket: &'a str,
    pub s3_key: &'a str,
    /// The whole object's length.
    pub len: Option<u64>,
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a DateTime>,
    pub content_type: Option<&'a str>,
}

impl Described<'_> {
    /// The metadata of the version answered for `key`; a generic or missing type is replaced by
    /// the one the extension implies.
    pub fn metadata(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        let invalid = |what: &str| {
            tracing::warn!(
                bucket = self.bucket,
                key = self.s3_key,
                operation = self.operation,
                "S3 answer without a usable {what}"
            );
            StoreError::Upstream(format!("{} without {what}", self.operation))
        };
        let len = self.len.ok_or_else(|| invalid("length"))?;
        let etag = self.etag.filter(|t| t.starts_with('"')).ok_or_else(|| invalid("strong ETag"))?;
        let last_modified =
            self.last_modified.and_then(|t| SystemTime::try_from(*t).ok()).ok_or_else(|| invalid("date"))?;
        let content_type = match self.content_type {
            Some(reported) if !media_type::is_generic(reported) => HeaderValue::try_from(reported).ok(),
            _ => None,
        };
        Ok(ObjectMeta {
            len,
            etag: HeaderValue::try_from(etag).map_err(|_| invalid("ETag"))?,
            last_modified: whole_seconds(last_modified),
            content_type: content_type.unwrap_or_else(|| media_type::for_extension(key.extension())),
        })
    }
}

/// The bytes a GetObject body holds and the object's length, from its `Content-Range`
/// (`bytes FIRST-LAST/LENGTH`), or for an answer without one (a 200), the whole object of
/// `content_length` bytes. `None` for the range of an empty object.
pub(super) fn body_extent(
    content_range: Option<&str>,
    content_length: Option<i64>,
) -> Result<(Option<ByteRange>, u64), &'static str> {
    let body_len = content_length.and_then(|len| u64::try_from(len).ok()).ok_or("no Content-Length")?;
    let Some(content_range) = content_range else { return Ok((ByteRange::new(0, body_len), body_len)) };
    let (range, len) = parse_content_range(content_range).ok_or("an unreadable Content-Range")?;
    if range.len() != body_len {
        return Err("a Content-Range that does not match its length");
    }
    Ok((Some(range), len))
}

fn parse_content_range(value: &str) -> Option<(ByteRange, u64)> {
    let (range, len) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let (first, last, len) = (first.parse::<u64>().ok()?, last.parse::<u64>().ok()?, len.parse::<u64>().ok()?);
    if last >= len {
        return None;
    }
    Some((ByteRange::new(first, last.checked_add(1)?)?, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_placed_by_its_content_range() {
        let range = |start, end| ByteRange::new(start, end);
        let cases = [
            (Some("bytes 0-99/1000"), Some(100), Ok((range(0, 100), 1000))),
            (Some("bytes 990-999/1000"), Some(10), Ok((range(990, 1000), 1000))),
            (None, Some(1000), Ok((range(0, 1000), 1000))),
            (None, Some(0), Ok((None, 0))),
            (Some("bytes 0-99/1000"), Some(99), Err("a Content-Range that does not match its length")),
            (Some("bytes 0-1000/1000"), Some(1001), Err("an unreadable Content-Range")),
            (Some("bytes 5-4/1000"), Some(0), Err("an unreadable Content-Range")),
            (Some("bytes */1000"), Some(0), Err("an unreadable Content-Range")),
            (Some("bytes 0-99/1000"), None, Err("no Content-Length")),
        ];
        for (content_range, content_length, expected) in cases {
            assert_eq!(body_extent(content_range, content_length), expected, "{content_range:?} {content_length:?}");
        }
    }
}
