//! Deterministic test data and the bridge to the Python reference (`tests/reference.py`).

#![allow(dead_code)] // Each test binary uses a different part.

use std::io::Write;
use std::process::Stdio;

use casa_hist::{parse_json_lenient, FillArg};
use serde_json::{json, Value};

/// SplitMix64: a small deterministic generator, so every run sees the same data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.next_u64() % xs.len() as u64) as usize]
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// The double after `x`.
pub fn next_up(x: f64) -> f64 {
    if x == 0.0 {
        return f64::from_bits(1);
    }
    f64::from_bits(if x > 0.0 {
        x.to_bits() + 1
    } else {
        x.to_bits() - 1
    })
}

pub fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

/// A number for the JSON sent to Python (non-finite ones as strings Python's float() reads).
pub fn fj(x: f64) -> Value {
    if x.is_nan() {
        json!("NaN")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(x)
    }
}

/// A number from the JSON Python sends back (NaN etc. arrive as strings, null as None).
pub fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        _ => None,
    }
}

pub fn nums(v: &Value) -> Option<Vec<Option<f64>>> {
    v.as_array().map(|a| a.iter().map(num).collect())
}

/// Same double, NaN equal to NaN (but 0.0 and -0.0 told apart).
pub fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// One fill column: an array, or one value broadcast to every entry.
#[derive(Clone, Debug)]
pub enum Col {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
    OneF64(f64),
    OneI64(i64),
    OneStr(String),
}

impl Col {
    pub fn json(&self) -> Value {
        match self {
            Col::F64(v) => {
                json!({"kind": "f64", "values": v.iter().map(|&x| fj(x)).collect::<Vec<_>>()})
            }
            Col::F32(v) => {
                json!({"kind": "f32", "values": v.iter().map(|&x| fj(f64::from(x))).collect::<Vec<_>>()})
            }
            Col::I64(v) => json!({"kind": "i64", "values": v}),
            Col::Bool(v) => json!({"kind": "bool", "values": v}),
            Col::Str(v) => json!({"kind": "str", "values": v}),
            Col::OneF64(x) => json!({"kind": "f64", "one": fj(*x)}),
            Col::OneI64(x) => json!({"kind": "i64", "one": x}),
            Col::OneStr(x) => json!({"kind": "str", "one": x}),
        }
    }
}

/// Holds borrowed views of a column for one fill call over `r`.
pub struct ColView<'a> {
    strs: Vec<&'a str>,
    col: &'a Col,
    r: std::ops::Range<usize>,
}

impl<'a> ColView<'a> {
    pub fn new(col: &'a Col, r: std::ops::Range<usize>) -> ColView<'a> {
        let strs = match col {
            Col::Str(v) => v[r.clone()].iter().map(|s| s.as_str()).collect(),
            _ => Vec::new(),
        };
        ColView { strs, col, r }
    }

    pub fn arg(&self) -> FillArg<'_> {
        let r = self.r.clone();
        match self.col {
            Col::F64(v) => FillArg::F64(&v[r]),
            Col::F32(v) => FillArg::F32(&v[r]),
            Col::I64(v) => FillArg::I64(&v[r]),
            Col::Bool(v) => FillArg::Bool(&v[r]),
            Col::Str(_) => FillArg::Str(&self.strs),
            Col::OneF64(x) => FillArg::OneF64(*x),
            Col::OneI64(x) => FillArg::OneI64(*x),
            Col::OneStr(x) => FillArg::OneStr(x),
        }
    }
}

/// Runs `tests/reference.py` on `input` and returns its answer.
pub fn run_reference(input: &Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference.py");
    let mut child = casa_test_support::python_command()
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the reference Python (run ci/setup)");
    let text = input.to_string();
    let mut stdin = child.stdin.take().expect("stdin");
    // Write from another thread: the answer may fill the pipe before we finish writing.
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().expect("reference Python ran");
    writer
        .join()
        .expect("writer thread")
        .expect("write to Python");
    assert!(
        out.status.success(),
        "tests/reference.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json_lenient(std::str::from_utf8(&out.stdout).expect("UTF-8")).expect("Python's JSON")
}
