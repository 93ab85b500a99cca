//! Where an attempt runs. [`LocalExecutor`] runs it on this machine as HTCondor would:
//! the PRE script, then the job (vanilla universe in a scratch sandbox with its
//! `transfer_input_files` linked in and its `transfer_output_files` moved back to
//! `initialdir`; local universe in `initialdir`), in its own process group, then the POST
//! script. A job that exits with its `checkpoint_exit_code` is started again at once, as
//! HTCondor does, its `transfer_checkpoint_files` kept (spooled) between runs; the test hook
//! `CASA_RUN_EVICT_AFTER` evicts such jobs (SIGTERM, then a fresh sandbox holding only the
//! checkpoint spooled by the last checkpoint exit before). Other executors (another batch system) implement [`Executor`] the same
//! way.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use casa_run::submit::{parse_environment, SubmitDescription};
use casa_run::Node;

/// Called in the attempt's thread once its job runs, with the job's process group (the
/// runner records it, so that a restarted runner can stop an attempt its killed predecessor
/// left behind; written there, not in the runner's loop, which short jobs keep busy).
pub type OnStart = Box<dyn FnOnce(u32) + Send>;

/// How an attempt ended.
#[derive(Debug)]
pub struct Outcome {
    pub node: usize,
    /// The job's exit code (negative: a signal, or -1 when it could not run).
    pub exit: i32,
    /// The POST script's exit code, which decides the attempt when there is one.
    pub post_exit: Option<i32>,
    pub message: String,
    pub started_unix: f64,
}

/// Runs attempts. `start` must not block: the attempt calls `on_start` at most once, then
/// sends exactly one [`Outcome`] on `done`.
pub trait Executor {
    fn start(
        &self,
        index: usize,
        node: &Node,
        attempt: u32,
        on_start: OnStart,
        done: Sender<Outcome>,
    );
    /// Stop every attempt running now (the run is interrupted).
    fn interrupt(&self);
}

/// Signal a job's process group. Never a group id below 2: `killpg(1)` or a negative pid
/// would reach every process on the machine.
pub(crate) fn kill_group(pgid: u32, sig: nix::sys::signal::Signal) {
    if pgid > 1 && pgid <= i32::MAX as u32 {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid as i32), sig);
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// This machine, one thread per attempt.
pub struct LocalExecutor {
    rundir: PathBuf,
    /// Process groups of the jobs running now.
    groups: Arc<Mutex<Vec<u32>>>,
    evict: Arc<Eviction>,
    /// Set once the run is interrupted: a job that checkpoints on the SIGTERM is not restarted.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

/// Simulated eviction of checkpointing jobs (a test hook, `CASA_RUN_EVICT_AFTER=S1,S2,...`):
/// the k-th run of every attempt of a job with a `checkpoint_exit_code` gets SIGTERM after
/// `Sk` seconds, and its next run starts in a new sandbox ("another slot") with the checkpoint
/// of the last checkpoint exit before, as after `condor_vacate_job`.
#[derive(Debug, Default)]
pub struct Eviction {
    pub after: Vec<Duration>,
}

impl Eviction {
    /// From `CASA_RUN_EVICT_AFTER` (none when unset or unreadable).
    pub fn from_env() -> Eviction {
        let after = std::env::var("CASA_RUN_EVICT_AFTER")
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.trim().parse::<f64>().ok())
            .filter_map(|s| Duration::try_from_secs_f64(s).ok())
            .collect();
        Eviction { after }
    }
}

impl LocalExecutor {
    pub fn new(rundir: &Path) -> LocalExecutor {
        LocalExecutor {
            rundir: rundir.to_path_buf(),
            groups: Arc::default(),
            evict: Arc::new(Eviction::from_env()),
            stopping: Arc::default(),
        }
    }
}

impl Executor for LocalExecutor {
    fn start(
        &self,
        index: usize,
        node: &Node,
        attempt: u32,
        on_start: OnStart,
        done: Sender<Outcome>,
    ) {
        let (rundir, node, groups) = (self.rundir.clone(), node.clone(), self.groups.clone());
        let (evict, stopping) = (self.evict.clone(), self.stopping.clone());
        std::thread::spawn(move || {
            let started_unix = now();
            let (exit, post_exit, message) = run_attempt(
                &rundir, &node, attempt, &groups, &evict, &stopping, on_start,
            );
            let _ = done.send(Outcome {
                node: index,
                exit,
                post_exit,
                message,
                started_unix,
            });
        });
    }

    fn interrupt(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for &pgid in self.groups.lock().expect("groups lock").iter() {
            // The job's whole process group.
            kill_group(pgid, nix::sys::signal::Signal::SIGTERM);
        }
    }
}

/// A DAG script line with DAGMan's macros bound, run in the run directory.
fn script(rundir: &Path, cmd: &str) -> std::io::Result<std::process::Output> {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    Command::new(words.first().copied().unwrap_or_default())
        .args(&words[1..])
        .current_dir(rundir)
        .stdin(Stdio::null())
        .output()
}

fn program(cmd: &str) -> &str {
    cmd.split_whitespace().next().unwrap_or_default()
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A fresh sandbox with the job's inputs linked in and `spooled` (checkpoint files kept from
/// an earlier run) copied in, as HTCondor transfers them to a new slot.
fn make_sandbox(
    sandbox: &Path,
    initialdir: &Path,
    inputs: &str,
    spool: &Path,
    spooled: &[&str],
) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(sandbox);
    std::fs::create_dir_all(sandbox).map_err(|e| format!("{}: {e}", sandbox.display()))?;
    for input in list(inputs) {
        let src = initialdir.join(input);
        let Some(name) = src.file_name() else {
            continue;
        };
        std::os::unix::fs::symlink(&src, sandbox.join(name))
            .map_err(|e| format!("input {input}: {e}"))?;
    }
    for f in spooled {
        copy_tree(&spool.join(f), &sandbox.join(f))
            .map_err(|e| format!("checkpoint file {f}: {e}"))?;
    }
    Ok(())
}

/// Copy a file or a directory tree (nothing when `src` does not exist), replacing `dst`.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    if !src.exists() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(dst);
    let _ = std::fs::remove_file(dst);
    if src.is_dir() {
        std::fs::create_dir_all(dst)?;
        for e in std::fs::read_dir(src)? {
            let e = e?;
            copy_tree(&e.path(), &dst.join(e.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(d) = dst.parent() {
            std::fs::create_dir_all(d)?;
        }
        std::fs::copy(src, dst).map(|_| ())
    }
}

/// One attempt of a node: PRE script, job, POST script. Returns the job's exit, the POST
/// script's, and the attempt's message.
fn run_attempt(
    rundir: &Path,
    node: &Node,
    attempt: u32,
    groups: &Mutex<Vec<u32>>,
    evict: &Eviction,
    stopping: &std::sync::atomic::AtomicBool,
    started: impl FnOnce(u32),
) -> (i32, Option<i32>, String) {
    let fail = |msg: String| (-1, None, msg);
    if let Some(cmd) = &node.pre {
        // DAGMan: a failing PRE script fails the attempt without running the job.
        let cmd = cmd
            .replace("$JOB", &node.name)
            .replace("$RETRY", &attempt.to_string());
        match script(rundir, &cmd) {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return fail(format!(
                    "PRE script failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ))
            }
            Err(e) => return fail(format!("PRE script {}: {e}", program(&cmd))),
        }
    }
    let sub_path = rundir.join(&node.submit);
    let sub = match std::fs::read_to_string(&sub_path) {
        Ok(t) => SubmitDescription::parse(&t),
        Err(e) => return fail(format!("{}: {e}", sub_path.display())),
    };
    let get = |k: &str| sub.get(k, node);
    let universe = get("universe");
    let exe = get("executable");
    let args: Vec<String> = get("arguments")
        .split_whitespace()
        .map(String::from)
        .collect();
    let initialdir = match get("initialdir") {
        s if s.is_empty() => rundir.to_path_buf(),
        s => rundir.join(s),
    };
    // Later runs of a checkpointing job append, so the log keeps every run.
    let open = |k: &str, append: bool| -> std::io::Result<Stdio> {
        match get(k) {
            s if s.is_empty() => Ok(Stdio::null()),
            s => Ok(std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(initialdir.join(s))?
                .into()),
        }
    };
    if let Err(e) = std::fs::create_dir_all(&initialdir) {
        return fail(format!("{}: {e}", initialdir.display()));
    }
    let vanilla = universe != "local";
    let sandbox = initialdir.join(format!(".casa-sandbox-{attempt}"));
    // HTCondor's self-checkpointing: on this code, keep the checkpoint files and run again.
    let checkpoint_code: Option<i32> = get("checkpoint_exit_code").parse().ok().filter(|_| vanilla);
    let ckpt_files_value = get("transfer_checkpoint_files");
    let ckpt_files: Vec<&str> = list(&ckpt_files_value).collect();
    let spool = initialdir.join(format!(".casa-spool-{attempt}"));
    let _ = std::fs::remove_dir_all(&spool);
    let cwd = if vanilla {
        if let Err(e) = make_sandbox(
            &sandbox,
            &initialdir,
            &get("transfer_input_files"),
            &spool,
            &[],
        ) {
            return fail(e);
        }
        sandbox.clone()
    } else {
        initialdir.clone()
    };
    let t0 = Instant::now();
    let mut on_start = Some(started);
    let (mut runs, mut evictions) = (0usize, 0usize);
    let exit = loop {
        let (stdout, stderr) = match (open("output", runs > 0), open("error", runs > 0)) {
            (Ok(o), Ok(e)) => (o, e),
            (Err(e), _) | (_, Err(e)) => return fail(format!("job output files: {e}")),
        };
        let child = Command::new(initialdir.join(&exe))
            .args(&args)
            // The runner's own environment passes on too, as `getenv = true` would.
            .envs(parse_environment(&get("environment")))
            .current_dir(&cwd)
            .stdout(stdout)
            .stderr(stderr)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return fail(format!("cannot start {exe}: {e}")),
        };
        let pgid = child.id();
        groups.lock().expect("groups lock").push(pgid);
        if let Some(f) = on_start.take() {
            f(pgid);
        }
        // The eviction hook: SIGTERM after the delay for this run, unless the job ended.
        let evicting = checkpoint_code
            .and(evict.after.get(runs).copied())
            .map(|after| {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                let h = std::thread::spawn(move || {
                    let fired = matches!(
                        rx.recv_timeout(after),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    );
                    if fired {
                        kill_group(pgid, nix::sys::signal::Signal::SIGTERM);
                    }
                    fired
                });
                (tx, h)
            });
        let status = child.wait();
        let evicted = evicting.is_some_and(|(tx, h)| {
            let _ = tx.send(());
            h.join().unwrap_or(false)
        });
        groups.lock().expect("groups lock").retain(|&p| p != pgid);
        let exit = match status {
            Ok(s) => s.code().unwrap_or_else(|| {
                -(std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(1))
            }),
            Err(e) => return fail(format!("waiting for {exe}: {e}")),
        };
        runs += 1;
        let interrupted = stopping.load(std::sync::atomic::Ordering::Relaxed);
        if checkpoint_code != Some(exit) || interrupted || runs > 100_000 {
            break exit;
        }
        // A checkpoint exit: spool the checkpoint and run again in place. An evicted run's
        // files are lost with its slot, as on HTCondor (which keeps only what a checkpoint
        // exit transferred): the next run, on a "new slot", starts from the last spooled one.
        if !evicted {
            for f in &ckpt_files {
                if let Err(e) = copy_tree(&sandbox.join(f), &spool.join(f)) {
                    return fail(format!("spooling checkpoint file {f}: {e}"));
                }
            }
        } else {
            evictions += 1;
            if let Err(e) = make_sandbox(
                &sandbox,
                &initialdir,
                &get("transfer_input_files"),
                &spool,
                &ckpt_files,
            ) {
                return fail(e);
            }
        }
    };
    if vanilla {
        for out in list(&get("transfer_output_files")) {
            let (src, dst) = (sandbox.join(out), initialdir.join(out));
            if src.exists() {
                let _ = std::fs::remove_dir_all(&dst);
                let _ = std::fs::remove_file(&dst);
                if let Err(e) = std::fs::rename(&src, &dst) {
                    return fail(format!("returning {out}: {e}"));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&sandbox);
        let _ = std::fs::remove_dir_all(&spool);
    }
    let mut message = format!("exit {exit} after {:.1} s", t0.elapsed().as_secs_f64());
    if runs > 1 {
        message.push_str(&format!(
            "; resumed {} times from its checkpoint ({evictions} evictions)",
            runs - 1
        ));
    }
    let post_exit = node.post.as_ref().map(|cmd| {
        let retries = node.retry.map_or(0, |r| r.count);
        let cmd = cmd
            .replace("$JOB", &node.name)
            .replace("$RETURN", &exit.to_string())
            .replace("$RETRY", &attempt.to_string())
            .replace("$MAX_RETRIES", &retries.to_string());
        match script(rundir, &cmd) {
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stderr);
                if let Some(l) = text.lines().last() {
                    message = l.trim_start_matches("casa-submit post: ").to_string();
                }
                o.status.code().unwrap_or(1)
            }
            Err(e) => {
                message = format!("POST script {}: {e}", program(&cmd));
                1
            }
        }
    });
    (exit, post_exit, message)
}
