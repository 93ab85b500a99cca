//! Damaged files and hostile inputs give errors, never panics: every correction of the test
//! files gets random values of every type (right and wrong), and mutated copies of the files
//! are opened and evaluated the same way.

use casa_correction::{Column, CorrectionSet, Value, VarType};

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const REALS: [f64; 12] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    2.5,
    1e300,
    -1e300,
    5e-324,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    37.5,
];
const INTS: [i64; 8] = [0, 1, -1, 4, 5, i64::MAX, i64::MIN, 2018];
const STRS: [&str; 6] = ["", "nom", "central", "sf", "up", "\u{0}\u{ffff}"];

fn random_value(rng: &mut Rng, ty: Option<VarType>) -> Value<'static> {
    let ty = ty.unwrap_or(match rng.below(3) {
        0 => VarType::Real,
        1 => VarType::Int,
        _ => VarType::Str,
    });
    match ty {
        VarType::Real if rng.below(2) == 0 => Value::Real(REALS[rng.below(REALS.len())]),
        VarType::Real => Value::Real((rng.next() as i64) as f64 / 1e15),
        VarType::Int => Value::Int(INTS[rng.below(INTS.len())]),
        VarType::Str => Value::Str(STRS[rng.below(STRS.len())]),
    }
}

fn exercise(set: &CorrectionSet, rng: &mut Rng, rounds: usize) {
    let names: Vec<String> = set.names().map(str::to_string).collect();
    let compound: Vec<String> = set.compound_names().map(str::to_string).collect();
    let corrections = names
        .iter()
        .map(|n| set.get(n).unwrap())
        .chain(compound.iter().map(|n| set.compound(n).unwrap()));
    for corr in corrections {
        for _ in 0..rounds {
            // Mostly the declared types, sometimes anything, sometimes the wrong count.
            let n = if rng.below(10) == 0 {
                rng.below(7)
            } else {
                corr.inputs().len()
            };
            let vals: Vec<Value<'_>> = (0..n)
                .map(|k| {
                    let declared = corr.inputs().get(k).map(|v| v.ty());
                    let ty = if rng.below(8) == 0 { None } else { declared };
                    random_value(rng, ty)
                })
                .collect();
            let _ = corr.evaluate(&vals);
            let cols: Vec<Column<'_>> = vals.iter().map(|v| Column::Const(*v)).collect();
            let mut out = [0.0; 3];
            let _ = corr.evaluate_batch(&cols, &mut out);
        }
    }
}

fn files() -> Vec<std::path::PathBuf> {
    let dir = casa_test_support::workspace().join("tests/data/corrections");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".json"))
        .collect();
    v.sort();
    v
}

#[test]
fn random_inputs_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for f in files() {
        let set = CorrectionSet::open(&f).unwrap_or_else(|e| panic!("{e}"));
        exercise(&set, &mut rng, 50);
    }
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let dir = casa_test_support::workspace().join("tests/data/corrections");
    let texts = [
        std::fs::read(dir.join("casa_synthetic.json")).unwrap(),
        std::fs::read(dir.join("agc_corrections.json")).unwrap(),
    ];
    let mut opened = 0;
    for round in 0..3000 {
        let mut t = texts[round % 2].clone();
        for _ in 0..1 + rng.below(4) {
            if t.is_empty() {
                break;
            }
            let i = rng.below(t.len());
            match rng.below(4) {
                0 => {
                    t.remove(i);
                }
                1 => t.insert(i, b"{}[],:\"0-.e9xa "[rng.below(15)]),
                2 => t[i] = b"{}[],:\"0-.e9xa "[rng.below(15)],
                _ => {
                    // Swap a digit for another, or truncate.
                    if t[i].is_ascii_digit() {
                        t[i] = b'0' + rng.below(10) as u8;
                    } else {
                        t.truncate(i);
                    }
                }
            }
        }
        let text = String::from_utf8_lossy(&t);
        if let Ok(set) = CorrectionSet::from_json(&text) {
            opened += 1;
            exercise(&set, &mut rng, 5);
        }
    }
    // Many mutations land in strings or numbers and still make a valid file.
    assert!(opened > 100, "only {opened} damaged files opened");
    // A truncated gzip stream is an I/O error naming the file.
    let gz = std::fs::read(dir.join("lum_puweights.json.gz")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.json.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let err = CorrectionSet::open(&cut).unwrap_err().to_string();
    assert!(err.contains("cut.json.gz"), "{err}");
}
