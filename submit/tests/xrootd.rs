//! `casa-submit preprocess` on `root://` inputs from a real xrootd server (Debian's xrootd, in
//! a private network namespace; see tests/xrootd/harness.rs): the same steps, entries and
//! UUIDs as from the local files, and an unreachable file named in the error.

#[path = "../../tests/xrootd/harness.rs"]
mod harness;

use std::path::Path;
use std::process::Command;

use casa_formats::Fileset;
use casa_test_support::fixture;
use harness::Servers;

/// Preprocess `files` as dataset ZZ; the available fileset, and stderr.
fn preprocess(dir: &Path, name: &str, files: &[String]) -> (Fileset, String) {
    let map: serde_json::Map<String, serde_json::Value> = files
        .iter()
        .map(|f| (f.clone(), serde_json::json!("Events")))
        .collect();
    let input = dir.join(format!("{name}.json"));
    std::fs::write(
        &input,
        serde_json::json!({"ZZ": {"files": map, "metadata": {"is_mc": true}}}).to_string(),
    )
    .unwrap();
    let out = dir.join(format!("{name}-pre.json.gz"));
    let o = Command::new(env!("CARGO_BIN_EXE_casa-submit"))
        .arg("preprocess")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args([
            "--step-size",
            "3000",
            "--align-clusters",
            "--skip-bad-files",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "preprocess {name}: {err}");
    (Fileset::read(&out).unwrap(), err)
}

#[test]
fn preprocess_over_root_urls_equals_the_local_files() {
    if !harness::isolated("preprocess_over_root_urls_equals_the_local_files") {
        return;
    }
    let names = ["root-zstd.root", "root-lzma.root", "uproot-zstd.root"];
    let locals: Vec<_> = names.iter().map(|n| fixture(n)).collect();
    let exported: Vec<(String, &Path)> = names
        .iter()
        .zip(&locals)
        .map(|(n, p)| (format!("pre/{n}"), p.as_path()))
        .collect();
    let refs: Vec<(&str, &Path)> = exported.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let servers = Servers::origin(&refs);
    let d = tempfile::tempdir().unwrap();

    let local_names: Vec<String> = locals.iter().map(|p| p.display().to_string()).collect();
    let urls: Vec<String> = names
        .iter()
        .map(|n| servers.origin.url(&format!("/store/pre/{n}")))
        .collect();
    let (local, _) = preprocess(d.path(), "local", &local_names);
    let (remote, _) = preprocess(d.path(), "remote", &urls);

    // Same entries, UUIDs and steps, file by file; only the names differ.
    let strip = |fs: &Fileset, keys: &[String]| -> Vec<String> {
        let mut j = fs.to_json();
        let files = j["ZZ"]["files"].take();
        keys.iter()
            .map(|k| {
                let f = &files[k.as_str()];
                assert!(f.is_object(), "{k} missing from {files}");
                f.to_string()
            })
            .collect()
    };
    assert_eq!(strip(&local, &local_names), strip(&remote, &urls));

    // A file the server does not have: a warning naming it (as coffea's preprocess skips
    // unreadable files), and only the readable one in the available fileset.
    let missing = servers.origin.url("/store/pre/absent.root");
    let (fs, err) = preprocess(d.path(), "missing", &[urls[0].clone(), missing.clone()]);
    assert!(err.contains(&missing), "{err}");
    let files = fs.to_json()["ZZ"]["files"].clone();
    let keys: Vec<&String> = files.as_object().unwrap().keys().collect();
    assert_eq!(keys, [&urls[0]]);
}
