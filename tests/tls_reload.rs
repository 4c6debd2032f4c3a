//! Certificate hot reload: new handshakes get a replaced certificate while connections made
//! with the old one carry on, and a replacement that cannot be used leaves the old one in force.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::ServerProcess;
use common::{Origin, Protocol, TestCa, fixture_dir, leaf_certificate, pattern, replace_file, wait_for_leaf};

#[tokio::test]
async fn a_replaced_certificate_reaches_new_handshakes_while_a_download_continues() {
    let size = 24 << 20;
    let media = fixture_dir(&[("big.mp4", size)]);
    let origin = Origin::start_with(media.path(), |c| c.tls.reload_interval = Duration::from_millis(100)).await;
    let first = leaf_certificate(origin.https, &origin.ca.ca_der).await;

    // A download under way on a connection that negotiated the first certificate.
    let mut download = origin.client(Protocol::Http1).get(origin.url("/big.mp4")).send().await.unwrap();
    let mut body = download.chunk().await.unwrap().unwrap().to_vec();

    let second = origin.ca.issue();
    assert_ne!(first, second);
    wait_for_leaf(origin.https, &origin.ca.ca_der, &second).await;

    while let Some(chunk) = download.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    assert!(body == pattern(size, "big.mp4".len() as u64), "the download made before the reload arrives whole");
}

#[tokio::test]
async fn an_unusable_replacement_keeps_the_certificate_in_force() {
    let origin = Origin::start().await;
    let served = origin.certificates.fingerprint();
    let leaf = leaf_certificate(origin.https, &origin.ca.ca_der).await;

    // A key that belongs to another certificate.
    let other = TestCa::new();
    replace_file(&origin.ca.key, &std::fs::read(&other.key).unwrap());
    let error = origin.certificates.reload().unwrap_err();
    assert!(error.to_string().contains("does not match"), "{error}");

    // Not PEM at all.
    replace_file(&origin.ca.chain, b"-----BEGIN NOTHING-----\n");
    assert!(origin.certificates.reload().is_err());

    assert_eq!(origin.certificates.fingerprint(), served);
    assert_eq!(leaf_certificate(origin.https, &origin.ca.ca_der).await, leaf, "handshakes still get the old one");
    let response = origin.client(Protocol::Http2).get(origin.url("/sample/hls/index.m3u8")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn sighup_reloads_the_certificate_in_the_running_binary() {
    let ca = TestCa::new();
    let server = ServerProcess::start(&[
        ("VOD_ORIGIN_TLS__CERT_CHAIN", ca.chain.as_os_str()),
        ("VOD_ORIGIN_TLS__PRIVATE_KEY", ca.key.as_os_str()),
        // Polling would find the change too; an hour leaves the signal to do it.
        ("VOD_ORIGIN_TLS__RELOAD_INTERVAL", "1h".as_ref()),
    ]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let first = leaf_certificate(addr, &ca.ca_der).await;
    let second = ca.issue();
    assert_ne!(first, second);

    let pid = server.child.id();
    let status = Command::new("sh").args(["-c", &format!("kill -HUP {pid}")]).status().unwrap();
    assert!(status.success());
    wait_for_leaf(addr, &ca.ca_der, &second).await;
    drop(server);
}
