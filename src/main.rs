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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn fail(error: &ConfigError) -> ExitCode {
    eprintln!("vod-origin: configuration error: {error}");
    ExitCode::from(2)
}

async fn serve(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    vod_origin::logging::init(loaded)?;
    let server = Server::bind(loaded).await?;
    let https = server.https_addr();
    tracing::info!(%https, plain_http = ?server.plain_addr(), "serving");
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
        vod_origin::tls::server_config(loaded)?;
    }
    print!("{}", loaded.to_toml());
    eprintln!("vod-origin: configuration is valid");
    Ok(())
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
