//! UHI documents written by Python (hist 2.12 / uhi 1.2, files in `tests/data`) read back
//! and written again without losing a bit.

use casa_hist::{parse_json_lenient, write_uhi_json, Hist, HistError, StorageKind};
use serde_json::Value;

fn data(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/").to_string() + name;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_json_lenient(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The document without the top-level writer_info, which names the writing library.
fn body(v: &Value) -> String {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("writer_info");
    write_uhi_json(&v)
}

#[test]
fn python_example_reexports_losslessly() {
    let doc = data("uhi-hist-example.generated.json");
    let hists = doc.as_object().unwrap();
    assert_eq!(hists.len(), 5);
    for (name, v) in hists {
        let h = Hist::from_uhi(v).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = h.to_uhi();
        // Text comparison: tells -0.0 from 0.0, NaN tokens included.
        assert_eq!(body(&again), body(v), "{name}");
        // And our own export reads back to an equal histogram.
        assert_eq!(Hist::from_uhi(&again).unwrap(), h, "{name}");
    }
    let profile = Hist::from_uhi(&hists["profile"]).unwrap();
    assert_eq!(profile.storage_kind(), StorageKind::Mean);
    let text = write_uhi_json(&profile.to_uhi());
    assert!(
        text.contains(r#""variances":[-0.0,2.0,NaN,-0.0]"#),
        "{text}"
    );
}

#[test]
fn python_sparse_and_weighted_mean_example() {
    let doc = data("uhi-sparse-weightedmean-example.generated.json");
    let dense = Hist::from_uhi(&doc["dense_int_2d"]).unwrap();
    let sparse = Hist::from_uhi(&doc["sparse_int_2d"]).unwrap();
    assert_eq!(dense, sparse);
    assert_eq!(body(&sparse.to_uhi()), body(&doc["dense_int_2d"]));
    // The weighted mean's values and variances (4.333333333333333, 2.000000000000001) come
    // back bit for bit from the exact sums they are turned into.
    let wm = &doc["weighted_mean"];
    let h = Hist::from_uhi(wm).unwrap();
    assert_eq!(body(&h.to_uhi()), body(wm));
}

#[test]
fn lenient_json_reads_python_tokens_only_outside_strings() {
    let v = parse_json_lenient(
        r#"{"a": "NaN or Infinity \" NaN", "b": [NaN, -Infinity, Infinity, 1e5, -0.0]}"#,
    )
    .unwrap();
    assert_eq!(v["a"], "NaN or Infinity \" NaN");
    assert_eq!(
        v["b"],
        serde_json::json!(["NaN", "-Infinity", "Infinity", 1e5, -0.0])
    );
    assert!(matches!(
        parse_json_lenient("[Nan]"),
        Err(HistError::Json(_))
    ));
}

#[test]
fn unreadable_documents_say_where() {
    let doc = data("uhi-hist-example.generated.json");
    let mut v = doc["mass"].clone();
    v["uhi_schema"] = 2.into();
    let e = Hist::from_uhi(&v).unwrap_err().to_string();
    assert!(e.contains("/uhi_schema") && e.contains("version 1"), "{e}");

    let mut v = doc["mass"].clone();
    v["storage"]["values"][1] = serde_json::json!([1.0]);
    let e = Hist::from_uhi(&v).unwrap_err().to_string();
    assert!(e.contains("/storage/values/1"), "{e}");

    let mut v = doc["pdgid_tight"].clone();
    v["axes"][0]["flow"] = false.into();
    let e = Hist::from_uhi(&v).unwrap_err().to_string();
    assert!(e.contains("/axes/0") && e.contains("pdgid"), "{e}");

    let mut v = doc["njet"].clone();
    v["storage"]["values"][0] = 1.5.into();
    let e = Hist::from_uhi(&v).unwrap_err().to_string();
    assert!(
        e.contains("/storage/values/0") && e.contains("integer"),
        "{e}"
    );
}
