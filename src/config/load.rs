//! Reads the configuration from a TOML file and `VOD_ORIGIN_*` environment variables.
//!
//! figment merges the two and remembers which source set each key, so an error can say
//! "`/etc/vod-origin.toml`: `server.listen`: ..." or "environment variable
//! `VOD_ORIGIN_SERVER__LISTEN`: ..." instead of a bare serde message.

use std::fmt;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::Config;

/// Prefix of the environment variables that override keys: `VOD_ORIGIN_SECTION__KEY`.
pub const ENV_PREFIX: &str = "VOD_ORIGIN_";

/// A configuration problem, naming where the key was set, the key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, the environment variable, or "built-in default".
    pub source: String,
    /// The key, dotted (`server.listen`).
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            // A syntax error belongs to no key; the reason carries the line and column.
            write!(f, "{}: {}", self.source, self.reason)
        } else {
            write!(f, "{}: `{}`: {}", self.source, self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

/// A configuration with the memory of where each key came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration in force.
    pub config: Config,
    figment: Figment,
    warnings: Vec<String>,
}

impl LoadedConfig {
    /// Loads the built-in defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match file {
            Some(file) => {
                check_readable(file)?;
                figment = figment.merge(Toml::file_exact(file));
            }
            // Without a file, the built-in defaults are a development setup: the demo page too.
            None => figment = super::demo::development(figment),
        }
        // Only `SECTION__KEY` names are keys. Others are not ours to refuse: `VOD_ORIGIN_CONFIG`
        // names the file itself, and Kubernetes injects `VOD_ORIGIN_PORT` and the like for a
        // Service named vod-origin.
        let keys = Env::prefixed(ENV_PREFIX).filter(|name| name.as_str().contains("__")).split("__");
        figment = figment.merge(keys);
        let mut loaded = Self::extract(figment)?;
        let names = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
        loaded.warnings = super::env::stray_variables(names);
        Ok(loaded)
    }

    /// Loads a configuration from TOML text alone (no environment): for tests and tools.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::extract(Figment::new().merge(Toml::string(text)))
    }

    /// Wraps a configuration built in code.
    pub fn from_config(config: Config) -> Self {
        Self { config, figment: Figment::new(), warnings: Vec::new() }
    }

    fn extract(figment: Figment) -> Result<Self, ConfigError> {
        match figment.extract::<Config>() {
            Ok(config) => {
                let loaded = Self { config, figment, warnings: Vec::new() };
                super::validate::check(&loaded)?;
                Ok(loaded)
            }
            Err(errors) => Err(errors.into_iter().next().map(from_figment).unwrap_or_else(|| ConfigError {
                source: "configuration".into(),
                key: String::new(),
                reason: "unreadable".into(),
            })),
        }
    }

    /// What is not an error but probably a mistake: `VOD_ORIGIN_*` variables that set no key.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// An error about `key` (dotted), naming the file or variable that set it.
    pub fn error(&self, key: &str, reason: impl fmt::Display) -> ConfigError {
        // `access.secrets.0` is not a key figment tracks, but `access.secrets` is: use the
        // nearest enclosing key that some source set.
        let mut lookup = key;
        let metadata = loop {
            if let Some(metadata) = self.figment.find_metadata(lookup) {
                break Some(metadata);
            }
            match lookup.rsplit_once('.') {
                Some((parent, _)) => lookup = parent,
                None => break None,
            }
        };
        let source = match metadata {
            Some(metadata) => describe_source(metadata, &lookup.split('.').collect::<Vec<_>>()),
            None => "built-in default".into(),
        };
        ConfigError { source, key: key.into(), reason: reason.to_string() }
    }

    /// The configuration as TOML, secrets redacted: what `check-config` prints.
    pub fn to_toml(&self) -> String {
        toml_render::to_string_pretty(&self.config).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn check_readable(file: &Path) -> Result<(), ConfigError> {
    std::fs::metadata(file).map(|_| ()).map_err(|e| ConfigError {
        source: file.display().to_string(),
        key: "(file)".into(),
        reason: format!("cannot read the configuration file: {e}"),
    })
}

fn from_figment(error: figment::Error) -> ConfigError {
    let key = dotted_key(&error.path);
    let source = match &error.metadata {
        Some(metadata) => describe_source(metadata, &error.path),
        None => "configuration".into(),
    };
    // A value under `access.secrets` may be a secret: say what is wrong, never what was found.
    let reason = if key.starts_with("access.secrets") {
        "invalid value (not shown: it may be a secret); expected a list of strings".to_string()
    } else {
        error.kind.to_string()
    };
    ConfigError { source, key, reason }
}

/// The key a path names, as TOML writes it: segments bare where they can be, quoted where not
/// (an empty key, or one with a dot or a space), so that every error names a key a reader can
/// find in the file.
fn dotted_key<K: AsRef<str>>(path: &[K]) -> String {
    let segment = |key: &str| {
        let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if bare { key.to_owned() } else { format!("{key:?}") }
    };
    path.iter().map(|key| segment(key.as_ref())).collect::<Vec<_>>().join(".")
}

fn describe_source<K: AsRef<str>>(metadata: &figment::Metadata, path: &[K]) -> String {
    match &metadata.source {
        Some(figment::Source::File(file)) => file.display().to_string(),
        _ if metadata.name.contains("environment") => {
            let name: Vec<String> = path.iter().map(|k| k.as_ref().to_ascii_uppercase()).collect();
            format!("environment variable {ENV_PREFIX}{}", name.join("__"))
        }
        _ => metadata.name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_bare_are_named_quoted() {
        // Found by the `config` fuzz target: an empty key made an error that named no key.
        let error = LoadedConfig::from_toml("'' = 1").err().unwrap();
        assert_eq!(error.key, "\"\"", "{error}");
        let error = LoadedConfig::from_toml("[server]\n\"a.b\" = 1").err().unwrap();
        assert_eq!(error.key, "server.\"a.b\"", "{error}");
    }

    #[test]
    fn a_value_with_hundreds_of_quotes_in_a_row_renders_and_reads_back() {
        // Found by the `config` fuzz target: 256 quotes in a row overflowed the TOML writer.
        let host = format!("a{}b{}c", "'".repeat(300), "\"".repeat(300));
        let text = format!("[server]\npublic_host = {}", toml_render::Value::from(host.clone()));
        let rendered = LoadedConfig::from_toml(&text).unwrap().to_toml();
        let again = LoadedConfig::from_toml(&rendered).unwrap();
        assert_eq!(again.config.server.public_host.as_deref(), Some(host.as_str()));
    }

    #[test]
    fn defaults_need_no_file() {
        let loaded = LoadedConfig::from_toml("").unwrap();
        assert_eq!(loaded.config.server.listen.port(), 8443);
        assert_eq!(loaded.config.plain_http.listen.port(), 8080);
        assert_eq!(loaded.config.storage.root, Path::new("media"));
        assert_eq!(loaded.config.tls.hsts_max_age.as_secs(), 63_072_000);
    }

    #[test]
    fn durations_are_human_readable() {
        let loaded = LoadedConfig::from_toml("[server]\nhandshake_timeout = \"1m 30s\"").unwrap();
        assert_eq!(loaded.config.server.handshake_timeout.as_secs(), 90);
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = LoadedConfig::from_toml("[server]\nlisten_on = \"x\"").unwrap_err();
        assert_eq!(error.key, "server.listen_on");
        assert!(error.reason.contains("unknown field"), "{error}");
    }

    #[test]
    fn bad_values_are_named() {
        let error = LoadedConfig::from_toml("[server]\nlisten = \"nowhere\"").unwrap_err();
        assert_eq!(error.key, "server.listen");
        let error = LoadedConfig::from_toml("[plain_http]\nmode = \"sometimes\"").unwrap_err();
        assert_eq!(error.key, "plain_http.mode");
        let error = LoadedConfig::from_toml("[server]\ndrain_timeout = \"soon\"").unwrap_err();
        assert_eq!(error.key, "server.drain_timeout");
    }

    #[test]
    fn files_are_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("origin.toml");
        std::fs::write(&file, "[access]\nheader = \"X-A\"\nsecrets = [\"s\"]\n[cors]\nenforce = 3\n").unwrap();
        let error = LoadedConfig::load(Some(&file)).unwrap_err();
        assert_eq!(error.source, file.display().to_string());
        assert_eq!(error.key, "cors.enforce");
        let missing = LoadedConfig::load(Some(&dir.path().join("nope.toml"))).unwrap_err();
        assert!(missing.to_string().contains("nope.toml"), "{missing}");
    }

    #[test]
    fn secrets_never_reach_errors_or_output() {
        let error = LoadedConfig::from_toml("[access]\nsecrets = \"hunter2\"").unwrap_err();
        assert_eq!(error.key, "access.secrets");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let loaded = LoadedConfig::from_toml("[access]\nsecrets = [\"hunter2\"]").unwrap();
        assert!(!loaded.to_toml().contains("hunter2"));
        assert!(!format!("{:?}", loaded.config).contains("hunter2"));
    }

    #[test]
    fn semantic_errors_name_the_source_of_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("origin.toml");
        std::fs::write(&file, "[storage]\nroot = \"/nonexistent\"\n").unwrap();
        let loaded = LoadedConfig::load(Some(&file)).unwrap();
        let error = loaded.error("storage.root", "no such directory");
        assert_eq!(error.source, file.display().to_string());
        assert_eq!(loaded.error("server.listen", "x").source, "built-in default");
        assert_eq!(loaded.error("storage.root.deeper.0", "x").source, file.display().to_string());
    }
}
