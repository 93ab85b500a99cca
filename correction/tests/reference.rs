//! casa-correction against correctionlib on real CMS correction files, the AGC's file and a
//! synthetic file with every node type: `tests/python/correction_reference.py` draws random
//! inputs for every correction, evaluates them with correctionlib and writes the results bit
//! for bit; here casa evaluates the same inputs, one by one and as batches, and must give the
//! same bits (NaN included: sign and payload), and an error exactly where correctionlib
//! raises one (of the same kind).

use std::collections::HashMap;
use std::path::PathBuf;

use casa_correction::{Column, Correction, CorrectionSet, Error, Value};
use serde_json::Value as J;

fn data_files() -> Vec<PathBuf> {
    let dir = casa_test_support::workspace().join("tests/data/corrections");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".json") || n.ends_with(".json.gz")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "correction files missing in {}",
        dir.display()
    );
    files
}

/// Owned inputs, as the reference wrote them.
#[derive(Debug, Clone)]
enum In {
    R(f64),
    I(i64),
    S(String),
}

fn inputs(j: &J) -> Vec<In> {
    j.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let kind = p[0].as_str().unwrap();
            let text = p[1].as_str().unwrap();
            match kind {
                "r" => In::R(f64::from_bits(u64::from_str_radix(text, 16).unwrap())),
                "i" => In::I(text.parse().unwrap()),
                _ => In::S(text.to_string()),
            }
        })
        .collect()
}

fn values(ins: &[In]) -> Vec<Value<'_>> {
    ins.iter()
        .map(|i| match i {
            In::R(x) => Value::Real(*x),
            In::I(k) => Value::Int(*k),
            In::S(s) => Value::Str(s),
        })
        .collect()
}

fn expected_out(line: &J) -> Option<f64> {
    line["out"]
        .as_str()
        .map(|b| f64::from_bits(u64::from_str_radix(b, 16).unwrap()))
}

/// Whether casa's error is the kind correctionlib's message describes.
fn same_kind(reference: &str, casa: &Error) -> bool {
    if reference.contains("Incorrect number of inputs") {
        matches!(casa, Error::InputCount { .. })
    } else if reference.contains("has wrong type") {
        matches!(casa, Error::InputType { .. })
    } else if reference.contains("Index below bounds") {
        matches!(casa, Error::OutOfRange { below: true, .. })
    } else if reference.contains("Index above bounds") {
        matches!(casa, Error::OutOfRange { below: false, .. })
    } else if reference.contains("Index not available in Category") {
        matches!(casa, Error::UnknownCategory { .. })
    } else if reference.contains("I should not have ever seen") {
        matches!(casa, Error::Unwrappable { .. })
    } else {
        true
    }
}

#[derive(Default)]
struct Tally {
    values: usize,
    errors: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: &str, reference: &J, got: &Result<f64, Error>) {
        match (expected_out(reference), got) {
            (Some(want), Ok(have)) => {
                if want.to_bits() == have.to_bits() {
                    self.values += 1;
                } else {
                    self.failures.push(format!(
                        "{what}: correctionlib {want:e} ({:016x}), casa {have:e} ({:016x})",
                        want.to_bits(),
                        have.to_bits()
                    ));
                }
            }
            (None, Err(e)) => {
                let msg = reference["err"].as_str().unwrap_or("");
                if same_kind(msg, e) {
                    self.errors += 1;
                } else {
                    self.failures
                        .push(format!("{what}: correctionlib {msg:?}, casa {e}"));
                }
            }
            (Some(want), Err(e)) => self
                .failures
                .push(format!("{what}: correctionlib {want:e}, casa error {e}")),
            (None, Ok(have)) => self.failures.push(format!(
                "{what}: correctionlib {:?}, casa {have:e}",
                reference["err"]
            )),
        }
    }
}

fn columns<'a>(
    corr: &Correction,
    rows: &'a [Vec<In>],
    store: &'a mut ColumnStore<'a>,
) -> Vec<Column<'a>> {
    for k in 0..corr.inputs().len() {
        match &rows[0][k] {
            In::R(_) => store.reals.push(
                rows.iter()
                    .map(|r| if let In::R(x) = r[k] { x } else { f64::NAN })
                    .collect(),
            ),
            In::I(_) => store.ints.push(
                rows.iter()
                    .map(|r| if let In::I(x) = r[k] { x } else { 0 })
                    .collect(),
            ),
            In::S(_) => store.strs.push(
                rows.iter()
                    .map(|r| if let In::S(s) = &r[k] { s.as_str() } else { "" })
                    .collect(),
            ),
        }
    }
    let store: &'a ColumnStore<'a> = store;
    let (mut r, mut i, mut s) = (store.reals.iter(), store.ints.iter(), store.strs.iter());
    (0..corr.inputs().len())
        .map(|k| match &rows[0][k] {
            In::R(_) => Column::F64(r.next().unwrap()),
            In::I(_) => Column::I64(i.next().unwrap()),
            In::S(_) => Column::Str(s.next().unwrap()),
        })
        .collect()
}

#[derive(Default)]
struct ColumnStore<'a> {
    reals: Vec<Vec<f64>>,
    ints: Vec<Vec<i64>>,
    strs: Vec<Vec<&'a str>>,
}

#[test]
fn evaluations_equal_correctionlib_bit_for_bit() {
    let files = data_files();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reference.jsonl");
    let script = casa_test_support::workspace().join("tests/python/correction_reference.py");
    let status = casa_test_support::python_command()
        .arg(&script)
        .arg(&out)
        .args(&files)
        .status()
        .expect("run the reference script");
    assert!(
        status.success(),
        "{} failed (is correctionlib installed? ci/requirements.txt)",
        script.display()
    );
    let text = std::fs::read_to_string(&out).unwrap();

    let sets: HashMap<String, CorrectionSet> = files
        .iter()
        .map(|f| {
            let set = CorrectionSet::open(f).unwrap_or_else(|e| panic!("{e}"));
            (f.display().to_string(), set)
        })
        .collect();

    let mut tally = Tally::default();
    let mut docs = (0usize, 0usize);
    // Successful rows per correction, for the batch path.
    let mut batches: HashMap<(String, bool, String), (Vec<Vec<In>>, Vec<f64>)> = HashMap::new();
    let mut per_file: HashMap<String, usize> = HashMap::new();

    for (n, line) in text.lines().enumerate() {
        let line: J = serde_json::from_str(line).unwrap();
        if let Some(doc) = line["doc"].as_str() {
            let loaded = CorrectionSet::from_json(doc);
            match (&loaded, line["load_error"].as_str()) {
                (Ok(_), None) | (Err(_), Some(_)) => docs.0 += 1,
                (Ok(_), Some(e)) => tally.failures.push(format!(
                    "document accepted by casa, refused by correctionlib ({e}): {doc}"
                )),
                (Err(e), None) => tally.failures.push(format!(
                    "document refused by casa ({e}), accepted by correctionlib: {doc}"
                )),
            }
            let Ok(set) = loaded else { continue };
            for ev in line["evals"].as_array().unwrap() {
                let corr = if ev["compound"].as_bool() == Some(true) {
                    set.compound("k").unwrap()
                } else {
                    set.get("c").or_else(|_| set.get("f")).unwrap()
                };
                let ins = inputs(&ev["inputs"]);
                let got = corr.evaluate(&values(&ins));
                tally.check(&format!("document line {n} {ins:?} in {doc}"), ev, &got);
                docs.1 += 1;
            }
            continue;
        }
        let file = line["file"].as_str().unwrap().to_string();
        let name = line["name"].as_str().unwrap().to_string();
        let compound = line["compound"].as_bool().unwrap();
        let set = &sets[&file];
        let corr = if compound {
            set.compound(&name)
        } else {
            set.get(&name)
        }
        .unwrap();
        let ins = inputs(&line["inputs"]);
        let got = corr.evaluate(&values(&ins));
        tally.check(&format!("{file} {name} {ins:?}"), &line, &got);
        *per_file.entry(file.clone()).or_default() += 1;
        if let (Some(want), Ok(_)) = (expected_out(&line), &got) {
            let b = batches.entry((file, compound, name)).or_default();
            b.0.push(ins);
            b.1.push(want);
        }
    }

    // The batch path over every correction's successful rows gives the same bits.
    let mut batch_rows = 0;
    for ((file, compound, name), (rows, want)) in &batches {
        let set = &sets[file];
        let corr = if *compound {
            set.compound(name)
        } else {
            set.get(name)
        }
        .unwrap();
        let mut store = ColumnStore::default();
        let cols = columns(corr, rows, &mut store);
        let mut out = vec![0.0; rows.len()];
        corr.evaluate_batch(&cols, &mut out)
            .unwrap_or_else(|e| panic!("{file} {name}: {e}"));
        for (k, (w, h)) in want.iter().zip(&out).enumerate() {
            if w.to_bits() != h.to_bits() {
                tally.failures.push(format!(
                    "{file} {name} batch row {k}: want {w:e}, got {h:e}"
                ));
            }
        }
        batch_rows += rows.len();
    }

    eprintln!(
        "compared: {} values bit-equal, {} errors of the same kind, \
         {} documents ({} evaluations), {} rows through the batch path; per file: {per_file:?}",
        tally.values, tally.errors, docs.0, docs.1, batch_rows
    );
    let shown: Vec<_> = tally.failures.iter().take(30).collect();
    assert!(
        tally.failures.is_empty(),
        "{} differences from correctionlib, first ones:\n{}",
        tally.failures.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        tally.values > 20_000 && tally.errors > 5_000 && docs.0 > 400,
        "too few comparisons"
    );
}
