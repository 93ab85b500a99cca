//! `casa-wrapper inspect` as users run it: the real binary on real files.

use std::process::{Command, Output};

use serde_json::Value;

use casa_test_support::python;

fn data(name: &str) -> String {
    casa_test_support::real_file(name)
        .to_string_lossy()
        .into_owned()
}

fn casa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casa-wrapper"))
        .args(args)
        .output()
        .expect("run casa-wrapper")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("valid JSON")
}

/// Facts about a file according to uproot.
fn uproot_facts(file: &str, tree: &str) -> Value {
    let code = r#"
import sys, json, warnings
warnings.filterwarnings("ignore")
import uproot
f = uproot.open(sys.argv[1]); t = f[sys.argv[2]]
print(json.dumps({"uuid": str(f.file.uuid), "entries": t.num_entries,
                  "branches": [b.name for b in t.itervalues(recursive=True)],
                  "nMuon": t["nMuon"].array(entry_stop=20).tolist(),
                  "Muon_pt": [[float(x) for x in row] for row in t["Muon_pt"].array(entry_stop=20).tolist()]}))
"#;
    let o = Command::new(python())
        .args(["-c", code, file, tree])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn describes_a_real_nanoaod_file_like_uproot() {
    let f = data("nanoAOD_2015_CMS_Open_Data_ttbar.root");
    let doc = json(&casa(&["inspect", &f, "--json"]));
    let want = uproot_facts(&f, "Events");
    assert_eq!(doc["uuid"], want["uuid"]);
    let tree = &doc["trees"][0];
    assert_eq!(tree["path"], "Events");
    assert_eq!(tree["entries"], want["entries"]);
    let names: Vec<&str> = tree["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    let want_names: Vec<&str> = want["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(names, want_names);
    let pt = tree["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "Muon_pt")
        .unwrap();
    assert_eq!(pt["type"], "float32[]");
    assert_eq!(pt["readable"], true);
    assert_eq!(tree["clusters"], serde_json::json!([0, 200]));
}

#[test]
fn dumps_values_as_nested_lists_equal_to_uproot() {
    let f = data("nanoAOD_2015_CMS_Open_Data_ttbar.root");
    let doc = json(&casa(&[
        "inspect",
        &f,
        "--tree",
        "Events",
        "--dump",
        "nMuon",
        "Muon_pt",
        "--entries",
        "0:20",
        "--json",
    ]));
    let want = uproot_facts(&f, "Events");
    assert_eq!(doc["branches"]["nMuon"], want["nMuon"]);
    // f32 printed in its shortest form: compare as f32.
    let ours: Vec<Vec<f32>> = serde_json::from_value(doc["branches"]["Muon_pt"].clone()).unwrap();
    let theirs: Vec<Vec<f64>> = serde_json::from_value(want["Muon_pt"].clone()).unwrap();
    let theirs: Vec<Vec<f32>> = theirs
        .into_iter()
        .map(|r| r.into_iter().map(|x| x as f32).collect())
        .collect();
    assert_eq!(ours, theirs);
}

#[test]
fn text_output_lists_trees_branches_and_codecs() {
    let o = casa(&["inspect", &data("uproot-HZZ-zstd.root")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.contains("tree events"), "{s}");
    assert!(
        s.contains("Muon_Px") && s.contains("float32[]") && s.contains("zstd"),
        "{s}"
    );
}

#[test]
fn missing_file_is_named() {
    let o = casa(&["inspect", "/nonexistent/x.root"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/x.root"), "{}", stderr(&o));
}

#[test]
fn non_root_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("page.root");
    std::fs::write(&p, "<html>403 Forbidden</html>").unwrap();
    let o = casa(&["inspect", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("page.root") && e.contains("not a ROOT file"),
        "{e}"
    );
}

#[test]
fn missing_tree_lists_what_is_there() {
    let o = casa(&[
        "inspect",
        &data("uproot-HZZ.root"),
        "--tree",
        "Events",
        "--dump",
        "NJet",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("'Events'") && e.contains("events"), "{e}");
}

#[test]
fn missing_branch_is_named() {
    let o = casa(&[
        "inspect",
        &data("uproot-HZZ.root"),
        "--tree",
        "events",
        "--dump",
        "Muon_ptt",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("Muon_ptt") && e.contains("events"), "{e}");
}

#[test]
fn unsupported_branch_is_refused_by_name_and_type() {
    let o = casa(&[
        "inspect",
        &data("uproot-HZZ-objects.root"),
        "--dump",
        "jetp4",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("jetp4") && e.contains("TLorentzVector"), "{e}");
    let o = casa(&["inspect", &data("uproot-Zmumu.root"), "--dump", "Type"]);
    let e = stderr(&o);
    assert!(e.contains("Type") && e.contains("TLeafC"), "{e}");
}

#[test]
fn an_rntuple_is_listed_and_dumped_like_a_ttree() {
    let f = data("Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root");
    let doc = json(&casa(&["inspect", &f, "--json"]));
    assert_eq!(doc["objects"][0]["class"], "ROOT::RNTuple");
    let t = &doc["trees"][0];
    assert_eq!(t["class"], "RNTuple");
    assert_eq!(t["entries"], 1000);
    assert_eq!(t["rntuple"]["version"], "1.0.0.0");
    let names: Vec<&str> = t["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    for n in ["Muon_pt", "nMuon", "_collection0.Muon_pt", "n_collection0"] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }
    // Values as uproot reads them (entries 0-2: 2, 2, 1 muons).
    let o = casa(&[
        "inspect",
        &f,
        "--dump",
        "nMuon",
        "Muon_charge",
        "--entries",
        "0:3",
        "--json",
    ]);
    let d = json(&o);
    assert_eq!(d["branches"]["nMuon"], serde_json::json!([2, 2, 1]));
    assert_eq!(
        d["branches"]["Muon_charge"],
        serde_json::json!([[-1, -1], [1, -1], [1]])
    );
    // The text listing names the format.
    let o = casa(&["inspect", &f]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_entry_range_is_a_usage_error() {
    let o = casa(&[
        "inspect",
        &data("uproot-HZZ.root"),
        "--dump",
        "NJet",
        "--entries",
        "5-10",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--entries"), "{}", stderr(&o));
    let o = casa(&["inspect"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_backwards_entry_range_is_a_usage_error() {
    let o = casa(&[
        "inspect",
        &data("uproot-HZZ.root"),
        "--dump",
        "NJet",
        "--entries",
        "5:2",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("--entries") && e.contains("5:2") && e.contains("after"),
        "{e}"
    );
    assert!(o.stdout.is_empty());
    // An empty range written as one is fine, and so is one past the end (clipped).
    for ok in ["2:2", "3:", ":4", "2400:9999999"] {
        let o = casa(&[
            "inspect",
            &data("uproot-HZZ.root"),
            "--dump",
            "NJet",
            "--entries",
            ok,
        ]);
        assert_eq!(o.status.code(), Some(0), "{ok}: {}", stderr(&o));
    }
}

#[test]
fn help_has_examples() {
    let o = casa(&["inspect", "--help"]);
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.contains("Examples:") && s.contains("--dump"), "{s}");
}
