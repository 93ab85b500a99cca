//! Real XRootD servers for integration tests: Debian's `xrootd` as a data server (the
//! "origin") and as an XCache in front of it, configured from `tests/xrootd/*.cfg`.
//!
//! Each test runs in its own private network namespace ([`isolated`] re-executes the test
//! under `unshare -n`): the servers listen on that namespace's loopback only (XRootD 5.5 has
//! no listen-address setting and binds every interface), nothing is reachable from the host,
//! and tests running in parallel can all use the same ports. Servers are stopped by pid when
//! [`Servers`] drops, which also happens when the test panics; and as the test is the init of
//! its own PID namespace, a test killed outright takes its servers with it.
//!
//! Included with `#[path]` by the test binaries of xrd-sys, casa-rootio (feature `xrootd`),
//! casa-wrapper and casa-submit.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Run the rest of the test body in its own network namespace with fresh servers (see
/// [`isolated`]); `$name` is the test function's name. Test files include this module with
/// `#[macro_use]`.
#[allow(unused_macros)]
macro_rules! isolated {
    ($name:ident) => {
        if !$crate::harness::isolated(stringify!($name)) {
            return;
        }
    };
}

pub const ORIGIN_PORT: u16 = 11094;
pub const XCACHE_PORT: u16 = 11095;

const INSIDE: &str = "CASA_XRD_TEST_NETNS";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Whether this process is a test re-executed by [`isolated`] inside its namespaces.
pub fn inside() -> bool {
    std::env::var_os(INSIDE).is_some()
}

/// Run the test named `test` (its path inside the test binary, as libtest names it) in a
/// private network namespace. Returns `true` inside the namespace: run the body. Returns
/// `false` in the calling process once the run inside passed, and panics if it failed.
pub fn isolated(test: &str) -> bool {
    if let Some(marker) = std::env::var_os(INSIDE) {
        std::fs::write(marker, test).expect("write the ran marker");
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip (iproute2)");
        assert!(
            up.success(),
            "cannot bring up loopback in the test's network namespace"
        );
        return true;
    }
    assert!(
        is_root(),
        "the XRootD tests need root: they run the servers in a private network namespace \
         (unshare -n) and start xrootd as the xrootd user (-R xrootd)"
    );
    let exe = std::env::current_exe().expect("test binary path");
    let marker = RanMarker::new();
    // A PID namespace too, with the test as its init: if the test dies (a panic, or the
    // runner's timeout kills unshare), the kernel kills the servers with it. And a mount
    // namespace with its own /proc, so that pids read there are this namespace's (ci/minicondor
    // checks its daemons that way), and mounts made by the test go when it ends.
    let status = Command::new("unshare")
        .args([
            "--net",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--",
        ])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, marker.path())
        // Nothing can be downloaded in there (e.g. when a test builds a plugin).
        .env("CARGO_NET_OFFLINE", "true")
        .status()
        .expect("run unshare (util-linux)");
    assert!(
        status.success(),
        "{test} failed inside its network namespace ({status}); its output is above"
    );
    marker.assert_ran(test);
    false
}

/// Run the calling test where the XRootD client library looks uninstalled: in a private mount
/// namespace with an empty file bound over libXrdCl.so.3, as on a worker without XRootD.
/// Returns `true` there, `false` in the caller once that run passed.
pub fn without_xrootd_client(test: &str) -> bool {
    const HIDDEN: &str = "CASA_XRD_TEST_NO_CLIENT";
    if let Some(marker) = std::env::var_os(HIDDEN) {
        std::fs::write(marker, test).expect("write the ran marker");
        return true;
    }
    assert!(
        is_root(),
        "this test needs root: it hides libXrdCl in a mount namespace"
    );
    let ldconfig = Command::new("ldconfig")
        .arg("-p")
        .output()
        .expect("run ldconfig");
    let listing = String::from_utf8_lossy(&ldconfig.stdout);
    let lib = listing
        .lines()
        .find(|l| l.trim_start().starts_with("libXrdCl.so.3 "))
        .and_then(|l| l.rsplit("=> ").next())
        .map(|p| std::fs::canonicalize(p.trim()).expect("libXrdCl path"))
        .expect("libXrdCl.so.3 is installed (libxrdcl3)");
    let exe = std::env::current_exe().expect("test binary path");
    let marker = RanMarker::new();
    // unshare -m makes mounts private: the host keeps its library.
    let status = Command::new("unshare")
        .args([
            "-m",
            "--",
            "sh",
            "-c",
            "mount --bind /dev/null \"$0\" && exec \"$@\"",
        ])
        .arg(lib)
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(HIDDEN, marker.path())
        .env("CARGO_NET_OFFLINE", "true")
        .status()
        .expect("run unshare (util-linux)");
    assert!(
        status.success(),
        "{test} failed without libXrdCl ({status}); its output is above"
    );
    marker.assert_ran(test);
    false
}

/// A file the re-executed test writes when it starts: libtest runs nothing, and succeeds,
/// for a name that matches no test, which would pass the caller without running anything.
struct RanMarker(tempfile::TempDir);

impl RanMarker {
    fn new() -> RanMarker {
        RanMarker(tempfile::tempdir().expect("scratch directory"))
    }

    fn path(&self) -> PathBuf {
        self.0.path().join("ran")
    }

    fn assert_ran(&self, test: &str) {
        assert!(
            self.path().exists(),
            "{test} did not run inside: is that the test's own name?"
        );
    }
}

fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/xrootd")
}

fn xrootd_uid_gid() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let o = Command::new("id")
            .args([flag, "xrootd"])
            .output()
            .expect("run id");
        assert!(
            o.status.success(),
            "no xrootd user: install Debian's xrootd-server (ci/setup does)"
        );
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("numeric id")
    };
    (id("-u"), id("-g"))
}

/// One xrootd process.
pub struct Server {
    pub name: &'static str,
    pub port: u16,
    cfg: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl Server {
    /// `root://127.0.0.1:PORT//PATH` for an absolute `path` such as `/store/x.root`.
    pub fn url(&self, path: &str) -> String {
        format!("root://127.0.0.1:{}/{}", self.port, path)
    }

    /// `root://127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("root://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Start and wait until the port accepts connections.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.name);
        let mut cmd = Command::new("xrootd");
        // xrootd refuses to run as root; -R makes it switch to the xrootd user (same pid).
        if is_root() {
            cmd.args(["-R", "xrootd"]);
        }
        // Log to stderr (`-l -`), appended to our log file: with a log file of its own,
        // xrootd 5.5.3 starts a log-rotation thread whose getenv races the main thread's
        // setenv, and about one start in fifty dies of SIGSEGV.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log file");
        cmd.arg("-n")
            .arg(self.name)
            .arg("-c")
            .arg(&self.cfg)
            .args(["-l", "-"])
            .arg("-p")
            .arg(self.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = cmd
            .spawn()
            .expect("start xrootd: install Debian's xrootd-server (ci/setup does)");
        self.child = Some(child);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let t = Instant::now();
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!("{} exited at start ({st}):\n{}", self.name, self.log_text());
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "{} does not answer on port {} after 10 s:\n{}",
                self.name,
                self.port,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .args(["-s", sig, &pid.to_string()])
                .status();
        }
    }

    /// SIGKILL, as a crashed server: connections reset, nothing answers.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.paused = false;
    }

    /// SIGSTOP: the server hangs (connections stay open, the kernel still accepts). Returns once every thread of the server is stopped: the signal is
    /// delivered asynchronously, and a thread still on a CPU could answer one more request.
    pub fn pause(&mut self) {
        self.signal("STOP");
        self.paused = true;
        let Some(pid) = self.pid() else { return };
        let t = Instant::now();
        while !all_threads_stopped(pid) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{} (pid {pid}) not stopped 5 s after SIGSTOP",
                self.name
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn resume(&mut self) {
        self.signal("CONT");
        self.paused = false;
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if self.paused {
            self.resume();
        }
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-s", "TERM", &c.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether every thread of `pid` is in state T (stopped), from /proc (the test's own PID
/// namespace's: [`isolated`] mounts it).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.filter_map(Result::ok).all(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            // The state follows the command name, which is in parentheses.
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('T'))
            })
            .unwrap_or(false)
    })
}

/// An origin exporting `/store` and an XCache in front of it (started on demand), with their
/// directories in a scratch directory.
pub struct Servers {
    pub origin: Server,
    pub xcache: Server,
    base: tempfile::TempDir,
}

impl Servers {
    /// Prepare both servers (not started). `files`: `(path under /store, local file)`.
    pub fn new(files: &[(&str, &Path)]) -> Servers {
        let base = tempfile::Builder::new()
            .prefix("casa-xrootd-")
            .tempdir()
            .expect("scratch directory");
        let b = base.path();
        let (uid, gid) = if is_root() {
            xrootd_uid_gid()
        } else {
            (u32::MAX, u32::MAX)
        };
        let mkdir = |p: &Path, owned: bool| {
            std::fs::create_dir_all(p).unwrap();
            set_mode(p, 0o755);
            if owned && uid != u32::MAX {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
            }
        };
        // The server runs as the xrootd user: it must reach the export and own its run and
        // cache directories.
        set_mode(b, 0o755);
        mkdir(&b.join("export/store"), false);
        mkdir(&b.join("run"), true);
        mkdir(&b.join("run/origin"), true);
        mkdir(&b.join("run/xcache"), true);
        mkdir(&b.join("cache"), true);
        for (path, src) in files {
            let dst = b.join("export/store").join(path);
            mkdir(dst.parent().unwrap(), false);
            std::fs::copy(src, &dst)
                .unwrap_or_else(|e| panic!("copy {} to the export: {e}", src.display()));
            set_mode(&dst, 0o644);
        }
        let render = |name: &str, origin: &str| -> PathBuf {
            let text = std::fs::read_to_string(templates().join(format!("{name}.cfg")))
                .expect("tests/xrootd config template");
            let out = b.join(format!("{name}.cfg"));
            std::fs::write(
                &out,
                text.replace("@BASE@", &b.to_string_lossy())
                    .replace("@NAME@", name)
                    .replace("@ORIGIN@", origin),
            )
            .unwrap();
            out
        };
        let origin_addr = format!("127.0.0.1:{ORIGIN_PORT}");
        let server = |name: &'static str, port: u16| Server {
            name,
            port,
            cfg: render(name, &origin_addr),
            log: b.join(format!("run/{name}.log")),
            child: None,
            paused: false,
        };
        Servers {
            origin: server("origin", ORIGIN_PORT),
            xcache: server("xcache", XCACHE_PORT),
            base,
        }
    }

    /// Prepare and start the origin only.
    pub fn origin(files: &[(&str, &Path)]) -> Servers {
        let mut s = Servers::new(files);
        s.origin.start();
        s
    }

    /// Prepare and start the origin and the XCache.
    pub fn both(files: &[(&str, &Path)]) -> Servers {
        let mut s = Servers::origin(files);
        s.xcache.start();
        s
    }

    /// The exported copy of a file (to change its mode, say).
    pub fn exported(&self, path: &str) -> PathBuf {
        self.base.path().join("export/store").join(path)
    }

    /// Data files in the XCache's directory (without the `.cinfo` bookkeeping), with sizes.
    pub fn cached(&self) -> Vec<(PathBuf, u64)> {
        let mut out = Vec::new();
        let mut stack = vec![self.base.path().join("cache")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = e.path();
                let Ok(meta) = e.metadata() else { continue };
                if meta.is_dir() {
                    stack.push(p);
                } else if p.extension().is_none_or(|x| x != "cinfo") {
                    out.push((p, meta.len()));
                }
            }
        }
        out
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        // The cache first: it talks to the origin.
        self.xcache.stop();
        self.origin.stop();
    }
}

pub fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Origin and XCache exporting `test/data.bin` (a 1000-byte [`data_file`] in `dir`) and
/// `test/secret.bin`, which the servers may not read: the missing- and unreadable-file faults.
pub fn servers_with_unreadable_file(dir: &Path) -> Servers {
    let (path, _) = data_file(dir, 1000);
    let s = Servers::both(&[("test/data.bin", &path), ("test/secret.bin", &path)]);
    set_mode(&s.exported("test/secret.bin"), 0o000);
    s
}

/// A reproducible pseudo-random file `data.bin` in `dir` (xorshift), so every byte position
/// is distinct: its path and its bytes.
pub fn data_file(dir: &Path, len: usize) -> (PathBuf, Vec<u8>) {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data.truncate(len);
    let p = dir.join("data.bin");
    std::fs::write(&p, &data).unwrap();
    (p, data)
}

/// Scattered `(offset, len)` ranges in a file of `size` bytes (at least 8 MiB): many small
/// ones (more than one request's 1024 chunks), some larger than a chunk may be (2 MiB), and
/// the last byte.
pub fn scattered(size: u64) -> Vec<(u64, usize)> {
    let mut r = Vec::new();
    let mut x: u64 = 12345;
    for _ in 0..2500 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 1 + (x >> 40) as usize % 6000;
        let offset = (x >> 8) % (size - len as u64);
        r.push((offset, len));
    }
    r.push((1 << 20, 5 << 20));
    r.push((size - (3 << 20), 3 << 20));
    r.push((size - 1, 1));
    r
}
