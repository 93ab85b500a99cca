//! On the real engine: generated DAGs submitted with `condor_submit_dag` to a real
//! single-node HTCondor pool (`ci/minicondor`: minicondor from Debian trixie in a chroot,
//! loopback only). The same assertions as the local runs in `run.rs`: the final histogram
//! equals a local `casa-submit run` of the same plan bit for bit, a crash is retried and
//! counted once, a permanent failure is not retried and the rescue DAG reruns only the
//! failed node once the input is fixed.
//!
//! And the demo's plan (ci/demo: its fileset served by an xrootd origin, read by the jobs
//! through an XCache) gives on the pool the histogram of the local run, which is checked
//! against the float64 reference and coffea's processor.Runner.
//!
//! And self-checkpointing: a long leaf checkpointing every 2 s (`checkpoint_exit_code`), vacated
//! mid-run with `condor_vacate_job`, resumes (the job event log shows the eviction, its metrics
//! the resumptions) and ends with the local run's histogram bit for bit.
//!
//! One test function, so the pool starts once; the pool is stopped and unmounted when the
//! test ends, also when it fails (`Pool`'s `Drop`). The test runs in private network, PID and
//! mount namespaces (`harness::isolated`): the pool and the XRootD servers listen on that
//! loopback only; `ci/minicondor prepare` (which needs the network) runs before. Needs root
//! (chroot, mounts, namespaces); skipped otherwise, or with `CASA_SKIP_CONDOR=1`. Run
//! directories live under `CASA_CONDOR_SHARE` (default `/srv/casa-condor`), which the pool sees
//! at the same path.

#[path = "../../tests/xrootd/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use casa_formats::partial;
use casa_hist::{Accumulator, Counter, Item};
use casa_test_support::{build_bin, build_cdylib, fixture, python_command, workspace};

/// uid of the unprivileged user that submits inside the chroot (ci/minicondor's default).
const CONDOR_UID: &str = "4242";
/// How long the DAGs may take before the test gives up (`CASA_CONDOR_DAG_TIMEOUT`, seconds).
fn dag_timeout() -> Duration {
    let s = std::env::var("CASA_CONDOR_DAG_TIMEOUT").ok();
    Duration::from_secs(s.and_then(|s| s.parse().ok()).unwrap_or(240))
}

fn share() -> PathBuf {
    std::env::var_os("CASA_CONDOR_SHARE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/srv/casa-condor"))
}

fn minicondor() -> Command {
    let mut c = Command::new(workspace().join("ci/minicondor"));
    c.env("CASA_CONDOR_SHARE", share());
    c
}

/// The running pool; dropping it stops the daemons and unmounts everything.
struct Pool;

impl Pool {
    fn start() -> Pool {
        // The guard exists before the start, so a half-started pool is stopped too.
        let pool = Pool;
        let t = Instant::now();
        let o = minicondor().arg("start").output().unwrap();
        assert!(
            o.status.success(),
            "ci/minicondor start failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!("pool started in {:.1}s", t.elapsed().as_secs_f64());
        pool
    }

    /// Run `script` with `sh -c` as the unprivileged user inside the chroot.
    fn sh(&self, script: &str) -> std::process::Output {
        minicondor()
            .args(["exec", "sh", "-c", script])
            .output()
            .unwrap()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        match minicondor().arg("stop").status() {
            Ok(s) if s.success() => {}
            other => eprintln!("ci/minicondor stop: {other:?}"),
        }
    }
}

/// The test's directory under the shared area: removed at the end unless the test failed.
struct Area(PathBuf);

impl Drop for Area {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn build(package: &str) -> PathBuf {
    build_bin(package, Path::new(env!("CARGO_BIN_EXE_casa-submit")))
}

fn copy_to(src: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let dst = dir.join(src.file_name().unwrap());
    std::fs::copy(src, &dst).unwrap();
    dst
}

struct Tools {
    /// casa-submit as seen inside the pool: the POST script of every node.
    submit: PathBuf,
    wrapper: PathBuf,
    merge: PathBuf,
}

/// Plan `datasets` with `plugin` into `run`.
fn plan(
    tools: &Tools,
    plugin: &Path,
    datasets: &[(&str, Vec<PathBuf>)],
    run: &Path,
    extra: &[&str],
) {
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
    std::fs::create_dir_all(run.parent().unwrap()).unwrap();
    let fileset = run.with_extension("fileset.json");
    std::fs::write(&fileset, serde_json::to_vec(&fs).unwrap()).unwrap();
    let o = Command::new(&tools.submit)
        .arg("plan")
        .arg(&fileset)
        .arg("--plugin")
        .arg(plugin)
        .arg("--wrapper")
        .arg(&tools.wrapper)
        .arg("--merge")
        .arg(&tools.merge)
        .arg("-o")
        .arg(run)
        .args(["--run-id", run.file_name().unwrap().to_str().unwrap()])
        .args(["--fan-in", "2"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn run_locally(tools: &Tools, rundir: &Path) {
    let o = Command::new(&tools.submit)
        .arg("run")
        .arg(rundir)
        .args(["-j", "2", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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

fn chown(path: &Path) {
    let st = Command::new("chown")
        .args(["-R", &format!("{CONDOR_UID}:{CONDOR_UID}")])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

fn leaves(rundir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(rundir.join("jobs"))
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

/// A DAG submitted to the pool; `wait` follows only what DAGMan appends after the submit.
struct Submitted {
    rundir: PathBuf,
    out_offset: usize,
}

fn dagman_out(rundir: &Path) -> String {
    std::fs::read_to_string(rundir.join("casa.dag.dagman.out")).unwrap_or_default()
}

fn submit(pool: &Pool, rundir: &Path) -> Submitted {
    let out_offset = dagman_out(rundir).len();
    let o = pool.sh(&format!(
        "cd {} && condor_submit_dag casa.dag",
        rundir.display()
    ));
    assert!(
        o.status.success(),
        "condor_submit_dag in {}:\n{}{}",
        rundir.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Submitted {
        rundir: rundir.to_path_buf(),
        out_offset,
    }
}

impl Submitted {
    /// DAGMan's exit status, once it is there; panics on a held job (DAGMan would wait on
    /// it forever).
    fn poll(&self) -> Option<i32> {
        let all = dagman_out(&self.rundir);
        let new = all.get(self.out_offset..).unwrap_or("");
        if new.contains("ULOG_JOB_HELD") {
            let log =
                std::fs::read_to_string(self.rundir.join("logs/casa.log")).unwrap_or_default();
            panic!(
                "a job of {} went on hold:\n{}\n--- dagman.out ---\n{}",
                self.rundir.display(),
                log.lines()
                    .skip_while(|l| !l.starts_with("012 "))
                    .take(4)
                    .collect::<Vec<_>>()
                    .join("\n"),
                tail(new, 40)
            );
        }
        let line = new.lines().find(|l| l.contains("EXITING WITH STATUS"))?;
        Some(line.rsplit(' ').next().unwrap().trim().parse().unwrap())
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Wait for every DAG; their exit statuses in order.
fn wait_all(dags: &[&Submitted]) -> Vec<i32> {
    let t = Instant::now();
    let mut status = vec![None; dags.len()];
    while status.iter().any(Option::is_none) {
        for (s, d) in status.iter_mut().zip(dags) {
            if s.is_none() {
                *s = d.poll();
            }
        }
        if t.elapsed() > dag_timeout() {
            let mut msg = String::new();
            for (s, d) in status.iter().zip(dags) {
                if s.is_none() {
                    let all = dagman_out(&d.rundir);
                    msg += &format!(
                        "\n--- {} (still running) ---\n{}",
                        d.rundir.display(),
                        tail(all.get(d.out_offset..).unwrap_or(""), 30)
                    );
                }
            }
            panic!("DAGs not finished after {:?}:{msg}", dag_timeout());
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("DAGs finished in {:.1}s", t.elapsed().as_secs_f64());
    status.into_iter().map(Option::unwrap).collect()
}

/// How many times DAGMan submitted a node's job, over every run of the DAG.
fn submissions(rundir: &Path, node: &str) -> usize {
    dagman_out(rundir)
        .matches(&format!("Submitting HTCondor Node {node} job(s)"))
        .count()
}

/// DAGMan's node status file: node -> attribute -> value (ClassAd text, comments dropped).
fn node_status(rundir: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(rundir.join("casa.status")).unwrap();
    let mut nodes = BTreeMap::new();
    for block in text.split('[').skip(1) {
        let mut attrs = BTreeMap::new();
        for line in block.lines() {
            let line = line
                .split("/*")
                .next()
                .unwrap()
                .trim()
                .trim_end_matches(';');
            if let Some((k, v)) = line.split_once('=') {
                attrs.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
            }
        }
        let name = match attrs.get("Type").map(String::as_str) {
            Some("NodeStatus") => attrs["Node"].clone(),
            Some("DagStatus") => "<dag>".to_string(),
            _ => continue,
        };
        nodes.insert(name, attrs);
    }
    nodes
}

fn corrupt_copy(path: &Path) {
    let mut bytes = std::fs::read(fixture("root-zstd.root")).unwrap();
    // Damage the data of the baskets, not the header: the failure comes when reading.
    let n = bytes.len();
    for b in &mut bytes[n / 4..n / 2] {
        *b ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

/// `casa-submit preprocess` of the demo's fileset (ci/demo: two datasets, five files) as served
/// by `servers`' origin, with the demo's arguments.
fn demo_preprocess(tools: &Tools, servers: &harness::Servers, fileset: &Path, out: &Path) {
    let o = |n: &str| servers.origin.url(&format!("/store/demo/{n}.root"));
    let doc = serde_json::json!({
        "DoubleMuon": {"files": {o("root-zstd"): "Events", o("root-zlib"): "Events",
                                 o("root-lz4"): "Events"},
                       "metadata": {"is_mc": false}},
        "ZZ to 4mu": {"files": {o("root-nano-lzma9"): "Events", o("root-lzma"): "Events"},
                      "metadata": {"is_mc": true}},
    });
    std::fs::write(fileset, serde_json::to_vec(&doc).unwrap()).unwrap();
    let p = Command::new(&tools.submit)
        .arg("preprocess")
        .arg(fileset)
        .arg("-o")
        .arg(out)
        .args(["--step-size", "5000", "--align-clusters"])
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
}

/// `casa-submit plan` of the preprocessed demo fileset with the demo's arguments.
fn demo_plan(tools: &Tools, plugin: &Path, servers: &harness::Servers, pre: &Path, run: &Path) {
    let o = Command::new(&tools.submit)
        .arg("plan")
        .arg(pre)
        .arg("--plugin")
        .arg(plugin)
        .arg("--wrapper")
        .arg(&tools.wrapper)
        .arg("--merge")
        .arg(&tools.merge)
        .arg("-o")
        .arg(run)
        .args([
            "--run-id",
            "demo",
            "--events-per-job",
            "20000",
            "--fan-in",
            "4",
        ])
        .args(["--xcache", &servers.xcache.address()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn dags_on_a_real_htcondor_pool() {
    if std::env::var_os("CASA_SKIP_CONDOR").is_some_and(|v| v == "1") {
        eprintln!("skipped: CASA_SKIP_CONDOR=1");
        return;
    }
    let uid = Command::new("id").arg("-u").output().unwrap().stdout;
    if String::from_utf8_lossy(&uid).trim() != "0" {
        eprintln!("skipped: the HTCondor pool needs root (chroot and mounts)");
        return;
    }
    if !harness::inside() {
        let o = minicondor().arg("prepare").output().unwrap();
        assert!(
            o.status.success(),
            "ci/minicondor prepare failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    if !harness::isolated("dags_on_a_real_htcondor_pool") {
        return;
    }
    let t0 = Instant::now();
    let wrapper = build("casa-wrapper");
    let merge = build("casa-merge");
    let dimuon = build_cdylib("dimuon");
    let misbehave = build_cdylib("misbehave");
    eprintln!("built in {:.1}s", t0.elapsed().as_secs_f64());

    let pool = Pool::start();

    // Everything the jobs, the POST scripts and DAGMan touch lives in the shared area,
    // which the pool sees at the same absolute path.
    let base = share();
    let area = Area(base.join(format!(
        "test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    )));
    let a = area.0.clone();
    std::fs::create_dir_all(&a).unwrap();
    let bin = a.join("bin");
    let tools = Tools {
        submit: copy_to(Path::new(env!("CARGO_BIN_EXE_casa-submit")), &bin),
        wrapper: copy_to(&wrapper, &bin),
        merge: copy_to(&merge, &bin),
    };
    let data = a.join("data");
    let zstd = copy_to(&fixture("root-zstd.root"), &data);
    let lz4 = copy_to(&fixture("root-lz4.root"), &data);
    let bad = data.join("corrupt.root");
    corrupt_copy(&bad);
    let (condor, local) = (a.join("condor"), a.join("local"));

    // 1. dimuon over two datasets: 4 leaves, a merge tree of fan-in 2.
    let clean_sets = [("ZZ", vec![zstd.clone()]), ("DY", vec![lz4.clone()])];
    let small = ["--events-per-job", "10000", "--step-size", "5000"];
    for dir in [&condor, &local] {
        plan(&tools, &dimuon, &clean_sets, &dir.join("clean"), &small);
    }
    // 2. A leaf that crashes once: HTCondor jobs do not inherit the environment, so the
    // site config's environment table gives it to them.
    let marker = condor.join("crash.marker");
    let site = a.join("crash-site.toml");
    std::fs::write(
        &site,
        format!(
            "retries = 3\n[environment]\nCASA_TEST_MODE = \"crash-once\"\nCASA_TEST_MARKER = \"{}\"\n",
            marker.display()
        ),
    )
    .unwrap();
    let crash_args = [&small[..], &["--site", site.to_str().unwrap()]].concat();
    let crash_sets = [("ZZ", vec![zstd.clone()])];
    for dir in [&condor, &local] {
        plan(
            &tools,
            &misbehave,
            &crash_sets,
            &dir.join("crash"),
            &crash_args,
        );
    }
    // 3. A permanently bad file next to a good one: one leaf per file.
    let bad_sets = [("Bad", vec![bad.clone()]), ("ZZ", vec![lz4.clone()])];
    let big = ["--events-per-job", "20000", "--step-size", "20000"];
    for dir in [&condor, &local] {
        plan(&tools, &dimuon, &bad_sets, &dir.join("bad"), &big);
    }
    // 4. The demo's plan: its fileset and arguments (ci/demo), on an origin behind an XCache.
    let demo_names = [
        "root-zstd",
        "root-zlib",
        "root-lz4",
        "root-nano-lzma9",
        "root-lzma",
    ];
    let demo_files: Vec<(String, PathBuf)> = demo_names
        .iter()
        .map(|n| (format!("demo/{n}.root"), fixture(&format!("{n}.root"))))
        .collect();
    let exported: Vec<(&str, &Path)> = demo_files
        .iter()
        .map(|(p, f)| (p.as_str(), f.as_path()))
        .collect();
    let servers = harness::Servers::both(&exported);
    let demo_pre = a.join("demo-preprocessed.json.gz");
    demo_preprocess(&tools, &servers, &a.join("demo-fileset.json"), &demo_pre);
    for dir in [&condor, &local] {
        demo_plan(&tools, &dimuon, &servers, &demo_pre, &dir.join("demo"));
    }
    // 5. Shipped inputs and the configuration: the site's inputs list (relative to the site
    // file) and --config; leaf.sub transfers the input, the plugin's init reads both.
    let setup_dir = a.join("setup");
    std::fs::create_dir_all(&setup_dir).unwrap();
    std::fs::write(setup_dir.join("note.txt"), "twelve bytes").unwrap();
    let setup_site = setup_dir.join("site.toml");
    std::fs::write(
        &setup_site,
        "inputs = [\"note.txt\"]\n[environment]\nCASA_TEST_MODE = \"setup\"\n",
    )
    .unwrap();
    let setup_cfg = setup_dir.join("cfg.toml");
    std::fs::write(&setup_cfg, "label = \"pool\"\nscale = 0.5\n").unwrap();
    let setup_args = [
        &small[..],
        &["--site", setup_site.to_str().unwrap()],
        &["--config", setup_cfg.to_str().unwrap()],
    ]
    .concat();
    plan(
        &tools,
        &misbehave,
        &crash_sets,
        &condor.join("setup"),
        &setup_args,
    );
    // 6. Self-checkpointing: a long leaf (1.5 s per batch) checkpointing every 2 s, vacated
    // mid-run with condor_vacate_job.
    let ckpt_site = a.join("ckpt-site.toml");
    std::fs::write(
        &ckpt_site,
        "checkpoint_every = 2\n[environment]\nCASA_TEST_MODE = \"smear\"\nCASA_TEST_SLEEP_MS = \"1500\"\n",
    )
    .unwrap();
    let ckpt_args = [
        "--events-per-job",
        "20000",
        "--step-size",
        "5000",
        "--site",
        ckpt_site.to_str().unwrap(),
    ];
    for dir in [&condor, &local] {
        plan(
            &tools,
            &misbehave,
            &crash_sets,
            &dir.join("ckpt"),
            &ckpt_args,
        );
    }
    for p in [&a, &bin, &data, &setup_dir] {
        chown(p);
    }
    chown(&condor);

    let t = Instant::now();
    let ckpt = submit(&pool, &condor.join("ckpt"));
    let (clean, crash, badrun, demo, setup) = (
        submit(&pool, &condor.join("clean")),
        submit(&pool, &condor.join("crash")),
        submit(&pool, &condor.join("bad")),
        submit(&pool, &condor.join("demo")),
        submit(&pool, &condor.join("setup")),
    );
    // Vacate the checkpointing leaf a few seconds after it starts.
    let ckpt_log = condor.join("ckpt/logs/casa.log");
    let t1 = Instant::now();
    while !std::fs::read_to_string(&ckpt_log)
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("001 "))
    {
        assert!(
            t1.elapsed() < dag_timeout(),
            "the checkpointing leaf never started"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(3));
    // The job is idle for a moment after each checkpoint exit, while HTCondor restarts it, and
    // condor_vacate_job only acts on running jobs: try until it finds the job running.
    let t2 = Instant::now();
    loop {
        let o = pool.sh("condor_vacate_job -constraint 'CasaRun == \"ckpt\"'");
        if o.status.success() {
            break;
        }
        assert!(
            t2.elapsed() < Duration::from_secs(60),
            "condor_vacate_job never found the checkpointing leaf running: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let st = wait_all(&[&clean, &crash, &badrun, &demo, &setup, &ckpt]);
    eprintln!("five DAGs in {:.1}s", t.elapsed().as_secs_f64());
    let diag = |d: &Submitted| tail(&dagman_out(&d.rundir), 40);
    assert_eq!(st[0], 0, "clean DAG failed:\n{}", diag(&clean));
    assert_eq!(st[1], 0, "crash-once DAG failed:\n{}", diag(&crash));
    assert_eq!(st[2], 1, "the bad-file DAG must fail:\n{}", diag(&badrun));
    assert_eq!(st[3], 0, "the demo DAG failed:\n{}", diag(&demo));
    assert_eq!(st[4], 0, "the shipped-inputs DAG failed:\n{}", diag(&setup));

    assert_eq!(st[5], 0, "the checkpointing DAG failed:\n{}", diag(&ckpt));

    // 6. Evicted mid-run, resumed from its checkpoint: the local run's histogram, bit for bit.
    run_locally(&tools, &local.join("ckpt"));
    let rundir = condor.join("ckpt");
    let log = std::fs::read_to_string(rundir.join("logs/casa.log")).unwrap();
    assert!(
        log.lines().any(|l| l.starts_with("004 ")),
        "no eviction in the job event log:\n{log}"
    );
    let m: casa_formats::JobMetrics = serde_json::from_slice(
        &std::fs::read(rundir.join("metrics/leaf-000000.metrics.json")).unwrap(),
    )
    .unwrap();
    assert!(m.checkpoint.resumed >= 1, "{m:?}");
    assert_eq!(m.events, 20000);
    assert_eq!(result(&rundir), result(&local.join("ckpt")));
    eprintln!(
        "checkpointing leaf: {} checkpoints, resumed {} times",
        m.checkpoint.written, m.checkpoint.resumed
    );

    // 5. Every leaf job on the pool got the transferred input and the configuration.
    let acc = result(&condor.join("setup"));
    let n = leaves(&condor.join("setup")).len() as i64;
    assert!(n >= 2);
    let zz = &acc.datasets["ZZ"];
    assert_eq!(zz["label_pool"], Item::Counter(Counter::Int(n)));
    assert_eq!(zz["note_bytes"], Item::Counter(Counter::Int(12 * n)));
    assert_eq!(entries(&acc, "ZZ"), 20000);

    // 4. The demo plan on the pool: the local run's histogram bit for bit, every planned event
    // covered, and equal to the float64 reference / coffea (tests/python/check_demo.py).
    run_locally(&tools, &local.join("demo"));
    let acc = result(&condor.join("demo"));
    assert_eq!(entries(&acc, "DoubleMuon"), 60000);
    assert_eq!(entries(&acc, "ZZ to 4mu"), 80000);
    assert_eq!(acc, result(&local.join("demo")));
    assert!(
        !servers.cached().is_empty(),
        "the pool's jobs did not read through the XCache"
    );
    let o = python_command()
        .arg(workspace().join("tests/python/check_demo.py"))
        .arg(condor.join("demo"))
        .arg(&demo_pre)
        .arg(fixture("root-zstd.root").parent().unwrap())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&o.stdout));

    // The local runs of the same plans (the crash marker exists by now, so the local twin
    // of the crash run does not crash: its result is the same either way).
    run_locally(&tools, &local.join("clean"));
    run_locally(&tools, &local.join("crash"));

    // 1. The histogram is the local run's, bit for bit.
    let acc = result(&condor.join("clean"));
    assert_eq!(entries(&acc, "ZZ"), 20000);
    assert_eq!(entries(&acc, "DY"), 20000);
    assert_eq!(acc, result(&local.join("clean")));
    let ns = node_status(&condor.join("clean"));
    assert!(ns["<dag>"]["DagStatus"].starts_with('5'), "{ns:?}");
    for leaf in leaves(&condor.join("clean")) {
        assert_eq!(submissions(&condor.join("clean"), &leaf), 1, "{leaf}");
    }
    // status reads the job event log: every job of the clean DAG (leaves and merges) finished.
    let o = Command::new(&tools.submit)
        .arg("status")
        .arg(condor.join("clean"))
        .arg("--json")
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["jobs"]["finished"], s["nodes"], "{s}");

    // 2. One crash, one retry, every chunk counted once.
    let rundir = condor.join("crash");
    assert!(marker.exists(), "one job crashed");
    let acc = result(&rundir);
    assert_eq!(entries(&acc, "ZZ"), 20000);
    assert_eq!(acc, result(&local.join("crash")));
    let ns = node_status(&rundir);
    let crash_leaves = leaves(&rundir);
    let retries: usize = crash_leaves
        .iter()
        .map(|l| ns[l]["RetryCount"].parse::<usize>().unwrap())
        .sum();
    assert_eq!(retries, 1, "one retry: {ns:?}");
    let subs: usize = crash_leaves.iter().map(|l| submissions(&rundir, l)).sum();
    assert_eq!(subs, crash_leaves.len() + 1);
    let out = dagman_out(&rundir);
    assert!(out.contains("Retrying node leaf-"), "{}", tail(&out, 40));

    // 3. The permanent failure: not retried, the DAG fails, a rescue DAG is written.
    let rundir = condor.join("bad");
    let (bad_leaf, good_leaf) = ("leaf-000000", "leaf-000001");
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rundir.join("jobs/leaf-000000.json")).unwrap())
            .unwrap();
    assert_eq!(job["chunks"][0]["dataset"], "Bad");
    let ns = node_status(&rundir);
    assert!(ns["<dag>"]["DagStatus"].starts_with('6'), "{ns:?}");
    assert!(ns[bad_leaf]["NodeStatus"].starts_with('6'), "{ns:?}");
    assert_eq!(ns[bad_leaf]["RetryCount"], "0", "{ns:?}");
    assert!(ns[bad_leaf]["StatusDetails"].contains("42"), "{ns:?}");
    assert!(ns[good_leaf]["NodeStatus"].starts_with('5'), "{ns:?}");
    assert_eq!(submissions(&rundir, bad_leaf), 1, "permanent: not retried");
    assert!(!rundir.join("result/merged.partial").exists());
    let rescue = std::fs::read_to_string(rundir.join("casa.dag.rescue001")).unwrap();
    assert!(rescue.contains(&format!("DONE {good_leaf}")), "{rescue}");
    assert!(!rescue.contains(&format!("DONE {bad_leaf}")), "{rescue}");
    // The metrics of the failed attempt name the permanent input fault.
    let metrics = std::fs::read_dir(rundir.join("metrics"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter(|m| m.contains(bad_leaf))
        .collect::<Vec<_>>();
    assert!(!metrics.is_empty(), "the failed attempt's metrics are kept");

    let b = std::fs::read(rundir.join(format!("state/{bad_leaf}.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["attempts"].as_array().unwrap().len(), 1, "{v}");

    // Fix the input; resubmitting picks up the rescue DAG: only the failed leaf and the
    // merge run again.
    std::fs::copy(fixture("root-zstd.root"), &bad).unwrap();
    let again = submit(&pool, &rundir);
    let st = wait_all(&[&again]);
    assert_eq!(st[0], 0, "rescue run failed:\n{}", diag(&again));
    let new = &dagman_out(&rundir)[again.out_offset..];
    assert!(new.contains("USING RESCUE DAG"), "{}", tail(new, 40));
    assert_eq!(submissions(&rundir, bad_leaf), 2);
    assert_eq!(
        submissions(&rundir, good_leaf),
        1,
        "done nodes do not rerun"
    );
    run_locally(&tools, &local.join("bad"));
    let acc = result(&rundir);
    assert_eq!(entries(&acc, "Bad"), 20000);
    assert_eq!(entries(&acc, "ZZ"), 20000);
    assert_eq!(acc, result(&local.join("bad")));

    // The state files the POST script writes agree with DAGMan.
    for (dir, node, attempts) in [
        (&condor.join("crash"), None, crash_leaves.len() + 1),
        (&rundir, Some(good_leaf), 1),
    ] {
        let states: Vec<serde_json::Value> = std::fs::read_dir(dir.join("state"))
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                let n = p.file_stem()?.to_str()?.to_string();
                (n.starts_with("leaf-") && !n.ends_with(".skipped") && node.is_none_or(|x| x == n))
                    .then(|| serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap())
            })
            .collect();
        assert!(
            !states.is_empty(),
            "no state/<node>.json in {}",
            dir.display()
        );
        let n: usize = states
            .iter()
            .map(|s| s["attempts"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(n, attempts, "{}", dir.display());
    }
    eprintln!("total {:.1}s", t0.elapsed().as_secs_f64());
    drop(pool);
}
