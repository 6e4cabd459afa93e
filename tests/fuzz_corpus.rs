//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and the regression inputs
//! (`tests/regressions/<target>/`) through the fuzz target bodies, on a stable toolchain and
//! without cargo-fuzz.
#![cfg(feature = "__fuzz")]
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(root: &str, require_files: bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    for (name, body) in rfc6455::fuzz::TARGETS {
        let files = inputs(&root.join(name));
        if require_files {
            assert!(
                !files.is_empty(),
                "no corpus for {name} in {}",
                root.display()
            );
        }
        for file in files {
            let data = std::fs::read(&file).expect("readable corpus file");
            let result = std::panic::catch_unwind(|| body(&data));
            assert!(result.is_ok(), "{name}: {} failed", file.display());
        }
    }
}

#[test]
fn committed_corpus() {
    replay("fuzz/corpus", true);
}

#[test]
fn regressions() {
    replay("tests/regressions", false);
}

#[test]
fn short_and_empty_inputs() {
    for (_, body) in rfc6455::fuzz::TARGETS {
        for len in 0..=16 {
            body(&vec![0u8; len]);
            body(&vec![0xFFu8; len]);
            body(&(0..len as u8).collect::<Vec<_>>());
        }
    }
}
