//! Every way a set of partials can be wrong gives its documented exit code and a message
//! naming the files concerned; identical copies are merged once.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use casa_hist::{Accumulator, HistSpec};
use casa_merge::exit;
use common::*;
use serde_json::{json, Value};

fn merge_dir(dir: &Path, out: &Path) -> std::process::Output {
    run(["-o".as_ref(), out.as_os_str(), dir.as_os_str()])
}

/// Two good partials p-0, p-1 in `dir/in`.
fn two(dir: &Path) -> (PathBuf, PathBuf) {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let a = input.join("p-0.partial");
    let b = input.join("p-1.partial");
    write_partial(&a, vec![chunk("DY", "a.root", 0, 100)], &simple_acc(1, 50));
    write_partial(
        &b,
        vec![chunk("DY", "a.root", 100, 200)],
        &simple_acc(2, 60),
    );
    (a, b)
}

#[track_caller]
fn assert_fails(o: &std::process::Output, want: u8, names: &[&Path], words: &[&str]) {
    let err = stderr(o);
    assert_eq!(code(o), i32::from(want), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    for n in names {
        assert!(
            err.contains(&n.display().to_string()),
            "{err} does not name {}",
            n.display()
        );
    }
    for w in words {
        assert!(err.contains(w), "{err} does not say {w:?}");
    }
}

#[test]
fn identical_copies_are_merged_once_and_reported() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = two(d.path());
    let reference = d.path().join("reference.partial");
    assert_ok(&merge_dir(&d.path().join("in"), &reference));
    // A retried node whose first attempt also wrote: the same bytes under another name.
    let copy = d.path().join("in/p-0.retry.partial");
    std::fs::copy(&a, &copy).unwrap();
    let out = d.path().join("out");
    let o = run([
        "-o".as_ref(),
        out.join("m.partial").as_os_str(),
        "--outdir".as_ref(),
        out.as_os_str(),
        d.path().join("in").as_os_str(),
        "--no-plots".as_ref(),
        "--json".as_ref(),
    ]);
    assert_ok(&o);
    assert!(stderr(&o).contains("1 duplicate"), "{}", stderr(&o));
    assert_eq!(payload(&out.join("m.partial")), payload(&reference));
    let (h, _) = casa_formats::partial::read(&out.join("m.partial")).unwrap();
    assert_eq!((h.chunks.len(), h.events), (2, 200));
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    for r in [&printed, &report] {
        assert_eq!(r["inputs"], json!(3));
        assert_eq!(r["merged"], json!(2));
        assert_eq!(r["duplicates"][0]["kept"], json!(a));
        assert_eq!(r["duplicates"][0]["dropped"], json!(copy));
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("Duplicates left out") && md.contains("p-0.retry.partial"),
        "{md}"
    );
    let _ = b;
}

#[test]
fn a_copy_written_by_another_producer_with_equal_contents_is_a_duplicate() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    // Same chunks and accumulator, other header fields (node, producer): still a copy.
    let (mut h, p) = casa_formats::partial::read(&a).unwrap();
    h.node = "leaf-0-attempt-2".into();
    h.producer = "casa-wrapper 9.9".into();
    casa_formats::partial::write(&d.path().join("in/p-0-b.partial"), &h, &p).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_ok(&o);
}

#[test]
fn the_same_chunk_with_other_results_is_a_conflict_naming_both() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let other = d.path().join("in/p-0-retry.partial");
    write_partial(
        &other,
        vec![chunk("DY", "a.root", 0, 100)],
        &simple_acc(99, 50),
    );
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::CONFLICT, &[&a, &other], &["different results"]);
    assert!(!d.path().join("m.partial").exists());
}

#[test]
fn sharing_a_chunk_with_other_chunk_sets_is_a_conflict() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = two(d.path());
    // A merged output of both leaves, given together with the leaves.
    let both = d.path().join("in/z-merged.partial");
    write_partial(
        &both,
        vec![
            chunk("DY", "a.root", 0, 100),
            chunk("DY", "a.root", 100, 200),
        ],
        &simple_acc(5, 5),
    );
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(
        &o,
        exit::CONFLICT,
        &[&both],
        &["different chunk sets", "a.root"],
    );
    let err = stderr(&o);
    assert!(err.contains(&a.display().to_string()) || err.contains(&b.display().to_string()));
}

#[test]
fn the_same_chunk_of_a_changed_file_is_a_conflict() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let mut c = chunk("DY", "a.root", 0, 100);
    c.uuid = "another-uuid".into();
    let other = d.path().join("in/p-0-retry.partial");
    write_partial(&other, vec![c], &simple_acc(1, 50));
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::CONFLICT, &[&a, &other], &["UUID", "another-uuid"]);
}

#[test]
fn overlapping_ranges_are_an_error_naming_both_files_and_ranges() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let over = d.path().join("in/p-x.partial");
    write_partial(
        &over,
        vec![chunk("DY", "a.root", 50, 150)],
        &simple_acc(3, 10),
    );
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(
        &o,
        exit::OVERLAP,
        &[&a, &over],
        &["[0, 100)", "[50, 150)", "a.root", "DY"],
    );
    // Within one partial too.
    let d2 = tempfile::tempdir().unwrap();
    let bad = d2.path().join("self.partial");
    write_partial(
        &bad,
        vec![chunk("DY", "a.root", 0, 10), chunk("DY", "a.root", 5, 20)],
        &simple_acc(3, 10),
    );
    let o = merge_dir(d2.path(), &d2.path().join("m.partial"));
    assert_fails(&o, exit::OVERLAP, &[&bad], &["[0, 10)", "[5, 20)"]);
}

/// One file (one UUID) under two paths — a symlink, `dir/./file`, two redirectors — is one
/// file: the same range read under both paths would count its entries twice.
#[test]
fn one_file_under_two_paths_is_an_overlap() {
    let two_paths = |a: (u64, u64), b: (u64, u64)| {
        let mut x = chunk("DY", "/data/a.root", a.0, a.1);
        let mut y = chunk("DY", "/data/./a.root", b.0, b.1);
        (x.uuid, y.uuid) = ("uuid-a".into(), "uuid-a".into());
        (x, y)
    };
    for (ra, rb) in [((0, 100), (0, 100)), ((0, 100), (50, 150))] {
        let d = tempfile::tempdir().unwrap();
        let (x, y) = two_paths(ra, rb);
        let (p, q) = (d.path().join("p-0.partial"), d.path().join("p-1.partial"));
        write_partial(&p, vec![x.clone()], &simple_acc(1, 50));
        write_partial(&q, vec![y.clone()], &simple_acc(1, 50));
        let o = merge_dir(d.path(), &d.path().join("m.partial"));
        assert_fails(
            &o,
            exit::OVERLAP,
            &[&p, &q],
            &["/data/a.root", "/data/./a.root", "uuid-a", "two paths"],
        );
        assert!(!d.path().join("m.partial").exists());
        // In one partial too.
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("p.partial");
        write_partial(&p, vec![x, y], &simple_acc(1, 50));
        let o = merge_dir(d.path(), &d.path().join("m.partial"));
        assert_fails(&o, exit::OVERLAP, &[&p], &["two paths", "same partial"]);
    }
    // Disjoint ranges of it under two paths, or the same range in another dataset, are fine.
    let d = tempfile::tempdir().unwrap();
    let (x, y) = two_paths((0, 100), (100, 200));
    let mut z = x.clone();
    z.dataset = "ZZ".into();
    write_partial(&d.path().join("p-0.partial"), vec![x], &simple_acc(1, 50));
    write_partial(&d.path().join("p-1.partial"), vec![y], &simple_acc(2, 50));
    write_partial(
        &d.path().join("p-2.partial"),
        vec![z],
        &simple_acc_in("ZZ", 3, 50),
    );
    assert_ok(&merge_dir(d.path(), &d.path().join("m.partial")));
}

/// A malformed histogram (its bins do not fit its axes, or its storage its declaration) is a
/// corrupt partial (21) naming the file in every command: merged alone or with another
/// partial (it was an internal error, or blamed two files as incompatible), shown, exported.
#[test]
fn a_malformed_histogram_is_corrupt_in_every_command() {
    for (from, to) in [
        ("\"bins\":30", "\"bins\":31"),
        ("\"storage\":\"weight\"", "\"storage\":\"double\""),
        ("\"start\":0.0,\"stop\":1.0", "\"start\":1.0,\"stop\":0.0"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = two(d.path());
        let (h, payload) = casa_formats::partial::read(&a).unwrap();
        let text = String::from_utf8(payload).unwrap();
        assert!(text.contains(from), "{text}");
        let bad = text.replacen(from, to, 1);
        casa_formats::partial::write(&a, &h, bad.as_bytes()).unwrap();
        let m = d.path().join("m.partial");
        let uhi = d.path().join("h.json");
        for args in [
            vec![OsStr::new("-o"), m.as_os_str(), a.as_os_str()],
            vec![
                OsStr::new("-o"),
                m.as_os_str(),
                a.as_os_str(),
                b.as_os_str(),
            ],
            vec![OsStr::new("show"), a.as_os_str()],
            vec![
                OsStr::new("export"),
                a.as_os_str(),
                OsStr::new("--uhi"),
                uhi.as_os_str(),
            ],
        ] {
            let o = run(&args);
            assert_fails(&o, exit::CORRUPT, &[&a], &["histogram"]);
            assert!(
                !stderr(&o).contains(&b.display().to_string()),
                "{}",
                stderr(&o)
            );
            assert!(!m.exists() && !uhi.exists());
        }
    }
}

#[test]
fn a_partial_listing_one_chunk_twice_is_an_overlap() {
    // Without this check the chunk would pass as covered once while the partial's counts
    // could hold it twice.
    for range in [(0, 10), (5, 5)] {
        let d = tempfile::tempdir().unwrap();
        let bad = d.path().join("twice.partial");
        let c = chunk("DY", "a.root", range.0, range.1);
        write_partial(&bad, vec![c.clone(), c], &simple_acc(3, 10));
        let o = merge_dir(d.path(), &d.path().join("m.partial"));
        let r = format!("[{}, {})", range.0, range.1);
        assert_fails(
            &o,
            exit::OVERLAP,
            &[&bad],
            &[&r, "a.root", "DY", "in the same partial"],
        );
        assert!(!d.path().join("m.partial").exists());
    }
}

/// A partial whose header and payload disagree, with a valid checksum: each is refused as
/// corrupt (21), naming the file, and nothing is written.
#[test]
fn a_header_disagreeing_with_its_payload_or_itself_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let (good, payload) = casa_formats::partial::read(&a).unwrap();
    let out = d.path().join("m.partial");
    let crafted = |edit: &dyn Fn(&mut casa_formats::partial::PartialHeader), acc: &[u8]| {
        let mut h = good.clone();
        edit(&mut h);
        // encode, as the checksum must be valid: only the consistency checks can catch it.
        std::fs::write(&a, casa_formats::partial::encode(&h, acc)).unwrap();
        merge_dir(&d.path().join("in"), &out)
    };
    // Events the chunks do not hold.
    let o = crafted(&|h| h.events += 1, &payload);
    assert_fails(
        &o,
        exit::CORRUPT,
        &[&a],
        &["'events' is 101", "100 entries"],
    );
    // A chunk backwards (events as the writer would sum them, wrapped).
    let o = crafted(
        &|h| {
            h.chunks[0].entry_start = 150;
            h.events = 0;
        },
        &payload,
    );
    assert_fails(
        &o,
        exit::CORRUPT,
        &[&a],
        &["chunks[0]", "entry_start 150 after entry_stop 100"],
    );
    // Counts of a dataset no chunk is from.
    let o = crafted(&|h| h.chunks[0].dataset = "TT".into(), &payload);
    assert_fails(&o, exit::CORRUPT, &[&a], &["dataset 'DY'", "'TT'"]);
    // Counts with no chunk at all.
    let o = crafted(
        &|h| {
            h.chunks.clear();
            h.events = 0;
        },
        &payload,
    );
    assert_fails(
        &o,
        exit::CORRUPT,
        &[&a],
        &["dataset 'DY'", "covers no chunk"],
    );
    assert!(!out.exists());
    // The untouched partial merges.
    std::fs::write(&a, casa_formats::partial::encode(&good, &payload)).unwrap();
    assert_ok(&merge_dir(&d.path().join("in"), &out));
}

/// A zstd frame whose header claims 2^62 bytes of content (with a valid checksum) is corrupt
/// (21), not an allocation that aborts the merge.
#[test]
fn a_payload_frame_claiming_2_62_bytes_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let (h, _) = casa_formats::partial::read(&a).unwrap();
    let h = serde_json::to_vec(&h).unwrap();
    // Frame: magic, single segment with an 8-byte content size, one raw last block "{}".
    let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0xe0];
    z.extend_from_slice(&(1u64 << 62).to_le_bytes());
    z.extend_from_slice(&[0x11, 0, 0, b'{', b'}']);
    let mut bytes = b"CASAPART".to_vec();
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&(h.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(z.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&h);
    bytes.extend_from_slice(&z);
    let sum = xxhash_rust::xxh64::xxh64(&bytes, 0);
    bytes.extend_from_slice(&sum.to_le_bytes());
    std::fs::write(&a, &bytes).unwrap();
    let out = d.path().join("m.partial");
    let o = merge_dir(&d.path().join("in"), &out);
    assert_fails(
        &o,
        exit::CORRUPT,
        &[&a],
        &["zstd frame claims 4611686018427387904 bytes"],
    );
    assert!(!out.exists());
}

#[test]
fn the_output_cannot_be_an_input() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = two(d.path());
    let before = std::fs::read(&b).unwrap();
    // `-o X A X`, X spelled another way, and through a symlink.
    let link = d.path().join("link.partial");
    std::os::unix::fs::symlink(&b, &link).unwrap();
    let dotted = d.path().join("in/./p-1.partial");
    for out in [&b, &dotted, &link] {
        let o = run(["-o".as_ref(), out.as_os_str(), a.as_os_str(), b.as_os_str()]);
        assert_fails(&o, exit::USAGE, &[&b], &["is also an input"]);
        assert_eq!(
            std::fs::read(&b).unwrap(),
            before,
            "the input is left alone"
        );
    }
}

#[test]
fn the_same_range_in_another_dataset_or_tree_is_not_an_overlap() {
    let d = tempfile::tempdir().unwrap();
    let (_, _) = two(d.path());
    let mut c = chunk("DY", "a.root", 0, 100);
    c.tree = "Runs".into();
    write_partial(
        &d.path().join("in/runs.partial"),
        vec![c],
        &simple_acc(4, 10),
    );
    write_partial(
        &d.path().join("in/tt.partial"),
        vec![chunk("TT", "a.root", 0, 100)],
        &simple_acc_in("TT", 5, 10),
    );
    assert_ok(&merge_dir(
        &d.path().join("in"),
        &d.path().join("m.partial"),
    ));
}

#[test]
fn corrupt_truncated_and_foreign_partials_are_rejected_by_name() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = two(d.path());
    let good = std::fs::read(&a).unwrap();
    // A bit flip in the payload.
    let mut flipped = good.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 0x10;
    std::fs::write(&a, &flipped).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::CORRUPT, &[&a], &["corrupt", "checksum"]);
    // A bit flip in the header (a chunk's range): still the checksum, not a bogus overlap.
    let mut flipped = good.clone();
    let pos = flipped
        .windows(13)
        .position(|w| w == b"\"entry_stop\":")
        .unwrap();
    flipped[pos + 13] ^= 0x01;
    std::fs::write(&a, &flipped).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::CORRUPT, &[&a], &["checksum"]);
    // Truncated.
    std::fs::write(&a, &good[..good.len() / 2]).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::CORRUPT, &[&a], &["truncated"]);
    // Not a partial at all.
    std::fs::write(&a, b"{\"not\": \"a partial\"}").unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::CORRUPT, &[&a], &["not a casa partial"]);
    // Two bad files: both named.
    std::fs::write(&b, &good[..30]).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::CORRUPT, &[&a, &b], &["2 bad partials"]);
    assert!(!d.path().join("m.partial").exists());
}

#[test]
fn another_major_version_is_rejected_by_name() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[8] = 2; // format major 2
    bytes[10] = 0;
    std::fs::write(&a, &bytes).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::VERSION, &[&a], &["2.0", "not readable"]);
}

#[test]
fn a_newer_minor_version_with_a_good_checksum_is_rejected_by_name() {
    // A newer minor may encode the payload in a way this merge cannot read (and would skip).
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let mut bytes = std::fs::read(&a).unwrap();
    bytes[10] = bytes[10].wrapping_add(1);
    let body = bytes.len() - 8;
    let sum = xxhash_rust::xxh64::xxh64(&bytes[..body], 0);
    bytes[body..].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&a, &bytes).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::VERSION, &[&a], &["not readable"]);
}

#[test]
fn a_missing_input_is_unreadable() {
    let d = tempfile::tempdir().unwrap();
    let missing = d.path().join("nope.partial");
    let o = run([
        "-o".as_ref(),
        d.path().join("m.partial").as_os_str(),
        missing.as_os_str(),
    ]);
    assert_fails(&o, exit::UNREADABLE, &[&missing], &["cannot read"]);
    let list = d.path().join("no-list.txt");
    let o = run([
        "-o".as_ref(),
        d.path().join("m.partial").as_os_str(),
        "--from-list".as_ref(),
        list.as_os_str(),
    ]);
    assert_fails(&o, exit::UNREADABLE, &[&list], &[]);
}

fn acc_with(spec: Value) -> Accumulator {
    let spec: HistSpec = serde_json::from_value(spec).unwrap();
    let mut acc = Accumulator::new();
    acc.hist_mut("DY", "mass", &spec).unwrap();
    acc
}

#[test]
fn incompatible_axes_name_both_files_the_histogram_and_the_axis() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let mk = |bins: u32| {
        acc_with(json!({"axes": [
            {"type": "str_category", "categories": ["a"], "name": "cat"},
            {"type": "regular", "bins": bins, "start": 0.0, "stop": 1.0, "name": "m"}],
            "storage": "weight"}))
    };
    let mut paths = Vec::new();
    for k in 0..20 {
        let p = input.join(format!("p-{k:02}.partial"));
        let bins = if k >= 16 { 11 } else { 10 };
        write_partial(
            &p,
            vec![chunk("DY", "a.root", 10 * k, 10 * k + 10)],
            &mk(bins),
        );
        paths.push(p);
    }
    // Fan-in 4: the last four (11 bins) agree among themselves and meet the others at the
    // root of the tree, as subtrees.
    let o = run([
        "-o".as_ref(),
        d.path().join("m.partial").as_os_str(),
        input.as_os_str(),
        "--fan-in".as_ref(),
        "4".as_ref(),
    ]);
    assert_fails(
        &o,
        exit::INCOMPATIBLE,
        &[&paths[0], &paths[16]],
        &["DY", "mass", "axis 1 (`m`)", "binning differs"],
    );
    // A histogram in one partial, a counter of the same name in another.
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.partial");
    let b = d.path().join("b.partial");
    write_partial(&a, vec![chunk("DY", "a.root", 0, 1)], &mk(10));
    let mut c = Accumulator::new();
    c.count("DY", "mass", casa_hist::Counter::Int(1)).unwrap();
    write_partial(&b, vec![chunk("DY", "a.root", 1, 2)], &c);
    let o = merge_dir(d.path(), &d.path().join("m.partial"));
    assert_fails(&o, exit::INCOMPATIBLE, &[&a, &b], &["mass", "counter"]);
}

#[test]
fn partials_of_other_plugins_or_runs_are_incompatible() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let other = d.path().join("in/p-2.partial");
    write_partial_as(
        &other,
        vec![chunk("DY", "b.root", 0, 5)],
        &simple_acc(7, 5),
        "dimuon",
    );
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(&o, exit::INCOMPATIBLE, &[&a, &other], &["plugin", "dimuon"]);
    // Runs: refused unless --run-id says what the result is.
    std::fs::remove_file(&other).unwrap();
    let (mut h, p) = casa_formats::partial::read(&a).unwrap();
    h.run_id = "another-run".into();
    h.chunks = vec![chunk("DY", "c.root", 0, 5)];
    h.events = 5;
    casa_formats::partial::write(&other, &h, &p).unwrap();
    let o = merge_dir(&d.path().join("in"), &d.path().join("m.partial"));
    assert_fails(
        &o,
        exit::INCOMPATIBLE,
        &[&other],
        &["another-run", "--run-id"],
    );
    let m = d.path().join("m.partial");
    assert_ok(&run([
        "-o".as_ref(),
        m.as_os_str(),
        d.path().join("in").as_os_str(),
        "--run-id".as_ref(),
        "combined".as_ref(),
    ]));
    assert_eq!(
        casa_formats::partial::read(&m).unwrap().0.run_id,
        "combined"
    );
}

#[test]
fn json_errors_carry_code_kind_and_files() {
    let d = tempfile::tempdir().unwrap();
    let (a, _) = two(d.path());
    let bytes = std::fs::read(&a).unwrap();
    std::fs::write(&a, &bytes[..bytes.len() - 1]).unwrap();
    let o = run([
        "-o".as_ref(),
        d.path().join("m.partial").as_os_str(),
        d.path().join("in").as_os_str(),
        "--json".as_ref(),
    ]);
    assert_eq!(code(&o), i32::from(exit::CORRUPT));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], json!(exit::CORRUPT));
    assert_eq!(v["error"]["kind"], json!("corrupt"));
    assert_eq!(v["error"]["files"], json!([a]));
}

#[test]
fn usage_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    // Nowhere to write.
    let o = run([d.path().as_os_str()]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // Nothing to merge.
    let o = run([
        "-o".as_ref(),
        d.path().join("m.partial").as_os_str(),
        d.path().as_os_str(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("no partials"), "{}", stderr(&o));
    // Contradictory flags.
    let o = run(["--strict", "--allow-missing", "-o", "x"]);
    assert_eq!(code(&o), 2);
    let o = run(["--fan-in", "1", "-o", "x", "y"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn help_has_examples_and_every_exit_code() {
    let o = run(["--help"]);
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Examples:") && text.contains("casa-merge --run RUNDIR"),
        "{text}"
    );
    for code in exit::table().iter().map(|c| c.code) {
        assert!(
            text.contains(&format!("{code} ")),
            "--help lacks exit code {code}"
        );
    }
}
