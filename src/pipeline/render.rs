//! The answer for an object, decided before any byte is read: status and headers from the
//! object's metadata and the plan, and which bytes the body will carry. Pure: nothing here
//! awaits, so every status and header rule is tested without a store.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::error::RequestError;
use crate::plan::multipart::{self, MultipartLayout};
use crate::plan::{ByteRange, Plan};
use crate::store::ObjectMeta;

/// The headers of an object's answer and the bytes its body is to carry.
#[derive(Debug)]
pub struct Rendered {
    /// Status and headers, `Content-Length` included.
    pub head: Response<()>,
    /// What the body carries.
    pub body: BodyPlan,
}

/// The bytes a body carries, read from the object's source once the headers are decided.
#[derive(Debug)]
pub enum BodyPlan {
    /// No body: a HEAD, a 304, or an empty object.
    Empty,
    /// One range of the object (the whole object for a 200).
    Range(ByteRange),
    /// `multipart/byteranges`: each part's header, then its range.
    Multipart(MultipartLayout),
}

/// What the answer to one request for an object depends on, besides the plan.
pub struct Representation<'a> {
    /// The object's version.
    pub meta: &'a ObjectMeta,
    /// Its `Cache-Control`.
    pub cache_control: HeaderValue,
    /// Whether the request is a HEAD: the headers GET would get, and no body.
    pub head: bool,
}

/// Renders the planned answer, or the refusal the plan calls for (412, 416).
pub fn object(object: Representation<'_>, plan: Plan, boundary: &str) -> Result<Rendered, RequestError> {
    let Representation { meta, cache_control, head } = object;
    let (status, body) = match plan {
        Plan::NotModified => (StatusCode::NOT_MODIFIED, BodyPlan::Empty),
        Plan::PreconditionFailed => return Err(RequestError::PreconditionFailed),
        Plan::Unsatisfiable => return Err(RequestError::RangeNotSatisfiable { len: meta.len }),
        Plan::Full => (StatusCode::OK, ByteRange::new(0, meta.len).map_or(BodyPlan::Empty, BodyPlan::Range)),
        Plan::Single(range) => (StatusCode::PARTIAL_CONTENT, BodyPlan::Range(range)),
        Plan::Multi(ranges) => (
            StatusCode::PARTIAL_CONTENT,
            BodyPlan::Multipart(multipart::layout(&ranges, meta.len, &meta.content_type, boundary)),
        ),
    };
    let mut response = Response::new(());
    *response.status_mut() = status;
    add_representation(response.headers_mut(), meta, &body, status);
    add_validators(response.headers_mut(), meta, cache_control);
    let body = if head { BodyPlan::Empty } else { body };
    Ok(Rendered { head: response, body })
}

/// `Content-Length`, `Content-Type` and `Content-Range`: what a 304 leaves out.
fn add_representation(headers: &mut http::HeaderMap, meta: &ObjectMeta, body: &BodyPlan, status: StatusCode) {
    let (len, content_type) = match body {
        _ if status == StatusCode::NOT_MODIFIED => return,
        BodyPlan::Empty => (0, meta.content_type.clone()),
        BodyPlan::Range(range) => (range.len(), meta.content_type.clone()),
        BodyPlan::Multipart(layout) => (layout.content_length, layout.content_type.clone()),
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CONTENT_TYPE, content_type);
    if let (StatusCode::PARTIAL_CONTENT, BodyPlan::Range(range)) = (status, body) {
        headers.insert(header::CONTENT_RANGE, range.content_range(meta.len));
    }
}

/// What every answer about an object carries, 304 included: its validators and caching rule.
fn add_validators(headers: &mut http::HeaderMap, meta: &ObjectMeta, cache_control: HeaderValue) {
    headers.insert(header::ETAG, meta.etag.clone());
    headers.insert(
        header::LAST_MODIFIED,
        HeaderValue::try_from(httpdate::fmt_http_date(meta.last_modified)).expect("HTTP dates are ASCII"),
    );
    headers.insert(header::CACHE_CONTROL, cache_control);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn meta(len: u64) -> ObjectMeta {
        ObjectMeta {
            len,
            etag: HeaderValue::from_static("\"v1\""),
            last_modified: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            content_type: HeaderValue::from_static("video/mp4"),
        }
    }

    fn render(len: u64, plan: Plan, head: bool) -> Result<Rendered, RequestError> {
        let meta = meta(len);
        let cache_control = HeaderValue::from_static("max-age=60");
        object(Representation { meta: &meta, cache_control, head }, plan, "BOUNDARY")
    }

    fn header<'a>(rendered: &'a Rendered, name: &str) -> Option<&'a str> {
        rendered.head.headers().get(name).map(|v| v.to_str().unwrap())
    }

    fn range(start: u64, end: u64) -> ByteRange {
        ByteRange::new(start, end).unwrap()
    }

    #[test]
    fn each_plan_has_its_status_headers_and_body() {
        let full = render(10, Plan::Full, false).unwrap();
        assert_eq!((full.head.status(), header(&full, "content-length")), (StatusCode::OK, Some("10")));
        assert!(matches!(full.body, BodyPlan::Range(r) if r == range(0, 10)));
        let single = render(10, Plan::Single(range(2, 5)), false).unwrap();
        assert_eq!(single.head.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(header(&single, "content-range"), Some("bytes 2-4/10"));
        assert_eq!(header(&single, "content-length"), Some("3"));
        let multi = render(10, Plan::Multi(vec![range(0, 1), range(5, 6)]), false).unwrap();
        assert!(header(&multi, "content-type").unwrap().starts_with("multipart/byteranges; boundary=BOUNDARY"));
        assert!(header(&multi, "content-range").is_none());
        let BodyPlan::Multipart(layout) = &multi.body else { panic!("{:?}", multi.body) };
        assert_eq!(header(&multi, "content-length"), Some(layout.content_length.to_string().as_str()));
    }

    #[test]
    fn a_304_keeps_the_validators_and_drops_the_representation_headers() {
        let rendered = render(10, Plan::NotModified, false).unwrap();
        assert_eq!(rendered.head.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&rendered, "etag"), Some("\"v1\""));
        assert_eq!(header(&rendered, "cache-control"), Some("max-age=60"));
        assert_eq!(header(&rendered, "last-modified"), Some("Tue, 14 Nov 2023 22:13:20 GMT"));
        for gone in ["content-length", "content-type", "content-range"] {
            assert_eq!(header(&rendered, gone), None, "{gone}");
        }
        assert!(matches!(rendered.body, BodyPlan::Empty));
    }

    #[test]
    fn head_gets_the_headers_of_get_and_no_body() {
        for plan in [Plan::Full, Plan::Single(range(1, 4)), Plan::Multi(vec![range(0, 1), range(5, 6)])] {
            let (get, head) = (render(10, plan.clone(), false).unwrap(), render(10, plan, true).unwrap());
            assert_eq!(get.head.headers(), head.head.headers());
            assert!(matches!(head.body, BodyPlan::Empty));
        }
    }

    #[test]
    fn an_empty_object_is_a_200_without_body_and_refusals_name_the_length() {
        let empty = render(0, Plan::Full, false).unwrap();
        assert_eq!(header(&empty, "content-length"), Some("0"));
        assert!(matches!(empty.body, BodyPlan::Empty));
        assert!(matches!(render(10, Plan::Unsatisfiable, false), Err(RequestError::RangeNotSatisfiable { len: 10 })));
        assert!(matches!(render(10, Plan::PreconditionFailed, false), Err(RequestError::PreconditionFailed)));
    }
}
