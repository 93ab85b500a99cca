//! Verifying a partial without decompressing its payload: the exactly-once check needs every
//! header (and wants every bad file named) before anything is merged, and decompressing
//! thousands of payloads twice would double the merge's cost.
//!
//! The layout is `casa_formats::partial`'s (magic, version, lengths, header, payload,
//! xxh64). Whenever a check here fails, the file is handed to `casa_formats::partial::decode`
//! so that the error (and its wording) is the format crate's own.

use std::path::Path;

use casa_formats::partial::{self, PartialHeader, MAGIC, PARTIAL_FORMAT_VERSION};
use casa_formats::PartialError;

const FIXED: usize = 24;

/// A verified partial's header, and the size of its file.
pub struct Scanned {
    pub header: PartialHeader,
    pub bytes: u64,
}

fn read_file(path: &Path) -> Result<Vec<u8>, PartialError> {
    std::fs::read(path).map_err(|source| PartialError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The format crate's error for bytes this module found bad.
fn canonical_error(bytes: &[u8], path: &Path) -> PartialError {
    let name = path.display().to_string();
    match partial::decode(bytes, &name) {
        Err(e) => e,
        // Only a disagreement between this module and the format crate gets here.
        Ok(_) => PartialError::Corrupt {
            path: name,
            what: "envelope check disagrees with casa-formats (please report)".into(),
        },
    }
}

/// Reads `path`, checks magic, version, lengths and checksum, and parses the header.
pub fn scan(path: &Path) -> Result<Scanned, PartialError> {
    let bytes = read_file(path)?;
    match verified(&bytes).and_then(|(h, _)| serde_json::from_slice(&bytes[FIXED..h]).ok()) {
        Some(header) => Ok(Scanned {
            header,
            bytes: bytes.len() as u64,
        }),
        None => Err(canonical_error(&bytes, path)),
    }
}

/// Reads and verifies `path` and returns its payload (the accumulator's JSON), decompressed
/// in one call into a buffer of the size the zstd frame declares (about twice as fast as
/// `casa_formats::partial::read`'s streaming decoder on large payloads).
pub fn payload(path: &Path) -> Result<Vec<u8>, PartialError> {
    let bytes = read_file(path)?;
    let fast = verified(&bytes).and_then(|(h, p)| {
        let z = &bytes[h..p];
        let size = zstd::zstd_safe::get_frame_content_size(z).ok()??;
        zstd::bulk::decompress(z, usize::try_from(size).ok()?).ok()
    });
    match fast {
        Some(json) => Ok(json),
        None => partial::decode(&bytes, &path.display().to_string()).map(|(_, p)| p),
    }
}

/// The end offsets of the header and of the payload, if magic, version, lengths and
/// checksum are right.
fn verified(bytes: &[u8]) -> Option<(usize, usize)> {
    if bytes.len() < FIXED + 8 || &bytes[..8] != MAGIC {
        return None;
    }
    let major = u16::from_le_bytes([bytes[8], bytes[9]]);
    if major != PARTIAL_FORMAT_VERSION.0 {
        return None;
    }
    let h = u32::from_le_bytes(bytes[12..16].try_into().ok()?) as u64;
    let p = u64::from_le_bytes(bytes[16..24].try_into().ok()?);
    let want = (FIXED as u64)
        .checked_add(h)?
        .checked_add(p)?
        .checked_add(8)?;
    if want != bytes.len() as u64 {
        return None;
    }
    let body = bytes.len() - 8;
    let stored = u64::from_le_bytes(bytes[body..].try_into().ok()?);
    if stored != xxhash_rust::xxh64::xxh64(&bytes[..body], 0) {
        return None;
    }
    Some((FIXED + h as usize, body))
}
