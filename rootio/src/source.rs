//! Where the bytes come from. The reader never touches files directly: it asks a [`ByteSource`]
//! for ranges, so the same code reads local files, memory and (later) XRootD, and the I/O layer
//! can coalesce the ranges of a [`crate::ReadPlan`] into vector reads.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A byte range in a file: `len` bytes starting at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ByteRange {
    pub offset: u64,
    pub len: usize,
}

/// Random access to the bytes of one file. Implementations must be usable from several threads
/// at once (decompression is parallel, and the wrapper reads ahead).
pub trait ByteSource: Send + Sync {
    /// A name for messages: the path or URL.
    fn name(&self) -> &str;
    /// Total size in bytes.
    fn size(&self) -> u64;
    /// Fill `buf` with the bytes at `offset`; a short read is an error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Read several ranges. The default reads them one after the other; remote sources override
    /// it with a vector read.
    fn read_ranges(&self, ranges: &[ByteRange]) -> io::Result<Vec<Vec<u8>>> {
        ranges.iter().map(|r| read_range(self, r)).collect()
    }
    /// Bytes read so far and number of read requests, for metrics.
    fn stats(&self) -> ReadStats {
        ReadStats::default()
    }
}

fn read_range<S: ByteSource + ?Sized>(source: &S, r: &ByteRange) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; r.len];
    source.read_at(r.offset, &mut buf)?;
    Ok(buf)
}

/// Counters kept by a source.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct ReadStats {
    pub bytes: u64,
    pub requests: u64,
}

/// A local file read with `pread`, so it is shared between threads without a lock.
pub struct LocalFile {
    name: String,
    file: File,
    size: u64,
    bytes: AtomicU64,
    requests: AtomicU64,
}

impl LocalFile {
    /// Open a local path (a `file:` URL prefix is accepted and stripped).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let s = path.to_string_lossy();
        let stripped = s
            .strip_prefix("file://")
            .or_else(|| s.strip_prefix("file:"));
        let real = stripped.map(Path::new).unwrap_or(path);
        let file = File::open(real)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a directory",
            ));
        }
        Ok(LocalFile {
            name: s.into_owned(),
            file,
            size: meta.len(),
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }
}

impl ByteSource for LocalFile {
    fn name(&self) -> &str {
        &self.name
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.file.read_exact_at(buf, offset)
    }
    /// Local reads are cheap system calls; issue them from all threads so copying from the
    /// page cache does not serialise a parallel decode.
    fn read_ranges(&self, ranges: &[ByteRange]) -> io::Result<Vec<Vec<u8>>> {
        use rayon::prelude::*;
        ranges.par_iter().map(|r| read_range(self, r)).collect()
    }
    fn stats(&self) -> ReadStats {
        ReadStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }
}

/// A file held in memory: for tests, fuzzing and files already fetched whole.
pub struct MemSource {
    name: String,
    data: Vec<u8>,
}

impl MemSource {
    pub fn new(name: impl Into<String>, data: Vec<u8>) -> Self {
        MemSource {
            name: name.into(),
            data,
        }
    }
}

impl ByteSource for MemSource {
    fn name(&self) -> &str {
        &self.name
    }
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        match start
            .checked_add(buf.len())
            .and_then(|end| self.data.get(start..end))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the file",
            )),
        }
    }
}
