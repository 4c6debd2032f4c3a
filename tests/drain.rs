//! SIGTERM during downloads, against the real process: every body arrives whole, and the
//! process exits 0.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Command;

use common::process::ServerProcess;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

const DOWNLOADS: usize = 6;
const LEN: usize = 24 * 1024 * 1024;

#[test]
fn sigterm_lets_every_download_finish_and_exits_zero() {
    let media = common::fixture_dir(&[("big.mp4", LEN)]);
    let expected = Sha256::digest(common::pattern(LEN, "big.mp4".len() as u64));
    let mut server = ServerProcess::start(&[("VOD_ORIGIN_STORAGE__ROOT", media.path().as_os_str())]);
    let (client, url) = (server.client(false), server.url("/big.mp4"));
    // Keep reading the server's output so it never blocks on a full pipe.
    let stdout = server.child.stdout.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
    let pid = server.child.id().to_string();
    let digests = tokio::runtime::Runtime::new().unwrap().block_on(async move {
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
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a drained server exits 0");
}
