//! The DAG `casa-submit plan` writes: leaf nodes with PRE and POST scripts and retries, then
//! a merge tree of fan-in K up to `merge-final`.

use crate::dag::{Dag, DagError, Node};
use crate::layout::RunDir;
use crate::name::{NodeName, RunId};

/// What the DAG of a plan depends on. Paths are written as given: the planner checks they
/// need no quoting in HTCondor files.
#[derive(Debug, Clone)]
pub struct CasaDag<'a> {
    pub run_id: &'a RunId,
    pub leaves: usize,
    pub fan_in: usize,
    /// RETRY of the leaves.
    pub retries: u32,
    /// The POST script's exit for a permanent failure (the leaves' UNLESS-EXIT).
    pub permanent_exit: i32,
    /// The casa-submit binary (PRE and POST scripts).
    pub submit: &'a str,
    /// The run directory, absolute.
    pub rundir: &'a str,
    pub skip_bad_files: bool,
    pub max_merge_jobs: u32,
}

/// The DAG and its merge nodes' count.
impl CasaDag<'_> {
    pub fn build(&self) -> Result<(Dag, usize), DagError> {
        let mut dag = Dag::new();
        dag.comment(&format!(
            "casa run {}: {} leaf jobs, merge fan-in {}",
            self.run_id, self.leaves, self.fan_in
        ));
        dag.comment(
            "Written by casa-submit plan; run with condor_submit_dag casa.dag from this directory.",
        );
        let (submit, rundir) = (self.submit, self.rundir);
        let post_mode = if self.skip_bad_files {
            " --skip-bad-files"
        } else {
            ""
        };
        let mut level_nodes = Vec::with_capacity(self.leaves);
        for i in 0..self.leaves {
            let node = NodeName::leaf(i);
            let n = Node::new(node.as_str(), "leaf.sub")
                .var("node", node.as_str())
                .retry(self.retries, Some(self.permanent_exit))
                .pre(format!("{submit} pre {rundir} $JOB $RETRY"))
                .post(format!(
                    "{submit} post{post_mode} {rundir} $JOB $RETURN $RETRY $MAX_RETRIES"
                ));
            level_nodes.push((dag.add_node(n)?, node));
        }
        // Merge levels of at most fan_in children, until one node remains. The merges run in
        // the run directory: their paths are relative to it.
        let rel = RunDir::relative();
        let fan_in = self.fan_in.max(2);
        let mut merges = 0;
        let mut level = 1;
        loop {
            let last = level_nodes.len() <= fan_in;
            let mut next = Vec::new();
            for (i, group) in level_nodes.chunks(fan_in).enumerate() {
                let node = match last {
                    true => NodeName::final_merge(),
                    false => NodeName::merge(level, i),
                };
                let inputs: Vec<String> = group
                    .iter()
                    .map(|(_, n)| rel.partial(n).display().to_string())
                    .collect();
                let args = if last {
                    format!(
                        "-o {} --node {node} --plan . --outdir {}{} --fan-in {fan_in} {}",
                        rel.merged_partial().display(),
                        rel.result_dir().display(),
                        if self.skip_bad_files {
                            " --allow-missing"
                        } else {
                            ""
                        },
                        inputs.join(" ")
                    )
                } else {
                    format!(
                        "-o {} --node {node} --fan-in {fan_in} {}",
                        rel.partial(&node).display(),
                        inputs.join(" ")
                    )
                };
                // The POST script keeps the merge node's state file too, so `status` agrees
                // with DAGMan on HTCondor (casa-merge's own exit code decides).
                let n = Node::new(node.as_str(), "merge.sub")
                    .var("node", node.as_str())
                    .var("args", args)
                    .category("merge")
                    .retry(1, None)
                    .post(format!(
                        "{submit} post {rundir} $JOB $RETURN $RETRY $MAX_RETRIES"
                    ));
                let idx = dag.add_node(n)?;
                for (p, _) in group {
                    dag.add_edge(*p, idx);
                }
                merges += 1;
                next.push((idx, node));
            }
            if last {
                break;
            }
            level_nodes = next;
            level += 1;
        }
        dag.max_jobs("merge", self.max_merge_jobs);
        dag.node_status_file(RunDir::NODE_STATUS, 30);
        Ok((dag, merges))
    }
}
