//! What an analysis plugin tells the host about histograms: their declarations (the JSON of
//! [`HistSpec`]) and the values it fills them with ([`FillArg`]).
//!
//! One definition for both sides: casa-hist checks and fills them, the plugin SDK
//! (casa-plugin) builds them. Plugins carry no histogram engine, so this crate is small and
//! depends on serde alone.

mod fill;
mod spec;

pub use fill::FillArg;
pub use spec::{regular_range, AxisSpec, HistSpec, StorageKind, Transform, MAX_BINS};
