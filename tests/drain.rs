//! SIGTERM during downloads, against the real process: every body arrives whole, and the
//! process exits 0.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use futures_util::StreamExt;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

const DOWNLOADS: usize = 6;
const LEN: usize = 24 * 1024 * 1024;

#[test]
fn sigterm_lets_every_download_finish_and_exits_zero() {
    let media = common::fixture_dir(&[("big.mp4", LEN)]);
    let expected = Sha256::digest(common::pattern(LEN, "big.mp4".len() as u64));
    let certs = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vod-origin"))
        .env("VOD_ORIGIN_SERVER__LISTEN", "127.0.0.1:0")
        .env("VOD_ORIGIN_PLAIN_HTTP__MODE", "off")
        .env("VOD_ORIGIN_ADMIN__ENABLED", "false")
        .env("VOD_ORIGIN_LOG__FORMAT", "json")
        .env("VOD_ORIGIN_STORAGE__ROOT", media.path())
        .env("VOD_ORIGIN_TLS__DEV_CERT_DIR", certs.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let port = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the server exited early");
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["message"] == "serving" {
            break event["https"].as_str().unwrap().rsplit(':').next().unwrap().parse::<u16>().unwrap();
        }
    };
    // Keep reading the server's log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    let ca = CertificateDer::from_pem_file(certs.path().join("dev-ca.pem")).unwrap();
    let pid = child.id().to_string();
    let digests = tokio::runtime::Runtime::new().unwrap().block_on(async move {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder().use_preconfigured_tls(tls).build().unwrap();
        let url = format!("https://localhost:{port}/big.mp4");
        let mut streams = Vec::new();
        for _ in 0..DOWNLOADS {
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let mut stream = response.bytes_stream();
            // Each download is under way, its first bytes received, before the signal.
            let first = stream.next().await.unwrap().unwrap();
            streams.push((first, stream));
        }
        // The shell's own `kill`, so nothing beyond a POSIX shell is needed.
        let status = Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]).status().unwrap();
        assert!(status.success());
        let mut digests = Vec::new();
        for (first, mut stream) in streams {
            let mut hasher = Sha256::new();
            hasher.update(&first);
            let mut len = first.len();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.expect("the download finishes despite the drain");
                len += chunk.len();
                hasher.update(&chunk);
            }
            assert_eq!(len, LEN);
            digests.push(hasher.finalize());
        }
        digests
    });
    for digest in digests {
        assert_eq!(digest, expected);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a drained server exits 0");
}
