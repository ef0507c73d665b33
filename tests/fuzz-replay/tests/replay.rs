//! Replays every input of every fuzz target through its entry function on stable Rust: the
//! committed seeds (`fuzz/seeds/<target>/`), and, where a fuzz run left them on this machine,
//! the corpus (`fuzz/corpus/<target>/`) and the crash inputs (`fuzz/artifacts/<target>/`).
//! A crash kept as a seed therefore stays a failing test until it is fixed, without nightly.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use kagi_fuzz_entries::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The `[[bin]]` names of fuzz/Cargo.toml: the targets cargo-fuzz runs.
fn declared_targets() -> Vec<String> {
    let toml = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin {
            if let Some(v) = line.strip_prefix("name = ") {
                names.push(v.trim_matches('"').to_owned());
            }
        }
    }
    names
}

/// Every file in `dir` (none when it does not exist: corpus and artifacts are not committed).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

/// A target added to fuzz/ without an entry here would never be replayed: refuse that.
#[test]
fn every_fuzz_target_has_an_entry_function() {
    let mut declared = declared_targets();
    let mut entries: Vec<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    declared.sort();
    entries.sort();
    assert!(!declared.is_empty(), "no [[bin]] in fuzz/Cargo.toml");
    assert_eq!(declared, entries, "fuzz/Cargo.toml targets and kagi_fuzz_entries::TARGETS differ");
}

#[test]
fn every_target_has_a_committed_seed() {
    for (name, _) in TARGETS {
        let seeds = inputs(&fuzz_dir().join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ is empty: the replay would test nothing for {name}");
    }
}

#[test]
fn seeds_corpus_and_crash_inputs_replay_without_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0usize;
    for (name, entry) in TARGETS {
        for kind in ["seeds", "corpus", "artifacts"] {
            for file in inputs(&fuzz_dir().join(kind).join(name)) {
                let data = fs::read(&file).expect("readable input");
                replayed += 1;
                if panic::catch_unwind(|| entry(&data)).is_err() {
                    failures.push(file.display().to_string());
                }
            }
        }
    }
    eprintln!("fuzz replay: {replayed} inputs");
    assert!(failures.is_empty(), "inputs that still crash their target:\n{}", failures.join("\n"));
}
