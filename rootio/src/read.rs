//! Reading columns: plan which baskets an entry range needs, fetch them through the byte
//! source, decompress them in parallel and convert big-endian slices to native arrays in bulk.
//!
//! Jagged leaf-count branches (`Muon_pt[nMuon]`) are cut with the counter branch, not with the
//! per-basket entry-offset table: the table is missing in some files (kGenerateOffsetMap) and
//! the counter is read anyway. The total is cross-checked against the basket size.

use std::sync::Arc;

use rayon::prelude::*;

use crate::compress;
use crate::error::{Error, Result};
use crate::source::ByteRange;
use crate::tree::Tree;
use crate::types::{unpack, ColumnType, Layout, Primitive};

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
    fn append(&mut self, other: &Values) {
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

    fn empty_for(p: Primitive, cap: usize) -> Values {
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
    fn extend_be(&mut self, p: Primitive, bytes: &[u8]) {
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

/// Counter values as counts; a negative or fractional value gives its index and value.
fn counts_of(v: &Values) -> Result<Vec<u64>, (usize, f64)> {
    fn ints<T: Copy + TryInto<u64> + Into<f64>>(v: &[T]) -> Result<Vec<u64>, (usize, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, &x)| x.try_into().map_err(|_| (i, x.into())))
            .collect()
    }
    match v {
        Values::U8(v) => Ok(v.iter().map(|&x| x as u64).collect()),
        Values::U16(v) => Ok(v.iter().map(|&x| x as u64).collect()),
        Values::U32(v) => Ok(v.iter().map(|&x| x as u64).collect()),
        Values::U64(v) => Ok(v.clone()),
        Values::I8(v) => ints(v),
        Values::I16(v) => ints(v),
        Values::I32(v) => ints(v),
        Values::I64(v) => v
            .iter()
            .enumerate()
            .map(|(i, &x)| u64::try_from(x).map_err(|_| (i, x as f64)))
            .collect(),
        // A counter that is not an integer column: refused at its first value (an empty
        // window has no count to refuse).
        other if other.is_empty() => Ok(Vec::new()),
        other => Err((0, other.get_f64(0))),
    }
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
    #[serde(skip)]
    columns: Vec<(usize, ColumnType)>,
    #[serde(skip)]
    windows: Vec<(usize, u64, u64)>,
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

/// A decompressed basket: its data region and entry range.
struct Decoded<'a> {
    branch: usize,
    basket: usize,
    first: u64,
    stop: u64,
    offset: u64,
    data: &'a [u8],
}

thread_local! {
    /// Decompression buffer reused for every basket a thread decodes: fresh multi-megabyte
    /// allocations would cost more in page faults than the decoding itself.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Join the pieces of one column; a single piece is moved, not copied.
fn concat(p: Primitive, mut pieces: Vec<Piece>) -> Values {
    if pieces.len() == 1 {
        return pieces.pop().expect("one piece").values;
    }
    let total = pieces.iter().map(|x| x.values.len()).sum();
    let mut out = Values::empty_for(p, total);
    for x in &pieces {
        out.append(&x.values);
    }
    out
}

/// A counter branch decoded over its window: values, and cumulative counts (`cum[i]` items
/// before window entry `i`).
struct Counts {
    branch: usize,
    from: u64,
    values: Values,
    cum: Vec<u64>,
}

/// The values one basket contributes to a column (and, for std::vector branches, the
/// per-entry sizes).
struct Piece {
    branch: usize,
    values: Values,
    counts: Vec<u64>,
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct ReadMetrics {
    pub baskets: u64,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
}

impl Tree {
    /// Plan the baskets needed to read `branches` for entries `[start, stop)`.
    pub fn plan(&self, branches: &[&str], start: u64, stop: u64) -> Result<ReadPlan> {
        if start > stop || stop > self.entries {
            return Err(Error::Range {
                file: self.file_name().to_string(),
                tree: self.path.clone(),
                start,
                stop,
                entries: self.entries,
            });
        }
        let mut columns = Vec::with_capacity(branches.len());
        for name in branches {
            let b = self.branch_index(name)?;
            columns.push((b, self.column_type(b)?));
        }
        // Each branch is read over a window of entries: the requested range, widened for
        // counters to cover whole baskets of the jagged branches they count.
        let mut windows: Vec<(usize, u64, u64)> = Vec::new();
        let mut widen = |b: usize, lo: u64, hi: u64| match windows.iter_mut().find(|w| w.0 == b) {
            Some(w) => {
                w.1 = w.1.min(lo);
                w.2 = w.2.max(hi);
            }
            None => windows.push((b, lo, hi)),
        };
        for &(b, t) in &columns {
            widen(b, start, stop);
            if let Layout::Counted { counter, .. } = t.layout {
                if start < stop {
                    let (lo, hi) = self.basket_span(b, start, stop);
                    widen(counter, lo, hi);
                } else {
                    widen(counter, start, stop);
                }
            }
        }
        let mut baskets = Vec::new();
        for &(b, lo, hi) in &windows {
            if lo >= hi {
                continue;
            }
            let br = &self.branches[b];
            if hi > br.entries {
                return Err(self.basket_error(
                    b,
                    0,
                    0,
                    format!(
                        "branch has {} entries, fewer than the {hi} the read needs",
                        br.entries
                    ),
                ));
            }
            // Baskets must tile the window without gaps or overlaps; anything else is a
            // corrupt basket table and would give wrong numbers.
            let mut covered = lo;
            for (i, (first, last)) in self.basket_ranges(b).into_iter().enumerate() {
                if last <= lo || first >= hi || first == last {
                    continue;
                }
                if first > last || first > covered || (first < covered && covered != lo) {
                    return Err(self.basket_error(b, i, 0, format!(
                        "basket entry table is not increasing (basket covers {first}:{last}, expected a start at {covered})"
                    )));
                }
                covered = last;
                let range = if i < br.write_basket {
                    let seek = br.basket_seek[i];
                    let len = br.basket_bytes[i];
                    if seek <= 0 || len <= 0 {
                        return Err(self.basket_error(
                            b,
                            i,
                            seek.max(0) as u64,
                            format!("basket has no location (seek {seek}, {len} bytes)"),
                        ));
                    }
                    Some(ByteRange {
                        offset: seek as u64,
                        len: len as usize,
                    })
                } else {
                    None
                };
                baskets.push(PlannedBasket {
                    branch: b,
                    basket: i,
                    first_entry: first,
                    stop_entry: last,
                    range,
                });
            }
            if covered < hi {
                return Err(self.basket_error(
                    b,
                    0,
                    0,
                    format!("baskets cover entries only up to {covered}, not {hi}"),
                ));
            }
        }
        Ok(ReadPlan {
            start,
            stop,
            baskets,
            columns,
            windows,
        })
    }

    /// Entry span of the baskets of branch `b` that overlap `[start, stop)`.
    fn basket_span(&self, b: usize, start: u64, stop: u64) -> (u64, u64) {
        let mut lo = start;
        let mut hi = stop;
        for (first, last) in self.basket_ranges(b) {
            if last > start && first < stop {
                lo = lo.min(first);
                hi = hi.max(last);
            }
        }
        (lo, hi.min(self.entries))
    }

    fn basket_error(&self, b: usize, basket: usize, offset: u64, what: String) -> Error {
        Error::Basket {
            file: self.file_name().to_string(),
            tree: self.path.clone(),
            branch: self.branches[b].name.clone(),
            basket,
            offset,
            what,
        }
    }

    /// Read `branches` for entries `[start, stop)`.
    pub fn read(&self, branches: &[&str], start: u64, stop: u64) -> Result<Batch> {
        let plan = self.plan(branches, start, stop)?;
        let raw = self.fetch(&plan)?;
        self.decode(&plan, raw).map(|(b, _)| b)
    }

    /// Fetch the compressed baskets of a plan through the byte source.
    pub fn fetch(&self, plan: &ReadPlan) -> Result<Vec<Option<Vec<u8>>>> {
        let ranges: Vec<ByteRange> = plan.baskets.iter().filter_map(|b| b.range).collect();
        let mut fetched = self
            .source
            .read_ranges(&ranges)
            .map_err(|e| Error::Io {
                file: self.file_name().to_string(),
                offset: ranges.first().map_or(0, |r| r.offset),
                len: ranges.iter().map(|r| r.len).sum(),
                source: e,
            })?
            .into_iter();
        Ok(plan
            .baskets
            .iter()
            .map(|b| b.range.and_then(|_| fetched.next()))
            .collect())
    }

    /// Decompress and decode fetched baskets (one `Option<Vec<u8>>` per planned basket, `None`
    /// for embedded ones). Counter baskets go first (jagged columns are cut with them); then
    /// every other basket is decompressed and decoded in one parallel step, so each basket's
    /// bytes are converted while they are still in cache and freed right after.
    pub fn decode(
        &self,
        plan: &ReadPlan,
        raw: Vec<Option<Vec<u8>>>,
    ) -> Result<(Batch, ReadMetrics)> {
        let mut counters: Vec<usize> = Vec::new();
        for &(_, t) in &plan.columns {
            if let Layout::Counted { counter, .. } = t.layout {
                if !counters.contains(&counter) {
                    counters.push(counter);
                }
            }
        }
        let (counter_jobs, data_jobs): (Vec<_>, Vec<_>) = plan
            .baskets
            .iter()
            .zip(raw)
            .partition(|(pb, _)| counters.contains(&pb.branch));
        // Counters are small: keep their decoded bytes while the columns are cut.
        let counter_data: Vec<(&PlannedBasket, Vec<u8>)> = counter_jobs
            .into_par_iter()
            .map(|(pb, bytes)| {
                let data = self.with_basket(pb, bytes, &mut Vec::new(), |d| Ok(d.data.to_vec()))?;
                Ok((pb, data))
            })
            .collect::<Result<_>>()?;
        let counter_baskets: Vec<Decoded<'_>> = counter_data
            .iter()
            .map(|(pb, data)| Decoded {
                branch: pb.branch,
                basket: pb.basket,
                first: pb.first_entry,
                stop: pb.stop_entry,
                offset: pb.range.map_or(0, |r| r.offset),
                data,
            })
            .collect();
        let mut uncompressed: u64 = counter_baskets.iter().map(|d| d.data.len() as u64).sum();
        let mut counts = Vec::with_capacity(counters.len());
        for &c in &counters {
            let (_, lo, hi) = *plan.windows.iter().find(|w| w.0 == c).expect("planned");
            let values = self.decode_fixed(c, self.column_type(c)?, &counter_baskets, lo, hi)?;
            let n = counts_of(&values).map_err(|(i, x)| {
                self.basket_error(
                    c,
                    0,
                    0,
                    format!(
                        "counter value {x} at entry {} is not a count",
                        lo + i as u64
                    ),
                )
            })?;
            let mut cum = Vec::with_capacity(n.len() + 1);
            cum.push(0u64);
            let mut total = 0u64;
            for x in n {
                total = total.saturating_add(x);
                cum.push(total);
            }
            counts.push(Counts {
                branch: c,
                from: lo,
                values,
                cum,
            });
        }
        let types: Vec<(usize, ColumnType)> = plan.columns.clone();
        let pieces: Vec<Piece> = data_jobs
            .into_par_iter()
            .map(|(pb, bytes)| {
                let t = types.iter().find(|c| c.0 == pb.branch).map(|c| c.1);
                let t = t.expect("a planned basket belongs to a column or a counter");
                SCRATCH.with(|scratch| {
                    let mut scratch = scratch.borrow_mut();
                    self.with_basket(pb, bytes, &mut scratch, |d| {
                        let size = d.data.len() as u64;
                        self.decode_piece(d, t, plan.start, plan.stop, &counts)
                            .map(|p| (p, size))
                    })
                })
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .map(|(p, size)| {
                uncompressed += size;
                p
            })
            .collect();
        let metrics = ReadMetrics {
            baskets: plan.baskets.len() as u64,
            compressed_bytes: plan.bytes(),
            uncompressed_bytes: uncompressed,
        };
        // Pieces arrive in plan order (branch by branch, baskets ascending): group them.
        let mut by_branch: Vec<(usize, Vec<Piece>)> = Vec::new();
        for p in pieces {
            match by_branch.last_mut() {
                Some((b, v)) if *b == p.branch => v.push(p),
                _ => by_branch.push((p.branch, vec![p])),
            }
        }
        // One offsets array per counter, shared by all the columns it counts.
        let shared: Vec<(usize, Arc<Vec<u64>>)> = counts
            .iter()
            .map(|c| {
                let (a, z) = (
                    (plan.start - c.from) as usize,
                    (plan.stop - c.from) as usize,
                );
                let base = c.cum[a];
                (
                    c.branch,
                    Arc::new(c.cum[a..=z].iter().map(|&x| x - base).collect()),
                )
            })
            .collect();
        let mut columns = Vec::with_capacity(plan.columns.len());
        for &(b, t) in &plan.columns {
            let name = self.branches[b].name.clone();
            let mine = by_branch
                .iter_mut()
                .find(|(x, _)| *x == b)
                .map(|(_, v)| std::mem::take(v))
                .unwrap_or_default();
            let vector_counts: Vec<u64> = if t.layout == Layout::Vector {
                mine.iter().flat_map(|p| p.counts.iter().copied()).collect()
            } else {
                Vec::new()
            };
            let mut values = concat(t.primitive, mine);
            let (offsets, inner) = match t.layout {
                Layout::Fixed { inner } => {
                    if let Some(c) = counts.iter().find(|c| c.branch == b) {
                        let (a, z) = (
                            (plan.start - c.from) as usize,
                            (plan.stop - c.from) as usize,
                        );
                        values = c.values.slice(a * inner, z * inner);
                    }
                    (None, inner)
                }
                Layout::Counted { counter, inner } => {
                    let o = shared
                        .iter()
                        .find(|c| c.0 == counter)
                        .expect("decoded above");
                    (Some(o.1.clone()), inner)
                }
                Layout::Vector => {
                    let mut off = Vec::with_capacity(vector_counts.len() + 1);
                    off.push(0u64);
                    for n in vector_counts {
                        off.push(off.last().copied().unwrap_or(0) + n);
                    }
                    (Some(Arc::new(off)), 1)
                }
            };
            let n_entries = (plan.stop - plan.start) as usize;
            let expected = match &offsets {
                Some(o) => {
                    o.len() == n_entries + 1
                        && o.last().copied().unwrap_or(0) as usize * inner == values.len()
                }
                None => values.len() == n_entries * inner,
            };
            if !expected {
                return Err(self.basket_error(
                    b,
                    0,
                    0,
                    format!(
                        "decoded {} values for {n_entries} entries, which does not add up",
                        values.len()
                    ),
                ));
            }
            columns.push(Column {
                name,
                ctype: t,
                values,
                offsets,
                inner,
            });
        }
        Ok((
            Batch {
                start: plan.start,
                stop: plan.stop,
                columns,
            },
            metrics,
        ))
    }

    /// Decompress one basket (into `scratch`) and hand its data region to `f`.
    fn with_basket<T>(
        &self,
        pb: &PlannedBasket,
        bytes: Option<Vec<u8>>,
        scratch: &mut Vec<u8>,
        f: impl FnOnce(&Decoded<'_>) -> Result<T>,
    ) -> Result<T> {
        let b = pb.branch;
        let br = &self.branches[b];
        let Some(bytes) = bytes else {
            let e = br
                .embedded
                .iter()
                .find(|e| e.index == pb.basket)
                .ok_or_else(|| {
                    self.basket_error(
                        b,
                        pb.basket,
                        0,
                        "basket is neither on disk nor embedded".into(),
                    )
                })?;
            return f(&Decoded {
                branch: b,
                basket: pb.basket,
                first: pb.first_entry,
                stop: pb.stop_entry,
                offset: 0,
                data: &e.data,
            });
        };
        let offset = pb.range.map_or(0, |r| r.offset);
        let err = |what: String| self.basket_error(b, pb.basket, offset, what);
        if bytes.len() < 18 {
            return Err(err(format!(
                "only {} bytes, too short for a key",
                bytes.len()
            )));
        }
        let i32_at =
            |p: usize| i32::from_be_bytes([bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]);
        let nbytes = i32_at(0);
        let objlen = i32_at(6);
        let keylen = i16::from_be_bytes([bytes[14], bytes[15]]) as i64;
        if nbytes as i64 != bytes.len() as i64
            || keylen < 37
            || keylen > nbytes as i64
            || objlen < 0
        {
            return Err(err(format!(
                "key header disagrees with the branch (Nbytes {nbytes}, KeyLen {keylen}, ObjLen {objlen}; branch says {} bytes)",
                bytes.len()
            )));
        }
        let keylen = keylen as usize;
        let h = keylen - 19;
        let nev_buf = i32_at(h + 10);
        let last = i32_at(h + 14);
        let want = pb.stop_entry - pb.first_entry;
        if nev_buf < 0 || nev_buf as u64 != want {
            return Err(err(format!(
                "basket holds {nev_buf} entries, the branch says {want}"
            )));
        }
        let border = (last as i64) - keylen as i64;
        if border < 0 || border > objlen as i64 {
            return Err(err(format!(
                "fLast {last} outside the {objlen}-byte object"
            )));
        }
        let payload = &bytes[keylen..];
        crate::file::check_objlen(objlen as usize, payload.len()).map_err(&err)?;
        // Only the data region is decoded; the entry-offset table after it is not needed.
        scratch.clear();
        scratch.resize(border as usize, 0);
        compress::decompress_prefix(payload, objlen as usize, scratch)
            .map_err(|e| err(format!("block at +{}: {}", keylen + e.offset, e.what)))?;
        f(&Decoded {
            branch: b,
            basket: pb.basket,
            first: pb.first_entry,
            stop: pb.stop_entry,
            offset,
            data: scratch,
        })
    }

    fn baskets_of<'d>(
        &self,
        b: usize,
        decoded: &'d [Decoded<'d>],
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = &'d Decoded<'d>> {
        decoded
            .iter()
            .filter(move |d| d.branch == b && d.stop > lo && d.first < hi)
    }

    fn decode_fixed(
        &self,
        b: usize,
        t: ColumnType,
        decoded: &[Decoded],
        lo: u64,
        hi: u64,
    ) -> Result<Values> {
        let Layout::Fixed { inner } = t.layout else {
            unreachable!("fixed layout")
        };
        let w = t.primitive.width() * inner;
        let have: usize = self
            .baskets_of(b, decoded, lo, hi)
            .map(|d| d.data.len())
            .sum();
        let mut out = Values::empty_for(t.primitive, have / w.max(1) * inner);
        for d in self.baskets_of(b, decoded, lo, hi) {
            let n = (d.stop - d.first) as usize;
            if d.data.len() != n * w {
                return Err(self.basket_error(
                    b,
                    d.basket,
                    d.offset,
                    format!(
                        "{} bytes of data for {n} entries of {w} bytes",
                        d.data.len()
                    ),
                ));
            }
            let a = (lo.max(d.first) - d.first) as usize;
            let z = (hi.min(d.stop) - d.first) as usize;
            out.extend_be(t.primitive, &d.data[a * w..z * w]);
        }
        Ok(out)
    }

    /// Decode the entries of one basket that fall in `[lo, hi)`.
    fn decode_piece(
        &self,
        d: &Decoded<'_>,
        t: ColumnType,
        lo: u64,
        hi: u64,
        counts: &[Counts],
    ) -> Result<Piece> {
        let b = d.branch;
        let err = |what: String| self.basket_error(b, d.basket, d.offset, what);
        let (a, z) = (lo.max(d.first), hi.min(d.stop));
        let (a, z) = (a.min(z), z);
        let n = (d.stop - d.first) as usize;
        let (ra, rz) = ((a - d.first) as usize, (z - d.first) as usize);
        let mut counts_out = Vec::new();
        let values = match t.layout {
            Layout::Fixed { inner } => {
                let w = t.primitive.width() * inner;
                if d.data.len() != n * w {
                    return Err(err(format!(
                        "{} bytes of data for {n} entries of {w} bytes",
                        d.data.len()
                    )));
                }
                let mut v = Values::empty_for(t.primitive, (rz - ra) * inner);
                v.extend_be(t.primitive, &d.data[ra * w..rz * w]);
                v
            }
            Layout::Counted { counter, inner } => {
                let w = t.primitive.width() * inner;
                let c = counts
                    .iter()
                    .find(|c| c.branch == counter)
                    .expect("counters decoded first");
                let at = |e: u64| {
                    e.checked_sub(c.from)
                        .and_then(|i| c.cum.get(i as usize).copied())
                        .ok_or_else(|| err("the counter does not cover this basket".into()))
                };
                let (b0, b1) = (at(d.first)?, at(d.stop)?);
                if (b1 - b0).saturating_mul(w as u64) != d.data.len() as u64 {
                    return Err(err(format!(
                        "counter says {} items ({} bytes) but the basket holds {} bytes",
                        b1 - b0,
                        (b1 - b0).saturating_mul(w as u64),
                        d.data.len()
                    )));
                }
                let (i0, i1) = ((at(a)? - b0) as usize, (at(z)? - b0) as usize);
                let mut v = Values::empty_for(t.primitive, (i1 - i0) * inner);
                v.extend_be(t.primitive, &d.data[i0 * w..i1 * w]);
                v
            }
            Layout::Vector => {
                let w = t.primitive.width();
                let data = d.data;
                let mut v = Values::empty_for(t.primitive, 0);
                let mut p = 0usize;
                for e in d.first..z {
                    let bad = |what: String| err(format!("entry {e}: {what}"));
                    let Some(h) = data.get(p..p + 10) else {
                        return Err(bad("vector header runs past the basket".into()));
                    };
                    let bc = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
                    let k = u32::from_be_bytes([h[6], h[7], h[8], h[9]]) as usize;
                    if bc & 0x4000_0000 == 0 || (bc & !0x4000_0000) as usize != 6 + k * w {
                        return Err(bad(format!(
                            "byte count {bc:#x} does not match {k} elements"
                        )));
                    }
                    let Some(body) = data.get(p + 10..p + 10 + k * w) else {
                        return Err(bad(format!("{k} elements run past the basket")));
                    };
                    if e >= a {
                        v.extend_be(t.primitive, body);
                        counts_out.push(k as u64);
                    }
                    p += 10 + k * w;
                }
                v
            }
        };
        Ok(Piece {
            branch: b,
            values,
            counts: counts_out,
        })
    }

    /// Cut `[start, stop)` into batches of about `target` entries at the common basket
    /// boundaries of `branches` (so no basket is decompressed twice).
    pub fn batches(
        &self,
        branches: &[&str],
        start: u64,
        stop: u64,
        target: u64,
    ) -> Result<Vec<(u64, u64)>> {
        let mut idx = Vec::new();
        for name in branches {
            let b = self.branch_index(name)?;
            idx.push(b);
            if let Layout::Counted { counter, .. } = self.column_type(b)?.layout {
                idx.push(counter);
            }
        }
        let bounds = self.common_entry_offsets(&idx);
        let mut out = Vec::new();
        let mut lo = start;
        for &x in &bounds {
            if x <= lo || x > stop {
                continue;
            }
            if x - lo >= target.max(1) {
                out.push((lo, x));
                lo = x;
            }
        }
        if lo < stop {
            out.push((lo, stop));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_non_negative_integers_and_an_empty_window_has_none() {
        assert_eq!(counts_of(&Values::I32(vec![2, 0, 3])), Ok(vec![2, 0, 3]));
        assert_eq!(counts_of(&Values::I32(vec![2, -1])), Err((1, -1.0)));
        assert_eq!(counts_of(&Values::F32(vec![1.5])), Err((0, 1.5)));
        // Used to index the first value of an empty float column.
        assert_eq!(counts_of(&Values::F32(vec![])), Ok(vec![]));
    }
}
