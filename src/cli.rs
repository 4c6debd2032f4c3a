//! The command line: serve, or check a configuration and print what would be in force.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// A TLS-only video-on-demand origin between a CDN and a private S3 bucket (or a local folder).
///
/// Without --config, the built-in defaults apply: serve the folder `media/` over HTTPS on
/// 127.0.0.1:8443 with a development certificate made on first start in `certs/` (trust it with
/// `curl --cacert certs/dev-ca.pem`), and redirect plain HTTP on 127.0.0.1:8080 to HTTPS.
///
/// Every configuration key can also be set from the environment as VOD_ORIGIN_<SECTION>__<KEY>,
/// for example VOD_ORIGIN_SERVER__LISTEN=0.0.0.0:443 or VOD_ORIGIN_ACCESS__SECRETS='["s1","s2"]'.
/// See config/vod-origin.example.toml for every key.
#[derive(Debug, Parser)]
#[command(name = "vod-origin", version, about, long_about)]
pub struct Cli {
    /// The TOML configuration file. Unset: the built-in defaults.
    #[arg(long, short, global = true, env = "VOD_ORIGIN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve (the default).
    Serve,
    /// Validate the configuration (file, environment, certificates, CORS rules) and print the
    /// effective configuration with secrets redacted. Exits non-zero on the first problem.
    CheckConfig,
    /// Health check for containers: GET /healthz on the configured admin listener; exit 0 on
    /// 200, 1 otherwise (2 when the configuration is wrong or has no admin listener).
    Probe {
        /// Check /readyz instead: also fails while the store is unreachable or the server drains.
        #[arg(long)]
        ready: bool,
    },
}
