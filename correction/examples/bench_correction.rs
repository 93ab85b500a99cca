//! casa's side of `correction/bench/bench_correction.sh`: evaluates the inputs the Python side
//! wrote (as raw little-endian arrays) with `evaluate_batch` and with one `evaluate` call per
//! row, checks the outputs equal correctionlib's bit for bit, and prints a table of
//! evaluations per on-CPU second with correctionlib's timing from the manifest.
//!
//! Usage: bench_correction MANIFEST.json [REPEATS]

use casa_correction::{Column, CorrectionSet, Value};

fn read_f64(path: &str) -> Vec<f64> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    raw.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn read_i64(path: &str) -> Vec<i64> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    raw.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Time this thread has run on a CPU, as Python's `time.thread_time()` on the other side
/// (the machine may be shared: wall time would count the time other processes had the core).
#[allow(unsafe_code)] // one clock_gettime call into a local struct
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

enum Owned {
    F(Vec<f64>),
    I(Vec<i64>),
    S(String),
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            args.get(1)
                .expect("usage: bench_correction MANIFEST [REPEATS]"),
        )
        .expect("read the manifest"),
    )
    .expect("manifest is JSON");
    let repeats: usize = args
        .get(2)
        .map_or(5, |r| r.parse().expect("REPEATS is a number"));

    println!(
        "| correction | evaluations | correctionlib evaluate (numpy) | casa evaluate_batch | ratio | casa evaluate per row | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for case in manifest.as_array().expect("a list of cases") {
        let set =
            CorrectionSet::open(case["file"].as_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
        let name = case["correction"].as_str().unwrap();
        let corr = if case["compound"].as_bool().unwrap() {
            set.compound(name)
        } else {
            set.get(name)
        }
        .unwrap_or_else(|e| panic!("{e}"));
        let n = case["n"].as_u64().unwrap() as usize;
        let owned: Vec<Owned> = case["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                if let Some(p) = c["f64"].as_str() {
                    Owned::F(read_f64(p))
                } else if let Some(p) = c["i64"].as_str() {
                    Owned::I(read_i64(p))
                } else {
                    Owned::S(c["const_str"].as_str().unwrap().to_string())
                }
            })
            .collect();
        let columns: Vec<Column<'_>> = owned
            .iter()
            .map(|o| match o {
                Owned::F(v) => Column::F64(v),
                Owned::I(v) => Column::I64(v),
                Owned::S(s) => Column::Const(Value::Str(s)),
            })
            .collect();
        let expected = read_f64(case["expected"].as_str().unwrap());

        let mut out = vec![0.0; n];
        let mut best_batch = f64::INFINITY;
        for _ in 0..repeats {
            let t0 = cpu_seconds();
            corr.evaluate_batch(&columns, &mut out)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            best_batch = best_batch.min(cpu_seconds() - t0);
        }
        let same = out
            .iter()
            .zip(&expected)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same && out.len() == expected.len(),
            "{name}: casa's outputs differ from correctionlib's"
        );

        let mut best_row = f64::INFINITY;
        let mut row = vec![Value::Real(0.0); columns.len()];
        for _ in 0..repeats {
            let t0 = cpu_seconds();
            for (i, o) in out.iter_mut().enumerate() {
                for (v, c) in row.iter_mut().zip(&owned) {
                    *v = match c {
                        Owned::F(x) => Value::Real(x[i]),
                        Owned::I(x) => Value::Int(x[i]),
                        Owned::S(s) => Value::Str(s),
                    };
                }
                *o = corr
                    .evaluate(&row)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            best_row = best_row.min(cpu_seconds() - t0);
        }

        let py = case["correctionlib_seconds"].as_f64().unwrap();
        let rate = |s: f64| n as f64 / s / 1e6;
        println!(
            "| {} | {n} | {:.2} M/s | {:.2} M/s | {:.1}x | {:.2} M/s | {:.1}x |",
            case["label"].as_str().unwrap(),
            rate(py),
            rate(best_batch),
            py / best_batch,
            rate(best_row),
            py / best_row,
        );
    }
}
