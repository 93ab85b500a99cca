//! RNTuples read field by field equal to uproot: the CMS open-data file in
//! tests/data/root, and files written in the test by ROOT (RDataFrame Snapshot with
//! kRNTuple from the NanoAOD-like TTree fixtures, every codec, small pages and several cluster
//! groups; and RNTupleWriter with an untyped collection of records, fixed arrays, strings,
//! Real32Trunc/Real32Quant) and by uproot. Whole RNTuples and ranges that start and stop
//! either side of every cluster boundary. The reference is `tests/python/rntuple_reference.py`
//! (uproot + awkward), never our own code.

use std::path::Path;

use rootio::{open_event_source, RootFile, Values};

use casa_test_support::real_file;

mod common;
use common::{le_bytes, width, Reference};

fn reference(file: &Path) -> Reference {
    common::reference("rntuple_reference.py", file)
}

/// The whole RNTuple, ranges either side of every cluster boundary, interior and empty ones.
fn ranges(n: u64, clusters: &[u64]) -> Vec<(u64, u64)> {
    let mut out = vec![(0, n), (n / 3, 2 * n / 3), (n / 2, n / 2)];
    if n > 2 {
        out.push((1, n - 1));
        out.push((n - 1, n));
    }
    for &first in clusters.iter().skip(1) {
        out.push((first.saturating_sub(1), (first + 1).min(n)));
        out.push((first.saturating_sub(7), (first + 13).min(n)));
        out.push((first, n));
    }
    out
}

/// Compare every field uproot reads with casa; returns the number of comparisons. `thorough`
/// reads ranges around every cluster boundary, otherwise the whole RNTuple and two ranges.
fn compare(file: &Path, thorough: bool) -> usize {
    let reference = reference(file);
    let m = &reference.manifest;
    let root = RootFile::open(file.to_str().unwrap()).unwrap();
    assert_eq!(root.uuid().to_string(), m["uuid"].as_str().unwrap(), "uuid");
    let mut checked = 0;
    let ntuples = m["ntuples"].as_object().unwrap();
    assert!(!ntuples.is_empty(), "{}: no RNTuple", file.display());
    for (name, info) in ntuples {
        let src = open_event_source(&root, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(src.class(), "RNTuple");
        let n = info["entries"].as_u64().unwrap();
        assert_eq!(src.entries(), n, "{name} entries");
        let clusters: Vec<u64> = serde_json::from_value(info["clusters"].clone()).unwrap();
        let mut want_bounds = clusters.clone();
        want_bounds.push(n);
        want_bounds.dedup();
        assert_eq!(
            src.all_boundaries(),
            want_bounds,
            "{name}: cluster boundaries"
        );
        for (fname, finfo) in info["fields"].as_object().unwrap() {
            let dtype = finfo["dtype"].as_str().unwrap();
            let w = width(dtype);
            let inner = finfo["inner"].as_u64().unwrap() as usize;
            let values =
                std::fs::read(reference.dir.path().join(finfo["values"].as_str().unwrap()))
                    .unwrap();
            let offsets: Option<Vec<i64>> = finfo.get("offsets").map(|o| {
                std::fs::read(reference.dir.path().join(o.as_str().unwrap()))
                    .unwrap()
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            });
            src.type_of(fname)
                .unwrap_or_else(|e| panic!("{}: {name}/{fname}: {e}", file.display()));
            let mut rs = ranges(n, &clusters);
            if !thorough {
                rs.truncate(4);
            }
            for (start, stop) in rs {
                let batch = src
                    .read(&[fname], start, stop)
                    .unwrap_or_else(|e| panic!("{name}/{fname} [{start},{stop}): {e}"));
                let col = &batch.columns[0];
                let ctx = format!(
                    "{}: {name}/{fname} entries [{start},{stop})",
                    file.display()
                );
                let (our_dtype, ours) = le_bytes(&col.values);
                // uproot hands RNTupleCardinality<uint32> out as int64; compare those by value.
                let ours =
                    if our_dtype != dtype && dtype == "int64" && our_dtype.starts_with("uint") {
                        (0..col.values.len())
                            .flat_map(|i| (col.values.get_f64(i) as i64).to_le_bytes())
                            .collect()
                    } else if our_dtype == "int8" && dtype == "uint8" {
                        // C++ `char` inside records, which uproot hands out as uint8: the
                        // same bytes (top-level `char` fields are relabelled by the script).
                        ours
                    } else {
                        assert_eq!(our_dtype, dtype, "{ctx}: dtype");
                        ours
                    };
                match &offsets {
                    Some(off) => {
                        let our_off = col
                            .offsets
                            .as_deref()
                            .unwrap_or_else(|| panic!("{ctx}: not jagged"));
                        let (a, z) = (off[start as usize], off[stop as usize]);
                        let want: Vec<u64> = off[start as usize..=stop as usize]
                            .iter()
                            .map(|&x| (x - a) as u64)
                            .collect();
                        assert_eq!(our_off, &want, "{ctx}: offsets");
                        let bytes = &values[a as usize * inner * w..z as usize * inner * w];
                        assert!(ours == bytes, "{ctx}: values differ");
                    }
                    None => {
                        assert!(col.offsets.is_none(), "{ctx}: unexpectedly jagged");
                        let bytes = &values[start as usize * inner * w..stop as usize * inner * w];
                        assert!(ours == bytes, "{ctx}: values differ");
                    }
                }
                assert_eq!(col.inner, inner, "{ctx}: inner");
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn cms_open_data_rntuple_equals_uproot() {
    let f = real_file("Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root");
    assert!(compare(&f, true) > 0);
    // NanoAOD names both ways: the collection member under `_` and the count from offsets.
    let root = RootFile::open(f.to_str().unwrap()).unwrap();
    let src = open_event_source(&root, "Events").unwrap();
    let a = src.read(&["_collection0.Muon_pt"], 0, 1000).unwrap();
    let b = src.read(&["_collection0_Muon_pt"], 0, 1000).unwrap();
    let c = src.read(&["Muon_pt"], 0, 1000).unwrap();
    assert_eq!(a.columns[0].values, b.columns[0].values);
    assert_eq!(a.columns[0].values, c.columns[0].values);
    let n = src.read(&["nMuon", "n_collection0"], 0, 1000).unwrap();
    assert_eq!(n.columns[0].values, n.columns[1].values);
    let Values::U32(counts) = &n.columns[0].values else {
        panic!("nMuon is uint32 as in NanoAOD")
    };
    let off = c.columns[0].offsets.as_ref().unwrap();
    assert!(counts
        .iter()
        .zip(off.windows(2))
        .all(|(&k, w)| k as u64 == w[1] - w[0]));
}

/// The files of `tests/python/make_rntuple_files.py`, written once per test run.
fn written() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        casa_test_support::write_rntuples(dir.path(), &[]);
        dir
    })
    .path()
}

/// One test for all written files: they are written once (about a minute of ROOT).
#[test]
fn root_and_uproot_written_rntuples_equal_uproot_and_the_ttree() {
    let dir = written();
    for name in [
        "writer.root",
        "uproot.root",
        "snap-zstd.root",
        "snap-lzma.root",
        "snap-zlib.root",
        "snap-lz4.root",
    ] {
        let n = compare(&dir.join(name), !name.starts_with("snap-l"));
        assert!(n > 10, "{name}: only {n} comparisons");
    }
    // Several cluster groups, each page list read.
    let root = RootFile::open(dir.join("writer.root").to_str().unwrap()).unwrap();
    let nt = root.ntuple("Events").unwrap();
    assert_eq!(nt.cluster_groups.len(), 4, "{:?}", nt.cluster_groups);
    assert_eq!(nt.clusters.len(), 8);
    // Jet.pt is also Jet_pt, and nJet counts it.
    let src = open_event_source(&root, "Events").unwrap();
    let b = src
        .read(&["Jet.pt", "Jet_pt", "nJet"], 0, nt.entries)
        .unwrap();
    assert_eq!(b.columns[0].values, b.columns[1].values);
    let off = b.columns[0].offsets.as_ref().unwrap();
    let Values::U32(n) = &b.columns[2].values else {
        panic!("nJet is uint32")
    };
    assert!(n
        .iter()
        .zip(off.windows(2))
        .all(|(&k, w)| k as u64 == w[1] - w[0]));

    snapshot_reads_like_its_ttree(dir);
}

/// The snapshot holds the TTree's content: every column the TTree reads as numbers reads the
/// same from the RNTuple, under the same name (RVec fields for leaf-count arrays, the `n*`
/// counters as fields).
fn snapshot_reads_like_its_ttree(dir: &Path) {
    let tfile = RootFile::open(
        casa_test_support::fixture("root-zstd.root")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let tree = open_event_source(&tfile, "Events").unwrap();
    let nfile = RootFile::open(dir.join("snap-zstd.root").to_str().unwrap()).unwrap();
    let nt = open_event_source(&nfile, "Events").unwrap();
    assert_eq!(tree.entries(), nt.entries());
    let mut same = 0;
    for c in tree.columns() {
        let Ok(t) = c.column_type else { continue };
        if matches!(
            t.primitive,
            rootio::Primitive::Float16(_) | rootio::Primitive::Double32(_)
        ) {
            continue; // RDataFrame writes them as plain float/double fields, already unpacked
        }
        let Ok(_) = nt.type_of(&c.name) else {
            continue;
        };
        let a = tree.read(&[&c.name], 0, tree.entries()).unwrap();
        let b = nt.read(&[&c.name], 0, nt.entries()).unwrap();
        let (a, b) = (&a.columns[0], &b.columns[0]);
        assert!(a.values == b.values, "{}: values differ", c.name);
        // Fixed-size arrays become RVecs in a snapshot: compare items per entry.
        if let (Some(x), Some(y)) = (&a.offsets, &b.offsets) {
            assert!(x == y, "{}: offsets differ", c.name);
        }
        same += 1;
    }
    assert!(same >= 25, "only {same} columns compared");
}

/// Every RNTuple of scikit-hep-testdata (`src/skhep_testdata/data/*rntuple*.root`, which the
/// repository does not carry: point `CASA_SKHEP_RNTUPLES` at a directory holding them) read
/// field by field equal to uproot. Prints a tally; fails on any file that differs.
#[test]
#[ignore = "needs the scikit-hep-testdata RNTuples in CASA_SKHEP_RNTUPLES"]
fn scikit_hep_testdata_rntuples_equal_uproot() {
    let dir = std::env::var_os("CASA_SKHEP_RNTUPLES")
        .expect("set CASA_SKHEP_RNTUPLES to a directory of scikit-hep-testdata RNTuples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "root"))
        .collect();
    files.sort();
    let mut failed = Vec::new();
    for f in &files {
        let r = std::panic::catch_unwind(|| compare(f, true));
        match r {
            Ok(n) => eprintln!("ok    {n:5} reads  {}", f.display()),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!(
                    "FAIL  {}: {}",
                    f.display(),
                    msg.chars().take(300).collect::<String>()
                );
                failed.push(f.clone());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} files differ: {failed:?}",
        failed.len(),
        files.len()
    );
}
