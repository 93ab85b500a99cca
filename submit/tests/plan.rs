//! casa-submit against its references: coffea's own preprocess and fileset model, HTCondor's
//! own parser of submit and DAG files, and the POST script's decisions.

use std::path::{Path, PathBuf};
use std::process::Command;

use casa_formats::partial::{self, ChunkId, PartialHeader};
use casa_formats::{Fileset, JobSpec};
use casa_test_support::{build_bin, build_cdylib, fixture, python_command, real_file, workspace};
use serde_json::Value;

fn casa_submit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casa-submit"))
}

fn wrapper() -> PathBuf {
    build_bin("casa-wrapper", Path::new(env!("CARGO_BIN_EXE_casa-submit")))
}

fn write_fileset(dir: &Path, v: &Value) -> PathBuf {
    let p = dir.join("fileset.json");
    std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    p
}

fn json_out(cmd: &mut Command) -> Value {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

fn steps_of(fs: &Value) -> Vec<(String, String, Value, Value, Value)> {
    let mut out = Vec::new();
    for (ds, spec) in fs.as_object().unwrap() {
        for (path, f) in spec["files"].as_object().unwrap() {
            out.push((
                ds.clone(),
                path.clone(),
                f["steps"].clone(),
                f["num_entries"].clone(),
                f["uuid"].clone(),
            ));
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

#[test]
fn preprocess_gives_the_steps_coffea_gives() {
    let d = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = [
        "root-zstd.root",
        "root-hadd.root",
        "root-lzma.root",
        "uproot-zstd.root",
    ]
    .iter()
    .map(|n| fixture(n))
    .chain([real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root")])
    .collect();
    let mut fs = serde_json::Map::new();
    fs.insert("A".into(), serde_json::json!({"files": {files[0].to_str().unwrap(): "Events", files[1].to_str().unwrap(): "Events"}, "metadata": {"is_mc": true}}));
    fs.insert("B".into(), serde_json::json!({"files": {files[2].to_str().unwrap(): "Events", files[3].to_str().unwrap(): "Events", files[4].to_str().unwrap(): "Events"}}));
    let input = write_fileset(d.path(), &Value::Object(fs));
    for (step, align) in [
        (3000u64, false),
        (3000, true),
        (7777, false),
        (7777, true),
        (100, false),
    ] {
        let out = d.path().join(format!("ours-{step}-{align}.json.gz"));
        let mut cmd = casa_submit();
        cmd.arg("preprocess")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--step-size", &step.to_string()]);
        if align {
            cmd.arg("--align-clusters");
        }
        let st = cmd.status().unwrap();
        assert!(st.success());
        let ours = Fileset::read(&out).unwrap().to_json();
        let theirs = json_out(
            python_command()
                .arg(workspace().join("tests/python/coffea_preprocess.py"))
                .arg(&input)
                .arg(step.to_string())
                .arg(if align { "1" } else { "0" }),
        );
        assert_eq!(
            steps_of(&ours),
            steps_of(&theirs),
            "step {step}, align {align}"
        );
        // coffea's own fileset model reads ours and sees the same steps.
        let seen = json_out(
            python_command()
                .arg(workspace().join("tests/python/coffea_fileset_check.py"))
                .arg(&out),
        );
        for (ds, path, steps, _, _) in steps_of(&ours) {
            assert_eq!(seen[&ds][&path], steps, "coffea's model of our {ds} {path}");
        }
    }
}

/// RNTuples: the steps, entries and UUID coffea gives (steps aligned on the RNTuple's clusters
/// as uproot reads them, with coffea's own step rule), for a ROOT snapshot with 19 clusters
/// and the CMS open-data RNTuple.
#[test]
fn preprocess_of_rntuples_gives_the_steps_coffea_gives() {
    let d = tempfile::tempdir().unwrap();
    let snap = casa_test_support::write_rntuples(d.path(), &["snap-zstd"]).join("snap-zstd.root");
    let cms = real_file("Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root");
    let input = write_fileset(
        d.path(),
        &serde_json::json!({"R": {"files": {snap.to_str().unwrap(): "Events", cms.to_str().unwrap(): "Events"}}}),
    );
    for (step, align) in [(3000u64, false), (3000, true), (400, true)] {
        let out = d.path().join(format!("ours-{step}-{align}.json"));
        let mut cmd = casa_submit();
        cmd.arg("preprocess")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(["--step-size", &step.to_string()]);
        if align {
            cmd.arg("--align-clusters");
        }
        assert!(cmd.status().unwrap().success());
        let ours = Fileset::read(&out).unwrap().to_json();
        let theirs = json_out(
            python_command()
                .arg(workspace().join("tests/python/coffea_preprocess.py"))
                .arg(&input)
                .arg(step.to_string())
                .arg(if align { "1" } else { "0" }),
        );
        assert_eq!(
            steps_of(&ours),
            steps_of(&theirs),
            "step {step}, align {align}"
        );
        let most = steps_of(&ours)
            .iter()
            .map(|s| s.2.as_array().unwrap().len())
            .max();
        assert!(most > Some(3), "{most:?} steps");
    }
}

#[test]
fn unreachable_files_are_dropped_from_available_and_kept_with_nulls_in_all() {
    let d = tempfile::tempdir().unwrap();
    let good = fixture("root-zstd.root");
    let input = write_fileset(
        d.path(),
        &serde_json::json!({"ZZ": {"files": {good.to_str().unwrap(): "Events", "/no/such.root": "Events"}}}),
    );
    let out = d.path().join("pre.json");
    let preprocess = |extra: &[&str]| {
        casa_submit()
            .arg("preprocess")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    // By default an unreadable file is an error naming it (coffea's skip_bad_files=False),
    // and nothing is written.
    let o = preprocess(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("dataset ZZ: /no/such.root") && err.contains("--skip-bad-files"));
    assert!(!out.exists() && !d.path().join("pre_all.json").exists());
    // --skip-bad-files skips it, with a warning naming it.
    let o = preprocess(&["--skip-bad-files"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such.root"));
    let avail = Fileset::read(&out).unwrap();
    assert_eq!(avail.datasets[0].files.len(), 1);
    let all = Fileset::read(&d.path().join("pre_all.json")).unwrap();
    let missing = all.datasets[0]
        .files
        .iter()
        .find(|f| f.path == "/no/such.root")
        .unwrap();
    assert!(missing.steps.is_none() && missing.uuid.is_none() && missing.num_entries.is_none());
}

fn plan(dir: &Path, fileset: &Path, extra: &[&str]) -> (PathBuf, std::process::Output) {
    let run = dir.join("run");
    let o = casa_submit()
        .arg("plan")
        .arg(fileset)
        .arg("--plugin")
        .arg(build_cdylib("dimuon"))
        .arg("--wrapper")
        .arg(wrapper())
        .arg("-o")
        .arg(&run)
        .args(extra)
        .output()
        .unwrap();
    (run, o)
}

/// One file under two paths in a dataset (a symlink, `dir/./file`) would be counted twice:
/// plan refuses it naming both paths and the UUID. The same file in two datasets is fine.
#[test]
fn one_file_under_two_paths_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let a = fixture("root-zstd.root");
    let link = d.path().join("link.root");
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let dotted = a.parent().unwrap().join(".").join(a.file_name().unwrap());
    for other in [&link, &dotted] {
        let input = write_fileset(
            d.path(),
            &serde_json::json!({"ZZ": {"files": {a.to_str().unwrap(): "Events", other.to_str().unwrap(): "Events"}}}),
        );
        let (run, o) = plan(d.path(), &input, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        for w in [
            a.to_str().unwrap(),
            other.to_str().unwrap(),
            "UUID",
            "dataset ZZ",
        ] {
            assert!(err.contains(w), "{err} does not say {w}");
        }
        assert!(!run.exists());
    }
    let input = write_fileset(
        d.path(),
        &serde_json::json!({"ZZ": {"files": {a.to_str().unwrap(): "Events"}}, "ZZ2": {"files": {link.to_str().unwrap(): "Events"}}}),
    );
    let (_, o) = plan(d.path(), &input, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn plan_writes_jobs_and_htcondor_files_that_htcondor_parses() {
    let d = tempfile::tempdir().unwrap();
    let a = fixture("root-zstd.root");
    let b = fixture("root-lz4.root");
    let input = write_fileset(
        d.path(),
        &serde_json::json!({
            "DY \"quoted\" $(rm -rf ~) #x\nnewline é": {"files": {a.to_str().unwrap(): "Events"}, "metadata": {"note": "$(Process) \"q\" # c"}},
            "ZZ": {"files": {b.to_str().unwrap(): "Events"}}
        }),
    );
    let (run, o) = plan(
        d.path(),
        &input,
        &[
            "--events-per-job",
            "7000",
            "--fan-in",
            "3",
            "--step-size",
            "3000",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Jobs: never split a step, one dataset per job, every step once.
    let mut events = std::collections::BTreeMap::<String, u64>::new();
    let mut jobs = 0;
    for e in std::fs::read_dir(run.join("jobs")).unwrap() {
        let spec = JobSpec::read(&e.unwrap().path()).unwrap();
        jobs += 1;
        let ds: std::collections::BTreeSet<_> = spec.chunks.iter().map(|c| &c.dataset).collect();
        assert_eq!(ds.len(), 1);
        assert!(spec.entries() <= 7000 || spec.chunks.len() == 1);
        for c in &spec.chunks {
            *events.entry(c.dataset.clone()).or_default() += c.entry_stop - c.entry_start;
        }
    }
    assert!(jobs >= 6);
    assert_eq!(events["ZZ"], 20000);
    assert_eq!(events.values().sum::<u64>(), 40000);
    // The hostile dataset name and metadata never reach HTCondor files.
    for f in ["casa.dag", "leaf.sub", "merge.sub"] {
        let text = std::fs::read_to_string(run.join(f)).unwrap();
        assert!(
            !text.contains("rm -rf") && !text.contains("quoted") && !text.contains("Process) \\\""),
            "{f}"
        );
    }
    // HTCondor's own parser accepts and expands every file; the DAG passes our lint.
    let h = json_out(
        python_command()
            .arg(workspace().join("tests/python/htcondor_check.py"))
            .arg(&run),
    );
    let leaf = &h["nodes"]["leaf-000000"];
    assert!(leaf["arguments"]
        .as_str()
        .unwrap()
        .contains("--job leaf-000000.json"));
    assert!(leaf["transfer_input_files"]
        .as_str()
        .unwrap()
        .ends_with("jobs/leaf-000000.json"));
    assert_eq!(h["from_dag"]["ok"], true);
    let merge = h["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("merge"))
        .count();
    assert!(merge >= 2, "a merge tree of fan-in 3 over {jobs} leaves");
    // Every node, merges included, has a POST script: it keeps the node's state file on
    // HTCondor, so `status` agrees with DAGMan.
    let dag = std::fs::read_to_string(run.join("casa.dag")).unwrap();
    for job in dag.lines().filter_map(|l| l.strip_prefix("JOB ")) {
        let node = job.split_whitespace().next().unwrap();
        assert!(
            dag.contains(&format!("SCRIPT POST {node} ")),
            "{node} has no POST script"
        );
    }
    // The PRE script does not mark a node running (its job does not exist yet), and replaces
    // an unreadable state file.
    for damaged in [false, true] {
        let state = run.join("state/leaf-000000.json");
        if damaged {
            std::fs::write(&state, b"").unwrap();
        }
        let o = casa_submit()
            .arg("pre")
            .arg(&run)
            .args(["leaf-000000", "0"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let s: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        assert_eq!(s["status"], "pending", "{s}");
        assert!(s["events_expected"].as_u64().unwrap() > 0);
    }
    // `status` shows it running once the job event log says its job executes.
    let status = || -> Value {
        let o = casa_submit()
            .arg("status")
            .arg(&run)
            .arg("--json")
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(status()["by_status"]["running"], Value::Null);
    std::fs::write(
        run.join("logs/casa.log"),
        "000 (9.000.000) 2026-10-01 10:00:00 Job submitted from host: <127.0.0.1:9618>\n    DAG Node: leaf-000000\n...\n\
         001 (9.000.000) 2026-10-01 10:01:00 Job executing on host: <10.0.0.5:9618>\n...\n",
    )
    .unwrap();
    assert_eq!(status()["by_status"]["running"], 1);
    let lint = casa_submit()
        .arg("lint")
        .arg(run.join("casa.dag"))
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    // The manifest records digests, options and totals.
    let m: Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["totals"]["events"], 40000);
    assert_eq!(m["plugin"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(m["options"]["fan_in"], 3);
}

#[test]
fn site_config_lands_in_the_submit_file_and_hostile_settings_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let a = fixture("root-zstd.root");
    let input = write_fileset(
        d.path(),
        &serde_json::json!({"ZZ": {"files": {a.to_str().unwrap(): "Events"}}}),
    );
    let site = d.path().join("site.toml");
    std::fs::write(
        &site,
        "request_cpus = 2\nrequest_memory = \"3 GB\"\ncontainer_image = \"docker://coffeateam/coffea:latest\"\n\
         requirements = \"(OpSysMajorVer == 9) && (Memory > 1000)\"\ndesired_sites = \"T2_US_Nebraska,T2_US_Wisconsin\"\n\
         accounting_group = \"group_cms.analysis\"\nextra_lines = [\"+MaxWallTimeMins = 120\"]\n\
         xcache = \"root://xcache.example.org:1094\"\n\
         [environment]\nYEAR = \"2018\"\nLABEL = \"two words\"\n",
    )
    .unwrap();
    let (run, o) = plan(d.path(), &input, &["--site", site.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sub = std::fs::read_to_string(run.join("leaf.sub")).unwrap();
    for needle in [
        "request_cpus = 2",
        "container_image = docker://",
        "+DESIRED_Sites = \"T2_US_Nebraska,T2_US_Wisconsin\"",
        "+MaxWallTimeMins = 120",
        "-j 2",
        "environment = \"CASA_XCACHE=root://xcache.example.org:1094 LABEL='two words' YEAR=2018\"",
    ] {
        assert!(sub.contains(needle), "{needle}:\n{sub}");
    }
    assert_eq!(
        sub.matches("environment").count(),
        1,
        "one environment line:\n{sub}"
    );
    // The local runner reads that line as HTCondor does.
    let line = sub.lines().find(|l| l.starts_with("environment")).unwrap();
    assert_eq!(
        casa_submit::dagrun::parse_environment(line.split_once('=').unwrap().1),
        [
            ("CASA_XCACHE", "root://xcache.example.org:1094"),
            ("LABEL", "two words"),
            ("YEAR", "2018")
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    json_out(
        python_command()
            .arg(workspace().join("tests/python/htcondor_check.py"))
            .arg(&run),
    );
    // A line break or an extra `queue` in a setting is refused, not written.
    std::fs::write(&site, "extra_lines = [\"queue 100\"]\n").unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let (_, o) = plan(d2.path(), &input, &["--site", site.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("queue"));
    // An environment line of its own would replace CASA_XCACHE's: refused, pointing to the table;
    // so are names and values the line cannot carry.
    for (text, want) in [
        (
            "extra_lines = [\"Environment = \\\"A=1\\\"\"]\n",
            "[environment]",
        ),
        ("[environment]\n\"1BAD\" = \"x\"\n", "1BAD"),
        ("[environment]\nA = \"it's\"\n", "quote"),
        (
            "xcache = \"root://c:1094\"\n[environment]\nCASA_XCACHE = \"root://d:1094\"\n",
            "keep one",
        ),
    ] {
        std::fs::write(&site, text).unwrap();
        let dn = tempfile::tempdir().unwrap();
        let (_, o) = plan(dn.path(), &input, &["--site", site.to_str().unwrap()]);
        assert!(!o.status.success(), "{text}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want), "{text}: {e}");
    }
    // Lines that change what the job runs are refused, as queue lines are: another
    // executable, arguments or universe, their job-ad attributes, and includes (an
    // `include command` runs a program on the submit host).
    for line in [
        "executable = /bin/sh",
        "Arguments = -c 'rm -rf ~'",
        "args = x",
        "universe = local",
        "+Cmd = \\\"/bin/sh\\\"",
        "MY.Arguments = \\\"x\\\"",
        "include command : /bin/echo executable = /bin/sh",
        "include : /tmp/other.sub",
        "INCLUDE:/tmp/other.sub",
    ] {
        std::fs::write(&site, format!("extra_lines = [\"{line}\"]\n")).unwrap();
        let dn = tempfile::tempdir().unwrap();
        let (run, o) = plan(dn.path(), &input, &["--site", site.to_str().unwrap()]);
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{line}: {e}");
        assert!(e.contains("extra line"), "{line}: {e}");
        assert!(!run.exists(), "{line}");
    }
    // A transfer line of its own would replace leaf.sub's: refused, pointing to --input.
    std::fs::write(&site, "extra_lines = [\"transfer_input_files = x.json\"]\n").unwrap();
    let d4 = tempfile::tempdir().unwrap();
    let (_, o) = plan(d4.path(), &input, &["--site", site.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--input"));
    // An XCache that is not an XRootD address is refused, naming the setting.
    let d3 = tempfile::tempdir().unwrap();
    let (_, o) = plan(d3.path(), &input, &["--xcache", "https://cache:8443"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("xcache"));
}

#[test]
fn a_run_directory_htcondor_cannot_quote_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let a = fixture("root-zstd.root");
    let input = write_fileset(
        d.path(),
        &serde_json::json!({"ZZ": {"files": {a.to_str().unwrap(): "Events"}}}),
    );
    let o = casa_submit()
        .arg("plan")
        .arg(&input)
        .arg("--plugin")
        .arg(build_cdylib("dimuon"))
        .arg("--wrapper")
        .arg(wrapper())
        .arg("-o")
        .arg(d.path().join("my run \"1\""))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("run directory") && e.contains("cannot be written safely"),
        "{e}"
    );
}

#[test]
fn post_publishes_only_verified_partials_and_maps_exit_classes() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path();
    for sub in ["partials", "metrics", "state", "nodes/leaf-000001/casa-out"] {
        std::fs::create_dir_all(run.join(sub)).unwrap();
    }
    let post = |node: &str, ret: &str, skip: bool| {
        let mut c = casa_submit();
        c.arg("post");
        if skip {
            c.arg("--skip-bad-files");
        }
        c.arg(run)
            .arg(node)
            .arg(ret)
            .args(["0", "3"])
            .status()
            .unwrap()
            .code()
            .unwrap()
    };
    // Exit 0 but no partial: retry.
    assert_eq!(post("leaf-000001", "0", false), 1);
    let header = PartialHeader {
        run_id: "r".into(),
        node: "leaf-000001".into(),
        producer: "test".into(),
        plugin: "dimuon".into(),
        chunks: vec![ChunkId {
            dataset: "ZZ".into(),
            file: "a.root".into(),
            uuid: "u".into(),
            tree: "Events".into(),
            entry_start: 0,
            entry_stop: 10,
        }],
        events: 10,
    };
    let produced = run.join("nodes/leaf-000001/casa-out/leaf-000001.partial");
    // A corrupt partial is not published.
    let mut bytes = partial::encode(&header, b"{}");
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    std::fs::write(&produced, &bytes).unwrap();
    assert_eq!(post("leaf-000001", "0", false), 1);
    partial::write(&produced, &header, b"{}").unwrap();
    // On HTCondor the attempt's run time comes from the job event log (POST runs after the
    // job: both ends at POST time would make every duration zero).
    std::fs::create_dir_all(run.join("logs")).unwrap();
    std::fs::write(
        run.join("logs/casa.log"),
        "000 (7.000.000) 2026-10-01 10:00:00 Job submitted from host: <127.0.0.1:9618>\n    DAG Node: leaf-000001\n...\n\
         001 (7.000.000) 2026-10-01 10:01:00 Job executing on host: <10.0.0.5:9618>\n...\n\
         005 (7.000.000) 2026-10-01 10:20:00 Job terminated.\n\t(1) Normal termination (return value 0)\n...\n",
    )
    .unwrap();
    assert_eq!(post("leaf-000001", "0", false), 0);
    assert!(run.join("partials/leaf-000001.partial").exists());
    let s: Value =
        serde_json::from_slice(&std::fs::read(run.join("state/leaf-000001.json")).unwrap())
            .unwrap();
    let a = s["attempts"].as_array().unwrap().last().unwrap().clone();
    let took = a["ended_unix"].as_f64().unwrap() - a["started_unix"].as_f64().unwrap();
    assert!((took - 1140.0).abs() < 1.0, "{a}");
    std::fs::remove_file(run.join("logs/casa.log")).unwrap();
    // Retryable classes retry; permanent ones stop the node (UNLESS-EXIT 42) or, in skip mode,
    // are recorded as skipped.
    assert_eq!(post("leaf-000002", "10", false), 1);
    assert_eq!(post("leaf-000002", "15", false), 1);
    assert_eq!(post("leaf-000002", "11", false), 42);
    assert_eq!(post("leaf-000002", "12", false), 42);
    assert_eq!(post("leaf-000002", "11", true), 0);
    assert!(run.join("state/leaf-000002.skipped.json").exists());
    assert_eq!(post("leaf-000003", "-1004", false), 1);
    assert_eq!(post("merge-final", "0", false), 0);
    let merge_state = run.join("state/merge-final.json");
    let s: Value = serde_json::from_slice(&std::fs::read(&merge_state).unwrap()).unwrap();
    assert_eq!(s["status"], "done");
    assert_eq!(post("merge-final", "3", false), 1);
    // The job's error (from the metrics it wrote) goes into the node's state message; an
    // attempt that wrote no metrics does not inherit an earlier attempt's words.
    let out = run.join("nodes/leaf-000004/casa-out");
    std::fs::create_dir_all(&out).unwrap();
    let m = serde_json::json!({"format": "casa-metrics", "version": "1.1", "run_id": "r",
        "node": "leaf-000004", "host": "h", "exit_class": "retryable_input",
        "error": "root://o//store/x.root: connection refused", "chunks": 0, "events": 0,
        "batches": 0, "bytes_read": 0, "read_requests": 0, "bytes_decompressed": 0,
        "baskets": 0, "wall_s": 0.1, "cpu_s": 0.1, "io_s": 0.0, "decode_s": 0.0,
        "plugin_s": 0.0, "time_to_first_event_ms": 0.0, "peak_rss_kb": 1});
    std::fs::write(out.join("leaf-000004.metrics.json"), m.to_string()).unwrap();
    let message = || {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(run.join("state/leaf-000004.json")).unwrap())
                .unwrap();
        v["message"].as_str().unwrap().to_string()
    };
    assert_eq!(post("leaf-000004", "10", false), 1);
    assert!(
        message().contains("store/x.root: connection refused"),
        "{}",
        message()
    );
    assert_eq!(post("leaf-000004", "10", false), 1);
    assert!(!message().contains("x.root"), "{}", message());
}

/// Shipped inputs: the site's list (relative to the site file) and `--input` together, each
/// copied into the run with its digest; two files of one name, or a name HTCondor cannot
/// transfer, are refused naming both paths.
#[test]
fn shipped_inputs_are_copied_digested_and_their_names_checked() {
    let d = tempfile::tempdir().unwrap();
    let a = fixture("root-zstd.root");
    let fileset = write_fileset(
        d.path(),
        &serde_json::json!({"ZZ": {"files": {a.to_str().unwrap(): "Events"}}}),
    );
    let (one, two) = (d.path().join("one"), d.path().join("two"));
    std::fs::create_dir_all(one.join("sub")).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    std::fs::write(one.join("sub/sf.json"), "[1]").unwrap();
    std::fs::write(two.join("sf.json"), "[2]").unwrap();
    std::fs::write(two.join("pileup.json"), "[3]").unwrap();
    std::fs::write(two.join("bad,name.json"), "[4]").unwrap();
    std::fs::write(two.join("broken.json"), "{").unwrap();
    let site = one.join("site.toml");
    std::fs::write(&site, "inputs = [\"sub/sf.json\"]\n").unwrap();
    let cfg = d.path().join("cfg.toml");
    std::fs::write(&cfg, "lumi = 3378.0\n[jets]\npt_min = 25\n").unwrap();
    let pileup = two.join("pileup.json");
    let (run, o) = plan(
        &d.path().join("ok"),
        &fileset,
        &[
            "--site",
            site.to_str().unwrap(),
            "--input",
            pileup.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(run.join("inputs/sf.json")).unwrap(), b"[1]");
    let spec = JobSpec::read(&run.join("jobs/leaf-000000.json")).unwrap();
    assert_eq!(spec.inputs, ["sf.json", "pileup.json"]);
    assert_eq!(
        spec.config,
        serde_json::json!({"lumi": 3378.0, "jets": {"pt_min": 25}})
    );
    let m: Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    // sha256 of "[1]", by sha256sum.
    assert_eq!(
        m["inputs"][0]["sha256"],
        "080a9ed428559ef602668b4c00f114f1a11c3f6b02a435f0bdc154578e4d7f22"
    );
    assert_eq!(m["inputs"][1]["name"], "pileup.json");
    assert_eq!(m["config"]["path"], cfg.to_str().unwrap());
    assert!(std::fs::read_to_string(run.join("leaf.sub"))
        .unwrap()
        .contains(&format!(
            ", {}/inputs/sf.json, {}/inputs/pileup.json\n",
            run.display(),
            run.display()
        )));

    let same_name = two.join("sf.json");
    let bad_name = two.join("bad,name.json");
    let broken = two.join("broken.json");
    for (extra, want) in [
        (
            vec![
                "--site",
                site.to_str().unwrap(),
                "--input",
                same_name.to_str().unwrap(),
            ],
            vec![
                same_name.to_str().unwrap().to_string(),
                one.join("sub/sf.json").display().to_string(),
                "unique".into(),
            ],
        ),
        (
            vec!["--input", bad_name.to_str().unwrap()],
            vec!["','".into()],
        ),
        (
            vec!["--input", "/no/such/input.json"],
            vec!["/no/such/input.json".into()],
        ),
        (
            vec!["--config", broken.to_str().unwrap()],
            vec!["broken.json".into(), "JSON".into()],
        ),
    ] {
        let dn = tempfile::tempdir().unwrap();
        let (run, o) = plan(dn.path(), &fileset, &extra);
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{extra:?}");
        for w in want {
            assert!(e.contains(&w), "{extra:?}: {w} not in {e}");
        }
        assert!(!run.exists(), "nothing written");
    }
}

/// A misspelled required column is refused at plan time, naming the dataset, the file, the
/// column and the near miss; a column required only for MC datasets fails only those.
#[test]
fn a_missing_required_column_is_refused_at_plan_time_with_a_suggestion() {
    let d = tempfile::tempdir().unwrap();
    let nano = real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root");
    let zz = fixture("root-zstd.root");
    let fileset = write_fileset(
        d.path(),
        &serde_json::json!({
            "ttbar": {"files": {nano.to_str().unwrap(): "Events"}, "metadata": {"is_mc": true}},
            "data": {"files": {zz.to_str().unwrap(): "Events"}, "metadata": {"is_mc": false}},
        }),
    );
    let plan_with = |dir: &Path, mode: &str, select: &[&str]| {
        let run = dir.join("run");
        let o = casa_submit()
            .arg("plan")
            .arg(&fileset)
            .arg("--plugin")
            .arg(build_cdylib("misbehave"))
            .arg("--wrapper")
            .arg(wrapper())
            .arg("-o")
            .arg(&run)
            .args(select)
            .env("CASA_TEST_MODE", mode)
            .output()
            .unwrap();
        (run, o)
    };
    let (run, o) = plan_with(d.path(), "typo", &["--dataset", "ttbar"]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(!run.exists());
    assert!(
        e.contains(&format!(
            "dataset ttbar: {}: required column \"Jet_btagCSV2\" is not in the file (did you mean \"Jet_btagCSVV2\"?)",
            nano.display()
        )),
        "{e}"
    );
    // --no-column-check plans it anyway (the jobs would fail on the column).
    let d5 = tempfile::tempdir().unwrap();
    let (_, o) = plan_with(
        d5.path(),
        "typo",
        &["--dataset", "ttbar", "--no-column-check"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // MC-only: the data dataset passes, the MC one is refused.
    let d2 = tempfile::tempdir().unwrap();
    let (_, o) = plan_with(d2.path(), "mc-only", &["--dataset", "data"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d3 = tempfile::tempdir().unwrap();
    let (_, o) = plan_with(d3.path(), "mc-only", &[]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        e.contains("dataset ttbar") && e.contains("GenPart_not_in_any_file"),
        "{e}"
    );
    assert!(!e.contains("dataset data"), "{e}");
    // Optional columns never fail.
    let d4 = tempfile::tempdir().unwrap();
    let (_, o) = plan_with(d4.path(), "optional", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `-j` is bounded (1 to 1024) in every tool: `-j 10000` is a usage error (exit 2), not
/// minutes spent starting threads.
#[test]
fn every_dash_j_is_bounded() {
    let merge = build_bin("casa-merge", Path::new(env!("CARGO_BIN_EXE_casa-submit")));
    let submit = PathBuf::from(env!("CARGO_BIN_EXE_casa-submit"));
    let cases: [(&Path, &[&str]); 7] = [
        (&submit, &["run", "r", "-j"]),
        (&submit, &["resubmit", "r", "-j"]),
        (&submit, &["preprocess", "f.json", "-o", "o.json", "-j"]),
        (
            &submit,
            &["plan", "f.json", "--plugin", "p.so", "-o", "o", "-j"],
        ),
        (&merge, &["-o", "m.partial", "a.partial", "-j"]),
        (&wrapper(), &["inspect", "f.root", "-j"]),
        (
            &wrapper(),
            &["run", "--job", "j", "--plugin", "p", "--out", "o", "-j"],
        ),
    ];
    for (bin, args) in cases {
        for (n, usage) in [
            ("0", true),
            ("1025", true),
            ("10000", true),
            ("1024", false),
        ] {
            let o = Command::new(bin).args(args).arg(n).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code() == Some(2), usage, "{args:?} {n}: {err}");
            if usage {
                assert!(err.contains("1..=1024"), "{args:?} {n}: {err}");
            }
        }
    }
}
