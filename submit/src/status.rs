//! `casa-submit status`: what a run directory's state files say — nodes by status, failures by
//! exit class with one example message each, retries, events processed vs planned, throughput.

use std::collections::BTreeMap;
use std::path::Path;

use casa_formats::{JobSpec, NodeState, NodeStatus};
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Status {
    pub nodes: usize,
    pub by_status: BTreeMap<String, usize>,
    /// Per dataset: leaf nodes by status.
    pub datasets: BTreeMap<String, BTreeMap<String, usize>>,
    /// Exit class of failed attempts -> (count, example message).
    pub failures: BTreeMap<String, (usize, String)>,
    pub retries: usize,
    pub events_planned: u64,
    pub events_done: u64,
    pub events_per_second: f64,
    pub corrupt_state_files: Vec<String>,
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

pub fn status(rundir: &Path) -> Result<Status, String> {
    let mut st = Status::default();
    let jobs = rundir.join("jobs");
    let mut leaf_dataset: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for e in std::fs::read_dir(&jobs).map_err(|e| format!("{}: {e}", jobs.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        let spec = JobSpec::read(&p).map_err(|e| e.to_string())?;
        let ds = spec
            .chunks
            .first()
            .map(|c| c.dataset.clone())
            .unwrap_or_default();
        st.events_planned += spec.entries();
        leaf_dataset.insert(spec.node.clone(), (ds, spec.entries()));
    }
    let dag =
        std::fs::read_to_string(rundir.join("casa.dag")).map_err(|e| format!("casa.dag: {e}"))?;
    let nodes: Vec<&str> = dag
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()?.eq_ignore_ascii_case("JOB"))
                .then(|| w.next())
                .flatten()
        })
        .collect();
    st.nodes = nodes.len();
    let (mut first, mut last) = (f64::MAX, 0f64);
    for node in nodes {
        let p = rundir.join("state").join(format!("{node}.json"));
        let s = match NodeState::read(&p) {
            Ok(Some(s)) => s,
            Ok(None) => NodeState::new(node),
            Err(e) => {
                st.corrupt_state_files.push(e.to_string());
                NodeState::new(node)
            }
        };
        *st.by_status.entry(name(s.status).into()).or_default() += 1;
        if let Some((ds, _)) = leaf_dataset.get(node) {
            *st.datasets
                .entry(ds.clone())
                .or_default()
                .entry(name(s.status).into())
                .or_default() += 1;
            if s.status == NodeStatus::Done {
                st.events_done += s.events_done;
            }
        }
        st.retries += s.attempts.len().saturating_sub(1);
        for a in &s.attempts {
            first = first.min(a.started_unix);
            last = last.max(a.ended_unix);
            if a.post_exit.unwrap_or(a.exit_code) != 0 {
                let e = st
                    .failures
                    .entry(a.exit_class.clone())
                    .or_insert((0, a.message.clone()));
                e.0 += 1;
            }
        }
    }
    if last > first {
        st.events_per_second = st.events_done as f64 / (last - first);
    }
    Ok(st)
}
