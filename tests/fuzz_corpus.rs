//! Replays every fuzzing input kept in the repository through its entry in
//! `vod_origin::fuzzing`: the minimized corpora (`fuzz/corpus/<target>/`) and the inputs that
//! once crashed a target (`fuzz/crashes/<target>/`). A regression in any parser's invariant fails
//! here, in plain `cargo test`, without cargo-afl.

use std::path::{Path, PathBuf};

use vod_origin::fuzzing::{Entry, TARGETS};

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.map(|entry| entry.expect("readable directory entry").path()).filter(|path| path.is_file()).collect();
    files.sort();
    files
}

/// Runs each input through `entry`, naming the file if the entry panics.
fn replay(name: &str, entry: Entry, files: &[PathBuf]) {
    for file in files {
        let data = std::fs::read(file).expect("readable input");
        if std::panic::catch_unwind(|| entry(&data)).is_err() {
            panic!("fuzz target {name} fails on {}", file.display());
        }
    }
}

#[test]
fn every_corpus_input_holds_its_invariant() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, entry) in TARGETS {
        let files = inputs(&root.join(name));
        assert!(!files.is_empty(), "fuzz/corpus/{name}/ holds no input");
        replay(name, entry, &files);
    }
}

#[test]
fn every_former_crash_stays_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/crashes");
    for (name, entry) in TARGETS {
        replay(name, entry, &inputs(&root.join(name)));
    }
}

#[test]
fn every_crash_folder_names_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/crashes");
    let Ok(entries) = std::fs::read_dir(&root) else { return };
    for entry in entries {
        let name = entry.expect("readable directory entry").file_name();
        let name = name.to_string_lossy();
        assert!(TARGETS.iter().any(|(target, _)| *target == name), "fuzz/crashes/{name}/ is no target");
    }
}
