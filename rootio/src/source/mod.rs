//! Where the bytes come from. The reader never touches files directly: it asks a [`ByteSource`]
//! for ranges, so the same code reads local files, memory and XRootD, and the I/O layer can
//! coalesce the ranges of a [`crate::ReadPlan`] into vector reads.
//!
//! One module per storage, chosen by the input's URL scheme in [`open_input`] (the one place
//! that decides, for the job wrapper, `inspect` and `preprocess` alike):
//!
//! | scheme | module | source |
//! |---|---|---|
//! | a path, `file:` | `local` | [`LocalFile`] (pread, shared by threads) |
//! | `root://`, `roots://`, `xroot://` | `xrootd` | `XrdSource` through `xrd-sys` (cargo feature `xrootd`) |
//! | — | `mem` | [`MemSource`] (tests, fuzzing, files fetched whole) |
//!
//! A new storage (`https://`, `s3://`) is one new sibling module with a `ByteSource` and an
//! `open`, plus its arm in [`Scheme`]; nothing above this module changes.

use std::io;

mod local;
mod mem;
pub mod xrootd;

pub use local::LocalFile;
pub use mem::MemSource;
#[cfg(feature = "xrootd")]
pub use xrootd::XrdSource;

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
    /// The key of per-server metrics: `local` for files and memory, `host:port` of the server
    /// answering now for remote sources (a fallback changes it).
    fn server(&self) -> String {
        "local".into()
    }
}

pub(crate) fn read_range<S: ByteSource + ?Sized>(source: &S, r: &ByteRange) -> io::Result<Vec<u8>> {
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

/// The I/O error kinds a retry cannot fix: the file is not there, not readable, not a valid
/// input, or shorter than it says. Every source reports its failures through these kinds
/// (anything else, such as a timeout or a refused connection, is worth another attempt), so
/// callers classify any source's errors, local or remote, with this one test.
pub fn is_permanent(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::NotFound
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::InvalidInput
            | io::ErrorKind::UnexpectedEof
    )
}

/// How remote sources talk to their servers. Local files ignore it.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// Deadline of one open: connect, log in, open and stat.
    pub open_timeout: std::time::Duration,
    /// Deadline of one read: a single read, or every request of one vector read.
    pub read_timeout: std::time::Duration,
    /// Rounds over the URL list for a retryable failure before giving up (at least 1).
    pub attempts: u32,
    /// Pause after a failed round; doubled after each further round, at most 30 s.
    pub backoff: std::time::Duration,
    /// Read a batch's ranges with vector reads (otherwise one read per range, in turn).
    pub vector_reads: bool,
    /// Small ranges (under [`COALESCE_BELOW`]) at most this many bytes apart are read as one
    /// chunk, the gap dropped: fewer chunks for the server to serve. Larger ranges travel as
    /// chunks of their own, straight into their buffers: splitting a merged chunk costs a copy
    /// as long as the transfer itself.
    pub coalesce_gap: u64,
}

/// Ranges at least this long are never merged with others (see
/// [`RemoteOptions::coalesce_gap`]).
pub const COALESCE_BELOW: usize = 64 * 1024;

impl Default for RemoteOptions {
    fn default() -> Self {
        use std::time::Duration;
        RemoteOptions {
            open_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            attempts: 3,
            backoff: Duration::from_secs(1),
            vector_reads: true,
            coalesce_gap: 16 * 1024,
        }
    }
}

impl RemoteOptions {
    /// The longest one operation can take before it fails: every attempt at every URL hitting
    /// both deadlines, plus the pauses.
    pub fn worst_case(&self, urls: usize) -> std::time::Duration {
        let attempts = self.attempts.max(1);
        let per_try = self.open_timeout + self.read_timeout;
        let pauses: std::time::Duration = (1..attempts).map(|r| self.pause(r)).sum();
        per_try * attempts * urls.max(1) as u32 + pauses
    }

    /// The pause after failed round `round` (1-based).
    pub(crate) fn pause(&self, round: u32) -> std::time::Duration {
        let cap = std::time::Duration::from_secs(30).max(self.backoff);
        self.backoff
            .saturating_mul(1 << (round.saturating_sub(1)).min(16))
            .min(cap)
    }
}

/// How [`open_input`] opens and reads inputs: the XCache for `root://` inputs and the remote
/// deadlines, retries and vector reads.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// Read `root://` inputs through this XCache (`root://host:port`, see
    /// [`xrootd::parse_xcache`]), with the input's own server as the fallback, as
    /// coffea-casa's `root://xcache//` does.
    pub xcache: Option<String>,
    pub remote: RemoteOptions,
}

/// The storage an input names, by its URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// A path, or a `file:` URL.
    Local,
    /// `root://`, `roots://` or `xroot://`.
    XRootD,
    /// Any other `scheme://`: refused by name.
    Unsupported,
}

impl Scheme {
    pub fn of(url: &str) -> Scheme {
        if xrootd::is_remote(url) {
            Scheme::XRootD
        } else if url.contains("://") && !url.starts_with("file:") {
            Scheme::Unsupported
        } else {
            Scheme::Local
        }
    }
}

/// An opened input, whatever its storage.
pub struct Input(Box<dyn ByteSource>);

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Input({:?})", self.0.name())
    }
}

impl ByteSource for Input {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_at(offset, buf)
    }
    fn read_ranges(&self, ranges: &[ByteRange]) -> io::Result<Vec<Vec<u8>>> {
        self.0.read_ranges(ranges)
    }
    fn stats(&self) -> ReadStats {
        self.0.stats()
    }
    fn server(&self) -> String {
        self.0.server()
    }
}

/// Open `url`: a local path, a `file:` URL, or a `root://` URL (read through the XCache of
/// `opts` first when one is given, with the file's own server as the fallback). Errors name
/// the input and carry an I/O error whose kind says what went wrong (`NotFound`,
/// `PermissionDenied`, `InvalidInput` for an unsupported URL scheme or a `root://` URL in a
/// build without XRootD, or a retryable kind from the server); see [`is_permanent`].
pub fn open_input(url: &str, opts: &InputOptions) -> Result<Input, crate::Error> {
    let source: io::Result<Box<dyn ByteSource>> = match Scheme::of(url) {
        // Named by its path, without the `file:` prefix, as messages always showed it.
        Scheme::Local => LocalFile::open(local::strip_file_url(url)).map(|f| Box::new(f) as _),
        Scheme::XRootD => xrootd::open(url, opts),
        Scheme::Unsupported => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unsupported URL scheme: casa reads local paths, file: and root:// URLs",
        )),
    };
    source.map(Input).map_err(|source| crate::Error::Open {
        file: url.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_and_file_urls_open_and_other_schemes_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        std::fs::write(&p, b"root").unwrap();
        let s = p.to_str().unwrap();
        let opts = InputOptions::default();
        for name in [s.to_string(), format!("file:{s}"), format!("file://{s}")] {
            let input = open_input(&name, &opts).unwrap();
            assert_eq!(input.size(), 4, "{name}");
            assert_eq!(input.server(), "local");
            assert_eq!(input.name(), s);
        }
        let e = open_input("https://host/x.root", &opts).unwrap_err();
        assert!(
            e.to_string().contains("https://host/x.root")
                && e.to_string().contains("unsupported URL scheme"),
            "{e}"
        );
        let crate::Error::Open { source, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(is_permanent(source.kind()), "{e}");
        let missing = format!("{s}.missing");
        let e = open_input(&missing, &opts).unwrap_err();
        assert!(e.to_string().contains(&missing), "{e}");
    }

    #[test]
    fn schemes_pick_the_storage() {
        assert_eq!(Scheme::of("/data/x.root"), Scheme::Local);
        assert_eq!(Scheme::of("x.root"), Scheme::Local);
        assert_eq!(Scheme::of("file:///data/x.root"), Scheme::Local);
        assert_eq!(Scheme::of("root://eos//x.root"), Scheme::XRootD);
        assert_eq!(Scheme::of("ROOTS://eos//x.root"), Scheme::XRootD);
        assert_eq!(Scheme::of("xroot://eos//x.root"), Scheme::XRootD);
        assert_eq!(Scheme::of("s3://bucket/x.root"), Scheme::Unsupported);
    }

    /// Without the `xrootd` feature a `root://` input is a permanent input fault that says
    /// how to get a build that reads it.
    #[cfg(not(feature = "xrootd"))]
    #[test]
    fn root_urls_without_the_xrootd_feature_say_how_to_build_it() {
        let url = "root://eospublic.cern.ch//eos/x.root";
        let e = open_input(url, &InputOptions::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(url), "{msg}");
        assert!(
            msg.contains(
                "this casa was built without XRootD; root:// inputs need a build with the \
                 `xrootd` feature (libxrootd-client-dev, libclang-dev)"
            ),
            "{msg}"
        );
        let crate::Error::Open { source, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(is_permanent(source.kind()), "{e}");
    }

    #[test]
    fn backoff_doubles_and_bounds_the_worst_case() {
        use std::time::Duration;
        let o = RemoteOptions {
            open_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(3),
            attempts: 3,
            backoff: Duration::from_millis(500),
            ..RemoteOptions::default()
        };
        assert_eq!(o.pause(1), Duration::from_millis(500));
        assert_eq!(o.pause(2), Duration::from_secs(1));
        assert_eq!(o.worst_case(2), Duration::from_millis(5000 * 6 + 1500));
    }
}
