//! The Docker image's runtime contract, checked without Docker: the binary started with the
//! Dockerfile's own ENV serves, and the Dockerfile's own HEALTHCHECK command passes against it
//! and fails once it is gone. Both are read from the Dockerfile, so they cannot drift apart.
//! The production stage's shape (a fixed uid and gid, no sample media) is read from it too;
//! `deploy/container-check.sh` runs the built image where Docker is.

mod common;

use std::ffi::OsString;
use std::process::Command;

use common::process::ServerProcess;

/// The `ENV` pairs and the `HEALTHCHECK ... CMD [...]` of the Dockerfile.
fn dockerfile() -> (Vec<(String, String)>, Vec<String>) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    // Join continued lines, as Docker does.
    let joined = text.replace("\\\n", " ");
    let instruction = |name: &str| {
        joined.lines().find_map(|line| line.strip_prefix(name).map(str::to_owned)).unwrap_or_else(|| panic!("{name}"))
    };
    let env = instruction("ENV ")
        .split_whitespace()
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("ENV key=value");
            (key.to_owned(), value.to_owned())
        })
        .collect();
    let healthcheck = instruction("HEALTHCHECK ");
    let (_, command) = healthcheck.split_once("CMD ").expect("HEALTHCHECK CMD");
    (env, serde_json::from_str(command.trim()).expect("HEALTHCHECK CMD in exec form"))
}

/// The Dockerfile's stages, each from the text after `FROM ` to the next `FROM`.
fn stages(text: &str) -> Vec<&str> {
    text.split("\nFROM ").skip(1).collect()
}

/// The stage declared `FROM ... AS name`.
fn stage<'a>(stages: &[&'a str], name: &str) -> &'a str {
    let suffix = format!(" AS {name}");
    stages
        .iter()
        .copied()
        .find(|stage| stage.lines().next().is_some_and(|line| line.ends_with(&suffix)))
        .unwrap_or_else(|| panic!("no stage {name}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn the_image_environment_serves_and_its_healthcheck_passes() {
    let (image_env, healthcheck) = dockerfile();
    assert_eq!(healthcheck[0], "/usr/local/bin/vod-origin");
    let media = concat!(env!("CARGO_MANIFEST_DIR"), "/media");
    // The image's values, with ports this machine has free and the repository's media.
    let env: Vec<(String, OsString)> = image_env
        .into_iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                k if k.ends_with("__LISTEN") => format!("127.0.0.1:{}", free_port()),
                "VOD_ORIGIN_STORAGE__ROOT" => media.to_owned(),
                _ => value,
            };
            (key, value.into())
        })
        .collect();
    let mut env_refs: Vec<(&str, &std::ffi::OsStr)> = env.iter().map(|(k, v)| (k.as_str(), v.as_os_str())).collect();
    env_refs
        .extend([("VOD_ORIGIN_ADMIN__ENABLED", "true".as_ref()), ("VOD_ORIGIN_PLAIN_HTTP__MODE", "redirect".as_ref())]);
    let server = ServerProcess::start(&env_refs);

    let healthcheck_exits = || {
        Command::new(env!("CARGO_BIN_EXE_vod-origin"))
            .args(&healthcheck[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .status()
            .unwrap()
            .code()
    };
    assert_eq!(healthcheck_exits(), Some(0));

    let response = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { server.client(false).get(server.url("/sample/hls/index.m3u8")).send().await.unwrap() });
    assert_eq!(response.status(), 200);

    drop(server);
    assert_eq!(healthcheck_exits(), Some(1), "the healthcheck fails once the server is gone");
}

#[test]
fn the_production_image_runs_as_a_fixed_user_and_group_without_media() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    let stages = stages(&text);
    let runtime = stage(&stages, "runtime");
    // ECS's "user" and volume ownership name these numbers; without a group the gid is 0.
    assert!(runtime.lines().any(|line| line == "USER 10001:10001"), "USER 10001:10001 in the runtime stage");
    assert!(!runtime.contains("COPY media/"), "the runtime stage carries no media");
    assert!(stage(&stages, "dev").contains("COPY media/"), "the dev stage adds the media");
    // A plain `docker build` makes the last stage: it must be the production image.
    let last = stages.last().unwrap();
    assert!(last.starts_with("runtime AS production\n"), "the last stage is the runtime stage, unchanged: {last}");
}
