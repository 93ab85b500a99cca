//! Local files: plain paths and `file:` URLs, read with `pread`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{read_range, ByteRange, ByteSource, ReadStats};

/// The path of a `file:` URL (`file:///data/x.root`, `file:x.root`); a plain path as it is.
pub(super) fn strip_file_url(url: &str) -> &str {
    url.strip_prefix("file://")
        .or_else(|| url.strip_prefix("file:"))
        .unwrap_or(url)
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
    /// Open a local path (a `file:` URL prefix is accepted and stripped; the name keeps it).
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let s = path.to_string_lossy();
        let file = File::open(strip_file_url(&s))?;
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
