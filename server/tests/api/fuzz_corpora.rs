//! The fuzz corpora as ordinary tests: every input in `fuzz/corpus/<target>` (what fuzzing
//! kept for coverage) and in `fuzz/regressions/<target>` (each crash fuzzing found, kept after
//! its fix) goes through the entry point its fuzz target drives and must come back.

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_fuzz_corpus_input_and_found_crash_is_handled() {
    let root = crate::helpers::manifest_dir().join("../fuzz");
    for (name, run) in server::fuzzing::TARGETS {
        assert!(
            root.join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "{name} has a fuzz target"
        );
        let corpus = files(&root.join("corpus").join(name));
        assert!(!corpus.is_empty(), "{name} has a corpus");
        for file in corpus
            .iter()
            .chain(files(&root.join("regressions").join(name)).iter())
        {
            let bytes = std::fs::read(file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "{name}: {} panics", file.display());
        }
    }
}
