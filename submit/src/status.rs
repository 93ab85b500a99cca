//! `casa-submit status`: what a run directory's state files say — nodes by status, failures by
//! exit class with one example message each, retries, events processed vs planned, throughput.

use std::collections::BTreeMap;
use std::path::Path;

use casa_formats::{JobSpec, NodeStatus, StatusExit};
use casa_run::{NodeName, RunDir};
use serde::Serialize;

/// Why `status` could not read a run directory.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a run directory ({why}; `casa-submit plan` writes one)")]
    NotARun { path: String, why: &'static str },
    #[error(transparent)]
    Job(#[from] casa_formats::job::JobError),
    #[error(transparent)]
    DagFile(#[from] crate::rundag::DagFileError),
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> StatusError + '_ {
    move |source| StatusError::Read {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Status {
    pub nodes: usize,
    pub by_status: BTreeMap<String, usize>,
    /// Per dataset: leaf nodes by status.
    pub datasets: BTreeMap<String, BTreeMap<String, usize>>,
    /// Exit class of failed attempts -> (count, example message).
    pub failures: BTreeMap<String, (usize, String)>,
    pub retries: usize,
    /// Leaves that resumed from their checkpoint (evicted, or checkpointed on schedule).
    pub resumed: Resumed,
    pub events_planned: u64,
    pub events_done: u64,
    pub events_per_second: f64,
    pub corrupt_state_files: Vec<String>,
    /// Files and datasets the plan left out (unreadable with `--skip-bad-files`): the run
    /// cannot be complete.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_files: Vec<casa_formats::SkippedFile>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_datasets: Vec<String>,
    /// What DAGMan's node status file (`casa.status`) says, when the run is on HTCondor.
    pub grid: Option<std::collections::BTreeMap<String, i64>>,
    /// Jobs by their last event in the job event log (`logs/casa.log`): idle, running, held,
    /// finished.
    pub jobs: Option<std::collections::BTreeMap<String, usize>>,
}

/// Work resumed from checkpoints, from the metrics of the leaves whose state says so.
#[derive(Debug, Default, Serialize)]
pub struct Resumed {
    pub nodes: usize,
    /// Runs that resumed, over those nodes.
    pub times: u64,
    /// Events handed to the plugin twice (a run died between checkpoints).
    pub events_reprocessed: u64,
}

/// `by` as `3 done, 1 failed`.
fn counts<V: std::fmt::Display>(by: &BTreeMap<String, V>) -> String {
    by.iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::fmt::Display for Status {
    /// What `casa-submit status` prints without `--json`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} nodes: {}", self.nodes, counts(&self.by_status))?;
        for (ds, by) in &self.datasets {
            writeln!(f, "  {ds}: {}", counts(by))?;
        }
        writeln!(
            f,
            "events: {} of {} ({:.1}%), {:.0} events/s; {} retries",
            self.events_done,
            self.events_planned,
            100.0 * self.events_done as f64 / self.events_planned.max(1) as f64,
            self.events_per_second,
            self.retries
        )?;
        if self.resumed.nodes > 0 {
            writeln!(
                f,
                "resumed from checkpoints: {} nodes, {} times; {} events processed twice",
                self.resumed.nodes, self.resumed.times, self.resumed.events_reprocessed
            )?;
        }
        for (class, (n, msg)) in &self.failures {
            writeln!(f, "failed attempts, {class}: {n} (e.g. {msg})")?;
        }
        for c in &self.corrupt_state_files {
            writeln!(f, "corrupt: {c}")?;
        }
        for s in &self.skipped_files {
            let (ds, file, why) = (&s.dataset, &s.file, &s.reason);
            writeln!(f, "left out of the plan: dataset {ds}: {file}: {why}")?;
        }
        for d in &self.skipped_datasets {
            writeln!(f, "left out of the plan: dataset {d}: no readable file")?;
        }
        if let Some(j) = &self.jobs {
            writeln!(f, "HTCondor jobs (logs/casa.log): {}", counts(j))?;
        }
        if let Some(g) = &self.grid {
            let get = |k: &str| g.get(k).copied().unwrap_or(0);
            writeln!(
                f,
                "HTCondor (casa.status): {} of {} nodes done, {} queued ({} idle, {} held), {} failed",
                get("NodesDone"),
                get("NodesTotal"),
                get("NodesQueued"),
                get("JobProcsIdle"),
                get("JobProcsHeld"),
                get("NodesFailed")
            )?;
        }
        Ok(())
    }
}

impl Status {
    fn count(&self, status: NodeStatus) -> usize {
        self.by_status.get(name(status)).copied().unwrap_or(0)
    }

    /// Nodes not done, skipped or failed yet.
    pub fn open(&self) -> usize {
        self.count(NodeStatus::Pending) + self.count(NodeStatus::Running)
    }

    /// The exit code `status` reports this with: a failed node first (the run cannot finish
    /// by itself), then open nodes, then skipped ones.
    pub fn exit(&self) -> StatusExit {
        if self.count(NodeStatus::Failed) > 0 {
            StatusExit::NodesFailed
        } else if self.open() > 0 {
            StatusExit::InProgress
        } else if self.count(NodeStatus::Skipped) > 0
            || !self.skipped_files.is_empty()
            || !self.skipped_datasets.is_empty()
        {
            // Inputs left out at plan time are missing from the result as skipped nodes are.
            StatusExit::Skipped
        } else {
            StatusExit::Complete
        }
    }
}

/// The state of every job in an HTCondor job event log (userlog text): the last event of
/// each `(cluster.proc.subproc)` decides idle, running, held or finished.
pub fn job_states(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut last: BTreeMap<&str, &'static str> = BTreeMap::new();
    for line in text.lines() {
        let (Some(code), Some(rest)) = (line.get(..3), line.get(4..)) else {
            continue;
        };
        let Some(id) = rest.strip_prefix('(').and_then(|r| r.split(')').next()) else {
            continue;
        };
        let state = match code {
            "000" | "013" => "idle",
            "001" => "running",
            "012" => "held",
            "005" | "009" => "finished",
            _ => continue,
        };
        last.insert(id, state);
    }
    let mut out = BTreeMap::new();
    for s in last.values() {
        *out.entry(s.to_string()).or_default() += 1;
    }
    out
}

/// The DAG-level counters of DAGMan's node status file (ClassAd text): nodes done, queued,
/// failed, job procs idle and held, ...
pub fn grid_status(text: &str) -> Option<std::collections::BTreeMap<String, i64>> {
    let mut out = std::collections::BTreeMap::new();
    let mut in_dag = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_dag = false;
        }
        if l.replace(' ', "").starts_with("Type=\"DagStatus\"") {
            in_dag = true;
        }
        if !in_dag {
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            let v = v.split(';').next().unwrap_or("").trim();
            if let Ok(n) = v.parse::<i64>() {
                out.insert(k.trim().to_string(), n);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn name(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Pending => "pending",
        NodeStatus::Running => "running",
        NodeStatus::Done => "done",
        NodeStatus::Failed => "failed",
        NodeStatus::Skipped => "skipped",
    }
}

/// What `status` needs of a state file (it skips the rest while parsing).
#[derive(serde::Deserialize)]
struct Lite {
    status: NodeStatus,
    #[serde(default)]
    events_done: u64,
    #[serde(default)]
    attempts: Vec<casa_formats::Attempt>,
    #[serde(default)]
    message: String,
}

pub fn status(rundir: &Path) -> Result<Status, StatusError> {
    use rayon::prelude::*;
    let run = RunDir::new(rundir);
    if !run.dag().is_file() {
        return Err(StatusError::NotARun {
            path: rundir.display().to_string(),
            why: if rundir.is_dir() {
                "no casa.dag in it"
            } else {
                "no such directory"
            },
        });
    }
    let mut st = Status::default();
    // Which leaf holds which dataset: from the manifest (fast), or from the job specs.
    let mut leaf_dataset: Vec<(usize, usize, String)> = Vec::new();
    let manifest: Option<serde_json::Value> = std::fs::read(run.manifest())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let ranges: Option<Vec<crate::plan::LeafRange>> = manifest
        .as_ref()
        .and_then(|m| serde_json::from_value(m["totals"]["leaf_ranges"].clone()).ok());
    if let Some(m) = &manifest {
        let totals = &m["totals"];
        st.skipped_files =
            serde_json::from_value(totals["skipped_files"].clone()).unwrap_or_default();
        st.skipped_datasets =
            serde_json::from_value(totals["skipped_datasets"].clone()).unwrap_or_default();
    }
    match ranges {
        Some(r) => {
            for x in r {
                st.events_planned += x.events;
                leaf_dataset.push((x.first, x.first + x.count, x.dataset));
            }
        }
        None => {
            let jobs = run.jobs_dir();
            for e in std::fs::read_dir(&jobs).map_err(read_error(&jobs))? {
                let p = e.map_err(read_error(&jobs))?.path();
                let spec = JobSpec::read(&p)?;
                let Some(i) = NodeName::parse(&spec.node)
                    .ok()
                    .and_then(|n| n.leaf_index())
                else {
                    continue;
                };
                st.events_planned += spec.entries();
                let ds = spec
                    .chunks
                    .first()
                    .map(|c| c.dataset.clone())
                    .unwrap_or_default();
                leaf_dataset.push((i, i + 1, ds));
            }
            leaf_dataset.sort();
        }
    }
    let dataset_of = |node: &NodeName| -> Option<&str> {
        let i = node.leaf_index()?;
        let k = leaf_dataset.partition_point(|r| r.1 <= i);
        leaf_dataset
            .get(k)
            .filter(|r| r.0 <= i)
            .map(|r| r.2.as_str())
    };
    let (_, nodes) = crate::rundag::load(&run)?;
    st.nodes = nodes.len();
    let states: Vec<Result<Option<Lite>, String>> = nodes
        .par_iter()
        .map(|node| {
            let p = run.state(node);
            match std::fs::read(&p) {
                Ok(b) => serde_json::from_slice::<Lite>(&b)
                    .map(Some)
                    .map_err(|e| format!("{}: corrupt state file: {e}", p.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", p.display())),
            }
        })
        .collect();
    // On HTCondor a node runs when its job does (the PRE script leaves it pending).
    let event_log = std::fs::read_to_string(run.event_log()).ok();
    let running = (event_log.as_deref()).map(crate::eventlog::running_nodes);
    let (mut first, mut last) = (f64::MAX, 0f64);
    for (node, s) in nodes.iter().zip(states) {
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                st.corrupt_state_files.push(e);
                None
            }
        };
        let mut status = s.as_ref().map_or(NodeStatus::Pending, |s| s.status);
        if status == NodeStatus::Pending
            && running.as_ref().is_some_and(|r| r.contains(node.as_str()))
        {
            status = NodeStatus::Running;
        }
        *st.by_status.entry(name(status).into()).or_default() += 1;
        // A leaf without a state file yet is a pending one of its dataset.
        let ds = dataset_of(node);
        if let Some(ds) = ds {
            *st.datasets
                .entry(ds.to_string())
                .or_default()
                .entry(name(status).into())
                .or_default() += 1;
        }
        let Some(s) = s else { continue };
        if ds.is_some() && status == NodeStatus::Done {
            st.events_done += s.events_done;
        }
        st.retries += s.attempts.len().saturating_sub(1);
        // Only the few leaves whose POST said so: no metrics read for the others.
        if status == NodeStatus::Done && s.message.contains(crate::post::RESUMED_NOTE) {
            if let Some(m) = std::fs::read(run.metrics(node))
                .ok()
                .and_then(|b| serde_json::from_slice::<casa_formats::JobMetrics>(&b).ok())
            {
                st.resumed.nodes += 1;
                st.resumed.times += u64::from(m.checkpoint.resumed);
                st.resumed.events_reprocessed += m.checkpoint.events_reprocessed;
            }
        }
        for a in &s.attempts {
            first = first.min(a.started_unix);
            last = last.max(a.ended_unix);
            if a.post_exit.unwrap_or(a.exit_code) != 0 {
                let e = st
                    .failures
                    .entry(a.exit_class.to_string())
                    .or_insert((0, a.message.clone()));
                e.0 += 1;
            }
        }
    }
    if last > first {
        st.events_per_second = st.events_done as f64 / (last - first);
    }
    st.grid = std::fs::read_to_string(run.node_status())
        .ok()
        .and_then(|t| grid_status(&t));
    st.jobs = event_log.map(|t| job_states(&t));
    Ok(st)
}

#[cfg(test)]
mod tests {
    use casa_formats::StatusExit;

    /// A failed node decides first, then open nodes, then skipped ones.
    #[test]
    fn the_exit_code_says_where_the_run_stands() {
        let st = |by: &[(&str, usize)]| super::Status {
            by_status: by.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            ..Default::default()
        };
        assert_eq!(st(&[("done", 3)]).exit(), StatusExit::Complete);
        // Every node done, but a file was left out at plan time (--skip-bad-files).
        let mut left_out = st(&[("done", 3)]);
        left_out.skipped_files.push(casa_formats::SkippedFile {
            dataset: "ZZ".into(),
            file: "/no/such.root".into(),
            reason: "No such file".into(),
        });
        assert_eq!(left_out.exit(), StatusExit::Skipped);
        assert_eq!(
            st(&[("done", 2), ("pending", 1)]).exit(),
            StatusExit::InProgress
        );
        assert_eq!(
            st(&[("running", 1), ("failed", 1)]).exit(),
            StatusExit::NodesFailed
        );
        assert_eq!(
            st(&[("done", 2), ("skipped", 1)]).exit(),
            StatusExit::Skipped
        );
        assert_eq!(
            st(&[("skipped", 1), ("pending", 1)]).exit(),
            StatusExit::InProgress
        );
        assert_eq!(
            [
                StatusExit::Complete,
                StatusExit::NodesFailed,
                StatusExit::InProgress,
                StatusExit::Skipped
            ]
            .map(StatusExit::code),
            [0, 3, 4, 5]
        );
    }

    #[test]
    fn reads_dagmans_node_status_file() {
        let text = "[\n  Type = \"DagStatus\";\n  DagFiles = { \"casa.dag\" };\n  DagStatus = 3; /* \"STATUS_SUBMITTED ()\" */\n  NodesTotal = 12;\n  NodesDone = 11;\n  NodesQueued = 1;\n  NodesFailed = 0;\n  JobProcsHeld = 1;\n  JobProcsIdle = 0;\n]\n[\n  Type = \"NodeStatus\";\n  Node = \"A\";\n  NodeStatus = 5;\n]\n";
        let g = super::grid_status(text).unwrap();
        assert_eq!(g["NodesDone"], 11);
        assert_eq!(g["JobProcsHeld"], 1);
        assert!(!g.contains_key("NodeStatus"));
    }

    #[test]
    fn reads_the_job_event_log() {
        let log = "000 (012.000.000) 2026-11-22 01:00:00 Job submitted from host: <127.0.0.1:9618>\n...\n\
                   000 (013.000.000) 2026-11-22 01:00:00 Job submitted from host: <127.0.0.1:9618>\n...\n\
                   001 (012.000.000) 2026-11-22 01:00:01 Job executing on host: <127.0.0.1:9618>\n...\n\
                   000 (014.000.000) 2026-11-22 01:00:02 Job submitted from host: <127.0.0.1:9618>\n...\n\
                   012 (014.000.000) 2026-11-22 01:00:03 Job was held.\n...\n\
                   005 (012.000.000) 2026-11-22 01:00:04 Job terminated.\n...\n";
        let s = super::job_states(log);
        assert_eq!((s["finished"], s["idle"], s["held"]), (1, 1, 1));
    }
}
