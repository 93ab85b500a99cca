//! Properties of the merge: for random partials (growing axes, integer and float weights of
//! many magnitudes, every storage, counters), any permutation and fan-in of the tree gives
//! the bytes of casa-hist's own flat addition; the fast payload reader reads what serde reads,
//! in format 1.1 (packed sums) and 1.0 (sums as JSON numbers).

mod common;

use casa_hist::{Accumulator, Counter, FillArg, HistSpec, Weights};
use casa_merge::{acc::MergeAcc, payload, tree};
use proptest::prelude::*;
use serde_json::json;

fn specs() -> Vec<HistSpec> {
    [
        json!({"axes": [{"type": "regular", "bins": 7, "start": -1.0, "stop": 1.0, "name": "x"}],
               "storage": "weight"}),
        json!({"axes": [{"type": "str_category", "categories": [], "growth": true, "name": "c"},
                        {"type": "regular", "bins": 3, "start": -1.0, "stop": 1.0, "name": "x"}],
               "storage": "double"}),
        json!({"axes": [{"type": "integer", "start": 0, "stop": 2, "growth": true,
                         "underflow": false, "overflow": false, "name": "n"}],
               "storage": "int64"}),
        json!({"axes": [{"type": "regular", "bins": 4, "start": -1.0, "stop": 1.0, "name": "x"}],
               "storage": "mean"}),
        json!({"axes": [{"type": "boolean", "name": "b"}], "storage": "weighted_mean"}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect()
}

/// One random fill: which histogram, and (value, weight, category) per entry.
#[derive(Clone, Debug)]
struct FillCase {
    hist: usize,
    entries: Vec<(f64, f64, u8)>,
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(1.0),
        (1i32..5).prop_map(f64::from),
        -1e3..1e3f64,
        (0.1..10.0f64, -40i32..40).prop_map(|(m, e)| m * 2f64.powi(e)),
    ]
}

fn fill_case() -> impl Strategy<Value = FillCase> {
    (
        0..5usize,
        prop::collection::vec((-1.2..1.2f64, weight(), 0..4u8), 0..25),
    )
        .prop_map(|(hist, entries)| FillCase { hist, entries })
}

fn build(fills: &[FillCase], counters: (i64, f64)) -> Accumulator {
    let specs = specs();
    let mut acc = Accumulator::new();
    for f in fills {
        let h = acc
            .hist_mut("DS", &format!("h{}", f.hist), &specs[f.hist])
            .unwrap();
        let xs: Vec<f64> = f.entries.iter().map(|e| e.0).collect();
        let ws: Vec<f64> = f.entries.iter().map(|e| e.1).collect();
        let ns: Vec<i64> = f.entries.iter().map(|e| i64::from(e.2) * 2 - 3).collect();
        let bs: Vec<bool> = f.entries.iter().map(|e| e.2 % 2 == 0).collect();
        let names = ["b", "a", "d", "c"];
        let cs: Vec<&str> = f.entries.iter().map(|e| names[e.2 as usize]).collect();
        match f.hist {
            0 => h.fill(&[FillArg::F64(&xs)], Some(Weights::Each(&ws)), None),
            1 => h.fill(
                &[FillArg::Str(&cs), FillArg::F64(&xs)],
                Some(Weights::Each(&ws)),
                None,
            ),
            2 => h.fill(&[FillArg::I64(&ns)], None, None),
            3 => h.fill(&[FillArg::F64(&xs)], None, Some(&ws)),
            _ => h.fill(&[FillArg::Bool(&bs)], Some(Weights::Each(&ws)), Some(&xs)),
        }
        .unwrap();
    }
    acc.count("DS", "n", Counter::Int(counters.0)).unwrap();
    acc.count("DS", "w", Counter::Float(counters.1)).unwrap();
    acc
}

fn partials() -> impl Strategy<Value = Vec<Accumulator>> {
    prop::collection::vec(
        (
            prop::collection::vec(fill_case(), 0..5),
            0..1000i64,
            -1e6..1e6f64,
        ),
        1..10,
    )
    .prop_map(|ps| ps.iter().map(|(f, n, w)| build(f, (*n, *w))).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_permutation_and_fan_in_equals_casa_hist_flat(
        accs in partials(),
        seed in any::<u64>(),
        fan_in in 2..5usize,
    ) {
        let d = tempfile::tempdir().unwrap();
        let paths: Vec<_> = accs.iter().enumerate().map(|(i, a)| {
            let p = d.path().join(format!("{i}.partial"));
            common::write_partial(&p, vec![common::chunk("DS", "f.root", i as u64, i as u64 + 1)], a);
            p
        }).collect();
        let mut flat = Accumulator::new();
        for a in &accs {
            flat.add(a).unwrap();
        }
        flat.sort_growth_categories();
        // A seeded Fisher-Yates shuffle of the leaves.
        let mut order: Vec<usize> = (0..accs.len()).collect();
        let mut rng = common::Rng::new(seed);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let sources: Vec<_> = paths.into_iter().map(|path| tree::Source { path, datasets: ["DS".to_string()].into() }).collect();
        let merged = tree::merge(&sources, &order, fan_in).unwrap().into_accumulator().unwrap();
        prop_assert_eq!(serde_json::to_string(&merged).unwrap(), serde_json::to_string(&flat).unwrap());
    }

    #[test]
    fn the_fast_reader_reads_what_serde_reads(accs in partials()) {
        for a in &accs {
            let mut slow = a.clone();
            slow.sort_growth_categories();
            // Compact as casa writes it, with whitespace as another writer might, and as
            // partial format 1.0 wrote it (sums as lists of numbers).
            let packed = serde_json::to_vec(a).unwrap();
            let v1_0 = common::unpacked_1_0(&packed);
            for text in [packed, serde_json::to_vec_pretty(a).unwrap(), v1_0] {
                // parse_fast: payload::parse would fall back to serde on any failure.
                let fast = payload::parse_fast(&text, 0).unwrap().into_accumulator().unwrap();
                prop_assert_eq!(serde_json::to_string(&fast).unwrap(), serde_json::to_string(&slow).unwrap());
            }
        }
    }
}

#[test]
fn non_finite_bins_and_huge_sums_take_casa_hists_path() {
    let spec: HistSpec = serde_json::from_value(json!({"axes": [{"type": "regular", "bins": 3,
        "start": 0.0, "stop": 3.0, "name": "x"}], "storage": "weight"}))
    .unwrap();
    let one = |x: f64, w: f64| {
        let mut a = Accumulator::new();
        a.hist_mut("D", "h", &spec)
            .unwrap()
            .fill(&[FillArg::F64(&[x])], Some(Weights::One(w)), None)
            .unwrap();
        a
    };
    let cases = [
        vec![one(0.5, f64::INFINITY), one(0.5, 1.0), one(1.5, 2.0)],
        vec![one(0.5, 1.0), one(0.5, f64::NAN)],
        vec![
            one(0.5, 1e307),
            one(0.5, 1e307),
            one(0.5, -1e307),
            one(0.5, 1.0),
        ],
    ];
    for accs in cases {
        let mut flat = Accumulator::new();
        let mut m = MergeAcc::default();
        for (i, a) in accs.iter().enumerate() {
            flat.add(a).unwrap();
            m.add(payload::parse(&serde_json::to_vec(a).unwrap(), i).unwrap())
                .unwrap();
        }
        assert_eq!(
            serde_json::to_string(&m.into_accumulator().unwrap()).unwrap(),
            serde_json::to_string(&flat).unwrap()
        );
    }
}
