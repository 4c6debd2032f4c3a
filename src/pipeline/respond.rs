//! Renders the answer for an object once the plan is made: status, headers, and a body that
//! streams exactly the bytes the headers promise.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::body::ResponseBody;
use crate::error::RequestError;
use crate::key::ObjectKey;
use crate::plan::multipart::{self, MultipartLayout};
use crate::plan::{ByteRange, Plan};
use crate::store::{ByteStream, ChunkLimit, ObjectMeta, ObjectStore, StoreError};

/// Where an object's bytes come from.
#[derive(Clone)]
pub enum Source {
    /// A store, pinned to the version `meta` describes.
    Store {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// The object.
        key: ObjectKey,
        /// Its version.
        meta: ObjectMeta,
    },
    /// A payload rendered at startup.
    Static(Bytes),
}

impl Source {
    async fn open(&self, range: ByteRange) -> Result<ByteStream, StoreError> {
        match self {
            Self::Store { store, key, meta } => store.get(key, meta, range).await,
            Self::Static(bytes) => {
                let slice = bytes.slice(range.start() as usize..range.end() as usize);
                Ok(ByteStream::new(futures_util::stream::once(async move { Ok(slice) })))
            }
        }
    }
}

/// Renders the response for a planned request.
pub async fn object(
    meta: &ObjectMeta,
    plan: Plan,
    head: bool,
    cache_control: HeaderValue,
    source: Source,
    boundary: &str,
) -> Result<Response<ResponseBody>, RequestError> {
    let mut response = match plan {
        Plan::NotModified => {
            // A 304 carries the validators and caching headers, no representation headers.
            let mut response = Response::new(ResponseBody::Empty);
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        }
        Plan::PreconditionFailed => return Err(RequestError::PreconditionFailed),
        Plan::Unsatisfiable => return Err(RequestError::RangeNotSatisfiable { len: meta.len }),
        Plan::Full => {
            let body = match ByteRange::new(0, meta.len) {
                Some(all) if !head => ResponseBody::stream(source.open(all).await?, meta.len),
                _ => ResponseBody::Empty,
            };
            sized(body, StatusCode::OK, meta.len, meta.content_type.clone())
        }
        Plan::Single(range) => {
            let body =
                if head { ResponseBody::Empty } else { ResponseBody::stream(source.open(range).await?, range.len()) };
            let mut response = sized(body, StatusCode::PARTIAL_CONTENT, range.len(), meta.content_type.clone());
            response.headers_mut().insert(header::CONTENT_RANGE, range.content_range(meta.len));
            response
        }
        Plan::Multi(ranges) => {
            let layout = multipart::layout(&ranges, meta.len, &meta.content_type, boundary);
            let (len, content_type) = (layout.content_length, layout.content_type.clone());
            let body = if head {
                ResponseBody::Empty
            } else {
                ResponseBody::stream(multipart_body(source, layout).await?, len)
            };
            sized(body, StatusCode::PARTIAL_CONTENT, len, content_type)
        }
    };
    add_validators(&mut response, meta, cache_control);
    Ok(response)
}

/// What every answer about an object carries, 304 included: its validators and caching rule.
fn add_validators(response: &mut Response<ResponseBody>, meta: &ObjectMeta, cache_control: HeaderValue) {
    let headers = response.headers_mut();
    headers.insert(header::ETAG, meta.etag.clone());
    headers.insert(
        header::LAST_MODIFIED,
        HeaderValue::try_from(httpdate::fmt_http_date(meta.last_modified)).expect("HTTP dates are ASCII"),
    );
    headers.insert(header::CACHE_CONTROL, cache_control);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

fn sized(body: ResponseBody, status: StatusCode, len: u64, content_type: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CONTENT_TYPE, content_type);
    response
}

/// The parts of a multipart/byteranges body, one store read per part. The first read is opened
/// before the headers go out, so a store that fails at once still gets a proper status.
async fn multipart_body(source: Source, layout: MultipartLayout) -> Result<ByteStream, StoreError> {
    let first_range = layout.parts.first().map(|(_, range)| *range);
    let mut first = match first_range {
        Some(range) => Some(source.open(range).await?),
        None => None,
    };
    // The body's pace reaches each part's reads through the multipart stream's own limit.
    let limit = ChunkLimit::default();
    Ok(ByteStream::sized(
        limit.clone(),
        async_stream::try_stream! {
            for (part_header, range) in layout.parts {
                yield part_header;
                let mut part = match first.take() {
                    Some(stream) => stream,
                    None => source.open(range).await?,
                };
                let mut sent = 0u64;
                while let Some(chunk) = {
                    part.limit_next_chunk(limit.get_or(usize::MAX));
                    part.next().await
                } {
                    let chunk = chunk?;
                    sent += chunk.len() as u64;
                    yield chunk;
                }
                // A short part would shift every later byte; fail the body instead.
                if sent != range.len() {
                    Err(StoreError::Upstream(format!("multipart part ended after {sent} of {} bytes", range.len())))?;
                }
            }
            yield layout.trailer;
        },
    ))
}
