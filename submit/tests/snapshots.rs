//! Snapshots of the files `plan` writes for a small fileset, paths redacted. A change to the
//! DAG or submit files shows up here as a diff to review; regenerate the snapshots with
//! `CASA_UPDATE_SNAPSHOTS=1 cargo nextest run -p casa-submit -E 'binary(snapshots)'`.
//! A plan with shipped inputs and a configuration has snapshots of its own (`snapshots/inputs/`),
//! and HTCondor's own parser reads its leaf.sub.

use std::path::Path;
use std::process::Command;

use casa_test_support::{build_bin, build_cdylib, fixture, python_command, workspace};

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
    plan_and_compare(d.path(), &[], "", &[]);
}

/// Shipped inputs and a TOML configuration: the job specs carry both, leaf.sub transfers the
/// copies in the run, and HTCondor's bindings parse and expand it.
#[test]
fn plan_files_with_inputs_and_config_match_their_snapshots() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("corrections.json");
    std::fs::write(&input, b"{}").unwrap();
    let config = d.path().join("cfg.toml");
    std::fs::write(&config, "lumi = 3378.0\nsystematics = [\"jes\", \"jer\"]\n").unwrap();
    let args = [
        "--input".as_ref(),
        input.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
    ];
    let run = plan_and_compare(
        d.path(),
        &args,
        "inputs",
        &[(d.path().to_str().unwrap(), "[TMP]")],
    );
    let o = python_command()
        .arg(workspace().join("tests/python/htcondor_check.py"))
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let h: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let transfer = h["nodes"]["leaf-000000"]["transfer_input_files"]
        .as_str()
        .unwrap();
    let files: Vec<&str> = transfer.split(',').map(str::trim).collect();
    assert_eq!(files.len(), 3, "{transfer}");
    assert!(files[1].ends_with("jobs/leaf-000000.json"), "{transfer}");
    assert_eq!(
        files[2],
        run.join("inputs/corrections.json").to_str().unwrap()
    );
    assert_eq!(h["from_dag"]["ok"], true);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["inputs"][0]["name"], "corrections.json");
    assert_eq!(
        m["inputs"][0]["sha256"],
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(m["config"]["value"]["lumi"], 3378.0);
    assert_eq!(m["config"]["sha256"].as_str().unwrap().len(), 64);
}

/// Plan a small fileset with `extra` arguments into `dir/run`, and compare its files with the
/// snapshots in `snapshots/<sub>`.
fn plan_and_compare(
    d: &Path,
    extra: &[&std::ffi::OsStr],
    sub: &str,
    more_redactions: &[(&str, &str)],
) -> std::path::PathBuf {
    let f = fixture("root-zstd.root");
    let fs = serde_json::json!({"ZZ": {"files": {f.to_str().unwrap(): "Events"}, "metadata": {"is_mc": true}}});
    let fileset = d.join("fileset.json");
    std::fs::write(&fileset, serde_json::to_vec(&fs).unwrap()).unwrap();
    let run = d.join("run");
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
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pairs = [
        (run.to_str().unwrap(), "[RUNDIR]"),
        (env!("CARGO_BIN_EXE_casa-submit"), "[CASA_SUBMIT]"),
    ];
    let dir = workspace().join("submit/tests/snapshots").join(sub);
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
        let got = redact(&got, more_redactions);
        let snap = dir.join(name.replace('/', "__"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
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
    run
}
