//! The binding against real servers: Debian's xrootd as origin and XCache on the loopback of a
//! private network namespace (tests/xrootd/harness.rs). `XrdFile` reads equal the local file;
//! failures come back with their classes. Retries and fallbacks over these are the reader's
//! (`rootio::source::XrdSource`, tested in rootio/tests/xrootd.rs).

#[macro_use]
#[path = "../../tests/xrootd/harness.rs"]
mod harness;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use harness::{data_file, scattered, Servers};
use xrd_sys::XrdFile;

#[test]
fn reads_equal_the_local_file_direct_and_through_the_cache() {
    isolated!(reads_equal_the_local_file_direct_and_through_the_cache);
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = data_file(dir.path(), 24 << 20);
    let s = Servers::both(&[("test/data.bin", &path)]);
    let size = data.len() as u64;
    let ranges = scattered(size);
    for server in [&s.origin, &s.xcache] {
        let url = server.url("/store/test/data.bin");
        let f = XrdFile::open(&url, Duration::from_secs(5)).unwrap();
        assert_eq!(f.size(), size);
        assert_eq!(f.server(), format!("127.0.0.1:{}", server.port));
        let t = Duration::from_secs(5);
        assert_eq!(f.read(0, 4096, t).unwrap(), &data[..4096]);
        // Past the end is not an error for XRootD: a short read.
        assert_eq!(f.read(size - 10, 100, t).unwrap(), &data[data.len() - 10..]);
        let got = f.read_vectored(&ranges, t).unwrap();
        assert_eq!(got.len(), ranges.len());
        for (&(offset, len), g) in ranges.iter().zip(&got) {
            let want = &data[offset as usize..offset as usize + len];
            assert!(g == want, "range {offset}+{len} differs");
        }
        let err = f.read_vectored(&[(size - 5, 10)], t).unwrap_err();
        assert_eq!(err.io_kind(), ErrorKind::UnexpectedEof, "{err}");
    }
    let cached = s.cached();
    assert!(
        cached
            .iter()
            .any(|(p, len)| p.ends_with("store/test/data.bin") && *len == size),
        "the XCache holds the file: {cached:?}"
    );
}

fn open_err(url: &str) -> (xrd_sys::XrdError, Duration) {
    let t = Instant::now();
    let e = XrdFile::open(url, Duration::from_secs(3))
        .map(|_| ())
        .unwrap_err();
    (e, t.elapsed())
}

#[test]
fn failures_name_the_url_and_carry_their_class() {
    isolated!(failures_name_the_url_and_carry_their_class);
    let dir = tempfile::tempdir().unwrap();
    let s = harness::servers_with_unreadable_file(dir.path());
    for server in [&s.origin, &s.xcache] {
        let url = server.url("/store/test/nope.root");
        let (e, took) = open_err(&url);
        assert_eq!(e.io_kind(), ErrorKind::NotFound, "{e}");
        assert!(e.to_string().contains(&url), "{e}");
        assert!(took < Duration::from_secs(1), "{took:?}");
        let (e, took) = open_err(&server.url("/store/test/secret.bin"));
        assert_eq!(e.io_kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    let (e, _) = open_err("root://127.0.0.1:11094:x//store");
    assert_eq!(e.io_kind(), ErrorKind::InvalidInput, "{e}");
    // Nothing listens: refused at once (XrdCl's own connection retries are turned off).
    let url = "root://127.0.0.1:11099//store/x.root";
    let (e, took) = open_err(url);
    assert_eq!(e.io_kind(), ErrorKind::ConnectionRefused, "{e}");
    assert!(e.to_string().contains(url), "{e}");
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[test]
fn xrdcl_settings_bound_its_own_timeouts() {
    isolated!(xrdcl_settings_bound_its_own_timeouts);
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = data_file(dir.path(), 1000);
    let s = Servers::origin(&[("test/data.bin", &path)]);
    let url = s.origin.url("/store/test/data.bin");
    XrdFile::open_with(&url, Duration::from_secs(7), Duration::from_secs(9)).unwrap();
    let shim = xrd_sys::load(Duration::ZERO, Duration::ZERO).unwrap();
    assert!(shim.version().starts_with("v5."), "{}", shim.version());
    for (key, want) in [
        ("TimeoutResolution", 1),
        ("ConnectionRetry", 1),
        ("ConnectionWindow", 7),
        ("RequestTimeout", 9),
        ("StreamErrorWindow", 0),
    ] {
        assert_eq!(shim.setting(key), Some(want), "{key}");
    }
}
