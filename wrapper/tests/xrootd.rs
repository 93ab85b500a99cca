//! `casa-wrapper run` on `root://` inputs from a real xrootd data server and a real XCache
//! (Debian's xrootd, on the loopback of a private network namespace per test; see
//! tests/xrootd/harness.rs): the same columns and the same dimuon histogram as from the local
//! file, and the documented exit classes when servers fail.

#[macro_use]
#[path = "../../tests/xrootd/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use casa_formats::partial;
use casa_formats::{Chunk, ExitClass, JobSpec};
use casa_hist::Accumulator;
use casa_test_support::{build_cdylib, fixture, real_file};
use casa_wrapper::run::{open_input, InputOptions};
use harness::Servers;
use rootio::RootFile;
use serde_json::Value;

fn dimuon() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("dimuon"))
}

/// Counts nMuon; `CASA_TEST_MODE=slow` sleeps 200 ms per batch (a job to break mid-read).
fn misbehave() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("misbehave"))
}

fn zz() -> PathBuf {
    fixture("root-zstd.root")
}

fn ttbar() -> PathBuf {
    real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root")
}

/// The fixtures every test exports.
fn export() -> [(&'static str, PathBuf); 2] {
    [("mc/zz.root", zz()), ("mc/ttbar.root", ttbar())]
}

fn servers(xcache: bool) -> Servers {
    let files = export();
    let refs: Vec<(&str, &Path)> = files.iter().map(|(p, f)| (*p, f.as_path())).collect();
    if xcache {
        Servers::both(&refs)
    } else {
        Servers::origin(&refs)
    }
}

fn chunk(file: &str, stop: u64) -> Chunk {
    Chunk {
        dataset: "ZZ".into(),
        file: file.into(),
        tree: "Events".into(),
        entry_start: 0,
        entry_stop: stop,
        uuid: None,
        metadata: serde_json::json!({"is_mc": true}),
    }
}

/// A job in its own directory: `job.json`, and after the run `p.partial`, `m.json`.
struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new(chunks: Vec<Chunk>) -> Job {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("job.json"),
            serde_json::to_vec(&JobSpec::new("test", "leaf-0", chunks)).unwrap(),
        )
        .unwrap();
        Job { dir }
    }

    fn command(&self, plugin: &Path, extra: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(env!("CARGO_BIN_EXE_casa-wrapper"));
        c.arg("run")
            .arg("--job")
            .arg(d.join("job.json"))
            .arg("--plugin")
            .arg(plugin)
            .arg("--out")
            .arg(d.join("p.partial"))
            .arg("--metrics")
            .arg(d.join("m.json"))
            .args(extra)
            .env_remove("CASA_XCACHE");
        c
    }

    fn run(&self, plugin: &Path, extra: &[&str]) -> Output {
        self.command(plugin, extra).output().unwrap()
    }

    fn spawn(&self, plugin: &Path, extra: &[&str], env: &[(&str, &str)]) -> Child {
        self.command(plugin, extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn accumulator(&self) -> Accumulator {
        let (_, payload) = partial::read(&self.dir.path().join("p.partial")).unwrap();
        serde_json::from_slice(&payload).unwrap()
    }

    fn metrics(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.path().join("m.json")).unwrap()).unwrap()
    }

    fn has_partial(&self) -> bool {
        self.dir.path().join("p.partial").exists()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_class(o: &Output, class: ExitClass, needles: &[&str]) {
    assert_eq!(
        o.status.code(),
        Some(class.code() as i32),
        "expected {class:?}: {}",
        stderr(o)
    );
    for n in needles {
        assert!(stderr(o).contains(n), "stderr lacks {n:?}: {}", stderr(o));
    }
}

/// A dimuon job over both fixtures; returns the accumulator and the metrics.
fn dimuon_job(zz: &str, ttbar: &str, extra: &[&str]) -> (Accumulator, Value) {
    let job = Job::new(vec![chunk(zz, 20000), chunk(ttbar, 200)]);
    let o = job.run(dimuon(), extra);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (job.accumulator(), job.metrics())
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn root_inputs_give_the_local_results_direct_and_through_the_cache() {
    dimuon();
    isolated!(root_inputs_give_the_local_results_direct_and_through_the_cache);
    let s = servers(true);
    let (zz_url, tt_url) = (
        s.origin.url("/store/mc/zz.root"),
        s.origin.url("/store/mc/ttbar.root"),
    );

    // The columns themselves, through the wrapper's input opening.
    let names = ["nMuon", "Muon_pt", "Muon_eta", "Muon_charge"];
    let local = RootFile::open(path_str(&ttbar())).unwrap();
    let want = local.tree("Events").unwrap().read(&names, 0, 200).unwrap();
    let direct = InputOptions::default();
    let cached = InputOptions {
        xcache: Some(s.xcache.address()),
        ..InputOptions::default()
    };
    for opts in [&direct, &cached] {
        let input = Arc::new(open_input(&tt_url, opts).unwrap());
        let remote = RootFile::from_source(input).unwrap();
        assert_eq!(remote.uuid(), local.uuid());
        let got = remote.tree("Events").unwrap().read(&names, 0, 200).unwrap();
        for (g, w) in got.columns.iter().zip(&want.columns) {
            assert_eq!(g.values, w.values, "{}", g.name);
            assert_eq!(g.offsets, w.offsets, "{}", g.name);
        }
    }

    // `casa-wrapper inspect --dump` prints the same values from root:// as from the file.
    let dump = |f: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_casa-wrapper"))
            .args([
                "inspect", f, "--tree", "Events", "--dump", "nMuon", "Muon_pt",
            ])
            .args(["--entries", "0:50", "--json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["branches"].clone()
    };
    assert_eq!(dump(&tt_url), dump(path_str(&ttbar())));

    // The dimuon histogram: local, from the data server, through the XCache (cold, then
    // warm), with and without vector reads, and with the cache from the environment.
    let (want, local_m) = dimuon_job(path_str(&zz()), path_str(&ttbar()), &[]);
    assert!(local_m["read_latency_us"]["local"].is_string());
    let (got, m) = dimuon_job(&zz_url, &tt_url, &[]);
    assert_eq!(got, want, "from the data server");
    assert!(m["read_latency_us"]["127.0.0.1:11094"].is_string(), "{m}");
    assert!(m["bytes_read"].as_u64().unwrap() > 0);
    let xcache = s.xcache.address();
    for round in ["cold", "warm"] {
        let (got, m) = dimuon_job(&zz_url, &tt_url, &["--xcache", &xcache]);
        assert_eq!(got, want, "through the XCache, {round}");
        let servers: Vec<&String> = m["read_latency_us"].as_object().unwrap().keys().collect();
        assert_eq!(servers, ["127.0.0.1:11095"], "{round}");
    }
    let (got, _) = dimuon_job(&zz_url, &tt_url, &["--no-vector-reads"]);
    assert_eq!(got, want, "one request per basket");
    let job = Job::new(vec![chunk(&zz_url, 20000), chunk(&tt_url, 200)]);
    let o = job
        .command(dimuon(), &[])
        .env("CASA_XCACHE", &xcache)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(job.accumulator(), want, "CASA_XCACHE");
    assert!(job.metrics()["read_latency_us"]["127.0.0.1:11095"].is_string());

    let cached = s.cached();
    for name in ["zz.root", "ttbar.root"] {
        assert!(
            cached
                .iter()
                .any(|(p, len)| p.ends_with(format!("store/mc/{name}")) && *len > 0),
            "{name} is in the cache: {cached:?}"
        );
    }
}

#[test]
fn missing_and_forbidden_inputs_are_permanent_failures() {
    dimuon();
    isolated!(missing_and_forbidden_inputs_are_permanent_failures);
    let s = servers(true);
    std::fs::set_permissions(
        s.exported("mc/ttbar.root"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    for (path, what) in [
        ("/store/mc/nope.root", "no such file"),
        ("/store/mc/ttbar.root", "permission denied"),
    ] {
        let url = s.origin.url(path);
        for extra in [vec![], vec!["--xcache".to_string(), s.xcache.address()]] {
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            let job = Job::new(vec![chunk(&url, 10)]);
            let t = Instant::now();
            let o = job.run(dimuon(), &extra);
            assert_class(&o, ExitClass::PermanentInput, &[&url, what, "dataset ZZ"]);
            assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
            assert!(!job.has_partial());
            assert_eq!(job.metrics()["exit_class"], "permanent_input");
        }
    }
    // Nothing listens there at all: retryable, and quick.
    let url = "root://127.0.0.1:11099//store/mc/zz.root";
    let job = Job::new(vec![chunk(url, 10)]);
    let t = Instant::now();
    let o = job.run(dimuon(), &["--io-attempts", "2", "--io-backoff", "0.2"]);
    assert_class(&o, ExitClass::RetryableInput, &[url]);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

/// Start a slow job (10 batches of 2000 entries, 200 ms each) on `url`.
fn slow_job(url: &str, extra: &[&str]) -> (Job, Child) {
    let job = Job::new(vec![chunk(url, 20000)]);
    let child = job.spawn(
        misbehave(),
        &[&["--batch-entries", "2000"], extra].concat(),
        &[("CASA_TEST_MODE", "slow")],
    );
    (job, child)
}

/// The same job on the local file, without the sleeps: the result to expect.
fn counted_locally() -> Accumulator {
    let job = Job::new(vec![chunk(path_str(&zz()), 20000)]);
    let o = job.run(misbehave(), &["--batch-entries", "2000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    job.accumulator()
}

#[test]
fn a_server_killed_mid_read_is_a_retryable_failure_within_the_deadline() {
    misbehave();
    isolated!(a_server_killed_mid_read_is_a_retryable_failure_within_the_deadline);
    let mut s = servers(false);
    let url = s.origin.url("/store/mc/zz.root");
    let (job, mut child) = slow_job(
        &url,
        &[
            "--io-attempts",
            "2",
            "--io-backoff",
            "0.3",
            "--read-timeout",
            "3",
        ],
    );
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the job is still running"
    );
    s.origin.kill();
    let killed = Instant::now();
    let o = child.wait_with_output().unwrap();
    let took = killed.elapsed();
    assert_class(&o, ExitClass::RetryableInput, &[&url, "dataset ZZ"]);
    assert!(took < Duration::from_secs(3), "{took:?} after the kill");
    assert!(!job.has_partial());
    assert_eq!(job.metrics()["exit_class"], "retryable_input");

    // What DAGMan does next: run the job again, once the server is back.
    s.origin.start();
    let job = Job::new(vec![chunk(&url, 20000)]);
    let o = job.run(misbehave(), &["--batch-entries", "2000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(job.accumulator(), counted_locally());
}

#[test]
fn a_server_restarted_mid_job_lets_the_retry_succeed() {
    misbehave();
    isolated!(a_server_restarted_mid_job_lets_the_retry_succeed);
    let mut s = servers(false);
    let url = s.origin.url("/store/mc/zz.root");
    let (job, mut child) = slow_job(&url, &["--io-attempts", "8", "--io-backoff", "0.2"]);
    std::thread::sleep(Duration::from_millis(500));
    // Batches are read one ahead of the plugin: the rest must come from the new server.
    assert!(
        child.try_wait().unwrap().is_none(),
        "the job is still running"
    );
    s.origin.kill();
    std::thread::sleep(Duration::from_millis(1000));
    s.origin.start();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(job.accumulator(), counted_locally());
}

#[test]
fn the_origin_takes_over_when_the_cache_dies_mid_job() {
    misbehave();
    isolated!(the_origin_takes_over_when_the_cache_dies_mid_job);
    let mut s = servers(true);
    let url = s.origin.url("/store/mc/zz.root");
    let xcache = s.xcache.address();
    let (job, child) = slow_job(&url, &["--xcache", &xcache]);
    std::thread::sleep(Duration::from_millis(500));
    s.xcache.kill();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(job.accumulator(), counted_locally());
    let m = job.metrics();
    let servers: Vec<&String> = m["read_latency_us"].as_object().unwrap().keys().collect();
    assert_eq!(servers, ["127.0.0.1:11094", "127.0.0.1:11095"], "{m}");
}

#[test]
fn parallel_jobs_share_one_server() {
    dimuon();
    isolated!(parallel_jobs_share_one_server);
    let s = servers(true);
    let (zz_url, tt_url) = (
        s.origin.url("/store/mc/zz.root"),
        s.origin.url("/store/mc/ttbar.root"),
    );
    let (want, _) = dimuon_job(path_str(&zz()), path_str(&ttbar()), &[]);
    let xcache = s.xcache.address();
    let jobs: Vec<(Job, Child)> = (0..6)
        .map(|i| {
            let job = Job::new(vec![chunk(&zz_url, 20000), chunk(&tt_url, 200)]);
            let extra: Vec<&str> = if i % 2 == 0 {
                vec!["-j", "2"]
            } else {
                vec!["-j", "2", "--xcache", &xcache]
            };
            let child = job.spawn(dimuon(), &extra, &[]);
            (job, child)
        })
        .collect();
    for (job, child) in jobs {
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(job.accumulator(), want);
    }
}

#[test]
fn the_binary_needs_no_xrootd_for_local_inputs() {
    dimuon();
    // The executable itself links glibc only; the XRootD client comes with the first
    // root:// input.
    let ldd = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_casa-wrapper"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ldd.stdout);
    for lib in ["libXrd", "libstdc++", "libssl"] {
        assert!(!text.contains(lib), "casa-wrapper links {lib}:\n{text}");
    }
    if !harness::without_xrootd_client("the_binary_needs_no_xrootd_for_local_inputs") {
        return;
    }
    // Here libXrdCl.so.3 is an empty file: XRootD is "not installed".
    let (want, _) = {
        let job = Job::new(vec![chunk(path_str(&zz()), 20000)]);
        let o = job.run(dimuon(), &[]);
        assert_eq!(o.status.code(), Some(0), "local input: {}", stderr(&o));
        (job.accumulator(), ())
    };
    assert!(!want.datasets.is_empty());
    let url = "root://127.0.0.1:11094//store/mc/zz.root";
    let job = Job::new(vec![chunk(url, 10)]);
    let o = job.run(dimuon(), &[]);
    // Another worker may have XRootD: retryable.
    assert_class(
        &o,
        ExitClass::RetryableInput,
        &[url, "XRootD support unavailable", "libXrdCl.so.3"],
    );
}
