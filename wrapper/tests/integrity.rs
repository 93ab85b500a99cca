//! Baskets the reader can vouch for: files this test corrupts itself, in ways no codec checksum
//! catches (a TTree record pointing a branch at another branch's basket, a counter changed
//! with its totals kept, length fields that lie, a tail cut off), must each stop the dimuon job
//! with exit 11 (permanent input fault) and a message naming the file, and where there is one
//! the branch, without allocating what a lying length claims.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, OnceLock};

use casa_formats::{Chunk, ExitClass, JobSpec};
use casa_test_support::{build_cdylib, fixture, real_file};
use rootio::{MemSource, RootFile, Tree};

const CODECS: [&str; 5] = ["zstd", "zlib", "lzma", "lz4", "none"];

fn dimuon() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("dimuon"))
}

/// Run the dimuon job over all of `bytes` (written as `name`); returns the process output and
/// the metrics JSON.
fn run_job(name: &str, bytes: &[u8], entries: u64) -> (Output, serde_json::Value) {
    run_job_env(name, bytes, entries, &[])
}

fn run_job_env(
    name: &str,
    bytes: &[u8],
    entries: u64,
    env: &[(&str, &str)],
) -> (Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, bytes).unwrap();
    let chunk = Chunk {
        dataset: "ZZ".into(),
        file: file.to_string_lossy().into_owned(),
        tree: "Events".into(),
        entry_start: 0,
        entry_stop: entries,
        uuid: None,
        metadata: serde_json::json!({"is_mc": true}),
    };
    let job = dir.path().join("job.json");
    std::fs::write(
        &job,
        serde_json::to_vec(&JobSpec::new("test", "leaf-0", vec![chunk])).unwrap(),
    )
    .unwrap();
    let metrics = dir.path().join("m.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_casa-wrapper"))
        .arg("run")
        .arg("--job")
        .arg(&job)
        .arg("--plugin")
        .arg(dimuon())
        .arg("--out")
        .arg(dir.path().join("p.partial"))
        .arg("--metrics")
        .arg(&metrics)
        .args(["-j", "2"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(!dir.path().join("p.partial").exists() || out.status.success());
    let m = serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    (out, m)
}

/// The job must fail as a permanent input fault whose message holds every needle.
fn expect_refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(ExitClass::PermanentInput.code() as i32),
        "expected exit 11, got {:?}: {stderr}",
        out.status.code()
    );
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks {n:?}: {stderr}");
    }
}

fn open(bytes: &[u8]) -> (RootFile, Tree) {
    let f = RootFile::from_source(Arc::new(MemSource::new("x.root", bytes.to_vec()))).unwrap();
    let t = f.tree("Events").unwrap();
    (f, t)
}

fn branch<'t>(t: &'t Tree, name: &str) -> &'t rootio::Branch {
    t.branches.iter().find(|b| b.name == name).unwrap()
}

fn put(bytes: &mut [u8], at: usize, v: &[u8]) {
    bytes[at..at + v.len()].copy_from_slice(v);
}

fn find(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Rewrite the TTree record with `patch` applied to its uncompressed bytes: the new record is
/// appended, stored raw, and the top directory's key list and fEND point at it.
fn patch_tree_record(bytes: &mut Vec<u8>, patch: impl FnOnce(&mut Vec<u8>)) {
    let (file, _) = open(bytes);
    let key = file.key("Events").unwrap();
    let mut record = file.read_object(&key).unwrap();
    patch(&mut record);
    let (seek, keylen) = (key.seek_key as usize, key.keylen as usize);
    let wide = key.version > 1000;
    let header = bytes[seek..seek + keylen].to_vec();
    let at = bytes.len();
    let nbytes = (keylen + record.len()) as u32;
    // The key header in the directory's key list, then the key itself.
    let seek_field = if wide {
        (seek as u64).to_be_bytes().to_vec()
    } else {
        (seek as u32).to_be_bytes().to_vec()
    };
    let new_seek = if wide {
        (at as u64).to_be_bytes().to_vec()
    } else {
        (at as u32).to_be_bytes().to_vec()
    };
    let mut prefix = header[..18].to_vec();
    prefix.extend_from_slice(&seek_field);
    let listed: Vec<usize> = find(bytes, &prefix)
        .into_iter()
        .filter(|&p| p != seek)
        .collect();
    assert_eq!(listed.len(), 1, "the key list holds the tree's key once");
    put(bytes, listed[0], &nbytes.to_be_bytes());
    put(bytes, listed[0] + 18, &new_seek);
    let mut new_key = header;
    put(&mut new_key, 0, &nbytes.to_be_bytes());
    put(&mut new_key, 18, &new_seek);
    bytes.extend_from_slice(&new_key);
    bytes.extend_from_slice(&record);
    // fEND, after the magic, fVersion and fBEGIN: 4 bytes in the small-file header, 8 in
    // the large one.
    let end = bytes.len();
    if i32::from_be_bytes(bytes[4..8].try_into().unwrap()) >= 1_000_000 {
        put(bytes, 12, &(end as u64).to_be_bytes());
    } else {
        put(bytes, 12, &(end as u32).to_be_bytes());
    }
}

#[test]
fn a_basket_of_another_branch_is_refused_for_every_codec() {
    for codec in CODECS {
        let clean = std::fs::read(fixture(&format!("root-{codec}.root"))).unwrap();
        let (_, tree) = open(&clean);
        let entries = tree.entries;
        let (pt, eta) = (branch(&tree, "Muon_pt"), branch(&tree, "Muon_eta"));
        // The same basket of both branches: same entries, same sizes, another branch's
        // values. Only the basket's key says whose it is.
        let k = 1;
        assert_eq!(pt.basket_entry[..3], eta.basket_entry[..3]);
        let (pt_seek, eta_seek) = (pt.basket_seek.clone(), eta.basket_seek.clone());
        let (eta_bytes, max) = (eta.basket_bytes[k], pt.basket_seek.len());
        let mut bytes = clean.clone();
        patch_tree_record(&mut bytes, |rec| {
            // TBranch v13 writes fBasketBytes (Int_t), fBasketEntry and fBasketSeek
            // (Long64_t), each as a 1-byte flag and fMaxBaskets values.
            let at = find(rec, &pt_seek[0].to_be_bytes());
            assert_eq!(at.len(), 1, "{codec}: Muon_pt's fBasketSeek found once");
            let s = at[0];
            assert_eq!(rec[s - 1], 1);
            let b = s - 1 - 8 * max - 1 - 4 * max;
            put(rec, s + 8 * k, &eta_seek[k].to_be_bytes());
            put(rec, b + 4 * k, &eta_bytes.to_be_bytes());
        });
        let (_, patched) = open(&bytes);
        assert_eq!(branch(&patched, "Muon_pt").basket_seek[k], eta_seek[k]);
        let (out, _) = run_job(&format!("swapped-{codec}.root"), &bytes, entries);
        expect_refused(
            &out,
            &[
                &format!("swapped-{codec}.root"),
                "Muon_pt",
                "Muon_eta",
                "basket 1",
            ],
        );
        // The patch alone (the record rewritten at the end) leaves a good file.
        let mut same = clean.clone();
        patch_tree_record(&mut same, |_| {});
        let (out, _) = run_job(&format!("moved-{codec}.root"), &same, entries);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The last 76 bytes of this real NanoAOD file are ROOT's free-segment record, which no read
/// needs: only fEND shows that they are gone.
#[test]
fn a_file_missing_its_last_bytes_is_refused() {
    let clean = std::fs::read(real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root")).unwrap();
    let (_, tree) = open(&clean);
    for cut in [1, 40, 76] {
        let bytes = &clean[..clean.len() - cut];
        let (out, _) = run_job("cut.root", bytes, tree.entries);
        expect_refused(&out, &["cut.root", "truncated"]);
    }
}

/// The TBasket fields sit at the end of the key: fLast is 5 bytes before its end.
fn basket_fields(bytes: &[u8], seek: usize) -> (usize, usize) {
    let keylen = i16::from_be_bytes([bytes[seek + 14], bytes[seek + 15]]) as usize;
    (keylen, seek + keylen - 5)
}

#[test]
fn lying_lengths_are_refused_before_they_allocate() {
    let huge: u32 = 0x7ff0_0000;
    for codec in CODECS {
        let clean = std::fs::read(fixture(&format!("root-{codec}.root"))).unwrap();
        let (_, tree) = open(&clean);
        let pt = branch(&tree, "Muon_pt");
        // fObjlen and fLast of five baskets claim 2 GiB.
        let mut bytes = clean.clone();
        for &seek in &pt.basket_seek[..5] {
            let seek = seek as usize;
            let (keylen, last) = basket_fields(&bytes, seek);
            put(&mut bytes, seek + 6, &huge.to_be_bytes());
            put(&mut bytes, last, &(huge - 64 + keylen as u32).to_be_bytes());
        }
        let (out, m) = run_job(&format!("huge-{codec}.root"), &bytes, tree.entries);
        expect_refused(&out, &[&format!("huge-{codec}.root"), "Muon_pt"]);
        let rss_mb = m["peak_rss_kb"].as_u64().unwrap() / 1024;
        assert!(rss_mb < 400, "{codec}: peak RSS {rss_mb} MB");
        // The first block header agrees with the lie: 16 MiB from a few compressed bytes.
        if codec == "none" {
            continue;
        }
        let mut bytes = clean.clone();
        let seek = pt.basket_seek[0] as usize;
        let (keylen, last) = basket_fields(&bytes, seek);
        let objlen = u32::from_be_bytes(bytes[seek + 6..seek + 10].try_into().unwrap());
        let block = seek + keylen;
        let ulen = u32::from_le_bytes([bytes[block + 6], bytes[block + 7], bytes[block + 8], 0]);
        let lie: u32 = 0xff_ffff;
        put(&mut bytes, block + 6, &lie.to_le_bytes()[..3]);
        put(&mut bytes, seek + 6, &(objlen - ulen + lie).to_be_bytes());
        let l = u32::from_be_bytes(bytes[last..last + 4].try_into().unwrap());
        put(&mut bytes, last, &(l + lie - ulen).to_be_bytes());
        let (out, m) = run_job(&format!("block-{codec}.root"), &bytes, tree.entries);
        expect_refused(
            &out,
            &[&format!("block-{codec}.root"), "Muon_pt", "basket 0"],
        );
        let rss_mb = m["peak_rss_kb"].as_u64().unwrap() / 1024;
        assert!(rss_mb < 400, "{codec}: peak RSS {rss_mb} MB");
    }
}

/// A counter changed in a way its totals do not show (one muon moved from one event to the
/// next, in an uncompressed file where no checksum covers it) is caught by the entry-offset
/// table of the jagged branches it counts.
#[test]
fn a_counter_that_disagrees_with_the_entry_offset_table_is_refused() {
    let clean = std::fs::read(fixture("root-none.root")).unwrap();
    let (_, tree) = open(&clean);
    let (n, pt) = (branch(&tree, "nMuon"), branch(&tree, "Muon_pt"));
    // nMuon's first basket, stored raw (big-endian u32 counts after the key).
    let seek = n.basket_seek[0] as usize;
    let keylen = i16::from_be_bytes([clean[seek + 14], clean[seek + 15]]) as usize;
    let count = |b: &[u8], i: usize| {
        u32::from_be_bytes(b[seek + keylen + 4 * i..][..4].try_into().unwrap())
    };
    // Two neighbouring events inside Muon_pt's first basket, the second with a muon.
    let inside = pt.basket_entry[1] as usize;
    let i = (0..inside - 1).find(|&i| count(&clean, i + 1) > 0).unwrap();
    let mut bytes = clean.clone();
    let (a, b) = (count(&clean, i), count(&clean, i + 1));
    put(&mut bytes, seek + keylen + 4 * i, &(a + 1).to_be_bytes());
    put(
        &mut bytes,
        seek + keylen + 4 * (i + 1),
        &(b - 1).to_be_bytes(),
    );
    let (out, _) = run_job("moved-muon.root", &bytes, tree.entries);
    expect_refused(&out, &["moved-muon.root", "Muon_", "entry-offset table"]);
}

/// The same moved muon in a ZSTD file (the counter basket decompressed, changed, compressed
/// again and written at the end of the file, the TTree pointing at it): nothing but the
/// entry-offset table of the jagged branches shows it. By default the ZSTD table is not
/// decoded (it costs ~25 % of the job, docs/benchmarks.md) and the job succeeds with another
/// histogram; `CASA_FULL_BASKET_CHECKS=1` decodes and checks it.
#[test]
fn a_zstd_counter_that_disagrees_with_the_table_is_caught_with_full_checks() {
    let clean = std::fs::read(fixture("root-zstd.root")).unwrap();
    let (file, tree) = open(&clean);
    let (n, pt) = (branch(&tree, "nMuon"), branch(&tree, "Muon_pt"));
    let seek = n.basket_seek[0] as usize;
    let nbytes = n.basket_bytes[0] as usize;
    let keylen = i16::from_be_bytes([clean[seek + 14], clean[seek + 15]]) as usize;
    let objlen = u32::from_be_bytes(clean[seek + 6..seek + 10].try_into().unwrap()) as usize;
    let payload = &clean[seek + keylen..seek + nbytes];
    assert_eq!(&payload[..2], b"ZS");
    let mut counts = zstd::bulk::decompress(&payload[9..], objlen).unwrap();
    let count = |c: &[u8], i: usize| u32::from_be_bytes(c[4 * i..4 * i + 4].try_into().unwrap());
    let i = (0..pt.basket_entry[1] as usize - 1)
        .find(|&i| count(&counts, i + 1) > 0)
        .unwrap();
    let (a, b) = (count(&counts, i), count(&counts, i + 1));
    put(&mut counts, 4 * i, &(a + 1).to_be_bytes());
    put(&mut counts, 4 * (i + 1), &(b - 1).to_be_bytes());
    let frame = zstd::bulk::compress(&counts, 5).unwrap();
    // The new basket: the old key with its new size and position, one ROOT block.
    let mut bytes = clean.clone();
    let at = bytes.len();
    let mut key = clean[seek..seek + keylen].to_vec();
    let new_nbytes = (keylen + 9 + frame.len()) as i32;
    put(&mut key, 0, &new_nbytes.to_be_bytes());
    let wide = i16::from_be_bytes([key[4], key[5]]) > 1000;
    if wide {
        put(&mut key, 18, &(at as u64).to_be_bytes());
    } else {
        put(&mut key, 18, &(at as u32).to_be_bytes());
    }
    bytes.extend_from_slice(&key);
    bytes.extend_from_slice(&payload[..3]);
    bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes()[..3]);
    bytes.extend_from_slice(&(objlen as u32).to_le_bytes()[..3]);
    bytes.extend_from_slice(&frame);
    let (old_seek, max) = (n.basket_seek[0], n.basket_seek.len());
    drop(file);
    patch_tree_record(&mut bytes, |rec| {
        let s = find(rec, &old_seek.to_be_bytes());
        assert_eq!(s.len(), 1, "nMuon's fBasketSeek found once");
        let s = s[0];
        assert_eq!(rec[s - 1], 1);
        put(rec, s, &(at as i64).to_be_bytes());
        put(
            rec,
            s - 1 - 8 * max - 1 - 4 * max,
            &new_nbytes.to_be_bytes(),
        );
    });
    let (out, _) = run_job("zstd-moved-muon.root", &bytes, tree.entries);
    assert!(
        out.status.success(),
        "without full checks the ZSTD table is not read: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = [(rootio::FULL_CHECKS_ENV, "1")];
    let (out, _) = run_job_env("zstd-moved-muon.root", &bytes, tree.entries, &full);
    expect_refused(
        &out,
        &["zstd-moved-muon.root", "Muon_", "entry-offset table"],
    );
}
