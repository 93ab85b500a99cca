//! A batch of events as the plugin sees it: named columns over the host's arrays (no copies),
//! typed access, jagged views, and "candidates" (pt, eta, phi, mass, charge) for building
//! four-vectors, like coffea's `PtEtaPhiMCandidate`.

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::CStr;
use std::rc::Rc;

use serde::de::DeserializeOwned;

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

/// A number type columns can be read as: the element trait of every typed accessor, exported
/// so analyses can write helpers generic over it (`fn count_above<T: Element>(..)`).
///
/// Reading a column as its own type borrows the host's buffer; reading it as another type
/// converts every value as Rust's `as` does (integers wrap or widen, floats truncate toward
/// zero and saturate, `bool` is `x != 0`).
///
/// ```
/// use casa_plugin::Element;
/// fn sum_f64<T: Element>(v: &[T]) -> f64 { v.iter().map(|x| x.to_f64()).sum() }
/// assert_eq!(sum_f64(&[1u8, 2, 3]), 6.0);
/// assert_eq!(u8::from_f64(3.9), 3);
/// assert!(bool::from_i64(2));
/// ```
pub trait Element: Copy + PartialOrd + Default + Send + Sync + std::fmt::Debug + 'static {
    /// The column type read without conversion.
    const DTYPE: Dtype;
    #[doc(hidden)]
    fn view(bytes: &[u8]) -> &[Self];
    /// `x as Self` (`x != 0` for `bool`).
    fn from_i64(x: i64) -> Self;
    /// `x as Self` (`x != 0` for `bool`).
    fn from_u64(x: u64) -> Self;
    /// `x as Self` (`x != 0.0` for `bool`).
    fn from_f64(x: f64) -> Self;
    /// `self as f64` (0 or 1 for `bool`).
    fn to_f64(self) -> f64;
}

#[allow(unsafe_code)] // the host aligned and sized the buffer for this type
fn view_as<T>(bytes: &[u8]) -> &[T] {
    let n = bytes.len() / std::mem::size_of::<T>();
    if n == 0 {
        return &[];
    }
    assert_eq!(
        bytes.as_ptr() as usize % std::mem::align_of::<T>(),
        0,
        "misaligned column"
    );
    unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, n) }
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => {$(
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$d;
            fn view(bytes: &[u8]) -> &[Self] { view_as(bytes) }
            #[inline(always)]
            fn from_i64(x: i64) -> Self { x as $t }
            #[inline(always)]
            fn from_u64(x: u64) -> Self { x as $t }
            #[inline(always)]
            fn from_f64(x: f64) -> Self { x as $t }
            #[inline(always)]
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
element!(i8 => I8, u8 => U8, i16 => I16, u16 => U16, i32 => I32, u32 => U32, i64 => I64, u64 => U64, f32 => F32, f64 => F64);

impl Element for bool {
    const DTYPE: Dtype = Dtype::Bool;
    // Bool columns are checked to hold only 0 and 1 when the batch is wrapped.
    fn view(bytes: &[u8]) -> &[Self] {
        view_as(bytes)
    }
    #[inline(always)]
    fn from_i64(x: i64) -> Self {
        x != 0
    }
    #[inline(always)]
    fn from_u64(x: u64) -> Self {
        x != 0
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x != 0.0
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
}

/// Every value of `bytes` (holding `dtype`) as `T`. One path per source kind keeps `as`
/// semantics: widening a signed (unsigned) integer to i64 (u64) keeps its low bits, and
/// f32 -> f64 is exact.
fn convert<T: Element>(dtype: Dtype, bytes: &[u8]) -> Vec<T> {
    macro_rules! conv {
        ($s:ty, $f:ident, $w:ty) => {
            view_as::<$s>(bytes).iter().map(|&x| T::$f(x as $w)).collect()
        };
    }
    match dtype {
        Dtype::Bool | Dtype::U8 => conv!(u8, from_u64, u64),
        Dtype::U16 => conv!(u16, from_u64, u64),
        Dtype::U32 => conv!(u32, from_u64, u64),
        Dtype::U64 => conv!(u64, from_u64, u64),
        Dtype::I8 => conv!(i8, from_i64, i64),
        Dtype::I16 => conv!(i16, from_i64, i64),
        Dtype::I32 => conv!(i32, from_i64, i64),
        Dtype::I64 => conv!(i64, from_i64, i64),
        Dtype::F32 => conv!(f32, from_f64, f64),
        Dtype::F64 => conv!(f64, from_f64, f64),
    }
}

impl<'a> Column<'a> {
    /// The values as `T` without a copy; an error if the column holds another type (a
    /// `Bool` column also reads as `u8`). [`Column::values_as`] converts instead.
    pub fn values<T: Element>(&self) -> Result<&'a [T]> {
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

    /// The values as `T`: borrowed when the column holds `T`, converted (as [`Element`]
    /// says) when it holds another number type. NanoAOD changes branch types between versions
    /// (`Jet_jetId` is int32 in v9, uint8 later): `values_as::<u8>()` reads both.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(3).flat("Jet_jetId_v9", &[2i32, 6, 0]).flat("x", &[1.5f32, 2.0, 3.0]);
    /// let ev = b.events();
    /// let id = ev.column("Jet_jetId_v9").unwrap().values_as::<u8>().unwrap();
    /// assert_eq!(&id[..], &[2, 6, 0]);
    /// let x = ev.column("x").unwrap().values_as::<f32>().unwrap();
    /// assert!(matches!(x, std::borrow::Cow::Borrowed(_))); // same type: no copy
    /// ```
    pub fn values_as<T: Element>(&self) -> Result<Cow<'a, [T]>> {
        if self.dtype == T::DTYPE {
            return Ok(Cow::Borrowed(T::view(self.bytes)));
        }
        Ok(Cow::Owned(convert(self.dtype, self.bytes)))
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
    pub fn jagged<T: Element>(&self) -> Result<Jagged<'a, T>> {
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

/// Parsed dataset metadata, kept across the batches of a chunk (and of every chunk of the same
/// dataset): parsing happens when the metadata text changes, once per type asked for.
#[derive(Default)]
pub(crate) struct MetaCache {
    text: RefCell<String>,
    parsed: RefCell<Vec<(TypeId, Rc<dyn Any>)>>,
}

impl MetaCache {
    fn get<T: DeserializeOwned + 'static>(&self, json: &str, dataset: &str) -> Result<Rc<T>> {
        if *self.text.borrow() != json {
            self.parsed.borrow_mut().clear();
            json.clone_into(&mut self.text.borrow_mut());
        }
        let id = TypeId::of::<T>();
        if let Some((_, v)) = self.parsed.borrow().iter().find(|(t, _)| *t == id) {
            return Ok(v.clone().downcast::<T>().expect("keyed by TypeId"));
        }
        let text = if json.is_empty() { "null" } else { json };
        let v: Rc<T> = Rc::new(serde_json::from_str(text).map_err(|e| {
            format!(
                "metadata of dataset '{dataset}' does not fit {}: {e} (metadata: {text})",
                std::any::type_name::<T>()
            )
        })?);
        self.parsed.borrow_mut().push((id, v.clone()));
        Ok(v)
    }
}

enum CacheRef<'a> {
    Shared(&'a MetaCache),
    Own(MetaCache),
}

impl CacheRef<'_> {
    fn get(&self) -> &MetaCache {
        match self {
            CacheRef::Shared(c) => c,
            CacheRef::Own(c) => c,
        }
    }
}

/// One batch of events: consecutive entries `entry_start..entry_stop` of one file.
pub struct Events<'a> {
    pub dataset: &'a str,
    pub file: &'a str,
    pub tree: &'a str,
    /// The file's ROOT UUID: with the entry number, it names an event for good (the key of
    /// [`Events::rng`]).
    pub file_uuid: &'a str,
    /// The dataset's fileset metadata as JSON text (typed: [`Events::meta`]).
    pub metadata_json: &'a str,
    pub entry_start: u64,
    pub entry_stop: u64,
    n: usize,
    columns: Vec<Column<'a>>,
    cache: CacheRef<'a>,
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
        Events::wrap(batch, expected, None)
    }

    /// Wrap a batch whose pointers live for `'a` (the `casa_batch` itself may not).
    #[allow(unsafe_code)]
    pub(crate) unsafe fn wrap<S: AsRef<str>>(
        batch: &casa_batch,
        expected: &[S],
        cache: Option<&'a MetaCache>,
    ) -> Result<Events<'a>> {
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
            let bytes: &'a [u8] = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(c.values as *const u8, len)
            };
            // Viewing these bytes as `bool` needs every one to be 0 or 1.
            if dtype == Dtype::Bool && bytes.iter().any(|&b| b > 1) {
                return Err(format!("bool column '{name}' holds a byte other than 0 or 1").into());
            }
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
            let want = want.as_ref();
            if !columns.iter().any(|c| c.name == want) {
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
            cache: cache.map_or_else(|| CacheRef::Own(MetaCache::default()), CacheRef::Shared),
        })
    }

    /// Number of events in the batch.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The file's entry number of event `i` of this batch (`entry_start + i`).
    pub fn entry(&self, i: usize) -> u64 {
        self.entry_start + i as u64
    }

    /// The dataset's fileset metadata as a JSON value (`null` when there is none). Parses the
    /// text at every call: prefer [`Events::meta`].
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::from_str(self.metadata_json).unwrap_or(serde_json::Value::Null)
    }

    /// The dataset's fileset metadata as your own type, parsed once and then shared by every
    /// batch with the same metadata. An error names the dataset and the field that does not fit.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// #[derive(serde::Deserialize)]
    /// struct Meta { process: String, xsec: f64, nevts: u64, #[serde(default)] is_mc: bool }
    ///
    /// let b = TestBatch::new(0)
    ///     .metadata(r#"{"process": "ttbar", "xsec": 729.84, "nevts": 1000, "is_mc": true}"#);
    /// let ev = b.events();
    /// let m = ev.meta::<Meta>().unwrap();
    /// assert_eq!(m.process, "ttbar");
    /// assert!(m.is_mc && m.nevts == 1000);
    /// let w = m.xsec * 3378.0 / m.nevts as f64;
    /// assert!(w > 0.0);
    /// ```
    pub fn meta<T: DeserializeOwned + 'static>(&self) -> Result<Rc<T>> {
        self.cache.get().get(self.metadata_json, self.dataset)
    }

    /// A column by branch name; an error if the batch does not have it.
    pub fn column(&self, name: &str) -> Result<Column<'a>> {
        self.get(name).ok_or_else(|| {
            format!("no column '{name}' in this batch (list it in COLUMNS)").into()
        })
    }

    /// A column by branch name, or `None`: an optional column the file lacks.
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2).flat("nJet", &[1u32, 0]);
    /// let ev = b.events();
    /// assert!(ev.get("nJet").is_some());
    /// assert!(ev.get("genWeight").is_none()); // data: no generator weight
    /// ```
    pub fn get(&self, name: &str) -> Option<Column<'a>> {
        self.columns.iter().find(|c| c.name == name).copied()
    }

    /// Whether the batch has a column (an optional column may be absent).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The values of a column as `T`, converting when it holds another number type (see
    /// [`Column::values_as`]).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let b = TestBatch::new(2).flat("run", &[1u32, 2]);
    /// let ev = b.events();
    /// assert_eq!(&ev.values_as::<i64>("run").unwrap()[..], &[1, 2]);
    /// ```
    pub fn values_as<T: Element>(&self, name: &str) -> Result<Cow<'a, [T]>> {
        self.column(name)?.values_as()
    }

    /// An optional column's values as `T`, `None` when the file lacks it (MC-only branches
    /// such as `genWeight` in data).
    ///
    /// ```
    /// # use casa_plugin::testing::TestBatch;
    /// let mc = TestBatch::new(2).flat("genWeight", &[0.5f32, 2.0]);
    /// let data = TestBatch::new(2);
    /// let weights = |b: &TestBatch| -> Vec<f64> {
    ///     let ev = b.events();
    ///     match ev.optional::<f64>("genWeight").unwrap() {
    ///         Some(w) => w.into_owned(),
    ///         None => vec![1.0; ev.len()],
    ///     }
    /// };
    /// assert_eq!(weights(&mc), [0.5, 2.0]);
    /// assert_eq!(weights(&data), [1.0, 1.0]);
    /// ```
    pub fn optional<T: Element>(&self, name: &str) -> Result<Option<Cow<'a, [T]>>> {
        self.get(name).map(|c| c.values_as()).transpose()
    }

    /// A jagged column of `T`, without conversion.
    pub fn jagged<T: Element>(&self, name: &str) -> Result<Jagged<'a, T>> {
        self.column(name)?.jagged()
    }

    /// A flat column of `T`, without conversion.
    pub fn flat<T: Element>(&self, name: &str) -> Result<&'a [T]> {
        self.column(name)?.values()
    }

    /// Every column of the batch.
    pub fn columns(&self) -> &[Column<'a>] {
        &self.columns
    }

    /// Candidates of a collection: `{prefix}_pt`, `_eta`, `_phi`, `_mass` (float) and
    /// `_charge` (int), which must share their counts. For collections without a charge, or
    /// with more fields, use [`Events::collection`].
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
