//! casa-hist against hist 2.12 / boost-histogram: every axis type, transform, flow option
//! and storage is filled with the same deterministic data here and in Python
//! (`tests/reference.py`), and the bins must agree; our UHI export must pass the schema and
//! load in hist as the same histogram.

mod common;

use casa_hist::{write_uhi_json, Hist, HistSpec, Weights};
use common::{fj, next_down, next_up, nums, run_reference, same, Col, ColView, Rng};
use serde_json::{json, Value};

enum Wt {
    Each(Vec<f64>),
    One(f64),
}

struct Case {
    name: &'static str,
    spec: Value,
    n: usize,
    cols: Vec<Col>,
    weight: Option<Wt>,
    sample: Option<Vec<f64>>,
}

/// Values around a regular-like range: mostly inside, some outside, the edges, their
/// neighbours, and the specials (NaN, ±inf, -0).
fn around(rng: &mut Rng, lo: f64, hi: f64, edges: &[f64], n: usize) -> Vec<f64> {
    let w = hi - lo;
    (0..n)
        .map(|_| {
            let u = rng.unit();
            if u < 0.7 {
                rng.range(lo - 0.15 * w, hi + 0.15 * w)
            } else if u < 0.85 {
                *rng.pick(edges)
            } else if u < 0.95 {
                let e = *rng.pick(edges);
                if rng.chance(0.5) {
                    next_up(e)
                } else {
                    next_down(e)
                }
            } else {
                *rng.pick(&[
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    -0.0,
                    0.0,
                    lo,
                    hi,
                ])
            }
        })
        .collect()
}

/// Edges as a user would write them (start + k * width): near, not always at, the exact
/// bin boundaries, which is the interesting place to test.
fn grid(start: f64, stop: f64, bins: usize) -> Vec<f64> {
    (0..=bins)
        .map(|k| start + (stop - start) * k as f64 / bins as f64)
        .collect()
}

fn log_around(rng: &mut Rng, lo: f64, hi: f64, bins: usize, n: usize) -> Vec<f64> {
    let (a, b) = (lo.ln(), hi.ln());
    let edges: Vec<f64> = (0..=bins)
        .map(|k| (a + (b - a) * k as f64 / bins as f64).exp())
        .collect();
    let mut v = around(rng, a - 0.3, b + 0.3, &[a, b], n);
    for x in v.iter_mut() {
        *x = if rng.chance(0.2) {
            *rng.pick(&edges)
        } else {
            x.exp()
        };
    }
    v.extend([0.0, -1.0, lo, hi, next_down(hi), f64::NAN]);
    v
}

fn float_weights(rng: &mut Rng, n: usize, negative: bool) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let w = rng.range(0.2, 1.8) * if rng.chance(0.1) { 1e3 } else { 1.0 };
            if negative && rng.chance(0.2) {
                -w
            } else {
                w
            }
        })
        .collect()
}

fn int_weights(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.int(-2, 5) as f64).collect()
}

fn labels(rng: &mut Rng, pool: &[&str], n: usize) -> Vec<String> {
    (0..n).map(|_| rng.pick(pool).to_string()).collect()
}

fn cases() -> Vec<Case> {
    let mut rng = Rng(0x5eed_cafe);
    let r = &mut rng;
    let mut cases = Vec::new();
    let n = 400;

    let e = grid(-1.0, 1.0, 10);
    cases.push(Case {
        name: "regular int64",
        spec: json!({"axes": [{"type": "regular", "bins": 10, "start": -1.0, "stop": 1.0, "name": "x", "label": "x [cm]"}], "storage": "int64"}),
        n,
        cols: vec![Col::F64(around(r, -1.0, 1.0, &e, n))],
        weight: None,
        sample: None,
    });
    let e = grid(0.0, 3.5, 7);
    cases.push(Case {
        name: "regular without flow bins, double",
        spec: json!({"axes": [{"type": "regular", "bins": 7, "start": 0.0, "stop": 3.5, "name": "x", "underflow": false, "overflow": false}], "storage": "double"}),
        n,
        cols: vec![Col::F64(around(r, 0.0, 3.5, &e, n))],
        weight: None,
        sample: None,
    });
    let e = grid(0.1, 0.7, 5);
    cases.push(Case {
        name: "regular underflow only, weight with integer weights",
        spec: json!({"axes": [{"type": "regular", "bins": 5, "start": 0.1, "stop": 0.7, "name": "x", "overflow": false}], "storage": "weight"}),
        n,
        cols: vec![Col::F64(around(r, 0.1, 0.7, &e, n))],
        weight: Some(Wt::Each(int_weights(r, n))),
        sample: None,
    });
    let e = grid(0.0, 1.0, 5);
    cases.push(Case {
        name: "regular overflow only, f32 values",
        spec: json!({"axes": [{"type": "regular", "bins": 5, "start": 0.0, "stop": 1.0, "name": "x", "underflow": false}], "storage": "int64"}),
        n,
        cols: vec![Col::F32(around(r, 0.0, 1.0, &e, n).into_iter().map(|x| x as f32).collect())],
        weight: None,
        sample: None,
    });
    let tau = std::f64::consts::TAU;
    let e = grid(0.0, tau, 8);
    cases.push(Case {
        name: "circular regular",
        spec: json!({"axes": [{"type": "regular", "bins": 8, "start": 0.0, "stop": tau, "name": "phi", "circular": true}], "storage": "double"}),
        n,
        cols: vec![Col::F64(around(r, -3.0 * tau, 3.0 * tau, &e, n))],
        weight: None,
        sample: None,
    });
    let v = log_around(r, 1e-2, 1e3, 12, n);
    let m = v.len();
    cases.push(Case {
        name: "log transform, weight with float weights",
        spec: json!({"axes": [{"type": "regular", "bins": 12, "start": 1e-2, "stop": 1e3, "transform": {"kind": "log"}, "name": "pt"}], "storage": "weight"}),
        n: m,
        cols: vec![Col::F64(v)],
        weight: Some(Wt::Each(float_weights(r, m, false))),
        sample: None,
    });
    let sq: Vec<i64> = (0..n).map(|_| r.int(-5, 110)).collect();
    cases.push(Case {
        name: "sqrt transform, i64 values",
        spec: json!({"axes": [{"type": "regular", "bins": 6, "start": 0.0, "stop": 100.0, "transform": {"kind": "sqrt"}, "name": "r"}], "storage": "int64"}),
        n,
        cols: vec![Col::I64(sq)],
        weight: None,
        sample: None,
    });
    let e: Vec<f64> = (0..=5)
        .map(|k| (0.25 + (9.0 - 0.25) * k as f64 / 5.0).sqrt())
        .collect();
    cases.push(Case {
        name: "pow 2 transform, one weight for all",
        spec: json!({"axes": [{"type": "regular", "bins": 5, "start": 0.5, "stop": 3.0, "transform": {"kind": "pow", "power": 2.0}, "name": "p"}], "storage": "double"}),
        n,
        cols: vec![Col::F64(around(r, 0.5, 3.0, &e, n))],
        weight: Some(Wt::One(2.5)),
        sample: None,
    });
    let v = around(r, 0.0, 16.0, &[0.0, 1.0, 4.0, 9.0, 16.0], n);
    let s: Vec<f64> = (0..n).map(|_| r.range(-3.0, 7.0)).collect();
    cases.push(Case {
        name: "pow 0.5 transform, mean",
        spec: json!({"axes": [{"type": "regular", "bins": 4, "start": 0.0, "stop": 16.0, "transform": {"kind": "pow", "power": 0.5}, "name": "q"}], "storage": "mean"}),
        n,
        cols: vec![Col::F64(v)],
        weight: None,
        sample: Some(s),
    });
    let e = vec![-5.0, -1.0, 0.0, 0.5, 2.0, 10.0];
    cases.push(Case {
        name: "variable, weight with signed float weights",
        spec: json!({"axes": [{"type": "variable", "edges": e, "name": "v"}], "storage": "weight"}),
        n,
        cols: vec![Col::F64(around(r, -5.0, 10.0, &e, n))],
        weight: Some(Wt::Each(float_weights(r, n, true))),
        sample: None,
    });
    cases.push(Case {
        name: "variable without flow bins",
        spec: json!({"axes": [{"type": "variable", "edges": e, "name": "v", "underflow": false, "overflow": false}], "storage": "int64"}),
        n,
        cols: vec![Col::F64(around(r, -5.0, 10.0, &e, n))],
        weight: None,
        sample: None,
    });
    cases.push(Case {
        name: "variable overflow only, i64 weights",
        spec: json!({"axes": [{"type": "variable", "edges": e, "name": "v", "underflow": false}], "storage": "weight"}),
        n,
        cols: vec![Col::F64(around(r, -5.0, 10.0, &e, n))],
        weight: Some(Wt::Each(int_weights(r, n))),
        sample: None,
    });
    cases.push(Case {
        name: "integer",
        spec: json!({"axes": [{"type": "integer", "start": -2, "stop": 5, "name": "njet", "label": "N jets"}], "storage": "int64"}),
        n,
        cols: vec![Col::I64((0..n).map(|_| r.int(-6, 9)).collect())],
        weight: None,
        sample: None,
    });
    cases.push(Case {
        name: "integer without flow bins, bool values",
        spec: json!({"axes": [{"type": "integer", "start": 1, "stop": 4, "name": "k", "underflow": false, "overflow": false}], "storage": "double"}),
        n,
        cols: vec![Col::Bool((0..n).map(|_| r.chance(0.5)).collect())],
        weight: None,
        sample: None,
    });
    cases.push(Case {
        name: "integer growth",
        spec: json!({"axes": [{"type": "integer", "start": 0, "stop": 3, "name": "g", "growth": true}], "storage": "int64"}),
        n,
        cols: vec![Col::I64((0..n).map(|_| r.int(-4, 9)).collect())],
        weight: None,
        sample: None,
    });
    cases.push(Case {
        name: "str category with other bin",
        spec: json!({"axes": [{"type": "str_category", "categories": ["a", "b", "c"], "name": "region"}], "storage": "weight"}),
        n,
        cols: vec![Col::Str(labels(r, &["a", "b", "c", "d", "", "A"], n))],
        weight: Some(Wt::Each(float_weights(r, n, false))),
        sample: None,
    });
    let e = grid(60.0, 120.0, 12);
    cases.push(Case {
        name: "str category growth x regular",
        spec: json!({"axes": [{"type": "str_category", "categories": [], "growth": true, "name": "dataset"},
                              {"type": "regular", "bins": 12, "start": 60.0, "stop": 120.0, "name": "mass"}], "storage": "double"}),
        n,
        cols: vec![Col::Str(labels(r, &["ZZ", "DY", "ttbar", "data"], n)), Col::F64(around(r, 60.0, 120.0, &e, n))],
        weight: Some(Wt::Each(float_weights(r, n, false))),
        sample: None,
    });
    cases.push(Case {
        name: "int category with other bin",
        spec: json!({"axes": [{"type": "int_category", "categories": [11, 13, -11], "name": "pdgid"}], "storage": "int64"}),
        n,
        cols: vec![Col::I64((0..n).map(|_| *r.pick(&[11, 13, -11, -13, 22, 0])).collect())],
        weight: None,
        sample: None,
    });
    cases.push(Case {
        name: "int category growth x boolean",
        spec: json!({"axes": [{"type": "int_category", "categories": [13], "growth": true, "name": "pdgid"},
                              {"type": "boolean", "name": "tight"}], "storage": "weight"}),
        n,
        cols: vec![
            Col::I64((0..n).map(|_| *r.pick(&[13, -13, 11, -11, 211])).collect()),
            Col::Bool((0..n).map(|_| r.chance(0.3)).collect()),
        ],
        weight: Some(Wt::One(0.1)),
        sample: None,
    });
    cases.push(Case {
        name: "boolean from i64 x integer, mean",
        spec: json!({"axes": [{"type": "boolean", "name": "b"}, {"type": "integer", "start": 0, "stop": 3, "name": "i"}], "storage": "mean"}),
        n,
        cols: vec![Col::I64((0..n).map(|_| r.int(-1, 2)).collect()), Col::I64((0..n).map(|_| r.int(-1, 4)).collect())],
        weight: None,
        sample: Some((0..n).map(|_| r.range(-1e3, 1e3)).collect()),
    });
    let ea = grid(0.0, 1.0, 4);
    let eb = vec![0.0, 0.1, 0.5, 2.0];
    cases.push(Case {
        name: "regular x variable, weighted mean",
        spec: json!({"axes": [{"type": "regular", "bins": 4, "start": 0.0, "stop": 1.0, "name": "x"},
                              {"type": "variable", "edges": eb, "name": "y"}], "storage": "weighted_mean"}),
        n,
        cols: vec![Col::F64(around(r, 0.0, 1.0, &ea, n)), Col::F64(around(r, 0.0, 2.0, &eb, n))],
        weight: Some(Wt::Each(float_weights(r, n, false))),
        sample: Some((0..n).map(|_| r.range(0.0, 50.0)).collect()),
    });
    let e = grid(-2.5, 2.5, 10);
    cases.push(Case {
        name: "3D: one dataset label, int category, regular; weight",
        spec: json!({"label": "muon eta", "axes": [{"type": "str_category", "categories": [], "growth": true, "name": "dataset"},
                              {"type": "int_category", "categories": [0, 1, 2], "name": "charge"},
                              {"type": "regular", "bins": 10, "start": -2.5, "stop": 2.5, "name": "eta", "label": "η"}], "storage": "weight"}),
        n,
        cols: vec![
            Col::OneStr("DYJetsToLL_M-50".into()),
            Col::I64((0..n).map(|_| r.int(-1, 3)).collect()),
            Col::F64(around(r, -2.5, 2.5, &e, n)),
        ],
        weight: Some(Wt::One(0.75)),
        sample: None,
    });
    cases.push(Case {
        name: "mean with sparse bins (single entries give NaN variances)",
        spec: json!({"axes": [{"type": "regular", "bins": 40, "start": 0.0, "stop": 1.0, "name": "x"}], "storage": "mean"}),
        n: 30,
        cols: vec![Col::F64((0..30).map(|_| r.range(-0.1, 1.1)).collect())],
        weight: None,
        sample: Some((0..30).map(|_| r.range(0.0, 1.0)).collect()),
    });
    let mut w = float_weights(r, n, false);
    w[7] = f64::NAN;
    w[100] = f64::INFINITY;
    let e = grid(0.0, 1.0, 3);
    cases.push(Case {
        name: "double with NaN and infinite weights",
        spec: json!({"axes": [{"type": "regular", "bins": 3, "start": 0.0, "stop": 1.0, "name": "x"}], "storage": "double"}),
        n,
        cols: vec![Col::F64(around(r, 0.0, 1.0, &e, n))],
        weight: Some(Wt::Each(w)),
        sample: None,
    });
    cases.push(Case {
        name: "regular from i64 values and one f64",
        spec: json!({"axes": [{"type": "regular", "bins": 5, "start": -2.0, "stop": 8.0, "name": "a"},
                              {"type": "regular", "bins": 3, "start": 0.0, "stop": 3.0, "name": "b"}], "storage": "int64"}),
        n,
        cols: vec![Col::I64((0..n).map(|_| r.int(-4, 10)).collect()), Col::OneF64(1.5)],
        weight: None,
        sample: None,
    });
    cases.push(Case {
        name: "growth axis never filled",
        spec: json!({"axes": [{"type": "str_category", "categories": [], "growth": true, "name": "c"},
                              {"type": "regular", "bins": 3, "start": 0.0, "stop": 3.0, "name": "b"}], "storage": "weight"}),
        n: 0,
        cols: vec![Col::Str(vec![]), Col::F64(vec![])],
        weight: None,
        sample: None,
    });
    cases.push(Case {
        name: "one i64 for all entries",
        spec: json!({"axes": [{"type": "integer", "start": 0, "stop": 10, "name": "run"}, {"type": "regular", "bins": 4, "start": 0.0, "stop": 1.0, "name": "x"}], "storage": "int64"}),
        n,
        cols: vec![Col::OneI64(7), Col::F64((0..n).map(|_| r.range(-0.5, 1.5)).collect())],
        weight: None,
        sample: None,
    });
    cases
}

/// Fills our histogram in three calls (growth across calls, chunk boundaries inside).
fn fill_ours(case: &Case) -> Hist {
    let spec: HistSpec = serde_json::from_value(case.spec.clone()).expect("spec parses");
    let mut h = Hist::new(spec).expect("valid spec");
    let cuts = [0, case.n / 3, 2 * case.n / 3, case.n];
    for piece in cuts.windows(2) {
        let r = piece[0]..piece[1];
        if r.is_empty() && case.n > 0 {
            continue;
        }
        let views: Vec<ColView> = case
            .cols
            .iter()
            .map(|c| ColView::new(c, r.clone()))
            .collect();
        let args: Vec<_> = views.iter().map(|v| v.arg()).collect();
        let w = case.weight.as_ref().map(|w| match w {
            Wt::Each(v) => Weights::Each(&v[r.clone()]),
            Wt::One(x) => Weights::One(*x),
        });
        let s = case.sample.as_ref().map(|s| &s[r.clone()]);
        h.fill(&args, w, s)
            .unwrap_or_else(|e| panic!("{}: fill: {e}", case.name));
    }
    h
}

fn case_json(case: &Case, ours: &Hist) -> Value {
    json!({
        "spec": case.spec,
        "n": case.n,
        "columns": case.cols.iter().map(Col::json).collect::<Vec<_>>(),
        "weight": case.weight.as_ref().map(|w| match w {
            Wt::Each(v) => json!({"each": v.iter().map(|&x| fj(x)).collect::<Vec<_>>()}),
            Wt::One(x) => json!({"one": fj(*x)}),
        }),
        "sample": case.sample.as_ref().map(|s| s.iter().map(|&x| fj(x)).collect::<Vec<_>>()),
        "ours_uhi": write_uhi_json(&ours.to_uhi()),
    })
}

/// Whether hist's own sums are exact for this case: counts, and integer or one-value
/// weights (sums of small integers and of one repeated double with few entries are exact).
fn hist_is_exact(case: &Case) -> bool {
    let storage = case.spec["storage"].as_str().unwrap();
    if !matches!(storage, "int64" | "double" | "weight") {
        return false;
    }
    match &case.weight {
        None => true,
        Some(Wt::One(x)) => *x == 2.5 || *x == 0.75, // dyadic: every partial sum is exact
        Some(Wt::Each(v)) => v.iter().all(|w| w.fract() == 0.0),
    }
}

/// The largest rounding error sequential double summation can make over this case's
/// weights raised to `power` (1 for Σw, 2 for Σw²): n * eps * Σ|w|^power (Higham, "Accuracy
/// and Stability of Numerical Algorithms", 2nd ed., eq. 4.4). It bounds how far hist's bins
/// may be from the exact sums we keep.
fn summation_bound(case: &Case, power: i32) -> f64 {
    let sum: f64 = match &case.weight {
        None => case.n as f64,
        Some(Wt::One(x)) => x.abs().powi(power) * case.n as f64,
        Some(Wt::Each(v)) => v
            .iter()
            .filter(|w| w.is_finite())
            .map(|w| w.abs().powi(power))
            .sum(),
    };
    case.n as f64 * f64::EPSILON * sum.max(1.0)
}

fn check_exact(
    case: &Case,
    what: &str,
    ours: &[f64],
    exact: &[Option<f64>],
    reference: &[Option<f64>],
) {
    assert_eq!(ours.len(), exact.len(), "{}: {what}: bin count", case.name);
    for (i, (&o, e)) in ours.iter().zip(exact).enumerate() {
        match e {
            // The exact sum, rounded once: ours must be that double.
            Some(e) => assert!(
                same(o, *e),
                "{}: {what}[{i}]: ours {o:e}, exact {e:e}",
                case.name
            ),
            // Non-finite inputs in this bin: no exact value; hist's IEEE result must match.
            None => {
                let r = reference[i].unwrap_or(f64::NAN);
                assert!(
                    same(o, r) || (o.is_nan() && r.is_nan()),
                    "{}: {what}[{i}]: ours {o}, hist {r}",
                    case.name
                );
            }
        }
    }
}

fn check_close(
    case: &Case,
    what: &str,
    ours: &[f64],
    reference: &[Option<f64>],
    exact: bool,
    rel: f64,
    power: i32,
) {
    assert_eq!(
        ours.len(),
        reference.len(),
        "{}: {what}: bin count",
        case.name
    );
    let abs = summation_bound(case, power);
    for (i, (&o, r)) in ours.iter().zip(reference).enumerate() {
        let r = r.unwrap_or(f64::NAN);
        if exact {
            assert!(
                same(o, r) || (o == 0.0 && r == 0.0),
                "{}: {what}[{i}]: ours {o:e}, hist {r:e}",
                case.name
            );
        } else if o.is_finite() && r.is_finite() {
            let tol = if rel > 0.0 {
                rel * r.abs().max(1e-300)
            } else {
                abs
            };
            assert!(
                (o - r).abs() <= tol,
                "{}: {what}[{i}]: ours {o:e}, hist {r:e}, tolerance {tol:e}",
                case.name
            );
        } else {
            assert!(
                o.is_nan() == r.is_nan() && (o.is_nan() || o == r),
                "{}: {what}[{i}]: ours {o}, hist {r}",
                case.name
            );
        }
    }
}

#[test]
fn bins_match_hist_and_uhi_loads_in_hist() {
    let cases = cases();
    let ours: Vec<Hist> = cases.iter().map(fill_ours).collect();
    let input =
        json!({"cases": cases.iter().zip(&ours).map(|(c, h)| case_json(c, h)).collect::<Vec<_>>()});
    let answer = run_reference(&input);
    eprintln!("UHI schema checked with {}", answer["validator"]);
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), cases.len());

    for ((case, h), res) in cases.iter().zip(&ours).zip(results) {
        let storage = case.spec["storage"].as_str().unwrap();
        let mean_like = matches!(storage, "mean" | "weighted_mean");
        let ref_ = &res["ref"];
        let exact = &res["exact"];
        let values = h.values(true);
        let variances = h.variances(true);
        let counts = h.counts(true).expect("counts");

        // 1. Our bins are the exact sums (or exact means and variances), rounded once.
        check_exact(
            case,
            "values",
            &values,
            &nums(&exact["values"]).unwrap(),
            &nums(&ref_["values"]).unwrap(),
        );
        check_exact(
            case,
            "counts",
            &counts,
            &nums(&exact["counts"]).unwrap(),
            &nums(&ref_["counts"]).unwrap(),
        );
        // 2. And they are hist's: bit for bit where hist's sums are exact too; otherwise within
        //    the error of hist's sequential double sums (Double/Weight), or for profiles within
        //    1e-9 relative for means and 1e-6 for variances: boost updates running means
        //    (Welford), whose rounding grows with the spread of the samples (±1e3 here) and
        //    cancels in the variance.
        let hist_exact = hist_is_exact(case);
        let vrel = if mean_like { 1e-9 } else { 0.0 };
        check_close(
            case,
            "values vs hist",
            &values,
            &nums(&ref_["values"]).unwrap(),
            hist_exact,
            vrel,
            1,
        );
        match (&variances, nums(&ref_["variances"])) {
            (Some(v), Some(r)) => {
                check_exact(
                    case,
                    "variances",
                    v,
                    &nums(&exact["variances"]).unwrap(),
                    &r,
                );
                let rel = if mean_like { 1e-6 } else { 0.0 };
                check_close(case, "variances vs hist", v, &r, hist_exact, rel, 2);
            }
            (None, None) => assert_eq!(storage, "double", "{}: variances unknown", case.name),
            (a, b) => panic!(
                "{}: variances known to us: {}, to hist: {}",
                case.name,
                a.is_some(),
                b.is_some()
            ),
        }
        assert_eq!(h.shape(true).iter().product::<usize>(), values.len());

        // 3. Our UHI export: valid, and hist loads it as the histogram it filled itself.
        let loaded = &res["loaded"];
        assert_eq!(
            loaded["storage"], loaded["ref_storage"],
            "{}: storage type",
            case.name
        );
        for (i, ok) in loaded["same_axes"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                ok,
                &json!(true),
                "{}: axis {i} loads differently in hist",
                case.name
            );
        }
        for (what, mine) in [
            ("values", Some(values.clone())),
            ("variances", variances.clone()),
            ("counts", Some(counts.clone())),
        ] {
            let theirs = nums(&loaded[what]);
            match (mine, theirs) {
                (Some(m), Some(t)) => {
                    assert_eq!(m.len(), t.len(), "{}: loaded {what}", case.name);
                    for (i, (a, b)) in m.iter().zip(&t).enumerate() {
                        let b = b.unwrap_or(f64::NAN);
                        // The loaded bins are ours, as hist reads them back. hist keeps a
                        // profile's variance as a sum of squared deltas, so the variance it
                        // gives back has been multiplied and divided by (n - 1): a few ulps.
                        let ok = if mean_like && what == "variances" && a.is_finite() {
                            (a - b).abs() <= 1e-14 * a.abs()
                        } else {
                            same(*a, b) || (*a == 0.0 && b == 0.0)
                        };
                        assert!(
                            ok,
                            "{}: loaded {what}[{i}]: ours {a:e}, loaded {b:e}",
                            case.name
                        );
                    }
                }
                // A Double histogram's variance-unknown flag is not part of UHI.
                (None, Some(_)) if what == "variances" => {}
                (m, t) => panic!("{}: loaded {what}: ours {m:?} loaded {t:?}", case.name),
            }
        }
        // 4. Our axes are written exactly as hist writes them (Integer as regular with
        //    orig_type, transforms as variable edges plus writer_info, category flow/growth).
        let mine = h.to_uhi();
        assert_eq!(mine["axes"], ref_["uhi"]["axes"], "{}: UHI axes", case.name);
        assert_eq!(
            mine["storage"]["type"], ref_["uhi"]["storage"]["type"],
            "{}: UHI storage type",
            case.name
        );
        assert_eq!(
            mine.get("metadata"),
            ref_["uhi"].get("metadata"),
            "{}: UHI metadata",
            case.name
        );
        if hist_exact {
            assert_eq!(
                mine["storage"], ref_["uhi"]["storage"],
                "{}: UHI storage",
                case.name
            );
        }
    }
}
