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
