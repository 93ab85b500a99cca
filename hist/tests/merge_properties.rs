//! The merge tool's contract: adding partial histograms gives the same bits whatever the
//! grouping (tree shape) and, after sorting growth categories, whatever the order; and the
//! result is the histogram filled with all the data at once. Incompatible axes are refused
//! with the axis named.

mod common;

use casa_hist::{
    Accumulator, AxisSpec, Counter, FillArg, Hist, HistSpec, StorageKind, Transform, Weights,
};
use common::Rng;
use proptest::prelude::*;

const KINDS: [StorageKind; 5] = [
    StorageKind::Int64,
    StorageKind::Double,
    StorageKind::Weight,
    StorageKind::Mean,
    StorageKind::WeightedMean,
];

fn spec(kind: StorageKind, layout: u8) -> HistSpec {
    let dataset = AxisSpec::StrCategory {
        categories: vec![],
        growth: true,
        name: "dataset".into(),
        label: String::new(),
    };
    let x = AxisSpec::Regular {
        bins: 6,
        start: 0.0,
        stop: 1.0,
        transform: Transform::None,
        name: "x".into(),
        label: String::new(),
        underflow: true,
        overflow: true,
        circular: false,
    };
    let axes = match layout % 3 {
        0 => vec![x],
        1 => vec![dataset, x],
        _ => vec![
            AxisSpec::Integer {
                start: 0,
                stop: 2,
                name: "n".into(),
                label: String::new(),
                underflow: true,
                overflow: true,
                growth: true,
            },
            AxisSpec::IntCategory {
                categories: vec![1],
                growth: true,
                name: "c".into(),
                label: String::new(),
            },
            dataset,
        ],
    };
    HistSpec {
        axes,
        storage: kind,
        label: "h".into(),
    }
}

/// Entries for one partial: axis columns, weights, samples. Weights span sixteen orders of
/// magnitude and both signs, so that float sums are far from exact in plain doubles.
struct Data {
    cols: Vec<Vec<f64>>,
    strs: Vec<String>,
    ints: Vec<Vec<i64>>,
    w: Vec<f64>,
    s: Vec<f64>,
}

fn data(rng: &mut Rng, n: usize) -> Data {
    let mag = |rng: &mut Rng| 10f64.powi(rng.int(-8, 8) as i32) * rng.range(-1.0, 1.0);
    Data {
        cols: vec![(0..n).map(|_| rng.range(-0.2, 1.2)).collect()],
        strs: (0..n)
            .map(|_| rng.pick(&["DY", "ZZ", "tt", "WW", "data"]).to_string())
            .collect(),
        ints: vec![
            (0..n).map(|_| rng.int(-3, 5)).collect(),
            (0..n).map(|_| *rng.pick(&[1, -1, 7, 3])).collect(),
        ],
        w: (0..n).map(|_| mag(rng)).collect(),
        s: (0..n).map(|_| mag(rng)).collect(),
    }
}

fn fill(h: &mut Hist, d: &Data, layout: u8) {
    let strs: Vec<&str> = d.strs.iter().map(|s| s.as_str()).collect();
    let args = match layout % 3 {
        0 => vec![FillArg::F64(&d.cols[0])],
        1 => vec![FillArg::Str(&strs), FillArg::F64(&d.cols[0])],
        _ => vec![
            FillArg::I64(&d.ints[0]),
            FillArg::I64(&d.ints[1]),
            FillArg::Str(&strs),
        ],
    };
    let kind = h.storage_kind();
    let w = matches!(
        kind,
        StorageKind::Double | StorageKind::Weight | StorageKind::WeightedMean
    )
    .then_some(Weights::Each(&d.w));
    let s = matches!(kind, StorageKind::Mean | StorageKind::WeightedMean).then_some(&d.s[..]);
    h.fill(&args, w, s).expect("fill");
}

/// Adds `parts[lo..hi]` in a random binary tree.
fn tree(rng: &mut Rng, parts: &[Hist]) -> Hist {
    if parts.len() == 1 {
        return parts[0].clone();
    }
    let m = rng.int(1, parts.len() as i64 - 1) as usize;
    let mut left = tree(rng, &parts[..m]);
    let right = tree(rng, &parts[m..]);
    left.add(&right).expect("add");
    left
}

fn bits(h: &Hist) -> Vec<u64> {
    let mut v: Vec<u64> = h.values(true).iter().map(|x| x.to_bits()).collect();
    v.extend(
        h.variances(true)
            .unwrap_or_default()
            .iter()
            .map(|x| x.to_bits()),
    );
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn merging_is_exact_and_associative(seed in any::<u64>(), kind in 0usize..5, layout in 0u8..3, parts in 1usize..9) {
        let mut rng = Rng(seed);
        let spec = spec(KINDS[kind], layout);
        let datas: Vec<Data> = (0..parts).map(|_| { let n = rng.int(0, 40) as usize; data(&mut rng, n) }).collect();
        let partials: Vec<Hist> = datas.iter().map(|d| {
            let mut h = Hist::new(spec.clone()).unwrap();
            fill(&mut h, d, layout);
            h
        }).collect();

        // Flat, left to right.
        let mut flat = partials[0].clone();
        for p in &partials[1..] {
            flat.add(p).unwrap();
        }
        // Any tree over the same sequence: the same bits, the same serialised bytes.
        for _ in 0..3 {
            let t = tree(&mut rng, &partials);
            prop_assert_eq!(&t, &flat);
            prop_assert_eq!(bits(&t), bits(&flat));
            prop_assert_eq!(serde_json::to_string(&t).unwrap(), serde_json::to_string(&flat).unwrap());
        }
        // Exact means exact: one histogram filled with everything is the same histogram.
        let mut all = Hist::new(spec.clone()).unwrap();
        for d in &datas {
            fill(&mut all, d, layout);
        }
        prop_assert_eq!(&all, &flat);

        // Any order: the same after sorting growth categories.
        let mut order: Vec<usize> = (0..parts).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.int(0, i as i64) as usize);
        }
        let shuffled: Vec<Hist> = order.iter().map(|&i| partials[i].clone()).collect();
        let mut t = tree(&mut rng, &shuffled);
        let mut f = flat.clone();
        t.sort_growth_categories();
        f.sort_growth_categories();
        prop_assert_eq!(bits(&t), bits(&f));
        prop_assert_eq!(&t, &f);

        // And through the serialised form a partial file uses.
        let back: Hist = serde_json::from_str(&serde_json::to_string(&partials[0]).unwrap()).unwrap();
        prop_assert_eq!(&back, &partials[0]);
    }

    #[test]
    fn float_counters_are_exact(seed in any::<u64>(), parts in 1usize..12) {
        let mut rng = Rng(seed);
        let accs: Vec<Accumulator> = (0..parts).map(|_| {
            let mut a = Accumulator::new();
            for _ in 0..rng.int(0, 5) {
                let x = 10f64.powi(rng.int(-10, 10) as i32) * rng.range(-1.0, 1.0);
                a.count("DY", "sumw", Counter::Float(x)).unwrap();
                a.count("DY", "n", Counter::Int(rng.int(0, 100))).unwrap();
            }
            a
        }).collect();
        let mut flat = Accumulator::new();
        for a in &accs {
            flat.add(a).unwrap();
        }
        let mut rev = Accumulator::new();
        for a in accs.iter().rev() {
            rev.add(a).unwrap();
        }
        prop_assert_eq!(&flat, &rev);
        let text = serde_json::to_string(&flat).unwrap();
        let back: Accumulator = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &flat);
    }

    #[test]
    fn incompatible_axes_are_named(which in 0usize..9, axis in 0usize..2) {
        let base = spec(StorageKind::Weight, 1);
        let mut other = base.clone();
        let a = &mut other.axes[axis];
        let name = base.axes[axis].name().to_string();
        let expect_axis = match (which, a) {
            (0, AxisSpec::Regular { bins, .. }) => { *bins += 1; true }
            (1, AxisSpec::Regular { stop, .. }) => { *stop = 1.0 + 1e-15; true }
            (2, AxisSpec::Regular { underflow, .. }) => { *underflow = false; true }
            (3, AxisSpec::Regular { transform, .. }) => { *transform = Transform::Sqrt; true }
            (4, a) => { *a = AxisSpec::Boolean { name: name.clone(), label: String::new() }; true }
            (5, AxisSpec::StrCategory { growth, categories, .. }) => { *growth = false; categories.push("x".into()); true }
            (6, a) => { set_label(a); true }
            (7, _) => { other.storage = StorageKind::Double; false }
            (8, _) => { other.label = "other".into(); false }
            _ => { set_name(&mut other.axes[axis]); true }
        };
        let mut h = Hist::new(base.clone()).unwrap();
        let o = Hist::new(other.clone()).unwrap();
        let before = h.clone();
        let e = h.add(&o).unwrap_err().to_string();
        prop_assert_eq!(&h, &before);
        if expect_axis {
            let needle = format!("axis {axis} (`{name}`)");
            prop_assert!(e.contains(&needle), "{}", e);
        } else {
            prop_assert!(e.contains("storages differ") || e.contains("labels differ"), "{}", e);
        }
        // The accumulator adds the dataset and item to the message.
        let mut a = Accumulator::new();
        a.hist_mut("DY", "mass", &base).unwrap();
        let mut b = Accumulator::new();
        *b.hist_mut("DY", "mass", &other).unwrap() = o;
        let e = a.add(&b).unwrap_err().to_string();
        prop_assert!(e.starts_with("dataset `DY`, `mass`: "), "{}", e);
    }
}

fn set_label(a: &mut AxisSpec) {
    match a {
        AxisSpec::Regular { label, .. } | AxisSpec::StrCategory { label, .. } => {
            *label = "changed".into()
        }
        _ => {}
    }
}

fn set_name(a: &mut AxisSpec) {
    match a {
        AxisSpec::Regular { name, .. } | AxisSpec::StrCategory { name, .. } => {
            *name = "renamed".into()
        }
        _ => {}
    }
}
