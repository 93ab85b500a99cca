//! Shared by casa-merge's tests: deterministic histograms filled through casa-hist (the fill
//! data kept so that Python hist can fill the same), partials written with casa-formats,
//! and the real casa-merge binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use casa_formats::partial::{self, ChunkId, PartialHeader};
use casa_hist::{Accumulator, AxisSpec, Counter, FillArg, HistSpec, Weights};
use serde_json::{json, Value};

/// The casa-merge binary of this build.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_casa-merge"))
}

/// Runs casa-merge with `args`.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(bin())
        .args(args)
        .output()
        .expect("run casa-merge")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The exit code, with stderr in the panic message when there is none.
pub fn code(o: &Output) -> i32 {
    o.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {}", stderr(o)))
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "casa-merge failed ({:?}):\n{}",
        o.status.code(),
        stderr(o)
    );
}

/// xorshift64: the same numbers everywhere.
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_add(1).wrapping_mul(0x2545_F491_4F6C_DD1D))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn chunk(dataset: &str, file: &str, start: u64, stop: u64) -> ChunkId {
    ChunkId {
        dataset: dataset.into(),
        file: file.into(),
        uuid: format!("uuid-{file}"),
        tree: "Events".into(),
        entry_start: start,
        entry_stop: stop,
    }
}

/// Writes a partial covering `chunks` with `acc` as its payload.
pub fn write_partial(path: &Path, chunks: Vec<ChunkId>, acc: &Accumulator) {
    write_partial_as(path, chunks, acc, "test-plugin");
}

pub fn write_partial_as(path: &Path, chunks: Vec<ChunkId>, acc: &Accumulator, plugin: &str) {
    let events = chunks.iter().map(|c| c.entry_stop - c.entry_start).sum();
    let header = PartialHeader {
        run_id: "test-run".into(),
        node: path.file_stem().unwrap().to_string_lossy().into_owned(),
        producer: "test-writer 1.0".into(),
        plugin: plugin.into(),
        chunks,
        events,
    };
    partial::write(path, &header, &serde_json::to_vec(acc).unwrap()).unwrap();
}

/// One fill of one histogram: an array per axis (JSON, as Python gets it), weights, sample.
#[derive(Clone, Debug)]
pub struct Fill {
    pub args: Vec<Value>,
    pub weight: Option<Vec<f64>>,
    pub sample: Option<Vec<f64>>,
}

/// A histogram of the test suite: where it lives, its declaration, and one fill per partial.
#[derive(Clone, Debug)]
pub struct HistCase {
    pub dataset: String,
    pub name: String,
    pub spec: Value,
    pub fills: Vec<Fill>,
}

/// Fills `h` with `f`, converting each JSON array to what its axis takes.
pub fn apply(acc: &mut Accumulator, case: &HistCase, f: &Fill) {
    let spec: HistSpec = serde_json::from_value(case.spec.clone()).unwrap();
    let h = acc.hist_mut(&case.dataset, &case.name, &spec).unwrap();
    let mut floats: Vec<Vec<f64>> = Vec::new();
    let mut ints: Vec<Vec<i64>> = Vec::new();
    let mut strs: Vec<Vec<String>> = Vec::new();
    let mut bools: Vec<Vec<bool>> = Vec::new();
    enum K {
        F(usize),
        I(usize),
        S(usize),
        B(usize),
    }
    let mut kinds = Vec::new();
    for (a, v) in spec.axes.iter().zip(&f.args) {
        let arr = v.as_array().unwrap();
        match a {
            AxisSpec::Regular { .. } | AxisSpec::Variable { .. } => {
                kinds.push(K::F(floats.len()));
                floats.push(arr.iter().map(|x| x.as_f64().unwrap()).collect());
            }
            AxisSpec::Integer { .. } | AxisSpec::IntCategory { .. } => {
                kinds.push(K::I(ints.len()));
                ints.push(arr.iter().map(|x| x.as_i64().unwrap()).collect());
            }
            AxisSpec::StrCategory { .. } => {
                kinds.push(K::S(strs.len()));
                strs.push(
                    arr.iter()
                        .map(|x| x.as_str().unwrap().to_string())
                        .collect(),
                );
            }
            AxisSpec::Boolean { .. } => {
                kinds.push(K::B(bools.len()));
                bools.push(arr.iter().map(|x| x.as_bool().unwrap()).collect());
            }
        }
    }
    let str_refs: Vec<Vec<&str>> = strs
        .iter()
        .map(|v| v.iter().map(String::as_str).collect())
        .collect();
    let args: Vec<FillArg> = kinds
        .iter()
        .map(|k| match *k {
            K::F(i) => FillArg::F64(&floats[i]),
            K::I(i) => FillArg::I64(&ints[i]),
            K::S(i) => FillArg::Str(&str_refs[i]),
            K::B(i) => FillArg::Bool(&bools[i]),
        })
        .collect();
    h.fill(
        &args,
        f.weight.as_deref().map(Weights::Each),
        f.sample.as_deref(),
    )
    .unwrap();
}

/// The histograms of the reference tests, with `n` partials' worth of fills: every axis
/// type, a log transform, growth categories that appear partial by partial, every storage.
pub fn cases(n: usize, seed: u64) -> Vec<HistCase> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut add =
        |dataset: &str, name: &str, spec: Value, gen: &mut dyn FnMut(&mut Rng, usize) -> Fill| {
            let fills = (0..n).map(|p| gen(&mut rng, p)).collect();
            out.push(HistCase {
                dataset: dataset.into(),
                name: name.into(),
                spec,
                fills,
            });
        };
    let floats = |rng: &mut Rng, k: usize, lo: f64, hi: f64| -> Vec<f64> {
        (0..k).map(|_| lo + (hi - lo) * rng.uniform()).collect()
    };
    for ds in ["DY", "TT"] {
        add(
            ds,
            "pt",
            json!({"axes": [{"type": "regular", "bins": 50, "start": 0.0, "stop": 200.0,
                             "name": "pt", "label": "p_T [GeV]"}],
                   "storage": "weight", "label": "events"}),
            &mut |rng, p| {
                let k = 200 + 17 * p;
                Fill {
                    args: vec![json!(floats(rng, k, -10.0, 230.0))],
                    weight: Some(floats(rng, k, 0.2, 1.7)),
                    sample: None,
                }
            },
        );
        add(
            ds,
            "mass",
            json!({"axes": [{"type": "regular", "bins": 40, "start": 1.0, "stop": 1000.0,
                             "transform": {"kind": "log"}, "name": "mass", "label": "m [GeV]"}],
                   "storage": "int64"}),
            &mut |rng, p| {
                let k = 150 + 5 * p;
                Fill {
                    args: vec![json!((0..k)
                        .map(|_| (rng.uniform() * 7.5).exp())
                        .collect::<Vec<_>>())],
                    weight: None,
                    sample: None,
                }
            },
        );
        add(
            ds,
            "eta",
            json!({"axes": [{"type": "variable", "edges": [-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5],
                             "name": "eta"}],
                   "storage": "double"}),
            &mut |rng, p| {
                let k = 100 + p;
                Fill {
                    args: vec![json!(floats(rng, k, -3.0, 3.0))],
                    weight: Some(floats(rng, k, -0.5, 2.0)),
                    sample: None,
                }
            },
        );
        // Categories appear in sorted order over the partials, so Python's first-appearance
        // order and casa-merge's sorted order agree.
        add(
            ds,
            "channel_pt",
            json!({"axes": [{"type": "str_category", "categories": [], "growth": true,
                             "name": "channel", "label": "channel"},
                            {"type": "regular", "bins": 20, "start": 0.0, "stop": 100.0,
                             "name": "pt", "label": "p_T [GeV]"}],
                   "storage": "weight"}),
            &mut |rng, p| {
                let names = ["ee", "emu", "mumu", "tautau"];
                let avail = (2 + p).min(names.len());
                let k = 80 + 3 * p;
                let mut cats: Vec<&str> = (0..k)
                    .map(|_| names[rng.below(avail as u64) as usize])
                    .collect();
                if p == 0 {
                    cats[0] = "ee";
                    cats[1] = "emu";
                }
                Fill {
                    args: vec![json!(cats), json!(floats(rng, k, -5.0, 110.0))],
                    weight: Some(floats(rng, k, 0.5, 1.5)),
                    sample: None,
                }
            },
        );
        add(
            ds,
            "njets_profile",
            json!({"axes": [{"type": "integer", "start": 0, "stop": 8, "name": "njets"}],
                   "storage": "mean"}),
            &mut |rng, p| {
                let k = 60 + 2 * p;
                Fill {
                    args: vec![json!((0..k)
                        .map(|_| rng.below(10) as i64 - 1)
                        .collect::<Vec<_>>())],
                    weight: None,
                    sample: Some(floats(rng, k, 10.0, 90.0)),
                }
            },
        );
        add(
            ds,
            "xy",
            json!({"axes": [{"type": "regular", "bins": 10, "start": 0.0, "stop": 1.0, "name": "x"},
                            {"type": "regular", "bins": 12, "start": 0.0, "stop": 1.0, "name": "y"}],
                   "storage": "int64"}),
            &mut |rng, p| {
                let k = 300 + p;
                Fill {
                    args: vec![
                        json!(floats(rng, k, 0.0, 1.0)),
                        json!(floats(rng, k, -0.1, 1.1)),
                    ],
                    weight: None,
                    sample: None,
                }
            },
        );
        add(
            ds,
            "nlep",
            json!({"axes": [{"type": "int_category", "categories": [1, 2, 3], "name": "nlep"}],
                   "storage": "double"}),
            &mut |rng, _| {
                let k = 40;
                Fill {
                    args: vec![json!((0..k)
                        .map(|_| rng.below(5) as i64)
                        .collect::<Vec<_>>())],
                    weight: Some(floats(rng, k, 0.0, 1.0)),
                    sample: None,
                }
            },
        );
        if ds == "DY" {
            add(
                ds,
                "trigger",
                json!({"axes": [{"type": "boolean", "name": "trigger"}],
                       "storage": "weighted_mean"}),
                &mut |rng, _| {
                    let k = 30;
                    Fill {
                        args: vec![json!((0..k).map(|_| rng.below(2) == 1).collect::<Vec<_>>())],
                        weight: Some(floats(rng, k, 0.5, 2.0)),
                        sample: Some(floats(rng, k, 0.0, 5.0)),
                    }
                },
            );
        }
    }
    out
}

/// The accumulator of partial `p`: every case's fill `p`, and two counters per dataset.
pub fn partial_acc(cases: &[HistCase], p: usize) -> Accumulator {
    let mut acc = Accumulator::new();
    for c in cases {
        apply(&mut acc, c, &c.fills[p]);
    }
    for ds in ["DY", "TT"] {
        acc.count(ds, "nevents", Counter::Int(1000 + p as i64))
            .unwrap();
        acc.count(ds, "sumw", Counter::Float(0.1 * (p as f64 + 1.0)))
            .unwrap();
    }
    acc
}

/// Writes the `n` partials of `cases` into `dir` (`p-000.partial`, ...), partial `p`
/// covering entries [1000 p, 1000 (p + 1)) of one file per dataset.
pub fn write_cases(dir: &Path, cases: &[HistCase], n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|p| {
            let path = dir.join(format!("p-{p:03}.partial"));
            let chunks = ["DY", "TT"]
                .iter()
                .map(|ds| {
                    chunk(
                        ds,
                        &format!("{ds}.root"),
                        1000 * p as u64,
                        1000 * (p as u64 + 1),
                    )
                })
                .collect();
            write_partial(&path, chunks, &partial_acc(cases, p));
            path
        })
        .collect()
}

/// A small accumulator of dataset DY: one 1D Weight histogram filled with `k` float-weighted
/// entries.
pub fn simple_acc(seed: u64, k: usize) -> Accumulator {
    simple_acc_in("DY", seed, k)
}

/// The same for `dataset` (a partial's counts are those of its chunks' datasets).
pub fn simple_acc_in(dataset: &str, seed: u64, k: usize) -> Accumulator {
    let mut rng = Rng::new(seed);
    let spec: HistSpec = serde_json::from_value(json!({
        "axes": [{"type": "regular", "bins": 30, "start": 0.0, "stop": 1.0, "name": "x"}],
        "storage": "weight"}))
    .unwrap();
    let mut acc = Accumulator::new();
    let xs: Vec<f64> = (0..k).map(|_| rng.uniform()).collect();
    let ws: Vec<f64> = (0..k).map(|_| 0.5 + rng.uniform()).collect();
    acc.hist_mut(dataset, "x", &spec)
        .unwrap()
        .fill(&[FillArg::F64(&xs)], Some(Weights::Each(&ws)), None)
        .unwrap();
    acc
}

/// The payload of a partial (the accumulator's JSON).
pub fn payload(path: &Path) -> Vec<u8> {
    partial::read(path).unwrap().1
}

/// The accumulator JSON `text` as partial format 1.0 wrote it: every packed `values` a list of
/// numbers (non-finite ones as "nan", "inf", "-inf"), no `second`, and every bin's remainders
/// (`second` and packed `rest`) in a list of `[bin, [parts]]`.
pub fn unpacked_1_0(text: &[u8]) -> Vec<u8> {
    fn num(x: f64) -> Value {
        if x.is_nan() {
            json!("nan")
        } else if x.is_infinite() {
            json!(if x > 0.0 { "inf" } else { "-inf" })
        } else {
            json!(x)
        }
    }
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(sums)) = m.get_mut("sums") {
                    for s in sums {
                        let mut values = Vec::new();
                        casa_hist::packed::decode_doubles_into(
                            s["values"].as_str().unwrap().as_bytes(),
                            &mut values,
                        )
                        .unwrap();
                        let mut rest =
                            casa_hist::packed::decode_rest(s["rest"].as_str().unwrap().as_bytes())
                                .unwrap();
                        // 1.0 had no `second`: its doubles were remainders like the others.
                        let mut second = Vec::new();
                        if let Some(t) = s.as_object_mut().unwrap().remove("second") {
                            casa_hist::packed::decode_doubles_into(
                                t.as_str().unwrap().as_bytes(),
                                &mut second,
                            )
                            .unwrap();
                        }
                        for (i, x) in second.into_iter().enumerate() {
                            if x != 0.0 {
                                match rest.iter_mut().find(|(b, _)| *b == i) {
                                    Some((_, parts)) => parts.push(x),
                                    None => rest.push((i, vec![x])),
                                }
                            }
                        }
                        rest.sort_by_key(|(b, _)| *b);
                        s["values"] = values.into_iter().map(num).collect();
                        s["rest"] = rest
                            .into_iter()
                            .map(|(b, p)| json!([b, p.into_iter().map(num).collect::<Vec<_>>()]))
                            .collect();
                    }
                }
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_slice(text).unwrap();
    walk(&mut v);
    serde_json::to_vec(&v).unwrap()
}
