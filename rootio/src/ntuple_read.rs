//! Reading an RNTuple column by column: plan the pages of the asked columns over an entry
//! range, fetch them in one vector read, verify page checksums, decompress and decode pages in
//! parallel (split, delta, zigzag, bit-packed booleans, Real16, Real32Trunc, Real32Quant), and
//! join them into the same `Batch` a TTree read gives; `impl EventSource for NTuple`.
//!
//! Collections keep their offsets relative to the cluster; a batch turns them into offsets of
//! its own, so a batch may span clusters. A jagged column's data pages are not known before its
//! offsets are decoded, so a batch that cuts a cluster reads all that cluster's data pages of
//! the column (batches cut on cluster boundaries, as `boundaries` gives, read each page once).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rayon::prelude::*;

use crate::columns::{Batch, Column, PlannedBasket, ReadMetrics, ReadPlan, Values};
use crate::compress::{self, Codec};
use crate::error::{Error, Result};
use crate::event::{ColumnInfo, EventSource, Fetched};
use crate::ntuple::{kind, NTuple, Page, Slot};
use crate::source::ByteRange;
use crate::types::{ColumnType, Primitive};

/// A page of the plan: cluster, physical column, page number within the column in the cluster.
type PageId = (usize, usize, usize);

impl NTuple {
    fn clusters_in(&self, start: u64, stop: u64) -> impl Iterator<Item = (usize, u64, u64)> + '_ {
        self.clusters
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.first_entry < stop && c.first_entry + c.entries > start)
            .map(move |(i, c)| {
                let a = start.max(c.first_entry) - c.first_entry;
                let z = stop.min(c.first_entry + c.entries) - c.first_entry;
                (i, a, z)
            })
    }

    /// Leading elements of a deferred column (added while writing) that cluster `cl` has no
    /// pages for and that read as zeros: the column's first element in the cluster is past
    /// where a column of `per_entry` elements per entry would start. Only for columns with a
    /// fixed number of elements per entry (top-level fields and collection offsets).
    fn pad(&self, col: usize, cl: usize, per_entry: u64) -> u64 {
        if self.columns[col].first_element == 0 {
            return 0;
        }
        let c = &self.clusters[cl];
        let expected = c.first_entry.saturating_mul(per_entry);
        c.columns[col]
            .element_offset
            .saturating_sub(expected)
            .min(c.entries.saturating_mul(per_entry))
    }

    /// Pages of column `col` in cluster `cl` overlapping cluster-local elements `[e0, e1)`.
    fn pages_over(&self, cl: usize, col: usize, e0: u64, e1: u64, out: &mut BTreeSet<PageId>) {
        let mut at = 0u64;
        for (p, page) in self.clusters[cl].columns[col].pages.iter().enumerate() {
            let end = at + page.elements;
            if end > e0 && at < e1 {
                out.insert((cl, col, p));
            }
            at = end;
        }
    }

    fn range_error(&self, start: u64, stop: u64) -> Error {
        Error::Range {
            file: self.file_name().to_string(),
            tree: self.path.clone(),
            start,
            stop,
            entries: self.entries,
        }
    }

    /// Inner values per entry (or per item, for jagged views).
    fn inner_of(t: &ColumnType) -> u64 {
        match t.layout {
            crate::types::Layout::Fixed { inner } => inner as u64,
            _ => 1,
        }
    }

    /// The pages and byte ranges needed to read `columns` over `[start, stop)`.
    pub fn plan(&self, columns: &[&str], start: u64, stop: u64) -> Result<ReadPlan> {
        if start > stop || stop > self.entries {
            return Err(self.range_error(start, stop));
        }
        let mut cols = Vec::with_capacity(columns.len());
        let mut pages = BTreeSet::new();
        for name in columns {
            let v = self.view_index(name)?;
            let t = self.view_type(v)?;
            let view = &self.views[v];
            let inner = Self::inner_of(&t);
            for (cl, a, z) in self.clusters_in(start, stop) {
                if let Some(o) = view.offsets {
                    if let Some(ic) = self.active_column(o, cl) {
                        let pad = self.pad(ic, cl, 1);
                        let from = a.saturating_sub(1).saturating_sub(pad);
                        self.pages_over(cl, ic, from, z.saturating_sub(pad), &mut pages);
                    }
                    if let Some(d) = view.data {
                        if let Some(dc) = self.active_column(d, cl) {
                            self.pages_over(cl, dc, 0, u64::MAX, &mut pages);
                        }
                    }
                } else if let Some(d) = view.data {
                    if let Some(dc) = self.active_column(d, cl) {
                        let pad = self.pad(dc, cl, inner);
                        let (e0, e1) = (a * inner, z * inner);
                        self.pages_over(
                            cl,
                            dc,
                            e0.saturating_sub(pad),
                            e1.saturating_sub(pad),
                            &mut pages,
                        );
                    }
                }
            }
            cols.push((v, t));
        }
        let baskets = pages
            .into_iter()
            .map(|(cl, col, p)| {
                let c = &self.clusters[cl];
                let page = &c.columns[col].pages[p];
                PlannedBasket {
                    branch: col,
                    basket: p,
                    first_entry: c.first_entry,
                    stop_entry: c.first_entry + c.entries,
                    range: Some(ByteRange {
                        offset: page.offset,
                        len: (page.size + if page.checksum { 8 } else { 0 }) as usize,
                    }),
                }
            })
            .collect();
        Ok(ReadPlan {
            start,
            stop,
            baskets,
            columns: cols,
            names: columns.iter().map(|s| s.to_string()).collect(),
            windows: Vec::new(),
        })
    }

    pub fn fetch(&self, plan: &ReadPlan) -> Result<Fetched> {
        let ranges: Vec<ByteRange> = plan.baskets.iter().filter_map(|b| b.range).collect();
        let size = self.source.size();
        for r in &ranges {
            if r.offset.checked_add(r.len as u64).is_none_or(|e| e > size) {
                return Err(Error::Malformed {
                    file: self.file_name().to_string(),
                    at: format!("byte {}", r.offset),
                    what: format!(
                        "RNTuple '{}': page of {} bytes past the end of the file ({size} bytes; truncated file?)",
                        self.path, r.len
                    ),
                });
            }
        }
        let fetched = self.source.read_ranges(&ranges).map_err(|e| Error::Io {
            file: self.file_name().to_string(),
            offset: ranges.first().map_or(0, |r| r.offset),
            len: ranges.iter().map(|r| r.len).sum(),
            source: e,
        })?;
        Ok(fetched.into_iter().map(Some).collect())
    }

    fn cluster_of(&self, first_entry: u64) -> Option<usize> {
        self.clusters
            .binary_search_by_key(&first_entry, |c| c.first_entry)
            .ok()
    }

    fn page_desc(&self, (cl, col, p): PageId) -> String {
        let field = &self.fields[self.columns[col].field];
        let page = &self.clusters[cl].columns[col].pages[p];
        format!(
            "RNTuple '{}' field '{}' column {col} cluster {cl} page {p} at byte {}",
            self.path, field.name, page.offset
        )
    }

    /// Verify, decompress and decode one page into its column's natural values.
    fn decode_page(&self, id: PageId, bytes: &[u8]) -> Result<(Values, usize)> {
        let (cl, col, p) = id;
        let page: &Page = &self.clusters[cl].columns[col].pages[p];
        let desc = &self.columns[col];
        let bad = |what: String| Error::Malformed {
            file: self.file_name().to_string(),
            at: self.page_desc(id),
            what,
        };
        let size = page.size as usize;
        let want = size + if page.checksum { 8 } else { 0 };
        if bytes.len() != want {
            return Err(bad(format!("{} bytes read, {want} expected", bytes.len())));
        }
        if page.checksum {
            let stored = u64::from_le_bytes(bytes[size..].try_into().unwrap());
            let computed = xxhash_rust::xxh3::xxh3_64(&bytes[..size]);
            if stored != computed {
                return Err(Error::Checksum {
                    file: self.file_name().to_string(),
                    what: self.page_desc(id),
                    stored,
                    computed,
                });
            }
        }
        let n = page.elements;
        let bits = desc.bits as u64;
        let ulen =
            n.checked_mul(bits)
                .map(|b| b.div_ceil(8))
                .filter(|&l| l <= usize::MAX as u64 / 2)
                .ok_or_else(|| bad(format!("{n} elements of {bits} bits")))? as usize;
        let payload = &bytes[..size];
        let owned;
        let raw: &[u8] = if size == ulen {
            payload
        } else {
            owned = compress::decompress_to_vec(payload, ulen).map_err(|e| Error::Decompress {
                file: self.file_name().to_string(),
                at: format!("{} (block at +{})", self.page_desc(id), e.offset),
                what: e.what,
            })?;
            &owned
        };
        let v = decode_elements(desc.kind, desc.bits, desc.range, n as usize, raw)
            .ok_or_else(|| bad(format!("column type {:#x} cannot be decoded", desc.kind)))?;
        Ok((v, ulen))
    }

    /// Cluster-local elements `[e0, e1)` of the column of `slot` in cluster `cl`, from the
    /// decoded pages; zeros for a deferred column the cluster has no pages for.
    /// `per_entry`: elements per entry of a top-level column (for the zeros of a deferred
    /// one), `None` for a collection's items.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &self,
        slot: Slot,
        cl: usize,
        e0: u64,
        e1: u64,
        decoded: &HashMap<PageId, Values>,
        natural: Primitive,
        per_entry: Option<u64>,
    ) -> Result<Values> {
        let count = (e1 - e0) as usize;
        if count == 0 {
            // Nothing to read (the empty collections of a deferred one, say): no column needed.
            return Ok(Values::empty_for(natural, 0));
        }
        let Some(col) = self.active_column(slot, cl) else {
            let deferred = self.fields[slot.field]
                .representations
                .iter()
                .filter_map(|r| r.get(slot.pos))
                .any(|&c| self.columns[c].first_element != 0);
            if deferred {
                return Ok(cast(Values::U64(vec![0; count]), natural));
            }
            return Err(Error::Malformed {
                file: self.file_name().to_string(),
                at: format!("RNTuple '{}' cluster {cl}", self.path),
                what: format!(
                    "field '{}' has no pages in this cluster",
                    self.fields[slot.field].name
                ),
            });
        };
        let cc = &self.clusters[cl].columns[col];
        let pad = per_entry.map_or(0, |k| self.pad(col, cl, k));
        let zeros = pad.min(e1).saturating_sub(e0);
        let (e0, e1) = (e0.max(pad) - pad, e1.max(pad) - pad);
        let total = cc.elements();
        if e1 > total {
            return Err(Error::Malformed {
                file: self.file_name().to_string(),
                at: format!("RNTuple '{}' cluster {cl} column {col}", self.path),
                what: format!(
                    "elements {e0}..{e1} needed, the cluster's pages hold {total} (field '{}')",
                    self.fields[slot.field].name
                ),
            });
        }
        let mut out: Option<Values> =
            (zeros > 0).then(|| cast(Values::U64(vec![0; zeros as usize]), natural));
        let mut at = 0u64;
        for (p, page) in cc.pages.iter().enumerate() {
            let end = at + page.elements;
            if end > e0 && at < e1 {
                let v = decoded
                    .get(&(cl, col, p))
                    .expect("planned pages are decoded");
                let a = (e0.max(at) - at) as usize;
                let z = (e1.min(end) - at) as usize;
                match &mut out {
                    Some(o) if std::mem::discriminant(o) != std::mem::discriminant(v) => {
                        o.append(&cast(v.slice(a, z), natural))
                    }
                    Some(o) => extend_range(o, v, a, z),
                    None => {
                        let mut o = empty_like(v, count);
                        extend_range(&mut o, v, a, z);
                        out = Some(o);
                    }
                }
            }
            at = end;
        }
        Ok(out.map_or_else(|| Values::empty_for(natural, 0), |v| cast(v, natural)))
    }

    /// Cluster-relative collection ends for entries `[a, z)` of cluster `cl`, and where the
    /// first entry's items start.
    fn collection_ends(
        &self,
        slot: Slot,
        cl: usize,
        a: u64,
        z: u64,
        decoded: &HashMap<PageId, Values>,
    ) -> Result<(u64, Vec<u64>)> {
        let from = a.saturating_sub(1);
        let Values::U64(mut idx) =
            self.gather(slot, cl, from, z, decoded, Primitive::U64, Some(1))?
        else {
            unreachable!("index columns decode to u64")
        };
        let begin = if a == 0 { 0 } else { idx.remove(0) };
        let mut prev = begin;
        for (i, &e) in idx.iter().enumerate() {
            if e < prev {
                return Err(Error::Malformed {
                    file: self.file_name().to_string(),
                    at: format!("RNTuple '{}' cluster {cl}", self.path),
                    what: format!(
                        "collection '{}' offsets decrease at entry {} ({prev} then {e})",
                        self.fields[slot.field].name,
                        self.clusters[cl].first_entry + a + i as u64
                    ),
                });
            }
            prev = e;
        }
        Ok((begin, idx))
    }

    pub fn decode(&self, plan: &ReadPlan, raw: Fetched) -> Result<(Batch, ReadMetrics)> {
        if raw.len() != plan.baskets.len() {
            return Err(Error::Malformed {
                file: self.file_name().to_string(),
                at: format!("RNTuple '{}'", self.path),
                what: format!(
                    "{} pages fetched for {} planned",
                    raw.len(),
                    plan.baskets.len()
                ),
            });
        }
        let jobs: Vec<(PageId, Vec<u8>)> = plan
            .baskets
            .iter()
            .zip(raw)
            .map(|(pb, bytes)| {
                let cl = self
                    .cluster_of(pb.first_entry)
                    .filter(|&cl| {
                        self.clusters[cl]
                            .columns
                            .get(pb.branch)
                            .is_some_and(|c| pb.basket < c.pages.len())
                    })
                    .ok_or_else(|| Error::Malformed {
                        file: self.file_name().to_string(),
                        at: format!("RNTuple '{}'", self.path),
                        what: format!(
                            "plan names page {} of column {} in no cluster",
                            pb.basket, pb.branch
                        ),
                    })?;
                Ok(((cl, pb.branch, pb.basket), bytes.unwrap_or_default()))
            })
            .collect::<Result<_>>()?;
        let results: Vec<(PageId, Values, usize, usize)> = jobs
            .into_par_iter()
            .map(|(id, bytes)| {
                let (v, ulen) = self.decode_page(id, &bytes)?;
                Ok((id, v, bytes.len(), ulen))
            })
            .collect::<Result<_>>()?;
        let mut metrics = ReadMetrics::default();
        let mut decoded = HashMap::with_capacity(results.len());
        for (id, v, c, u) in results {
            metrics.baskets += 1;
            metrics.compressed_bytes += c as u64;
            metrics.uncompressed_bytes += u as u64;
            decoded.insert(id, v);
        }

        let mut columns = Vec::with_capacity(plan.columns.len());
        for (&(v, t), name) in plan.columns.iter().zip(&plan.names) {
            let view = &self.views[v];
            let inner = Self::inner_of(&t);
            let natural = t.primitive;
            // Counts are gathered as u64 differences, then narrowed to the count's type.
            let mut values = Values::empty_for(
                if view.data.is_none() {
                    Primitive::U64
                } else {
                    natural
                },
                0,
            );
            let mut offsets: Option<Vec<u64>> = view.offsets.map(|_| vec![0u64]);
            for (cl, a, z) in self.clusters_in(plan.start, plan.stop) {
                match (view.offsets, view.data) {
                    (Some(o), data) => {
                        let (begin, ends) = self.collection_ends(o, cl, a, z, &decoded)?;
                        match data {
                            Some(d) => {
                                let end = ends.last().copied().unwrap_or(begin);
                                let piece = self.gather(
                                    d,
                                    cl,
                                    begin * inner,
                                    end * inner,
                                    &decoded,
                                    natural,
                                    None,
                                )?;
                                join(&mut values, piece);
                                let offs = offsets.as_mut().expect("jagged views have offsets");
                                let base = *offs.last().unwrap();
                                offs.extend(ends.iter().map(|&e| base + (e - begin)));
                            }
                            None => {
                                // A count: items per entry.
                                let mut prev = begin;
                                let counts: Vec<u64> = ends
                                    .iter()
                                    .map(|&e| {
                                        let c = e - prev;
                                        prev = e;
                                        c
                                    })
                                    .collect();
                                values.append(&Values::U64(counts));
                            }
                        }
                    }
                    (None, Some(d)) => {
                        let piece = self.gather(
                            d,
                            cl,
                            a * inner,
                            z * inner,
                            &decoded,
                            natural,
                            Some(inner),
                        )?;
                        join(&mut values, piece);
                    }
                    (None, None) => unreachable!("a view has data or offsets"),
                }
            }
            let offsets = if view.data.is_none() { None } else { offsets };
            let values = cast(values, t.primitive);
            columns.push(Column {
                name: name.clone(),
                ctype: t,
                values,
                offsets: offsets.map(Arc::new),
                inner: inner as usize,
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

    /// Plan, fetch and decode in one call.
    pub fn read(&self, columns: &[&str], start: u64, stop: u64) -> Result<Batch> {
        let plan = self.plan(columns, start, stop)?;
        let raw = self.fetch(&plan)?;
        self.decode(&plan, raw).map(|(b, _)| b)
    }

    /// The codec of the first page of a view's data (or index) column.
    fn first_codec_of(&self, v: usize) -> Option<Codec> {
        let view = self.views.get(v)?;
        let slot = view.data.or(view.offsets)?;
        for cl in 0..self.clusters.len() {
            let Some(col) = self.active_column(slot, cl) else {
                continue;
            };
            let Some(page) = self.clusters[cl].columns[col].pages.first() else {
                continue;
            };
            let ulen = (page.elements * self.columns[col].bits as u64).div_ceil(8);
            if page.size == ulen {
                return Some(Codec::None);
            }
            let mut head = [0u8; 2];
            self.source.read_at(page.offset, &mut head).ok()?;
            return Codec::sniff(&head, usize::MAX);
        }
        None
    }

    /// Pages and bytes of a view's data (or index) column, over all clusters.
    fn storage_of(&self, v: usize) -> (usize, i64, i64) {
        let view = &self.views[v];
        let Some(slot) = view.data.or(view.offsets) else {
            return (0, 0, 0);
        };
        let (mut n, mut zip, mut tot) = (0usize, 0i64, 0i64);
        for cl in 0..self.clusters.len() {
            if let Some(col) = self.active_column(slot, cl) {
                let bits = self.columns[col].bits as u64;
                for p in &self.clusters[cl].columns[col].pages {
                    n += 1;
                    zip += p.size as i64;
                    tot += (p.elements * bits).div_ceil(8) as i64;
                }
            }
        }
        (n, zip, tot)
    }
}

/// Append `piece` to `values` (taken whole when `values` is still empty: a batch of one
/// cluster copies nothing).
fn join(values: &mut Values, piece: Values) {
    if values.is_empty() {
        *values = piece;
    } else {
        values.append(&piece);
    }
}

/// An empty vector of `v`'s type with room for `cap` values.
fn empty_like(v: &Values, cap: usize) -> Values {
    macro_rules! e {
        ($($var:ident),*) => {
            match v { $(Values::$var(_) => Values::$var(Vec::with_capacity(cap)),)* }
        };
    }
    e!(Bool, I8, U8, I16, U16, I32, U32, I64, U64, F32, F64)
}

/// Append values `[a, z)` of `src` to `dst` (same type).
fn extend_range(dst: &mut Values, src: &Values, a: usize, z: usize) {
    macro_rules! x {
        ($($var:ident),*) => {
            match (dst, src) {
                $((Values::$var(d), Values::$var(s)) => d.extend_from_slice(&s[a..z]),)*
                _ => unreachable!("pages of one column decode to one type"),
            }
        };
    }
    x!(Bool, I8, U8, I16, U16, I32, U32, I64, U64, F32, F64)
}

/// Decode `n` elements of a column of type `k` from uncompressed page bytes.
fn decode_elements(
    k: u16,
    bits: u16,
    range: Option<(f64, f64)>,
    n: usize,
    raw: &[u8],
) -> Option<Values> {
    use kind::*;
    Some(match k {
        BIT => Values::Bool((0..n).map(|i| raw[i / 8] >> (i % 8) & 1 == 1).collect()),
        BYTE | UINT8 => Values::U8(raw[..n].to_vec()),
        CHAR | INT8 => Values::I8(raw[..n].iter().map(|&b| b as i8).collect()),
        INT16 => Values::I16(le(raw, n)),
        UINT16 => Values::U16(le(raw, n)),
        INT32 => Values::I32(le(raw, n)),
        UINT32 => Values::U32(le(raw, n)),
        INT64 => Values::I64(le(raw, n)),
        UINT64 => Values::U64(le(raw, n)),
        REAL32 => Values::F32(le(raw, n)),
        REAL64 => Values::F64(le(raw, n)),
        REAL16 => Values::F32(le::<u16>(raw, n).into_iter().map(half_to_f32).collect()),
        SPLIT_REAL16 => Values::F32(
            unsplit::<u16>(raw, n)
                .into_iter()
                .map(half_to_f32)
                .collect(),
        ),
        INDEX32 => Values::U64(le::<u32>(raw, n).into_iter().map(u64::from).collect()),
        INDEX64 => Values::U64(le(raw, n)),
        SPLIT_INDEX32 => Values::U64(delta(unsplit::<u32>(raw, n).into_iter().map(u64::from))),
        SPLIT_INDEX64 => Values::U64(delta(unsplit::<u64>(raw, n).into_iter())),
        SPLIT_INT16 => Values::I16(
            unsplit::<u16>(raw, n)
                .into_iter()
                .map(|x| (x >> 1) as i16 ^ -((x & 1) as i16))
                .collect(),
        ),
        SPLIT_UINT16 => Values::U16(unsplit(raw, n)),
        SPLIT_INT32 => Values::I32(
            unsplit::<u32>(raw, n)
                .into_iter()
                .map(|x| (x >> 1) as i32 ^ -((x & 1) as i32))
                .collect(),
        ),
        SPLIT_UINT32 => Values::U32(unsplit(raw, n)),
        SPLIT_INT64 => Values::I64(
            unsplit::<u64>(raw, n)
                .into_iter()
                .map(|x| (x >> 1) as i64 ^ -((x & 1) as i64))
                .collect(),
        ),
        SPLIT_UINT64 => Values::U64(unsplit(raw, n)),
        SPLIT_REAL32 => Values::F32(unsplit(raw, n)),
        SPLIT_REAL64 => Values::F64(unsplit(raw, n)),
        REAL32_TRUNC => {
            let b = bits as u32;
            Values::F32(
                (0..n)
                    .map(|i| f32::from_bits(bits_at(raw, i, b) << (32 - b)))
                    .collect(),
            )
        }
        REAL32_QUANT => {
            let (min, max) = range?;
            let b = bits as u32;
            let scale = (max - min) / (((1u64 << b) - 1) as f64);
            Values::F64(
                (0..n)
                    .map(|i| min + bits_at(raw, i, b) as f64 * scale)
                    .collect(),
            )
        }
        _ => return None,
    })
}

/// Value `i` of a stream of `b`-bit values packed least significant bit first.
fn bits_at(raw: &[u8], i: usize, b: u32) -> u32 {
    let bit = i * b as usize;
    let mut w = [0u8; 8];
    let from = bit / 8;
    let take = raw.len().saturating_sub(from).min(8);
    w[..take].copy_from_slice(&raw[from..from + take]);
    let x = u64::from_le_bytes(w) >> (bit % 8);
    (x & ((1u64 << b) - 1)) as u32
}

/// IEEE half precision to single.
fn half_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1F) as u32;
    let man = (h & 0x3FF) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3FF) << 13)
        }
        (0x1F, m) => sign | 0x7F80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Little-endian numbers.
trait FromLe: Sized + Copy {
    const N: usize;
    fn from_le(b: &[u8]) -> Self;
}

macro_rules! from_le {
    ($($t:ty),*) => {$(
        impl FromLe for $t {
            const N: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn from_le(b: &[u8]) -> Self {
                <$t>::from_le_bytes(b.try_into().expect("N bytes"))
            }
        }
    )*};
}
from_le!(i16, u16, i32, u32, i64, u64, f32, f64);

fn le<T: FromLe>(raw: &[u8], n: usize) -> Vec<T> {
    raw[..n * T::N].chunks_exact(T::N).map(T::from_le).collect()
}

/// Undo the byte split: all first bytes, then all second bytes, ... One pass over the byte
/// planes, zipped so the loop has no bounds checks and vectorises.
fn unsplit<T: FromLe>(raw: &[u8], n: usize) -> Vec<T> {
    let raw = &raw[..n * T::N];
    match T::N {
        2 => {
            let (a, b) = raw.split_at(n);
            a.iter()
                .zip(b)
                .map(|(&a, &b)| T::from_le(&[a, b]))
                .collect()
        }
        4 => {
            let (a, r) = raw.split_at(n);
            let (b, r) = r.split_at(n);
            let (c, d) = r.split_at(n);
            a.iter()
                .zip(b)
                .zip(c)
                .zip(d)
                .map(|(((&a, &b), &c), &d)| T::from_le(&[a, b, c, d]))
                .collect()
        }
        8 => {
            let p: Vec<&[u8]> = raw.chunks_exact(n.max(1)).collect();
            let [a, b, c, d, e, f, g, h] = p[..] else {
                return Vec::new(); // n == 0
            };
            (0..n)
                .map(|i| T::from_le(&[a[i], b[i], c[i], d[i], e[i], f[i], g[i], h[i]]))
                .collect()
        }
        _ => {
            let p: Vec<&[u8]> = raw.chunks_exact(n.max(1)).collect();
            (0..n)
                .map(|i| {
                    let mut buf = [0u8; 8];
                    for (j, b) in buf[..T::N].iter_mut().enumerate() {
                        *b = p[j][i];
                    }
                    T::from_le(&buf[..T::N])
                })
                .collect()
        }
    }
}

/// Undo delta encoding within a page: the first value is absolute.
fn delta(it: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut acc = 0u64;
    it.map(|d| {
        acc = acc.wrapping_add(d);
        acc
    })
    .collect()
}

/// Convert values to the primitive the field is handed out as.
fn cast(v: Values, p: Primitive) -> Values {
    macro_rules! conv {
        ($src:expr, $var:ident, $t:ty) => {
            Values::$var($src.into_iter().map(|x| x as $t).collect())
        };
    }
    macro_rules! to {
        ($src:expr) => {
            match p {
                Primitive::I8 => conv!($src, I8, i8),
                Primitive::U8 => conv!($src, U8, u8),
                Primitive::I16 => conv!($src, I16, i16),
                Primitive::U16 => conv!($src, U16, u16),
                Primitive::I32 => conv!($src, I32, i32),
                Primitive::U32 => conv!($src, U32, u32),
                Primitive::I64 => conv!($src, I64, i64),
                Primitive::U64 => conv!($src, U64, u64),
                Primitive::F32 | Primitive::Float16(_) => conv!($src, F32, f32),
                Primitive::F64 | Primitive::Double32(_) => conv!($src, F64, f64),
                Primitive::Bool => {
                    Values::Bool($src.into_iter().map(|x| x as f64 != 0.0).collect())
                }
            }
        };
    }
    let same = matches!(
        (&v, p),
        (Values::Bool(_), Primitive::Bool)
            | (Values::I8(_), Primitive::I8)
            | (Values::U8(_), Primitive::U8)
            | (Values::I16(_), Primitive::I16)
            | (Values::U16(_), Primitive::U16)
            | (Values::I32(_), Primitive::I32)
            | (Values::U32(_), Primitive::U32)
            | (Values::I64(_), Primitive::I64)
            | (Values::U64(_), Primitive::U64)
            | (Values::F32(_), Primitive::F32 | Primitive::Float16(_))
            | (Values::F64(_), Primitive::F64 | Primitive::Double32(_))
    );
    if same {
        return v;
    }
    match v {
        Values::Bool(s) => to!(s.into_iter().map(|b| b as u8)),
        Values::I8(s) => to!(s),
        Values::U8(s) => to!(s),
        Values::I16(s) => to!(s),
        Values::U16(s) => to!(s),
        Values::I32(s) => to!(s),
        Values::U32(s) => to!(s),
        Values::I64(s) => to!(s),
        Values::U64(s) => to!(s),
        Values::F32(s) => to!(s),
        Values::F64(s) => to!(s),
    }
}

impl EventSource for NTuple {
    fn class(&self) -> &'static str {
        "RNTuple"
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn title(&self) -> &str {
        &self.description
    }
    fn file_name(&self) -> &str {
        NTuple::file_name(self)
    }
    fn entries(&self) -> u64 {
        self.entries
    }
    fn columns(&self) -> Vec<ColumnInfo> {
        (0..self.views.len())
            .map(|v| {
                let view = &self.views[v];
                let (units, zip, tot) = self.storage_of(v);
                ColumnInfo {
                    name: view.name.clone(),
                    title: String::new(),
                    type_name: view.type_name.clone(),
                    column_type: self.view_type(v),
                    class: format!("RNTuple {}", view.role),
                    leaf: None,
                    parent: view.parent.clone(),
                    entries: self.entries,
                    units,
                    compressed_bytes: zip,
                    uncompressed_bytes: tot,
                }
            })
            .collect()
    }
    fn type_of(&self, name: &str) -> Result<ColumnType> {
        self.view_type(self.view_index(name)?)
    }
    fn boundaries(&self, columns: &[&str]) -> Result<Vec<u64>> {
        for c in columns {
            self.view_index(c)?;
        }
        Ok(self.cluster_boundaries())
    }
    fn all_boundaries(&self) -> Vec<u64> {
        self.cluster_boundaries()
    }
    fn first_unit_end(&self, _columns: &[&str], entry: u64) -> Option<u64> {
        self.clusters
            .iter()
            .find(|c| c.first_entry <= entry && entry < c.first_entry + c.entries)
            .map(|c| c.first_entry + c.entries)
    }
    fn cluster_hint(&self) -> Vec<u64> {
        self.cluster_boundaries()
    }
    fn first_codec(&self, index: usize) -> Option<Codec> {
        self.first_codec_of(index)
    }
    fn plan(&self, columns: &[&str], start: u64, stop: u64) -> Result<ReadPlan> {
        NTuple::plan(self, columns, start, stop)
    }
    fn fetch(&self, plan: &ReadPlan) -> Result<Fetched> {
        NTuple::fetch(self, plan)
    }
    fn decode(&self, plan: &ReadPlan, raw: Fetched) -> Result<(Batch, ReadMetrics)> {
        NTuple::decode(self, plan, raw)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_zigzag_delta_and_bits() {
        // Three int32 values 1, -2, 300 zigzagged (2, 3, 600) and split by byte.
        let z: Vec<u32> = vec![2, 3, 600];
        let mut raw = vec![0u8; 12];
        for (i, x) in z.iter().enumerate() {
            for (j, b) in x.to_le_bytes().iter().enumerate() {
                raw[j * 3 + i] = *b;
            }
        }
        assert_eq!(
            decode_elements(kind::SPLIT_INT32, 32, None, 3, &raw),
            Some(Values::I32(vec![1, -2, 300]))
        );
        // Delta-encoded index: absolute first value, then differences.
        let d: Vec<u32> = vec![5, 0, 2];
        let mut raw = vec![0u8; 12];
        for (i, x) in d.iter().enumerate() {
            for (j, b) in x.to_le_bytes().iter().enumerate() {
                raw[j * 3 + i] = *b;
            }
        }
        assert_eq!(
            decode_elements(kind::SPLIT_INDEX32, 32, None, 3, &raw),
            Some(Values::U64(vec![5, 5, 7]))
        );
        assert_eq!(
            decode_elements(kind::BIT, 1, None, 10, &[0b1000_0101, 0b10]),
            Some(Values::Bool(vec![
                true, false, true, false, false, false, false, true, false, true
            ]))
        );
        assert_eq!(half_to_f32(0x3C00), 1.0);
        assert_eq!(half_to_f32(0xC000), -2.0);
        assert_eq!(half_to_f32(0x0001), 2f32.powi(-24));
    }

    #[test]
    fn packed_bits_cross_bytes() {
        // Values 0..8 packed at 3 bits each, least significant bit first.
        let mut acc = 0u64;
        for i in 0..8u64 {
            acc |= i << (3 * i);
        }
        let raw = acc.to_le_bytes();
        let got: Vec<u32> = (0..8).map(|i| bits_at(&raw[..3], i, 3)).collect();
        assert_eq!(got, (0..8).collect::<Vec<u32>>());
    }
}
