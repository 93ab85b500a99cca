//! casa-submit as a library: preprocessing coffea filesets, the coffea manipulations users
//! rely on, planning a run directory (job specs, DAG, submit files), the local runner, status
//! and the DAGMan PRE and POST scripts. The run directory's layout, node names and the DAG
//! model (with its lint) are casa-run's.

pub mod cli;
pub mod columns;
pub mod dagrun;
pub mod eventlog;
pub mod failed;
pub mod inputs;
pub mod manipulate;
pub mod plan;
pub mod post;
pub mod preprocess;
pub mod rundag;
pub mod scaffold;
pub mod ship;
pub mod status;
