//! Snapshots of the files `plan` writes for a small fileset, paths redacted. A change to the
//! DAG or submit files shows up here as a diff to review; regenerate the snapshots with
//! `CASA_UPDATE_SNAPSHOTS=1 cargo nextest run -p casa-submit -E 'binary(snapshots)'`.

use std::path::Path;
use std::process::Command;

use casa_test_support::{build_bin, build_cdylib, fixture, workspace};

fn redact(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut t = text.to_string();
    for (from, to) in pairs {
        t = t.replace(from, to);
    }
    t
}

#[test]
fn plan_files_match_their_snapshots() {
    let d = tempfile::tempdir().unwrap();
    let f = fixture("root-zstd.root");
    let fs = serde_json::json!({"ZZ": {"files": {f.to_str().unwrap(): "Events"}, "metadata": {"is_mc": true}}});
    let fileset = d.path().join("fileset.json");
    std::fs::write(&fileset, serde_json::to_vec(&fs).unwrap()).unwrap();
    let run = d.path().join("run");
    let wrapper = build_bin("casa-wrapper", Path::new(env!("CARGO_BIN_EXE_casa-submit")));
    let o = Command::new(env!("CARGO_BIN_EXE_casa-submit"))
        .arg("plan")
        .arg(&fileset)
        .arg("--plugin")
        .arg(build_cdylib("dimuon"))
        .arg("--wrapper")
        .arg(&wrapper)
        .arg("--merge")
        .arg("/opt/casa/bin/casa-merge")
        .arg("-o")
        .arg(&run)
        .args([
            "--events-per-job",
            "6000",
            "--step-size",
            "3000",
            "--fan-in",
            "2",
            "--run-id",
            "snapshot",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pairs = [
        (run.to_str().unwrap(), "[RUNDIR]"),
        (env!("CARGO_BIN_EXE_casa-submit"), "[CASA_SUBMIT]"),
    ];
    let dir = workspace().join("submit/tests/snapshots");
    let update = std::env::var_os("CASA_UPDATE_SNAPSHOTS").is_some();
    // Fixtures are rewritten by ci/setup with fresh ROOT UUIDs.
    let uuid = rootio::RootFile::open(f.to_str().unwrap())
        .unwrap()
        .uuid()
        .to_string();
    for name in ["casa.dag", "leaf.sub", "merge.sub", "jobs/leaf-000000.json"] {
        let got = redact(&std::fs::read_to_string(run.join(name)).unwrap(), &pairs);
        let got = redact(
            &got,
            &[
                (f.to_str().unwrap(), "[FIXTURES]/root-zstd.root"),
                (&uuid, "[UUID]"),
            ],
        );
        let snap = dir.join(name.replace('/', "__"));
        if update {
            std::fs::write(&snap, &got).unwrap();
            continue;
        }
        assert!(
            snap.exists(),
            "no snapshot {}: write it with CASA_UPDATE_SNAPSHOTS=1",
            snap.display()
        );
        let want = std::fs::read_to_string(&snap).unwrap();
        assert_eq!(
            got,
            want,
            "{name} differs from its snapshot {}",
            snap.display()
        );
    }
}
