//! The command line as an operator meets it: `check-config` on every shipped configuration,
//! and errors that name the file or variable, the key and the reason, with a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The exit status of a configuration error (sysexits.h's `EX_CONFIG`).
const EX_CONFIG: i32 = 78;

fn vod_origin(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vod-origin"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    // The test's own environment must not leak configuration into the run.
    for (key, _) in std::env::vars() {
        if key.starts_with("VOD_ORIGIN_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().copied()).output().unwrap()
}

fn config_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_configuration_checks() {
    let files = config_files();
    assert!(files.len() >= 3);
    // What a deployment supplies from outside the file: the certificate files and the secret.
    let dir = tempfile::tempdir().unwrap();
    let certs = vod_origin::tls::dev_cert::ensure(dir.path()).unwrap();
    let deployment = [
        ("VOD_ORIGIN_TLS__CERT_CHAIN", certs.server_chain.to_str().unwrap()),
        ("VOD_ORIGIN_TLS__PRIVATE_KEY", certs.server_key.to_str().unwrap()),
        ("VOD_ORIGIN_ACCESS__SECRETS", "[\"a-secret-from-secrets-manager\"]"),
    ];
    for file in files {
        let output = vod_origin(&["check-config", "--config", file.to_str().unwrap()], &deployment);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", file.display());
        let printed = String::from_utf8(output.stdout).unwrap();
        assert!(printed.contains("[server]"), "{printed}");
    }
}

#[test]
fn production_refuses_to_start_without_a_secret() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml");
    let output = vod_origin(&["check-config", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(output.status.code(), Some(EX_CONFIG));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`access.secrets`"), "{stderr}");
}

#[test]
fn defaults_check_without_a_file() {
    let output = vod_origin(&["check-config"], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains("listen = \"127.0.0.1:8443\""), "{printed}");
    assert!(printed.contains("root = \"media\""), "{printed}");
}

#[test]
fn errors_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[server]\nlisten = \"127.0.0.1:8443\"\nlisten_port = 1\n", "server.listen_port", "unknown field"),
        ("[server]\nhandshake_timeout = \"soon\"\n", "server.handshake_timeout", ""),
        ("[storage]\nroot = \"/nonexistent/media\"\n", "storage.root", "/nonexistent/media"),
        (
            "[cors]\n[[cors.rules]]\nallowed_origins = [\"https://*.*.example.com\"]\nallowed_methods = [\"GET\"]\n",
            "cors.rules",
            "more than one '*'",
        ),
        (
            "[cache_control]\n[[cache_control.rules]]\npattern = \"a[\"\nvalue = \"x\"\n",
            "cache_control.rules",
            "rule 0",
        ),
        (
            "[tls]\ncert_chain = \"/nonexistent/chain.pem\"\nprivate_key = \"/nonexistent/key.pem\"\n",
            "tls.cert_chain",
            "/nonexistent/chain.pem",
        ),
        ("this is not toml", "", "line 1, column 6"),
    ];
    for (text, key, reason) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let output = vod_origin(&["check-config", "--config", file.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(EX_CONFIG), "{text}: {stderr}");
        assert!(stderr.contains(file.to_str().unwrap()), "names the file: {stderr}");
        if !key.is_empty() {
            assert!(stderr.contains(&format!("`{key}`")), "names {key}: {stderr}");
        }
        assert!(stderr.contains(reason), "says {reason}: {stderr}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let output = vod_origin(&["--config", "/nonexistent/vod-origin.toml"], &[]);
    assert_eq!(output.status.code(), Some(EX_CONFIG));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/vod-origin.toml"));
}

#[test]
fn the_environment_overrides_keys_and_is_named_in_errors() {
    let output = vod_origin(&["check-config"], &[("VOD_ORIGIN_SERVER__LISTEN", "0.0.0.0:9443")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8(output.stdout).unwrap().contains("listen = \"0.0.0.0:9443\""));

    let output = vod_origin(&["check-config"], &[("VOD_ORIGIN_SERVER__LISTEN", "nowhere")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(EX_CONFIG));
    assert!(stderr.contains("VOD_ORIGIN_SERVER__LISTEN") && stderr.contains("`server.listen`"), "{stderr}");
}

#[test]
fn variables_that_are_not_keys_are_left_alone() {
    // What Kubernetes injects for a Service named vod-origin.
    let env = [("VOD_ORIGIN_PORT", "tcp://10.0.0.1:443"), ("VOD_ORIGIN_SERVICE_HOST", "10.0.0.1")];
    let output = vod_origin(&["check-config"], &env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Named, so a typo cannot hide among them, but never refused.
    assert!(stderr.contains("warning: VOD_ORIGIN_PORT sets no configuration key"), "{stderr}");
}

#[test]
fn a_variable_with_one_underscore_too_few_is_named_with_the_one_meant() {
    let output = vod_origin(&["check-config"], &[("VOD_ORIGIN_SERVER_LISTEN", "0.0.0.0:9443")]);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("VOD_ORIGIN_SERVER_LISTEN") && stderr.contains("did you mean VOD_ORIGIN_SERVER__LISTEN?"));
    assert!(!stdout.contains("0.0.0.0:9443"), "the typo sets nothing: {stdout}");
}

#[test]
fn durations_print_as_written() {
    let env = [("VOD_ORIGIN_TLS__HSTS_MAX_AGE", "730days"), ("VOD_ORIGIN_SERVER__SEND_TIMEOUT", "90s")];
    let output = vod_origin(&["check-config"], &env);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("hsts_max_age = \"730days\"") && stdout.contains("send_timeout = \"90s\""), "{stdout}");
}

#[test]
fn secrets_from_the_environment_are_never_printed() {
    let secret = "a-secret-that-must-not-print";
    let output = vod_origin(&["check-config"], &[("VOD_ORIGIN_ACCESS__SECRETS", &format!("[\"{secret}\"]"))]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let all = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(!all.contains(secret), "{all}");
    assert!(all.contains("<redacted>"), "{all}");

    let output = vod_origin(&["check-config"], &[("VOD_ORIGIN_ACCESS__SECRETS", secret)]);
    assert_eq!(output.status.code(), Some(EX_CONFIG));
    assert!(!String::from_utf8_lossy(&output.stderr).contains(secret));
}

#[test]
fn help_explains_the_defaults() {
    let output = vod_origin(&["--help"], &[]);
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in ["check-config", "--config", "8443", "certs/dev-ca.pem", "VOD_ORIGIN_"] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
}
