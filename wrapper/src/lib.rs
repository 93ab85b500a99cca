//! The casa job wrapper as a library: the plugin host, the job runner and `inspect`. The
//! `casa-wrapper` binary is a thin command line over it.

pub mod checkpoint;
pub mod host;
pub mod inspect;
pub mod latency;
pub mod run;
