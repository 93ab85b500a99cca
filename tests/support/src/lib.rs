//! Helpers every casa test suite needs: where the workspace is, the Python venv with the
//! reference tools (uproot, hist, ROOT) that `ci/setup` creates, and the fixture files.
//! Missing pieces are test failures with a message saying how to get them, never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/support sits two levels below the workspace")
        .to_path_buf()
}

/// The reference Python (`CASA_PYTHON`, or `.venv/bin/python` in the workspace).
pub fn python() -> PathBuf {
    let p = std::env::var_os("CASA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "reference Python {} not found: run ci/setup (or set CASA_PYTHON)",
        p.display()
    );
    p
}

/// A command running the reference Python.
pub fn python_command() -> Command {
    Command::new(python())
}

/// A real ROOT file kept in the repository (`tests/data/root`).
pub fn real_file(name: &str) -> PathBuf {
    workspace().join("tests/data/root").join(name)
}

/// A fixture written by `tests/python/make_fixtures.py` (`CASA_FIXTURES`, or
/// `target/fixtures`).
pub fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("CASA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/fixtures"));
    let p = dir.join(name);
    assert!(
        p.exists(),
        "fixture {} missing: run ci/setup (it writes target/fixtures)",
        p.display()
    );
    p
}
