//! `BatchPolicy` over real files, checked against basket boundaries computed by uproot
//! (`common_entry_offsets`, `entry_offsets`): batches tile the range, cut only where every
//! basket read (counters included) has a boundary, are as short as the target allows, and the
//! quick-start policy's first batch ends at the first basket end of any column read.

use std::path::Path;

use casa_test_support::{fixture, python_command, real_file};
use rootio::{open_event_source, BatchPolicy, RootFile};
use serde_json::Value;

/// uproot's view of a tree: common offsets of the columns and their counters, and each
/// column's own basket starts.
fn uproot_offsets(file: &Path, tree: &str, columns: &[&str], counters: &[&str]) -> Value {
    let script = r#"
import json, sys
import uproot
f, tree, cols, counters = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
t = uproot.open(f)[tree]
print(json.dumps({
    "entries": t.num_entries,
    "common": [int(x) for x in t.common_entry_offsets(filter_name=cols + counters)],
    "own": {c: [int(x) for x in t[c].entry_offsets] for c in cols},
}))
"#;
    let out = python_command()
        .arg("-c")
        .arg(script)
        .arg(file)
        .arg(tree)
        .arg(serde_json::to_string(columns).unwrap())
        .arg(serde_json::to_string(counters).unwrap())
        .output()
        .expect("run the reference python");
    assert!(
        out.status.success(),
        "uproot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// Batches tile `[start, stop)` and every cut is a common boundary (or `extra_cut`); each batch
/// holds `target` entries as soon as a boundary allows, so no batch could end earlier.
fn check(batches: &[(u64, u64)], start: u64, stop: u64, common: &[u64], target: u64, ctx: &str) {
    assert_eq!(batches.first().map(|b| b.0), Some(start), "{ctx}");
    assert_eq!(batches.last().map(|b| b.1), Some(stop), "{ctx}");
    for w in batches.windows(2) {
        assert_eq!(w[0].1, w[1].0, "{ctx}: batches must be contiguous");
    }
    for &(lo, hi) in batches {
        assert!(lo < hi, "{ctx}: empty batch {lo}:{hi}");
        if hi != stop {
            assert!(
                common.contains(&hi),
                "{ctx}: cut at {hi} is not a common boundary"
            );
        }
        // No earlier common boundary already reached the target.
        let earlier = common
            .iter()
            .find(|&&b| b > lo && b < hi && b - lo >= target);
        assert!(
            earlier.is_none(),
            "{ctx}: batch {lo}:{hi} could have ended at {earlier:?}"
        );
    }
}

#[test]
fn batches_follow_uprootss_basket_boundaries() {
    let cases: &[(&Path, &str, &[&str], &[&str])] = &[
        (
            &fixture("root-zstd.root"),
            "Events",
            &["Muon_pt", "Muon_eta", "run"],
            &["nMuon"],
        ),
        (
            &fixture("root-hadd.root"),
            "Events",
            &["Muon_pt", "nMuon"],
            &[],
        ),
        (
            &real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root"),
            "Events",
            &["Muon_pt", "nJet"],
            &["nMuon"],
        ),
    ];
    for &(path, tree_name, columns, counters) in cases {
        let reference = uproot_offsets(path, tree_name, columns, counters);
        let common = u64s(&reference["common"]);
        let entries = reference["entries"].as_u64().unwrap();
        let file = RootFile::open(path.to_str().unwrap()).unwrap();
        let source = open_event_source(&file, tree_name).unwrap();
        assert_eq!(source.entries(), entries);
        assert_eq!(source.boundaries(columns).unwrap(), common, "{path:?}");
        let ranges = [(0, entries), (entries / 7, entries - entries / 5)];
        for target in [1, 1000, 2500, 7000, entries + 1] {
            for &(start, stop) in &ranges {
                let ctx = format!("{path:?} {columns:?} {start}:{stop} target {target}");
                let even = BatchPolicy::even(target)
                    .batches(&*source, columns, start, stop)
                    .unwrap();
                check(&even, start, stop, &common, target, &ctx);

                let quick = BatchPolicy::quick_start(target)
                    .batches(&*source, columns, start, stop)
                    .unwrap();
                // The first batch ends at the first basket end of any column read, or at the
                // first common boundary if that comes first.
                let first_common = common
                    .iter()
                    .copied()
                    .find(|&b| b > start)
                    .unwrap_or(stop)
                    .min(stop);
                let first_basket_end = columns
                    .iter()
                    .filter_map(|c| u64s(&reference["own"][c]).into_iter().find(|&b| b > start))
                    .min()
                    .unwrap();
                let first_end = first_common.min(first_basket_end);
                assert_eq!(quick[0], (start, first_end), "{ctx}");
                // What follows the first step: the rest of the first step, then a fresh batch
                // grown to the target.
                let mut rest = &quick[1..];
                if first_end < first_common {
                    assert_eq!(rest[0], (first_end, first_common), "{ctx}");
                    rest = &rest[1..];
                }
                if first_common < stop {
                    check(rest, first_common, stop, &common, target, &ctx);
                } else {
                    assert!(rest.is_empty(), "{ctx}");
                }
            }
        }
    }
}
