//! A local S3-compatible server for development and benchmarks: s3s-fs over a folder, with
//! SigV4 checked, seeded with a folder of media through the S3 API (so ETags are stored, as S3
//! would, instead of re-hashed on every request).
//!
//! ```sh
//! cargo run --example s3-dev-server -- --seed media          # http://127.0.0.1:9000, bucket "videos"
//! AWS_ACCESS_KEY_ID=minioadmin AWS_SECRET_ACCESS_KEY=minioadmin cargo run -- --config config/minio.toml
//! ```
//!
//! s3s-fs reads files in 4 KiB steps (about 100 MB/s): fine for trying things, not a yardstick
//! for throughput.

use std::path::{Path, PathBuf};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use clap::Parser;
use hyper_util::rt::{TokioExecutor, TokioIo};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

#[derive(Debug, Parser)]
struct Args {
    /// Folder holding the buckets (one sub-folder each). Default: a temporary folder.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: std::net::SocketAddr,
    /// The bucket to create.
    #[arg(long, default_value = "videos")]
    bucket: String,
    /// A folder whose files are put into the bucket, keyed by their relative paths.
    #[arg(long)]
    seed: Option<PathBuf>,
    #[arg(long, default_value = "minioadmin")]
    access_key: String,
    #[arg(long, default_value = "minioadmin")]
    secret_key: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let temporary = tempfile::tempdir()?;
    let root = args.root.clone().unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(root.join(&args.bucket))?;
    let fs = s3s_fs::FileSystem::new(&root).map_err(|e| format!("cannot serve {}: {e:?}", root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(args.access_key.clone(), args.secret_key.clone()));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((socket, _)) = listener.accept().await else { continue };
            let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
            tokio::spawn(connection);
        }
    });
    if let Some(seed) = &args.seed {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .credentials_provider(Credentials::new(&args.access_key, &args.secret_key, None, None, "seed"))
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let count = seed_bucket(&client, &args.bucket, seed).await?;
        eprintln!("put {count} objects from {} into {}", seed.display(), args.bucket);
    }
    eprintln!("S3 endpoint {endpoint}, bucket {}, serving {}; Ctrl-C to stop", args.bucket, root.display());
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn seed_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    seed: &Path,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut pending = vec![seed.to_path_buf()];
    let mut count = 0;
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let key = path.strip_prefix(seed)?.to_string_lossy().into_owned();
            client.put_object().bucket(bucket).key(&key).body(ByteStream::from_path(&path).await?).send().await?;
            count += 1;
        }
    }
    Ok(count)
}
