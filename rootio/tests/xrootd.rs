//! The XRootD byte source (`XrdSource`, and `open_input` on `root://` URLs) against real
//! servers: Debian's xrootd as origin and XCache on the loopback of a private network
//! namespace (tests/xrootd/harness.rs). Bytes are compared with the local file; faults are
//! real (missing and unreadable files, a killed, hung or restarted server). The client
//! underneath, `XrdFile`, has its own tests in xrd-sys.

#[macro_use]
#[path = "../../tests/xrootd/harness.rs"]
mod harness;

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{data_file, Servers};
use rootio::source::xrootd::input_urls;
use rootio::source::{is_permanent, open_input, InputOptions, RemoteOptions, XrdSource};
use rootio::{ByteRange, ByteSource};
use xrd_sys::XrdError;

fn quick() -> RemoteOptions {
    RemoteOptions {
        open_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(3),
        attempts: 2,
        backoff: Duration::from_millis(100),
        ..RemoteOptions::default()
    }
}

/// The harness's scattered ranges, as the reader asks for them.
fn scattered(size: u64) -> Vec<ByteRange> {
    harness::scattered(size)
        .into_iter()
        .map(|(offset, len)| ByteRange { offset, len })
        .collect()
}

fn check_ranges(data: &[u8], ranges: &[ByteRange], got: &[Vec<u8>]) {
    assert_eq!(got.len(), ranges.len());
    for (r, g) in ranges.iter().zip(got) {
        let want = &data[r.offset as usize..r.offset as usize + r.len];
        assert!(g == want, "range {r:?} differs");
    }
}

#[test]
fn source_reads_equal_the_local_file_direct_and_through_the_cache() {
    isolated!(source_reads_equal_the_local_file_direct_and_through_the_cache);
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = data_file(dir.path(), 24 << 20);
    let s = Servers::both(&[("test/data.bin", &path)]);
    let size = data.len() as u64;
    let ranges = scattered(size);
    for server in [&s.origin, &s.xcache] {
        let url = server.url("/store/test/data.bin");
        // The byte source: coalesced vector reads, and one read per range.
        for vector_reads in [true, false] {
            let src = XrdSource::open(
                url.clone(),
                vec![url.clone()],
                RemoteOptions {
                    vector_reads,
                    ..quick()
                },
            )
            .unwrap();
            assert_eq!(src.size(), size);
            check_ranges(&data, &ranges, &src.read_ranges(&ranges).unwrap());
            let mut buf = vec![0; 1000];
            src.read_at(size - 1000, &mut buf).unwrap();
            assert_eq!(buf, &data[data.len() - 1000..]);
            let e = src.read_at(size - 10, &mut buf).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
            let st = src.stats();
            assert!(st.bytes > 8 << 20 && st.requests > 0, "{st:?}");
            assert_eq!(src.server(), format!("127.0.0.1:{}", server.port));
        }
    }
}

/// `open_input` picks the XRootD source for `root://` URLs, sends it through the XCache
/// first, and keys its metrics by the server that answers.
#[test]
fn open_input_reads_root_urls_through_the_cache_and_names_the_server() {
    isolated!(open_input_reads_root_urls_through_the_cache_and_names_the_server);
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = data_file(dir.path(), 1 << 20);
    let mut s = Servers::both(&[("test/data.bin", &path)]);
    let url = s.origin.url("/store/test/data.bin");
    let opts = InputOptions {
        xcache: Some(s.xcache.address()),
        remote: quick(),
    };
    let input = open_input(&url, &opts).unwrap();
    assert_eq!(input.name(), url);
    assert_eq!(input.size(), data.len() as u64);
    assert_eq!(input.server(), "127.0.0.1:11095");
    s.xcache.kill();
    let mut buf = vec![0; 100];
    input.read_at(500, &mut buf).unwrap();
    assert_eq!(buf, &data[500..600]);
    assert_eq!(input.server(), "127.0.0.1:11094");
    let e = open_input(&s.origin.url("/store/test/nope.root"), &opts).unwrap_err();
    let rootio::Error::Open { source, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(source.kind(), ErrorKind::NotFound, "{e}");
}

#[test]
fn one_source_serves_many_threads() {
    isolated!(one_source_serves_many_threads);
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = data_file(dir.path(), 8 << 20);
    let s = Servers::origin(&[("test/data.bin", &path)]);
    let url = s.origin.url("/store/test/data.bin");
    let src = Arc::new(XrdSource::open(url.clone(), vec![url], quick()).unwrap());
    let size = data.len() as u64;
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            let (src, data) = (src.clone(), &data);
            scope.spawn(move || {
                let mut x = t + 1;
                for i in 0..60 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let len = 1 + (x >> 33) as usize % 200_000;
                    let offset = (x >> 5) % (size - len as u64);
                    if i % 2 == 0 {
                        let mut buf = vec![0; len];
                        src.read_at(offset, &mut buf).unwrap();
                        assert!(buf == data[offset as usize..offset as usize + len]);
                    } else {
                        let ranges: Vec<ByteRange> = (0..20)
                            .map(|k| ByteRange {
                                offset: (offset + k * 300_000) % (size - 5000),
                                len: 5000,
                            })
                            .collect();
                        check_ranges(data, &ranges, &src.read_ranges(&ranges).unwrap());
                    }
                }
            });
        }
    });
    // rayon's pool too, as the reader decompresses with it.
    use rayon::prelude::*;
    (0..64u64).into_par_iter().for_each(|i| {
        let mut buf = vec![0; 65536];
        let offset = i * 100_000;
        src.read_at(offset, &mut buf).unwrap();
        assert!(buf == data[offset as usize..offset as usize + 65536]);
    });
    assert_eq!(src.failures(), 0);
}

fn open_err(url: &str, opts: RemoteOptions) -> (XrdError, Duration) {
    let t = Instant::now();
    let e = XrdSource::open(url, input_urls(url, None), opts).unwrap_err();
    (e, t.elapsed())
}

#[test]
fn missing_and_unreadable_files_fail_fast_and_for_good() {
    isolated!(missing_and_unreadable_files_fail_fast_and_for_good);
    let dir = tempfile::tempdir().unwrap();
    let s = harness::servers_with_unreadable_file(dir.path());
    for server in [&s.origin, &s.xcache] {
        let url = server.url("/store/test/nope.root");
        let (e, took) = open_err(&url, quick());
        assert_eq!(e.io_kind(), ErrorKind::NotFound, "{e}");
        assert!(is_permanent(e.io_kind()));
        assert!(e.to_string().contains(&url), "{e}");
        assert!(took < Duration::from_secs(1), "{took:?}");

        let url = server.url("/store/test/secret.bin");
        let (e, took) = open_err(&url, quick());
        assert_eq!(e.io_kind(), ErrorKind::PermissionDenied, "{e}");
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    // Through the cache with the origin as fallback: both say so, still permanent, one round.
    let url = s.origin.url("/store/test/nope.root");
    let t = Instant::now();
    let e =
        XrdSource::open(&url, input_urls(&url, Some(&s.xcache.address())), quick()).unwrap_err();
    assert_eq!(e.io_kind(), ErrorKind::NotFound, "{e}");
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(e.to_string().contains("127.0.0.1:11095"), "{e}");
    // A malformed URL.
    let (e, _) = open_err("root://127.0.0.1:11094:x//store", quick());
    assert!(is_permanent(e.io_kind()), "{e}");
}

#[test]
fn a_dead_server_fails_fast_and_retryably() {
    isolated!(a_dead_server_fails_fast_and_retryably);
    // Nothing listens: connection refused, retried `attempts` times with the backoff.
    let (e, took) = open_err("root://127.0.0.1:11099//store/x.root", quick());
    assert_eq!(e.io_kind(), ErrorKind::ConnectionRefused, "{e}");
    assert!(!is_permanent(e.io_kind()));
    assert!(
        e.to_string()
            .contains("root://127.0.0.1:11099//store/x.root"),
        "{e}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_hung_server_costs_one_deadline_per_attempt() {
    isolated!(a_hung_server_costs_one_deadline_per_attempt);
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = data_file(dir.path(), 1 << 20);
    let mut s = Servers::origin(&[("test/data.bin", &path)]);
    let url = s.origin.url("/store/test/data.bin");
    let opts = RemoteOptions {
        open_timeout: Duration::from_millis(1500),
        read_timeout: Duration::from_millis(1500),
        attempts: 1,
        ..quick()
    };
    let src = XrdSource::open(&url, vec![url.clone()], opts.clone()).unwrap();
    s.origin.pause();
    let t = Instant::now();
    let e = src
        .read_ranges(&[ByteRange {
            offset: 0,
            len: 1000,
        }])
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // A new open: the kernel accepts the connection, the server never answers.
    let t = Instant::now();
    let (e, _) = open_err(&url, opts);
    assert_eq!(e.io_kind(), ErrorKind::TimedOut, "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
    s.origin.resume();
}

#[test]
fn a_restarted_server_is_used_again() {
    isolated!(a_restarted_server_is_used_again);
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = data_file(dir.path(), 1 << 20);
    let mut s = Servers::origin(&[("test/data.bin", &path)]);
    let url = s.origin.url("/store/test/data.bin");
    let one = RemoteOptions {
        attempts: 1,
        ..quick()
    };
    let src = XrdSource::open(&url, vec![url.clone()], one).unwrap();
    let mut buf = vec![0; 1000];
    src.read_at(0, &mut buf).unwrap();
    s.origin.kill();
    let e = src.read_at(1000, &mut buf).unwrap_err();
    assert!(!is_permanent(e.kind()), "{e}");
    s.origin.start();
    // The same source reopens the file on the restarted server.
    src.read_at(1000, &mut buf).unwrap();
    assert_eq!(buf, &data[1000..2000]);

    // A read that starts while the server is down succeeds once it is back, within its
    // attempts.
    let patient = RemoteOptions {
        attempts: 8,
        backoff: Duration::from_millis(200),
        ..quick()
    };
    let src = XrdSource::open(&url, vec![url.clone()], patient).unwrap();
    s.origin.kill();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(700));
            s.origin.start();
        });
        let got = src
            .read_ranges(&[ByteRange { offset: 5, len: 10 }])
            .unwrap();
        assert_eq!(got[0], &data[5..15]);
    });
    assert!(src.failures() >= 1);
}

#[test]
fn the_origin_takes_over_when_the_cache_dies() {
    isolated!(the_origin_takes_over_when_the_cache_dies);
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = data_file(dir.path(), 1 << 20);
    let mut s = Servers::both(&[("test/data.bin", &path)]);
    let url = s.origin.url("/store/test/data.bin");
    let urls = input_urls(&url, Some(&s.xcache.address()));
    assert_eq!(urls[0], s.xcache.url("/store/test/data.bin"));
    let src = XrdSource::open(&url, urls, quick()).unwrap();
    assert_eq!(src.server(), "127.0.0.1:11095");
    s.xcache.kill();
    let ranges = [ByteRange {
        offset: 100,
        len: 200_000,
    }];
    let got = src.read_ranges(&ranges).unwrap();
    check_ranges(&data, &ranges, &got);
    assert_eq!(src.server(), "127.0.0.1:11094");
    // A cache that is down from the start: straight to the origin.
    let url2 = s.origin.url("/store/test/data.bin");
    let src =
        XrdSource::open(&url2, input_urls(&url2, Some(&s.xcache.address())), quick()).unwrap();
    assert_eq!(src.server(), "127.0.0.1:11094");
}

/// A copy cut short by its last bytes (the free-segment record no read needs) is refused
/// through XRootD as it is locally: the size the server reports is compared with fEND.
#[test]
fn a_remote_file_missing_its_last_bytes_is_refused() {
    isolated!(a_remote_file_missing_its_last_bytes_is_refused);
    let dir = tempfile::tempdir().unwrap();
    let clean = std::fs::read(casa_test_support::real_file(
        "nanoAOD_2015_CMS_Open_Data_ttbar.root",
    ))
    .unwrap();
    let (good, cut) = (dir.path().join("good.root"), dir.path().join("cut.root"));
    std::fs::write(&good, &clean).unwrap();
    std::fs::write(&cut, &clean[..clean.len() - 40]).unwrap();
    let s = Servers::origin(&[("test/good.root", &good), ("test/cut.root", &cut)]);
    let opts = InputOptions {
        xcache: None,
        remote: quick(),
    };
    let open = |name: &str| {
        let input = open_input(&s.origin.url(&format!("/store/test/{name}")), &opts).unwrap();
        rootio::RootFile::from_source(Arc::new(input))
    };
    open("good.root").unwrap();
    let e = open("cut.root").unwrap_err().to_string();
    assert!(e.contains("cut.root") && e.contains("truncated"), "{e}");
}

/// An RNTuple over root://, direct and through XCache: every field equals the local read
/// (the pages of a batch go out as one vector read).
#[test]
fn an_rntuple_reads_over_root_urls_as_locally() {
    isolated!(an_rntuple_reads_over_root_urls_as_locally);
    let local = casa_test_support::real_file(
        "Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root",
    );
    let s = Servers::both(&[("test/rntuple.root", &local)]);
    let read = |input: Arc<dyn ByteSource>| {
        let file = rootio::RootFile::from_source(input).unwrap();
        let src = rootio::open_event_source(&file, "Events").unwrap();
        assert_eq!(src.class(), "RNTuple");
        let names: Vec<String> = src.columns().into_iter().map(|c| c.name).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        (src.read(&refs, 0, src.entries()).unwrap(), file.uuid())
    };
    let (want, uuid) = read(Arc::new(rootio::LocalFile::open(&local).unwrap()));
    for xcache in [None, Some(s.xcache.address())] {
        let opts = InputOptions {
            xcache,
            remote: quick(),
        };
        let input = open_input(&s.origin.url("/store/test/rntuple.root"), &opts).unwrap();
        let (got, got_uuid) = read(Arc::new(input));
        assert_eq!(got_uuid, uuid);
        for (a, b) in got.columns.iter().zip(&want.columns) {
            assert_eq!(a.values, b.values, "{}", a.name);
            assert_eq!(a.offsets, b.offsets, "{}", a.name);
        }
    }
}
