//! Fill rates of the common cases: `cargo run --release -p casa-hist --example fill_speed`.

use std::time::Instant;

use casa_hist::{FillArg, Hist, HistSpec, Weights};

fn spec(json: &str) -> HistSpec {
    serde_json::from_str(json).expect("spec")
}

fn main() {
    let n = 4_000_000;
    // Deterministic pseudo-random values in [-0.1, 1.1).
    let mut s = 0x1234_5678_u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 * 1.2 - 0.1
    };
    let x: Vec<f64> = (0..n).map(|_| next()).collect();
    let y: Vec<f64> = (0..n).map(|_| next()).collect();
    let w: Vec<f64> = (0..n).map(|_| 0.5 + next()).collect();
    let one = r#"{"axes": [{"type": "regular", "bins": 100, "start": 0, "stop": 1, "name": "x"}], "storage": "STORAGE"}"#;
    let two = r#"{"axes": [{"type": "regular", "bins": 100, "start": 0, "stop": 1, "name": "x"},
                          {"type": "variable", "edges": [0, 0.1, 0.2, 0.5, 0.7, 1], "name": "y"}], "storage": "STORAGE"}"#;
    let cat = r#"{"axes": [{"type": "str_category", "categories": [], "growth": true, "name": "dataset"},
                          {"type": "regular", "bins": 100, "start": 0, "stop": 1, "name": "x"}], "storage": "STORAGE"}"#;
    for (name, decl, storage, weighted) in [
        ("1D regular, int64", one, "int64", false),
        ("1D regular, double", one, "double", false),
        ("1D regular, double, float weights", one, "double", true),
        ("1D regular, weight, float weights", one, "weight", true),
        ("2D regular x variable, int64", two, "int64", false),
        (
            "2D regular x variable, double, float weights",
            two,
            "double",
            true,
        ),
        (
            "dataset x regular, weight, float weights",
            cat,
            "weight",
            true,
        ),
    ] {
        let mut h = Hist::new(spec(&decl.replace("STORAGE", storage))).expect("hist");
        let dims = h.spec().axes.len();
        let t = Instant::now();
        // Batches of 100k, as the wrapper fills them.
        for start in (0..n).step_by(100_000) {
            let r = start..(start + 100_000).min(n);
            let args: Vec<FillArg> = match (dims, decl == cat) {
                (_, true) => vec![FillArg::OneStr("DYJetsToLL"), FillArg::F64(&x[r.clone()])],
                (1, _) => vec![FillArg::F64(&x[r.clone()])],
                _ => vec![FillArg::F64(&x[r.clone()]), FillArg::F64(&y[r.clone()])],
            };
            let wt = weighted.then(|| Weights::Each(&w[r.clone()]));
            h.fill(&args, wt, None).expect("fill");
        }
        let secs = t.elapsed().as_secs_f64();
        println!("{name:48} {:7.1} M entries/s", n as f64 / secs / 1e6);
    }
}
