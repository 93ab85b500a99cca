//! The RNTuple model: the anchor (`ROOT::RNTuple` key), the header, footer and page-list
//! envelopes (each checked against its xxh3 checksum), fields, physical and alias columns,
//! clusters of every cluster group and their page locations; and the columns casa shows for
//! them (`View`s), with NanoAOD names resolving both ways (`Jet.pt` and `Jet_pt`, `nJet` from
//! the collection's offsets). Reading pages is `ntuple_read`, as `read` is for `tree`.
//!
//! Follows ROOT's binary format specification 1.0.x (`tree/ntuple/doc/BinaryFormatSpecification.md`):
//! envelopes, frames and pages are little-endian; the anchor, a classic keyed object, is
//! big-endian.

use std::collections::HashMap;
use std::sync::Arc;

use crate::compress;
use crate::error::{Error, Result};
use crate::file::{Key, RootFile, Uuid};
use crate::source::ByteSource;
use crate::types::{ColumnType, Layout, Primitive};

/// Structural roles of a field.
pub(crate) const ROLE_LEAF: u16 = 0;
pub(crate) const ROLE_COLLECTION: u16 = 1;
pub(crate) const ROLE_RECORD: u16 = 2;
const FLAG_REPETITIVE: u16 = 0x01;
const FLAG_PROJECTED: u16 = 0x02;
const FLAG_TYPE_CHECKSUM: u16 = 0x04;
const COLUMN_DEFERRED: u16 = 0x01;
const COLUMN_RANGE: u16 = 0x02;

/// Column types (the specification's table).
pub(crate) mod kind {
    pub const BIT: u16 = 0x00;
    pub const BYTE: u16 = 0x01;
    pub const CHAR: u16 = 0x02;
    pub const INT8: u16 = 0x03;
    pub const UINT8: u16 = 0x04;
    pub const INT16: u16 = 0x05;
    pub const UINT16: u16 = 0x06;
    pub const INT32: u16 = 0x07;
    pub const UINT32: u16 = 0x08;
    pub const INT64: u16 = 0x09;
    pub const UINT64: u16 = 0x0A;
    pub const REAL16: u16 = 0x0B;
    pub const REAL32: u16 = 0x0C;
    pub const REAL64: u16 = 0x0D;
    pub const INDEX32: u16 = 0x0E;
    pub const INDEX64: u16 = 0x0F;
    pub const SWITCH: u16 = 0x10;
    pub const SPLIT_INT16: u16 = 0x11;
    pub const SPLIT_UINT16: u16 = 0x12;
    pub const SPLIT_INT32: u16 = 0x13;
    pub const SPLIT_UINT32: u16 = 0x14;
    pub const SPLIT_INT64: u16 = 0x15;
    pub const SPLIT_UINT64: u16 = 0x16;
    pub const SPLIT_REAL16: u16 = 0x17;
    pub const SPLIT_REAL32: u16 = 0x18;
    pub const SPLIT_REAL64: u16 = 0x19;
    pub const SPLIT_INDEX32: u16 = 0x1A;
    pub const SPLIT_INDEX64: u16 = 0x1B;
    pub const REAL32_TRUNC: u16 = 0x1C;
    pub const REAL32_QUANT: u16 = 0x1D;
}

/// The bits per element a column type must have (`None`: variable, checked elsewhere).
fn fixed_bits(k: u16) -> Option<u16> {
    use kind::*;
    Some(match k {
        BIT => 1,
        BYTE | CHAR | INT8 | UINT8 => 8,
        INT16 | UINT16 | REAL16 | SPLIT_INT16 | SPLIT_UINT16 | SPLIT_REAL16 => 16,
        INT32 | UINT32 | REAL32 | INDEX32 | SPLIT_INT32 | SPLIT_UINT32 | SPLIT_REAL32
        | SPLIT_INDEX32 => 32,
        INT64 | UINT64 | REAL64 | INDEX64 | SPLIT_INT64 | SPLIT_UINT64 | SPLIT_REAL64
        | SPLIT_INDEX64 => 64,
        SWITCH => 96,
        _ => return None,
    })
}

pub(crate) fn is_index(k: u16) -> bool {
    matches!(
        k,
        kind::INDEX32 | kind::INDEX64 | kind::SPLIT_INDEX32 | kind::SPLIT_INDEX64
    )
}

/// A field of the schema.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub type_name: String,
    pub type_alias: String,
    pub description: String,
    pub role: u16,
    pub flags: u16,
    pub parent: usize,
    /// Array size of a repetitive (fixed-size array) field.
    pub repetition: u64,
    /// The source of a projected field.
    pub source: Option<usize>,
    pub children: Vec<usize>,
    /// Physical column ids attached to this field (alias columns resolved), grouped by
    /// representation index.
    pub representations: Vec<Vec<usize>>,
}

/// A physical column.
#[derive(Debug, Clone)]
pub struct ColumnDesc {
    pub kind: u16,
    pub bits: u16,
    pub field: usize,
    pub flags: u16,
    pub representation: u16,
    pub first_element: i64,
    /// The value range of a Real32Quant column.
    pub range: Option<(f64, f64)>,
}

/// One page of one column in one cluster.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub elements: u64,
    /// An xxh3 checksum of the compressed page follows it on disk.
    pub checksum: bool,
    pub offset: u64,
    pub size: u64,
}

/// A column's pages in one cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterColumn {
    /// The column's first element index in this cluster (over the whole RNTuple).
    pub element_offset: u64,
    /// A secondary representation, inactive in this cluster: no pages.
    pub suppressed: bool,
    pub compression: u32,
    pub pages: Vec<Page>,
}

impl ClusterColumn {
    pub fn elements(&self) -> u64 {
        self.pages.iter().map(|p| p.elements).sum()
    }
}

/// A cluster: an entry range and the pages of every physical column over it.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub first_entry: u64,
    pub entries: u64,
    /// Indexed by physical column id; shorter when columns were added after this cluster.
    pub columns: Vec<ClusterColumn>,
}

/// Where a view's numbers come from: the column at `pos` of field `field`'s active
/// representation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Slot {
    pub field: usize,
    pub pos: usize,
}

/// A column as casa shows it: a field of numbers, a jagged collection member, or a count.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub name: String,
    pub type_name: String,
    pub role: &'static str,
    pub parent: Option<String>,
    pub ctype: std::result::Result<ColumnType, String>,
    /// The values (`None` for a count).
    pub data: Option<Slot>,
    /// The index column of the enclosing collection, for jagged views and counts.
    pub offsets: Option<Slot>,
}

/// An RNTuple, its schema and its clusters.
pub struct NTuple {
    pub(crate) source: Arc<dyn ByteSource>,
    pub(crate) file_uuid: Uuid,
    pub path: String,
    pub name: String,
    pub description: String,
    pub writer: String,
    /// Format version from the anchor: epoch, major, minor, patch.
    pub version: [u16; 4],
    pub entries: u64,
    pub fields: Vec<Field>,
    pub columns: Vec<ColumnDesc>,
    pub clusters: Vec<Cluster>,
    /// Cluster groups as (first entry, entries, clusters).
    pub cluster_groups: Vec<(u64, u64, u32)>,
    pub header_checksum: u64,
    pub(crate) views: Vec<View>,
    pub(crate) by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for NTuple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NTuple")
            .field("file", &self.source.name())
            .field("path", &self.path)
            .field("entries", &self.entries)
            .field("fields", &self.fields.len())
            .field("clusters", &self.clusters.len())
            .finish()
    }
}

/// Little-endian reads over an envelope, every length checked before use.
struct Le<'a> {
    buf: &'a [u8],
    pos: usize,
    file: &'a str,
    what: &'a str,
}

impl<'a> Le<'a> {
    fn err(&self, what: impl Into<String>) -> Error {
        Error::Malformed {
            file: self.file.to_string(),
            at: format!("{} +{}", self.what, self.pos),
            what: what.into(),
        }
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() - self.pos {
            return Err(self.err(format!(
                "{n} bytes needed, {} left",
                self.buf.len() - self.pos
            )));
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.bytes(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().unwrap()))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(self.u64()? as i64)
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        let b = self.bytes(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.err("string is not UTF-8"))
    }
    fn seek(&mut self, pos: usize) -> Result<()> {
        if pos > self.buf.len() || pos < self.pos {
            return Err(self.err(format!("frame ends at +{pos}, outside its envelope")));
        }
        self.pos = pos;
        Ok(())
    }
    /// Feature flags: a 64-bit word, continued while its sign bit is set. Any bit set names a
    /// forward-incompatible feature this reader does not know (none is defined in 1.0).
    fn features(&mut self) -> Result<()> {
        loop {
            let f = self.u64()?;
            if f & !(1 << 63) != 0 {
                return Err(self.err(format!(
                    "unknown feature flags {f:#x}: written by a newer RNTuple version"
                )));
            }
            if f >> 63 == 0 {
                return Ok(());
            }
        }
    }
    /// A record frame: returns where it ends.
    fn record(&mut self) -> Result<usize> {
        let start = self.pos;
        let size = self.i64()?;
        if size < 8 {
            return Err(self.err(format!("record frame of size {size}")));
        }
        self.frame_end(start, size as u64)
    }
    /// A list frame: returns its item count and where it ends. `min_item` bounds the count
    /// by the bytes available, so a lying count allocates nothing.
    fn list(&mut self, min_item: usize) -> Result<(usize, usize)> {
        let start = self.pos;
        let size = self.i64()?;
        if size >= 0 {
            return Err(self.err("expected a list frame, found a record frame"));
        }
        let end = self.frame_end(start, size.unsigned_abs())?;
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > end.saturating_sub(self.pos) {
            return Err(self.err(format!(
                "list frame of {n} items does not fit its {} bytes",
                end - start
            )));
        }
        Ok((n, end))
    }
    fn frame_end(&self, start: usize, size: u64) -> Result<usize> {
        let end = (start as u64).saturating_add(size);
        if end > self.buf.len() as u64 {
            return Err(self.err(format!(
                "frame of {size} bytes overruns its envelope ({} bytes)",
                self.buf.len()
            )));
        }
        Ok(end as usize)
    }
    /// A locator: (offset, size) in the file.
    fn locator(&mut self) -> Result<(u64, u64)> {
        let head = self.i32()?;
        if head >= 0 {
            let offset = self.u64()?;
            return Ok((offset, head as u64));
        }
        let word = head as u32;
        let size = (word & 0xFFFF) as usize;
        let ty = (word >> 24) as u8 as i8;
        let start = self.pos - 4;
        if ty.unsigned_abs() == 0x01 {
            let len = self.u64()?;
            let offset = self.u64()?;
            self.seek(start + size.max(20))?;
            return Ok((offset, len));
        }
        Err(self.err(format!(
            "locator of type {:#x} (not a file locator) is not supported",
            ty.unsigned_abs()
        )))
    }
    /// An envelope link: uncompressed length, then a locator.
    fn link(&mut self) -> Result<(u64, u64, u64)> {
        let len = self.u64()?;
        let (offset, size) = self.locator()?;
        Ok((offset, size, len))
    }
}

const ENV_HEADER: u16 = 1;
const ENV_FOOTER: u16 = 2;
const ENV_PAGELIST: u16 = 3;

/// Read an envelope (decompress, verify the xxh3 checksum, type and length); returns its bytes
/// (including preamble and checksum) and its checksum.
fn envelope(
    source: &dyn ByteSource,
    offset: u64,
    size: u64,
    len: u64,
    ty: u16,
    what: &str,
) -> Result<(Vec<u8>, u64)> {
    let file = source.name();
    let bad = |w: String| Error::Malformed {
        file: file.to_string(),
        at: format!("{what} at byte {offset}"),
        what: w,
    };
    if size > usize::MAX as u64 / 2 || len > usize::MAX as u64 / 2 {
        return Err(bad(format!("size {size} / length {len} cannot be read")));
    }
    let raw = crate::file::read_raw(source, offset, size as usize)?;
    let buf = if size == len {
        raw
    } else {
        compress::decompress_to_vec(&raw, len as usize).map_err(|e| Error::Decompress {
            file: file.to_string(),
            at: format!("{what} at byte {offset} (block at +{})", e.offset),
            what: e.what,
        })?
    };
    if buf.len() < 16 {
        return Err(bad(format!(
            "{} bytes, too short for an envelope",
            buf.len()
        )));
    }
    let n = buf.len();
    let stored = u64::from_le_bytes(buf[n - 8..].try_into().unwrap());
    let computed = xxhash_rust::xxh3::xxh3_64(&buf[..n - 8]);
    if stored != computed {
        return Err(Error::Checksum {
            file: file.to_string(),
            what: format!("{what} at byte {offset}"),
            stored,
            computed,
        });
    }
    let pre = u64::from_le_bytes(buf[..8].try_into().unwrap());
    if (pre & 0xFFFF) as u16 != ty || pre >> 16 != n as u64 {
        return Err(bad(format!(
            "envelope says type {} and length {}, expected type {ty} and length {n}",
            pre & 0xFFFF,
            pre >> 16
        )));
    }
    Ok((buf, stored))
}

/// The schema description (header, or the footer's schema extension).
fn schema(
    c: &mut Le<'_>,
    fields: &mut Vec<Field>,
    columns: &mut Vec<ColumnDesc>,
    aliases: &mut Vec<(usize, usize)>,
) -> Result<()> {
    let (n, end) = c.list(8)?;
    for _ in 0..n {
        let fend = c.record()?;
        let _field_version = c.u32()?;
        let _type_version = c.u32()?;
        let parent = c.u32()? as usize;
        let role = c.u16()?;
        let flags = c.u16()?;
        let name = c.string()?;
        let type_name = c.string()?;
        let type_alias = c.string()?;
        let description = c.string()?;
        let repetition = if flags & FLAG_REPETITIVE != 0 {
            c.u64()?
        } else {
            0
        };
        let source = if flags & FLAG_PROJECTED != 0 {
            Some(c.u32()? as usize)
        } else {
            None
        };
        if flags & FLAG_TYPE_CHECKSUM != 0 {
            c.u32()?;
        }
        c.seek(fend)?;
        fields.push(Field {
            name,
            type_name,
            type_alias,
            description,
            role,
            flags,
            parent,
            repetition,
            source,
            children: Vec::new(),
            representations: Vec::new(),
        });
    }
    c.seek(end)?;
    let (n, end) = c.list(8)?;
    for _ in 0..n {
        let cend = c.record()?;
        let kind = c.u16()?;
        let bits = c.u16()?;
        let field = c.u32()? as usize;
        let flags = c.u16()?;
        let representation = c.u16()?;
        let first_element = if flags & COLUMN_DEFERRED != 0 {
            c.i64()?
        } else {
            0
        };
        let range = if flags & COLUMN_RANGE != 0 {
            Some((c.f64()?, c.f64()?))
        } else {
            None
        };
        c.seek(cend)?;
        columns.push(ColumnDesc {
            kind,
            bits,
            field,
            flags,
            representation,
            first_element,
            range,
        });
    }
    c.seek(end)?;
    let (n, end) = c.list(8)?;
    for _ in 0..n {
        let aend = c.record()?;
        let physical = c.u32()? as usize;
        let field = c.u32()? as usize;
        c.seek(aend)?;
        aliases.push((physical, field));
    }
    c.seek(end)?;
    // Extra type information (streamer infos of streamed fields): not needed.
    let (_, end) = c.list(0)?;
    c.seek(end)?;
    Ok(())
}

impl RootFile {
    /// Read the RNTuple anchored under `key` (its class already checked).
    pub(crate) fn ntuple_at(&self, path: &str, key: &Key) -> Result<NTuple> {
        NTuple::open(self, path, key)
    }

    /// The RNTuple named `path` (`Events`).
    pub fn ntuple(&self, path: &str) -> Result<NTuple> {
        let key = self.key(path)?;
        self.ntuple_at(path, &key)
    }
}

impl NTuple {
    fn open(file: &RootFile, path: &str, key: &Key) -> Result<NTuple> {
        let name = file.name();
        let anchor_at = format!("RNTuple anchor '{path}' (key at byte {})", key.seek_key);
        let obj = file.read_object(key)?;
        let bad = |w: String| Error::Malformed {
            file: name.to_string(),
            at: anchor_at.clone(),
            what: w,
        };
        // Classic streamed object: byte count and class version (big-endian), the fields,
        // then an xxh3 checksum of the fields.
        if obj.len() < 6 + 64 + 8 {
            return Err(bad(format!("{} bytes, too short for an anchor", obj.len())));
        }
        let be16 = |i: usize| u16::from_be_bytes([obj[i], obj[i + 1]]);
        let be64 = |i: usize| u64::from_be_bytes(obj[i..i + 8].try_into().unwrap());
        let count = u32::from_be_bytes(obj[..4].try_into().unwrap());
        let body_end = if count & 0x4000_0000 != 0 {
            4 + (count & !0x4000_0000) as usize
        } else {
            return Err(bad("anchor has no byte count".into()));
        };
        if body_end + 8 > obj.len() || body_end < 6 + 64 {
            return Err(bad(format!(
                "byte count {body_end} does not fit the anchor"
            )));
        }
        let fields = &obj[6..body_end];
        let stored = be64(body_end);
        let computed = xxhash_rust::xxh3::xxh3_64(fields);
        if stored != computed {
            return Err(Error::Checksum {
                file: name.to_string(),
                what: anchor_at.clone(),
                stored,
                computed,
            });
        }
        let version = [be16(6), be16(8), be16(10), be16(12)];
        if version[0] != 1 {
            return Err(Error::Version {
                file: name.to_string(),
                class: "ROOT::RNTuple",
                version: version[0] as i16,
                at: anchor_at.clone(),
                hint: "only RNTuple epoch 1 (ROOT 6.34 and later) is read".into(),
            });
        }
        let (seek_header, nbytes_header, len_header) = (be64(14), be64(22), be64(30));
        let (seek_footer, nbytes_footer, len_footer) = (be64(38), be64(46), be64(54));
        let max_key = be64(62);
        let source = file.source().clone();
        let src = source.as_ref();
        for (what, size) in [("header", nbytes_header), ("footer", nbytes_footer)] {
            if max_key > 0 && size > max_key {
                return Err(bad(format!(
                    "the {what} envelope ({size} bytes) is split over several keys, which is not read"
                )));
            }
        }

        // Header.
        let hwhat = format!("RNTuple '{path}' header envelope");
        let (hbuf, header_checksum) = envelope(
            src,
            seek_header,
            nbytes_header,
            len_header,
            ENV_HEADER,
            &hwhat,
        )?;
        let mut c = Le {
            buf: &hbuf[..hbuf.len() - 8],
            pos: 8,
            file: name,
            what: &hwhat,
        };
        c.features()?;
        let ntuple_name = c.string()?;
        let description = c.string()?;
        let writer = c.string()?;
        let mut fields = Vec::new();
        let mut columns = Vec::new();
        let mut aliases = Vec::new();
        schema(&mut c, &mut fields, &mut columns, &mut aliases)?;

        // Footer.
        let fwhat = format!("RNTuple '{path}' footer envelope");
        let (fbuf, _) = envelope(
            src,
            seek_footer,
            nbytes_footer,
            len_footer,
            ENV_FOOTER,
            &fwhat,
        )?;
        let mut c = Le {
            buf: &fbuf[..fbuf.len() - 8],
            pos: 8,
            file: name,
            what: &fwhat,
        };
        c.features()?;
        let hc = c.u64()?;
        if hc != header_checksum {
            return Err(c.err(format!(
                "footer is for header checksum {hc:#018x}, the header's is {header_checksum:#018x}"
            )));
        }
        let ext_end = c.record()?;
        if c.pos < ext_end {
            schema(&mut c, &mut fields, &mut columns, &mut aliases)?;
        }
        c.seek(ext_end)?;
        let (ngroups, gend) = c.list(8)?;
        let mut groups = Vec::with_capacity(ngroups);
        for _ in 0..ngroups {
            let rend = c.record()?;
            let min_entry = c.u64()?;
            let span = c.u64()?;
            let nclusters = c.u32()?;
            let link = c.link()?;
            c.seek(rend)?;
            groups.push((min_entry, span, nclusters, link));
        }
        c.seek(gend)?;

        // Page lists: every cluster group.
        let mut clusters: Vec<Cluster> = Vec::new();
        for (g, &(_, _, nclusters, (offset, size, len))) in groups.iter().enumerate() {
            let pwhat = format!("RNTuple '{path}' page list {g}");
            let (pbuf, _) = envelope(src, offset, size, len, ENV_PAGELIST, &pwhat)?;
            let mut c = Le {
                buf: &pbuf[..pbuf.len() - 8],
                pos: 8,
                file: name,
                what: &pwhat,
            };
            let hc = c.u64()?;
            if hc != header_checksum {
                return Err(c.err(format!(
                    "page list is for header checksum {hc:#018x}, the header's is {header_checksum:#018x}"
                )));
            }
            let (n, end) = c.list(16)?;
            if n != nclusters as usize {
                return Err(c.err(format!(
                    "page list has {n} clusters, the footer says {nclusters}"
                )));
            }
            let first = clusters.len();
            for _ in 0..n {
                let rend = c.record()?;
                let first_entry = c.u64()?;
                let word = c.u64()?;
                if (word >> 56) & 0x01 != 0 {
                    return Err(c.err("sharded cluster (a future format feature) is not read"));
                }
                c.seek(rend)?;
                clusters.push(Cluster {
                    first_entry,
                    entries: word & ((1 << 56) - 1),
                    columns: Vec::new(),
                });
            }
            c.seek(end)?;
            let (nc, end) = c.list(8)?;
            if nc != n {
                return Err(c.err(format!(
                    "page locations for {nc} clusters, summaries for {n}"
                )));
            }
            for cl in &mut clusters[first..] {
                let (ncols, cend) = c.list(8)?;
                if ncols > columns.len() {
                    return Err(c.err(format!(
                        "pages for {ncols} columns, the schema has {}",
                        columns.len()
                    )));
                }
                let mut cols = Vec::with_capacity(ncols);
                for _ in 0..ncols {
                    let (npages, pend) = c.list(16)?;
                    let mut pages = Vec::with_capacity(npages);
                    for _ in 0..npages {
                        let ne = c.i32()?;
                        let (offset, size) = c.locator()?;
                        pages.push(Page {
                            elements: ne.unsigned_abs() as u64,
                            checksum: ne < 0,
                            offset,
                            size,
                        });
                    }
                    let eo = c.i64()?;
                    let suppressed = eo < 0;
                    let compression = if suppressed { 0 } else { c.u32()? };
                    c.seek(pend)?;
                    cols.push(ClusterColumn {
                        element_offset: if suppressed { 0 } else { eo as u64 },
                        suppressed,
                        compression,
                        pages,
                    });
                }
                c.seek(cend)?;
                cl.columns = cols;
            }
            c.seek(end)?;
        }
        clusters.sort_by_key(|c| c.first_entry);
        let mut next = 0u64;
        for (i, cl) in clusters.iter().enumerate() {
            if cl.first_entry != next {
                return Err(bad(format!(
                    "cluster {i} starts at entry {}, expected {next} (clusters must tile the entries)",
                    cl.first_entry
                )));
            }
            next = next
                .checked_add(cl.entries)
                .ok_or_else(|| bad("entry count overflows".into()))?;
        }

        // Link the schema: children, and columns (physical then alias) per representation.
        let nf = fields.len();
        for i in 0..nf {
            let p = fields[i].parent;
            if p >= nf || (p > i && p != i) {
                return Err(bad(format!(
                    "field {i} '{}' has parent {p}, not an earlier field",
                    fields[i].name
                )));
            }
            if p != i {
                fields[p].children.push(i);
            }
            if let Some(s) = fields[i].source {
                if s >= nf {
                    return Err(bad(format!("projected field {i} has source {s}")));
                }
            }
        }
        let attach = |fields: &mut Vec<Field>, f: usize, col: usize, repr: u16| -> Result<()> {
            let Some(field) = fields.get_mut(f) else {
                return Err(bad(format!(
                    "column {col} belongs to field {f}, which does not exist"
                )));
            };
            let r = repr as usize;
            if r > 64 {
                return Err(bad(format!("column {col} has representation {r}")));
            }
            if field.representations.len() <= r {
                field.representations.resize(r + 1, Vec::new());
            }
            field.representations[r].push(col);
            Ok(())
        };
        for (i, col) in columns.iter().enumerate() {
            attach(&mut fields, col.field, i, col.representation)?;
        }
        for &(phys, f) in &aliases {
            let Some(col) = columns.get(phys) else {
                return Err(bad(format!(
                    "alias column points to column {phys}, which does not exist"
                )));
            };
            attach(&mut fields, f, phys, col.representation)?;
        }

        let mut nt = NTuple {
            source,
            file_uuid: file.uuid(),
            path: path.to_string(),
            name: ntuple_name,
            description,
            writer,
            version,
            entries: next,
            fields,
            columns,
            clusters,
            cluster_groups: groups.iter().map(|g| (g.0, g.1, g.2)).collect(),
            header_checksum,
            views: Vec::new(),
            by_name: HashMap::new(),
        };
        nt.build_views();
        Ok(nt)
    }

    pub fn file_name(&self) -> &str {
        self.source.name()
    }

    /// The file identity: the TFile's UUID, as for a TTree (RNTuples live in TFiles too).
    pub fn file_uuid(&self) -> Uuid {
        self.file_uuid
    }

    /// Entry numbers where clusters start, and the total.
    pub fn cluster_boundaries(&self) -> Vec<u64> {
        let mut b: Vec<u64> = self.clusters.iter().map(|c| c.first_entry).collect();
        b.push(self.entries);
        b.dedup();
        if b.first() != Some(&0) {
            b.insert(0, 0);
        }
        b
    }

    fn is_top(&self, f: usize) -> bool {
        self.fields[f].parent == f
    }

    /// The casa columns of the schema, and every name that finds them.
    fn build_views(&mut self) {
        let mut views = Vec::new();
        let tops: Vec<usize> = (0..self.fields.len()).filter(|&f| self.is_top(f)).collect();
        for f in tops {
            let name = self.fields[f].name.clone();
            self.views_of(f, &name, None, None, &mut views);
        }
        let mut by_name = HashMap::new();
        for (i, v) in views.iter().enumerate() {
            by_name.entry(v.name.clone()).or_insert(i);
        }
        // NanoAOD names for collection members and record members: `Jet.pt` is also `Jet_pt`,
        // unless a field already has that name.
        for (i, v) in views.iter().enumerate() {
            if v.name.contains('.') {
                by_name.entry(v.name.replace('.', "_")).or_insert(i);
            }
        }
        self.views = views;
        self.by_name = by_name;
    }

    /// The primitive a leaf field's values are handed out as.
    fn leaf_primitive(&self, f: usize) -> std::result::Result<Primitive, String> {
        let ty = self.fields[f].type_name.as_str();
        let p = match ty {
            "bool" => Primitive::Bool,
            "char" | "std::int8_t" | "int8_t" => Primitive::I8,
            "std::byte" | "std::uint8_t" | "uint8_t" => Primitive::U8,
            "std::int16_t" => Primitive::I16,
            "std::uint16_t" => Primitive::U16,
            "std::int32_t" => Primitive::I32,
            "std::uint32_t" => Primitive::U32,
            "std::int64_t" => Primitive::I64,
            "std::uint64_t" => Primitive::U64,
            "float" => Primitive::F32,
            "double" => Primitive::F64,
            t if t.starts_with("std::bitset<") => Primitive::Bool,
            other => match Primitive::from_cpp(other) {
                Some(p) => p,
                None => return Err(format!("field type '{other}' is not a number")),
            },
        };
        // Every representation must be a column type this reader decodes.
        let field = &self.fields[f];
        if field.representations.is_empty() {
            return Err(format!("field '{}' has no columns", field.name));
        }
        for r in &field.representations {
            let &[c] = r.as_slice() else {
                return Err(format!(
                    "field '{}' has {} columns per representation",
                    field.name,
                    r.len()
                ));
            };
            self.check_column(c)?;
        }
        Ok(p)
    }

    fn check_column(&self, c: usize) -> std::result::Result<(), String> {
        let col = &self.columns[c];
        match col.kind {
            kind::REAL32_TRUNC if (10..=31).contains(&col.bits) => Ok(()),
            kind::REAL32_QUANT if (1..=32).contains(&col.bits) && col.range.is_some() => Ok(()),
            kind::SWITCH => Err("switch column (std::variant) is not read".into()),
            k => match fixed_bits(k) {
                Some(b) if b == col.bits => Ok(()),
                Some(b) => Err(format!(
                    "column {c} of type {k:#x} has {} bits, expected {b}",
                    col.bits
                )),
                None => Err(format!(
                    "column {c} has unknown type {k:#x} (newer RNTuple?)"
                )),
            },
        }
    }

    fn index_slot(&self, f: usize) -> std::result::Result<Slot, String> {
        let field = &self.fields[f];
        let Some(r0) = field.representations.first() else {
            return Err(format!("collection '{}' has no index column", field.name));
        };
        for r in &field.representations {
            let Some(&c) = r.first() else {
                return Err(format!(
                    "collection '{}' has an empty representation",
                    field.name
                ));
            };
            if !is_index(self.columns[c].kind) {
                return Err(format!(
                    "collection '{}' has a non-index principal column",
                    field.name
                ));
            }
            self.check_column(c)?;
        }
        let _ = r0;
        Ok(Slot { field: f, pos: 0 })
    }

    /// The element field of a fixed-size array (possibly nested), and the values per entry.
    fn array_leaf(&self, f: usize) -> Option<(usize, usize)> {
        let mut inner = 1usize;
        let mut g = f;
        while self.fields[g].flags & FLAG_REPETITIVE != 0 && self.fields[g].role == ROLE_LEAF {
            inner = inner.checked_mul(self.fields[g].repetition as usize)?;
            match self.fields[g].children.first() {
                Some(&c) => g = c,
                // std::bitset<N>: a repetitive leaf with its own Bit column.
                None if !self.fields[g].representations.is_empty() => return Some((g, inner)),
                None => return None,
            }
        }
        (g != f).then_some((g, inner))
    }

    fn views_of(
        &self,
        f: usize,
        name: &str,
        parent: Option<&str>,
        collection: Option<usize>,
        out: &mut Vec<View>,
    ) {
        let field = &self.fields[f];
        let ty = field.type_name.clone();
        let mut push = |ctype: std::result::Result<ColumnType, String>,
                        role: &'static str,
                        data: Option<Slot>,
                        offsets: Option<Slot>| {
            out.push(View {
                name: name.to_string(),
                type_name: if ty.is_empty() {
                    "(untyped)".into()
                } else {
                    ty.clone()
                },
                role,
                parent: parent.map(str::to_string),
                ctype,
                data,
                offsets,
            })
        };
        let jagged = |p: Primitive, inner: usize| ColumnType {
            primitive: p,
            layout: if inner == 1 {
                Layout::Vector
            } else {
                Layout::Fixed { inner }
            },
        };
        let offsets = collection.map(|c| Slot { field: c, pos: 0 });
        let wrap = |r: std::result::Result<(Primitive, usize), String>| {
            r.and_then(|(p, inner)| match collection {
                None => Ok(ColumnType {
                    primitive: p,
                    layout: Layout::Fixed { inner },
                }),
                Some(_) if inner == 1 => Ok(jagged(p, 1)),
                Some(_) => Err("collection of fixed-size arrays is not read".into()),
            })
        };
        // std::atomic<T> and enums: a leaf without columns over one subfield `_0` holding T.
        if field.role == ROLE_LEAF
            && field.flags & FLAG_REPETITIVE == 0
            && field.representations.is_empty()
            && field.children.len() == 1
        {
            let mut sub = Vec::new();
            self.views_of(field.children[0], name, parent, collection, &mut sub);
            for mut v in sub {
                v.type_name = ty.clone();
                out.push(v);
            }
            return;
        }
        if field.role == ROLE_LEAF
            && field.flags & FLAG_REPETITIVE == 0
            && field.children.is_empty()
        {
            if ty.starts_with("ROOT::RNTupleCardinality<") {
                let p = if ty.contains("uint64") {
                    Primitive::U64
                } else {
                    Primitive::U32
                };
                let ct = self.index_slot(f).and_then(|s| {
                    if collection.is_some() {
                        Err("cardinality inside a collection is not read".into())
                    } else {
                        Ok((
                            s,
                            ColumnType {
                                primitive: p,
                                layout: Layout::Fixed { inner: 1 },
                            },
                        ))
                    }
                });
                match ct {
                    Ok((s, t)) => push(Ok(t), "cardinality", None, Some(s)),
                    Err(e) => push(Err(e), "cardinality", None, None),
                }
                return;
            }
            if ty == "std::string" {
                let ok = collection.is_none()
                    && field.representations.iter().all(|r| {
                        r.len() == 2
                            && is_index(self.columns[r[0]].kind)
                            && self.check_column(r[1]).is_ok()
                    })
                    && !field.representations.is_empty();
                if ok {
                    push(
                        Ok(jagged(Primitive::U8, 1)),
                        "string",
                        Some(Slot { field: f, pos: 1 }),
                        Some(Slot { field: f, pos: 0 }),
                    );
                } else {
                    push(
                        Err("std::string inside a collection is not read".into()),
                        "string",
                        None,
                        None,
                    );
                }
                return;
            }
            let r = self.leaf_primitive(f).map(|p| (p, 1));
            let ok = r.is_ok();
            push(
                wrap(r),
                "leaf",
                ok.then_some(Slot { field: f, pos: 0 }),
                offsets,
            );
            return;
        }
        if field.flags & FLAG_REPETITIVE != 0 {
            let r = match self.array_leaf(f) {
                Some((g, inner)) if self.fields[g].children.is_empty() => {
                    self.leaf_primitive(g).map(|p| (p, inner)).map(|x| (x, g))
                }
                _ => Err("fixed-size array of non-numbers is not read".into()),
            };
            match r {
                Ok(((p, inner), g)) => push(
                    wrap(Ok((p, inner))),
                    "array",
                    Some(Slot { field: g, pos: 0 }),
                    offsets,
                ),
                Err(e) => push(Err(e), "array", None, None),
            }
            return;
        }
        match field.role {
            ROLE_RECORD => self.members_of(f, name, collection, out),
            ROLE_COLLECTION => {
                if collection.is_some() {
                    push(
                        Err(
                            "nested collection (a collection inside a collection) is not read"
                                .into(),
                        ),
                        "collection",
                        None,
                        None,
                    );
                    return;
                }
                let slot = match self.index_slot(f) {
                    Ok(s) => s,
                    Err(e) => {
                        push(Err(e), "collection", None, None);
                        return;
                    }
                };
                let Some(&child) = field.children.first() else {
                    push(
                        Err("collection without an item field".into()),
                        "collection",
                        None,
                        None,
                    );
                    return;
                };
                let item = &self.fields[child];
                if item.role == ROLE_RECORD {
                    // A collection of records (NanoAOD's `Jet` with `Jet.pt`): members and a count.
                    self.members_of(child, name, Some(f), out);
                    out.push(View {
                        name: count_name(name),
                        type_name: "std::uint32_t".into(),
                        role: "count",
                        parent: Some(name.to_string()),
                        ctype: Ok(ColumnType {
                            primitive: Primitive::U32,
                            layout: Layout::Fixed { inner: 1 },
                        }),
                        data: None,
                        offsets: Some(slot),
                    });
                } else {
                    // A vector of numbers: one jagged column under the collection's name.
                    let mut sub = Vec::new();
                    self.views_of(child, name, parent, Some(f), &mut sub);
                    for mut v in sub {
                        v.type_name = ty.clone();
                        v.role = "collection";
                        out.push(v);
                    }
                }
            }
            _ => push(
                Err(format!(
                    "field of structural role {} (variant or streamed object) is not read",
                    field.role
                )),
                "other",
                None,
                None,
            ),
        }
    }

    /// The members of record `f` as `name.member`; base classes (`:_0`) are flattened into the
    /// record, as uproot does.
    fn members_of(&self, f: usize, name: &str, collection: Option<usize>, out: &mut Vec<View>) {
        for &m in &self.fields[f].children {
            if self.fields[m].name.starts_with(':') && self.fields[m].role == ROLE_RECORD {
                self.members_of(m, name, collection, out);
                continue;
            }
            let mname = format!("{name}.{}", self.fields[m].name);
            self.views_of(m, &mname, Some(name), collection, out);
        }
    }

    /// The view a name finds.
    pub(crate) fn view_index(&self, name: &str) -> Result<usize> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::NoBranch {
                file: self.file_name().to_string(),
                tree: self.path.clone(),
                branch: name.to_string(),
            })
    }

    pub(crate) fn view_type(&self, v: usize) -> Result<ColumnType> {
        let view = &self.views[v];
        view.ctype.clone().map_err(|ty| Error::Unsupported {
            file: self.file_name().to_string(),
            tree: self.path.clone(),
            branch: view.name.clone(),
            ty: format!("{} ({ty})", view.type_name),
        })
    }

    /// The physical column of `slot` active in cluster `cl` (the representation not suppressed
    /// there), or `None` when the cluster has no pages for it.
    pub(crate) fn active_column(&self, slot: Slot, cl: usize) -> Option<usize> {
        let cluster = &self.clusters[cl];
        self.fields[slot.field]
            .representations
            .iter()
            .filter_map(|r| r.get(slot.pos).copied())
            .find(|&c| cluster.columns.get(c).is_some_and(|cc| !cc.suppressed))
    }
}

/// NanoAOD's counter name for a collection: `nJet` for `Jet`.
fn count_name(collection: &str) -> String {
    format!("n{collection}")
}
