//! `casa-submit run`: execute a run directory's DAG on this machine with DAGMan's semantics
//! for what casa generates — node dependencies, RETRY with UNLESS-EXIT, PRE and POST scripts
//! with their macros, VARS substituted into the submit files, MAXJOBS per category — reading
//! the same casa.dag and .sub files HTCondor would, so a local run tests the grid files.
//!
//! Three parts: [`casa_run::Scheduler`] decides (ready set, limits, retries) without
//! processes; an [`Executor`] runs attempts ([`LocalExecutor`]: sandbox and spawn on this
//! machine); the [`Reporter`] shows progress. This module loads the run, keeps every node's
//! state in `state/<node>.json` and wires the three together. Running again after Ctrl-C,
//! SIGKILL or a reboot skips the nodes whose state says done and whose outputs still verify.

mod executor;
mod reporter;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use casa_formats::state::StateError;
use casa_formats::{partial, NodeState, NodeStatus};
use casa_run::scheduler::Decision;
use casa_run::{NodeName, RunDir, Scheduler};

pub use casa_run::submit::{expand, parse_environment};
pub use executor::{Executor, LocalExecutor, OnStart, Outcome};
pub use reporter::{Progress, Reporter};

/// Options of a local run.
#[derive(Debug, Clone)]
pub struct LocalRunOptions {
    pub jobs: usize,
    pub progress: bool,
}

/// How a run ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalRunReport {
    pub done: usize,
    pub skipped: usize,
    pub failed: Vec<(String, String)>,
    pub not_run: usize,
    pub reused: usize,
    pub attempts: usize,
    pub events: u64,
    pub wall_s: f64,
    pub interrupted: bool,
}

impl std::fmt::Display for LocalRunReport {
    /// The summary line `casa-submit run` ends with.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} nodes done ({} already done before), {} skipped, {} failed, {} not run; {} events in {:.1} s",
            self.done,
            self.reused,
            self.skipped,
            self.failed.len(),
            self.not_run,
            self.events,
            self.wall_s
        )
    }
}

/// Why a local run could not go on, naming the file or node.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    DagFile(#[from] crate::rundag::DagFileError),
    #[error(transparent)]
    State(#[from] StateError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A node's state as this run starts: done only if its output is still there and whole;
/// an attempt a killed runner left behind is stopped.
fn resume(run: &RunDir, node: &NodeName) -> Result<NodeState, RunError> {
    let path = run.state(node);
    let mut s = match NodeState::read(&path) {
        Ok(s) => s.unwrap_or_else(|| NodeState::new(node.as_str())),
        Err(StateError::Corrupt { what, .. }) => return recover(run, node, &what),
        Err(e) => return Err(e.into()),
    };
    match s.status {
        NodeStatus::Done => {
            if let Err(e) = partial::read(&run.output(node)) {
                s.status = NodeStatus::Pending;
                s.message = format!("was done, but {e}: running it again");
            }
        }
        NodeStatus::Skipped => {}
        _ => {
            if let Some(pgid) = s.pgid.take() {
                // A runner killed mid-attempt leaves its job running: stop it before the node
                // runs again, so two attempts never write the same outputs. Process ids are
                // reused, so only a group whose leader still works in this run directory is
                // ours to kill.
                let cwd = std::fs::read_link(format!("/proc/{pgid}/cwd")).ok();
                let ours = cwd.is_some_and(|c| {
                    c.starts_with(run.root())
                        || std::fs::canonicalize(run.root()).is_ok_and(|r| c.starts_with(r))
                });
                if ours {
                    executor::kill_group(pgid, nix::sys::signal::Signal::SIGKILL);
                }
            }
            s.status = NodeStatus::Pending;
        }
    }
    if s.events_expected == 0 && node.is_leaf() {
        if let Ok(spec) = casa_formats::JobSpec::read(&run.job_spec(node)) {
            s.events_expected = spec.entries();
        }
    }
    Ok(s)
}

/// A node whose state file is unreadable (empty, truncated, not JSON, another version) is in
/// an unknown state: it is done if its output verifies and is its own (as a done node's is
/// checked), skipped if its skip record is there, pending otherwise. The state file is
/// written anew, so the damage is reported once, in the node's message.
fn recover(run: &RunDir, node: &NodeName, what: &str) -> Result<NodeState, RunError> {
    let mut s = NodeState::new(node.as_str());
    let output = run.output(node);
    match partial::read(&output) {
        _ if run.skipped(node).exists() => {
            s.status = NodeStatus::Skipped;
            s.message = format!("state file was unreadable ({what}); its skip record stands");
        }
        Ok((h, _)) if h.node == node.as_str() => {
            s.status = NodeStatus::Done;
            s.events_done = h.events;
            s.partial_checksum = partial::stored_checksum(&output);
            s.message = format!("state file was unreadable ({what}); its output verifies: done");
        }
        _ => s.message = format!("state file was unreadable ({what}): running it again"),
    }
    if node.is_leaf() {
        if let Ok(spec) = casa_formats::JobSpec::read(&run.job_spec(node)) {
            s.events_expected = spec.entries();
        }
    }
    tracing::warn!("{node}: {}", s.message);
    s.write(&run.state(node))?;
    Ok(s)
}

/// Run the DAG in `rundir` on this machine.
pub fn run(
    rundir: &Path,
    opts: &LocalRunOptions,
    stop: &AtomicBool,
) -> Result<LocalRunReport, RunError> {
    run_with(rundir, opts, stop, &LocalExecutor::new(rundir))
}

/// Run the DAG in `rundir` with `executor`.
pub fn run_with(
    rundir: &Path,
    opts: &LocalRunOptions,
    stop: &AtomicBool,
    executor: &dyn Executor,
) -> Result<LocalRunReport, RunError> {
    let t0 = Instant::now();
    let run = RunDir::new(rundir);
    let (dag, names) = crate::rundag::load(&run)?;
    let state_dir = run.state_dir();
    std::fs::create_dir_all(&state_dir).map_err(io_error(&state_dir))?;
    let mut states = names
        .iter()
        .map(|n| resume(&run, n))
        .collect::<Result<Vec<_>, _>>()?;
    let initial: Vec<NodeStatus> = states.iter().map(|s| s.status).collect();
    let reused = initial.iter().filter(|s| **s == NodeStatus::Done).count();
    let mut report = LocalRunReport {
        done: 0,
        skipped: 0,
        failed: Vec::new(),
        not_run: 0,
        reused,
        attempts: 0,
        events: 0,
        wall_s: 0.0,
        interrupted: false,
    };
    let mut sched = Scheduler::new(&dag, &initial);
    let reporter = Reporter::new(dag.nodes().len(), sched.finished(), opts.progress);
    let (tx, rx) = mpsc::channel::<Outcome>();
    loop {
        if stop.load(Ordering::Relaxed) {
            report.interrupted = true;
            executor.interrupt();
        }
        // Start what may start (nothing once interrupted).
        while let Some((i, attempt)) = (!report.interrupted)
            .then(|| sched.next(opts.jobs))
            .flatten()
        {
            states[i].status = NodeStatus::Running;
            let path = run.state(&names[i]);
            states[i].write(&path)?;
            let mut running = states[i].clone();
            let on_start: OnStart = Box::new(move |pgid| {
                running.pgid = Some(pgid);
                // Only for a later runner's cleanup: a failed write must not fail the attempt.
                let _ = running.write(&path);
            });
            executor.start(i, dag.node(i), attempt, on_start, tx.clone());
        }
        if sched.running() == 0 {
            break;
        }
        // A timeout, to notice Ctrl-C while every job runs on.
        let o = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(o) => o,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let (i, node) = (o.node, &names[o.node]);
        report.attempts += 1;
        let state = &mut states[i];
        state.record_attempt(o.started_unix, "local", o.exit, o.post_exit, &o.message);
        state.pgid = None;
        let decision = sched.finish(
            i,
            o.post_exit.unwrap_or(o.exit),
            run.skipped(node).exists(),
            report.interrupted,
        );
        state.status = sched.status(i);
        if matches!(decision, Decision::Done | Decision::Skipped) {
            let output = run.output(node);
            if let Ok((h, _)) = partial::read(&output) {
                state.events_done = h.events;
                state.partial_checksum = partial::stored_checksum(&output);
                if node.is_leaf() {
                    report.events += h.events;
                }
            }
        }
        state.write(&run.state(node))?;
        reporter.attempt(
            node.as_str(),
            decision,
            &o.message,
            Progress {
                finished: sched.finished(),
                running: sched.running(),
                failed: sched.failed(),
                events: report.events,
            },
        );
    }
    reporter.finish();
    for (i, s) in sched.statuses().iter().enumerate() {
        match s {
            NodeStatus::Done => report.done += 1,
            NodeStatus::Skipped => report.skipped += 1,
            NodeStatus::Failed => report
                .failed
                .push((names[i].to_string(), states[i].message.clone())),
            _ => report.not_run += 1,
        }
    }
    report.wall_s = t0.elapsed().as_secs_f64();
    Ok(report)
}
