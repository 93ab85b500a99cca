//! A partial's payload into the merge's fast form. The layout is casa-hist's
//! (`casa_hist::payload` reads it, `casa_hist::layout` defines it); this module only hands
//! each histogram to [`MergeAcc`], which keeps the finite ones in its fast exact sums.

use casa_hist::payload::{self as layout_reader, Payload};

use crate::acc::MergeAcc;

/// Reads a payload; `origin` is the input's index (kept for error messages).
pub fn parse(json: &[u8], origin: usize) -> Result<MergeAcc, String> {
    let p = layout_reader::read(json).map_err(|e| e.to_string())?;
    MergeAcc::from_payload(p, origin)
}

/// The fast reader alone, without the fallback to serde (public for the tests, which must see
/// it fail).
#[doc(hidden)]
pub fn parse_fast(json: &[u8], origin: usize) -> Result<MergeAcc, String> {
    let p: Payload = layout_reader::read_fast(json).map_err(|e| e.to_string())?;
    MergeAcc::from_payload(p, origin)
}
