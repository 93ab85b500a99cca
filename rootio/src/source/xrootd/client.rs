//! A [`ByteSource`] over XRootD: an ordered list of URLs (an XCache first, then the origin),
//! deadlines on every request, bounded retries with backoff, and vector reads of coalesced
//! ranges. The client itself (`XrdFile`: one open file, its deadlines and classified errors)
//! is `xrd-sys`; what to do when it fails is decided here, on the reader's side.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use xrd_sys::{XrdError, XrdFile};

use crate::source::{
    is_permanent, ByteRange, ByteSource, ReadStats, RemoteOptions, COALESCE_BELOW,
};

/// The open file in use and which URL it came from.
struct Active {
    file: Arc<XrdFile>,
    index: usize,
    generation: u64,
}

struct State {
    active: Option<Active>,
    /// The URL to open next.
    next: usize,
    generation: u64,
}

/// A remote ROOT file read through XrdCl. Cheap to share between threads.
pub struct XrdSource {
    name: String,
    urls: Vec<String>,
    opts: RemoteOptions,
    size: OnceLock<u64>,
    state: Mutex<State>,
    bytes: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
}

impl std::fmt::Debug for XrdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XrdSource")
            .field("name", &self.name)
            .field("urls", &self.urls)
            .finish()
    }
}

impl XrdSource {
    /// Open an input. `name` is what messages call it (the URL of the job spec); `urls` are
    /// tried in order (see [`super::input_urls`]). Fails with the last error once every URL
    /// failed in `attempts` rounds, or at once after a round with a permanent failure.
    pub fn open(
        name: impl Into<String>,
        urls: Vec<String>,
        opts: RemoteOptions,
    ) -> Result<XrdSource, XrdError> {
        let name = name.into();
        if urls.is_empty() {
            return Err(XrdError::InvalidUrl {
                url: name,
                reason: "no URL to open".into(),
            });
        }
        let src = XrdSource {
            name,
            urls,
            opts,
            size: OnceLock::new(),
            state: Mutex::new(State {
                active: None,
                next: 0,
                generation: 0,
            }),
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        };
        src.run(|_| Ok(()))?;
        Ok(src)
    }

    /// The URLs tried, in order.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Failed attempts so far (each retried or reported).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The open file, opening the next URL if there is none.
    fn current(&self) -> Result<(Arc<XrdFile>, usize, u64), (usize, XrdError)> {
        let mut st = self.state.lock().expect("xrd state lock");
        if let Some(a) = &st.active {
            return Ok((a.file.clone(), a.index, a.generation));
        }
        // Opening under the lock: threads that need the file wait for this open instead of
        // all connecting at once.
        let index = st.next;
        let url = &self.urls[index];
        let file = XrdFile::open_with(url, self.opts.open_timeout, self.opts.read_timeout)
            .map_err(|e| (index, e))?;
        let size = *self.size.get_or_init(|| file.size());
        if file.size() != size {
            return Err((
                index,
                XrdError::Data {
                    url: url.clone(),
                    kind: io::ErrorKind::InvalidData,
                    message: format!(
                        "{} bytes here but {size} bytes at the URL opened first: not the same file",
                        file.size()
                    ),
                },
            ));
        }
        st.generation += 1;
        let file = Arc::new(file);
        st.active = Some(Active {
            file: file.clone(),
            index,
            generation: st.generation,
        });
        Ok((file, index, st.generation))
    }

    /// Stop using the file (or URL) that failed; the next call opens the following URL.
    fn failed(&self, index: usize, generation: Option<u64>) {
        let mut st = self.state.lock().expect("xrd state lock");
        let current = match (&st.active, generation) {
            (Some(a), Some(g)) => a.generation == g,
            (None, None) => st.next == index,
            _ => false,
        };
        if current {
            st.active = None;
            st.next = (index + 1) % self.urls.len();
        }
    }

    /// Run `op` on the current file with retries: on a failure go to the next URL; after a
    /// failed round pause and start again, for `attempts` rounds; stop after a round with a
    /// permanent failure.
    fn run<T>(&self, op: impl Fn(&XrdFile) -> Result<T, XrdError>) -> Result<T, XrdError> {
        let n = self.urls.len();
        let attempts = self.opts.attempts.max(1);
        let mut errors: Vec<XrdError> = Vec::new();
        let (mut round, mut tried, mut permanent) = (1u32, 0usize, false);
        loop {
            let e = match self.current() {
                Ok((file, index, generation)) => match op(&file) {
                    Ok(v) => return Ok(v),
                    Err(e) => {
                        self.failed(index, Some(generation));
                        e
                    }
                },
                Err((index, e)) => {
                    self.failed(index, None);
                    e
                }
            };
            self.failures.fetch_add(1, Ordering::Relaxed);
            permanent |= is_permanent(e.io_kind());
            errors.push(e);
            tried += 1;
            if tried < n {
                continue;
            }
            if permanent || round >= attempts {
                return Err(self.give_up(errors));
            }
            std::thread::sleep(self.opts.pause(round));
            round += 1;
            tried = 0;
        }
    }

    fn give_up(&self, mut errors: Vec<XrdError>) -> XrdError {
        if errors.len() == 1 {
            return errors.pop().expect("one error");
        }
        let attempts = errors.len() as u32;
        let mut tried: Vec<&str> = Vec::new();
        for e in &errors {
            if !tried.contains(&e.url()) {
                tried.push(e.url());
            }
        }
        let tried = tried.join(", ");
        // A permanent answer (the file is not there) explains more than the timeouts around it.
        let last = match errors.iter().rposition(|e| is_permanent(e.io_kind())) {
            Some(i) => errors.swap_remove(i),
            None => errors.pop().expect("errors"),
        };
        XrdError::Exhausted {
            name: self.name.clone(),
            attempts,
            tried,
            last: Box::new(last),
        }
    }

    fn past_end(&self, offset: u64, len: usize) -> Option<io::Error> {
        let size = self.size();
        let end = offset.checked_add(len as u64);
        end.is_none_or(|e| e > size).then(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: {len} bytes at byte {offset} lie past the end of the file ({size} bytes)",
                    self.name
                ),
            )
        })
    }

    fn count(&self, requests: u64, bytes: u64) {
        self.requests.fetch_add(requests, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Ranges merged for one vector read: the extent and, per member, (index in the request,
/// offset inside the extent, length).
struct Extent {
    offset: u64,
    len: usize,
    members: Vec<(usize, usize, usize)>,
}

/// Merge small ranges whose gaps are at most `gap` bytes, in offset order; overlapping ranges
/// always share an extent.
fn coalesce(ranges: &[ByteRange], gap: u64) -> Vec<Extent> {
    let mut order: Vec<usize> = (0..ranges.len()).filter(|&i| ranges[i].len > 0).collect();
    order.sort_by_key(|&i| ranges[i].offset);
    let mut out: Vec<Extent> = Vec::new();
    for i in order {
        let r = ranges[i];
        let end = r.offset + r.len as u64;
        match out.last_mut() {
            Some(x)
                if r.offset < x.offset + x.len as u64
                    || (r.offset <= x.offset + x.len as u64 + gap
                        && x.len < COALESCE_BELOW
                        && r.len < COALESCE_BELOW) =>
            {
                let new_end = end.max(x.offset + x.len as u64);
                x.len = (new_end - x.offset) as usize;
                x.members.push((i, (r.offset - x.offset) as usize, r.len));
            }
            _ => out.push(Extent {
                offset: r.offset,
                len: r.len,
                members: vec![(i, 0, r.len)],
            }),
        }
    }
    out
}

/// Requests one vector read of these lengths takes (the server's limits, as the shim cuts).
fn readv_requests(lens: impl Iterator<Item = usize>) -> u64 {
    let max_len = xrd_sys::sys::XRD_READV_MAX_CHUNK_LEN as usize;
    let chunks: usize = lens.map(|l| l.div_ceil(max_len)).sum();
    chunks.div_ceil(xrd_sys::sys::XRD_READV_MAX_CHUNKS as usize) as u64
}

impl ByteSource for XrdSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn size(&self) -> u64 {
        self.size.get().copied().unwrap_or(0)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if let Some(e) = self.past_end(offset, buf.len()) {
            return Err(e);
        }
        if buf.is_empty() {
            return Ok(());
        }
        let len = buf.len();
        let data = self.run(|f| {
            let d = f.read(offset, len, self.opts.read_timeout)?;
            if d.len() < len {
                return Err(XrdError::Data {
                    url: f.url().to_string(),
                    kind: io::ErrorKind::UnexpectedEof,
                    message: format!(
                        "short read: {} of {len} bytes at byte {offset} (the file is shorter \
                         than its size, {} bytes)",
                        d.len(),
                        f.size()
                    ),
                });
            }
            Ok(d)
        })?;
        self.count(1, len as u64);
        buf.copy_from_slice(&data);
        Ok(())
    }

    fn read_ranges(&self, ranges: &[ByteRange]) -> io::Result<Vec<Vec<u8>>> {
        if let Some(e) = ranges.iter().find_map(|r| self.past_end(r.offset, r.len)) {
            return Err(e);
        }
        if !self.opts.vector_reads {
            return ranges
                .iter()
                .map(|r| {
                    let mut buf = vec![0; r.len];
                    self.read_at(r.offset, &mut buf).map(|()| buf)
                })
                .collect();
        }
        let extents = coalesce(ranges, self.opts.coalesce_gap);
        let want: Vec<(u64, usize)> = extents.iter().map(|x| (x.offset, x.len)).collect();
        let data = self.run(|f| f.read_vectored(&want, self.opts.read_timeout))?;
        self.count(
            readv_requests(want.iter().map(|w| w.1)),
            want.iter().map(|w| w.1 as u64).sum(),
        );
        let mut out: Vec<Vec<u8>> = vec![Vec::new(); ranges.len()];
        for (x, buf) in extents.into_iter().zip(data) {
            if let [(i, 0, len)] = x.members[..] {
                if len == buf.len() {
                    out[i] = buf;
                    continue;
                }
            }
            for (i, at, len) in x.members {
                out[i] = buf[at..at + len].to_vec();
            }
        }
        Ok(out)
    }

    fn stats(&self) -> ReadStats {
        ReadStats {
            bytes: self.bytes.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    /// `host:port` of the server serving now (after redirects: XrdCl's data server, else the
    /// server of the URL opened), or before any open the server the input's URL names.
    fn server(&self) -> String {
        let st = self.state.lock().expect("xrd state lock");
        let url = match &st.active {
            Some(a) if !a.file.server().is_empty() => return a.file.server().to_string(),
            Some(a) => a.file.url(),
            None => &self.name,
        };
        super::server_of(url).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(offset: u64, len: usize) -> ByteRange {
        ByteRange { offset, len }
    }

    #[test]
    fn near_ranges_merge_and_keep_their_places() {
        let ranges = [r(1000, 10), r(0, 100), r(110, 50), r(5000, 1), r(0, 0)];
        let x = coalesce(&ranges, 16);
        assert_eq!(x.len(), 3);
        assert_eq!((x[0].offset, x[0].len), (0, 160));
        assert_eq!(x[0].members, vec![(1, 0, 100), (2, 110, 50)]);
        assert_eq!((x[1].offset, x[1].len), (1000, 10));
        assert_eq!((x[2].offset, x[2].len), (5000, 1));
        // Overlaps and duplicates are one extent.
        let x = coalesce(&[r(0, 100), r(50, 10), r(0, 100)], 0);
        assert_eq!(x.len(), 1);
        assert_eq!(x[0].len, 100);
        // Large ranges stay apart, even when adjacent: no copy to split them.
        let big = COALESCE_BELOW;
        let x = coalesce(&[r(0, big), r(big as u64, 10), r(big as u64 + 10, big)], 16);
        assert_eq!(x.len(), 3);
    }

    /// The binding's classes are the reader's: what the server says is missing or forbidden
    /// ends the retries, a dropped or hung connection does not.
    #[test]
    fn the_bindings_error_classes_drive_the_retries() {
        let e = |code: u16, errnum: u32, timed_out: bool| XrdError::Client {
            url: "root://h:1//f".into(),
            op: "read",
            status: 1,
            code,
            errnum,
            timed_out,
            message: String::new(),
        };
        assert!(is_permanent(e(400, 3011, false).io_kind()), "not found");
        assert!(
            is_permanent(e(400, 3010, false).io_kind()),
            "not authorised"
        );
        assert!(is_permanent(e(101, 0, false).io_kind()), "invalid address");
        for (code, errnum) in [(108, 0), (104, 0), (206, 0), (400, 3024), (400, 3012)] {
            assert!(
                !is_permanent(e(code, errnum, false).io_kind()),
                "{code}/{errnum}"
            );
        }
        assert!(
            !is_permanent(e(400, 3011, true).io_kind()),
            "a deadline, whatever came"
        );
    }

    #[test]
    fn vector_reads_are_counted_as_the_server_sees_them() {
        assert_eq!(readv_requests([10usize; 1024].into_iter()), 1);
        assert_eq!(readv_requests([10usize; 1025].into_iter()), 2);
        assert_eq!(readv_requests([5 << 20].into_iter()), 1);
        assert_eq!(readv_requests(std::iter::empty()), 0);
    }
}
