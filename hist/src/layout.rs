//! The serialised form of a histogram's storage, which is the payload layout of a partial
//! result (`{"datasets": {ds: {name: {"Hist": {"spec", "storage": StorageLayout}} |
//! {"Counter": ...}}}, "float_rest": ...}`). Its serde derives write and read it; the fast
//! reader of [`crate::payload`] fills the same types, so the layout is defined here only.

use casa_histspec::StorageKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::packed;

/// A non-finite double as JSON text: "nan", "inf", "-inf" as casa-hist writes them, and
/// "NaN", "Infinity", "-Infinity" as Python writes them.
pub(crate) fn special_float(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" | "-NaN" | "-nan" => Some(f64::NAN),
        "Infinity" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn yes() -> bool {
    true
}

/// How a storage is serialised: every exact sum in canonical form, so equal histograms give
/// equal bytes. `ints` are the bins of an Int64 storage; `sums` one exact sum per bin for
/// each of the storage's sums (Σw, Σw², ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageLayout {
    pub kind: StorageKind,
    #[serde(default)]
    pub ints: Vec<i64>,
    #[serde(default)]
    pub sums: Vec<SumsLayout>,
    #[serde(default = "yes")]
    pub variance_known: bool,
}

/// One exact sum per bin: `values[i] + second[i] + Σ rest parts of bin i`. Written packed
/// (format 1.1, see [`crate::packed`]) with `second` the largest remainder of each bin (empty
/// when every bin is one double) and `rest` the others; the 1.0 form, `values` a list of
/// numbers, no `second` and `rest` a list of `[bin, [parts]]`, is read too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SumsLayout {
    pub values: Doubles,
    #[serde(default)]
    pub second: Doubles,
    #[serde(default)]
    pub rest: Rest,
}

/// The correctly rounded value of every bin, or the second double of every bin.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(try_from = "Form<Wire>")]
pub struct Doubles(pub Vec<f64>);

/// The bins whose exact sum needs more than one double, with their remainders.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(try_from = "Form<(usize, Vec<f64>)>")]
pub struct Rest(pub Vec<(usize, Vec<f64>)>);

/// A list as a serialised storage holds it: packed (format 1.1) or listed (1.0).
#[derive(Deserialize)]
#[serde(untagged)]
enum Form<T> {
    Packed(String),
    Listed(Vec<T>),
}

impl TryFrom<Form<Wire>> for Doubles {
    type Error = packed::PackedError;
    fn try_from(f: Form<Wire>) -> Result<Doubles, Self::Error> {
        match f {
            Form::Packed(text) => {
                let mut out = Vec::new();
                packed::decode_doubles_into(text.as_bytes(), &mut out)?;
                Ok(Doubles(out))
            }
            Form::Listed(v) => Ok(Doubles(v.into_iter().map(|w| w.0).collect())),
        }
    }
}

impl TryFrom<Form<(usize, Vec<f64>)>> for Rest {
    type Error = packed::PackedError;
    fn try_from(f: Form<(usize, Vec<f64>)>) -> Result<Rest, Self::Error> {
        match f {
            Form::Packed(text) => packed::decode_rest(text.as_bytes()).map(Rest),
            Form::Listed(v) => Ok(Rest(v)),
        }
    }
}

impl Serialize for Doubles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&packed::encode_doubles(&self.0))
    }
}

impl Serialize for Rest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&packed::encode_rest(&self.0))
    }
}

/// A double that survives JSON: non-finite values are written as "nan", "inf", "-inf" in
/// human-readable formats (serde_json would write null).
pub(crate) struct Wire(pub(crate) f64);

impl Serialize for Wire {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.is_finite() || !s.is_human_readable() {
            s.serialize_f64(x)
        } else if x.is_nan() {
            s.serialize_str("nan")
        } else if x > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

impl<'de> Deserialize<'de> for Wire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Wire, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Wire;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number, or \"nan\", \"inf\", \"-inf\"")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Wire, E> {
                Ok(Wire(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Wire, E> {
                Ok(Wire(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Wire, E> {
                Ok(Wire(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Wire, E> {
                special_float(v)
                    .map(Wire)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        if d.is_human_readable() {
            d.deserialize_any(V)
        } else {
            d.deserialize_f64(V)
        }
    }
}
