//! The errors a physicist meets first, with the messages they read.

use casa_correction::{Column, CorrectionSet, Error, Value};

fn set() -> CorrectionSet {
    CorrectionSet::from_json(
        r#"{"schema_version": 2, "corrections": [{
        "name": "sf", "version": 1,
        "inputs": [{"name": "eta", "type": "real"}, {"name": "pt", "type": "real"},
                   {"name": "syst", "type": "string"}],
        "output": {"name": "w", "type": "real"},
        "data": {"nodetype": "category", "input": "syst", "content": [
            {"key": "nom", "value": {"nodetype": "binning", "input": "pt",
             "edges": [20.0, 50.0, 100.0], "content": [1.0, 2.0], "flow": "error"}}]}}]}"#,
    )
    .unwrap()
}

#[test]
fn named_inputs_are_checked() {
    let set = set();
    let sf = set.get("sf").unwrap();
    let eta = ("eta", Value::Real(0.1));
    let pt = ("pt", Value::Real(30.0));
    let syst = ("syst", Value::Str("nom"));
    assert_eq!(sf.evaluate_named(&[syst, pt, eta]).unwrap(), 1.0);
    let e = sf.evaluate_named(&[syst, pt]).unwrap_err();
    assert!(
        matches!(e, Error::MissingInput { ref input, .. } if input == "eta"),
        "{e}"
    );
    let e = sf.evaluate_named(&[syst, pt, eta, pt]).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"correction "sf": input "pt" is given twice"#
    );
    let e = sf
        .evaluate_named(&[syst, pt, ("Eta", Value::Real(0.1))])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"correction "sf" has no input "Eta" (its inputs: eta, pt, syst)"#
    );
}

#[test]
fn batch_errors_name_the_row_and_the_column() {
    let set = set();
    let sf = set.get("sf").unwrap();
    let eta = [0.1, 0.2, 0.3];
    let pt = [30.0, 60.0, 150.0];
    let mut out = [0.0; 3];
    let cols = [
        Column::F64(&eta),
        Column::F64(&pt),
        Column::Const(Value::Str("nom")),
    ];
    let e = sf.evaluate_batch(&cols, &mut out).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"row 2: correction "sf": input "pt" = 150 is above the edges [20, 50, 100] (flow "error")"#
    );
    assert_eq!(out[..2], [1.0, 2.0]);
    let e = sf.evaluate_batch(&cols[..2], &mut out).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"correction "sf" takes 3 inputs (eta, pt, syst), got 2"#
    );
    let short = [0.1];
    let e = sf
        .evaluate_batch(&[Column::F64(&short), cols[1], cols[2]], &mut out)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"correction "sf": column "eta" has 1 rows, the output has 3"#
    );
    let ints = [1i32, 2, 3];
    let e = sf
        .evaluate_batch(&[Column::I32(&ints), cols[1], cols[2]], &mut out)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"correction "sf": input "eta" must be real, got int"#
    );
    // A constant category key decided once for the batch fails as its first row would.
    let up = [
        Column::F64(&eta),
        Column::F64(&pt),
        Column::Const(Value::Str("up")),
    ];
    let e = sf.evaluate_batch(&up, &mut out).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"row 0: correction "sf": input "syst" has no category "up" (and no default)"#
    );
    sf.evaluate_batch(&[Column::F64(&[]), Column::F64(&[]), up[2]], &mut [])
        .unwrap();
    let e = sf
        .evaluate(&[Value::Real(0.1), Value::Real(30.0), Value::Str("up")])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"correction "sf": input "syst" has no category "up" (and no default)"#
    );
}

#[test]
fn loading_errors_name_the_node() {
    let e = CorrectionSet::from_json(
        r#"{"schema_version": 2, "corrections": [{"name": "c", "version": 1,
        "inputs": [{"name": "x", "type": "real"}], "output": {"name": "w", "type": "real"},
        "data": {"nodetype": "binning", "input": "x", "edges": [0.0, 1.0, 2.0],
                 "content": [1.0, {"nodetype": "formula", "expression": "x+", "parser": "TFormula",
                 "variables": ["x"]}], "flow": "clamp"}}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"<string>: corrections[0] "c".data.content[1]: cannot parse formula "x+" at position 2 (the TFormula subset correctionlib accepts)"#
    );
    let e = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<string>: not valid JSON: invalid value at byte 38"
    );
    let e = CorrectionSet::open("/nonexistent/file.json").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read correction file /nonexistent/file.json"),
        "{e}"
    );
}

#[test]
fn sets_are_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CorrectionSet>();
    send_sync::<casa_correction::Correction>();
    send_sync::<Error>();
    let set = std::sync::Arc::new(set());
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let set = set.clone();
            std::thread::spawn(move || {
                let pt = 20.0 + 20.0 * f64::from(k);
                set.get("sf")
                    .unwrap()
                    .evaluate(&[Value::Real(0.0), Value::Real(pt), Value::Str("nom")])
                    .unwrap()
            })
        })
        .collect();
    let got: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(got, [1.0, 1.0, 2.0, 2.0]);
}
