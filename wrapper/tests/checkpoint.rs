//! Self-checkpointing (`casa-wrapper run --checkpoint-dir`): a job stopped by its interval or
//! by SIGTERM writes a checkpoint and exits 85; run again, it resumes, and its partial is the
//! same bytes as an uninterrupted run's. Checkpoints of another job, or corrupt ones, are
//! ignored with a warning. A hard kill between checkpoints loses work, which the metrics count.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use casa_formats::partial;
use casa_formats::{Chunk, ExitClass, JobMetrics, JobSpec};
use casa_test_support::{build_cdylib, fixture};

const CHECKPOINTED: i32 = ExitClass::Checkpointed.code() as i32;

fn dimuon() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("dimuon"))
}

fn misbehave() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("misbehave"))
}

fn chunk(file: &Path, start: u64, stop: u64) -> Chunk {
    Chunk {
        dataset: "ZZ".into(),
        file: file.to_string_lossy().into_owned(),
        tree: "Events".into(),
        entry_start: start,
        entry_stop: stop,
        uuid: None,
        metadata: serde_json::json!({"is_mc": true}),
    }
}

/// A job in its own directory: the job spec, where the partial, metrics and checkpoint go.
struct Job {
    dir: tempfile::TempDir,
    plugin: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Job {
    fn new(plugin: &Path, node: &str, chunks: Vec<Chunk>, args: &[&str]) -> Job {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("job.json"),
            serde_json::to_vec(&JobSpec::new("ckpt-test", node, chunks)).unwrap(),
        )
        .unwrap();
        Job {
            dir,
            plugin: plugin.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
        }
    }
    fn env(mut self, k: &str, v: &str) -> Job {
        self.env.push((k.into(), v.into()));
        self
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_casa-wrapper"));
        c.arg("run")
            .arg("--job")
            .arg(self.path("job.json"))
            .arg("--plugin")
            .arg(&self.plugin)
            .arg("--out")
            .arg(self.path("p.partial"))
            .arg("--metrics")
            .arg(self.path("m.json"))
            .args(&self.args)
            .args(extra)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }
    fn ckpt_args(&self, every: &str) -> Vec<String> {
        vec![
            "--checkpoint-dir".into(),
            self.path("casa-ckpt").display().to_string(),
            "--checkpoint-every".into(),
            every.into(),
        ]
    }
    fn run(&self, extra: &[&str]) -> Output {
        self.command(extra).output().unwrap()
    }
    /// Run with checkpoints every `every` seconds, again and again while it exits 85, as
    /// HTCondor does; returns how many times it checkpointed.
    fn run_to_end(&self, every: &str) -> usize {
        let args = self.ckpt_args(every);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        for n in 0..500 {
            let o = self.run(&args);
            match o.status.code() {
                Some(0) => return n,
                Some(CHECKPOINTED) => continue,
                _ => panic!(
                    "exit {:?}: {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                ),
            }
        }
        panic!("still checkpointing after 500 runs");
    }
    fn partial_bytes(&self) -> Vec<u8> {
        partial::read(&self.path("p.partial")).expect("the partial verifies");
        std::fs::read(self.path("p.partial")).unwrap()
    }
    fn metrics(&self) -> JobMetrics {
        serde_json::from_slice(&std::fs::read(self.path("m.json")).unwrap()).unwrap()
    }
}

/// The partial of the same job run straight through, without checkpoints.
fn clean(
    plugin: &Path,
    node: &str,
    chunks: Vec<Chunk>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Vec<u8> {
    let mut j = Job::new(plugin, node, chunks, args);
    for (k, v) in env {
        j = j.env(k, v);
    }
    let o = j.run(&[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    j.partial_bytes()
}

fn two_chunks() -> Vec<Chunk> {
    let f = fixture("root-nano-lzma9.root");
    vec![chunk(&f, 0, 7300), chunk(&f, 7300, 20000)]
}

#[test]
fn a_job_checkpointed_after_every_batch_ends_with_the_same_bytes() {
    let args = ["--batch-entries", "1000", "-j", "1"];
    let want = clean(dimuon(), "leaf-1", two_chunks(), &args, &[]);
    let job = Job::new(dimuon(), "leaf-1", two_chunks(), &args);
    // Every 0 s: a checkpoint, and an exit, after every batch.
    let restarts = job.run_to_end("0");
    assert!(restarts >= 3, "{restarts} checkpoints");
    assert_eq!(job.partial_bytes(), want);
    let m = job.metrics();
    assert_eq!(m.events, 20000, "every event counted once");
    assert_eq!(m.chunks, 2);
    assert_eq!(m.checkpoint.written as usize, restarts);
    assert_eq!(m.checkpoint.resumed as usize, restarts);
    assert_eq!(m.checkpoint.events_reprocessed, 0);
    assert!(
        m.checkpoint.last_bytes > 0 && m.checkpoint.write_s > 0.0,
        "{m:?}"
    );
    // Done: the checkpoint is gone, so a retry starts afresh rather than from a stale one.
    assert!(!job.path("casa-ckpt/checkpoint").exists());
}

/// Property: SIGTERM at random times (several runs, pipelined or not), then runs until done;
/// the partial is always the clean run's bytes and every event is counted once.
#[test]
fn sigterm_at_random_times_resumes_to_the_same_bytes() {
    let f = fixture("root-zstd.root");
    let chunks = || vec![chunk(&f, 0, 6000), chunk(&f, 6000, 15000)];
    let env = [("CASA_TEST_MODE", "smear"), ("CASA_TEST_SLEEP_MS", "40")];
    // xorshift: random, yet the same every run of the test.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for threads in ["1", "2"] {
        let args = ["--batch-entries", "500", "-j", threads];
        let want = clean(misbehave(), "leaf-7", chunks(), &args, &env);
        for round in 0..3 {
            let mut job = Job::new(misbehave(), "leaf-7", chunks(), &args);
            for (k, v) in env {
                job = job.env(k, v);
            }
            let ck = job.ckpt_args("3600");
            let ck: Vec<&str> = ck.iter().map(String::as_str).collect();
            let mut evictions = 0;
            // Evict up to three times at random moments, then let it finish.
            let done = loop {
                let child = job.command(&ck).stderr(Stdio::piped()).spawn().unwrap();
                if evictions == 3 {
                    break child.wait_with_output().unwrap();
                }
                std::thread::sleep(Duration::from_millis(150 + next() % 700));
                let _ = nix_kill(child.id(), "TERM");
                let o = child.wait_with_output().unwrap();
                match o.status.code() {
                    Some(CHECKPOINTED) => evictions += 1,
                    Some(0) => break o,
                    _ => panic!(
                        "threads {threads} round {round}: {:?}: {}",
                        o.status,
                        String::from_utf8_lossy(&o.stderr)
                    ),
                }
            };
            assert!(
                done.status.success(),
                "{}",
                String::from_utf8_lossy(&done.stderr)
            );
            assert_eq!(
                job.partial_bytes(),
                want,
                "threads {threads} round {round}: {evictions} evictions"
            );
            let m = job.metrics();
            assert_eq!(m.events, 15000);
            assert_eq!(m.checkpoint.resumed, evictions);
            assert_eq!(m.checkpoint.events_reprocessed, 0, "SIGTERM loses no work");
        }
    }
}

fn nix_kill(pid: u32, sig: &str) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
}

#[test]
fn foreign_and_corrupt_checkpoints_are_ignored_with_a_warning() {
    let args = ["--batch-entries", "1000", "-j", "1"];
    let want = clean(dimuon(), "leaf-2", two_chunks(), &args, &[]);
    // A checkpoint of another node of the run (same files, other chunks).
    let f = fixture("root-nano-lzma9.root");
    let other = Job::new(dimuon(), "leaf-3", vec![chunk(&f, 0, 5000)], &args);
    let ck = other.ckpt_args("0");
    let ck: Vec<&str> = ck.iter().map(String::as_str).collect();
    assert_eq!(other.run(&ck).status.code(), Some(CHECKPOINTED));
    let foreign = std::fs::read(other.path("casa-ckpt/checkpoint")).unwrap();
    let job = Job::new(dimuon(), "leaf-2", two_chunks(), &args);
    let ck = job.ckpt_args("3600");
    let ck: Vec<&str> = ck.iter().map(String::as_str).collect();
    std::fs::create_dir_all(job.path("casa-ckpt")).unwrap();
    let mut truncated = foreign.clone();
    truncated.truncate(foreign.len() / 2);
    for (bytes, needle) in [
        (foreign, "another job's: node is \"leaf-3\""),
        (truncated, "corrupt checkpoint"),
        (b"not a checkpoint at all".to_vec(), "bad magic"),
    ] {
        std::fs::write(job.path("casa-ckpt/checkpoint"), bytes).unwrap();
        let o = job.run(&ck);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(
            err.contains("warning:")
                && err.contains(needle)
                && err.contains("starting from the beginning"),
            "{err}"
        );
        assert_eq!(job.partial_bytes(), want);
        assert_eq!(job.metrics().checkpoint.resumed, 0);
    }
}

/// A hard kill (SIGKILL, out of memory, a lost machine) writes no checkpoint: the next attempt
/// resumes from the last one and counts the events handed to the plugin twice.
#[test]
fn a_hard_kill_between_checkpoints_counts_the_events_processed_twice() {
    let f = fixture("root-zstd.root");
    let chunks = || vec![chunk(&f, 0, 15000)];
    let args = ["--batch-entries", "1000", "-j", "1"];
    let env = [("CASA_TEST_MODE", "smear")];
    let want = clean(misbehave(), "leaf-4", chunks(), &args, &env);
    let job = Job::new(misbehave(), "leaf-4", chunks(), &args)
        .env("CASA_TEST_MODE", "smear")
        .env("CASA_TEST_SLEEP_MS", "100");
    // First attempt: checkpoint after the first batch.
    let ck0 = job.ckpt_args("0");
    let ck0: Vec<&str> = ck0.iter().map(String::as_str).collect();
    assert_eq!(job.run(&ck0).status.code(), Some(CHECKPOINTED));
    // Second: resumes, processes some batches, is killed without a checkpoint.
    let ck = job.ckpt_args("3600");
    let ck: Vec<&str> = ck.iter().map(String::as_str).collect();
    let handed = || -> u64 {
        std::fs::read(job.path("casa-ckpt/progress.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["events_handed"].as_u64())
            .unwrap_or(0)
    };
    let first = handed();
    let mut child = job.command(&ck).stderr(Stdio::null()).spawn().unwrap();
    // Killed once it has processed a batch or two past the checkpoint.
    let t = std::time::Instant::now();
    while handed() <= first && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap();
    child.wait().unwrap();
    // Third: resumes from the first checkpoint, finishes.
    let o = job.run(&ck);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(job.partial_bytes(), want);
    let m = job.metrics();
    assert_eq!(m.events, 15000);
    assert_eq!(m.checkpoint.resumed, 2, "{m:?}");
    let lost = m.checkpoint.events_reprocessed;
    assert!(lost > 0 && lost < 15000, "events processed twice: {lost}");
}
