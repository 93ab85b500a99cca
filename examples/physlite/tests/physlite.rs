//! The PHYSLITE example plugin on a real ATLAS PHYSLITE file (scikit-hep-testdata
//! uproot-issue-951.root, tree CollectionTree): `casa-wrapper run` fills the same histogram,
//! bin by bin, as uproot + numpy + hist (tests/python/physlite_reference.py), for the whole
//! file and for a job cut into ranges and small batches.

use std::path::{Path, PathBuf};
use std::process::Command;

use casa_formats::{partial, Chunk, JobSpec};
use casa_hist::{Accumulator, Counter, Item};
use casa_test_support::{build_bin, build_cdylib, python_command, real_file, workspace};
use serde_json::Value;

const TREE: &str = "CollectionTree";

fn chunk(file: &Path, start: u64, stop: u64) -> Chunk {
    Chunk {
        dataset: "physlite".into(),
        file: file.to_string_lossy().into_owned(),
        tree: TREE.into(),
        entry_start: start,
        entry_stop: stop,
        uuid: None,
        metadata: serde_json::json!({"is_mc": true}),
    }
}

/// Per object kind, the pt bins with flow, and the entries, as the reference computes them.
fn reference(file: &Path, ranges: &[(u64, u64)]) -> (Vec<Vec<f64>>, u64) {
    let mut total: Option<Vec<Vec<f64>>> = None;
    let mut entries = 0;
    for &(a, z) in ranges {
        let o = python_command()
            .arg(workspace().join("tests/python/physlite_reference.py"))
            .arg(file)
            .args([TREE, &a.to_string(), &z.to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let values: Vec<Vec<f64>> = serde_json::from_value(v["values"].clone()).unwrap();
        entries += v["entries"].as_u64().unwrap();
        total = Some(match total {
            None => values,
            Some(t) => t
                .iter()
                .zip(&values)
                .map(|(x, y)| x.iter().zip(y).map(|(a, b)| a + b).collect())
                .collect(),
        });
    }
    (total.unwrap(), entries)
}

fn run(chunks: Vec<Chunk>, batch_entries: &str) -> (Vec<Vec<f64>>, u64) {
    let plugin = build_cdylib("physlite");
    // A binary of this build's profile directory (target/<profile>/), for build_bin.
    let exe = std::env::current_exe().unwrap();
    let beside = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("physlite-test");
    let wrapper: PathBuf = build_bin("casa-wrapper", &beside);
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.json");
    std::fs::write(
        &job,
        serde_json::to_vec(&JobSpec::new("test", "leaf-0", chunks)).unwrap(),
    )
    .unwrap();
    let out = dir.path().join("p.partial");
    let o = Command::new(&wrapper)
        .arg("run")
        .arg("--job")
        .arg(&job)
        .arg("--plugin")
        .arg(&plugin)
        .arg("--out")
        .arg(&out)
        .args(["--batch-entries", batch_entries])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "casa-wrapper failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (_, payload) = partial::read(&out).unwrap();
    let acc: Accumulator = serde_json::from_slice(&payload).unwrap();
    let items = &acc.datasets["physlite"];
    let Item::Hist(h) = &items["pt"] else {
        panic!("pt is a histogram")
    };
    let shape = h.shape(true);
    let rows = h
        .values(true)
        .chunks(shape[1])
        .map(|r| r.to_vec())
        .collect();
    let Item::Counter(Counter::Int(n)) = &items["entries"] else {
        panic!("entries is an integer counter")
    };
    (rows, *n as u64)
}

fn check(ranges: &[(u64, u64)], batch_entries: &str) {
    let file = real_file("uproot-issue-951.root");
    let (want, want_entries) = reference(&file, ranges);
    let chunks = ranges.iter().map(|&(a, z)| chunk(&file, a, z)).collect();
    let (got, entries) = run(chunks, batch_entries);
    assert_eq!(entries, want_entries);
    let filled: f64 = want.iter().flatten().sum();
    assert!(filled > 0.0, "the reference histogram is empty");
    // The reference's category axis has no overflow bin (hist's StrCategory default); ours
    // may: compare the categories both have, and require nothing in any extra one.
    for (c, w) in want.iter().enumerate() {
        assert_eq!(&got[c], w, "object kind {c}");
    }
    for extra in &got[want.len()..] {
        assert!(extra.iter().all(|&x| x == 0.0), "{extra:?}");
    }
}

#[test]
fn the_whole_file_equals_uproot_and_hist() {
    check(&[(0, 50)], "100000");
}

#[test]
fn ranges_and_small_batches_give_the_same_bins() {
    check(&[(0, 7), (7, 31), (31, 50)], "5");
}
