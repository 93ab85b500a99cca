//! casa-submit as a library: preprocessing coffea filesets, the coffea manipulations users
//! rely on, planning a run directory (job specs, DAG, submit files), the DAG lint and the
//! DAGMan POST script.

pub mod dag;
pub mod dagrun;
pub mod failed;
pub mod manipulate;
pub mod plan;
pub mod post;
pub mod preprocess;
pub mod scaffold;
pub mod status;
