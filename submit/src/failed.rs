//! `casa-submit failed-fileset`: the steps of a run that are not done (failed, skipped or not
//! run yet), as a coffea fileset — what coffea's `get_failed_steps_for_fileset` gives — so they
//! can be rerun anywhere. And `resubmit`'s reset of failed nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use casa_formats::state::StateError;
use casa_formats::{Fileset, JobSpec, NodeState, NodeStatus};
use casa_run::{Dag, NodeName, RunDir};

/// Why the failed steps or the reset could not be worked out, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum FailedError {
    #[error(transparent)]
    Fileset(#[from] casa_formats::fileset::FilesetError),
    #[error(transparent)]
    Job(#[from] casa_formats::job::JobError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Node {
        path: String,
        #[source]
        source: casa_run::NameError,
    },
    #[error("{path} {source}")]
    Dag {
        path: String,
        #[source]
        source: casa_run::DagError,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FailedError + '_ {
    move |source| FailedError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The planned fileset reduced to the steps of leaf nodes that are not done.
pub fn failed_fileset(rundir: &Path) -> Result<(Fileset, usize), FailedError> {
    let run = RunDir::new(rundir);
    let planned = Fileset::read(&run.fileset())?;
    // (dataset, file, [start, stop]) of every step whose node is not done.
    let mut missing: BTreeSet<(String, String, [u64; 2])> = BTreeSet::new();
    let mut nodes = 0;
    let jobs = run.jobs_dir();
    for e in std::fs::read_dir(&jobs).map_err(io_error(&jobs))? {
        let path = e.map_err(io_error(&jobs))?.path();
        let spec = JobSpec::read(&path)?;
        let node = NodeName::parse(&spec.node).map_err(|source| FailedError::Node {
            path: path.display().to_string(),
            source,
        })?;
        let state = NodeState::read(&run.state(&node))?;
        let skipped = run.skipped(&node).exists();
        let done = state.is_some_and(|s| s.status == NodeStatus::Done) && !skipped;
        if done {
            continue;
        }
        nodes += 1;
        for c in spec.chunks {
            missing.insert((c.dataset, c.file, [c.entry_start, c.entry_stop]));
        }
    }
    let mut by_file: BTreeMap<(String, String), Vec<[u64; 2]>> = BTreeMap::new();
    for (d, f, s) in missing {
        by_file.entry((d, f)).or_default().push(s);
    }
    let mut out = planned;
    for ds in &mut out.datasets {
        for f in &mut ds.files {
            f.steps = Some(
                by_file
                    .remove(&(ds.name.clone(), f.path.clone()))
                    .unwrap_or_default(),
            );
        }
        ds.files
            .retain(|f| f.steps.as_ref().is_some_and(|s| !s.is_empty()));
    }
    out.datasets.retain(|d| !d.files.is_empty());
    Ok((out, nodes))
}

/// Prepare a run for resubmission: failed and skipped leaf nodes go back to pending (a skipped
/// node's empty partial and skip record are removed). Returns the nodes reset.
pub fn reset_failed(rundir: &Path) -> Result<Vec<String>, FailedError> {
    let run = RunDir::new(rundir);
    let mut reset: Vec<NodeName> = Vec::new();
    let state_dir = run.state_dir();
    let entries = match std::fs::read_dir(&state_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(io_error(&state_dir)(source)),
    };
    for e in entries {
        let p = e.map_err(io_error(&state_dir))?.path();
        let Some(node) = RunDir::state_file_node(&p) else {
            continue;
        };
        let Some(mut s) = NodeState::read(&p)? else {
            continue;
        };
        let skipped = run.skipped(&node);
        if matches!(s.status, NodeStatus::Failed | NodeStatus::Skipped) || skipped.exists() {
            if skipped.exists() {
                let _ = std::fs::remove_file(run.partial(&node));
                std::fs::remove_file(&skipped).map_err(io_error(&skipped))?;
            }
            s.status = NodeStatus::Pending;
            s.message = "reset for resubmission".into();
            s.write(&p)?;
            reset.push(node);
        }
    }
    // Everything downstream (the merges that consumed the old outputs) runs again too.
    let dag_path = run.dag();
    if !reset.is_empty() {
        if let Ok(text) = std::fs::read_to_string(&dag_path) {
            let dag = Dag::parse(&text).map_err(|source| FailedError::Dag {
                path: dag_path.display().to_string(),
                source,
            })?;
            let mut stack: Vec<usize> = reset.iter().filter_map(|n| dag.find(n.as_str())).collect();
            let mut seen: BTreeSet<usize> = stack.iter().copied().collect();
            while let Some(i) = stack.pop() {
                for &c in &dag.node(i).children {
                    if seen.insert(c) {
                        stack.push(c);
                        let name = &dag.node(c).name;
                        let node = NodeName::parse(name).map_err(|source| FailedError::Node {
                            path: dag_path.display().to_string(),
                            source,
                        })?;
                        let p = run.state(&node);
                        if let Some(mut s) = NodeState::read(&p)? {
                            s.status = NodeStatus::Pending;
                            s.message = "reset: an input of this node is rerun".into();
                            s.write(&p)?;
                        }
                    }
                }
            }
        }
    }
    let mut reset: Vec<String> = reset.into_iter().map(|n| n.to_string()).collect();
    reset.sort();
    Ok(reset)
}
