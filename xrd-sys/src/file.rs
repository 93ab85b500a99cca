//! One open remote file: the safe face of the shim's `xrd_file`.
#![allow(unsafe_code)]

use std::ffi::{c_char, CString};
use std::io;
use std::ptr::NonNull;
use std::time::Duration;

use crate::loader::{self, Shim};
use crate::{sys, XrdError};

/// An open `root://` file. Reads may come from several threads at once: XrdCl serialises
/// requests on its connection and answers them from its own thread pool.
pub struct XrdFile {
    shim: &'static Shim,
    ptr: NonNull<sys::xrd_file>,
    url: String,
    server: String,
    size: u64,
}

// SAFETY: XrdCl::File is thread-safe for concurrent reads (its state has its own mutex, and
// every request owns its handler); the pointer is only freed in Drop, when no reader is left.
unsafe impl Send for XrdFile {}
unsafe impl Sync for XrdFile {}

fn status() -> sys::xrd_status {
    sys::xrd_status {
        status: 0,
        code: 0,
        errnum: 0,
        timed_out: 0,
        pending: 0,
        message: [0; 512],
    }
}

/// Milliseconds for the shim: at least 1 (0 would mean no deadline).
fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

/// A buffer XrdCl may still write into after the shim gave up waiting: never freed.
fn abandon(bufs: Vec<Vec<u8>>) {
    for b in bufs {
        std::mem::forget(b);
    }
}

impl XrdFile {
    /// Open `url` for reading and stat its size, both within `timeout`.
    pub fn open(url: &str, timeout: Duration) -> Result<XrdFile, XrdError> {
        Self::open_with(url, timeout, timeout)
    }

    /// As [`XrdFile::open`]; `read_timeout` only shapes XrdCl's own settings if this is the
    /// first file of the process.
    pub fn open_with(
        url: &str,
        timeout: Duration,
        read_timeout: Duration,
    ) -> Result<XrdFile, XrdError> {
        let shim = loader::load(timeout, read_timeout).map_err(|reason| XrdError::Unavailable {
            url: url.to_string(),
            reason,
        })?;
        let curl = CString::new(url).map_err(|_| XrdError::InvalidUrl {
            url: url.to_string(),
            reason: "contains a NUL byte".into(),
        })?;
        // One deadline for the open and the stat together, as the caller's open timeout means.
        let deadline = std::time::Instant::now() + timeout;
        let mut st = status();
        // SAFETY: valid C string and out-pointer; the shim returns NULL or an owned file.
        let raw = unsafe { shim.lib.xrd_open(curl.as_ptr(), millis(timeout), &mut st) };
        let ptr = NonNull::new(raw).ok_or_else(|| XrdError::from_status(url, "open", &st))?;
        let mut file = XrdFile {
            shim,
            ptr,
            url: url.to_string(),
            server: String::new(),
            size: 0,
        };
        let mut buf = [0 as c_char; 256];
        // SAFETY: buffer and its length; the shim NUL-terminates within it.
        if unsafe {
            shim.lib
                .xrd_data_server(ptr.as_ptr(), buf.as_mut_ptr(), buf.len())
        } == 1
        {
            let s: Vec<u8> = buf
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            let s = String::from_utf8_lossy(&s);
            // "user@host:port" or a URL: keep host:port, the metrics key.
            let s = s.trim_start_matches("root://").trim_end_matches('/');
            let s = s.rsplit_once('@').map_or(s, |(_, h)| h);
            if !s.is_empty() {
                file.server = s.to_string();
            }
        }
        let mut size = 0u64;
        let mut st = status();
        // SAFETY: live file, valid out-pointers.
        if unsafe {
            shim.lib.xrd_size(
                ptr.as_ptr(),
                millis(deadline.saturating_duration_since(std::time::Instant::now())),
                &mut size,
                &mut st,
            )
        } != 0
        {
            return Err(XrdError::from_status(url, "stat", &st));
        }
        file.size = size;
        Ok(file)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// `host:port` of the server holding the file (after redirects); empty when XrdCl does
    /// not say (the URL's own server is then the best guess, which the caller can parse).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Size in bytes, from the stat at open.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Read up to `len` bytes at `offset`: fewer only at the end of the file.
    pub fn read(&self, offset: u64, len: usize, timeout: Duration) -> Result<Vec<u8>, XrdError> {
        let mut out: Vec<u8> = Vec::with_capacity(len);
        while out.len() < len {
            // XrdCl lengths are 32-bit.
            let want = (len - out.len()).min(1 << 30) as u32;
            let mut piece: Vec<u8> = Vec::with_capacity(want as usize);
            let mut got = 0u32;
            let mut st = status();
            // SAFETY: `piece` has capacity for `want` bytes; on success the shim reports how
            // many it wrote. If the deadline passed with the read in flight, the buffer is
            // abandoned below, never freed or reused.
            let rc = unsafe {
                self.shim.lib.xrd_read(
                    self.ptr.as_ptr(),
                    offset + out.len() as u64,
                    want,
                    piece.as_mut_ptr().cast(),
                    &mut got,
                    millis(timeout),
                    &mut st,
                )
            };
            if rc != 0 {
                if st.pending != 0 {
                    abandon(vec![piece]);
                }
                return Err(XrdError::from_status(&self.url, "read", &st));
            }
            // SAFETY: the shim wrote `got` <= `want` bytes.
            unsafe { piece.set_len((got as usize).min(want as usize)) };
            if out.is_empty() {
                out = piece;
            } else {
                out.extend_from_slice(&piece);
            }
            if got < want {
                break;
            }
        }
        Ok(out)
    }

    /// Read every `(offset, len)` range with vector reads (split to the server's limits by
    /// the shim, all requests in flight at once). All or nothing: a range past the end of
    /// the file is an error.
    pub fn read_vectored(
        &self,
        ranges: &[(u64, usize)],
        timeout: Duration,
    ) -> Result<Vec<Vec<u8>>, XrdError> {
        if let Some(&(o, l)) = ranges
            .iter()
            .find(|&&(o, l)| o.checked_add(l as u64).is_none_or(|end| end > self.size))
        {
            return Err(XrdError::Data {
                url: self.url.clone(),
                kind: io::ErrorKind::UnexpectedEof,
                message: format!(
                    "{l} bytes at byte {o} lie past the end of the file ({} bytes)",
                    self.size
                ),
            });
        }
        let mut bufs: Vec<Vec<u8>> = ranges.iter().map(|&(_, l)| Vec::with_capacity(l)).collect();
        let mut chunks = Vec::with_capacity(ranges.len());
        for (&(offset, len), buf) in ranges.iter().zip(bufs.iter_mut()) {
            // The shim's chunk lengths are 32-bit; it cuts them further to the server's limit.
            let base = buf.as_mut_ptr();
            let mut done = 0usize;
            while done < len {
                let n = (len - done).min(1 << 30);
                chunks.push(sys::xrd_chunk {
                    offset: offset + done as u64,
                    length: n as u32,
                    // SAFETY: within the buffer's capacity.
                    buffer: unsafe { base.add(done) }.cast(),
                });
                done += n;
            }
        }
        let mut st = status();
        // SAFETY: every chunk points into a buffer with room for it; on a pending deadline
        // the buffers are abandoned.
        let rc = unsafe {
            self.shim.lib.xrd_readv(
                self.ptr.as_ptr(),
                chunks.as_ptr(),
                chunks.len(),
                millis(timeout),
                &mut st,
            )
        };
        if rc != 0 {
            if st.pending != 0 {
                abandon(bufs);
            }
            return Err(XrdError::from_status(&self.url, "vector read", &st));
        }
        for (buf, &(_, len)) in bufs.iter_mut().zip(ranges) {
            // SAFETY: the shim succeeds only when every byte of every chunk arrived.
            unsafe { buf.set_len(len) };
        }
        Ok(bufs)
    }
}

impl Drop for XrdFile {
    fn drop(&mut self) {
        // SAFETY: the pointer came from xrd_open and is freed once; no reads remain (&mut).
        unsafe { self.shim.lib.xrd_close(self.ptr.as_ptr()) };
    }
}

impl std::fmt::Debug for XrdFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XrdFile")
            .field("url", &self.url)
            .field("server", &self.server)
            .field("size", &self.size)
            .finish()
    }
}
