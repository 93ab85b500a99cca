//! A batch of events as the plugin sees it: named columns over the host's arrays (no copies),
//! typed access, jagged views, and "candidates" (pt, eta, phi, mass, charge) for building
//! four-vectors, like coffea's `PtEtaPhiMCandidate`.

use std::ffi::CStr;

use crate::abi::{self, casa_batch};
use crate::vec4::PtEtaPhiM;
use crate::Result;

/// The element type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
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
}

impl Dtype {
    fn from_abi(d: i32) -> Option<Dtype> {
        Some(match d {
            abi::CASA_BOOL => Dtype::Bool,
            abi::CASA_I8 => Dtype::I8,
            abi::CASA_U8 => Dtype::U8,
            abi::CASA_I16 => Dtype::I16,
            abi::CASA_U16 => Dtype::U16,
            abi::CASA_I32 => Dtype::I32,
            abi::CASA_U32 => Dtype::U32,
            abi::CASA_I64 => Dtype::I64,
            abi::CASA_U64 => Dtype::U64,
            abi::CASA_F32 => Dtype::F32,
            abi::CASA_F64 => Dtype::F64,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Dtype::Bool | Dtype::I8 | Dtype::U8 => 1,
            Dtype::I16 | Dtype::U16 => 2,
            Dtype::I32 | Dtype::U32 | Dtype::F32 => 4,
            Dtype::I64 | Dtype::U64 | Dtype::F64 => 8,
        }
    }
}

/// Raw bytes of one column, typed on access.
#[derive(Clone, Copy)]
pub struct Column<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub inner: usize,
    bytes: &'a [u8],
    offsets: Option<&'a [u64]>,
}

/// Values that can be viewed in place from a column.
pub trait Native: Copy {
    const DTYPE: Dtype;
    fn view(bytes: &[u8]) -> &[Self];
}

macro_rules! native {
    ($($t:ty => $d:ident),*) => {$(
        impl Native for $t {
            const DTYPE: Dtype = Dtype::$d;
            #[allow(unsafe_code)] // the host aligned and sized the buffer for this type
            fn view(bytes: &[u8]) -> &[Self] {
                let n = bytes.len() / std::mem::size_of::<$t>();
                if n == 0 {
                    return &[];
                }
                assert_eq!(bytes.as_ptr() as usize % std::mem::align_of::<$t>(), 0, "misaligned column");
                unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const $t, n) }
            }
        }
    )*};
}
native!(i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32, i64 => I64, u64 => U64, f32 => F32, f64 => F64);

impl<'a> Column<'a> {
    /// The values as `T`; an error if the column holds another type.
    pub fn values<T: Native>(&self) -> Result<&'a [T]> {
        if self.dtype != T::DTYPE && !(self.dtype == Dtype::Bool && T::DTYPE == Dtype::U8) {
            return Err(format!(
                "column '{}' holds {:?}, not {:?}",
                self.name,
                self.dtype,
                T::DTYPE
            )
            .into());
        }
        Ok(T::view(self.bytes))
    }

    /// Booleans (stored as bytes 0/1).
    pub fn bools(&self) -> Result<&'a [u8]> {
        if self.dtype != Dtype::Bool {
            return Err(format!("column '{}' holds {:?}, not Bool", self.name, self.dtype).into());
        }
        Ok(self.bytes)
    }

    /// Offsets of a jagged column (`n_entries + 1` of them), or `None` for a flat one.
    pub fn offsets(&self) -> Option<&'a [u64]> {
        self.offsets
    }

    /// A jagged view of `T` values, one value per item. Columns whose items are fixed arrays
    /// (`x[n][3]`: `inner` > 1) are refused: read `offsets()` (which count items) and `values()`.
    pub fn jagged<T: Native>(&self) -> Result<Jagged<'a, T>> {
        let offsets = self
            .offsets
            .ok_or_else(|| format!("column '{}' is not jagged", self.name))?;
        if self.inner != 1 {
            return Err(format!(
                "column '{}' has {} values per item: Jagged rows would cut them; use offsets() and values()",
                self.name, self.inner
            )
            .into());
        }
        Ok(Jagged {
            offsets,
            values: self.values()?,
        })
    }
}

/// A jagged array: entry `i` holds `values[offsets[i]..offsets[i+1]]`.
#[derive(Clone, Copy)]
pub struct Jagged<'a, T> {
    pub offsets: &'a [u64],
    pub values: &'a [T],
}

impl<'a, T> Jagged<'a, T> {
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.values[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
    pub fn count(&self, i: usize) -> usize {
        (self.offsets[i + 1] - self.offsets[i]) as usize
    }
}

/// One batch of events.
pub struct Events<'a> {
    pub dataset: &'a str,
    pub file: &'a str,
    pub tree: &'a str,
    pub file_uuid: &'a str,
    /// The dataset's fileset metadata as JSON text (parse with [`Events::metadata`]).
    pub metadata_json: &'a str,
    pub entry_start: u64,
    pub entry_stop: u64,
    n: usize,
    columns: Vec<Column<'a>>,
}

#[allow(unsafe_code)] // reading the host's C strings and arrays, valid for the call
unsafe fn cstr<'a>(p: *const std::ffi::c_char) -> &'a str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

impl<'a> Events<'a> {
    /// Wrap the host's batch.
    ///
    /// # Safety
    /// Every pointer in `batch` must be valid for the lifetime `'a`, as the host guarantees
    /// during a `process` call.
    #[allow(unsafe_code)]
    pub unsafe fn from_raw(batch: &'a casa_batch, expected: &[&str]) -> Result<Events<'a>> {
        let n = batch.n_entries as usize;
        let raw = if batch.n_columns == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(batch.columns, batch.n_columns as usize)
        };
        let mut columns = Vec::with_capacity(raw.len());
        for c in raw {
            let name = cstr(c.name);
            let dtype = Dtype::from_abi(c.dtype)
                .ok_or_else(|| format!("column '{name}' has unknown dtype {}", c.dtype))?;
            let len = c.n_values as usize * dtype.size();
            let bytes = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(c.values as *const u8, len)
            };
            let offsets = if c.offsets.is_null() {
                None
            } else {
                Some(std::slice::from_raw_parts(c.offsets, n + 1))
            };
            columns.push(Column {
                name,
                dtype,
                inner: c.inner.max(1) as usize,
                bytes,
                offsets,
            });
        }
        for want in expected {
            if !columns.iter().any(|c| c.name == *want) {
                return Err(format!("the host did not pass column '{want}'").into());
            }
        }
        Ok(Events {
            dataset: cstr(batch.dataset),
            file: cstr(batch.file),
            tree: cstr(batch.tree),
            file_uuid: cstr(batch.file_uuid),
            metadata_json: cstr(batch.metadata_json),
            entry_start: batch.entry_start,
            entry_stop: batch.entry_stop,
            n,
            columns,
        })
    }

    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The dataset's fileset metadata (`null` when there is none).
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::from_str(self.metadata_json).unwrap_or(serde_json::Value::Null)
    }

    /// A column by branch name.
    pub fn column(&self, name: &str) -> Result<Column<'a>> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .copied()
            .ok_or_else(|| format!("no column '{name}' in this batch (list it in COLUMNS)").into())
    }

    /// A jagged column of `T`.
    pub fn jagged<T: Native>(&self, name: &str) -> Result<Jagged<'a, T>> {
        self.column(name)?.jagged()
    }

    /// A flat column of `T`.
    pub fn flat<T: Native>(&self, name: &str) -> Result<&'a [T]> {
        self.column(name)?.values()
    }

    /// Candidates of a collection: `{prefix}_pt`, `_eta`, `_phi`, `_mass` (float) and
    /// `_charge` (int), which must share their counts.
    pub fn candidates(&self, prefix: &str) -> Result<Candidates<'a>> {
        let f = |field: &str| self.jagged::<f32>(&format!("{prefix}_{field}"));
        let (pt, eta, phi, mass) = (f("pt")?, f("eta")?, f("phi")?, f("mass")?);
        let charge = self.jagged::<i32>(&format!("{prefix}_charge"))?;
        for (name, o) in [
            ("eta", eta.offsets),
            ("phi", phi.offsets),
            ("mass", mass.offsets),
            ("charge", charge.offsets),
        ] {
            if o != pt.offsets {
                return Err(
                    format!("{prefix}_{name} and {prefix}_pt have different counts").into(),
                );
            }
        }
        Ok(Candidates {
            offsets: pt.offsets,
            pt: pt.values,
            eta: eta.values,
            phi: phi.values,
            mass: mass.values,
            charge: charge.values,
        })
    }
}

/// A collection of candidates with pt, eta, phi, mass and charge.
#[derive(Clone, Copy)]
pub struct Candidates<'a> {
    pub offsets: &'a [u64],
    pub pt: &'a [f32],
    pub eta: &'a [f32],
    pub phi: &'a [f32],
    pub mass: &'a [f32],
    pub charge: &'a [i32],
}

/// One candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub pt: f32,
    pub eta: f32,
    pub phi: f32,
    pub mass: f32,
    pub charge: i32,
}

impl Candidate {
    /// The four-vector, in f64.
    pub fn p4(&self) -> crate::LorentzVector {
        PtEtaPhiM::new(
            self.pt as f64,
            self.eta as f64,
            self.phi as f64,
            self.mass as f64,
        )
        .to_cartesian()
    }
}

impl<'a> Candidates<'a> {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The candidates of event `i`.
    pub fn event(&self, i: usize) -> EventCandidates<'a> {
        EventCandidates {
            c: *self,
            start: self.offsets[i] as usize,
            stop: self.offsets[i + 1] as usize,
        }
    }
}

/// The candidates of one event.
#[derive(Clone, Copy)]
pub struct EventCandidates<'a> {
    c: Candidates<'a>,
    start: usize,
    stop: usize,
}

impl EventCandidates<'_> {
    pub fn len(&self) -> usize {
        self.stop - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.stop
    }
    pub fn get(&self, j: usize) -> Candidate {
        let k = self.start + j;
        assert!(k < self.stop, "candidate {j} of {}", self.len());
        Candidate {
            pt: self.c.pt[k],
            eta: self.c.eta[k],
            phi: self.c.phi[k],
            mass: self.c.mass[k],
            charge: self.c.charge[k],
        }
    }
    pub fn iter(&self) -> impl Iterator<Item = Candidate> + '_ {
        (0..self.len()).map(|j| self.get(j))
    }
    /// Sum of the charges.
    pub fn charge_sum(&self) -> i64 {
        self.c.charge[self.start..self.stop]
            .iter()
            .map(|&q| q as i64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jagged_rows_are_refused_when_items_are_arrays() {
        let values = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_ne_bytes()).collect();
        let offsets = [0u64, 1, 2];
        let col = |inner| Column {
            name: "x",
            dtype: Dtype::F32,
            inner,
            bytes: &bytes,
            offsets: Some(&offsets),
        };
        // Two entries of one item of three values each: a row of one value would be wrong.
        let e = col(3).jagged::<f32>().err().unwrap().to_string();
        assert!(e.contains("3 values per item"), "{e}");
        let j = col(1).jagged::<f32>().unwrap();
        assert_eq!(j.row(1), &[2.0]);
    }
}
