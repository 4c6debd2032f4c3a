//! The `vod-origin` binary as an operator runs it: started with environment overrides on an
//! ephemeral port, its development CA trusted by the test client.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A running server process.
pub struct ServerProcess {
    pub child: Child,
    /// The HTTPS listener's port.
    pub port: u16,
    certs: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary with JSON logs, HTTPS on an ephemeral port, no plain-HTTP or admin
    /// listener, a fresh development CA, and `env` on top; waits for its "serving" line.
    pub fn start(env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let certs = tempfile::tempdir().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_vod-origin"));
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("VOD_ORIGIN_SERVER__LISTEN", "127.0.0.1:0")
            .env("VOD_ORIGIN_PLAIN_HTTP__MODE", "off")
            .env("VOD_ORIGIN_ADMIN__ENABLED", "false")
            .env("VOD_ORIGIN_LOG__FORMAT", "json")
            .env("VOD_ORIGIN_TLS__DEV_CERT_DIR", certs.path())
            .env_remove("RUST_LOG")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let port = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "the server exited early");
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if event["message"] == "serving" {
                break event["https"].as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        // Keep reading the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        Self { child, port, certs }
    }

    /// A client that trusts the server's development CA.
    pub fn client(&self, http1_only: bool) -> reqwest::Client {
        let ca = CertificateDer::from_pem_file(self.certs.path().join("dev-ca.pem")).unwrap();
        let builder = reqwest::Client::builder().use_preconfigured_tls(super::client_config_trusting(ca, &[]));
        if http1_only { builder.http1_only() } else { builder }.build().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A test that failed half-way must not leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
