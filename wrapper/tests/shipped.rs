//! The run's plugin configuration and the inputs shipped with a job reach the plugin (Rust
//! SDK and C header), and corrections from a shipped correctionlib file evaluate as
//! Python's correctionlib does, in a Rust plugin (casa-correction through the SDK) and in a
//! C++ plugin (through the host's functions).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use casa_formats::partial;
use casa_formats::{Chunk, ExitClass, JobSpec};
use casa_hist::{Accumulator, Counter, Item};
use casa_test_support::{build_cdylib, build_cpp_plugin, fixture, python_command, workspace};
use serde_json::{json, Value};

fn misbehave() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("misbehave"))
}

fn correction_cpp() -> &'static Path {
    static P: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &P.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let so = build_cpp_plugin(
            &workspace().join("tests/plugins/correction-cpp/correction.cpp"),
            d.path(),
        );
        (d, so)
    })
    .1
}

fn chunks() -> Vec<Chunk> {
    vec![Chunk {
        dataset: "ZZ".into(),
        file: fixture("root-zstd.root").to_string_lossy().into_owned(),
        tree: "Events".into(),
        entry_start: 0,
        entry_stop: 5000,
        uuid: None,
        metadata: json!({"is_mc": true}),
    }]
}

/// A job directory: the job spec (with `config` and `inputs`) and the files beside it.
struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new(config: Value, inputs: &[&str], files: &[(&str, &[u8])]) -> Job {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = JobSpec::new("test", "leaf-0", chunks());
        spec.config = config;
        spec.inputs = inputs.iter().map(|s| s.to_string()).collect();
        std::fs::write(
            dir.path().join("job.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        Job { dir }
    }

    /// `casa-wrapper run` in `cwd` (default: a fresh empty directory).
    fn run(&self, plugin: &Path, mode: &str, cwd: Option<&Path>) -> Output {
        let empty = tempfile::tempdir().unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_casa-wrapper"))
            .current_dir(cwd.unwrap_or(empty.path()))
            .arg("run")
            .arg("--job")
            .arg(self.dir.path().join("job.json"))
            .arg("--plugin")
            .arg(plugin)
            .arg("--out")
            .arg(self.dir.path().join("p.partial"))
            .args(["--batch-entries", "1000"])
            .env("CASA_TEST_MODE", mode)
            .output()
            .unwrap()
    }

    fn partial(&self, o: &Output) -> Accumulator {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (_, payload) = partial::read(&self.dir.path().join("p.partial")).unwrap();
        serde_json::from_slice(&payload).unwrap()
    }
}

fn expect_failure(o: &Output, class: ExitClass, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(class.code() as i32),
        "expected {class:?}: {err}"
    );
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

fn counter(acc: &Accumulator, name: &str) -> Counter {
    match acc.datasets["ZZ"].get(name) {
        Some(Item::Counter(c)) => c.clone(),
        other => panic!("counter {name}: {other:?}"),
    }
}

#[test]
fn configuration_and_shipped_inputs_reach_the_plugin() {
    let job = Job::new(
        json!({"label": "agc", "scale": 2.5}),
        &["note.txt"],
        &[("note.txt", b"beside the job spec")],
    );
    // Found beside the job spec (a local run).
    let acc = job.partial(&job.run(misbehave(), "setup", None));
    assert!(matches!(counter(&acc, "label_agc"), Counter::Int(1)));
    assert!(matches!(counter(&acc, "scale"), Counter::Float(x) if x == 2.5));
    assert!(matches!(counter(&acc, "note_bytes"), Counter::Int(19)));
    // The working directory first (where HTCondor transfers inputs).
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("note.txt"), b"transferred").unwrap();
    let acc = job.partial(&job.run(misbehave(), "setup", Some(cwd.path())));
    assert!(matches!(counter(&acc, "note_bytes"), Counter::Int(11)));
}

#[test]
fn a_missing_input_a_wrong_name_or_configuration_fail_by_name() {
    // Named by the job spec, but nowhere to be found: the job's fault.
    let job = Job::new(json!({"label": "x"}), &["note.txt"], &[]);
    expect_failure(
        &job.run(misbehave(), "setup", None),
        ExitClass::InvalidJob,
        &[
            "shipped input \"note.txt\"",
            "working directory",
            "beside the job spec",
        ],
    );
    // The plugin asks for an input the job does not ship: the plugin's fault, with the names.
    let job = Job::new(json!({"label": "x"}), &["other.txt"], &[("other.txt", b"")]);
    expect_failure(
        &job.run(misbehave(), "setup", None),
        ExitClass::PluginFault,
        &["no input named \"note.txt\"", "this job ships other.txt"],
    );
    // No configuration: the plugin's type needs a label.
    let job = Job::new(Value::Null, &["note.txt"], &[("note.txt", b"")]);
    expect_failure(
        &job.run(misbehave(), "setup", None),
        ExitClass::PluginFault,
        &["configuration does not fit", "label"],
    );
}

/// The nMuon histogram weighted by event_systematics(btag_var, up, 10 nMuon + 25), from
/// uproot and Python correctionlib: [values..., variances...] with flow bins, each the exact
/// sum of the weights (of their squares) rounded once, as casa-hist sums.
fn correctionlib_reference() -> Vec<f64> {
    let code = r#"
import sys, json, uproot, numpy as np, correctionlib, hist
from fractions import Fraction
n = uproot.open(sys.argv[1])['Events']['nMuon'].array(library='np', entry_stop=5000)
c = correctionlib.CorrectionSet.from_file(sys.argv[2])['event_systematics']
w = c.evaluate('btag_var', 'up', 10.0 * n.astype(np.float64) + 25.0)
idx = hist.axis.Integer(0, 10).index(n) + 1  # with the underflow bin first
sw = [sum((Fraction(float(x)) for x in w[idx == b]), Fraction(0)) for b in range(12)]
sw2 = [sum((Fraction(float(x)) ** 2 for x in w[idx == b]), Fraction(0)) for b in range(12)]
print(json.dumps([float(x) for x in sw] + [float(x) for x in sw2]))
"#;
    let o = python_command()
        .arg("-c")
        .arg(code)
        .arg(fixture("root-zstd.root"))
        .arg(workspace().join("tests/data/agc/corrections.json"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn weighted(acc: &Accumulator) -> Vec<f64> {
    let Item::Hist(h) = &acc.datasets["ZZ"]["w"] else {
        panic!("w is a histogram")
    };
    let mut v = h.values(true);
    v.extend(h.variances(true).expect("weight storage"));
    v
}

#[test]
fn corrections_from_a_shipped_file_equal_correctionlib_in_rust_and_cpp_plugins() {
    let corrections = std::fs::read(workspace().join("tests/data/agc/corrections.json")).unwrap();
    let job = Job::new(
        Value::Null,
        &["corrections.json"],
        &[("corrections.json", &corrections)],
    );
    let want = correctionlib_reference();
    let rust = weighted(&job.partial(&job.run(misbehave(), "correction", None)));
    assert_eq!(rust, want, "Rust plugin (casa-correction through the SDK)");
    let cpp = weighted(&job.partial(&job.run(correction_cpp(), "", None)));
    assert_eq!(cpp, want, "C++ plugin (the host's correction functions)");
    // Every event was weighted by more than 1.
    assert!(want[..12].iter().sum::<f64>() > 5000.0);
}

#[test]
fn a_correction_the_file_lacks_is_a_plugin_fault_naming_it() {
    let corrections = std::fs::read(workspace().join("tests/data/agc/corrections.json")).unwrap();
    let job = Job::new(
        json!({"correction": "no_such_correction"}),
        &["corrections.json"],
        &[("corrections.json", &corrections)],
    );
    expect_failure(
        &job.run(correction_cpp(), "", None),
        ExitClass::PluginFault,
        &["no_such_correction", "event_systematics"],
    );
}
