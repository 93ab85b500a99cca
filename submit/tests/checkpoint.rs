//! Eviction through the local runner, as on HTCondor: leaf jobs planned with checkpointing
//! (`checkpoint_exit_code`, `transfer_checkpoint_files` in leaf.sub) are evicted mid-run by the
//! runner's test hook (`CASA_RUN_EVICT_AFTER`: SIGTERM, then a new sandbox holding only the
//! checkpoint of the last checkpoint exit, as HTCondor keeps), resume, and end with the same
//! leaf partials, byte for byte, and the same merged result as an uninterrupted run, every
//! planned event covered once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use casa_formats::{partial, JobMetrics};
use casa_test_support::{build_bin, build_cdylib, fixture, python_command, workspace};

fn casa_submit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casa-submit"))
}

fn build(package: &str) -> PathBuf {
    build_bin(package, Path::new(env!("CARGO_BIN_EXE_casa-submit")))
}

/// Plan the misbehave plugin over two datasets into `dir/run`, with run id `ckpt`.
fn planned(dir: &Path, extra: &[&str]) -> PathBuf {
    let fs = serde_json::json!({
        "ZZ": {"files": {fixture("root-zstd.root").to_str().unwrap(): "Events"}, "metadata": {"is_mc": true}},
        "DY": {"files": {fixture("root-lz4.root").to_str().unwrap(): "Events"}, "metadata": {"is_mc": true}},
    });
    let fileset = dir.join("fileset.json");
    std::fs::write(&fileset, serde_json::to_vec(&fs).unwrap()).unwrap();
    let run = dir.join("run");
    let o = casa_submit()
        .arg("plan")
        .arg(&fileset)
        .arg("--plugin")
        .arg(build_cdylib("misbehave"))
        .arg("--wrapper")
        .arg(build("casa-wrapper"))
        .arg("--merge")
        .arg(build("casa-merge"))
        .arg("-o")
        .arg(&run)
        .args(["--run-id", "ckpt", "--events-per-job", "10000"])
        .args(["--step-size", "5000", "--fan-in", "2"])
        .args(extra)
        .env("CASA_TEST_MODE", "smear")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    run
}

fn run(rundir: &Path, env: &[(&str, &str)]) -> Output {
    casa_submit()
        .arg("run")
        .arg(rundir)
        .args(["-j", "2", "--quiet"])
        .env("CASA_TEST_MODE", "smear")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn leaves(rundir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(rundir.join("jobs"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .replace(".json", "")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn evicted_leaves_resume_to_the_clean_bytes() {
    let (c, d) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clean = planned(c.path(), &[]);
    let o = run(&clean, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let leaf_sub = std::fs::read_to_string(clean.join("leaf.sub")).unwrap();
    for line in [
        "checkpoint_exit_code = 85",
        "transfer_checkpoint_files = casa-ckpt",
    ] {
        assert!(leaf_sub.contains(line), "{leaf_sub}");
    }
    assert!(leaf_sub.contains("--checkpoint-dir casa-ckpt --checkpoint-every 300"));
    // HTCondor's own bindings read the two commands as meant.
    let o = python_command()
        .arg(workspace().join("tests/python/htcondor_check.py"))
        .arg(&clean)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let leaf = &v["nodes"]["leaf-000000"];
    assert_eq!(leaf["checkpoint_exit_code"], "85", "{v}");
    assert_eq!(leaf["transfer_checkpoint_files"], "casa-ckpt", "{v}");

    // Checkpoints every second; every leaf evicted 0.8 s into its first two runs (which lose their
    // work: an evicted run's checkpoint is not kept), then resumed from the periodic ones.
    let site = d.path().join("site.toml");
    std::fs::write(&site, "checkpoint_every = 1\n").unwrap();
    let rundir = planned(d.path(), &["--site", site.to_str().unwrap()]);
    let o = run(
        &rundir,
        &[
            ("CASA_TEST_SLEEP_MS", "500"),
            ("CASA_RUN_EVICT_AFTER", "0.8,0.8"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let names = leaves(&rundir);
    assert!(names.len() >= 3, "{names:?}");
    let (mut resumed, mut resumed_nodes) = (0, 0);
    for n in &names {
        let p = |r: &Path| std::fs::read(r.join("partials").join(format!("{n}.partial"))).unwrap();
        assert_eq!(p(&rundir), p(&clean), "{n}: the leaf partial differs");
        let m: JobMetrics = serde_json::from_slice(
            &std::fs::read(rundir.join("metrics").join(format!("{n}.metrics.json"))).unwrap(),
        )
        .unwrap();
        resumed += m.checkpoint.resumed;
        resumed_nodes += usize::from(m.checkpoint.resumed > 0);
        // One attempt: an eviction is not a retry.
        let s: serde_json::Value = serde_json::from_slice(
            &std::fs::read(rundir.join("state").join(format!("{n}.json"))).unwrap(),
        )
        .unwrap();
        let attempts = s["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{s}");
        if m.checkpoint.resumed > 0 {
            let want = format!("resumed {} times from its checkpoint", m.checkpoint.resumed);
            assert!(s["message"].as_str().unwrap().contains(&want), "{s}");
        }
        // Nothing left behind: no sandbox, no spooled checkpoint.
        let left: Vec<_> = std::fs::read_dir(rundir.join("nodes").join(n))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|f| f.to_string_lossy().starts_with(".casa-"))
            .collect();
        assert!(left.is_empty(), "{n}: {left:?}");
    }
    assert!(resumed_nodes >= 1, "{resumed} resumptions");
    let st = casa_submit().arg("status").arg(&rundir).output().unwrap();
    let text = String::from_utf8_lossy(&st.stdout);
    let want = format!("resumed from checkpoints: {resumed_nodes} nodes, {resumed} times;");
    // The hook did evict: the jobs' logs (appended over their runs) say so.
    let evicted = names
        .iter()
        .filter(|n| {
            std::fs::read_to_string(rundir.join("logs").join(format!("{n}.err")))
                .unwrap_or_default()
                .contains("(SIGTERM;")
        })
        .count();
    assert_eq!(evicted, names.len());
    assert!(text.contains(&want), "{text}");
    let merged = |r: &Path| partial::read(&r.join("result/merged.partial")).unwrap();
    assert_eq!(merged(&rundir), merged(&clean));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rundir.join("result/report.json")).unwrap()).unwrap();
    assert_eq!(report["coverage"]["missing_events"], 0, "{report}");
    assert_eq!(report["coverage"]["unplanned_events"], 0, "{report}");
}

#[test]
fn a_site_can_turn_checkpointing_off() {
    let d = tempfile::tempdir().unwrap();
    let site = d.path().join("site.toml");
    std::fs::write(&site, "checkpoint_every = 0\n").unwrap();
    let rundir = planned(d.path(), &["--site", site.to_str().unwrap()]);
    let leaf_sub = std::fs::read_to_string(rundir.join("leaf.sub")).unwrap();
    assert!(!leaf_sub.contains("checkpoint"), "{leaf_sub}");
}

/// Ctrl-C of `casa-submit run`: the jobs checkpoint on the SIGTERM and exit 85; the runner,
/// stopping, must not restart them (as it does for a checkpoint exit otherwise).
#[test]
fn an_interrupted_run_does_not_restart_checkpointed_jobs() {
    let d = tempfile::tempdir().unwrap();
    let rundir = planned(d.path(), &[]);
    let child = casa_submit()
        .arg("run")
        .arg(&rundir)
        .args(["-j", "2", "--quiet"])
        .env("CASA_TEST_MODE", "smear")
        .env("CASA_TEST_SLEEP_MS", "1000")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let t = std::time::Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert!(t.elapsed().as_secs_f64() < 15.0, "{:?}", t.elapsed());
    let published: Vec<_> = std::fs::read_dir(rundir.join("partials"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        published.is_empty(),
        "jobs ran on after Ctrl-C: {published:?}"
    );
}
