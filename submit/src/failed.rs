//! `casa-submit failed-fileset`: the steps of a run that are not done (failed, skipped or not
//! run yet), as a coffea fileset — what coffea's `get_failed_steps_for_fileset` gives — so they
//! can be rerun anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use casa_formats::{Fileset, JobSpec, NodeState, NodeStatus};

/// The planned fileset reduced to the steps of leaf nodes that are not done.
pub fn failed_fileset(rundir: &Path) -> Result<(Fileset, usize), String> {
    let planned = Fileset::read(&rundir.join("fileset.json")).map_err(|e| e.to_string())?;
    // (dataset, file, [start, stop]) of every step whose node is not done.
    let mut missing: BTreeSet<(String, String, [u64; 2])> = BTreeSet::new();
    let mut nodes = 0;
    let jobs = rundir.join("jobs");
    for e in std::fs::read_dir(&jobs).map_err(|e| format!("{}: {e}", jobs.display()))? {
        let spec =
            JobSpec::read(&e.map_err(|e| e.to_string())?.path()).map_err(|e| e.to_string())?;
        let state = NodeState::read(&rundir.join("state").join(format!("{}.json", spec.node)))
            .map_err(|e| e.to_string())?;
        let skipped = rundir
            .join("state")
            .join(format!("{}.skipped.json", spec.node))
            .exists();
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
pub fn reset_failed(rundir: &Path) -> Result<Vec<String>, String> {
    let mut reset = Vec::new();
    let state_dir = rundir.join("state");
    let entries = match std::fs::read_dir(&state_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(reset),
        Err(e) => return Err(format!("{}: {e}", state_dir.display())),
    };
    for e in entries {
        let p = e.map_err(|e| e.to_string())?.path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Some(node) = name
            .strip_suffix(".json")
            .filter(|n| !n.ends_with(".skipped"))
        else {
            continue;
        };
        let Some(mut s) = NodeState::read(&p).map_err(|e| e.to_string())? else {
            continue;
        };
        let skipped = state_dir.join(format!("{node}.skipped.json"));
        if matches!(s.status, NodeStatus::Failed | NodeStatus::Skipped) || skipped.exists() {
            if skipped.exists() {
                let _ =
                    std::fs::remove_file(rundir.join("partials").join(format!("{node}.partial")));
                std::fs::remove_file(&skipped)
                    .map_err(|e| format!("{}: {e}", skipped.display()))?;
            }
            s.status = NodeStatus::Pending;
            s.message = "reset for resubmission".into();
            s.write(&p).map_err(|e| e.to_string())?;
            reset.push(node.to_string());
        }
    }
    // Everything downstream (the merges that consumed the old outputs) runs again too.
    if !reset.is_empty() {
        if let Ok(text) = std::fs::read_to_string(rundir.join("casa.dag")) {
            let dag = crate::dagrun::Dag::parse(&text)?;
            let mut stack: Vec<usize> = reset
                .iter()
                .filter_map(|n| dag.index.get(n).copied())
                .collect();
            let mut seen: BTreeSet<usize> = stack.iter().copied().collect();
            while let Some(i) = stack.pop() {
                for &c in &dag.nodes[i].children {
                    if seen.insert(c) {
                        stack.push(c);
                        let p = state_dir.join(format!("{}.json", dag.nodes[c].name));
                        if let Some(mut s) = NodeState::read(&p).map_err(|e| e.to_string())? {
                            s.status = NodeStatus::Pending;
                            s.message = "reset: an input of this node is rerun".into();
                            s.write(&p).map_err(|e| e.to_string())?;
                        }
                    }
                }
            }
        }
    }
    reset.sort();
    Ok(reset)
}
