//! Reading columns: plan which baskets an entry range needs, fetch them through the byte
//! source, decompress them in parallel and convert big-endian slices to native arrays in bulk.
//!
//! Jagged leaf-count branches (`Muon_pt[nMuon]`) are cut with the counter branch, not with the
//! per-basket entry-offset table: the table is missing in some files (kGenerateOffsetMap) and
//! the counter is read anyway. The total is cross-checked against the basket size.

use std::sync::Arc;

use rayon::prelude::*;

use crate::basket::{self, EntryOffsets};
use crate::columns::{Batch, Column, PlannedBasket, ReadMetrics, ReadPlan, Values};
use crate::compress::{self, Codec};
use crate::error::{Error, Result};
use crate::event::{ColumnInfo, EventSource, Fetched};
use crate::source::ByteRange;
use crate::tree::Tree;
use crate::types::{ColumnType, Layout, Primitive};

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

/// A decompressed basket: its data region and entry range.
struct Decoded<'a> {
    branch: usize,
    basket: usize,
    first: u64,
    stop: u64,
    offset: u64,
    data: &'a [u8],
    /// The basket's entry-offset table, when it has one.
    offsets: Option<EntryOffsets<'a>>,
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
                // A basket below fWriteBasket can still live in the TTree record (seek 0)
                // when the tree was written without its baskets being flushed to keys
                // (uproot-issue60.root): read it from there.
                let in_record = br.embedded.iter().any(|e| e.index == i);
                let range = if i < br.write_basket && !(in_record && br.basket_seek[i] == 0) {
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
            names: branches.iter().map(|n| n.to_string()).collect(),
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
            branch: self.address(b),
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
                offsets: None,
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
        for (&(b, t), name) in plan.columns.iter().zip(&plan.names) {
            let name = name.clone();
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
                offsets: None,
            });
        };
        let offset = pb.range.map_or(0, |r| r.offset);
        let err = |what: String| self.basket_error(b, pb.basket, offset, what);
        let h = basket::header(
            &bytes,
            &basket::Expected {
                branch: &br.name,
                seek: offset,
                entries: pb.stop_entry - pb.first_entry,
            },
        )
        .map_err(&err)?;
        let payload = &bytes[h.keylen..];
        // Block headers are checked before the object's claimed size allocates anything.
        let blocks = compress::blocks(payload, h.objlen)
            .map_err(|e| err(format!("block at +{}: {}", h.keylen + e.offset, e.what)))?;
        // The entry-offset table after the data is decoded and checked too, except by default
        // in a ZSTD block: there the data region alone is decoded (the streaming decoder stops
        // when it is full), as the table would add ~30% to the ZSTD job's time for few
        // corruptions caught (docs/benchmarks.md). Raw baskets have it for free, and zlib,
        // LZMA and LZ4 decode their last block whole to verify its checksum anyway.
        let zstd_tail = blocks
            .last()
            .is_some_and(|l| l.at + l.ulen > h.border && &payload[l.src..l.src + 2] == b"ZS");
        let upto = if zstd_tail && !basket::full_checks() {
            h.border
        } else {
            h.objlen
        };
        scratch.clear();
        scratch.resize(upto, 0);
        compress::decompress_blocks(payload, h.objlen, &blocks, scratch)
            .map_err(|e| err(format!("block at +{}: {}", h.keylen + e.offset, e.what)))?;
        let (data, tail) = scratch.split_at(h.border);
        let offsets = EntryOffsets::parse(tail, &h).map_err(&err)?;
        f(&Decoded {
            branch: b,
            basket: pb.basket,
            first: pb.first_entry,
            stop: pb.stop_entry,
            offset,
            data,
            offsets,
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
                if let Some(t) = &d.offsets {
                    let (k0, k1) = ((d.first - c.from) as usize, (d.stop - c.from) as usize);
                    t.check_counts(&c.cum[k0..=k1], w).map_err(&err)?;
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
                    if let Some(t) = &d.offsets {
                        t.check_start((e - d.first) as usize, p).map_err(&bad)?;
                    }
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

    /// The branches whose baskets a read of `branches` decodes: each one, and the counter of
    /// each leaf-count array.
    fn read_set(&self, branches: &[&str]) -> Result<Vec<usize>> {
        let mut idx = Vec::new();
        for name in branches {
            let b = self.branch_index(name)?;
            idx.push(b);
            if let Layout::Counted { counter, .. } = self.column_type(b)?.layout {
                idx.push(counter);
            }
        }
        Ok(idx)
    }

    /// The codec of a branch's first on-disk basket, read from its block header.
    pub fn first_codec(&self, b: usize) -> Option<Codec> {
        let br = &self.branches[b];
        if br.write_basket == 0 {
            return None;
        }
        let seek = u64::try_from(*br.basket_seek.first()?).ok()?;
        let mut head = [0u8; 18];
        self.source.read_at(seek, &mut head).ok()?;
        let objlen = u32::from_be_bytes(head[6..10].try_into().ok()?) as usize;
        let keylen = u16::from_be_bytes(head[14..16].try_into().ok()?) as u64;
        let nbytes = u32::from_be_bytes(head[0..4].try_into().ok()?) as usize;
        if nbytes.checked_sub(keylen as usize)? == objlen {
            return Some(Codec::None);
        }
        let mut tag = [0u8; 2];
        self.source.read_at(seek + keylen, &mut tag).ok()?;
        Codec::sniff(&tag, usize::MAX)
    }
}

/// A TTree as an event source: columns are its leaf branches, storage units its baskets.
impl EventSource for Tree {
    fn class(&self) -> &'static str {
        "TTree"
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn title(&self) -> &str {
        &self.title
    }
    fn file_name(&self) -> &str {
        Tree::file_name(self)
    }
    fn entries(&self) -> u64 {
        self.entries
    }
    fn columns(&self) -> Vec<ColumnInfo> {
        (0..self.branches.len())
            .map(|b| {
                let br = &self.branches[b];
                ColumnInfo {
                    name: self.address(b),
                    title: br.title.clone(),
                    type_name: self.type_name(b),
                    column_type: self.column_type(b),
                    class: br.class.clone(),
                    leaf: br.leaves.first().map(|&l| self.leaves[l].class.clone()),
                    parent: br.parent.map(|p| self.address(p)),
                    entries: br.entries,
                    units: self.num_baskets(b),
                    compressed_bytes: br.zip_bytes,
                    uncompressed_bytes: br.tot_bytes,
                }
            })
            .collect()
    }
    fn type_of(&self, name: &str) -> Result<ColumnType> {
        self.column_type(self.branch_index(name)?)
    }
    fn boundaries(&self, columns: &[&str]) -> Result<Vec<u64>> {
        Ok(self.common_entry_offsets(&self.read_set(columns)?))
    }
    fn all_boundaries(&self) -> Vec<u64> {
        // Every branch that holds data (not the parents of split objects).
        let all: Vec<usize> = (0..self.branches.len())
            .filter(|&b| self.branches[b].children.is_empty())
            .collect();
        self.common_entry_offsets(&all)
    }
    fn first_unit_end(&self, columns: &[&str], entry: u64) -> Option<u64> {
        columns
            .iter()
            .filter_map(|n| self.branch_index(n).ok())
            .flat_map(|b| self.basket_ranges(b))
            .filter(|&(a, z)| a <= entry && z > entry)
            .map(|(_, z)| z)
            .min()
    }
    fn cluster_hint(&self) -> Vec<u64> {
        Tree::cluster_hint(self)
    }
    fn first_codec(&self, index: usize) -> Option<Codec> {
        (index < self.branches.len())
            .then(|| Tree::first_codec(self, index))
            .flatten()
    }
    fn plan(&self, columns: &[&str], start: u64, stop: u64) -> Result<ReadPlan> {
        Tree::plan(self, columns, start, stop)
    }
    fn fetch(&self, plan: &ReadPlan) -> Result<Fetched> {
        Tree::fetch(self, plan)
    }
    fn decode(&self, plan: &ReadPlan, raw: Fetched) -> Result<(Batch, ReadMetrics)> {
        Tree::decode(self, plan, raw)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
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
