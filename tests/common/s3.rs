//! An S3-compatible server for tests: s3s-fs in process, on an ephemeral port, over a temporary
//! folder, verifying SigV4 signatures like S3. Objects are put through the S3 API, so it stores
//! their MD5 ETags as S3 would.

use std::net::SocketAddr;
use std::path::Path;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use vod_origin::store::StaticCredentials;

/// A bucket name distinctive enough to search responses for.
pub const BUCKET: &str = "vod-private-bucket-7f3a";
const ACCESS_KEY: &str = "vod-origin-test-access";
const SECRET_KEY: &str = "vod-origin-test-secret-key-0123456789";

pub struct S3Server {
    pub addr: SocketAddr,
    pub client: aws_sdk_s3::Client,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl S3Server {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{addr}"))
            .force_path_style(true)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "tests"))
            .build();
        Self { addr, client: aws_sdk_s3::Client::from_conf(config), _dir: dir, task }
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> String {
        let output =
            self.client.put_object().bucket(BUCKET).key(key).body(ByteStream::from(bytes)).send().await.unwrap();
        output.e_tag().unwrap().to_string()
    }

    /// Puts every file under `root`, keyed by its path relative to `root`.
    pub async fn upload_dir(&self, root: &Path) {
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let key = path.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                    self.put(&key, std::fs::read(&path).unwrap()).await;
                }
            }
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn credentials() -> StaticCredentials {
    StaticCredentials { access_key_id: ACCESS_KEY.into(), secret_access_key: SECRET_KEY.into() }
}

pub fn wrong_credentials() -> StaticCredentials {
    StaticCredentials { access_key_id: ACCESS_KEY.into(), secret_access_key: "not-the-secret".into() }
}
