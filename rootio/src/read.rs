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
use crate::types::{ColumnType, Layout, Packing, Primitive};

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
        fn be<T, const N: usize>(out: &mut Vec<T>, bytes: &[u8], f: fn([u8; N]) -> T) {
            out.extend(
                bytes
                    .chunks_exact(N)
                    .map(|c| f(c.try_into().expect("chunks_exact gives N bytes"))),
            );
        }
        match (self, p) {
            (Values::Bool(v), _) => v.extend(bytes.iter().map(|&b| b != 0)),
            (Values::I8(v), _) => v.extend(bytes.iter().map(|&b| b as i8)),
            (Values::U8(v), _) => v.extend_from_slice(bytes),
            (Values::I16(v), _) => be(v, bytes, i16::from_be_bytes),
            (Values::U16(v), _) => be(v, bytes, u16::from_be_bytes),
            (Values::I32(v), _) => be(v, bytes, i32::from_be_bytes),
            (Values::U32(v), _) => be(v, bytes, u32::from_be_bytes),
            (Values::I64(v), _) => be(v, bytes, i64::from_be_bytes),
            (Values::U64(v), _) => be(v, bytes, u64::from_be_bytes),
            (Values::F32(v), Primitive::Float16(pk)) => {
                v.extend(bytes.chunks_exact(pk.width()).map(|c| unpack(pk, c) as f32))
            }
            (Values::F32(v), _) => be(v, bytes, f32::from_be_bytes),
            (Values::F64(v), Primitive::Double32(pk)) => {
                v.extend(bytes.chunks_exact(pk.width()).map(|c| unpack(pk, c)))
            }
            (Values::F64(v), _) => be(v, bytes, f64::from_be_bytes),
        }
    }
}

/// Decode one packed Float16_t/Double32_t value (TBufferFile::ReadWithFactor/ReadWithNbits).
fn unpack(p: Packing, c: &[u8]) -> f64 {
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

/// One column of a batch. For jagged columns `offsets` has one more element than there are
/// entries and indexes items; each item holds `inner` consecutive values.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub ctype: ColumnType,
    pub values: Values,
    pub offsets: Option<Vec<u64>>,
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
struct Decoded {
    branch: usize,
    basket: usize,
    first: u64,
    stop: u64,
    offset: u64,
    data: Arc<Vec<u8>>,
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
    /// for embedded ones).
    pub fn decode(
        &self,
        plan: &ReadPlan,
        raw: Vec<Option<Vec<u8>>>,
    ) -> Result<(Batch, ReadMetrics)> {
        let decoded: Vec<Decoded> = plan
            .baskets
            .par_iter()
            .zip(raw.into_par_iter())
            .map(|(pb, bytes)| self.decompress_basket(pb, bytes))
            .collect::<Result<_>>()?;
        let metrics = ReadMetrics {
            baskets: decoded.len() as u64,
            compressed_bytes: plan.bytes(),
            uncompressed_bytes: decoded.iter().map(|d| d.data.len() as u64).sum(),
        };
        // Counters first: jagged columns need them.
        let mut counts: Vec<(usize, u64, Vec<u64>)> = Vec::new();
        for &(_, t) in &plan.columns {
            if let Layout::Counted { counter, .. } = t.layout {
                if counts.iter().any(|c| c.0 == counter) {
                    continue;
                }
                let (_, lo, hi) = *plan
                    .windows
                    .iter()
                    .find(|w| w.0 == counter)
                    .expect("planned");
                let ct = self.column_type(counter)?;
                let col = self.decode_fixed(counter, ct, &decoded, lo, hi)?;
                let mut v = Vec::with_capacity(col.len());
                for i in 0..col.len() {
                    let x = col.get_f64(i);
                    if x < 0.0 || x.fract() != 0.0 {
                        return Err(self.basket_error(
                            counter,
                            0,
                            0,
                            format!(
                                "counter value {x} at entry {} is not a count",
                                lo + i as u64
                            ),
                        ));
                    }
                    v.push(x as u64);
                }
                counts.push((counter, lo, v));
            }
        }
        let columns = plan
            .columns
            .par_iter()
            .map(|&(b, t)| {
                let name = self.branches[b].name.clone();
                let (values, offsets, inner) = match t.layout {
                    Layout::Fixed { inner } => (
                        self.decode_fixed(b, t, &decoded, plan.start, plan.stop)?,
                        None,
                        inner,
                    ),
                    Layout::Counted { counter, inner } => {
                        let c = counts
                            .iter()
                            .find(|c| c.0 == counter)
                            .expect("decoded above");
                        let (v, o) = self.decode_counted(
                            b, t, inner, &decoded, plan.start, plan.stop, c.1, &c.2,
                        )?;
                        (v, Some(o), inner)
                    }
                    Layout::Vector => {
                        let (v, o) = self.decode_vector(b, t, &decoded, plan.start, plan.stop)?;
                        (v, Some(o), 1)
                    }
                };
                Ok(Column {
                    name,
                    ctype: t,
                    values,
                    offsets,
                    inner,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((
            Batch {
                start: plan.start,
                stop: plan.stop,
                columns,
            },
            metrics,
        ))
    }

    fn decompress_basket(&self, pb: &PlannedBasket, bytes: Option<Vec<u8>>) -> Result<Decoded> {
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
            return Ok(Decoded {
                branch: b,
                basket: pb.basket,
                first: pb.first_entry,
                stop: pb.stop_entry,
                offset: 0,
                data: e.data.clone(),
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
        let mut out = crate::file::try_alloc(objlen as usize, payload.len()).map_err(&err)?;
        compress::decompress(payload, &mut out)
            .map_err(|e| err(format!("block at +{}: {}", keylen + e.offset, e.what)))?;
        out.truncate(border as usize);
        Ok(Decoded {
            branch: b,
            basket: pb.basket,
            first: pb.first_entry,
            stop: pb.stop_entry,
            offset,
            data: Arc::new(out),
        })
    }

    fn baskets_of<'d>(
        &self,
        b: usize,
        decoded: &'d [Decoded],
        lo: u64,
        hi: u64,
    ) -> impl Iterator<Item = &'d Decoded> {
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

    #[allow(clippy::too_many_arguments)]
    fn decode_counted(
        &self,
        b: usize,
        t: ColumnType,
        inner: usize,
        decoded: &[Decoded],
        lo: u64,
        hi: u64,
        counts_from: u64,
        counts: &[u64],
    ) -> Result<(Values, Vec<u64>)> {
        let w = t.primitive.width() * inner;
        let mut offsets = Vec::with_capacity(counts.len().min((hi - lo) as usize) + 1);
        offsets.push(0u64);
        let mut values = Values::empty_for(t.primitive, 0);
        for d in self.baskets_of(b, decoded, lo, hi) {
            let (c0, c1) = (
                (d.first - counts_from) as usize,
                (d.stop - counts_from) as usize,
            );
            let Some(bc) = counts.get(c0..c1) else {
                return Err(self.basket_error(
                    b,
                    d.basket,
                    d.offset,
                    "counter does not cover this basket".into(),
                ));
            };
            let total: u64 = bc.iter().sum();
            if total.saturating_mul(w as u64) != d.data.len() as u64 {
                return Err(self.basket_error(
                    b,
                    d.basket,
                    d.offset,
                    format!(
                        "counter says {total} items ({} bytes) but the basket holds {} bytes",
                        total.saturating_mul(w as u64),
                        d.data.len()
                    ),
                ));
            }
            let a = (lo.max(d.first) - d.first) as usize;
            let z = (hi.min(d.stop) - d.first) as usize;
            let skip: u64 = bc[..a].iter().sum();
            let mut end = skip;
            for &n in &bc[a..z] {
                end += n;
                offsets.push(offsets.last().copied().unwrap_or(0) + n);
            }
            values.extend_be(t.primitive, &d.data[skip as usize * w..end as usize * w]);
        }
        Ok((values, offsets))
    }

    fn decode_vector(
        &self,
        b: usize,
        t: ColumnType,
        decoded: &[Decoded],
        lo: u64,
        hi: u64,
    ) -> Result<(Values, Vec<u64>)> {
        let w = t.primitive.width();
        let mut offsets = Vec::with_capacity(
            self.baskets_of(b, decoded, lo, hi)
                .map(|d| (d.stop - d.first) as usize)
                .sum::<usize>()
                + 1,
        );
        offsets.push(0u64);
        let mut values = Values::empty_for(t.primitive, 0);
        for d in self.baskets_of(b, decoded, lo, hi) {
            let data = &d.data[..];
            let mut p = 0usize;
            for e in d.first..d.stop.min(hi) {
                let bad = |what: String| {
                    self.basket_error(b, d.basket, d.offset, format!("entry {e}: {what}"))
                };
                let Some(h) = data.get(p..p + 10) else {
                    return Err(bad("vector header runs past the basket".into()));
                };
                let bc = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
                let n = u32::from_be_bytes([h[6], h[7], h[8], h[9]]) as usize;
                if bc & 0x4000_0000 == 0 || (bc & !0x4000_0000) as usize != 6 + n * w {
                    return Err(bad(format!(
                        "byte count {:#x} does not match {n} elements",
                        bc
                    )));
                }
                let Some(body) = data.get(p + 10..p + 10 + n * w) else {
                    return Err(bad(format!("{n} elements run past the basket")));
                };
                if e >= lo {
                    values.extend_be(t.primitive, body);
                    offsets.push(offsets.last().copied().unwrap_or(0) + n as u64);
                }
                p += 10 + n * w;
            }
        }
        Ok((values, offsets))
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
