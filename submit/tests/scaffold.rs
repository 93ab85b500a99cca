//! `casa-submit new-plugin` creates a plugin crate that builds and runs on real data unchanged.

use std::process::Command;

use casa_formats::{partial, Chunk, JobSpec};
use casa_hist::{Accumulator, Item};
use casa_test_support::{real_file, workspace};

#[test]
fn a_new_plugin_builds_and_runs() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_casa-submit"))
        .args(["new-plugin", "my-analysis", "--dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = d.path().join("my-analysis");
    // The SDK is vendored: nothing points at the casa tree this test runs in.
    let ws = workspace().canonicalize().unwrap();
    for f in ["Cargo.toml", "vendor/casa-plugin/Cargo.toml"] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        assert!(!text.contains(ws.to_str().unwrap()), "{f}:\n{text}");
        assert!(!text.contains("workspace = true"), "{f}:\n{text}");
    }
    // Its own target directory under ours, so repeated runs reuse the build.
    let target = workspace().join("target/scaffold-test");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "-q", "-j", "2"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(st.success(), "the scaffold builds");
    let lib = target.join("debug/libmy_analysis.so");
    let f = real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root");
    let job = d.path().join("job.json");
    let chunk = Chunk {
        dataset: "TTbar".into(),
        file: f.to_str().unwrap().into(),
        tree: "Events".into(),
        entry_start: 0,
        entry_stop: 200,
        uuid: None,
        metadata: serde_json::json!({}),
    };
    std::fs::write(
        &job,
        serde_json::to_vec(&JobSpec::new("t", "n", vec![chunk])).unwrap(),
    )
    .unwrap();
    let wrapper = casa_test_support::build_bin(
        "casa-wrapper",
        std::path::Path::new(env!("CARGO_BIN_EXE_casa-submit")),
    );
    let out = d.path().join("p.partial");
    let o = Command::new(wrapper)
        .arg("run")
        .arg("--job")
        .arg(&job)
        .arg("--plugin")
        .arg(&lib)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, payload) = partial::read(&out).unwrap();
    let acc: Accumulator = serde_json::from_slice(&payload).unwrap();
    let items = &acc.datasets["TTbar"];
    assert!(matches!(items["mass"], Item::Hist(_)) && matches!(items["muon_pt"], Item::Hist(_)));
}

/// A path given as the name is a usage error (exit 2) that spells the --dir form.
#[test]
fn a_path_as_the_name_is_a_usage_error_with_a_hint() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_casa-submit"))
        .arg("new-plugin")
        .arg(d.path().join("my-analysis"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let want = format!(
        "casa-submit new-plugin my-analysis --dir {}",
        d.path().display()
    );
    assert!(err.contains(&want), "{err}");
    assert!(!d.path().join("my-analysis").exists());
}
