//! Which bucket and key a request's object key maps to.
//!
//! Invariant: the S3 key is always the mount's prefix followed by the rest of a validated
//! [`ObjectKey`], so a request can never reach outside the mount's prefix or bucket.

use crate::config::{ConfigError, LoadedConfig, S3Mount};
use crate::key::{ObjectKey, key_from_path};

/// One bucket under a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Path prefix without slashes (`a/b`), empty for the root.
    path: String,
    /// The bucket.
    pub bucket: String,
    /// Key prefix inside the bucket.
    pub prefix: String,
}

/// A resolved object: bucket and full key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The key inside it.
    pub key: String,
}

/// The mounts, longest path first.
#[derive(Debug, Clone)]
pub struct Mounts(Vec<Mount>);

impl Mounts {
    /// Builds the table from `storage.s3.bucket`/`prefix` (mounted at `/`) and `storage.s3.mounts`.
    pub fn new(loaded: &LoadedConfig) -> Result<Self, ConfigError> {
        let s3 = &loaded.config.storage.s3;
        // Each mount with the key its errors name: the root mount is `storage.s3.bucket`, the
        // others their own index in `[[storage.s3.mounts]]`.
        let mut mounts = Vec::new();
        if let Some(bucket) = &s3.bucket {
            let root = S3Mount { path: "/".into(), bucket: bucket.clone(), prefix: s3.prefix.clone() };
            mounts.push(("storage.s3.bucket".to_owned(), root));
        } else if !s3.prefix.is_empty() {
            return Err(loaded.error("storage.s3.prefix", "set storage.s3.bucket too, or use storage.s3.mounts"));
        }
        mounts.extend(s3.mounts.iter().enumerate().map(|(i, m)| (format!("storage.s3.mounts.{i}"), m.clone())));
        if mounts.is_empty() {
            return Err(loaded.error("storage.s3.bucket", "set a bucket, or at least one [[storage.s3.mounts]]"));
        }
        let mut table = Vec::with_capacity(mounts.len());
        for (key, mount) in &mounts {
            let mount = compile(mount).map_err(|reason| loaded.error(key, reason))?;
            if table.iter().any(|m: &Mount| m.path == mount.path) {
                return Err(loaded.error(key, format!("path /{} is mounted twice", mount.path)));
            }
            table.push(mount);
        }
        table.sort_by_key(|m| std::cmp::Reverse(m.path.len()));
        Ok(Self(table))
    }

    /// The buckets, for readiness checks.
    pub fn all(&self) -> &[Mount] {
        &self.0
    }

    /// The bucket and key for `key`, or `None` when no mount covers it.
    pub fn locate(&self, key: &ObjectKey) -> Option<Location<'_>> {
        self.0.iter().find_map(|mount| {
            let rest = if mount.path.is_empty() {
                key.as_str()
            } else {
                key.as_str().strip_prefix(mount.path.as_str())?.strip_prefix('/')?
            };
            Some(Location { bucket: &mount.bucket, key: format!("{}{rest}", mount.prefix) })
        })
    }
}

fn compile(mount: &S3Mount) -> Result<Mount, String> {
    if mount.bucket.is_empty() || mount.bucket.contains('/') {
        return Err(format!("bucket {:?} is not a bucket name", mount.bucket));
    }
    let path = match mount.path.as_str() {
        "/" => String::new(),
        path => {
            let key = key_from_path(path.trim_end_matches('/'))
                .map_err(|e| format!("path {path:?} must be like /videos or /a/b: {e}"))?;
            key.as_str().to_owned()
        }
    };
    Ok(Mount { path, bucket: mount.bucket.clone(), prefix: mount.prefix.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(toml: &str) -> Result<Mounts, ConfigError> {
        Mounts::new(&LoadedConfig::from_toml(toml).unwrap())
    }

    fn locate(mounts: &Mounts, path: &str) -> Option<(String, String)> {
        let key = key_from_path(path).unwrap();
        mounts.locate(&key).map(|l| (l.bucket.to_owned(), l.key))
    }

    #[test]
    fn longest_mount_wins_and_prefixes_apply() {
        let table = mounts(
            "[storage.s3]\nbucket = \"main\"\nprefix = \"vod/\"\n\
             [[storage.s3.mounts]]\npath = \"/a\"\nbucket = \"A\"\n\
             [[storage.s3.mounts]]\npath = \"/b/\"\nbucket = \"B\"\nprefix = \"p/\"\n",
        )
        .unwrap();
        let some = |b: &str, k: &str| Some((b.to_owned(), k.to_owned()));
        assert_eq!(locate(&table, "/a/x.mp4"), some("A", "x.mp4"));
        assert_eq!(locate(&table, "/b/c/d.ts"), some("B", "p/c/d.ts"));
        assert_eq!(locate(&table, "/ab/x.mp4"), some("main", "vod/ab/x.mp4"));
        assert_eq!(locate(&table, "/x.mp4"), some("main", "vod/x.mp4"));
        assert_eq!(locate(&table, "/a"), some("main", "vod/a"));
    }

    #[test]
    fn without_a_root_mount_other_paths_are_not_found() {
        let table = mounts("[[storage.s3.mounts]]\npath = \"/a\"\nbucket = \"A\"\n").unwrap();
        assert_eq!(locate(&table, "/b/x.mp4"), None);
    }

    #[test]
    fn bad_mounts_are_named() {
        assert_eq!(mounts("").unwrap_err().key, "storage.s3.bucket");
        assert_eq!(mounts("[storage.s3]\nprefix = \"p/\"").unwrap_err().key, "storage.s3.prefix");
        let error = mounts("[[storage.s3.mounts]]\npath = \"/../x\"\nbucket = \"A\"\n").unwrap_err();
        assert_eq!(error.key, "storage.s3.mounts.0");
        let error =
            mounts("[storage.s3]\nbucket = \"m\"\n[[storage.s3.mounts]]\npath = \"/\"\nbucket = \"A\"\n").unwrap_err();
        assert_eq!(error.key, "storage.s3.mounts.0", "the first mount of the file, after the root bucket");
        let error = mounts(
            "[storage.s3]\nbucket = \"m\"\n[[storage.s3.mounts]]\npath = \"/a\"\nbucket = \"A\"\n\
             [[storage.s3.mounts]]\npath = \"/../b\"\nbucket = \"B\"\n",
        )
        .unwrap_err();
        assert_eq!(error.key, "storage.s3.mounts.1");
    }
}
