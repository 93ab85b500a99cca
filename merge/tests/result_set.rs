//! The final merge's result set (merged partial, histograms, plots, report) is written whole
//! or not at all, and names that no file system takes (a dataset name over NAME_MAX) do not
//! fail it.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn merge_into(input: &Path, out: &Path) -> std::process::Output {
    run([
        "-o".as_ref(),
        out.join("merged.partial").as_os_str(),
        "--outdir".as_ref(),
        out.as_os_str(),
        input.as_os_str(),
    ])
}

/// Dataset names of 300 bytes (file names stop at 255): their plots get a capped name ending
/// in a hash, so two names differing only at the end stay apart.
#[test]
fn dataset_names_longer_than_a_file_name_are_plotted_under_capped_names() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let long = |end: &str| format!("{}{end}", "VeryLongDatasetName_".repeat(15));
    for (i, ds) in [long("A"), long("B")].iter().enumerate() {
        assert!(ds.len() > 255);
        write_partial(
            &input.join(format!("p-{i}.partial")),
            vec![chunk(ds, "a.root", 0, 100)],
            &simple_acc_in(ds, i as u64, 50),
        );
    }
    let out = d.path().join("out");
    let o = merge_into(&input, &out);
    assert_ok(&o);
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let plots: Vec<&str> = (report["plots"].as_array().unwrap().iter())
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(plots.len(), 2, "{report}");
    assert_ne!(plots[0], plots[1]);
    for p in plots {
        let p = Path::new(p);
        assert!(p.is_file(), "{}", p.display());
        for c in p.strip_prefix(&out).unwrap().components() {
            assert!(c.as_os_str().len() <= 100, "{}", p.display());
        }
    }
}

/// A result set that cannot be written whole (here the plots directory is a file) leaves no
/// part of it: no merged partial and no histograms without a report.
#[test]
fn a_result_set_that_cannot_be_written_whole_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_partial(
        &input.join("p-0.partial"),
        vec![chunk("DY", "a.root", 0, 100)],
        &simple_acc(1, 50),
    );
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("plots"), b"in the way").unwrap();
    let o = merge_into(&input, &out);
    assert_eq!(
        code(&o),
        i32::from(casa_merge::exit::OUTPUT),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("plots"), "{}", stderr(&o));
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["plots"], "only what was there before");
}
