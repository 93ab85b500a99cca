//! The types a column can have: primitives (with the Float16_t/Double32_t packings) and
//! layouts. Format-neutral: a TTree decides them from its leaves (`tree`), and another format
//! maps its own column types onto the same enums, so the decoders and consumers share them.

use std::fmt;

/// How a Float16_t / Double32_t value is packed on disk (see ROOT's TBufferFile).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Packing {
    /// Stored as a plain 4-byte float.
    AsFloat,
    /// An exponent byte and a 16-bit mantissa keeping `nbits` bits.
    Mantissa { nbits: u32 },
    /// A 4-byte unsigned integer scaled to `[min, max]` with `nbits` bits.
    Range { min: f64, max: f64, nbits: u32 },
}

impl Packing {
    pub fn width(self) -> usize {
        match self {
            Packing::Mantissa { .. } => 3,
            _ => 4,
        }
    }
}

/// Decode one packed Float16_t/Double32_t value (TBufferFile::ReadWithFactor/ReadWithNbits).
pub(crate) fn unpack(p: Packing, c: &[u8]) -> f64 {
    match p {
        Packing::AsFloat => f32::from_be_bytes([c[0], c[1], c[2], c[3]]) as f64,
        Packing::Range { min, max, nbits } => {
            let big = if nbits < 32 {
                (1u64 << nbits) as f64
            } else {
                u32::MAX as f64
            };
            let factor = big / (max - min);
            let a = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            a as f64 / factor + min
        }
        Packing::Mantissa { nbits } => {
            let exp = c[0] as u32;
            let man = u16::from_be_bytes([c[1], c[2]]) as u32;
            let mut bits = exp << 23;
            bits |= (man & ((1 << (nbits + 1)) - 1)) << (23 - nbits);
            let f = f32::from_bits(bits);
            if (1 << (nbits + 1)) & man != 0 {
                -f as f64
            } else {
                f as f64
            }
        }
    }
}

/// The element type of a column, as stored.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Primitive {
    Bool,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
    /// Float16_t: decoded to f32.
    Float16(Packing),
    /// Double32_t: decoded to f64.
    Double32(Packing),
}

impl Primitive {
    /// Bytes per value on disk.
    pub fn width(self) -> usize {
        match self {
            Primitive::Bool | Primitive::I8 | Primitive::U8 => 1,
            Primitive::I16 | Primitive::U16 => 2,
            Primitive::I32 | Primitive::U32 | Primitive::F32 => 4,
            Primitive::I64 | Primitive::U64 | Primitive::F64 => 8,
            Primitive::Float16(p) | Primitive::Double32(p) => p.width(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Primitive::Bool => "bool",
            Primitive::I8 => "int8",
            Primitive::U8 => "uint8",
            Primitive::I16 => "int16",
            Primitive::U16 => "uint16",
            Primitive::I32 => "int32",
            Primitive::U32 => "uint32",
            Primitive::I64 => "int64",
            Primitive::U64 => "uint64",
            Primitive::F32 => "float32",
            Primitive::F64 => "float64",
            Primitive::Float16(_) => "Float16_t",
            Primitive::Double32(_) => "Double32_t",
        }
    }

    /// From ROOT's basic type codes (TStreamerInfo::EReadWrite / TDataType).
    pub(crate) fn from_code(code: i32, packing: impl FnOnce(bool) -> Packing) -> Option<Primitive> {
        Some(match code {
            1 => Primitive::I8,
            2 => Primitive::I16,
            3 | 6 => Primitive::I32,
            4 | 16 => Primitive::I64,
            5 => Primitive::F32,
            8 => Primitive::F64,
            9 => Primitive::Double32(packing(false)),
            11 => Primitive::U8,
            12 => Primitive::U16,
            13 | 15 => Primitive::U32,
            14 | 17 => Primitive::U64,
            18 => Primitive::Bool,
            19 => Primitive::Float16(packing(true)),
            _ => return None,
        })
    }

    pub(crate) fn from_cpp(name: &str) -> Option<Primitive> {
        Some(match name.trim() {
            "bool" | "Bool_t" => Primitive::Bool,
            "char" | "Char_t" | "signed char" | "int8_t" => Primitive::I8,
            "unsigned char" | "UChar_t" | "uint8_t" => Primitive::U8,
            "short" | "Short_t" | "int16_t" => Primitive::I16,
            "unsigned short" | "UShort_t" | "uint16_t" => Primitive::U16,
            "int" | "Int_t" | "int32_t" => Primitive::I32,
            "unsigned int" | "UInt_t" | "uint32_t" => Primitive::U32,
            "long" | "Long_t" | "Long64_t" | "long long" | "int64_t" => Primitive::I64,
            "unsigned long" | "ULong_t" | "ULong64_t" | "unsigned long long" | "uint64_t" => {
                Primitive::U64
            }
            "float" | "Float_t" => Primitive::F32,
            "double" | "Double_t" => Primitive::F64,
            "Double32_t" => Primitive::Double32(Packing::AsFloat),
            _ => return None,
        })
    }
}

/// How entries map to values.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Layout {
    /// `inner` values per entry (1 for a scalar, the product of the dimensions for `x[3][2]`).
    Fixed { inner: usize },
    /// A leaf-count array (`Muon_pt[nMuon]`): the count comes from branch `counter`, each
    /// counted item has `inner` values.
    Counted { counter: usize, inner: usize },
    /// A top-level `std::vector<T>` branch: each entry carries a 10-byte header and its size.
    Vector,
}

/// Everything the decoder needs to know about a branch.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ColumnType {
    pub primitive: Primitive,
    pub layout: Layout,
}

impl ColumnType {
    pub fn is_jagged(&self) -> bool {
        !matches!(self.layout, Layout::Fixed { .. })
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.primitive.name();
        match self.layout {
            Layout::Fixed { inner: 1 } => write!(f, "{p}"),
            Layout::Fixed { inner } => write!(f, "{p}[{inner}]"),
            Layout::Counted { inner: 1, .. } => write!(f, "{p}[]"),
            Layout::Counted { inner, .. } => write!(f, "{p}[][{inner}]"),
            Layout::Vector => write!(f, "std::vector<{p}>"),
        }
    }
}

/// The packing of a Float16_t/Double32_t from a title like `[0, 10, 12]` or `[-pi,pi]`,
/// following TStreamerElement::GetRange.
pub(crate) fn parse_packing(title: &str, is_f16: bool) -> Packing {
    let default = if is_f16 {
        Packing::Mantissa { nbits: 12 }
    } else {
        Packing::AsFloat
    };
    let Some(open) = title.find('[') else {
        return default;
    };
    let Some(close) = title[open..].find(']') else {
        return default;
    };
    let parts: Vec<&str> = title[open + 1..open + close].split(',').collect();
    let nbits = parts
        .get(2)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(|n| if (2..=32).contains(&n) { n as u32 } else { 32 })
        .unwrap_or(32);
    let (Some(min), Some(max)) = (
        parts.first().and_then(|s| expr(s)),
        parts.get(1).and_then(|s| expr(s)),
    ) else {
        return default;
    };
    if min < max {
        Packing::Range { min, max, nbits }
    } else if nbits < 15 {
        Packing::Mantissa { nbits }
    } else if is_f16 {
        Packing::Mantissa { nbits: 12 }
    } else {
        Packing::AsFloat
    }
}

/// A number or a simple expression of `pi` (`pi`, `-pi`, `2*pi`, `pi/2`, `-2*pi/3`).
fn expr(s: &str) -> Option<f64> {
    let s = s.trim().to_ascii_lowercase();
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    if !s.contains("pi") {
        return None;
    }
    let (sign, s) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r.trim()),
        None => (1.0, s.as_str()),
    };
    let (num, den) = match s.split_once('/') {
        Some((a, b)) => (a.trim(), b.trim().parse::<f64>().ok()?),
        None => (s, 1.0),
    };
    let mul = match num.split_once('*') {
        Some((a, "pi")) => a.trim().parse::<f64>().ok()?,
        None if num == "pi" => 1.0,
        _ => return None,
    };
    Some(sign * mul * std::f64::consts::PI / den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_from_titles() {
        assert_eq!(parse_packing("x", false), Packing::AsFloat);
        assert_eq!(parse_packing("x", true), Packing::Mantissa { nbits: 12 });
        assert_eq!(
            parse_packing("x[0,0,10]", false),
            Packing::Mantissa { nbits: 10 }
        );
        let Packing::Range { min, max, nbits } = parse_packing("//[-pi,pi,30]", false) else {
            panic!()
        };
        assert!(
            (min + std::f64::consts::PI).abs() < 1e-15
                && max == std::f64::consts::PI
                && nbits == 30
        );
        assert_eq!(
            parse_packing("[0,100]", false),
            Packing::Range {
                min: 0.0,
                max: 100.0,
                nbits: 32
            }
        );
    }
}
