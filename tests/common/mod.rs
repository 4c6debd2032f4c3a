//! Test harness: a real vod-origin on ephemeral ports with a certificate from a test CA, and real
//! HTTP clients (reqwest over HTTP/1.1 and HTTP/2, and raw TLS for malformed requests) that trust
//! that CA and nothing else.

#![allow(dead_code)]

pub mod fault_proxy;
pub mod process;
pub mod s3;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use vod_origin::config::{Config, LoadedConfig};
use vod_origin::server::Server;

/// Both protocols every black-box test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

pub const PROTOCOLS: [Protocol; 2] = [Protocol::Http1, Protocol::Http2];

/// Both stores the black-box behaviour is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

pub const BACKENDS: [Backend; 2] = [Backend::Local, Backend::S3];

/// A CA and a server certificate for localhost, written to a temporary folder.
pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub ca_der: CertificateDer<'static>,
    pub chain: PathBuf,
    pub key: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl TestCa {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name.push(DnType::CommonName, "vod-origin test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let (chain, key) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
        let this = Self { ca_der: ca.der().clone(), chain, key, dir, ca, ca_key };
        this.issue();
        this
    }

    /// Issues a new server certificate with a new key and writes both over the files, each by
    /// an atomic rename as certificate tools do. Returns the new leaf certificate.
    pub fn issue(&self) -> CertificateDer<'static> {
        let server_key = KeyPair::generate().unwrap();
        let server_params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let server = server_params.signed_by(&server_key, &self.ca, &self.ca_key).unwrap();
        let key_pem = server_key.serialize_pem();
        // The key first: a reload between the two renames then fails on the mismatch and keeps
        // the old pair, and the chain's rename triggers the reload that succeeds.
        replace_file(&self.key, key_pem.as_bytes());
        replace_file(&self.chain, format!("{}{}", server.pem(), self.ca.pem()).as_bytes());
        server.der().clone()
    }

    pub fn client_config(&self, alpn: &[&[u8]]) -> rustls::ClientConfig {
        client_config_trusting(self.ca_der.clone(), alpn)
    }
}

/// Writes `path` by renaming a finished file over it.
pub fn replace_file(path: &Path, contents: &[u8]) {
    let staged = path.with_extension("new");
    std::fs::write(&staged, contents).unwrap();
    std::fs::rename(&staged, path).unwrap();
}

/// The leaf certificate a new TLS handshake with `addr` gets.
pub async fn leaf_certificate(addr: SocketAddr, ca: &CertificateDer<'static>) -> CertificateDer<'static> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config_trusting(ca.clone(), &[b"http/1.1"])));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// Waits until new handshakes with `addr` get `leaf`; panics after a minute.
pub async fn wait_for_leaf(addr: SocketAddr, ca: &CertificateDer<'static>, leaf: &CertificateDer<'static>) {
    eventually("the new certificate never reached a handshake", || async { leaf_certificate(addr, ca).await == *leaf })
        .await;
}

/// Checks `condition` until it holds, pausing briefly between checks; panics with `failure`
/// after a minute. For what happens inside the server with nothing a client could await (a
/// counter rising, a slot freed, a certificate picked up): it waits for the event and never
/// measures how long it took.
pub async fn eventually<F, Fut>(failure: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "{failure}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A TLS client configuration that trusts `ca` and nothing else.
pub fn client_config_trusting(ca: CertificateDer<'static>, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// A running origin. Dropping it shuts the server down.
pub struct Origin {
    pub https: SocketAddr,
    pub plain: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub ca: TestCa,
    /// The S3 server behind the origin, for the S3 backend.
    pub s3: Option<s3::S3Server>,
    /// The certificate the server serves, for reload tests.
    pub certificates: Arc<vod_origin::tls::Certificates>,
    readiness: Arc<vod_origin::pipeline::Readiness>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The sample media committed in the repository.
pub fn media_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("media")
}

/// A configuration on ephemeral ports, serving `root`, with test certificates.
pub fn base_config(ca: &TestCa, root: &Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.plain_http.listen = "127.0.0.1:0".parse().unwrap();
    config.admin.listen = "127.0.0.1:0".parse().unwrap();
    config.tls.cert_chain = Some(ca.chain.clone());
    config.tls.private_key = Some(ca.key.clone());
    config.storage.root = root.to_path_buf();
    config
}

impl Origin {
    /// Serves the committed sample media with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(&media_root(), |_| {}).await
    }

    /// Serves `root` from the local backend with the defaults changed by `adjust`.
    pub async fn start_with(root: &Path, adjust: impl FnOnce(&mut Config)) -> Self {
        let ca = TestCa::new();
        let mut config = base_config(&ca, root);
        adjust(&mut config);
        let server = Server::bind(&LoadedConfig::from_config(config)).await.expect("server binds");
        Self::launch(server, ca, None)
    }

    /// Serves the files under `root` from `backend`: as they are, or put into a fresh S3 server.
    pub async fn start_on(backend: Backend, root: &Path, adjust: impl FnOnce(&mut Config)) -> Self {
        match backend {
            Backend::Local => Self::start_with(root, adjust).await,
            Backend::S3 => {
                let s3 = s3::S3Server::start().await;
                s3.upload_dir(root).await;
                Self::start_s3(s3, None, adjust).await
            }
        }
    }

    /// Serves `s3`'s bucket, reached directly or through `via` (a fault proxy).
    pub async fn start_s3(s3: s3::S3Server, via: Option<SocketAddr>, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start_s3_with_credentials(s3, via, s3::credentials(), adjust).await
    }

    pub async fn start_s3_with_credentials(
        s3: s3::S3Server,
        via: Option<SocketAddr>,
        credentials: vod_origin::store::StaticCredentials,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let ca = TestCa::new();
        let mut config = base_config(&ca, Path::new("/nonexistent"));
        config.storage.backend = vod_origin::config::Backend::S3;
        config.storage.s3.endpoint = Some(format!("http://{}", via.unwrap_or(s3.addr)));
        config.storage.s3.region = Some("us-east-1".into());
        config.storage.s3.force_path_style = true;
        config.storage.s3.bucket = Some(s3::BUCKET.into());
        // Every S3 test runs through the edge cache unless it says otherwise.
        config.storage.cache.enabled = true;
        adjust(&mut config);
        let loaded = LoadedConfig::from_config(config);
        let store = vod_origin::store::S3Store::new(&loaded, Some(credentials)).await.expect("S3 store");
        let store = vod_origin::store::cached(&loaded, Arc::new(store)).await.unwrap();
        let store = vod_origin::store::packaged(&loaded, store);
        let server = Server::bind_with_store(&loaded, store).await.expect("server binds");
        Self::launch(server, ca, Some(s3))
    }

    fn launch(server: Server, ca: TestCa, s3: Option<s3::S3Server>) -> Self {
        // `RUST_LOG=vod_origin=debug cargo test ...` shows the origin's log beside a failure.
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_test_writer()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .try_init();
        }
        let (https, plain, admin) = (server.https_addr(), server.plain_addr(), server.admin_addr());
        let (readiness, certificates) = (server.readiness(), server.certificates());
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Self { https, plain, admin, ca, s3, certificates, readiness, shutdown: Some(tx), task: Some(task) }
    }

    /// Resolves once the store has answered the warm-up call.
    pub async fn wait_ready(&self) {
        self.readiness.store_answered().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.https.port(), path)
    }

    /// A client for one protocol, trusting only the test CA, following no redirects.
    pub fn client(&self, protocol: Protocol) -> reqwest::Client {
        let alpn: &[&[u8]] = match protocol {
            Protocol::Http1 => &[b"http/1.1"],
            Protocol::Http2 => &[b"h2"],
        };
        let builder = reqwest::Client::builder()
            .use_preconfigured_tls(self.ca.client_config(alpn))
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", self.https);
        match protocol {
            Protocol::Http1 => builder.http1_only(),
            Protocol::Http2 => builder.http2_prior_knowledge(),
        }
        .build()
        .unwrap()
    }

    /// A TLS connection to the HTTPS listener that chose HTTP/1.1.
    pub async fn http1_connection(&self) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(self.https).await.unwrap();
        self.http1_over(tcp).await
    }

    /// Like [`Origin::http1_connection`], with a small socket receive buffer: the origin's
    /// socket fills as soon as the client is not reading.
    pub async fn http1_connection_receiving(
        &self,
        receive_buffer: u32,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(receive_buffer).unwrap();
        self.http1_over(socket.connect(self.https).await.unwrap()).await
    }

    async fn http1_over(&self, tcp: tokio::net::TcpStream) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.ca.client_config(&[b"http/1.1"])));
        connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
    }

    /// Sends `request` verbatim over TLS (HTTP/1.1) and reads until the server closes.
    pub async fn raw(&self, request: &[u8]) -> RawResponse {
        let mut tls = self.http1_connection().await;
        tls.write_all(request).await.unwrap();
        let mut bytes = Vec::new();
        // The server closes after a `Connection: close` request or a refused body; a reset after
        // the response is complete still leaves the bytes read so far.
        let _ = tls.read_to_end(&mut bytes).await;
        RawResponse::parse(bytes)
    }

    /// The value of one series on the admin listener's `/metrics` (metrics are per process, so
    /// compare before and after).
    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        let url = format!("http://{}/metrics", self.admin.expect("an admin listener"));
        let text = self.client(Protocol::Http1).get(url).send().await.unwrap().text().await.unwrap();
        series(&text, name_and_labels)
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Reads one response with a `Content-Length` (or none, for HEAD) off a kept-alive connection.
    pub async fn read_one<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R, head_request: bool) -> Self {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let read = tokio::io::AsyncBufReadExt::read_until(reader, b'\n', &mut head).await.unwrap();
            assert!(read > 0, "the connection closed inside a response head: {:?}", String::from_utf8_lossy(&head));
        }
        let mut response = Self::parse(head);
        let length = if head_request { 0 } else { response.header("content-length").map_or(0, |n| n.parse().unwrap()) };
        response.body = vec![0; length];
        tokio::io::AsyncReadExt::read_exact(reader, &mut response.body).await.unwrap();
        response
    }

    fn parse(bytes: Vec<u8>) -> Self {
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
        let head = String::from_utf8(bytes[..split].to_vec()).unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        Self { status, head, body: bytes[split + 4..].to_vec() }
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// The value of one series in a Prometheus text exposition, 0 when absent.
pub fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// A temporary folder of files with deterministic pseudo-random content.
pub fn fixture_dir(files: &[(&str, usize)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, len) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, pattern(*len, name.len() as u64)).unwrap();
    }
    dir
}

/// Deterministic bytes (an xorshift sequence), so a misplaced range shows as a mismatch.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

pub fn sample(path: &str) -> Vec<u8> {
    std::fs::read(media_root().join(path)).unwrap()
}
