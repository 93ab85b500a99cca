//! Damaged RNTuples give an error naming the file, never a panic, a hang, an allocation the
//! data cannot justify, or a silent wrong result: the anchor and every envelope carry an xxh3
//! checksum of their (decompressed) bytes and every page one of its compressed bytes, so a
//! flipped bit in a page is always refused (naming the page), one anywhere else either refused
//! or harmless (the same data), and a file cut anywhere cannot read. Checked at every third
//! byte of the CMS open-data RNTuple.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rootio::{open_event_source, Batch, MemSource, RootFile};

fn read_all(bytes: Vec<u8>) -> rootio::Result<Batch> {
    let file = RootFile::from_source(Arc::new(MemSource::new("mutant.root", bytes)))?;
    let src = open_event_source(&file, "Events")?;
    let names: Vec<String> = src
        .columns()
        .into_iter()
        .filter(|c| c.column_type.is_ok())
        .map(|c| c.name)
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    src.read(&refs, 0, src.entries())
}

/// Byte ranges the RNTuple's checksums cover: anchor object, envelopes, pages (+ checksums).
fn protected(bytes: &[u8]) -> Vec<(std::ops::Range<usize>, &'static str)> {
    let file =
        RootFile::from_source(Arc::new(MemSource::new("clean.root", bytes.to_vec()))).unwrap();
    let key = file.key("Events").unwrap();
    let nt = file.ntuple("Events").unwrap();
    let mut out = vec![(
        key.seek_key as usize + key.keylen as usize..key.seek_key as usize + key.nbytes as usize,
        "anchor",
    )];
    for cl in &nt.clusters {
        for c in &cl.columns {
            for p in &c.pages {
                assert!(p.checksum, "ROOT writes page checksums");
                let a = p.offset as usize;
                out.push((a..a + p.size as usize + 8, "page"));
            }
        }
    }
    // Envelopes: from the anchor's fields (big-endian, after byte count and version).
    let obj = file.read_object(&key).unwrap();
    let be = |i: usize| u64::from_be_bytes(obj[i..i + 8].try_into().unwrap()) as usize;
    out.push((be(14)..be(14) + be(22), "header"));
    out.push((be(38)..be(38) + be(46), "footer"));
    out
}

#[test]
fn every_flip_in_checksummed_bytes_is_refused_and_nothing_panics() {
    let path = casa_test_support::real_file(
        "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
    );
    let clean_bytes = std::fs::read(&path).unwrap();
    let clean = read_all(clean_bytes.clone()).expect("clean file reads");
    let guarded = protected(&clean_bytes);
    let len = clean_bytes.len();
    let (mut refused, mut flips) = (0, 0);
    for pos in (0..len).step_by(3) {
        for mode in 0..2 {
            let mut m = clean_bytes.clone();
            if mode == 0 {
                m.truncate(pos);
            } else {
                m[pos] ^= 1 << (pos % 8);
            }
            let t = Instant::now();
            let r = catch_unwind(AssertUnwindSafe(|| read_all(m)));
            assert!(t.elapsed() < Duration::from_secs(10), "slow at {pos}");
            let what = if mode == 0 { "truncation" } else { "bit flip" };
            let region = guarded.iter().find(|(r, _)| r.contains(&pos)).map(|g| g.1);
            match r {
                Err(_) => panic!("panic after {what} at byte {pos}"),
                Ok(Err(e)) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains("mutant.root"),
                        "error does not name the file: {msg}"
                    );
                    if mode == 1 && region == Some("page") {
                        assert!(
                            msg.contains("checksum") && msg.contains("page"),
                            "flip in a page at {pos}: {msg}"
                        );
                    }
                    if mode == 1 && region == Some("page") {
                        refused += 1;
                    }
                }
                Ok(Ok(batch)) => {
                    assert!(
                        region != Some("page"),
                        "{what} at byte {pos} (in a page) read without an error"
                    );
                    // Outside the pages (TFile structures, or a compressed envelope's block
                    // header byte the decoder does not use; envelope checksums cover the
                    // decompressed bytes), or a cut after the last byte the read needs: the
                    // data read must be the clean data.
                    for (x, y) in batch.columns.iter().zip(&clean.columns) {
                        assert!(
                            x.values == y.values && x.offsets == y.offsets,
                            "flip at {pos} changed {}",
                            x.name
                        );
                    }
                }
            }
            if mode == 1 && region == Some("page") {
                flips += 1;
            }
        }
    }
    assert_eq!(refused, flips, "every flip in a page is refused");
    assert!(flips > 1000, "only {flips} flips in pages");
}
