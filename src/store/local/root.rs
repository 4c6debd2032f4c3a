//! The served directory, and how a key becomes an open file inside it: on the runtime thread
//! when the kernel has every directory of the path cached, else on the blocking pool.
//!
//! Invariant (tested in `local.rs`): a key never opens a file outside the root. Symlinks are
//! followed only when they stay inside it.

use std::fs::File;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::key::ObjectKey;
use crate::store::StoreError;

/// The directory served: its resolved path, and the directory itself, held open.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    dir: File,
}

impl Root {
    /// The directory at `path`, resolved once so symlinks cannot lead outside it.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let path = path.canonicalize()?;
        let dir = File::open(&path)?;
        Ok(Self { path, dir })
    }

    /// The resolved path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `key`'s file if that needs no wait: one `openat2` that fails rather than read a
    /// directory from the disk (`RESOLVE_CACHED`, Linux 5.12) or leave the root
    /// (`RESOLVE_BENEATH`). `None` when it cannot say: [`Root::open_waiting`] decides then.
    ///
    /// This is the call nginx makes from its event loop (an `openat`), instead of `realpath`'s
    /// `readlink` of every component and a hop to the blocking pool and back.
    pub fn open_cached(&self, key: &ObjectKey) -> Option<Result<File, StoreError>> {
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::CACHED;
        match rustix::fs::openat2(&self.dir, key.as_str(), OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty(), how) {
            Ok(fd) => Some(Ok(File::from(fd))),
            // The kernel knows, from its cache, that a component is missing or not a directory.
            Err(Errno::NOENT | Errno::NOTDIR) => Some(Err(StoreError::NotFound)),
            // EAGAIN: part of the path is not cached. EXDEV: an absolute symlink, or one that
            // leaves the root, which `resolve` tells apart. ENOSYS, EINVAL: a kernel before 5.12.
            // Anything else is reported by the waiting open.
            Err(_) => None,
        }
    }

    /// Opens `key`'s file, waiting for the disk if need be: on the blocking pool only.
    pub fn open_waiting(&self, key: &ObjectKey) -> Result<File, StoreError> {
        File::open(self.resolve(key)?).map_err(not_found_or_io)
    }

    /// Resolves a key to a path inside the root, following symlinks only if they stay in it:
    /// `realpath`, which reads every component. On the blocking pool only.
    pub fn resolve(&self, key: &ObjectKey) -> Result<PathBuf, StoreError> {
        let mut path = self.path.clone();
        path.extend(key.segments());
        let resolved = path.canonicalize().map_err(not_found_or_io)?;
        if !resolved.starts_with(&self.path) {
            return Err(StoreError::NotFound);
        }
        Ok(resolved)
    }
}

/// What a failed open or `stat` means for the client: no such object, or a fault of the store.
pub fn not_found_or_io(error: std::io::Error) -> StoreError {
    use std::io::ErrorKind::*;
    match error.kind() {
        NotFound | NotADirectory | PermissionDenied | IsADirectory => StoreError::NotFound,
        _ => StoreError::Io(error),
    }
}
