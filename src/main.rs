//! The `vod-origin` binary: parse the command line, load the configuration, serve until SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use vod_origin::cli::{Cli, Command};
use vod_origin::config::{ConfigError, LoadedConfig};
use vod_origin::server::Server;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = match LoadedConfig::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(error) => return fail(&error),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vod-origin: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => runtime.block_on(serve(&loaded)),
        Command::CheckConfig => runtime.block_on(check(&loaded)),
        Command::Probe { ready } => return runtime.block_on(probe(&loaded, ready)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

/// sysexits.h's `EX_CONFIG`: what init systems and operators read as "fix the configuration",
/// distinct from a crash (1) and from a command-line usage error (2, clap's).
const EX_CONFIG: u8 = 78;

fn fail(error: &ConfigError) -> ExitCode {
    eprintln!("vod-origin: configuration error: {error}");
    ExitCode::from(EX_CONFIG)
}

async fn serve(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    vod_origin::logging::init(loaded)?;
    for warning in loaded.warnings() {
        tracing::warn!("{warning}");
    }
    let server = Server::bind(loaded).await?;
    let https = server.https_addr();
    let shown = |addr: Option<std::net::SocketAddr>| addr.map_or_else(|| "off".to_owned(), |a| a.to_string());
    tracing::info!(
        %https,
        plain_http = %shown(server.plain_addr()),
        admin = %shown(server.admin_addr()),
        demo = %shown(server.demo_addr()),
        "serving"
    );
    if let Some(demo) = server.demo_addr() {
        tracing::info!(
            "demo player page: https://localhost:{}/ (demo.listen; the page is in {})",
            demo.port(),
            loaded.config.demo.root.display()
        );
    }
    if loaded.config.tls.cert_chain.is_none() {
        let ca = loaded.config.tls.dev_cert_dir.join(vod_origin::tls::dev_cert::CA_FILE);
        tracing::info!(
            "development certificate in use; try: curl --cacert {} https://localhost:{}/sample/hls/index.m3u8",
            ca.display(),
            https.port()
        );
    }
    server.run(shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Checks everything `serve` would check, short of binding sockets.
async fn check(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    let store = vod_origin::store::from_config(loaded).await?;
    vod_origin::pipeline::App::new(loaded, store)?;
    // Without configured certificates, `serve` makes development ones; checking must not.
    if loaded.config.tls.cert_chain.is_some() || loaded.config.tls.private_key.is_some() {
        vod_origin::tls::load(loaded)?;
    }
    print!("{}", loaded.to_toml());
    for warning in loaded.warnings() {
        eprintln!("vod-origin: warning: {warning}");
    }
    eprintln!("vod-origin: configuration is valid");
    Ok(())
}

/// Asks the running server's admin listener whether it is healthy (or ready).
async fn probe(loaded: &LoadedConfig, ready: bool) -> ExitCode {
    let admin = &loaded.config.admin;
    if !admin.enabled {
        return fail(&loaded.error("admin.enabled", "the probe needs the admin listener"));
    }
    let path = if ready { vod_origin::pipeline::READY_PATH } else { vod_origin::pipeline::HEALTH_PATH };
    match vod_origin::probe::status(admin.listen, path).await {
        Ok(status) if status == http::StatusCode::OK => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("vod-origin: {path} answered {status}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("vod-origin: {path}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM (ECS, Docker, systemd) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
