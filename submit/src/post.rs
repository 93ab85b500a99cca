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
use casa_formats::{partial, ExitClass};

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
pub fn post(rundir: &Path, node: &str, ret: i32, skip_bad_files: bool) -> Decision {
    if node.is_empty() || node.contains('/') || node.contains("..") {
        return decide(PERMANENT_EXIT, format!("bad node name {node:?}"));
    }
    if !node.starts_with("leaf-") {
        // Merge nodes: casa-merge's own exit code says it all.
        return if ret == 0 {
            decide(0, format!("{node}: merged"))
        } else {
            decide(1, format!("{node}: casa-merge exited {ret}"))
        };
    }
    let out = rundir.join("nodes").join(node).join("casa-out");
    let produced = out.join(format!("{node}.partial"));
    let metrics = out.join(format!("{node}.metrics.json"));
    // Keep the metrics of every attempt that wrote them, for the report.
    if metrics.is_file() {
        let _ = std::fs::rename(
            &metrics,
            rundir.join("metrics").join(format!("{node}.metrics.json")),
        );
    }
    let class = ExitClass::from_code(ret);
    match class {
        Some(ExitClass::Success) => match partial::read(&produced) {
            Ok((header, _)) if header.node == node => {
                let dst = rundir.join("partials").join(format!("{node}.partial"));
                match std::fs::rename(&produced, &dst) {
                    Ok(()) => decide(0, format!("{node}: done, {} events", header.events)),
                    Err(e) => decide(1, format!("{node}: cannot publish {}: {e}", dst.display())),
                }
            }
            Ok((header, _)) => decide(
                1,
                format!("{node}: the partial belongs to node {:?}", header.node),
            ),
            Err(e) => decide(1, format!("{node}: exit 0 but {e}")),
        },
        Some(c) if c.retryable() => {
            decide(1, format!("{node}: {} (exit {ret}), retrying", c.name()))
        }
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
            let record =
                serde_json::json!({"node": node, "exit_class": "permanent_input", "skipped": true});
            let p = rundir.join("state").join(format!("{node}.skipped.json"));
            let dst = rundir.join("partials").join(format!("{node}.partial"));
            let written = partial::write(&dst, &header, &empty)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    atomic_write(&p, record.to_string().as_bytes()).map_err(|e| e.to_string())
                });
            match written {
                Ok(()) => decide(
                    0,
                    format!("{node}: permanent input fault, skipped (--skip-bad-files)"),
                ),
                Err(e) => decide(1, format!("{node}: cannot record the skip: {e}")),
            }
        }
        Some(c) => decide(
            PERMANENT_EXIT,
            format!("{node}: {} (exit {ret}), not retried", c.name()),
        ),
        // Not one of ours: HTCondor's own failures (held, lost, killed) are worth a retry.
        None => decide(1, format!("{node}: job ended with {ret}, retrying")),
    }
}
