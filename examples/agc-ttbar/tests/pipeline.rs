//! The AGC plugin through the whole pipeline — `casa-submit preprocess`, `plan` with the
//! shipped corrections.json (`--input`) and the luminosity (`--config`), `casa-submit run`
//! (leaf jobs in the local runner's sandbox, the merge tree) — on NanoAOD-like files written by
//! ROOT (tests/python/make_agc_files.py), against the float64 reference
//! (tests/python/agc_numpy.py): every bin of every variation but `pt_res_up` bit-equal to the
//! exact sum of the reference's weights (casa-hist sums exactly; compare_agc.py explains), the
//! cutflows equal, `pt_res_up` within a few percent of nominal in total, and identical bins
//! when the files are cut into other steps, jobs and batches.

use std::path::{Path, PathBuf};
use std::process::Command;

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
    submit: PathBuf,
    wrapper: PathBuf,
    merge: PathBuf,
    plugin: PathBuf,
}

/// How a run cuts the files: steps of `step_size` entries, jobs of about `events_per_job`,
/// and, when given, leaf jobs reading batches of `batch_entries` (through a leaf template,
/// as a site would change the wrapper's arguments).
struct Cut {
    step_size: u64,
    events_per_job: u64,
    batch_entries: Option<u64>,
}

/// preprocess -> plan (corrections.json shipped, the luminosity as the configuration) -> run,
/// in `dir`; the merged histograms (RUNDIR/result/histograms.json).
fn pipeline(t: &Tools, fileset: &Path, dir: &Path, cut: &Cut) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let pre = dir.join("preprocessed.json.gz");
    run(Command::new(&t.submit)
        .arg("preprocess")
        .arg(fileset)
        .arg("-o")
        .arg(&pre)
        .args(["--step-size", &cut.step_size.to_string(), "-j", "2"]));
    let config = dir.join("agc.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({"lumi": 3378.0})).unwrap(),
    )
    .unwrap();
    let rundir = dir.join("run");
    let mut plan = Command::new(&t.submit);
    plan.arg("plan")
        .arg(&pre)
        .arg("--plugin")
        .arg(&t.plugin)
        .arg("--wrapper")
        .arg(&t.wrapper)
        .arg("--merge")
        .arg(&t.merge)
        .arg("--input")
        .arg(workspace().join("tests/data/agc/corrections.json"))
        .arg("--config")
        .arg(&config)
        .args(["--events-per-job", &cut.events_per_job.to_string()])
        .args(["--fan-in", "3", "-o"])
        .arg(&rundir);
    if let Some(n) = cut.batch_entries {
        let templates = dir.join("templates");
        std::fs::create_dir_all(&templates).unwrap();
        let leaf = std::fs::read_to_string(workspace().join("templates/leaf.sub.j2")).unwrap();
        let from = "-j {{ request_cpus }}";
        assert!(leaf.contains(from));
        std::fs::write(
            templates.join("leaf.sub.j2"),
            leaf.replace(from, &format!("{from} --batch-entries {n}")),
        )
        .unwrap();
        plan.arg("--templates").arg(&templates);
    }
    run(&mut plan);
    run(Command::new(&t.submit)
        .arg("run")
        .arg(&rundir)
        .args(["-j", "2", "--quiet"]));
    rundir.join("result/histograms.json")
}

#[test]
fn agc_equals_the_float64_reference_bin_for_bin() {
    let t = Tools {
        submit: build_bin("casa-submit", &beside()),
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
    // One step per file and one job per step, as the reference's per-file histograms.
    let whole = Cut {
        step_size: 1 << 40,
        events_per_job: 1,
        batch_entries: None,
    };
    let uhi = pipeline(&t, &fileset_path, &dir.path().join("whole"), &whole);
    // The same files in steps of 1234 entries, jobs of about 2000 and batches of 300.
    let rechunked = Cut {
        step_size: 1234,
        events_per_job: 2000,
        batch_entries: Some(300),
    };
    let uhi2 = pipeline(&t, &fileset_path, &dir.path().join("rechunked"), &rechunked);
    let jobs = |d: &str| {
        std::fs::read_dir(dir.path().join(d).join("run/jobs"))
            .unwrap()
            .count()
    };
    assert!(
        jobs("rechunked") > jobs("whole"),
        "{} jobs rechunked, {} whole",
        jobs("rechunked"),
        jobs("whole")
    );

    // The done-when: the `agc` histogram from the command line, sliced by region and
    // stacked by process (kept under target/tmp for a person to look at).
    let plots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("agc-plots");
    let merged = uhi.with_file_name("merged.partial");
    let o = Command::new(&t.merge)
        .args(["plot", "--hist", "sum/agc", "--slice", "region=4j2b"])
        .args([
            "--slice",
            "variation=nominal",
            "--stack",
            "process",
            "--json",
            "-o",
        ])
        .arg(plots.join("agc-4j2b.png"))
        .arg(&merged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plot_json = dir.path().join("plot.json");
    std::fs::write(&plot_json, &o.stdout).unwrap();

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
        &plot_json,
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
    // The plot stacks every process (data included, as filled) with the exact bins.
    assert_eq!(
        report["plot"]["mismatches"],
        json!([]),
        "{}",
        report["plot"]
    );
    assert!(
        report["plot"]["layers"].as_u64().unwrap() >= 4,
        "{}",
        report["plot"]
    );
}
