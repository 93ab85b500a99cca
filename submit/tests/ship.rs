//! What `plan` puts on disk: casa's binaries stripped (symbols in a side file) and shared
//! between runs through the cache, and nothing left behind by a plan that fails.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use casa_test_support::{build_bin, build_cdylib, fixture};

fn plan(fileset: &Path, run: &Path, cache: &Path) -> std::process::Output {
    let bin = |p: &str| build_bin(p, Path::new(env!("CARGO_BIN_EXE_casa-submit")));
    Command::new(env!("CARGO_BIN_EXE_casa-submit"))
        .arg("plan")
        .arg(fileset)
        .arg("--plugin")
        .arg(build_cdylib("dimuon"))
        .arg("--wrapper")
        .arg(bin("casa-wrapper"))
        .arg("--merge")
        .arg(bin("casa-merge"))
        .arg("-o")
        .arg(run)
        .env("CASA_CACHE_DIR", cache)
        .output()
        .unwrap()
}

fn fileset(d: &Path, file: &Path) -> PathBuf {
    let p = d.join(format!(
        "{}.json",
        file.file_stem().unwrap().to_string_lossy()
    ));
    let fs = serde_json::json!({"ZZ": {"files": {file.to_str().unwrap(): "Events"}}});
    std::fs::write(&p, fs.to_string()).unwrap();
    p
}

#[test]
fn runs_share_one_stripped_copy_of_the_binaries() {
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    let fs = fileset(d.path(), &fixture("root-zstd.root"));
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    for run in [&a, &b] {
        let o = plan(&fs, run, &cache);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let source = build_bin("casa-wrapper", Path::new(env!("CARGO_BIN_EXE_casa-submit")));
    for name in ["casa-wrapper", "casa-merge", "libdimuon.so"] {
        let (ma, mb) = (
            a.join("bin").join(name).metadata().unwrap(),
            b.join("bin").join(name).metadata().unwrap(),
        );
        assert_eq!(
            (ma.dev(), ma.ino()),
            (mb.dev(), mb.ino()),
            "{name}: one copy"
        );
    }
    let shipped = a.join("bin/casa-wrapper");
    let (small, big) = (
        shipped.metadata().unwrap().len(),
        source.metadata().unwrap().len(),
    );
    assert!(
        small < big / 2,
        "casa-wrapper shipped {small} bytes of {big}"
    );
    assert!(a.join("bin/casa-wrapper.debug").is_file());
    let o = Command::new(&shipped).arg("--version").output().unwrap();
    assert!(o.status.success());
}

#[test]
fn a_failed_plan_leaves_nothing_behind() {
    let d = tempfile::tempdir().unwrap();
    let cache = d.path().join("cache");
    // Nothing to plan: the one file does not exist.
    let fs = fileset(d.path(), &d.path().join("no-such-file.root"));
    let fresh = d.path().join("fresh");
    let o = plan(&fs, &fresh, &cache);
    assert!(!o.status.success());
    assert!(!fresh.exists(), "{} was left behind", fresh.display());
    // A directory that was there keeps what it had, and only that.
    let existing = d.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::write(existing.join("notes.txt"), "mine").unwrap();
    let o = plan(&fs, &existing, &cache);
    assert!(!o.status.success());
    let left: Vec<_> = std::fs::read_dir(&existing)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["notes.txt"]);
}
