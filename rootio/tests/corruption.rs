//! Damaged files must give an error, never a panic, a hang or an unbounded allocation: real
//! files truncated and bit-flipped at many positions. Where the codec carries a checksum
//! (zlib's adler32, LZ4's xxhash64, xz's CRC) a successful read must also return exactly the
//! clean file's values; ZSTD frames as ROOT writes them and uncompressed baskets carry no
//! checksum, so there a flipped data byte can only be caught when it breaks the structure.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rootio::{Batch, MemSource, RootFile, Values};

/// The trees of the clean file.
fn trees(bytes: &[u8]) -> Vec<String> {
    let file =
        RootFile::from_source(Arc::new(MemSource::new("clean.root", bytes.to_vec()))).unwrap();
    let mut t: Vec<String> = file
        .walk()
        .unwrap()
        .into_iter()
        .filter(|(_, k)| k.class == "TTree")
        .map(|(p, _)| p)
        .collect();
    t.dedup();
    t
}

/// Byte ranges of baskets that ROOT stored uncompressed (incompressible data): nothing
/// checks those bytes, so a flip there can only change values.
fn unprotected(bytes: &[u8], trees: &[String]) -> Vec<std::ops::Range<usize>> {
    let file =
        RootFile::from_source(Arc::new(MemSource::new("clean.root", bytes.to_vec()))).unwrap();
    let mut out = Vec::new();
    for t in trees {
        let tree = file.tree(t).unwrap();
        for br in &tree.branches {
            for i in 0..br.write_basket {
                let (seek, n) = (br.basket_seek[i] as usize, br.basket_bytes[i] as usize);
                let h = &bytes[seek..seek + 18];
                let objlen = u32::from_be_bytes(h[6..10].try_into().unwrap()) as usize;
                let keylen = u16::from_be_bytes(h[14..16].try_into().unwrap()) as usize;
                if n - keylen == objlen {
                    out.push(seek + keylen..seek + n);
                }
            }
        }
    }
    out
}

/// Read every readable branch of the given trees, as a job would ask for them by name.
fn read_all(bytes: Vec<u8>, trees: &[String]) -> rootio::Result<Vec<(String, Batch)>> {
    let file = RootFile::from_source(Arc::new(MemSource::new("mutant.root", bytes)))?;
    let mut out = Vec::new();
    for path in trees {
        let path = path.clone();
        let tree = file.tree(&path)?;
        let names: Vec<String> = (0..tree.branches.len())
            .filter(|&b| tree.column_type(b).is_ok())
            .map(|b| tree.branches[b].name.clone())
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        out.push((path, tree.read(&refs, 0, tree.entries)?));
    }
    Ok(out)
}

fn first_difference(a: &[(String, Batch)], b: &[(String, Batch)]) -> String {
    for ((pa, ba), (_, bb)) in a.iter().zip(b) {
        for (x, y) in ba.columns.iter().zip(&bb.columns) {
            if x.offsets != y.offsets {
                return format!("{pa}/{}: offsets", x.name);
            }
            if !bits_equal(&x.values, &y.values) {
                let i = (0..x.values.len().min(y.values.len()))
                    .find(|&i| x.values.get_f64(i).to_bits() != y.values.get_f64(i).to_bits());
                return format!(
                    "{pa}/{}: values at {i:?}: {:?} vs {:?}",
                    x.name,
                    i.map(|i| x.values.get_f64(i)),
                    i.map(|i| y.values.get_f64(i))
                );
            }
        }
    }
    "tree or column lists".into()
}

fn same(a: &[(String, Batch)], b: &[(String, Batch)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((pa, ba), (pb, bb))| {
            pa == pb
                && ba.columns.len() == bb.columns.len()
                && ba.columns.iter().zip(&bb.columns).all(|(x, y)| {
                    x.name == y.name && x.offsets == y.offsets && bits_equal(&x.values, &y.values)
                })
        })
}

/// Value equality that treats NaNs with the same bits as equal.
fn bits_equal(a: &Values, b: &Values) -> bool {
    match (a, b) {
        (Values::F32(x), Values::F32(y)) => x
            .iter()
            .map(|v| v.to_bits())
            .eq(y.iter().map(|v| v.to_bits())),
        (Values::F64(x), Values::F64(y)) => x
            .iter()
            .map(|v| v.to_bits())
            .eq(y.iter().map(|v| v.to_bits())),
        _ => a == b,
    }
}

/// Aborts the process if one read takes longer than `limit`: a hang is a failure too.
fn watchdog(limit: Duration) -> Arc<AtomicU64> {
    let beat = Arc::new(AtomicU64::new(0));
    let b = beat.clone();
    std::thread::spawn(move || {
        let mut last = (u64::MAX, Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = b.load(Ordering::Relaxed);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > limit {
                eprintln!("hang: mutation {now} ran for more than {limit:?}");
                std::process::abort();
            }
        }
    });
    beat
}

fn sweep(name: &str, checksummed: bool, positions: usize) {
    let path = casa_test_support::real_file(name);
    let clean_bytes = std::fs::read(&path).unwrap();
    let names = trees(&clean_bytes);
    let clean = read_all(clean_bytes.clone(), &names).expect("clean file reads");
    let raw = unprotected(&clean_bytes, &names);
    let len = clean_bytes.len();
    let beat = watchdog(Duration::from_secs(20));
    let mut errors = 0;
    let mut oks = 0;
    // Dense over the header and first keys, then spread over the rest of the file.
    let mut at: Vec<usize> = (0..len.min(400)).step_by(3).collect();
    let stride = (len / positions).max(1);
    at.extend(
        (400..len)
            .step_by(stride)
            .map(|p| p + (p * 7919) % stride.max(1)),
    );
    at.retain(|&p| p < len);
    for (i, &pos) in at.iter().enumerate() {
        for mode in 0..2 {
            beat.store((i * 2 + mode) as u64, Ordering::Relaxed);
            let mut m = clean_bytes.clone();
            if mode == 0 {
                m.truncate(pos);
            } else {
                m[pos] ^= 1 << (pos % 8);
            }
            let r = catch_unwind(AssertUnwindSafe(|| read_all(m, &names)));
            match r {
                Err(_) => panic!(
                    "{name}: panic after {} at byte {pos}",
                    if mode == 0 { "truncation" } else { "bit flip" }
                ),
                Ok(Err(e)) => {
                    errors += 1;
                    let msg = e.to_string();
                    assert!(
                        msg.contains("mutant.root"),
                        "error does not name the file: {msg}"
                    );
                }
                Ok(Ok(data)) => {
                    oks += 1;
                    if mode == 0 {
                        // A truncated file cannot hold every basket; if it reads, it must
                        // read right (the cut fell after the last byte anything needs).
                        assert!(
                            same(&data, &clean),
                            "{name}: truncation at {pos} gave different data"
                        );
                    } else if checksummed && !raw.iter().any(|r| r.contains(&pos)) {
                        assert!(
                            same(&data, &clean),
                            "{name}: bit flip at {pos} gave different data: {}",
                            first_difference(&data, &clean)
                        );
                    }
                }
            }
        }
    }
    eprintln!(
        "{name}: {} mutations, {errors} errors, {oks} reads",
        at.len() * 2
    );
    assert!(errors > 0);
}

#[test]
fn hzz_zlib() {
    sweep("uproot-HZZ-zlib.root", true, 400);
}

#[test]
fn hzz_lz4() {
    sweep("uproot-HZZ-lz4.root", true, 400);
}

#[test]
fn hzz_lzma() {
    sweep("uproot-HZZ-lzma.root", true, 300);
}

#[test]
fn hzz_zstd() {
    sweep("uproot-HZZ-zstd.root", false, 400);
}

#[test]
fn hzz_uncompressed() {
    sweep("uproot-HZZ-uncompressed.root", false, 400);
}

#[test]
fn nanoaod_embedded_baskets() {
    sweep("nanoAOD_2015_CMS_Open_Data_ttbar.root", false, 150);
}

#[test]
fn small_dy_nooffsets() {
    sweep("uproot-small-dy-nooffsets.root", true, 300);
}

#[test]
fn double32_members() {
    sweep("uproot-demo-double32.root", true, 150);
}

#[test]
fn not_root_and_empty_inputs() {
    for bytes in [
        Vec::new(),
        b"root".to_vec(),
        b"<html>not found</html>".to_vec(),
        vec![0u8; 100],
    ] {
        let e = RootFile::from_source(Arc::new(MemSource::new("x.root", bytes))).unwrap_err();
        assert!(e.to_string().contains("x.root"), "{e}");
    }
}
