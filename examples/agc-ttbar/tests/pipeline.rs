//! The AGC plugin through casa-wrapper and casa-merge on NanoAOD-like files written by ROOT
//! (tests/python/make_agc_files.py), against the float64 reference (tests/python/agc_numpy.py):
//! every bin of every variation but `pt_res_up` bit-equal to the exact sum of the reference's
//! weights (casa-hist sums exactly; compare_agc.py explains), the cutflows equal, `pt_res_up`
//! within a few percent of nominal in total, and identical bins when a file is cut into other
//! chunks and batches. Until `casa-submit plan --input/--config` exist, the job specs carrying
//! the configuration and the shipped corrections.json are written here.

use std::path::{Path, PathBuf};
use std::process::Command;

use casa_formats::{Chunk, JobSpec};
use casa_test_support::{build_bin, build_cdylib, python_command, workspace};
use serde_json::{json, Value};

/// A binary of this build (target/<profile>/), for build_bin.
fn beside() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("agc-test")
}

fn python(args: &[&Path]) -> Vec<u8> {
    let o = python_command().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{:?}: {}",
        args,
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

struct Tools {
    wrapper: PathBuf,
    merge: PathBuf,
    plugin: PathBuf,
}

/// One job per chunk, in `rundir` (job specs with the config and the shipped
/// corrections.json beside them, as a run directory lays them out); then merge and export.
fn run_all(t: &Tools, rundir: &Path, jobs: &[Chunk], batch_entries: &str) -> PathBuf {
    std::fs::create_dir_all(rundir.join("partials")).unwrap();
    std::fs::copy(
        workspace().join("tests/data/agc/corrections.json"),
        rundir.join("corrections.json"),
    )
    .unwrap();
    for (n, c) in jobs.iter().enumerate() {
        let mut spec = JobSpec::new("agc", &format!("leaf-{n:03}"), vec![c.clone()]);
        spec.config = json!({"lumi": 3378.0});
        spec.inputs = vec!["corrections.json".into()];
        let job = rundir.join(format!("leaf-{n:03}.json"));
        std::fs::write(&job, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
        run(Command::new(&t.wrapper)
            .current_dir(rundir.join("partials"))
            .args(["run", "-j", "1", "--batch-entries", batch_entries, "--job"])
            .arg(&job)
            .arg("--plugin")
            .arg(&t.plugin)
            .arg("--out")
            .arg(rundir.join(format!("partials/leaf-{n:03}.partial"))));
    }
    let merged = rundir.join("merged.partial");
    run(Command::new(&t.merge)
        .arg("-o")
        .arg(&merged)
        .arg(rundir.join("partials")));
    let uhi = rundir.join("agc.json");
    run(Command::new(&t.merge)
        .arg("export")
        .arg(&merged)
        .arg("--uhi")
        .arg(&uhi));
    uhi
}

#[test]
fn agc_equals_the_float64_reference_bin_for_bin() {
    let t = Tools {
        wrapper: build_bin("casa-wrapper", &beside()),
        merge: build_bin("casa-merge", &beside()),
        plugin: build_cdylib("agc-ttbar"),
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let py = workspace().join("tests/python");
    python(&[&py.join("make_agc_files.py"), &data]);
    python(&[&py.join("agc_fileset.py"), &data]);
    let fileset_path = data.join("fileset.json");
    let fileset: Value = serde_json::from_slice(&std::fs::read(&fileset_path).unwrap()).unwrap();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(data.join("agc-files.json")).unwrap()).unwrap();
    let entries = |file: &str| -> u64 {
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["file"] == name)
            .unwrap()["entries"]
            .as_u64()
            .unwrap()
    };
    // One chunk per file, as the reference's per-file histograms.
    let mut chunks = Vec::new();
    for (dataset, spec) in fileset.as_object().unwrap() {
        for file in spec["files"].as_object().unwrap().keys() {
            chunks.push(Chunk {
                dataset: dataset.clone(),
                file: file.clone(),
                tree: "Events".into(),
                entry_start: 0,
                entry_stop: entries(file),
                uuid: None,
                metadata: spec["metadata"].clone(),
            });
        }
    }
    let uhi = run_all(&t, &dir.path().join("run"), &chunks, "100000");
    // The same files, ttbar__nominal_0.root cut at entry 1234 and small batches.
    let mut rechunked = Vec::new();
    for c in &chunks {
        if c.file.ends_with("ttbar__nominal_0.root") {
            let (mut a, mut b) = (c.clone(), c.clone());
            a.entry_stop = 1234;
            b.entry_start = 1234;
            rechunked.extend([a, b]);
        } else {
            rechunked.push(c.clone());
        }
    }
    assert_eq!(rechunked.len(), chunks.len() + 1);
    let uhi2 = run_all(&t, &dir.path().join("rechunked"), &rechunked, "300");

    let (ref_json, ref_npz) = (dir.path().join("numpy.json"), dir.path().join("numpy.npz"));
    python(&[
        &py.join("agc_numpy.py"),
        &fileset_path,
        &ref_json,
        Path::new("--dump-observables"),
        &ref_npz,
    ]);
    let report: Value = serde_json::from_slice(&python(&[
        &workspace().join("examples/agc-ttbar/tests/compare_agc.py"),
        &fileset_path,
        &ref_json,
        &ref_npz,
        &uhi,
        &uhi2,
    ]))
    .unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());

    // Every (region, process, variation) but pt_res_up: values and variances bit-equal to
    // the exact sums of the reference's weights. 74 fills x 27 bins x 2 = 3996 on these files.
    assert_eq!(report["mismatches"], json!([]));
    assert_eq!(report["missing"], json!([]));
    assert_eq!(report["extra"], json!([]));
    assert_eq!(report["compared_bins"], 3996);
    // hist's own sums round at each addition: a few ulps off the exact sums, nothing more.
    assert!(report["hist_rounding"]["max_ulps"].as_u64().unwrap() < 64);
    // The cutflows, dataset by dataset.
    assert_eq!(report["cutflow"], report["cutflow_reference"]);
    assert_eq!(report["cutflow"]["ttbar__nominal"]["4j2b"], 1710);
    // pt_res_up: a 5% resolution smearing moves the sum of weights by a few percent where
    // there are enough events (docs/agc.md: coffea's varies by -4.1% to +1.4%).
    let res = report["pt_res_up"].as_array().unwrap();
    assert_eq!(res.len(), 6, "pt_res_up for 3 processes x 2 regions");
    for r in res {
        if r["nominal_events"].as_u64().unwrap() >= 150 {
            let ratio = r["ratio"].as_f64().unwrap();
            assert!((ratio - 1.0).abs() < 0.05, "{r}");
        }
    }
    // Another chunking and batching: byte-identical bins, pt_res_up included.
    assert_eq!(report["rechunked"]["differing_cells"], json!([]));
    assert_eq!(report["rechunked"]["identical_pt_res_up_cells"], 6);
}
