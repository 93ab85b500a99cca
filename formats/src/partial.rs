//! The partial-result file a job writes and casa-merge reads.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "CASAPART"
//! 8       2     format major (u16 LE)
//! 10      2     format minor (u16 LE)
//! 12      4     header length H (u32 LE)
//! 16      8     payload length P (u64 LE)
//! 24      H     header: JSON (PartialHeader): identity and the exact chunks covered
//! 24+H    P     payload: zstd-compressed JSON of the accumulator (dataset -> name -> item)
//! 24+H+P  8     xxh64 (seed 0) of every byte before it (u64 LE)
//! ```
//!
//! A reader checks the magic, the major version, that the lengths add up to the file size
//! (so a truncated file is caught before anything else), then the checksum.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::envelope::{self, Flaw};
use crate::fsutil::atomic_write;

pub const MAGIC: &[u8; 8] = b"CASAPART";
/// 1.1 packs histogram sums as base64 doubles (`casa_hist::packed`); 1.0 wrote them as JSON
/// numbers. A reader reads its own major version up to its own minor: a newer minor may encode
/// the payload in a way this one cannot read, and says so rather than failing to parse.
pub const PARTIAL_FORMAT_VERSION: (u16, u16) = (1, 1);
/// The most bytes one compressed zstd byte can stand for: the densest block is an RLE block,
/// a 3-byte header and one byte repeated up to the 128 KiB block maximum.
const ZSTD_MAX_RATIO: u64 = 128 * 1024 / 4;

/// Who wrote a partial and exactly what it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialHeader {
    pub run_id: String,
    pub node: String,
    /// "casa-wrapper 0.1.0" or "casa-merge 0.1.0".
    pub producer: String,
    /// The plugin's name and ABI version.
    #[serde(default)]
    pub plugin: String,
    /// Every chunk whose events are in the payload, once.
    pub chunks: Vec<ChunkId>,
    pub events: u64,
}

/// The identity of a chunk: what must be counted exactly once in a merge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChunkId {
    pub dataset: String,
    pub file: String,
    /// The file's UUID (empty when unknown).
    pub uuid: String,
    pub tree: String,
    pub entry_start: u64,
    pub entry_stop: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PartialError {
    #[error("{path}: cannot read partial: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write partial: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a casa partial (bad magic)")]
    NotPartial { path: String },
    #[error(
        "{path}: partial format {major}.{minor} is not readable by this casa (reads {}.0 to {}.{})",
        ours.0, ours.0, ours.1
    )]
    Version {
        path: String,
        major: u16,
        minor: u16,
        ours: (u16, u16),
    },
    #[error("{path}: truncated or padded partial: {what}")]
    Truncated { path: String, what: String },
    #[error("{path}: corrupt partial: checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")]
    Checksum {
        path: String,
        stored: u64,
        computed: u64,
    },
    #[error("{path}: corrupt partial: {what}")]
    Corrupt { path: String, what: String },
}

/// Encode a partial: header plus the accumulator's JSON (compressed here).
pub fn encode(header: &PartialHeader, payload_json: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).expect("header serialises");
    let p = zstd::bulk::compress(payload_json, 3).expect("in-memory zstd");
    envelope::seal(MAGIC, PARTIAL_FORMAT_VERSION, &h, &p)
}

/// Write a partial atomically.
pub fn write(path: &Path, header: &PartialHeader, payload_json: &[u8]) -> Result<(), PartialError> {
    atomic_write(path, &encode(header, payload_json)).map_err(|source| PartialError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// Read and verify a partial: its header and the accumulator's JSON.
pub fn read(path: &Path) -> Result<(PartialHeader, Vec<u8>), PartialError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PartialError::Read {
        path: name.clone(),
        source,
    })?;
    decode(&bytes, &name)
}

/// The checksum stored at the end of a partial file (hex), if it is long enough to have one.
pub fn stored_checksum(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::End(-8)).ok()?;
    let mut b = [0u8; 8];
    f.read_exact(&mut b).ok()?;
    Some(format!("{:016x}", u64::from_le_bytes(b)))
}

/// Verify the bytes of a partial (magic, version, lengths, checksum) and parse its header,
/// without decompressing the payload: the header and the compressed payload. `name` is used
/// in errors.
pub fn verify<'a>(bytes: &'a [u8], name: &str) -> Result<(PartialHeader, &'a [u8]), PartialError> {
    let path = || name.to_string();
    let (h, z) = envelope::open(bytes, MAGIC, PARTIAL_FORMAT_VERSION).map_err(|f| match f {
        Flaw::NotOurs => PartialError::NotPartial { path: path() },
        Flaw::Short => PartialError::Truncated {
            path: path(),
            what: format!("{} bytes, shorter than the fixed header", bytes.len()),
        },
        Flaw::Version { major, minor } => PartialError::Version {
            path: path(),
            major,
            minor,
            ours: PARTIAL_FORMAT_VERSION,
        },
        Flaw::Length { want, .. } => PartialError::Truncated {
            path: path(),
            what: format!(
                "header says {} bytes, the file has {}",
                want.map_or("too many".to_string(), |w| w.to_string()),
                bytes.len()
            ),
        },
        Flaw::Checksum { stored, computed } => PartialError::Checksum {
            path: path(),
            stored,
            computed,
        },
    })?;
    let header: PartialHeader = serde_json::from_slice(h).map_err(|e| PartialError::Corrupt {
        path: path(),
        what: format!("header: {e}"),
    })?;
    header.check(name)?;
    Ok((header, z))
}

impl PartialHeader {
    /// The header agrees with itself: every chunk runs forwards and `events` is the entries
    /// of its chunks. A checksum only proves the bytes are those written; a merge trusting a
    /// header that disagrees would count events no chunk accounts for.
    fn check(&self, name: &str) -> Result<(), PartialError> {
        let corrupt = |what: String| PartialError::Corrupt {
            path: name.to_string(),
            what: format!("header: {what}"),
        };
        let mut entries: u64 = 0;
        for (i, c) in self.chunks.iter().enumerate() {
            if c.entry_start > c.entry_stop {
                return Err(corrupt(format!(
                    "chunks[{i}] ({}, {}, {}) has entry_start {} after entry_stop {}",
                    c.dataset, c.file, c.tree, c.entry_start, c.entry_stop
                )));
            }
            entries = entries
                .checked_add(c.entry_stop - c.entry_start)
                .ok_or_else(|| corrupt("its chunks hold more than 2^64 entries".into()))?;
        }
        if entries != self.events {
            return Err(corrupt(format!(
                "'events' is {} but its chunks hold {entries} entries",
                self.events
            )));
        }
        Ok(())
    }

    /// The datasets its chunks are from.
    pub fn datasets(&self) -> BTreeSet<String> {
        self.chunks.iter().map(|c| c.dataset.clone()).collect()
    }
}

/// Every dataset of a partial's payload is one its chunks are from (`covered`, from
/// [`PartialHeader::datasets`]): counts of a dataset no chunk covers would be merged with
/// nothing to account for them. The payload is parsed by its reader (casa-merge's fast one),
/// which hands its datasets here; `name` is used in errors.
pub fn check_payload_datasets<'a>(
    covered: &BTreeSet<String>,
    payload: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Result<(), PartialError> {
    for ds in payload {
        if !covered.contains(ds) {
            let what = if covered.is_empty() {
                format!("the payload holds dataset '{ds}' but the partial covers no chunk")
            } else {
                let list: Vec<String> = covered.iter().map(|d| format!("'{d}'")).collect();
                format!(
                    "the payload holds dataset '{ds}', which none of its chunks is from (chunks' datasets: {})",
                    list.join(", ")
                )
            };
            return Err(PartialError::Corrupt {
                path: name.to_string(),
                what,
            });
        }
    }
    Ok(())
}

/// Verify and decode the bytes of a partial; `name` is used in errors.
pub fn decode(bytes: &[u8], name: &str) -> Result<(PartialHeader, Vec<u8>), PartialError> {
    let (header, z) = verify(bytes, name)?;
    // One call into a buffer of the size the frame declares (what casa writes): about twice
    // as fast as the streaming decoder on large payloads, which handles anything else. The
    // declared size is only a claim: one beyond what the compressed bytes can produce would
    // allocate it all up front (2^62 bytes aborts the process), so it is refused.
    let claimed = zstd::zstd_safe::get_frame_content_size(z).ok().flatten();
    if let Some(n) = claimed {
        let most = (z.len() as u64).saturating_mul(ZSTD_MAX_RATIO);
        if n > most {
            return Err(PartialError::Corrupt {
                path: name.to_string(),
                what: format!(
                    "payload: its zstd frame claims {n} bytes, more than its {} compressed bytes can hold (at most {most})",
                    z.len()
                ),
            });
        }
    }
    let sized = claimed
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| zstd::bulk::decompress(z, n).ok());
    let payload = match sized {
        Some(p) => p,
        None => zstd::stream::decode_all(z).map_err(|e| PartialError::Corrupt {
            path: name.to_string(),
            what: format!("payload: {e}"),
        })?,
    };
    Ok((header, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> PartialHeader {
        PartialHeader {
            run_id: "r".into(),
            node: "leaf-1".into(),
            producer: "test".into(),
            plugin: "dimuon".into(),
            chunks: vec![ChunkId {
                dataset: "ZZ".into(),
                file: "a.root".into(),
                uuid: "u".into(),
                tree: "Events".into(),
                entry_start: 0,
                entry_stop: 10,
            }],
            events: 10,
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(&header(), br#"{"ZZ":{}}"#);
        let (h, p) = decode(&bytes, "x").unwrap();
        assert_eq!(h, header());
        assert_eq!(p, br#"{"ZZ":{}}"#);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_caught() {
        let bytes = encode(&header(), br#"{"ZZ":{"entries":{"Counter":{"Int":10}}}}"#);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n], "x").is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            for bit in [0, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let e = decode(&b, "p.partial").unwrap_err().to_string();
                assert!(e.contains("p.partial"), "{e}");
            }
        }
    }

    #[test]
    fn a_header_disagreeing_with_itself_is_refused_by_name() {
        // Crafted with a valid checksum: events not the chunks' entries.
        let mut h = header();
        h.events = 11;
        let e = decode(&encode(&h, b"{}"), "p.partial")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "p.partial: corrupt partial: header: 'events' is 11 but its chunks hold 10 entries"
        );
        // A chunk backwards.
        let mut h = header();
        h.chunks[0].entry_start = 20;
        h.events = 0;
        let e = decode(&encode(&h, b"{}"), "p.partial")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "p.partial: corrupt partial: header: chunks[0] (ZZ, a.root, Events) has entry_start 20 after entry_stop 10"
        );
        // Entries that overflow.
        let mut h = header();
        h.chunks.push(h.chunks[0].clone());
        h.chunks[1].entry_stop = u64::MAX;
        h.events = 5;
        let e = decode(&encode(&h, b"{}"), "p.partial")
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 2^64"), "{e}");
    }

    #[test]
    fn payload_datasets_must_be_the_chunks_datasets() {
        let zz = header().datasets();
        assert!(check_payload_datasets(&zz, ["ZZ"], "p.partial").is_ok());
        let e = check_payload_datasets(&zz, ["ZZ", "DY"], "p.partial")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "p.partial: corrupt partial: the payload holds dataset 'DY', which none of its chunks is from (chunks' datasets: 'ZZ')"
        );
        let none = BTreeSet::new();
        let e = check_payload_datasets(&none, ["ZZ"], "p.partial")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "p.partial: corrupt partial: the payload holds dataset 'ZZ' but the partial covers no chunk"
        );
        assert!(check_payload_datasets(&none, [], "p.partial").is_ok());
    }

    /// A partial around the given zstd bytes, checksum and all.
    fn with_frame(z: &[u8]) -> Vec<u8> {
        let h = serde_json::to_vec(&header()).unwrap();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&PARTIAL_FORMAT_VERSION.0.to_le_bytes());
        out.extend_from_slice(&PARTIAL_FORMAT_VERSION.1.to_le_bytes());
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        out.extend_from_slice(&(z.len() as u64).to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(z);
        let sum = xxhash_rust::xxh64::xxh64(&out, 0);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// A zstd frame declaring `size` bytes of content, holding one raw block `data`.
    fn frame_claiming(size: u64, data: &[u8]) -> Vec<u8> {
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd];
        // Single segment, 8-byte content size, no checksum, no dictionary.
        z.push(0xe0);
        z.extend_from_slice(&size.to_le_bytes());
        let block = ((data.len() as u32) << 3) | 1; // last block, raw
        z.extend_from_slice(&block.to_le_bytes()[..3]);
        z.extend_from_slice(data);
        z
    }

    #[test]
    fn a_frame_claiming_more_than_its_bytes_can_hold_is_corrupt_not_an_abort() {
        // The frame itself is well formed: its claim is read as it is written.
        let honest = with_frame(&frame_claiming(2, b"{}"));
        assert_eq!(decode(&honest, "p.partial").unwrap().1, b"{}");
        // zstd reads u64::MAX - 1 as an error, u64::MAX as unknown: the streaming decoder
        // then finds the frame bad without allocating.
        for claim in [u64::MAX - 1, u64::MAX] {
            let bytes = with_frame(&frame_claiming(claim, b"{}"));
            let e = decode(&bytes, "p.partial").unwrap_err().to_string();
            assert!(e.starts_with("p.partial: corrupt partial: payload"), "{e}");
        }
        for claim in [1 << 62, 1 << 40, 40 * 32768] {
            let bytes = with_frame(&frame_claiming(claim, b"{}"));
            let e = decode(&bytes, "p.partial").unwrap_err().to_string();
            assert!(
                e.starts_with("p.partial: corrupt partial: payload")
                    && e.contains(&claim.to_string()),
                "{e}"
            );
        }
    }

    #[test]
    fn another_major_version_or_a_newer_minor_is_refused_by_name() {
        let mut bytes = encode(&header(), b"{}");
        bytes[8] = 2;
        bytes[10] = 0;
        let e = decode(&bytes, "old.partial").unwrap_err().to_string();
        assert!(e.contains("old.partial") && e.contains("2.0"), "{e}");
        let mut bytes = encode(&header(), b"{}");
        bytes[10] = 9;
        let e = decode(&bytes, "new.partial").unwrap_err().to_string();
        assert!(
            e.contains("new.partial") && e.contains("1.9") && e.contains("1.0 to 1.1"),
            "{e}"
        );
        // An older minor is read (its checksum redone after the edit).
        let mut bytes = encode(&header(), b"{}");
        bytes[10] = 0;
        let n = bytes.len() - 8;
        let sum = xxhash_rust::xxh64::xxh64(&bytes[..n], 0);
        bytes[n..].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&bytes, "old.partial").unwrap().1, b"{}");
    }
}
