//! `root://`, `roots://` and `xroot://` inputs. The URL rules (which inputs are XRootD's,
//! the server a URL names, the XCache rewrite) are plain Rust and always here: the planner
//! checks `--xcache` with them in any build. Reading goes through the XRootD client
//! (`xrd-sys`, under the `XrdSource` of `xrootd/client.rs`) and needs the cargo feature
//! `xrootd`; without it a `root://` input is refused with a message saying how to build one
//! that reads it.

use std::io;

use super::{ByteSource, InputOptions};

#[cfg(feature = "xrootd")]
mod client;
#[cfg(feature = "xrootd")]
pub use client::XrdSource;

/// What a `root://` input gives in a build without the `xrootd` feature.
pub const WITHOUT_XROOTD: &str = "this casa was built without XRootD; root:// inputs need a \
    build with the `xrootd` feature (libxrootd-client-dev, libclang-dev)";

/// An XRootD URL (or XCache address) that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url}: invalid XRootD URL: {reason}")]
pub struct InvalidUrl {
    pub url: String,
    pub reason: String,
}

/// Open an XRootD input: through the XCache of `opts` first when given, then the URL itself.
#[cfg(feature = "xrootd")]
pub(super) fn open(url: &str, opts: &InputOptions) -> io::Result<Box<dyn ByteSource>> {
    let urls = input_urls(url, opts.xcache.as_deref());
    let source = XrdSource::open(url, urls, opts.remote.clone())?;
    Ok(Box::new(source))
}

/// Without the XRootD client: a permanent input fault (`InvalidInput`), since every worker
/// runs this same build.
#[cfg(not(feature = "xrootd"))]
pub(super) fn open(_url: &str, _opts: &InputOptions) -> io::Result<Box<dyn ByteSource>> {
    Err(io::Error::new(io::ErrorKind::InvalidInput, WITHOUT_XROOTD))
}

/// URL schemes the XRootD client reads.
const SCHEMES: [&str; 3] = ["root://", "roots://", "xroot://"];

/// XRootD's registered port, used when a URL gives none.
const DEFAULT_PORT: u16 = 1094;

fn split_scheme(url: &str) -> Option<(&str, &str)> {
    SCHEMES.iter().find_map(|s| {
        url.get(..s.len())
            .filter(|head| head.eq_ignore_ascii_case(s))
            .map(|_| url.split_at(s.len()))
    })
}

/// `root://`, `roots://` or `xroot://`: read through XrdCl.
pub fn is_remote(url: &str) -> bool {
    split_scheme(url).is_some()
}

/// `(authority, rest)`: `user@host:port` and the path with its query (`//store/x.root?a=b`).
fn split_authority(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, after) = split_scheme(url)?;
    let end = after.find('/').unwrap_or(after.len());
    Some((scheme, &after[..end], &after[end..]))
}

/// `host:port` of an XRootD URL (port 1094 when none is given), without any user name: the
/// key of per-server metrics. `None` for anything else.
pub fn server_of(url: &str) -> Option<String> {
    let (_, authority, _) = split_authority(url)?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.is_empty() {
        return None;
    }
    // `[::1]:1094` or `host:1094`; a bare IPv6 literal has no port.
    let has_port = match hostport.rfind(']') {
        Some(b) => hostport[b..].contains(':'),
        None => hostport.contains(':'),
    };
    Some(if has_port {
        hostport.to_string()
    } else {
        format!("{hostport}:{DEFAULT_PORT}")
    })
}

/// Check and normalise an XCache address: `root://host:port`, `host:port` or `host`
/// (port 1094), without a path.
pub fn parse_xcache(s: &str) -> Result<String, InvalidUrl> {
    let s = s.trim();
    let full = if is_remote(s) {
        s.to_string()
    } else {
        format!("root://{s}")
    };
    let bad = |reason: &str| InvalidUrl {
        url: s.to_string(),
        reason: reason.to_string(),
    };
    let (scheme, authority, rest) = split_authority(&full).ok_or_else(|| bad("no host"))?;
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    if !rest.trim_start_matches('/').is_empty() {
        return Err(bad(
            "an XCache is given as root://host:port, without a path (the input's path is kept)",
        ));
    }
    Ok(format!("{scheme}{authority}"))
}

/// The URLs to try for an input, in order. Without an XCache: the input alone. With one
/// (`root://host:port`, see [`parse_xcache`]): the input's path through the cache first, the
/// way coffea-casa's `root://xcache//store/...` works, then the input itself as the fallback.
/// Local paths are never rewritten.
pub fn input_urls(url: &str, xcache: Option<&str>) -> Vec<String> {
    let (Some(cache), Some((_, _, rest))) = (xcache, split_authority(url)) else {
        return vec![url.to_string()];
    };
    let cache = cache.trim_end_matches('/');
    // A path needs the double slash of an absolute XRootD path after the authority.
    let cached = if rest.starts_with("//") || rest.is_empty() {
        format!("{cache}{rest}")
    } else {
        format!("{cache}/{rest}")
    };
    if server_of(&cached) == server_of(url) {
        return vec![url.to_string()];
    }
    vec![cached, url.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_host_and_port() {
        assert_eq!(
            server_of("root://eos.cern.ch//eos/x.root").as_deref(),
            Some("eos.cern.ch:1094")
        );
        assert_eq!(
            server_of("root://user@127.0.0.1:11094//store/x.root?a=1").as_deref(),
            Some("127.0.0.1:11094")
        );
        assert_eq!(server_of("ROOTS://[::1]:9//f").as_deref(), Some("[::1]:9"));
        assert_eq!(server_of("/data/x.root"), None);
        assert_eq!(server_of("file:///data/x.root"), None);
        assert!(is_remote("xroot://h//f") && !is_remote("file:/x"));
    }

    #[test]
    fn the_xcache_comes_first_and_the_origin_is_the_fallback() {
        let cache = parse_xcache("127.0.0.1:11095").unwrap();
        assert_eq!(cache, "root://127.0.0.1:11095");
        assert_eq!(
            input_urls("root://origin:1094//store/a.root?svcClass=t1", Some(&cache)),
            vec![
                "root://127.0.0.1:11095//store/a.root?svcClass=t1".to_string(),
                "root://origin:1094//store/a.root?svcClass=t1".to_string(),
            ]
        );
        // Already the cache, or local: unchanged.
        assert_eq!(
            input_urls("root://127.0.0.1:11095//store/a.root", Some(&cache)).len(),
            1
        );
        assert_eq!(
            input_urls("/data/a.root", Some(&cache)),
            vec!["/data/a.root"]
        );
        assert_eq!(input_urls("root://o//a", None), vec!["root://o//a"]);
    }

    #[test]
    fn xcache_addresses_are_checked() {
        assert_eq!(parse_xcache("root://xcache/").unwrap(), "root://xcache");
        assert!(parse_xcache("root://xcache//store").is_err());
        assert!(parse_xcache("root://").is_err());
    }
}
