//! What a columnar read produces and plans, whatever the format: native column values with
//! offsets for jagged ones ([`Batch`]), the storage units a read needs and their byte ranges
//! ([`ReadPlan`]), and counters ([`ReadMetrics`]). A TTree fills them from baskets; another
//! format (RNTuple pages) fills the same types, so the consumers never see the format.

use std::sync::Arc;

use crate::source::ByteRange;
use crate::types::{unpack, ColumnType, Primitive};

/// The values of one column, in native types.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Bool(Vec<bool>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    I16(Vec<i16>),
    U16(Vec<u16>),
    I32(Vec<i32>),
    U32(Vec<u32>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::I8(v) => v.len(),
            Values::U8(v) => v.len(),
            Values::I16(v) => v.len(),
            Values::U16(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::U64(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` as f64 (for printing and generic code; exact for all but 64-bit integers
    /// beyond 2^53).
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            Values::Bool(v) => v[i] as u8 as f64,
            Values::I8(v) => v[i] as f64,
            Values::U8(v) => v[i] as f64,
            Values::I16(v) => v[i] as f64,
            Values::U16(v) => v[i] as f64,
            Values::I32(v) => v[i] as f64,
            Values::U32(v) => v[i] as f64,
            Values::I64(v) => v[i] as f64,
            Values::U64(v) => v[i] as f64,
            Values::F32(v) => v[i] as f64,
            Values::F64(v) => v[i],
        }
    }

    /// A copy of values `[a, z)`.
    pub fn slice(&self, a: usize, z: usize) -> Values {
        match self {
            Values::Bool(v) => Values::Bool(v[a..z].to_vec()),
            Values::I8(v) => Values::I8(v[a..z].to_vec()),
            Values::U8(v) => Values::U8(v[a..z].to_vec()),
            Values::I16(v) => Values::I16(v[a..z].to_vec()),
            Values::U16(v) => Values::U16(v[a..z].to_vec()),
            Values::I32(v) => Values::I32(v[a..z].to_vec()),
            Values::U32(v) => Values::U32(v[a..z].to_vec()),
            Values::I64(v) => Values::I64(v[a..z].to_vec()),
            Values::U64(v) => Values::U64(v[a..z].to_vec()),
            Values::F32(v) => Values::F32(v[a..z].to_vec()),
            Values::F64(v) => Values::F64(v[a..z].to_vec()),
        }
    }

    /// Append values of the same type.
    pub(crate) fn append(&mut self, other: &Values) {
        match (self, other) {
            (Values::Bool(v), Values::Bool(o)) => v.extend_from_slice(o),
            (Values::I8(v), Values::I8(o)) => v.extend_from_slice(o),
            (Values::U8(v), Values::U8(o)) => v.extend_from_slice(o),
            (Values::I16(v), Values::I16(o)) => v.extend_from_slice(o),
            (Values::U16(v), Values::U16(o)) => v.extend_from_slice(o),
            (Values::I32(v), Values::I32(o)) => v.extend_from_slice(o),
            (Values::U32(v), Values::U32(o)) => v.extend_from_slice(o),
            (Values::I64(v), Values::I64(o)) => v.extend_from_slice(o),
            (Values::U64(v), Values::U64(o)) => v.extend_from_slice(o),
            (Values::F32(v), Values::F32(o)) => v.extend_from_slice(o),
            (Values::F64(v), Values::F64(o)) => v.extend_from_slice(o),
            _ => unreachable!("pieces of one column share its type"),
        }
    }

    pub(crate) fn empty_for(p: Primitive, cap: usize) -> Values {
        match p {
            Primitive::Bool => Values::Bool(Vec::with_capacity(cap)),
            Primitive::I8 => Values::I8(Vec::with_capacity(cap)),
            Primitive::U8 => Values::U8(Vec::with_capacity(cap)),
            Primitive::I16 => Values::I16(Vec::with_capacity(cap)),
            Primitive::U16 => Values::U16(Vec::with_capacity(cap)),
            Primitive::I32 => Values::I32(Vec::with_capacity(cap)),
            Primitive::U32 => Values::U32(Vec::with_capacity(cap)),
            Primitive::I64 => Values::I64(Vec::with_capacity(cap)),
            Primitive::U64 => Values::U64(Vec::with_capacity(cap)),
            Primitive::F32 | Primitive::Float16(_) => Values::F32(Vec::with_capacity(cap)),
            Primitive::F64 | Primitive::Double32(_) => Values::F64(Vec::with_capacity(cap)),
        }
    }

    /// Append the big-endian values in `bytes` (a whole number of values of `p`).
    pub(crate) fn extend_be(&mut self, p: Primitive, bytes: &[u8]) {
        match (self, p) {
            (Values::Bool(v), _) => v.extend(bytes.iter().map(|&b| b != 0)),
            (Values::I8(v), _) => v.extend(bytes.iter().map(|&b| b as i8)),
            (Values::U8(v), _) => v.extend_from_slice(bytes),
            (Values::I16(v), _) => be(v, bytes),
            (Values::U16(v), _) => be(v, bytes),
            (Values::I32(v), _) => be(v, bytes),
            (Values::U32(v), _) => be(v, bytes),
            (Values::I64(v), _) => be(v, bytes),
            (Values::U64(v), _) => be(v, bytes),
            (Values::F32(v), Primitive::Float16(pk)) => {
                v.extend(bytes.chunks_exact(pk.width()).map(|c| unpack(pk, c) as f32))
            }
            (Values::F32(v), _) => be(v, bytes),
            (Values::F64(v), Primitive::Double32(pk)) => {
                v.extend(bytes.chunks_exact(pk.width()).map(|c| unpack(pk, c)))
            }
            (Values::F64(v), _) => be(v, bytes),
        }
    }
}

/// Native numbers from big-endian bytes. A trait (not a function pointer) so the conversion
/// loop is monomorphised, inlined and vectorised.
trait FromBe: Sized {
    const N: usize;
    fn from_be(b: &[u8]) -> Self;
}

macro_rules! from_be {
    ($($t:ty),*) => {$(
        impl FromBe for $t {
            const N: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn from_be(b: &[u8]) -> Self {
                <$t>::from_be_bytes(b.try_into().expect("chunks_exact gives N bytes"))
            }
        }
    )*};
}
from_be!(i16, u16, i32, u32, i64, u64, f32, f64);

#[inline]
fn be<T: FromBe>(out: &mut Vec<T>, bytes: &[u8]) {
    out.extend(bytes.chunks_exact(T::N).map(T::from_be));
}

/// One column of a batch. For jagged columns `offsets` has one more element than there are
/// entries and indexes items; each item holds `inner` consecutive values.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ctype: ColumnType,
    pub values: Values,
    pub offsets: Option<Arc<Vec<u64>>>,
    pub inner: usize,
}

/// The columns read for entries `[start, stop)`.
#[derive(Debug, Clone)]
pub struct Batch {
    pub start: u64,
    pub stop: u64,
    pub columns: Vec<Column>,
}

impl Batch {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn entries(&self) -> u64 {
        self.stop - self.start
    }
}

/// One basket a read needs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedBasket {
    pub branch: usize,
    pub basket: usize,
    pub first_entry: u64,
    pub stop_entry: u64,
    /// Where the basket lives in the file; `None` for a basket embedded in the TTree object.
    pub range: Option<ByteRange>,
}

/// What to fetch for a set of branches and an entry range. `ranges()` gives the byte ranges,
/// sorted, for an I/O layer to coalesce into vector reads.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadPlan {
    pub start: u64,
    pub stop: u64,
    pub baskets: Vec<PlannedBasket>,
    /// The columns asked for (format-specific index, type), in request order.
    #[serde(skip)]
    pub(crate) columns: Vec<(usize, ColumnType)>,
    /// The names the columns were asked by (a bare name or a full path), which the batch's
    /// columns carry back.
    #[serde(skip)]
    pub(crate) names: Vec<String>,
    /// The entry window each column (or what decoding it needs, like a jagged column's
    /// counter) is read over: (index, first, stop).
    #[serde(skip)]
    pub(crate) windows: Vec<(usize, u64, u64)>,
}

impl ReadPlan {
    pub fn ranges(&self) -> Vec<ByteRange> {
        let mut r: Vec<ByteRange> = self.baskets.iter().filter_map(|b| b.range).collect();
        r.sort();
        r
    }

    pub fn bytes(&self) -> u64 {
        self.baskets
            .iter()
            .filter_map(|b| b.range.map(|r| r.len as u64))
            .sum()
    }
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct ReadMetrics {
    pub baskets: u64,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
}
