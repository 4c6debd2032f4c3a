//! What a viewer gets for plain HTTP: a redirect to HTTPS, or a refusal.
//!
//! The same policy answers the plain-HTTP listener and requests the CDN reports it received over
//! plain HTTP (`CloudFront-Forwarded-Proto: http`), so the two can never disagree.

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::Authority;
use http::{Method, Response, StatusCode};

use crate::body::ResponseBody;
use crate::config::{ConfigError, LoadedConfig, PlainHttpMode};
use crate::error::RequestError;

/// The plain-HTTP policy.
#[derive(Debug, Clone)]
pub struct PlainHttpPolicy {
    mode: PlainHttpMode,
    public_host: Option<Authority>,
}

impl PlainHttpPolicy {
    /// Compiles `plain_http.mode` and `server.public_host`.
    pub fn new(loaded: &LoadedConfig) -> Result<Self, ConfigError> {
        let public_host = match &loaded.config.server.public_host {
            Some(host) => {
                Some(host.parse::<Authority>().ok().filter(|a| a.as_str() == host && !host.contains('@')).ok_or_else(
                    || {
                        loaded.error(
                            "server.public_host",
                            "expected a host name with an optional port, like video.example.com",
                        )
                    },
                )?)
            }
            None => None,
        };
        Ok(Self { mode: loaded.config.plain_http.mode, public_host })
    }

    /// Answers a request that came (or, as the CDN reports, was made) over plain HTTP.
    /// `https_port` is the port to redirect to when the request's own host is used; `None` for
    /// requests the CDN forwarded, whose viewers reach HTTPS on the default port.
    pub fn answer(&self, request: &Parts, https_port: Option<u16>) -> Result<Response<ResponseBody>, RequestError> {
        let redirectable = matches!(request.method, Method::GET | Method::HEAD);
        if self.mode != PlainHttpMode::Redirect || !redirectable {
            return Err(RequestError::HttpsRequired);
        }
        let location = self.location(request, https_port)?;
        let mut response = Response::new(ResponseBody::Empty);
        *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
        let headers = response.headers_mut();
        headers.insert(header::LOCATION, location);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
        // A CDN caches 301s, and its cache key does not include the scheme the viewer used: a
        // cached redirect would then be served to HTTPS viewers too, in a loop.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    fn location(&self, request: &Parts, https_port: Option<u16>) -> Result<HeaderValue, RequestError> {
        let host = match &self.public_host {
            Some(public) => public.as_str().to_owned(),
            None => {
                let authority = request_authority(request).ok_or(RequestError::MissingHost)?;
                match https_port {
                    Some(port) if port != 443 => format!("{}:{port}", authority.host()),
                    _ => authority.host().to_owned(),
                }
            }
        };
        let path_and_query = request.uri.path_and_query().map_or("/", |pq| pq.as_str());
        HeaderValue::try_from(format!("https://{host}{path_and_query}")).map_err(|_| RequestError::MissingHost)
    }
}

/// The request's host: the URI's authority (HTTP/2, absolute-form) or the `Host` header.
fn request_authority(request: &Parts) -> Option<Authority> {
    if let Some(authority) = request.uri.authority() {
        return Some(authority.clone());
    }
    let host = request.headers.get(header::HOST)?.to_str().ok()?;
    host.parse::<Authority>().ok().filter(|a| !a.as_str().contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml: &str) -> PlainHttpPolicy {
        PlainHttpPolicy::new(&LoadedConfig::from_toml(toml).unwrap()).unwrap()
    }

    fn request(method: Method, uri: &str, host: Option<&str>) -> Parts {
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn redirects_to_the_https_port_of_the_requested_host() {
        let response =
            policy("").answer(&request(Method::GET, "/a/b.m3u8?x=1", Some("localhost:8080")), Some(8443)).unwrap();
        assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(response.headers()[header::LOCATION], "https://localhost:8443/a/b.m3u8?x=1");
        let response = policy("").answer(&request(Method::HEAD, "/a", Some("video.example.com")), Some(443)).unwrap();
        assert_eq!(response.headers()[header::LOCATION], "https://video.example.com/a");
    }

    #[test]
    fn the_public_host_wins_over_the_request() {
        let policy = policy("[server]\npublic_host = \"video.example.com\"");
        let response = policy.answer(&request(Method::GET, "/a", Some("10.0.0.7:8080")), Some(8443)).unwrap();
        assert_eq!(response.headers()[header::LOCATION], "https://video.example.com/a");
    }

    #[test]
    fn refusals() {
        let redirect = policy("");
        assert!(matches!(
            redirect.answer(&request(Method::POST, "/a", Some("h")), None),
            Err(RequestError::HttpsRequired)
        ));
        assert!(matches!(redirect.answer(&request(Method::GET, "/a", None), None), Err(RequestError::MissingHost)));
        let reject = policy("[plain_http]\nmode = \"reject\"");
        assert!(matches!(
            reject.answer(&request(Method::GET, "/a", Some("h")), None),
            Err(RequestError::HttpsRequired)
        ));
    }

    #[test]
    fn public_host_is_validated() {
        let loaded = LoadedConfig::from_toml("[server]\npublic_host = \"https://x/y\"").unwrap();
        assert_eq!(PlainHttpPolicy::new(&loaded).unwrap_err().key, "server.public_host");
    }
}
