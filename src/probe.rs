//! `vod-origin probe`: the health check a container runs against its own admin listener.
//!
//! The runtime image carries no curl or wget (less to patch, less to exploit), so the binary
//! checks itself: one plain HTTP/1.1 GET of `/healthz` (or `/readyz`) on the configured admin
//! address, under a deadline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest wait for an answer: under the ECS and Docker health-check timeouts (5 s and 30 s by
/// default), so the probe reports its own failure instead of being killed.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// GETs `path` from the admin listener at `admin`; an unspecified address (0.0.0.0, ::) is
/// reached over loopback.
pub async fn status(admin: SocketAddr, path: &str) -> Result<StatusCode, String> {
    let addr = reachable(admin);
    let exchange = async {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("{addr}: {e}"))?;
        tokio::spawn(connection);
        let request = Request::get(path)
            .header(header::HOST, addr.to_string())
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| format!("{addr}: {e}"))?;
        Ok(response.status())
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| format!("no answer from {addr} within {TIMEOUT:?}"))?
}

fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_reached_over_loopback() {
        assert_eq!(reachable("0.0.0.0:9090".parse().unwrap()), "127.0.0.1:9090".parse().unwrap());
        assert_eq!(reachable("[::]:9090".parse().unwrap()), "[::1]:9090".parse().unwrap());
        assert_eq!(reachable("10.0.0.5:9090".parse().unwrap()), "10.0.0.5:9090".parse().unwrap());
    }

    #[tokio::test]
    async fn a_closed_port_is_a_clear_failure() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let error = status(addr, "/healthz").await.unwrap_err();
        assert!(error.contains(&addr.to_string()), "{error}");
    }
}
