//! The API contract other crates rely on: declarations from JSON, refused fills and specs
//! with messages that say what and where, accumulators, serialisation.

use casa_hist::{
    Accumulator, Counter, FillArg, Hist, HistError, HistSpec, Item, StorageKind, Weights,
};

fn spec(json: &str) -> HistSpec {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn mass(storage: &str) -> HistSpec {
    spec(&format!(
        r#"{{"axes": [{{"type": "str_category", "categories": ["SR"], "name": "region"}},
                     {{"type": "regular", "bins": 4, "start": 0, "stop": 4, "name": "m"}}],
            "storage": "{storage}"}}"#
    ))
}

#[test]
fn declarations_use_hist_defaults() {
    let s = spec(
        r#"{"axes": [{"type": "regular", "bins": 3, "start": 0, "stop": 1, "name": "x"},
                     {"type": "str_category", "categories": ["a"], "name": "c"},
                     {"type": "int_category", "categories": [], "growth": true, "name": "i"},
                     {"type": "integer", "start": 0, "stop": 2, "name": "n"},
                     {"type": "variable", "edges": [0, 1, 5], "name": "v"},
                     {"type": "boolean", "name": "b"}],
            "storage": "weighted_mean"}"#,
    );
    let h = Hist::new(s).unwrap();
    // Regular/variable/integer: both flow bins; category: an other bin unless growing.
    assert_eq!(h.shape(true), vec![5, 2, 0, 4, 4, 2]);
    assert_eq!(h.shape(false), vec![3, 1, 0, 2, 2, 2]);
    assert_eq!(h.spec().label, "");
}

#[test]
fn hist_normalises_what_hist_ignores() {
    let h = Hist::new(spec(
        r#"{"axes": [{"type": "regular", "bins": 4, "start": 0, "stop": 6.28, "circular": true, "name": "phi"},
                     {"type": "integer", "start": 0, "stop": 3, "growth": true, "name": "n"}],
            "storage": "int64"}"#,
    ))
    .unwrap();
    // hist: a circular axis has no underflow bin, a growing integer axis no flow bins.
    assert_eq!(h.shape(true), vec![5, 3]);
}

#[test]
fn bad_declarations_name_the_axis() {
    let cases = [
        (
            r#"{"type": "regular", "bins": 0, "start": 0, "stop": 1, "name": "x"}"#,
            "at least one bin",
        ),
        (
            r#"{"type": "regular", "bins": 2, "start": 1, "stop": 1, "name": "x"}"#,
            "start < stop",
        ),
        (
            r#"{"type": "regular", "bins": 2, "start": 0, "stop": 1, "transform": {"kind": "log"}, "name": "x"}"#,
            "start > 0",
        ),
        (
            r#"{"type": "regular", "bins": 2, "start": -1, "stop": 1, "transform": {"kind": "sqrt"}, "name": "x"}"#,
            "start >= 0",
        ),
        (
            r#"{"type": "regular", "bins": 2, "start": 1, "stop": 2, "transform": {"kind": "pow", "power": 0}, "name": "x"}"#,
            "non-zero power",
        ),
        (
            r#"{"type": "regular", "bins": 2, "start": 1, "stop": 2, "transform": {"kind": "pow", "power": -1}, "name": "x"}"#,
            "increasing",
        ),
        (
            r#"{"type": "regular", "bins": 2, "start": 1, "stop": 2, "transform": {"kind": "log"}, "overflow": false, "name": "x"}"#,
            "both flow bins",
        ),
        (
            r#"{"type": "regular", "bins": 2, "start": 1, "stop": 2, "circular": true, "overflow": false, "name": "x"}"#,
            "overflow bin",
        ),
        (
            r#"{"type": "variable", "edges": [0, 2, 1], "name": "x"}"#,
            "strictly increasing",
        ),
        (
            r#"{"type": "variable", "edges": [0], "name": "x"}"#,
            "at least 2 edges",
        ),
        (
            r#"{"type": "integer", "start": 3, "stop": 3, "name": "x"}"#,
            "start < stop",
        ),
        (
            r#"{"type": "str_category", "categories": ["a", "a"], "name": "x"}"#,
            "appears twice",
        ),
        (
            r#"{"type": "int_category", "categories": [1, 1], "name": "x"}"#,
            "appears twice",
        ),
        (
            r#"{"type": "regular", "bins": 4000000000, "start": 0, "stop": 1, "name": "x"}"#,
            "limit",
        ),
    ];
    for (axis, want) in cases {
        let s = spec(&format!(
            r#"{{"axes": [{{"type": "boolean", "name": "ok"}}, {axis}], "storage": "double"}}"#
        ));
        let e = Hist::new(s).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, HistError::InvalidAxis { index: 1, .. }),
            "{axis}: {e:?}"
        );
        assert!(
            text.contains("axis 1 (`x`)") && text.contains(want),
            "{axis}: {text}"
        );
    }
    let e = Hist::new(spec(r#"{"axes": [], "storage": "int64"}"#)).unwrap_err();
    assert!(e.to_string().contains("at least one axis"), "{e}");
    let big = r#"{"type": "regular", "bins": 100000, "start": 0, "stop": 1, "name": "x"}"#;
    let e = Hist::new(spec(&format!(
        r#"{{"axes": [{big}, {big}], "storage": "int64"}}"#
    )))
    .unwrap_err();
    assert!(matches!(e, HistError::TooManyBins { .. }), "{e}");
}

/// Fill arguments, weights, sample, and what the error must say.
type RefusedFill<'a> = (
    Vec<FillArg<'a>>,
    Option<Weights<'a>>,
    Option<&'a [f64]>,
    &'a str,
);

#[test]
fn refused_fills_say_why_and_change_nothing() {
    let mut h = Hist::new(mass("int64")).unwrap();
    let before = h.clone();
    let m = [1.0, 2.0];
    let cases: Vec<RefusedFill> = vec![
        (
            vec![FillArg::F64(&m)],
            None,
            None,
            "1 arguments for a histogram of 2 axes",
        ),
        (
            vec![FillArg::F64(&m), FillArg::F64(&m)],
            None,
            None,
            "axis 0 (`region`, str_category): cannot fill with f64",
        ),
        (
            vec![FillArg::OneStr("SR"), FillArg::Str(&["a"])],
            None,
            None,
            "axis 1 (`m`, regular): cannot fill with string",
        ),
        (
            vec![FillArg::Str(&["SR"]), FillArg::F64(&m)],
            None,
            None,
            "axis 0 (`region`) has 1 values, axis 1 (`m`) has 2",
        ),
        (
            vec![FillArg::OneStr("SR"), FillArg::F64(&m)],
            Some(Weights::One(2.0)),
            None,
            "int64 storage takes no weights",
        ),
        (
            vec![FillArg::OneStr("SR"), FillArg::F64(&m)],
            Some(Weights::Each(&[1.0])),
            None,
            "the weights has 1",
        ),
        (
            vec![FillArg::OneStr("SR"), FillArg::F64(&m)],
            None,
            Some(&m),
            "takes no sample",
        ),
    ];
    for (args, w, s, want) in cases {
        let e = h.fill(&args, w, s).unwrap_err().to_string();
        assert!(e.contains(want), "want {want:?}, got {e}");
        assert_eq!(h, before);
    }
    let mut p = Hist::new(mass("mean")).unwrap();
    let e = p
        .fill(&[FillArg::OneStr("SR"), FillArg::F64(&m)], None, None)
        .unwrap_err();
    assert!(e.to_string().contains("mean storage needs a sample"), "{e}");
    let mut i = Hist::new(spec(r#"{"axes": [{"type": "integer", "start": 0, "stop": 3, "name": "n"}], "storage": "int64"}"#)).unwrap();
    let e = i
        .fill(&[FillArg::F64(&[1.0])], None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("hist refuses floats"), "{e}");
}

#[test]
fn int64_overflow_is_an_error() {
    let mut h = Hist::from_uhi(&serde_json::json!({
        "uhi_schema": 1,
        "axes": [{"type": "boolean"}],
        "storage": {"type": "int", "values": [i64::MAX, 0]}
    }))
    .unwrap();
    let e = h.fill(&[FillArg::OneBool(false)], None, None).unwrap_err();
    assert!(matches!(e, HistError::Overflow { .. }), "{e}");
    let other = h.clone();
    let before = h.clone();
    assert!(matches!(h.add(&other), Err(HistError::Overflow { .. })));
    assert_eq!(h, before);
}

#[test]
fn exact_sums_survive_serialisation() {
    let mut h = Hist::new(mass("weight")).unwrap();
    let m = [0.5; 4];
    // 1e16 + 1 - 1e16 + 0.1: plain doubles give 0.1 (1 is lost), the exact sum is 1.1.
    h.fill(
        &[FillArg::OneStr("SR"), FillArg::F64(&m)],
        Some(Weights::Each(&[1e16, 1.0, -1e16, 0.1])),
        None,
    )
    .unwrap();
    assert_eq!(h.values(false)[0], 1.1);
    let text = serde_json::to_string(&h).unwrap();
    let back: Hist = serde_json::from_str(&text).unwrap();
    assert_eq!(back, h);
    // The bin is 1 + 0.1 exactly (not the double 1.1): taking 1 and 0.1 away leaves 0.
    let mut minus = Hist::new(mass("weight")).unwrap();
    minus
        .fill(
            &[FillArg::OneStr("SR"), FillArg::OneF64(0.5)],
            Some(Weights::Each(&[-1.0, -0.1])),
            None,
        )
        .unwrap();
    let mut sum = back;
    sum.add(&minus).unwrap();
    assert_eq!(sum.values(false)[0], 0.0);
    assert_eq!(sum.sum(true), 0.0);

    // Non-finite bins survive JSON (packed bits, or "nan" in the 1.0 list of numbers).
    let mut d = Hist::new(mass("double")).unwrap();
    d.fill(
        &[FillArg::OneStr("x"), FillArg::OneF64(1.0)],
        Some(Weights::One(f64::NAN)),
        None,
    )
    .unwrap();
    let text = serde_json::to_string(&d).unwrap();
    let back: Hist = serde_json::from_str(&text).unwrap();
    assert!(back.values(true).iter().any(|v| v.is_nan()));
    let mut v1: serde_json::Value = serde_json::from_str(&text).unwrap();
    v1["storage"]["sums"][0]["values"] =
        serde_json::json!([0, 0, "nan", "inf", "-inf", 0, 0, 0, 0, 0, 0, 0]);
    let old: Hist = serde_json::from_value(v1).unwrap();
    let vals = old.values(true);
    assert!(vals[2].is_nan() && vals[3] == f64::INFINITY && vals[4] == f64::NEG_INFINITY);
    assert_eq!(
        back.variances(true),
        None,
        "weighted Double: variances unknown"
    );
}

#[test]
fn deserialising_checks_the_bins() {
    let h = Hist::new(mass("double")).unwrap();
    let v = serde_json::to_value(&h).unwrap();
    let packed = v["storage"]["sums"][0]["values"].as_str().unwrap();
    let mut bins = Vec::new();
    casa_hist::packed::decode_doubles_into(packed.as_bytes(), &mut bins).unwrap();
    let with = |values: serde_json::Value, rest: serde_json::Value| {
        let mut w = v.clone();
        w["storage"]["sums"][0]["values"] = values;
        w["storage"]["sums"][0]["rest"] = rest;
        serde_json::from_value::<Hist>(w).map_err(|e| e.to_string())
    };
    // One bin short, packed or as the 1.0 list of numbers.
    let short = casa_hist::packed::encode_doubles(&bins[1..]);
    let e = with(short.into(), "".into()).unwrap_err();
    assert!(e.contains("bins for a histogram of"), "{e}");
    let e = with(serde_json::json!(bins[1..]), serde_json::json!([])).unwrap_err();
    assert!(e.contains("bins for a histogram of"), "{e}");
    // The 1.0 form of the same bins reads back to the same histogram.
    assert_eq!(
        with(serde_json::json!(bins), serde_json::json!([])).unwrap(),
        h
    );
    // Packed bytes that are not whole doubles, and a remainder for a bin that does not exist.
    let e = with("AAEC".into(), "".into()).unwrap_err();
    assert!(e.contains("whole number of 8-byte doubles"), "{e}");
    let rest = casa_hist::packed::encode_rest(&[(bins.len(), vec![1e-20])]);
    let e = with(packed.into(), rest.into()).unwrap_err();
    assert!(e.contains("remainder out of range"), "{e}");
}

#[test]
fn accumulator_creates_checks_and_merges() {
    let mut a = Accumulator::new();
    let s = mass("double");
    a.hist_mut("DY", "mass", &s)
        .unwrap()
        .fill(&[FillArg::OneStr("SR"), FillArg::OneF64(1.5)], None, None)
        .unwrap();
    a.hist_mut("DY", "mass", &s)
        .unwrap()
        .fill(&[FillArg::OneStr("CR"), FillArg::OneF64(1.5)], None, None)
        .unwrap();
    assert_eq!(a.hist("DY", "mass").unwrap().sum(true), 2.0);
    // Another declaration under the same name is a plugin bug: say so.
    let e = a
        .hist_mut("DY", "mass", &mass("weight"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("dataset `DY`, `mass`: ") && e.contains("storage"),
        "{e}"
    );
    a.count("DY", "events", Counter::Int(3)).unwrap();
    let e = a
        .count("DY", "events", Counter::Float(1.0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("an integer counter and a float counter"), "{e}");
    let e = a.hist_mut("DY", "events", &s).unwrap_err().to_string();
    assert!(e.contains("not a histogram"), "{e}");
    a.count("DY", "events", Counter::Int(i64::MAX - 3)).unwrap();
    let e = a.count("DY", "events", Counter::Int(1)).unwrap_err();
    assert!(e.to_string().contains("integer counter"), "{e}");

    let mut b = Accumulator::new();
    b.hist_mut("DY", "mass", &s).unwrap();
    b.hist_mut("ZZ", "mass", &s).unwrap();
    b.count("ZZ", "sumw", Counter::Float(0.1)).unwrap();
    a.add(&b).unwrap();
    assert!(matches!(a.get("ZZ", "sumw"), Some(Item::Counter(Counter::Float(x))) if *x == 0.1));

    // A failed merge leaves the accumulator as it was, and names dataset, item and axis.
    let mut c = Accumulator::new();
    let other = spec(
        r#"{"axes": [{"type": "str_category", "categories": ["SR"], "name": "region"},
                                  {"type": "regular", "bins": 4, "start": 0, "stop": 5, "name": "m"}], "storage": "double"}"#,
    );
    c.hist_mut("ZZ", "mass", &other).unwrap();
    c.count("ZZ", "new", Counter::Int(1)).unwrap();
    let before = a.clone();
    let e = a.add(&c).unwrap_err().to_string();
    assert!(
        e.starts_with("dataset `ZZ`, `mass`: cannot add histograms: axis 1 (`m`): binning differs"),
        "{e}"
    );
    assert_eq!(a, before);

    // UHI: histograms named `dataset/name` (uhi's groups), counters left out.
    let u = serde_json::Value::Object(a.to_uhi());
    assert_eq!(u["DY/mass"]["uhi_schema"], 1);
    assert!(u.get("DY/events").is_none());
    let back = Accumulator::from_uhi(&u).unwrap();
    assert_eq!(back.hist("ZZ", "mass"), a.hist("ZZ", "mass"));
    // The nested form casa wrote before still reads.
    let nested = serde_json::json!({"ZZ": {"mass": u["ZZ/mass"].clone()}});
    let back = Accumulator::from_uhi(&nested).unwrap();
    assert_eq!(back.hist("ZZ", "mass"), a.hist("ZZ", "mass"));
}

#[test]
fn float_counters_sum_exactly() {
    let mut a = Accumulator::new();
    for _ in 0..10 {
        a.count("DY", "sumw", Counter::Float(0.1)).unwrap();
    }
    // Ten plain additions of 0.1 give 0.9999999999999999.
    assert!(matches!(a.get("DY", "sumw"), Some(Item::Counter(Counter::Float(x))) if *x == 1.0));
    let mut b = Accumulator::new();
    b.count("DY", "sumw", Counter::Float(1e20)).unwrap();
    b.count("DY", "sumw", Counter::Float(-1e20)).unwrap();
    b.count("DY", "sumw", Counter::Float(f64::NAN)).unwrap();
    let text = serde_json::to_string(&b).unwrap();
    let back: Accumulator = serde_json::from_str(&text).unwrap();
    assert!(matches!(back.get("DY", "sumw"), Some(Item::Counter(Counter::Float(x))) if x.is_nan()));
}

#[test]
fn readouts_follow_hist() {
    // Values checked against hist in tests/hist_reference.rs; here the shapes and the
    // storage-specific rules.
    let mut h = Hist::new(mass("mean")).unwrap();
    h.fill(
        &[FillArg::OneStr("SR"), FillArg::F64(&[0.5, 0.5, 1.5])],
        None,
        Some(&[1.0, 3.0, 5.0]),
    )
    .unwrap();
    assert_eq!(h.values(false), vec![2.0, 5.0, 0.0, 0.0]);
    assert_eq!(h.counts(false).unwrap()[..2], [2.0, 1.0]);
    let v = h.variances(false).unwrap();
    assert_eq!(v[0], 1.0); // sample variance 2 over 2 entries
    assert!(v[1].is_nan() && v[2].is_nan());
    assert_eq!(h.sum(true), 3.0);
    assert_eq!(h.len(), 2 * 6); // region: SR and other; m: 4 bins and 2 flow bins
    assert_eq!(h.storage_kind(), StorageKind::Mean);
    assert_eq!(
        Hist::new(mass("int64")).unwrap().int_values(false).unwrap(),
        vec![0; 4]
    );
}

#[test]
fn stacked_puts_each_histogram_in_a_slice_of_a_new_category_axis() {
    let spec: HistSpec = serde_json::from_value(serde_json::json!({
        "axes": [{"type": "regular", "bins": 3, "start": 0.0, "stop": 3.0, "name": "x"}],
        "storage": "weight", "label": "events"}))
    .unwrap();
    let mut a = Hist::new(spec.clone()).unwrap();
    a.fill(
        &[FillArg::F64(&[0.5, 1.5, 1.5])],
        Some(Weights::One(0.1)),
        None,
    )
    .unwrap();
    let mut b = Hist::new(spec.clone()).unwrap();
    b.fill(&[FillArg::F64(&[2.5, -1.0])], Some(Weights::One(2.0)), None)
        .unwrap();
    let s = Hist::stacked(
        "process",
        "Process",
        &[("ttbar".into(), a.clone()), ("wjets".into(), b.clone())],
    )
    .unwrap();
    assert_eq!(s.spec().axes[0].name(), "process");
    assert_eq!(s.spec().label, "events");
    // Rows of 5 bins (flow included): ttbar, wjets, then the empty overflow category.
    let v = s.values(true);
    assert_eq!(v.len(), 3 * 5);
    assert_eq!(v[..5], a.values(true)[..]);
    assert_eq!(v[5..10], b.values(true)[..]);
    assert!(v[10..].iter().all(|&x| x == 0.0));
    assert_eq!(
        s.variances(true).unwrap()[5..10],
        b.variances(true).unwrap()[..]
    );

    let e = Hist::stacked("x", "", &[("a".into(), a.clone())]).unwrap_err();
    assert!(e.to_string().contains("already has an axis `x`"), "{e}");
    let mut other = spec;
    other.label = "other".into();
    let c = Hist::new(other).unwrap();
    let e = Hist::stacked("p", "", &[("a".into(), a), ("c".into(), c)]).unwrap_err();
    assert!(e.to_string().contains("`c`"), "{e}");
}
