//! Reading a partial for the merge: every header first (the exactly-once check wants every
//! bad file named before anything is merged), each payload later, once. Both go through
//! `casa_formats::partial`, so the checks and their wording are the format crate's.

use std::path::Path;

use casa_formats::partial::{self, PartialHeader};
use casa_formats::PartialError;

fn read_file(path: &Path) -> Result<Vec<u8>, PartialError> {
    std::fs::read(path).map_err(|source| PartialError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads `path`, checks magic, version, lengths and checksum, and parses the header, without
/// decompressing the payload.
pub fn scan(path: &Path) -> Result<PartialHeader, PartialError> {
    let bytes = read_file(path)?;
    partial::verify(&bytes, &path.display().to_string()).map(|(h, _)| h)
}

/// Reads and verifies `path` and returns its payload (the accumulator's JSON).
pub fn payload(path: &Path) -> Result<Vec<u8>, PartialError> {
    let bytes = read_file(path)?;
    partial::decode(&bytes, &path.display().to_string()).map(|(_, p)| p)
}
