//! The demo listener: the player page and what it loads, from `demo.root`, and where the media
//! origin is. A development aid, so it serves a fixed list of files and nothing else: no path
//! from a request ever reaches the file system.

use std::path::PathBuf;

use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode, header};

use crate::body::ResponseBody;
use crate::telemetry::RouteKind;

/// The files the demo serves: request path, file under `demo.root`, media type.
const FILES: [(&str, &str, &str); 7] = [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/player.js", "player.js", "text/javascript; charset=utf-8"),
    ("/player.css", "player.css", "text/css; charset=utf-8"),
    ("/vendor/hls.min.js", "vendor/hls.min.js", "text/javascript; charset=utf-8"),
    ("/vendor/LICENSE.hls.js.txt", "vendor/LICENSE.hls.js.txt", "text/plain; charset=utf-8"),
    ("/vendor/dash.mediaplayer.min.js", "vendor/dash.mediaplayer.min.js", "text/javascript; charset=utf-8"),
    ("/vendor/LICENSE.dash.js.txt", "vendor/LICENSE.dash.js.txt", "text/plain; charset=utf-8"),
];

/// Where the demo's files are, the media origin's port (which `/origin.json` tells the page) and
/// the demo listener's own.
#[derive(Debug, Clone)]
pub struct DemoSite {
    pub root: PathBuf,
    pub https_port: u16,
    pub port: u16,
}

impl DemoSite {
    /// The page's address, as a browser on this machine opens it.
    pub fn url(&self) -> String {
        format!("https://localhost:{}/", self.port)
    }
}

/// `/` on the media origin, while the demo is on: a redirect to the page.
pub fn lead_to(site: &DemoSite) -> Response<ResponseBody> {
    let mut response = demo(StatusCode::FOUND, "The demo player page\n", "text/plain; charset=utf-8");
    let location = HeaderValue::try_from(site.url()).expect("a URL of ASCII digits and letters");
    response.headers_mut().insert(header::LOCATION, location);
    response
}

/// Answers one request of the demo listener (`site` is there whenever the listener is).
pub async fn answer(request: &Parts, site: Option<&DemoSite>) -> Response<ResponseBody> {
    let Some(site) = site else {
        return demo(StatusCode::NOT_FOUND, "Not found\n", "text/plain; charset=utf-8");
    };
    if !matches!(request.method, Method::GET | Method::HEAD) {
        return demo(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed\n", "text/plain; charset=utf-8");
    }
    let path = request.uri.path();
    if path == "/origin.json" {
        return demo(StatusCode::OK, format!("{{\"port\":{}}}\n", site.https_port), "application/json");
    }
    let Some((_, file, media_type)) = FILES.iter().find(|(served, ..)| *served == path) else {
        return demo(StatusCode::NOT_FOUND, "Not found\n", "text/plain; charset=utf-8");
    };
    match tokio::fs::read(site.root.join(file)).await {
        Ok(bytes) => demo(StatusCode::OK, bytes, media_type),
        Err(error) => {
            tracing::warn!(file = %site.root.join(file).display(), %error, "demo file unreadable (demo.root)");
            demo(StatusCode::NOT_FOUND, "Not found\n", "text/plain; charset=utf-8")
        }
    }
}

fn demo(status: StatusCode, body: impl Into<bytes::Bytes>, media_type: &'static str) -> Response<ResponseBody> {
    super::admin::small(RouteKind::Demo, status, body, media_type, "no-cache")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> Parts {
        http::Request::get(path).body(()).unwrap().into_parts().0
    }

    #[tokio::test]
    async fn serves_its_files_and_nothing_else() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(root.path().join("secret.txt"), "no").unwrap();
        let demo_site = DemoSite { root: root.path().to_path_buf(), https_port: 8443, port: 8444 };
        let site = Some(&demo_site);
        let page = answer(&get("/"), site).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let origin = answer(&get("/origin.json"), site).await;
        assert_eq!(origin.status(), StatusCode::OK);
        for path in ["/secret.txt", "/../secret.txt", "/index.html/..", "/player.js"] {
            assert_eq!(answer(&get(path), site).await.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let post = http::Request::post("/").body(()).unwrap().into_parts().0;
        assert_eq!(answer(&post, site).await.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(lead_to(&demo_site).headers()[header::LOCATION], "https://localhost:8444/");
    }
}
