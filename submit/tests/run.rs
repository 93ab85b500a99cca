//! `casa-submit run` executes the planned DAG like DAGMan: retries, permanent failures,
//! skip mode, a killed and restarted runner, damaged state — always ending with the same
//! result as a clean run, every chunk counted once.

#[path = "../../tests/xrootd/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use casa_formats::partial;
use casa_hist::{Accumulator, Counter, Item};
use casa_test_support::{build_bin, build_cdylib, fixture};

fn build(package: &str) -> PathBuf {
    build_bin(package, Path::new(env!("CARGO_BIN_EXE_casa-submit")))
}

fn casa_submit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casa-submit"))
}

/// Plan `datasets` (name -> files) with `plugin` into a fresh run directory.
fn planned(
    plugin: &str,
    datasets: &[(&str, Vec<PathBuf>)],
    extra: &[&str],
) -> (tempfile::TempDir, PathBuf) {
    planned_with_env(plugin, datasets, extra, &[])
}

/// [`planned`], `plan` run with `env` (the plugin is loaded at plan time, to check columns).
fn planned_with_env(
    plugin: &str,
    datasets: &[(&str, Vec<PathBuf>)],
    extra: &[&str],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let mut fs = serde_json::Map::new();
    for (name, files) in datasets {
        let files: serde_json::Map<String, serde_json::Value> = files
            .iter()
            .map(|f| (f.to_str().unwrap().to_string(), "Events".into()))
            .collect();
        fs.insert(
            name.to_string(),
            serde_json::json!({"files": files, "metadata": {"is_mc": true}}),
        );
    }
    let fileset = d.path().join("fileset.json");
    std::fs::write(&fileset, serde_json::to_vec(&fs).unwrap()).unwrap();
    let run = d.path().join("run");
    let o = casa_submit()
        .arg("plan")
        .arg(&fileset)
        .arg("--plugin")
        .arg(build_cdylib(plugin))
        .arg("--wrapper")
        .arg(build("casa-wrapper"))
        .arg("--merge")
        .arg(build("casa-merge"))
        .arg("-o")
        .arg(&run)
        .args([
            "--events-per-job",
            "6000",
            "--step-size",
            "3000",
            "--fan-in",
            "2",
        ])
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (d, run)
}

fn run(rundir: &Path, env: &[(&str, &str)]) -> Output {
    casa_submit()
        .arg("run")
        .arg(rundir)
        .args(["-j", "2", "--quiet"])
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn result(rundir: &Path) -> Accumulator {
    let (_, payload) = partial::read(&rundir.join("result/merged.partial")).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn entries(acc: &Accumulator, ds: &str) -> i64 {
    match &acc.datasets[ds]["entries"] {
        Item::Counter(Counter::Int(n)) => *n,
        other => panic!("{other:?}"),
    }
}

fn state(rundir: &Path, node: &str) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(rundir.join("state").join(format!("{node}.json"))).unwrap(),
    )
    .unwrap()
}

#[test]
fn a_clean_run_equals_one_job_over_everything() {
    let (a, b) = (fixture("root-zstd.root"), fixture("root-lz4.root"));
    let (_d, rundir) = planned(
        "dimuon",
        &[("ZZ", vec![a.clone()]), ("DY", vec![b.clone()])],
        &[],
    );
    let o = run(&rundir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let acc = result(&rundir);
    assert_eq!(entries(&acc, "ZZ"), 20000);
    assert_eq!(entries(&acc, "DY"), 20000);
    // The same events through one wrapper job.
    let d = tempfile::tempdir().unwrap();
    let mut chunks = Vec::new();
    for (ds, f) in [("ZZ", &a), ("DY", &b)] {
        chunks.push(casa_formats::Chunk {
            dataset: ds.into(),
            file: f.to_str().unwrap().into(),
            tree: "Events".into(),
            entry_start: 0,
            entry_stop: 20000,
            uuid: None,
            metadata: serde_json::json!({"is_mc": true}),
        });
    }
    let job = d.path().join("job.json");
    std::fs::write(
        &job,
        serde_json::to_vec(&casa_formats::JobSpec::new("x", "all", chunks)).unwrap(),
    )
    .unwrap();
    let st = Command::new(build("casa-wrapper"))
        .arg("run")
        .arg("--job")
        .arg(&job)
        .arg("--plugin")
        .arg(build_cdylib("dimuon"))
        .arg("--out")
        .arg(d.path().join("p.partial"))
        .status()
        .unwrap();
    assert!(st.success());
    let (_, payload) = partial::read(&d.path().join("p.partial")).unwrap();
    let direct: Accumulator = serde_json::from_slice(&payload).unwrap();
    assert_eq!(acc, direct);
    // status agrees.
    let s: serde_json::Value = serde_json::from_slice(
        &casa_submit()
            .arg("status")
            .arg(&rundir)
            .arg("--json")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(s["events_done"], 40000);
    assert_eq!(s["events_planned"], 40000);
    assert_eq!(s["by_status"]["done"], s["nodes"]);
    let leaf = state(&rundir, "leaf-000000");
    assert_eq!(leaf["partial_checksum"].as_str().map(str::len), Some(16));
    assert!(leaf["events_expected"].as_u64().unwrap() > 0);
    assert_eq!(leaf["events_expected"], leaf["events_done"]);
    // Running again does nothing and changes nothing.
    let o = run(&rundir, &[]);
    assert!(o.status.success());
    assert_eq!(result(&rundir), acc);
}

/// preprocess (steps on cluster boundaries), plan, the local runner and the merge on an
/// RNTuple (RDataFrame's snapshot of `root-zstd.root`): the same result as on the TTree.
#[test]
fn an_rntuple_run_equals_the_ttree_run() {
    let d = tempfile::tempdir().unwrap();
    let snap = casa_test_support::write_rntuples(d.path(), &["snap-zstd"]).join("snap-zstd.root");
    let (_n, rn) = planned("dimuon", &[("ZZ", vec![snap])], &["--align-clusters"]);
    let (_t, rt) = planned("dimuon", &[("ZZ", vec![fixture("root-zstd.root")])], &[]);
    for r in [&rn, &rt] {
        let o = run(r, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (acc_n, acc_t) = (result(&rn), result(&rt));
    assert_eq!(entries(&acc_n, "ZZ"), 20000);
    assert_eq!(acc_n, acc_t);
    // Steps fall on the RNTuple's cluster boundaries.
    let fs = casa_formats::Fileset::read(&rn.join("fileset.json")).unwrap();
    let steps = fs.datasets[0].files[0].steps.clone().unwrap();
    assert!(steps.len() > 3, "{steps:?}");
    let file = rootio::RootFile::open(fs.datasets[0].files[0].path.as_str()).unwrap();
    let bounds = file.ntuple("Events").unwrap().cluster_boundaries();
    assert!(
        steps
            .iter()
            .all(|[a, b]| bounds.contains(a) && bounds.contains(b)),
        "{steps:?} vs {bounds:?}"
    );
}

#[test]
fn a_crash_is_retried_and_counted_once() {
    let (_d, rundir) = planned("misbehave", &[("ZZ", vec![fixture("root-zstd.root")])], &[]);
    let marker = rundir.join("crash.marker");
    let o = run(
        &rundir,
        &[
            ("CASA_TEST_MODE", "crash-once"),
            ("CASA_TEST_MARKER", marker.to_str().unwrap()),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(marker.exists(), "one job crashed");
    assert_eq!(entries(&result(&rundir), "ZZ"), 20000);
    assert_eq!(assert_no_loss(&rundir)["missing_events"], 0);
    let attempts: usize = (0..4)
        .map(|i| {
            state(&rundir, &format!("leaf-{i:06}"))["attempts"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(attempts, 5, "one retry");
}

/// `plan --input` and `--config` reach every job of a local run: the sandbox links the
/// shipped file as HTCondor would transfer it, and `init` reads both (also at plan time).
#[test]
fn shipped_inputs_and_the_config_reach_every_job() {
    let files = tempfile::tempdir().unwrap();
    let note = files.path().join("note.txt");
    std::fs::write(&note, "twelve bytes").unwrap();
    let cfg = files.path().join("cfg.json");
    std::fs::write(&cfg, r#"{"label": "shipped", "scale": 2.5}"#).unwrap();
    let env = [("CASA_TEST_MODE", "setup")];
    let (_d, rundir) = planned_with_env(
        "misbehave",
        &[("ZZ", vec![fixture("root-zstd.root")])],
        &[
            "--input",
            note.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(
        std::fs::read(rundir.join("inputs/note.txt")).unwrap(),
        b"twelve bytes"
    );
    let o = run(&rundir, &env);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let acc = result(&rundir);
    let zz = &acc.datasets["ZZ"];
    let jobs = 4;
    assert_eq!(zz["label_shipped"], Item::Counter(Counter::Int(jobs)));
    assert_eq!(zz["note_bytes"], Item::Counter(Counter::Int(12 * jobs)));
    assert_eq!(
        zz["scale"],
        Item::Counter(Counter::Float(2.5 * jobs as f64))
    );
    assert_eq!(entries(&acc, "ZZ"), 20000);
}

fn corrupt_copy(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(fixture("root-zstd.root")).unwrap();
    // Damage the data of the baskets, not the header: the failure comes when reading.
    let n = bytes.len();
    for b in &mut bytes[n / 4..n / 2] {
        *b ^= 0x5a;
    }
    let p = dir.join("corrupt.root");
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn a_permanent_failure_is_not_retried_or_is_skipped_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let bad = corrupt_copy(d.path());
    let datasets = [
        ("Bad", vec![bad.clone()]),
        ("ZZ", vec![fixture("root-lz4.root")]),
    ];
    let (_d1, rundir) = planned("dimuon", &datasets, &[]);
    let o = run(&rundir, &[]);
    assert!(!o.status.success());
    let failed: Vec<String> = std::fs::read_dir(rundir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            (v["status"] == "failed").then(|| {
                assert_eq!(
                    v["attempts"].as_array().unwrap().len(),
                    1,
                    "permanent: not retried"
                );
                v["node"].as_str().unwrap().to_string()
            })
        })
        .collect();
    assert!(!failed.is_empty());
    assert!(!rundir.join("result/merged.partial").exists());
    // Skip mode: the run finishes; the report lists exactly the bad file's ranges as missing.
    let (_d2, rundir) = planned("dimuon", &datasets, &["--skip-bad-files"]);
    let o = run(&rundir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let acc = result(&rundir);
    assert_eq!(entries(&acc, "ZZ"), 20000);
    let report = std::fs::read_to_string(rundir.join("result/report.json")).unwrap();
    assert!(
        report.contains("corrupt.root"),
        "the report names the skipped file"
    );
    let r: serde_json::Value = serde_json::from_str(&report).unwrap();
    let text = r.to_string();
    assert!(text.contains("missing"), "{text}");
    assert!(assert_no_loss(&rundir)["missing_events"].as_u64().unwrap() > 0);
    // The skipped steps, as a coffea fileset to rerun elsewhere: exactly the bad file's.
    let failed = rundir.join("failed.json");
    let o = casa_submit()
        .arg("failed-fileset")
        .arg(&rundir)
        .arg("-o")
        .arg(&failed)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fs = casa_formats::Fileset::read(&failed).unwrap();
    assert_eq!(fs.datasets.len(), 1);
    assert_eq!(fs.datasets[0].name, "Bad");
    let steps = fs.datasets[0].files[0].steps.clone().unwrap();
    let mut skipped_steps = Vec::new();
    for e in std::fs::read_dir(rundir.join("jobs")).unwrap() {
        let spec = casa_formats::JobSpec::read(&e.unwrap().path()).unwrap();
        if rundir
            .join("state")
            .join(format!("{}.skipped.json", spec.node))
            .exists()
        {
            skipped_steps.extend(spec.chunks.iter().map(|c| [c.entry_start, c.entry_stop]));
        }
    }
    skipped_steps.sort();
    assert!(!skipped_steps.is_empty());
    assert_eq!(steps, skipped_steps);
    // Fix the input and resubmit: only the skipped nodes (and the merges above them) run
    // again, and the result is complete.
    std::fs::copy(fixture("root-zstd.root"), &bad).unwrap();
    let o = casa_submit()
        .arg("resubmit")
        .arg(&rundir)
        .args(["--local", "-j", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let acc = result(&rundir);
    assert_eq!(entries(&acc, "Bad"), 20000);
    assert_eq!(entries(&acc, "ZZ"), 20000);
    assert_eq!(assert_no_loss(&rundir)["missing_events"], 0);
}

#[test]
fn a_runner_killed_mid_run_finishes_with_the_clean_result() {
    let (a, b) = (fixture("root-zstd.root"), fixture("root-lz4.root"));
    let (_c, clean) = clean_reference(&a, &b);
    let (_d, rundir) = planned("misbehave", &[("ZZ", vec![a]), ("DY", vec![b])], &[]);
    killed_and_restarted(&rundir);
    assert_eq!(result(&rundir), clean);
    assert_eq!(assert_no_loss(&rundir)["missing_events"], 0);
}

/// `casa-submit run` of `rundir` whose jobs each take a while (the misbehave plugin's slow
/// mode), for the tests that interrupt a run.
fn slow_run(rundir: &Path) -> Command {
    let mut c = casa_submit();
    c.arg("run")
        .arg(rundir)
        .args(["-j", "2", "--quiet"])
        .env("CASA_TEST_MODE", "slow");
    c
}

/// SIGKILL the runner of `rundir` 1.5 s into a slow run (no cleanup at all), then run it
/// again to the end.
fn killed_and_restarted(rundir: &Path) {
    let mut child = slow_run(rundir).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !rundir.join("result/merged.partial").exists(),
        "the run ended before the kill: the test proves nothing"
    );
    let o = run(rundir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn damaged_state_and_deleted_partials() {
    let (_d, rundir) = planned("dimuon", &[("ZZ", vec![fixture("root-zstd.root")])], &[]);
    assert!(run(&rundir, &[]).status.success());
    let clean = result(&rundir);
    // A partial deleted after its node was marked done: the node runs again.
    std::fs::remove_file(rundir.join("partials/leaf-000001.partial")).unwrap();
    assert!(run(&rundir, &[]).status.success());
    assert!(rundir.join("partials/leaf-000001.partial").exists());
    assert_eq!(
        state(&rundir, "leaf-000001")["attempts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(result(&rundir), clean);
    // Unreadable state files do not block the run: status names them; the node whose output
    // verifies is done without running again, the one whose output is gone runs again.
    std::fs::write(
        rundir.join("state/leaf-000000.json"),
        b"{\"format\": \"casa-st",
    )
    .unwrap();
    std::fs::write(rundir.join("state/leaf-000001.json"), b"").unwrap();
    std::fs::remove_file(rundir.join("partials/leaf-000001.partial")).unwrap();
    let s = casa_submit().arg("status").arg(&rundir).output().unwrap();
    let text = String::from_utf8_lossy(&s.stdout);
    assert!(
        text.contains("corrupt")
            && text.contains("leaf-000000.json")
            && text.contains("leaf-000001.json"),
        "{text}"
    );
    let o = run(&rundir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(result(&rundir), clean);
    let s0 = state(&rundir, "leaf-000000");
    assert_eq!(s0["status"], "done");
    assert_eq!(
        s0["attempts"].as_array().unwrap().len(),
        0,
        "not run again: {s0}"
    );
    assert!(
        s0["message"].as_str().unwrap().contains("unreadable"),
        "{s0}"
    );
    assert_eq!(s0["events_done"], s0["events_expected"]);
    let s1 = state(&rundir, "leaf-000001");
    assert_eq!(
        (
            s1["status"].as_str(),
            s1["attempts"].as_array().unwrap().len()
        ),
        (Some("done"), 1),
        "{s1}"
    );
    let s = casa_submit()
        .arg("status")
        .arg(&rundir)
        .arg("--json")
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(s["corrupt_state_files"], serde_json::json!([]));
    assert_eq!(s["by_status"]["done"], s["nodes"]);
}

#[test]
fn ctrl_c_stops_the_jobs_and_a_second_run_finishes() {
    let files = || vec![("ZZ", vec![fixture("root-zstd.root")])];
    let (_c, clean) = planned("misbehave", &files(), &[]);
    assert!(run(&clean, &[]).status.success());
    let (_d, rundir) = planned("misbehave", &files(), &[]);
    let child = slow_run(&rundir)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    // No job of this run is left running, and no node is left marked running.
    for e in std::fs::read_dir(rundir.join("state")).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        if v.get("status").is_some() {
            assert_ne!(v["status"], "running", "{v}");
        }
    }
    let o = run(&rundir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(result(&rundir), result(&clean));
    assert_eq!(assert_no_loss(&rundir)["missing_events"], 0);
}

/// The demo's setting: inputs on an xrootd origin, read through an XCache. While the jobs
/// read, the XCache is killed (the jobs fall back to the origin), then the origin is down for
/// 2 s (reads and opens are retried). The result equals a clean run over the local files.
#[test]
#[cfg_attr(
    not(feature = "xrootd"),
    ignore = "reads root:// inputs: needs the xrootd feature"
)]
fn server_faults_mid_run_over_xcache_end_with_the_clean_result() {
    if !harness::isolated("server_faults_mid_run_over_xcache_end_with_the_clean_result") {
        return;
    }
    let (a, b) = (fixture("root-zstd.root"), fixture("root-lz4.root"));
    let (_c, clean) = clean_reference(&a, &b);
    let mut servers = harness::Servers::both(&[("e2e/zstd.root", &a), ("e2e/lz4.root", &b)]);
    let (_d, rundir) = planned_over_xcache(&servers);
    let t = Instant::now();
    let mut child = slow_run(&rundir).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        !servers.cached().is_empty(),
        "the jobs did not read through the XCache"
    );
    servers.xcache.kill();
    std::thread::sleep(Duration::from_millis(1000));
    servers.origin.kill();
    std::thread::sleep(Duration::from_millis(2000));
    servers.origin.start();
    let st = child.wait().unwrap();
    assert!(st.success(), "run: {st}");
    assert!(
        t.elapsed() > Duration::from_secs(4),
        "the run ended before the faults ({:?}): the test proves nothing",
        t.elapsed()
    );
    let acc = result(&rundir);
    assert_eq!(acc, clean);
    assert_eq!(entries(&acc, "ZZ") + entries(&acc, "DY"), 40000);
    let cov = assert_no_loss(&rundir);
    assert_eq!(cov["missing_events"], 0);
}

/// Covered + missing = planned, per dataset and in total, from the merge report.
fn assert_no_loss(rundir: &Path) -> serde_json::Value {
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rundir.join("result/report.json")).unwrap()).unwrap();
    let c = &r["coverage"];
    for d in c["datasets"].as_array().unwrap().iter().chain([c]) {
        let n = |k: &str| d[k].as_u64().unwrap_or_else(|| panic!("{k} in {d}"));
        assert_eq!(
            n("covered_events") + n("missing_events"),
            n("planned_events"),
            "{d}"
        );
        assert_eq!(n("unplanned_events"), 0, "{d}");
    }
    c.clone()
}

/// A typo in one path: `plan` fails naming the file (and writes no run directory); with
/// `--skip-bad-files` the plan, the manifest, `status` and the merge report list the file and
/// the dataset left without files, and the run ends "incomplete".
#[test]
fn a_typo_in_a_path_fails_plan_or_is_skipped_and_the_run_reported_incomplete() {
    let typo = PathBuf::from("/no/such/dir/root-zstd.rooot");
    let gone = PathBuf::from("/no/such/dir/other.root");
    let datasets = [
        ("ZZ", vec![fixture("root-zstd.root"), typo.clone()]),
        ("Gone", vec![gone.clone()]),
    ];
    let d = tempfile::tempdir().unwrap();
    let fileset = d.path().join("fileset.json");
    let files = |v: &[PathBuf]| -> serde_json::Value {
        v.iter()
            .map(|f| (f.to_str().unwrap().to_string(), "Events".into()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let fs = serde_json::json!({
        "ZZ": {"files": files(&datasets[0].1), "metadata": {"is_mc": true}},
        "Gone": {"files": files(&datasets[1].1)},
    });
    std::fs::write(&fileset, serde_json::to_vec(&fs).unwrap()).unwrap();
    let plan = |run: &Path, extra: &[&str]| {
        casa_submit()
            .arg("plan")
            .arg(&fileset)
            .arg("--plugin")
            .arg(build_cdylib("dimuon"))
            .arg("--wrapper")
            .arg(build("casa-wrapper"))
            .arg("--merge")
            .arg(build("casa-merge"))
            .arg("-o")
            .arg(run)
            .args(["--events-per-job", "6000", "--step-size", "3000"])
            .args(extra)
            .output()
            .unwrap()
    };
    let strict = d.path().join("strict");
    let o = plan(&strict, &[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(typo.to_str().unwrap()), "{err}");
    assert!(err.contains(gone.to_str().unwrap()), "{err}");
    assert!(!strict.exists(), "a refused plan leaves no run directory");

    let rundir = d.path().join("run");
    let o = plan(&rundir, &["--skip-bad-files", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = |v: &serde_json::Value| -> Vec<String> {
        let mut f: Vec<String> = (v["skipped_files"].as_array().unwrap().iter())
            .map(|s| {
                format!(
                    "{} {}",
                    s["dataset"].as_str().unwrap(),
                    s["file"].as_str().unwrap()
                )
            })
            .collect();
        f.sort();
        f
    };
    let expected = vec![
        format!("Gone {}", gone.display()),
        format!("ZZ {}", typo.display()),
    ];
    assert_eq!(listed(&summary), expected);
    assert_eq!(summary["skipped_datasets"], serde_json::json!(["Gone"]));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rundir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(listed(&manifest["totals"]), expected);

    let o = run(&rundir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(entries(&result(&rundir), "ZZ"), 20000);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rundir.join("result/report.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "incomplete", "{report}");
    let c = assert_no_loss(&rundir);
    assert_eq!(c["complete"], false);
    assert_eq!(
        (c["planned_events"].as_u64(), c["covered_events"].as_u64()),
        (Some(20000), Some(20000))
    );
    assert_eq!(listed(&c), expected);
    assert_eq!(c["skipped_datasets"], serde_json::json!(["Gone"]));
    let md = std::fs::read_to_string(rundir.join("result/report.md")).unwrap();
    assert!(
        md.contains(typo.to_str().unwrap()) && md.contains("left out of the plan"),
        "{md}"
    );

    let s = casa_submit()
        .arg("status")
        .arg(&rundir)
        .arg("--json")
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(listed(&s), expected);
    let s = casa_submit().arg("status").arg(&rundir).output().unwrap();
    assert!(String::from_utf8_lossy(&s.stdout).contains(typo.to_str().unwrap()));
    // Every node is done, but the run lacks the files left out: status says so (5, skipped).
    assert_eq!(s.status.code(), Some(5));
}

/// A corrupt file on the origin, read through the XCache. Strict mode fails naming it; in skip
/// mode the run finishes, the good dataset is whole, the report names the bad file, and every
/// planned event is covered or reported missing, exactly the bad file's.
#[test]
#[cfg_attr(
    not(feature = "xrootd"),
    ignore = "reads root:// inputs: needs the xrootd feature"
)]
fn a_corrupt_file_over_xcache_fails_strict_mode_and_is_skipped_and_accounted_for() {
    if !harness::isolated(
        "a_corrupt_file_over_xcache_fails_strict_mode_and_is_skipped_and_accounted_for",
    ) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let bad = corrupt_copy(d.path());
    let good = fixture("root-lz4.root");
    let servers = harness::Servers::both(&[("e2e/corrupt.root", &bad), ("e2e/lz4.root", &good)]);
    let url = |p: &str| PathBuf::from(servers.origin.url(p));
    let datasets = [
        ("Bad", vec![url("/store/e2e/corrupt.root")]),
        ("ZZ", vec![url("/store/e2e/lz4.root")]),
    ];
    let xcache = servers.xcache.address();

    // Strict (the default): the run fails, the failure names the file, the failed nodes are not
    // retried (a corrupt file is permanent) and no result is written.
    let (_s, strict) = planned("dimuon", &datasets, &["--xcache", &xcache]);
    let o = run(&strict, &[]);
    assert!(
        !o.status.success(),
        "a corrupt input must fail a strict run"
    );
    assert!(!strict.join("result/merged.partial").exists());
    let st: serde_json::Value = serde_json::from_slice(
        &casa_submit()
            .arg("status")
            .arg(&strict)
            .arg("--json")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(st["by_status"]["failed"].as_u64().unwrap() > 0, "{st}");
    assert!(st["failures"].to_string().contains("corrupt.root"), "{st}");
    assert_eq!(st["retries"], 0, "{st}");
    assert_eq!(st["datasets"]["ZZ"]["done"], 4, "{st}");
    assert_eq!(st["events_planned"], 40000);

    // Skip mode: the run finishes without the bad file's chunks.
    let (_d, rundir) = planned(
        "dimuon",
        &datasets,
        &["--skip-bad-files", "--xcache", &xcache],
    );
    let o = run(&rundir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(entries(&result(&rundir), "ZZ"), 20000);
    let report = std::fs::read_to_string(rundir.join("result/report.json")).unwrap();
    assert!(
        report.contains("corrupt.root"),
        "the report names the bad file"
    );
    let cov = assert_no_loss(&rundir);
    let by = |ds: &str, k: &str| {
        cov["datasets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["dataset"] == ds)
            .unwrap()[k]
            .as_u64()
            .unwrap()
    };
    assert_eq!(by("ZZ", "missing_events"), 0);
    assert!(by("Bad", "missing_events") > 0);
    assert_eq!(by("Bad", "planned_events"), 20000);
    // The missing ranges are exactly the chunks of the skipped nodes, and name those nodes.
    let mut skipped_nodes = Vec::new();
    let mut skipped = Vec::new();
    for e in std::fs::read_dir(rundir.join("jobs")).unwrap() {
        let spec = casa_formats::JobSpec::read(&e.unwrap().path()).unwrap();
        let marker = format!("{}.skipped.json", spec.node);
        if rundir.join("state").join(marker).exists() {
            skipped.extend(spec.chunks.iter().map(|c| (c.entry_start, c.entry_stop)));
            skipped_nodes.push(spec.node.clone());
        }
    }
    let mut gaps = Vec::new();
    for g in cov["missing"].as_array().unwrap() {
        assert_eq!(g["dataset"], "Bad", "{g}");
        for n in g["nodes"].as_array().unwrap() {
            assert!(
                skipped_nodes.iter().any(|s| s == n),
                "{g}: not a skipped node"
            );
        }
        gaps.push((
            g["entry_start"].as_u64().unwrap(),
            g["entry_stop"].as_u64().unwrap(),
        ));
    }
    assert_eq!(joined(skipped), joined(gaps));
}

/// Entry ranges sorted, with touching ones joined.
fn joined(mut r: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    r.sort();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if last.1 >= a => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// A clean run of the misbehave plugin over `a` (ZZ) and `b` (DY) as local files: the
/// reference of the fault runs.
fn clean_reference(a: &Path, b: &Path) -> (tempfile::TempDir, Accumulator) {
    let (c, clean) = planned(
        "misbehave",
        &[("ZZ", vec![a.to_path_buf()]), ("DY", vec![b.to_path_buf()])],
        &[],
    );
    let o = run(&clean, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let acc = result(&clean);
    (c, acc)
}

/// The same plan with the files served by `servers`' origin and read through its XCache.
fn planned_over_xcache(servers: &harness::Servers) -> (tempfile::TempDir, PathBuf) {
    let url = |p: &str| PathBuf::from(servers.origin.url(p));
    planned(
        "misbehave",
        &[
            ("ZZ", vec![url("/store/e2e/zstd.root")]),
            ("DY", vec![url("/store/e2e/lz4.root")]),
        ],
        &["--xcache", &servers.xcache.address()],
    )
}

/// The runner SIGKILLed while its jobs read through the XCache, then started again: the
/// result equals the clean run, every planned event covered once.
#[test]
#[cfg_attr(
    not(feature = "xrootd"),
    ignore = "reads root:// inputs: needs the xrootd feature"
)]
fn a_runner_killed_mid_run_over_xcache_finishes_with_the_clean_result() {
    if !harness::isolated("a_runner_killed_mid_run_over_xcache_finishes_with_the_clean_result") {
        return;
    }
    let (a, b) = (fixture("root-zstd.root"), fixture("root-lz4.root"));
    let (_c, clean) = clean_reference(&a, &b);
    let servers = harness::Servers::both(&[("e2e/zstd.root", &a), ("e2e/lz4.root", &b)]);
    let (_d, rundir) = planned_over_xcache(&servers);
    killed_and_restarted(&rundir);
    assert_eq!(result(&rundir), clean);
    assert_eq!(assert_no_loss(&rundir)["missing_events"], 0);
}

/// A merge node that dies right after writing its output (CASA_MERGE_CRASH_ONCE, docs/merge.md)
/// is retried; its output from the failed attempt is not counted twice.
#[test]
#[cfg_attr(
    not(feature = "xrootd"),
    ignore = "reads root:// inputs: needs the xrootd feature"
)]
fn a_merge_node_failing_once_over_xcache_ends_with_the_clean_result() {
    if !harness::isolated("a_merge_node_failing_once_over_xcache_ends_with_the_clean_result") {
        return;
    }
    let (a, b) = (fixture("root-zstd.root"), fixture("root-lz4.root"));
    let (_c, clean) = clean_reference(&a, &b);
    let servers = harness::Servers::both(&[("e2e/zstd.root", &a), ("e2e/lz4.root", &b)]);
    let (_d, rundir) = planned_over_xcache(&servers);
    let marker = rundir.join("merge-crash.marker");
    let o = run(
        &rundir,
        &[("CASA_MERGE_CRASH_ONCE", marker.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(marker.exists(), "no merge crashed: the test proves nothing");
    let retried: Vec<String> = std::fs::read_dir(rundir.join("state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            let node = v["node"].as_str()?.to_string();
            (v["attempts"].as_array()?.len() > 1).then_some(node)
        })
        .collect();
    assert_eq!(retried.len(), 1, "one node retried: {retried:?}");
    assert!(
        !retried[0].starts_with("leaf-"),
        "a merge node: {retried:?}"
    );
    let acc = result(&rundir);
    assert_eq!(acc, clean);
    assert_eq!(entries(&acc, "ZZ") + entries(&acc, "DY"), 40000);
    assert_eq!(assert_no_loss(&rundir)["missing_events"], 0);
}
