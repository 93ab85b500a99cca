//! Loading the shim at the first remote open. The shim (`libxrd_shim.so`, linked against
//! libXrdCl and libstdc++) is embedded in the binary, written to an anonymous memory file and
//! dlopened from there, so the program stays one file and needs XRootD on the host only when
//! it actually reads a `root://` URL.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::sys::XrdShim;

/// The shim built by build.rs.
static SHIM_SO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libxrd_shim.so"));

/// The loaded shim: the raw bindings plus what was applied to XrdCl.
pub struct Shim {
    pub(crate) lib: XrdShim,
    version: String,
}

// SAFETY: the bindings are plain function pointers into a library that stays loaded for the
// life of the process (the OnceLock below never drops it); the shim's functions are safe to
// call from any thread.
unsafe impl Send for Shim {}
unsafe impl Sync for Shim {}

impl Shim {
    /// The XRootD client's version (`v5.5.3`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// An XrdCl integer setting as XrdCl will use it (e.g. `"RequestTimeout"`).
    pub fn setting(&self, key: &str) -> Option<i32> {
        let key = CString::new(key).ok()?;
        let mut v = 0;
        // SAFETY: `key` is a valid C string, `v` a valid out-pointer.
        (unsafe { self.lib.xrd_get_int(key.as_ptr(), &mut v) } == 1).then_some(v)
    }
}

/// Why the shim could not be loaded: XRootD is unusable on this host. The sources are shared
/// (`Arc`) because the one outcome is kept for the whole process and handed to every caller.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The library named by `CASA_XRD_SHIM`, or the embedded one once written out, would not
    /// load (typically: libXrdCl is not installed).
    #[error("{path}: {source}")]
    Library {
        path: String,
        #[source]
        source: Arc<libloading::Error>,
    },
    /// The embedded shim could not be written to an anonymous memory file.
    #[error("{step}: {source}")]
    Memfd {
        step: &'static str,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The embedded shim could not be written to a temporary file.
    #[error("{path}: {source}")]
    TempFile {
        path: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// Neither a memory file nor a temporary file worked: both reasons.
    #[error("{memfd}; {temp_file}")]
    Both {
        memfd: Box<LoadError>,
        temp_file: Box<LoadError>,
    },
}

/// The name the embedded shim's load failures are reported under.
const EMBEDDED: &str = "libxrd_shim.so (embedded)";

static SHIM: OnceLock<Result<Shim, LoadError>> = OnceLock::new();

/// Load the shim (once per process) and apply casa's XrdCl settings, derived from the
/// deadlines of the first caller. `Err` says why XRootD is unusable on this host.
pub fn load(open_timeout: Duration, read_timeout: Duration) -> Result<&'static Shim, LoadError> {
    SHIM.get_or_init(|| {
        let lib = open_library()?;
        // SAFETY: xrd_version returns a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(lib.xrd_version()) }
            .to_string_lossy()
            .into_owned();
        let shim = Shim { lib, version };
        for (key, value) in client_settings(open_timeout, read_timeout) {
            let k = CString::new(key).expect("no NUL in setting names");
            // SAFETY: valid C string. A 0 return means an XRD_* variable set by the site
            // already fixes the value, which is meant to win.
            unsafe { shim.lib.xrd_set_int(k.as_ptr(), value) };
        }
        Ok(shim)
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The version of the loaded XRootD client, if it was loaded.
pub fn version() -> Option<&'static str> {
    SHIM.get()?.as_ref().ok().map(Shim::version)
}

/// The XrdCl settings casa applies before the first request (an `XRD_*` environment
/// variable overrides each). XrdCl's defaults let a dead server hold a job for 8 minutes
/// (5 connection attempts in 120 s windows) and a hung one for 12 (RequestTimeout 1800 s,
/// checked every 15 s); the shim enforces casa's deadlines regardless, these make XrdCl give
/// up at about the same time and clean up behind it.
pub fn client_settings(open_timeout: Duration, read_timeout: Duration) -> Vec<(&'static str, i32)> {
    let secs = |d: Duration| d.as_secs_f64().ceil().clamp(1.0, 65_535.0) as i32;
    vec![
        ("TimeoutResolution", 1),
        // One connection attempt per request: retries are ours, with backoff and fallbacks.
        ("ConnectionRetry", 1),
        ("ConnectionWindow", secs(open_timeout)),
        ("RequestTimeout", secs(read_timeout)),
        ("StreamTimeout", secs(read_timeout)),
        // XrdCl refuses to reconnect to a server for this long after a fatal error (1800 s
        // by default): a restarted server would stay unusable for the rest of the job.
        ("StreamErrorWindow", 0),
    ]
}

fn library_error(path: &str) -> impl FnOnce(libloading::Error) -> LoadError + '_ {
    move |e| LoadError::Library {
        path: path.to_string(),
        source: Arc::new(e),
    }
}

fn open_library() -> Result<XrdShim, LoadError> {
    // For debugging or a site-built shim.
    if let Some(path) = std::env::var_os("CASA_XRD_SHIM") {
        // SAFETY: loading a library runs its initialisers; the shim's are XrdCl's.
        return unsafe { XrdShim::new(&path) }.map_err(library_error(&path.to_string_lossy()));
    }
    match from_memfd() {
        Ok(lib) => Ok(lib),
        // Kernels or policies without executable memfds: a temporary file instead.
        Err(memfd) => from_temp_file().map_err(|tmp| LoadError::Both {
            memfd: Box::new(memfd),
            temp_file: Box::new(tmp),
        }),
    }
}

fn from_memfd() -> Result<XrdShim, LoadError> {
    let memfd = |step| {
        move |e| LoadError::Memfd {
            step,
            source: Arc::new(e),
        }
    };
    // SAFETY: a valid C string name and flags; the fd is checked before use.
    let fd = unsafe { libc::memfd_create(c"casa-xrd-shim".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(memfd("memfd_create")(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(SHIM_SO)
        .map_err(memfd("writing the XRootD shim to a memfd"))?;
    let path = format!("/proc/self/fd/{fd}");
    // SAFETY: as above; the mapping outlives the descriptor, closed when `file` drops.
    unsafe { XrdShim::new(&path) }.map_err(library_error(EMBEDDED))
}

fn from_temp_file() -> Result<XrdShim, LoadError> {
    let path = std::env::temp_dir().join(format!("casa-xrd-shim-{}.so", std::process::id()));
    std::fs::write(&path, SHIM_SO).map_err(|e| LoadError::TempFile {
        path: path.display().to_string(),
        source: Arc::new(e),
    })?;
    // SAFETY: as above. The file can go once it is mapped.
    let lib = unsafe { XrdShim::new(&path) };
    let _ = std::fs::remove_file(&path);
    lib.map_err(library_error(EMBEDDED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_that_will_not_load_is_named_and_keeps_its_cause() {
        let path = "/nonexistent/libxrd_shim.so";
        // SAFETY: the path does not exist, so nothing is loaded.
        let e = unsafe { XrdShim::new(path) }
            .map_err(library_error(path))
            .err()
            .expect("no library there");
        let text = e.to_string();
        assert!(text.starts_with("/nonexistent/libxrd_shim.so: "), "{text}");
        let cause = std::error::Error::source(&e).expect("dlopen's error is kept");
        assert!(text.ends_with(&cause.to_string()), "{text}");
        let both = LoadError::Both {
            memfd: Box::new(e.clone()),
            temp_file: Box::new(e),
        };
        assert_eq!(both.to_string(), format!("{text}; {text}"));
    }
}
