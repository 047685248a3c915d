//! Shared by the integration tests: where the official IVI 2.0 material lives.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::path::PathBuf;

/// `../shared/ivi2` relative to the repository root, when present. When it is missing the test is
/// skipped with a message, unless `CI` is set, where a missing oracle is a failure.
pub fn ivi2() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ivi2");
    if dir.join("xsd/ivi-2.0.xsd").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the official IVI 2.0 files are missing at {}",
        dir.display()
    );
    eprintln!(
        "SKIPPED: the official IVI 2.0 files are not at {} (set CI to make this a failure)",
        dir.display()
    );
    None
}

/// The nine official specimens, sorted by name.
pub fn specimens(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("samples"))
        .expect("samples directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 9, "expected the nine official specimens");
    v
}

/// The official schema.
pub fn official_xsd(dir: &std::path::Path) -> PathBuf {
    dir.join("xsd/ivi-2.0.xsd")
}
