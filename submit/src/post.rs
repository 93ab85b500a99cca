//! `casa-submit post`: the DAGMan POST script of every node. It turns the wrapper's exit class
//! into DAGMan's decision, and publishes a leaf's outputs only once the partial verifies:
//! success means "partial written and checksum verified", never merely "exit 0".
//!
//! Exit status (what DAGMan sees): 0 done; 1 failed, retry if RETRY allows;
//! [`crate::plan::PERMANENT_EXIT`] failed for good (`RETRY n UNLESS-EXIT 42`). In
//! `--skip-bad-files` mode a permanent input fault is recorded in `state/<node>.skipped.json`
//! and the node counts as done, so the DAG goes on and the merge report lists the gap.

use std::path::Path;

use casa_formats::fsutil::atomic_write;
use casa_formats::{partial, ExitClass, NodeState, NodeStatus};
use casa_run::{NodeName, RunDir};

use crate::plan::PERMANENT_EXIT;

/// What the POST script decided, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub exit: i32,
    pub message: String,
}

fn decide(exit: i32, message: String) -> Decision {
    Decision { exit, message }
}

/// Decide for `node` (its job returned `ret`).
/// What a leaf's state message says when its job resumed from a checkpoint (`status` looks
/// for it before reading the node's metrics).
pub const RESUMED_NOTE: &str = "from its checkpoint";

pub fn post(rundir: &Path, node: &str, ret: i32, skip_bad_files: bool) -> Decision {
    post_with_retries(rundir, node, ret, skip_bad_files, None)
}

/// Like [`post`], knowing DAGMan's `$RETRY` and `$MAX_RETRIES`: a retryable failure on the last
/// retry is recorded as failed.
pub fn post_with_retries(
    rundir: &Path,
    node: &str,
    ret: i32,
    skip_bad_files: bool,
    retries: Option<(u32, u32)>,
) -> Decision {
    let node = match NodeName::parse(node) {
        Ok(n) => n,
        Err(e) => return decide(PERMANENT_EXIT, e.to_string()),
    };
    let run = RunDir::new(rundir);
    let d = decide_node(&run, &node, ret, skip_bad_files);
    let last = retries.is_some_and(|(r, max)| r >= max);
    record(&run, &node, ret, &d, last);
    d
}

/// Keep the node's state file (also on HTCondor, where no casa runner is around): the
/// attempt, and the status the decision implies. A local `casa-submit run` rewrites it with
/// the same attempt after the POST script returns.
fn record(run: &RunDir, node: &NodeName, ret: i32, d: &Decision, last_retry: bool) {
    let path = run.state(node);
    let mut s = match NodeState::read(&path) {
        Ok(Some(s)) => s,
        _ => NodeState::new(node.as_str()),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.as_secs_f64())
        .unwrap_or(0.0);
    // DAGMan runs POST once the job has ended: the attempt started its run time (from the
    // job event log) before now; without the log, all we know is now.
    let run_s = std::fs::read_to_string(run.event_log())
        .ok()
        .and_then(|log| crate::eventlog::node_run_seconds(&log, node.as_str()));
    s.record_attempt(
        now - run_s.unwrap_or(0.0),
        "",
        ret,
        Some(d.exit),
        &d.message,
    );
    s.status = match d.exit {
        0 if run.skipped(node).exists() => NodeStatus::Skipped,
        0 => NodeStatus::Done,
        PERMANENT_EXIT => NodeStatus::Failed,
        _ if last_retry => NodeStatus::Failed,
        _ => NodeStatus::Pending,
    };
    s.pgid = None;
    if s.status == NodeStatus::Done && node.is_leaf() {
        let published = run.partial(node);
        if let Ok((h, _)) = partial::read(&published) {
            s.events_done = h.events;
            s.partial_checksum = partial::stored_checksum(&published);
        }
    }
    // A state file that cannot be written must not turn a good attempt into a failure.
    let _ = s.write(&path);
}

fn decide_node(run: &RunDir, node: &NodeName, ret: i32, skip_bad_files: bool) -> Decision {
    if !node.is_leaf() {
        // Merge nodes: casa-merge's own exit code says it all.
        return if ret == 0 {
            decide(0, format!("{node}: merged"))
        } else {
            decide(1, format!("{node}: casa-merge exited {ret}"))
        };
    }
    let produced = run.returned_partial(node);
    let metrics = run.returned_metrics(node);
    // Keep the metrics of every attempt that wrote them, for the report. This attempt's
    // error message (it names the file) goes into the node's message too.
    let mut error = String::new();
    // Work a checkpointed job resumed (HTCondor restarts it in place; no retry sees it).
    let mut resumed = String::new();
    if metrics.is_file() {
        let kept = run.metrics(node);
        if std::fs::rename(&metrics, &kept).is_ok() {
            let m = std::fs::read(&kept)
                .ok()
                .and_then(|b| serde_json::from_slice::<casa_formats::JobMetrics>(&b).ok());
            if let Some(c) = m.as_ref().map(|m| &m.checkpoint).filter(|c| c.resumed > 0) {
                resumed = format!(
                    "; resumed {} times {RESUMED_NOTE}, {} events processed twice",
                    c.resumed, c.events_reprocessed
                );
            }
            error = m
                .filter(|m| m.exit_class != ExitClass::Success)
                .map(|m| m.error)
                .unwrap_or_default();
        }
    }
    let why = || {
        if error.is_empty() {
            String::new()
        } else {
            format!(": {error}")
        }
    };
    let class = ExitClass::from_code(ret);
    match class {
        Some(ExitClass::Success) => match partial::read(&produced) {
            Ok((header, _)) if header.node == node.as_str() => {
                let dst = run.partial(node);
                match std::fs::rename(&produced, &dst) {
                    Ok(()) => decide(
                        0,
                        format!("{node}: done, {} events{resumed}", header.events),
                    ),
                    Err(e) => decide(1, format!("{node}: cannot publish {}: {e}", dst.display())),
                }
            }
            Ok((header, _)) => decide(
                1,
                format!("{node}: the partial belongs to node {:?}", header.node),
            ),
            Err(e) => decide(1, format!("{node}: exit 0 but {e}")),
        },
        Some(c) if c.retryable() => decide(
            1,
            format!("{node}: {} (exit {ret}), retrying{}", c.name(), why()),
        ),
        Some(ExitClass::PermanentInput) if skip_bad_files => {
            // An empty partial (it covers no chunk) lets the merges go on; the final merge's
            // coverage check then reports the node's chunks as missing.
            let header = partial::PartialHeader {
                run_id: String::new(),
                node: node.to_string(),
                producer: format!(
                    "casa-submit post {} (skipped node)",
                    env!("CARGO_PKG_VERSION")
                ),
                plugin: String::new(),
                chunks: Vec::new(),
                events: 0,
            };
            let empty = serde_json::to_vec(&casa_hist::Accumulator::new()).expect("serialise");
            let record = serde_json::json!({"node": node.as_str(), "exit_class": ExitClass::PermanentInput, "skipped": true});
            let p = run.skipped(node);
            let dst = run.partial(node);
            let written = partial::write(&dst, &header, &empty)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    atomic_write(&p, record.to_string().as_bytes()).map_err(|e| e.to_string())
                });
            match written {
                Ok(()) => decide(
                    0,
                    format!(
                        "{node}: permanent input fault, skipped (--skip-bad-files){}",
                        why()
                    ),
                ),
                Err(e) => decide(1, format!("{node}: cannot record the skip: {e}")),
            }
        }
        Some(c) => decide(
            PERMANENT_EXIT,
            format!("{node}: {} (exit {ret}), not retried{}", c.name(), why()),
        ),
        // Not one of ours: HTCondor's own failures (held, lost, killed) are worth a retry.
        None => decide(1, format!("{node}: job ended with {ret}, retrying")),
    }
}

/// A PRE script failure, naming the node or file.
#[derive(Debug, thiserror::Error)]
pub enum PreError {
    #[error(transparent)]
    Name(#[from] casa_run::NameError),
    #[error("{path}: {source}")]
    Clear {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] casa_formats::state::StateError),
}

/// The DAGMan PRE script of a leaf node: clear what an earlier attempt left in
/// `nodes/<node>/casa-out`, so a stale partial can never be taken for this attempt's, and
/// record the events the node is to read. It does not mark the node running: DAGMan runs PRE
/// before it submits the job, which may then wait idle for minutes (the job event log says
/// when it runs; the POST script records the attempt). An unreadable state file is replaced.
pub fn pre(rundir: &Path, node: &str) -> Result<(), PreError> {
    let node = NodeName::parse(node)?;
    let run = RunDir::new(rundir);
    let out = run.returned_dir(&node);
    match std::fs::remove_dir_all(&out) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(PreError::Clear {
                path: out.display().to_string(),
                source,
            })
        }
    }
    let path = run.state(&node);
    let mut s = match NodeState::read(&path) {
        Ok(s) => s.unwrap_or_else(|| NodeState::new(node.as_str())),
        Err(casa_formats::state::StateError::Corrupt { .. }) => NodeState::new(node.as_str()),
        Err(e) => return Err(e.into()),
    };
    if let Ok(spec) = casa_formats::JobSpec::read(&run.job_spec(&node)) {
        s.events_expected = spec.entries();
    }
    Ok(s.write(&path)?)
}
