//! casa's wire formats, in one small crate that every tool links: the job spec a leaf job
//! reads, the envelope of a partial result, the metrics a job writes, the exit-code table the
//! DAGMan POST script acts on, and the atomic file write they all use.
//!
//! Every format carries a `major.minor` version: readers accept any minor of their major and
//! refuse other majors by name.

pub mod checkpoint;
mod envelope;
pub mod exit;
pub mod fileset;
pub mod fsutil;
pub mod job;
pub mod metrics;
pub mod partial;
pub mod state;

pub use exit::{AttemptExit, ExitClass, StatusExit};

/// The most threads (or jobs at once) any casa tool's `-j` accepts: more is a typo, not a
/// machine (`-j 10000` once spent 51 s and 1.6 GB starting threads for 100 events).
pub const MAX_THREADS: u64 = 1024;
pub use fileset::{Dataset, FileSpec, Fileset, SkippedFile};
pub use job::{Chunk, JobSpec};
pub use metrics::JobMetrics;
pub use partial::{PartialError, PartialHeader};
pub use state::{Attempt, NodeState, NodeStatus};
