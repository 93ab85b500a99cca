//! The run directory: every path casa's tools read or write in it, named once.
//!
//! ```text
//! RUNDIR/
//!   manifest.json        casa version, fileset and plugin SHA-256, every option, totals
//!   fileset.json         the preprocessed fileset planned
//!   casa.dag             leaf nodes, a merge tree of fan-in K, RETRY/SCRIPT/CATEGORY/...
//!   casa.status          DAGMan's node status file (on HTCondor)
//!   leaf.sub merge.sub   rendered from templates/
//!   bin/                 the wrapper, the plugin and the merge tool, as planned
//!   inputs/<name>        files shipped with every leaf job (`plan --input`), when there are any
//!   jobs/<node>.json     one job spec per leaf node
//!   nodes/<node>/        a leaf's initialdir; HTCondor returns its casa-out/ there
//!   partials/<node>.partial    published by the POST script once verified (merge levels too)
//!   metrics/<node>.metrics.json
//!   state/<node>.json    the node's state; state/<node>.skipped.json for skipped leaves
//!   logs/                job stdout/stderr and HTCondor's job event log (casa.log)
//!   result/              merged.partial, histograms.json, plots/, report.{json,md}
//! ```
//!
//! The submit templates (`templates/*.sub.j2`) spell the same names for HTCondor, which
//! expands them per node; `submit/tests/snapshots` guards that they agree.

use std::path::{Path, PathBuf};

use crate::name::{NodeKind, NodeName};

/// A run directory. [`RunDir::relative`] gives the same paths relative to the run directory,
/// as written into the DAG (merge nodes run there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The subdirectories `plan` creates.
    pub const DIRS: [&'static str; 8] = [
        "jobs", "nodes", "partials", "metrics", "state", "logs", "result", "bin",
    ];
    /// The DAG file's name, as given to `condor_submit_dag`.
    pub const DAG: &'static str = "casa.dag";
    /// DAGMan's node status file, as named in the DAG.
    pub const NODE_STATUS: &'static str = "casa.status";
    /// The merged result's name in `result/` (or any merge output directory).
    pub const MERGED_PARTIAL: &'static str = "merged.partial";

    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    /// Paths relative to the run directory (`partials/leaf-000001.partial`).
    pub fn relative() -> RunDir {
        RunDir::new("")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn at(&self, parts: &[&str]) -> PathBuf {
        let mut p = self.root.clone();
        for part in parts {
            p.push(part);
        }
        p
    }

    /// Create the layout's directories.
    pub fn create(&self) -> std::io::Result<()> {
        for d in Self::DIRS {
            std::fs::create_dir_all(self.root.join(d))?;
        }
        Ok(())
    }

    pub fn manifest(&self) -> PathBuf {
        self.at(&["manifest.json"])
    }
    pub fn fileset(&self) -> PathBuf {
        self.at(&["fileset.json"])
    }
    pub fn dag(&self) -> PathBuf {
        self.at(&[Self::DAG])
    }
    pub fn node_status(&self) -> PathBuf {
        self.at(&[Self::NODE_STATUS])
    }
    /// A submit file named in the DAG (`leaf.sub`, `merge.sub`).
    pub fn submit_file(&self, name: &str) -> PathBuf {
        self.at(&[name])
    }
    pub fn bin_dir(&self) -> PathBuf {
        self.at(&["bin"])
    }

    /// The files shipped with every leaf job (`plan --input`); created only when there are
    /// some.
    pub fn inputs_dir(&self) -> PathBuf {
        self.at(&["inputs"])
    }
    /// A shipped input, by its file name (what the plugin opens it as).
    pub fn input(&self, name: &str) -> PathBuf {
        self.at(&["inputs", name])
    }

    pub fn jobs_dir(&self) -> PathBuf {
        self.at(&["jobs"])
    }
    /// A leaf's job spec.
    pub fn job_spec(&self, node: &NodeName) -> PathBuf {
        self.at(&["jobs", &format!("{node}.json")])
    }

    pub fn nodes_dir(&self) -> PathBuf {
        self.at(&["nodes"])
    }
    /// A leaf's initialdir.
    pub fn node_dir(&self, node: &NodeName) -> PathBuf {
        self.at(&["nodes", node.as_str()])
    }
    /// What a leaf job returns: its partial and metrics, before the POST script checks them.
    pub fn returned_dir(&self, node: &NodeName) -> PathBuf {
        self.at(&["nodes", node.as_str(), "casa-out"])
    }
    pub fn returned_partial(&self, node: &NodeName) -> PathBuf {
        self.at(&[
            "nodes",
            node.as_str(),
            "casa-out",
            &format!("{node}.partial"),
        ])
    }
    pub fn returned_metrics(&self, node: &NodeName) -> PathBuf {
        self.at(&[
            "nodes",
            node.as_str(),
            "casa-out",
            &format!("{node}.metrics.json"),
        ])
    }

    pub fn partials_dir(&self) -> PathBuf {
        self.at(&["partials"])
    }
    /// A verified partial of a leaf or an inner merge node.
    pub fn partial(&self, node: &NodeName) -> PathBuf {
        self.at(&["partials", &format!("{node}.partial")])
    }

    pub fn metrics_dir(&self) -> PathBuf {
        self.at(&["metrics"])
    }
    pub fn metrics(&self, node: &NodeName) -> PathBuf {
        self.at(&["metrics", &format!("{node}.metrics.json")])
    }

    pub fn state_dir(&self) -> PathBuf {
        self.at(&["state"])
    }
    pub fn state(&self, node: &NodeName) -> PathBuf {
        self.at(&["state", &format!("{node}.json")])
    }
    /// The record that a leaf was skipped (`--skip-bad-files`).
    pub fn skipped(&self, node: &NodeName) -> PathBuf {
        self.at(&["state", &format!("{node}.skipped.json")])
    }
    /// The node a file in `state/` belongs to: `Some` for `<node>.json` only.
    pub fn state_file_node(path: &Path) -> Option<NodeName> {
        let name = path.file_name()?.to_str()?.strip_suffix(".json")?;
        if name.ends_with(".skipped") {
            return None;
        }
        NodeName::parse(name).ok()
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.at(&["logs"])
    }
    /// HTCondor's job event log (the submit files' `log`).
    pub fn event_log(&self) -> PathBuf {
        self.at(&["logs", "casa.log"])
    }

    pub fn result_dir(&self) -> PathBuf {
        self.at(&["result"])
    }
    pub fn merged_partial(&self) -> PathBuf {
        self.at(&["result", Self::MERGED_PARTIAL])
    }

    /// Where a node's verified output is: `partials/<node>.partial`, or the final merge's
    /// `result/merged.partial`.
    pub fn output(&self, node: &NodeName) -> PathBuf {
        match node.kind() {
            NodeKind::Final => self.merged_partial(),
            NodeKind::Leaf(_) | NodeKind::Merge { .. } => self.partial(node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let r = RunDir::new("/runs/a");
        let leaf = NodeName::leaf(1);
        assert_eq!(r.state(&leaf), Path::new("/runs/a/state/leaf-000001.json"));
        assert_eq!(
            r.returned_partial(&leaf),
            Path::new("/runs/a/nodes/leaf-000001/casa-out/leaf-000001.partial")
        );
        assert_eq!(
            r.output(&NodeName::final_merge()),
            Path::new("/runs/a/result/merged.partial")
        );
        let rel = RunDir::relative();
        assert_eq!(
            rel.partial(&NodeName::merge(1, 0)),
            Path::new("partials/merge-1-000000.partial")
        );
        assert_eq!(rel.merged_partial(), Path::new("result/merged.partial"));
        assert_eq!(
            r.input("corrections.json"),
            Path::new("/runs/a/inputs/corrections.json")
        );
        assert_eq!(RunDir::state_file_node(&r.state(&leaf)), Some(leaf.clone()));
        assert_eq!(RunDir::state_file_node(&r.skipped(&leaf)), None);
    }
}
