//! Helpers every casa test suite needs: where the workspace is, the Python venv with the
//! reference tools (uproot, hist, ROOT) that `ci/setup` creates, and the fixture files.
//! Missing pieces are test failures with a message saying how to get them, never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod modules;
pub mod signatures;

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

/// Write RNTuples with ROOT and uproot into `out` (`tests/python/make_rntuple_files.py`:
/// `snap-zstd` is RDataFrame's kRNTuple snapshot of the `root-zstd.root` fixture; no `names`
/// writes them all) and return `out`.
pub fn write_rntuples(out: &Path, names: &[&str]) -> PathBuf {
    let o = python_command()
        .arg(workspace().join("tests/python/make_rntuple_files.py"))
        .arg(fixture("root-zstd.root").parent().unwrap())
        .arg(out)
        .args(names)
        .output()
        .expect("run make_rntuple_files.py");
    assert!(
        o.status.success(),
        "make_rntuple_files.py failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.to_path_buf()
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

/// Build a workspace `cdylib` package (for example the `dimuon` plugin) with the same cargo
/// and profile as the tests, and return the shared library's path.
pub fn build_cdylib(package: &str) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "-q", "-p", package, "--message-format=json"])
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build -p {package} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The last compiler-artifact line for the package lists the .so (named after the
    // library: `agc-ttbar` builds libagc_ttbar.so).
    let lib = package.replace('-', "_");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("cdylib"))
        .flat_map(|l| l.split('"'))
        .filter(|s| s.ends_with(".so"))
        .map(PathBuf::from)
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy() == format!("lib{lib}.so"))
        })
        .unwrap_or_else(|| panic!("no lib{lib}.so in cargo's output"))
}

/// Build a workspace binary (`casa-wrapper`, `casa-merge`) with the same cargo and profile
/// as the tests; `beside` is a binary of that build (a test's `CARGO_BIN_EXE_*`), whose
/// directory holds the result.
pub fn build_bin(package: &str, beside: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "-q", "-p", package])
        .status()
        .expect("run cargo build");
    assert!(st.success(), "cargo build -p {package} failed");
    let p = beside.with_file_name(package);
    assert!(p.exists(), "{}", p.display());
    p
}

/// Compile a C++ plugin against `plugin/include/casa_plugin.h` with g++ into `dir`.
pub fn build_cpp_plugin(source: &Path, dir: &Path) -> PathBuf {
    let out = dir.join(format!(
        "lib{}.so",
        source.file_stem().unwrap().to_string_lossy()
    ));
    let status = Command::new("g++")
        .args(["-std=c++17", "-O2", "-shared", "-fPIC", "-Wall", "-Werror"])
        .arg("-I")
        .arg(workspace().join("plugin/include"))
        .arg(source)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("run g++");
    assert!(status.success(), "g++ failed on {}", source.display());
    out
}
