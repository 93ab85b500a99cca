//! The file layer: the TFile header, TKeys, directories and the streamer-info list.

use std::fmt;
use std::sync::Arc;

use crate::compress;
use crate::cursor::{Cursor, Origin};
use crate::error::{Error, Result};
use crate::source::{ByteSource, LocalFile};
use crate::streamer::{self, StreamerInfo};

/// A file's 16-byte UUID, printed the way uproot and coffea print it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The fields of the TFile header that the reader uses.
#[derive(Debug, Clone)]
pub struct FileHeader {
    pub version: i32,
    pub begin: u64,
    pub end: u64,
    pub nbytes_name: u32,
    pub compress: i32,
    pub seek_info: u64,
    pub nbytes_info: u32,
    pub uuid: Uuid,
    /// True when the file uses 64-bit seeks (ROOT's "large file" layout).
    pub large: bool,
}

/// A TKey header: where an object lives and how big it is.
#[derive(Debug, Clone)]
pub struct Key {
    pub nbytes: u32,
    pub version: i16,
    pub objlen: u32,
    pub keylen: u16,
    pub cycle: i16,
    pub seek_key: u64,
    pub seek_pdir: u64,
    pub class: String,
    pub name: String,
    pub title: String,
}

impl Key {
    fn parse(c: &mut Cursor<'_>) -> Result<Key> {
        let nbytes = c.i32()?;
        let version = c.i16()?;
        let objlen = c.i32()?;
        let _datime = c.u32()?;
        let keylen = c.i16()?;
        let cycle = c.i16()?;
        let (seek_key, seek_pdir) = if version > 1000 {
            (c.i64()?, c.i64()?)
        } else {
            (c.i32()? as i64, c.i32()? as i64)
        };
        if nbytes < 0 || objlen < 0 || keylen < 0 || seek_key < 0 || seek_pdir < 0 {
            return Err(c.error(format!(
                "TKey with negative field (Nbytes {nbytes}, ObjLen {objlen}, KeyLen {keylen}, SeekKey {seek_key})"
            )));
        }
        Ok(Key {
            nbytes: nbytes as u32,
            version,
            objlen: objlen as u32,
            keylen: keylen as u16,
            cycle,
            seek_key: seek_key as u64,
            seek_pdir: seek_pdir as u64,
            class: c.tstring()?,
            name: c.tstring()?,
            title: c.tstring()?,
        })
    }

    pub fn is_directory(&self) -> bool {
        matches!(self.class.as_str(), "TDirectory" | "TDirectoryFile")
    }
}

/// One directory's keys.
#[derive(Debug, Clone)]
pub struct Directory {
    pub path: String,
    pub keys: Vec<Key>,
}

impl Directory {
    /// The key of `name` with the highest cycle, or the given cycle for `name;N`.
    pub fn key(&self, name: &str) -> Option<&Key> {
        let (name, cycle) = match name.rsplit_once(';') {
            Some((n, c)) => match c.parse::<i16>() {
                Ok(c) => (n, Some(c)),
                Err(_) => (name, None),
            },
            None => (name, None),
        };
        self.keys
            .iter()
            .filter(|k| k.name == name && cycle.is_none_or(|c| k.cycle == c))
            .max_by_key(|k| k.cycle)
    }
}

/// An open ROOT file.
pub struct RootFile {
    source: Arc<dyn ByteSource>,
    header: FileHeader,
    top: Directory,
}

impl fmt::Debug for RootFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootFile")
            .field("name", &self.source.name())
            .field("header", &self.header)
            .finish()
    }
}

/// Enough bytes to hold a TKey header with reasonable names; longer ones are re-read.
const KEY_PROBE: usize = 512;

impl RootFile {
    /// Open a local file.
    pub fn open(path: &str) -> Result<RootFile> {
        let src = LocalFile::open(path).map_err(|source| Error::Open {
            file: path.to_string(),
            source,
        })?;
        RootFile::from_source(Arc::new(src))
    }

    /// Open a file from any byte source.
    pub fn from_source(source: Arc<dyn ByteSource>) -> Result<RootFile> {
        let name = source.name().to_string();
        let size = source.size();
        let head = read_raw(&*source, 0, (size as usize).min(128))?;
        if head.len() < 4 || &head[..4] != b"root" {
            return Err(Error::NotRoot {
                file: name,
                magic: String::from_utf8_lossy(&head[..head.len().min(4)]).into_owned(),
            });
        }
        let origin = Origin {
            file: &name,
            what: "file header",
            file_offset: Some(0),
        };
        let mut c = Cursor::new(&head, origin);
        c.skip(4)?;
        let version = c.i32()?;
        let begin = c.i32()?;
        let large = version >= 1_000_000;
        let (
            end,
            _seek_free,
            _nbytes_free,
            _nfree,
            nbytes_name,
            _units,
            compress,
            seek_info,
            nbytes_info,
        ) = if large {
            (
                c.i64()?,
                c.i64()?,
                c.i32()?,
                c.i32()?,
                c.i32()?,
                c.u8()?,
                c.i32()?,
                c.i64()?,
                c.i32()?,
            )
        } else {
            (
                c.i32()? as i64,
                c.i32()? as i64,
                c.i32()?,
                c.i32()?,
                c.i32()?,
                c.u8()?,
                c.i32()?,
                c.i32()? as i64,
                c.i32()?,
            )
        };
        let _uuid_version = c.i16()?;
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(c.bytes(16)?);
        if begin <= 0 || nbytes_name < 0 || seek_info < 0 || nbytes_info < 0 || end < 0 {
            return Err(c.error(format!(
                "TFile header has impossible fields (fBEGIN {begin}, fNbytesName {nbytes_name}, fSeekInfo {seek_info})"
            )));
        }
        // fEND is where the file ends; ROOT updates it when the file is closed. A file shorter
        // than that lost its tail (a copy cut short): the last bytes hold the directory's
        // key list and the free-segment record, whose loss nothing else would notice.
        if end as u64 > size {
            return Err(Error::Malformed {
                file: name,
                at: "the file header".into(),
                what: format!(
                    "the file is truncated: its header says it ends at byte {end}, but it has {size} bytes"
                ),
            });
        }
        let header = FileHeader {
            version,
            begin: begin as u64,
            end: end as u64,
            nbytes_name: nbytes_name as u32,
            compress,
            seek_info: seek_info as u64,
            nbytes_info: nbytes_info as u32,
            uuid: Uuid(uuid),
            large,
        };
        let mut file = RootFile {
            source,
            header,
            top: Directory {
                path: String::new(),
                keys: Vec::new(),
            },
        };
        // The top directory's record follows the TFile key's name and title.
        let dir_at = file.header.begin + file.header.nbytes_name as u64;
        let rec = file.read_bytes(dir_at, 64.min((size.saturating_sub(dir_at)) as usize))?;
        file.top.keys = file.read_dir_record(&rec, dir_at, "top directory")?;
        Ok(file)
    }

    pub fn name(&self) -> &str {
        self.source.name()
    }

    pub fn source(&self) -> &Arc<dyn ByteSource> {
        &self.source
    }

    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    pub fn uuid(&self) -> Uuid {
        self.header.uuid
    }

    pub fn top(&self) -> &Directory {
        &self.top
    }

    /// Read `len` bytes at `offset`, checked against the file size.
    pub(crate) fn read_bytes(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        read_raw(&*self.source, offset, len)
    }

    fn read_dir_record(&self, rec: &[u8], at: u64, what: &str) -> Result<Vec<Key>> {
        let name = self.name();
        let mut c = Cursor::new(
            rec,
            Origin {
                file: name,
                what,
                file_offset: Some(at),
            },
        );
        let version = c.i16()?;
        let _ctime = c.u32()?;
        let _mtime = c.u32()?;
        let _nbytes_keys = c.i32()?;
        let _nbytes_name = c.i32()?;
        let seek_keys = if version > 1000 {
            let _seek_dir = c.i64()?;
            let _seek_parent = c.i64()?;
            c.i64()?
        } else {
            let _seek_dir = c.i32()?;
            let _seek_parent = c.i32()?;
            c.i32()? as i64
        };
        if seek_keys <= 0 {
            // An empty directory written without a key list.
            return Ok(Vec::new());
        }
        self.read_key_list(seek_keys as u64)
    }

    fn read_key_list(&self, at: u64) -> Result<Vec<Key>> {
        let list_key = self.key_at(at)?;
        let bytes = self.read_bytes(at, list_key.nbytes as usize)?;
        let name = self.name();
        let mut c = Cursor::new(
            &bytes,
            Origin {
                file: name,
                what: "key list",
                file_offset: Some(at),
            },
        );
        c.seek(list_key.keylen as usize)?;
        // Each key header takes at least 26 bytes.
        let n = c.count(26, "number of keys")?;
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            keys.push(Key::parse(&mut c)?);
        }
        Ok(keys)
    }

    /// Parse the TKey header at a file offset.
    pub(crate) fn key_at(&self, at: u64) -> Result<Key> {
        let avail = self.source.size().saturating_sub(at) as usize;
        let probe = self.read_bytes(at, KEY_PROBE.min(avail))?;
        let parse = |buf: &[u8]| {
            let mut c = Cursor::new(
                buf,
                Origin {
                    file: self.name(),
                    what: "key",
                    file_offset: Some(at),
                },
            );
            Key::parse(&mut c)
        };
        match parse(&probe) {
            Ok(k) => Ok(k),
            Err(e) if probe.len() == KEY_PROBE => {
                // Long names: read the whole header using the key length (after Nbytes,
                // version, ObjLen and the date: bytes 14-15; 16-17 are the cycle).
                let keylen = i16::from_be_bytes([probe[14], probe[15]]);
                if keylen as usize <= KEY_PROBE {
                    return Err(e);
                }
                parse(&self.read_bytes(at, (keylen as usize).min(avail))?)
            }
            Err(e) => Err(e),
        }
    }

    /// The uncompressed bytes of a keyed object (without its key header).
    pub fn read_object(&self, key: &Key) -> Result<Vec<u8>> {
        if key.nbytes < key.keylen as u32 {
            return Err(Error::Malformed {
                file: self.name().to_string(),
                at: format!("byte {}", key.seek_key),
                what: format!(
                    "key of '{}' has Nbytes {} smaller than KeyLen {}",
                    key.name, key.nbytes, key.keylen
                ),
            });
        }
        let raw = self.read_bytes(
            key.seek_key + key.keylen as u64,
            (key.nbytes - key.keylen as u32) as usize,
        )?;
        if raw.len() == key.objlen as usize {
            return Ok(raw);
        }
        // The block headers are checked (sizes adding up to ObjLen, each within what its
        // bytes can produce) before a lying ObjLen can allocate anything.
        let decode_error = |e: compress::DecodeError| Error::Decompress {
            file: self.name().to_string(),
            at: format!(
                "object '{}' (key at byte {}, block at +{})",
                key.name, key.seek_key, e.offset
            ),
            what: e.what,
        };
        let blocks = compress::blocks(&raw, key.objlen as usize).map_err(decode_error)?;
        let mut out = vec![0; key.objlen as usize];
        compress::decompress_blocks(&raw, out.len(), &blocks, &mut out).map_err(decode_error)?;
        Ok(out)
    }

    /// The keys of a directory given as a `/`-separated path ("" for the top).
    pub fn directory(&self, path: &str) -> Result<Directory> {
        let mut dir = self.top.clone();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            let key = dir.key(part).ok_or_else(|| Error::NotFound {
                file: self.name().to_string(),
                name: format!("{}{part}", prefix(&dir.path)),
                hint: String::new(),
            })?;
            if !key.is_directory() {
                return Err(Error::WrongClass {
                    file: self.name().to_string(),
                    name: key.name.clone(),
                    class: key.class.clone(),
                    expected: "directory",
                });
            }
            let key = key.clone();
            let rec = self.read_object(&key)?;
            let keys = self.read_dir_record(&rec, key.seek_key, "directory record")?;
            dir = Directory {
                path: format!("{}{}", prefix(&dir.path), key.name),
                keys,
            };
        }
        Ok(dir)
    }

    /// Find a key by path (`dir/sub/name`, optionally `;cycle`).
    pub fn key(&self, path: &str) -> Result<Key> {
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", path),
        };
        let d = self.directory(dir)?;
        d.key(name).cloned().ok_or_else(|| {
            // Each name once: a tree written in several cycles has a key per cycle.
            let mut trees: Vec<&str> = Vec::new();
            for k in d
                .keys
                .iter()
                .filter(|k| k.class == "TTree" || k.is_directory())
            {
                if !trees.contains(&k.name.as_str()) {
                    trees.push(&k.name);
                }
            }
            Error::NotFound {
                file: self.name().to_string(),
                name: path.to_string(),
                hint: if trees.is_empty() {
                    String::new()
                } else {
                    format!(" (trees and directories here: {})", trees.join(", "))
                },
            }
        })
    }

    /// All keys in all directories, depth first, with their paths.
    pub fn walk(&self) -> Result<Vec<(String, Key)>> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(path) = stack.pop() {
            let dir = self.directory(&path)?;
            let mut seen = std::collections::HashSet::new();
            for k in &dir.keys {
                let full = format!("{}{}", prefix(&path), k.name);
                if k.is_directory() {
                    if seen.insert(k.name.clone()) {
                        stack.push(full.clone());
                    } else {
                        continue;
                    }
                }
                out.push((full, k.clone()));
            }
        }
        Ok(out)
    }

    /// The TStreamerInfo list: the classes (and versions) the file was written with.
    pub fn streamer_infos(&self) -> Result<Vec<StreamerInfo>> {
        if self.header.seek_info == 0 {
            return Ok(Vec::new());
        }
        let key = self.key_at(self.header.seek_info)?;
        let bytes = self.read_object(&key)?;
        streamer::parse_list(&bytes, key.keylen as usize, self.name())
    }
}

fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    }
}

/// Read bytes, refusing ranges outside the file so a lying offset fails fast and by name.
pub(crate) fn read_raw(source: &dyn ByteSource, offset: u64, len: usize) -> Result<Vec<u8>> {
    let size = source.size();
    if offset.checked_add(len as u64).is_none_or(|end| end > size) {
        return Err(Error::Malformed {
            file: source.name().to_string(),
            at: format!("byte {offset}"),
            what: format!("{len} bytes requested but the file has only {size} (truncated file?)"),
        });
    }
    let mut buf = vec![0; len];
    source.read_at(offset, &mut buf).map_err(|e| Error::Io {
        file: source.name().to_string(),
        offset,
        len,
        source: e,
    })?;
    Ok(buf)
}
