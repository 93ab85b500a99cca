//! The checkpoint a leaf job writes so that, evicted or stopped, it resumes where it was
//! instead of starting over (`casa-wrapper run --checkpoint-dir`).
//!
//! ```text
//! offset  size  field
//! 0       8     magic "CASACKPT"
//! 8       2     format major (u16 LE)
//! 10      2     format minor (u16 LE)
//! 12      4     header length H (u32 LE)
//! 16      8     payload length P (u64 LE)
//! 24      H     header: JSON (CheckpointHeader): whose job, how far, the metrics so far
//! 24+H    P     payload: zstd-compressed JSON of the accumulator so far (as in a partial)
//! 24+H+P  8     xxh64 (seed 0) of every byte before it (u64 LE)
//! ```
//!
//! The same layout as a partial, another magic: a checkpoint is never taken for a result.
//! A job resumes only from a checkpoint whose [`CheckpointIdentity`] is its own.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::envelope::{self, Flaw};
use crate::fsutil::atomic_write;
use crate::partial::ChunkId;
use crate::JobMetrics;

pub const MAGIC: &[u8; 8] = b"CASACKPT";
pub const CHECKPOINT_FORMAT_VERSION: (u16, u16) = (1, 0);

/// What makes a checkpoint this job's: the same run, node, job spec and plugin bytes, the
/// same casa and the same batch size (batches end where the uninterrupted run's end, so the
/// resumed result is the same bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointIdentity {
    pub run_id: String,
    pub node: String,
    /// SHA-256 of the job spec file, hex.
    pub job_sha256: String,
    /// SHA-256 of the plugin library, hex.
    pub plugin_sha256: String,
    /// "casa-wrapper 0.1.0".
    pub producer: String,
    pub batch_entries: u64,
}

impl CheckpointIdentity {
    /// The first field in which `other` differs from `self`, as "field: ours vs theirs".
    pub fn mismatch(&self, other: &CheckpointIdentity) -> Option<String> {
        let fields = [
            ("run_id", &self.run_id, &other.run_id),
            ("node", &self.node, &other.node),
            ("job spec sha256", &self.job_sha256, &other.job_sha256),
            ("plugin sha256", &self.plugin_sha256, &other.plugin_sha256),
            ("producer", &self.producer, &other.producer),
        ];
        for (name, a, b) in fields {
            if a != b {
                return Some(format!("{name} is {b:?}, this job's is {a:?}"));
            }
        }
        (self.batch_entries != other.batch_entries).then(|| {
            format!(
                "batch entries {}, this job's {}",
                other.batch_entries, self.batch_entries
            )
        })
    }
}

/// Where a job stood when it wrote the checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointHeader {
    pub identity: CheckpointIdentity,
    /// The chunks finished, in job order: their events are in the payload.
    pub covered: Vec<ChunkId>,
    /// Index (in the job spec) of the chunk to go on with; `covered.len()` of them are done.
    pub next_chunk: usize,
    /// Entries of that chunk before this one are in the payload (a batch boundary).
    pub next_entry: u64,
    /// The job's metrics so far: counters summed over every attempt (events counted once).
    pub metrics: JobMetrics,
    /// Events handed to the plugin by every attempt so far, including those processed again
    /// after an attempt died between checkpoints.
    pub events_handed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: cannot read checkpoint: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write checkpoint: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: checkpoint format {major}.{minor} is not readable by this casa (reads {}.0 to {}.{})", ours.0, ours.0, ours.1)]
    Version {
        path: String,
        major: u16,
        minor: u16,
        ours: (u16, u16),
    },
    #[error("{path}: corrupt checkpoint: {what}")]
    Corrupt { path: String, what: String },
}

/// Encode a checkpoint: header plus the accumulator's JSON (compressed here).
pub fn encode(header: &CheckpointHeader, payload_json: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).expect("header serialises");
    // Level 1: a checkpoint is written often and read at most once.
    let p = zstd::bulk::compress(payload_json, 1).expect("in-memory zstd");
    envelope::seal(MAGIC, CHECKPOINT_FORMAT_VERSION, &h, &p)
}

/// Write a checkpoint atomically; returns its size in bytes.
pub fn write(
    path: &Path,
    header: &CheckpointHeader,
    payload_json: &[u8],
) -> Result<u64, CheckpointError> {
    let bytes = encode(header, payload_json);
    atomic_write(path, &bytes).map_err(|source| CheckpointError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(bytes.len() as u64)
}

/// Read and verify a checkpoint: its header and the accumulator's JSON. `Ok(None)` when
/// there is none.
pub fn read(path: &Path) -> Result<Option<(CheckpointHeader, Vec<u8>)>, CheckpointError> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CheckpointError::Read { path: name, source }),
    };
    decode(&bytes, &name).map(Some)
}

/// Verify and decode a checkpoint's bytes (`name` for messages).
pub fn decode(bytes: &[u8], name: &str) -> Result<(CheckpointHeader, Vec<u8>), CheckpointError> {
    let corrupt = |what: String| CheckpointError::Corrupt {
        path: name.to_string(),
        what,
    };
    let (h, p) = envelope::open(bytes, MAGIC, CHECKPOINT_FORMAT_VERSION).map_err(|f| match f {
        Flaw::NotOurs | Flaw::Short => {
            corrupt("not a casa checkpoint (bad magic or too short)".into())
        }
        Flaw::Version { major, minor } => CheckpointError::Version {
            path: name.to_string(),
            major,
            minor,
            ours: CHECKPOINT_FORMAT_VERSION,
        },
        Flaw::Length {
            header, payload, ..
        } => corrupt(format!(
            "truncated or padded: header {header} and payload {payload} bytes do not add up to the file's {}",
            bytes.len()
        )),
        Flaw::Checksum { stored, computed } => corrupt(format!(
            "checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
        )),
    })?;
    let header: CheckpointHeader =
        serde_json::from_slice(h).map_err(|e| corrupt(format!("header: {e}")))?;
    let payload = zstd::stream::decode_all(p).map_err(|e| corrupt(format!("payload: {e}")))?;
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> CheckpointHeader {
        CheckpointHeader {
            identity: CheckpointIdentity {
                run_id: "r".into(),
                node: "leaf-000001".into(),
                job_sha256: "aa".into(),
                plugin_sha256: "bb".into(),
                producer: "casa-wrapper 0.1.0".into(),
                batch_entries: 1000,
            },
            covered: Vec::new(),
            next_chunk: 1,
            next_entry: 500,
            metrics: JobMetrics {
                events: 1500,
                ..Default::default()
            },
            events_handed: 1700,
        }
    }

    #[test]
    fn round_trip_and_every_damage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ckpt");
        assert!(read(&path).unwrap().is_none());
        let n = write(&path, &header(), br#"{"datasets":{}}"#).unwrap();
        assert_eq!(n, std::fs::metadata(&path).unwrap().len());
        let (h, p) = read(&path).unwrap().unwrap();
        assert_eq!(h, header());
        assert_eq!(p, br#"{"datasets":{}}"#);
        let good = std::fs::read(&path).unwrap();
        // Every flipped byte and every truncation is caught.
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x40;
            assert!(decode(&b, "x").is_err(), "byte {i}");
            assert!(decode(&good[..i], "x").is_err(), "cut at {i}");
        }
        // A partial is not a checkpoint.
        let mut b = good.clone();
        b[..8].copy_from_slice(crate::partial::MAGIC);
        assert!(matches!(
            decode(&b, "x"),
            Err(CheckpointError::Corrupt { .. })
        ));
    }

    #[test]
    fn the_identity_names_the_field_that_differs() {
        let a = header().identity;
        assert_eq!(a.mismatch(&a), None);
        let mut b = a.clone();
        b.plugin_sha256 = "cc".into();
        assert!(a.mismatch(&b).unwrap().starts_with("plugin sha256"));
        let mut b = a.clone();
        b.batch_entries = 7;
        assert!(a.mismatch(&b).unwrap().contains("batch entries 7"));
    }
}
