//! Opening any input casa reads: a local path or `file:` URL directly, a `root://` URL through
//! XrdCl (via an XCache first when one is given). The one place that decides which, for the
//! job wrapper, `casa-wrapper inspect` and `casa-submit preprocess`.

use rootio::{ByteRange, ByteSource, LocalFile};

use crate::{input_urls, is_remote, server_of, XrdOptions, XrdSource};

/// An input file: local, or remote through XrdCl.
pub enum Input {
    Local(LocalFile),
    Remote(XrdSource),
}

impl Input {
    /// The key of per-server metrics: "local", or `host:port` of the server serving now.
    pub fn server(&self) -> String {
        match self {
            Input::Local(_) => "local".into(),
            Input::Remote(s) => {
                let now = s.server();
                if now.is_empty() {
                    server_of(s.name()).unwrap_or_default()
                } else {
                    now
                }
            }
        }
    }

    fn source(&self) -> &dyn ByteSource {
        match self {
            Input::Local(f) => f,
            Input::Remote(s) => s,
        }
    }
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Input::Local(_) => "Local",
            Input::Remote(_) => "Remote",
        };
        write!(f, "Input::{kind}({:?})", self.name())
    }
}

impl ByteSource for Input {
    fn name(&self) -> &str {
        self.source().name()
    }
    fn size(&self) -> u64 {
        self.source().size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.source().read_at(offset, buf)
    }
    fn read_ranges(&self, ranges: &[ByteRange]) -> std::io::Result<Vec<Vec<u8>>> {
        self.source().read_ranges(ranges)
    }
    fn stats(&self) -> rootio::ReadStats {
        self.source().stats()
    }
}

/// Open `file`: a local path, a `file:` URL, or a `root://` URL (read through `xcache` first
/// when given, with the file's own server as the fallback). Errors name the input and carry
/// an I/O error whose kind says what went wrong (`NotFound`, `PermissionDenied`,
/// `InvalidInput` for an unsupported URL scheme, or a retryable kind from XRootD).
pub fn open_input(
    file: &str,
    xcache: Option<&str>,
    opts: &XrdOptions,
) -> Result<Input, rootio::Error> {
    let fail = |source: std::io::Error| rootio::Error::Open {
        file: file.to_string(),
        source,
    };
    if is_remote(file) {
        let urls = input_urls(file, xcache);
        return XrdSource::open(file, urls, opts.clone())
            .map(Input::Remote)
            .map_err(|e| fail(e.into()));
    }
    if file.contains("://") && !file.starts_with("file:") {
        return Err(fail(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "unsupported URL scheme: casa reads local paths, file: and root:// URLs",
        )));
    }
    let path = file
        .strip_prefix("file://")
        .or_else(|| file.strip_prefix("file:"))
        .unwrap_or(file);
    LocalFile::open(path).map(Input::Local).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_and_file_urls_open_and_other_schemes_are_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("casa-open-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.bin");
        std::fs::write(&p, b"root").unwrap();
        let s = p.to_str().unwrap();
        let opts = XrdOptions::default();
        for name in [s.to_string(), format!("file:{s}"), format!("file://{s}")] {
            let input = open_input(&name, None, &opts).unwrap();
            assert_eq!(input.size(), 4, "{name}");
            assert_eq!(input.server(), "local");
        }
        let e = open_input("https://host/x.root", None, &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("https://host/x.root") && e.contains("unsupported URL scheme"),
            "{e}"
        );
        let missing = format!("{s}.missing");
        let e = open_input(&missing, None, &opts).unwrap_err();
        assert!(e.to_string().contains(&missing), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
