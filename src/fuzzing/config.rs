//! Fuzz entry for the configuration loader and every check that runs on it at startup without
//! touching the network or the file system.
//!
//! Input: the text of a configuration file (UTF-8; figment refuses anything else).
//!
//! Invariants: loading and compiling never panic; every error names where it came from and why,
//! and names a key unless the text is not TOML at all; a loaded configuration renders back to
//! TOML (what `check-config` prints). The startup compile is the pipeline's ([`App::new`]: CORS
//! rules, policy files, `Cache-Control` rules, the access guard, the plain-HTTP policy) over a
//! store that holds nothing, plus the S3 mount table when the backend is S3. A `cors.rules_file`
//! is not read: files of rules are the `cors` entry's input.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::{Backend, ConfigError, LoadedConfig};
use crate::key::ObjectKey;
use crate::pipeline::App;
use crate::plan::ByteRange;
use crate::store::{ByteStream, Mounts, ObjectMeta, ObjectStore, StoreError};

/// Loads the configuration in `data`, compiles it and checks the outcome.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut loaded = match LoadedConfig::from_toml(text) {
        Ok(loaded) => loaded,
        Err(error) => return check_load_error(text, &error),
    };
    let rendered = loaded.to_toml();
    assert!(!rendered.starts_with("# cannot render"), "check-config cannot print the configuration: {rendered}");
    let cors = &mut loaded.config.cors;
    if cors.rules.is_none() {
        cors.rules_file = None;
    }
    if let Err(error) = compile(&loaded) {
        check_error(&error);
        assert!(!error.key.is_empty(), "a startup error without a key: {error}");
    }
}

/// What startup builds from the configuration before it binds a socket or calls the store.
fn compile(loaded: &LoadedConfig) -> Result<(), ConfigError> {
    App::new(loaded, Arc::new(EmptyStore))?;
    if loaded.config.storage.backend == Backend::S3 {
        Mounts::new(loaded)?;
    }
    Ok(())
}

fn check_load_error(text: &str, error: &ConfigError) {
    check_error(error);
    if error.key.is_empty() {
        let syntax_error = text.parse::<toml::Table>().is_err();
        assert!(syntax_error, "an error without a key for text that is TOML: {error}");
    }
}

fn check_error(error: &ConfigError) {
    assert!(!error.source.is_empty(), "an error without a source: {error:?}");
    assert!(!error.reason.is_empty(), "an error without a reason: {error:?}");
}

/// A store with no objects: `App::new` only keeps it.
struct EmptyStore;

impl ObjectStore for EmptyStore {
    fn head<'a>(&'a self, _key: &'a ObjectKey) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        Box::pin(async { Err(StoreError::NotFound) })
    }

    fn get<'a>(
        &'a self,
        _key: &'a ObjectKey,
        _meta: &'a ObjectMeta,
        _range: ByteRange,
    ) -> BoxFuture<'a, Result<ByteStream, StoreError>> {
        Box::pin(async { Err(StoreError::NotFound) })
    }
}
