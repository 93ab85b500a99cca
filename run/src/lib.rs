//! casa-run: what a casa run is, independent of who executes it.
//!
//! - [`RunDir`]: the run directory's layout (every path a tool reads or writes in it);
//! - [`NodeName`] and [`RunId`]: node names that know their kind (leaf, merge level, final)
//!   and the run id, each validated in one place;
//! - [`Dag`]: the DAGMan language casa writes, one model that `plan` builds, [`Dag`]'s
//!   `Display` writes, [`Dag::parse`] reads back, [`lint`] checks and the local runner executes;
//! - [`submit`]: the subset of HTCondor submit descriptions the local runner honours;
//! - [`scheduler`]: the local runner's decisions (ready set, categories and MAXJOBS, retries),
//!   pure and testable without processes.

pub mod build;
pub mod dag;
pub mod layout;
pub mod lint;
pub mod name;
pub mod scheduler;
pub mod submit;

pub use build::CasaDag;
pub use dag::{Dag, DagError, Node, Retry};
pub use layout::RunDir;
pub use lint::lint;
pub use name::{NameError, NodeKind, NodeName, RunId};
pub use scheduler::{Decision, Scheduler};
