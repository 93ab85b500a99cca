//! `casa-wrapper run` with the dimuon plugins (Rust and C++) on real and fixture files: the
//! histogram must equal, bin by bin, the one computed independently in Python (uproot + numpy
//! in float64, filled with hist); every failure must give its documented exit code and a
//! message naming what failed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use casa_formats::partial::{self, PartialHeader};
use casa_formats::{Chunk, ExitClass, JobSpec};
use casa_hist::{Accumulator, Item};
use casa_test_support::{
    build_cdylib, build_cpp_plugin, fixture, python_command, real_file, workspace, write_rntuples,
};
use serde_json::Value;

fn dimuon() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("dimuon"))
}

fn dimuon_cpp() -> &'static Path {
    static P: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &P.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let so = build_cpp_plugin(
            &workspace().join("examples/dimuon-cpp/dimuon.cpp"),
            d.path(),
        );
        (d, so)
    })
    .1
}

fn chunk(dataset: &str, file: &Path, tree: &str, start: u64, stop: u64) -> Chunk {
    Chunk {
        dataset: dataset.into(),
        file: file.to_string_lossy().into_owned(),
        tree: tree.into(),
        entry_start: start,
        entry_stop: stop,
        uuid: None,
        metadata: serde_json::json!({"is_mc": true}),
    }
}

struct Run {
    out: Output,
    dir: tempfile::TempDir,
}

impl Run {
    fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn partial(&self) -> (PartialHeader, Accumulator) {
        assert_eq!(self.code(), 0, "casa-wrapper failed: {}", self.stderr());
        let (h, payload) = partial::read(&self.dir.path().join("p.partial")).unwrap();
        (h, serde_json::from_slice(&payload).unwrap())
    }
    fn metrics(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.path().join("m.json")).unwrap()).unwrap()
    }
}

fn write_job(dir: &Path, chunks: Vec<Chunk>) -> PathBuf {
    let job = dir.join("job.json");
    std::fs::write(
        &job,
        serde_json::to_vec(&JobSpec::new("test", "leaf-0", chunks)).unwrap(),
    )
    .unwrap();
    job
}

/// `casa-wrapper run --job JOB --plugin PLUGIN --out OUT`.
fn wrapper(job: &Path, plugin: &Path, out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_casa-wrapper"));
    c.arg("run")
        .arg("--job")
        .arg(job)
        .arg("--plugin")
        .arg(plugin)
        .arg("--out")
        .arg(out);
    c
}

fn run(plugin: &Path, chunks: Vec<Chunk>, extra: &[&str]) -> Run {
    run_env(plugin, chunks, extra, &[])
}

fn run_env(plugin: &Path, chunks: Vec<Chunk>, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), chunks);
    let out = wrapper(&job, plugin, &dir.path().join("p.partial"))
        .arg("--metrics")
        .arg(dir.path().join("m.json"))
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Run { out, dir }
}

/// The reference: [[...] per sign category incl. overflow] with the mass axis' flow bins.
fn reference(chunks: &[Chunk]) -> (Vec<Vec<f64>>, u64) {
    let mut cmd = python_command();
    cmd.arg(workspace().join("tests/python/dimuon_reference.py"));
    for c in chunks {
        cmd.arg(&c.file)
            .arg(&c.tree)
            .arg(c.entry_start.to_string())
            .arg(c.entry_stop.to_string());
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    (
        serde_json::from_value(v["values"].clone()).unwrap(),
        v["entries"].as_u64().unwrap(),
    )
}

fn ours(acc: &Accumulator, dataset: &str) -> (Vec<Vec<f64>>, u64) {
    let items = &acc.datasets[dataset];
    let Item::Hist(h) = &items["mass"] else {
        panic!("mass is a histogram")
    };
    let shape = h.shape(true);
    assert_eq!(shape.len(), 2);
    let flat = h.values(true);
    let rows = flat.chunks(shape[1]).map(|r| r.to_vec()).collect();
    let entries = match &items["entries"] {
        Item::Counter(casa_hist::Counter::Int(n)) => *n as u64,
        other => panic!("entries is {other:?}"),
    };
    (rows, entries)
}

/// `threads`: "1" reads and runs the plugin in turn; "2" reads ahead while the plugin runs.
fn check_against_reference(plugin: &Path, chunks: Vec<Chunk>, threads: &str) {
    let (want, want_entries) = reference(&chunks);
    let r = run(
        plugin,
        chunks.clone(),
        &["--batch-entries", "3000", "-j", threads],
    );
    let (header, acc) = r.partial();
    let (got, entries) = ours(&acc, &chunks[0].dataset);
    assert_eq!(entries, want_entries);
    assert_eq!(got.len(), want.len(), "categories");
    let total: f64 = want.iter().flatten().sum();
    assert!(total > 0.0, "the reference histogram is empty");
    for (c, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), w.len(), "category {c}: bins");
        for (b, (x, y)) in g.iter().zip(w).enumerate() {
            assert_eq!(x, y, "category {c} bin {b}: casa {x}, reference {y}");
        }
    }
    assert_eq!(header.chunks.len(), chunks.len());
    assert_eq!(header.events, want_entries);
    let m = r.metrics();
    assert_eq!(m["events"].as_u64(), Some(want_entries));
    assert_eq!(m["exit_class"], "success");
    assert!(m["bytes_read"].as_u64().unwrap() > 0);
}

#[test]
fn real_cms_nanoaod() {
    let f = real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root");
    check_against_reference(dimuon(), vec![chunk("TTbar", &f, "Events", 0, 200)], "1");
}

#[test]
fn root_written_fixtures_in_every_codec() {
    for name in [
        "root-zstd.root",
        "root-lzma.root",
        "root-lz4.root",
        "root-zlib.root",
        "root-none.root",
        "root-nano-lzma9.root",
    ] {
        let f = fixture(name);
        check_against_reference(dimuon(), vec![chunk("ZZ", &f, "Events", 0, 8000)], "2");
    }
}

#[test]
fn uproot_written_fixtures_and_ranges_inside_baskets() {
    for name in ["uproot-zstd.root", "uproot-lzma.root", "uproot-none.root"] {
        let f = fixture(name);
        check_against_reference(
            dimuon(),
            vec![
                chunk("DY", &f, "Events", 17, 1999),
                chunk("DY", &f, "Events", 1999, 6370),
            ],
            "1",
        );
    }
}

/// A snapshot of `root-zstd.root` as an RNTuple (RDataFrame, kRNTuple, ZSTD, small clusters
/// and pages), written once by `tests/python/make_rntuple_files.py`.
fn rntuple_snapshot() -> &'static Path {
    static P: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &P.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let p = write_rntuples(d.path(), &["snap-zstd"]).join("snap-zstd.root");
        (d, p)
    })
    .1
}

#[test]
fn rntuple_inputs_give_the_reference_histogram_and_the_ttree_s() {
    // CMS open data as RNTuple: the plugin's Muon_pt/nMuon are projected fields there.
    let f = real_file("Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root");
    check_against_reference(dimuon(), vec![chunk("DY", &f, "Events", 0, 1000)], "1");
    check_against_reference(
        dimuon(),
        vec![
            chunk("DY", &f, "Events", 3, 517),
            chunk("DY", &f, "Events", 517, 1000),
        ],
        "2",
    );
    // ROOT's snapshot of a TTree fixture: equal to the reference, and to casa on the TTree.
    let snap = rntuple_snapshot();
    for threads in ["1", "2"] {
        check_against_reference(
            dimuon(),
            vec![chunk("ZZ", snap, "Events", 0, 20000)],
            threads,
        );
    }
    let ttree = run(
        dimuon(),
        vec![chunk("ZZ", &fixture("root-zstd.root"), "Events", 0, 20000)],
        &[],
    )
    .partial()
    .1;
    let rntuple = run(dimuon(), vec![chunk("ZZ", snap, "Events", 0, 20000)], &[])
        .partial()
        .1;
    assert_eq!(ttree, rntuple);
}

#[test]
fn a_corrupt_rntuple_page_is_a_permanent_input_fault_naming_the_page() {
    let src = real_file("Run2012BC_DoubleMuParked_Muons_1000evts_rntuple_v1-0-0-0.root");
    let file = rootio::RootFile::open(src.to_str().unwrap()).unwrap();
    let nt = file.ntuple("Events").unwrap();
    // A page of the last column (Muon_charge), which the plugin reads.
    let page = nt.clusters[0].columns.last().unwrap().pages[0];
    let mut bytes = std::fs::read(&src).unwrap();
    bytes[page.offset as usize + page.size as usize / 2] ^= 0x10;
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("flipped.root");
    std::fs::write(&bad, bytes).unwrap();
    let r = run(dimuon(), vec![chunk("DY", &bad, "Events", 0, 1000)], &[]);
    expect_failure(
        &r,
        ExitClass::PermanentInput,
        &["flipped.root", "checksum", "page", "Muon_charge"],
    );
}

#[test]
fn the_cpp_plugin_gives_the_same_histogram() {
    let f = fixture("root-zstd.root");
    let chunks = vec![chunk("ZZ", &f, "Events", 0, 20000)];
    let rust = run(dimuon(), chunks.clone(), &[]).partial().1;
    let cpp = run(dimuon_cpp(), chunks, &[]).partial().1;
    assert_eq!(rust, cpp);
}

#[test]
fn datasets_are_kept_apart() {
    let a = fixture("root-zstd.root");
    let b = fixture("root-lz4.root");
    let r = run(
        dimuon(),
        vec![
            chunk("A", &a, "Events", 0, 5000),
            chunk("B", &b, "Events", 0, 7000),
        ],
        &[],
    );
    let (_, acc) = r.partial();
    assert_eq!(ours(&acc, "A").1, 5000);
    assert_eq!(ours(&acc, "B").1, 7000);
}

fn expect_failure(r: &Run, class: ExitClass, needles: &[&str]) {
    assert_eq!(
        r.code(),
        class.code() as i32,
        "expected {class:?}, got: {}",
        r.stderr()
    );
    for n in needles {
        assert!(r.stderr().contains(n), "stderr lacks {n:?}: {}", r.stderr());
    }
    assert!(
        !r.dir.path().join("p.partial").exists(),
        "no partial on failure"
    );
}

#[test]
fn a_corrupt_input_is_a_permanent_input_fault() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixture("root-zstd.root")).unwrap();
    let n = bytes.len();
    bytes.truncate(n / 2);
    let bad = d.path().join("half.root");
    std::fs::write(&bad, bytes).unwrap();
    let r = run(dimuon(), vec![chunk("ZZ", &bad, "Events", 0, 100)], &[]);
    expect_failure(&r, ExitClass::PermanentInput, &["half.root", "ZZ"]);
    let m = r.metrics();
    assert_eq!(m["exit_class"], "permanent_input");
}

#[test]
fn a_missing_file_or_tree_is_a_permanent_input_fault() {
    let r = run(
        dimuon(),
        vec![chunk(
            "ZZ",
            Path::new("/no/such/file.root"),
            "Events",
            0,
            10,
        )],
        &[],
    );
    expect_failure(&r, ExitClass::PermanentInput, &["/no/such/file.root"]);
    let r = run(
        dimuon(),
        vec![chunk("ZZ", &fixture("root-zstd.root"), "Nope", 0, 10)],
        &[],
    );
    expect_failure(&r, ExitClass::PermanentInput, &["Nope"]);
}

#[test]
fn a_changed_file_is_refused_by_uuid_and_entries() {
    let f = fixture("root-zstd.root");
    let mut c = chunk("ZZ", &f, "Events", 0, 10);
    c.uuid = Some("00000000-0000-0000-0000-000000000000".into());
    expect_failure(
        &run(dimuon(), vec![c], &[]),
        ExitClass::PermanentInput,
        &["UUID"],
    );
    let c = chunk("ZZ", &f, "Events", 0, 10_000_000);
    expect_failure(
        &run(dimuon(), vec![c], &[]),
        ExitClass::PermanentInput,
        &["10000000"],
    );
}

#[test]
fn a_column_the_file_lacks_is_a_plugin_fault() {
    // HZZ has Muon_Px etc., not NanoAOD's Muon_pt.
    let f = real_file("uproot-HZZ.root");
    let r = run(dimuon(), vec![chunk("HZZ", &f, "events", 0, 10)], &[]);
    expect_failure(&r, ExitClass::PluginFault, &["dimuon", "nMuon", "HZZ"]);
}

#[test]
fn a_bad_job_spec_is_an_invalid_job() {
    let f = fixture("root-zstd.root");
    let r = run(dimuon(), vec![chunk("ZZ", &f, "Events", 10, 5)], &[]);
    expect_failure(&r, ExitClass::InvalidJob, &["chunks[0]", "entry_start"]);
}

#[test]
fn a_library_that_is_not_a_plugin_is_a_plugin_fault() {
    let f = fixture("root-zstd.root");
    let r = run(
        Path::new("/lib/x86_64-linux-gnu/libz.so.1"),
        vec![chunk("ZZ", &f, "Events", 0, 10)],
        &[],
    );
    expect_failure(&r, ExitClass::PluginFault, &["libz.so.1", "casa_plugin_v1"]);
    let r = run(
        Path::new("/no/such/plugin.so"),
        vec![chunk("ZZ", &f, "Events", 0, 10)],
        &[],
    );
    expect_failure(&r, ExitClass::PluginFault, &["/no/such/plugin.so"]);
}

#[test]
fn the_partial_and_the_metrics_cannot_be_one_file() {
    let f = fixture("root-zstd.root");
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), vec![chunk("ZZ", &f, "Events", 0, 10)]);
    let out = dir.path().join("p.partial");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    // The same file, spelled another way.
    let metrics = dir.path().join("sub/../p.partial");
    let o = wrapper(&job, dimuon(), &out)
        .arg("--metrics")
        .arg(&metrics)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(ExitClass::Usage.code() as i32),
        "{err}"
    );
    assert!(
        err.contains("--out") && err.contains("--metrics") && err.contains("p.partial"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written");
}

/// Metrics that cannot be written (here the path is a directory) are an output fault, and
/// like every failure it leaves no partial behind.
#[test]
fn unwritable_metrics_leave_no_partial() {
    let f = fixture("root-zstd.root");
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), vec![chunk("ZZ", &f, "Events", 0, 10)]);
    let out = dir.path().join("p.partial");
    let metrics = dir.path().join("metrics-dir");
    std::fs::create_dir(&metrics).unwrap();
    let o = wrapper(&job, dimuon(), &out)
        .arg("--metrics")
        .arg(&metrics)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(ExitClass::OutputFault.code() as i32),
        "{err}"
    );
    assert!(err.contains("metrics-dir"), "{err}");
    assert!(!out.exists(), "the partial is removed");
}

/// SIGTERM while the job is blocked where it cannot check its flag (here opening a FIFO no one
/// writes, as an open hangs on a dead file system): after `--term-grace` it exits 15 anyway,
/// without a partial, instead of waiting for HTCondor's SIGKILL.
#[test]
fn sigterm_stops_a_job_blocked_on_a_hung_open() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("hung.root");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let job = write_job(dir.path(), vec![chunk("ZZ", &fifo, "Events", 0, 10)]);
    let out = dir.path().join("p.partial");
    let mut child = wrapper(&job, dimuon(), &out)
        .args(["--term-grace", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough to load the plugin and block in the open.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "still blocked");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if t0.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let status = status.expect("the job ignored SIGTERM for 20 s");
    assert_eq!(status.code(), Some(ExitClass::Evicted.code() as i32));
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("SIGTERM") && err.contains("evicted"), "{err}");
    assert!(!out.exists());
}

#[test]
fn an_unwritable_output_is_an_output_fault() {
    let f = fixture("root-zstd.root");
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), vec![chunk("ZZ", &f, "Events", 0, 10)]);
    let o = wrapper(&job, dimuon(), Path::new("/proc/no/such/dir/p.partial"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(ExitClass::OutputFault.code() as i32),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn misbehave() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_cdylib("misbehave"))
}

fn run_mode(mode: &str, chunks: Vec<Chunk>) -> Run {
    run_env(
        misbehave(),
        chunks,
        &["--batch-entries", "1000"],
        &[("CASA_TEST_MODE", mode)],
    )
}

#[test]
fn plugin_panics_errors_and_bad_fills_are_plugin_faults() {
    let f = fixture("root-zstd.root");
    let c = || vec![chunk("ZZ", &f, "Events", 0, 5000)];
    expect_failure(
        &run_mode("panic", c()),
        ExitClass::PluginFault,
        // The panic's source location and the batch's entries, not only the message.
        &[
            "misbehave",
            "deliberate panic",
            "ZZ",
            "panicked at tests/plugins/misbehave/src/lib.rs:",
            "entries 0:",
        ],
    );
    expect_failure(
        &run_mode("error", c()),
        ExitClass::PluginFault,
        &["deliberate error"],
    );
    expect_failure(
        &run_mode("init-error", c()),
        ExitClass::PluginFault,
        &["refusing to start"],
    );
    expect_failure(
        &run_mode("bad-fill", c()),
        ExitClass::PluginFault,
        &["histogram 'n'"],
    );
    let ok = run_mode("count", c());
    assert_eq!(ok.code(), 0, "{}", ok.stderr());
}

/// The SDK's boolean fills (`Fill::Bool` arrays and `Fill::OneBool`) reach the host as the
/// ABI says and land in the right bins: counts checked against uproot + numpy.
#[test]
fn boolean_fills_land_in_the_right_bins() {
    let f = fixture("root-zstd.root");
    let r = run_mode("bools", vec![chunk("ZZ", &f, "Events", 0, 5000)]);
    let (_, acc) = r.partial();
    let Some(Item::Hist(h)) = acc.datasets["ZZ"].get("flags") else {
        panic!("no histogram `flags` in {acc:?}");
    };
    let ours = h.values(false);
    let o = python_command()
        .args([
            "-c",
            "import sys, uproot, numpy as np\n\
n = uproot.open(sys.argv[1])['Events']['nMuon'].array(library='np', entry_stop=5000)\n\
print(int((n > 0).sum()), int((n < 2).sum() + (n == 0).sum()), 0, int((n >= 2).sum()))",
        ])
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Row-major (a, b): (false, false), (false, true), (true, false), (true, true).
    let want: Vec<f64> = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(ours, want);
}

/// Compile the C source `text`, written as `name.c` in `dir`, into `dir/lib{name}.so` with
/// plain gcc (no casa header: these plugins spell out the ABI they were built against).
fn gcc_plugin(dir: &Path, name: &str, text: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, text).unwrap();
    let so = dir.join(format!("lib{name}.so"));
    let st = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    so
}

#[test]
fn another_abi_version_is_refused_with_both_versions_named() {
    let d = tempfile::tempdir().unwrap();
    let so = gcc_plugin(
        d.path(),
        "v3",
        "const void *casa_plugin_v3(void) { return 0; }\n",
    );
    let f = fixture("root-zstd.root");
    let r = run(&so, vec![chunk("ZZ", &f, "Events", 0, 10)], &[]);
    expect_failure(
        &r,
        ExitClass::PluginFault,
        &["version 3", "versions 1 to 2"],
    );
}

/// A plugin built against ABI version 1 (its descriptor ends at `destroy`, its symbol is
/// `casa_plugin_v1`), written out here as such a plugin was: the host still runs it.
#[test]
fn a_version_1_plugin_still_runs() {
    let d = tempfile::tempdir().unwrap();
    let so = gcc_plugin(
        d.path(),
        "v1",
        r#"
#include <stdint.h>
#include <stddef.h>
typedef struct casa_host {
  uint32_t abi_version; void *ctx; void *declare_hist; void *fill;
  int32_t (*count)(void *ctx, const char *name, double value, int32_t is_int);
  const char *(*last_error)(void *ctx);
} casa_host;
typedef struct { const char *name; int32_t dtype; uint64_t inner, n_values; const void *values;
                 const uint64_t *offsets; } casa_column;
typedef struct { const char *dataset, *file, *tree, *file_uuid, *metadata_json;
                 uint64_t entry_start, entry_stop, n_entries, n_columns;
                 const casa_column *columns; } casa_batch;
typedef struct {
  uint32_t abi_version; const char *name; const char *const *columns;
  void *(*init)(const casa_host *, char *, uint64_t);
  int32_t (*process)(void *, const casa_host *, const casa_batch *, char *, uint64_t);
  void (*destroy)(void *);
} casa_plugin_v1_t;
static int state;
static void *init(const casa_host *h, char *e, uint64_t n) { return h->abi_version == 1 ? &state : NULL; }
static int32_t process(void *s, const casa_host *h, const casa_batch *b, char *e, uint64_t n) {
  return h->count(h->ctx, "entries", (double)b->n_entries, 1);
}
static void destroy(void *s) {}
static const char *const columns[] = {"nMuon", NULL};
static const casa_plugin_v1_t plugin = {1, "v1", columns, init, process, destroy};
const casa_plugin_v1_t *casa_plugin_v1(void) { return &plugin; }
"#,
    );
    let f = fixture("root-zstd.root");
    let (_, acc) = run(&so, vec![chunk("ZZ", &f, "Events", 0, 1234)], &[]).partial();
    assert_eq!(
        acc.datasets["ZZ"]["entries"],
        Item::Counter(casa_hist::Counter::Int(1234))
    );
}

fn counter(acc: &Accumulator, dataset: &str, name: &str) -> i64 {
    match acc.datasets[dataset].get(name) {
        Some(Item::Counter(casa_hist::Counter::Int(n))) => *n,
        other => panic!("counter {name} of {dataset}: {other:?}"),
    }
}

/// `python -c CODE ARGS...`, its standard output parsed as JSON.
fn python_json(code: &str, args: &[&str]) -> Value {
    let o = python_command()
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn optional_columns_are_read_when_present_and_left_out_when_absent() {
    let f = fixture("root-zstd.root");
    let r = run_mode("optional", vec![chunk("ZZ", &f, "Events", 0, 5000)]);
    let (_, acc) = r.partial();
    let batches = r.metrics()["batches"].as_i64().unwrap();
    assert!(batches > 1);
    assert_eq!(counter(&acc, "ZZ", "has_muon_pt"), batches);
    assert_eq!(counter(&acc, "ZZ", "has_absent"), 0);
    // The collection's objects, against the file's nMuon summed by uproot.
    let want = python_json(
        "import sys, json, uproot; t = uproot.open(sys.argv[1])['Events'];          print(json.dumps(int(t['nMuon'].array(library='np', entry_stop=5000).sum())))",
        &[f.to_str().unwrap()],
    );
    assert_eq!(counter(&acc, "ZZ", "muons"), want.as_i64().unwrap());
}

#[test]
fn columns_chosen_from_metadata_fail_only_the_datasets_that_need_them() {
    let f = fixture("root-zstd.root");
    let mut data = chunk("data", &f, "Events", 0, 100);
    data.metadata = serde_json::json!({"is_mc": false});
    let ok = run_mode("mc-only", vec![data]);
    assert_eq!(ok.code(), 0, "{}", ok.stderr());
    let mc = chunk("mc", &f, "Events", 0, 100);
    expect_failure(
        &run_mode("mc-only", vec![mc]),
        ExitClass::PluginFault,
        &["GenPart_not_in_any_file", "mc"],
    );
}

#[test]
fn smeared_values_do_not_depend_on_chunking_or_batching() {
    let f = fixture("root-zstd.root");
    let env = [("CASA_TEST_MODE", "smear")];
    let one = run_env(
        misbehave(),
        vec![chunk("ZZ", &f, "Events", 0, 5000)],
        &["--batch-entries", "1000"],
        &env,
    );
    let split = run_env(
        misbehave(),
        vec![
            chunk("ZZ", &f, "Events", 0, 1700),
            chunk("ZZ", &f, "Events", 1700, 5000),
        ],
        &["--batch-entries", "333", "-j", "2"],
        &env,
    );
    let (a, b) = (one.partial().1, split.partial().1);
    let Item::Hist(h) = &a.datasets["ZZ"]["smear"] else {
        panic!("smear is a histogram")
    };
    let v = h.values(true);
    assert_eq!(v.iter().sum::<f64>(), 15000.0);
    // A standard normal: the central bins hold the most.
    assert!(v[20] > v[5] && v[21] > v[36], "{v:?}");
    assert_eq!(
        serde_json::to_string(&a.datasets["ZZ"]["smear"]).unwrap(),
        serde_json::to_string(&b.datasets["ZZ"]["smear"]).unwrap()
    );
}

#[test]
fn cutflow_counts_events_and_weights_after_each_cut() {
    let f = fixture("root-zstd.root");
    let (_, acc) = run_mode("cutflow", vec![chunk("ZZ", &f, "Events", 0, 5000)]).partial();
    let want = python_json(
        "import sys, json, uproot; n = uproot.open(sys.argv[1])['Events']['nMuon']         .array(library='np', entry_stop=5000);          print(json.dumps([len(n), int((n >= 1).sum()), int((n >= 2).sum())]))",
        &[f.to_str().unwrap()],
    );
    let want: Vec<f64> = serde_json::from_value(want).unwrap();
    for (name, scale) in [("cutflow", 1.0), ("cutflow_weighted", 0.5)] {
        let Item::Hist(h) = &acc.datasets["ZZ"][name] else {
            panic!("{name} is a histogram")
        };
        // One axis: cut (all, one, two, + overflow).
        assert_eq!(h.shape(true), [4], "{name}");
        let v = h.values(true);
        for (c, w) in want.iter().enumerate() {
            assert_eq!(
                v[c],
                w * scale,
                "{name}: events passing cut {c} and those before"
            );
        }
        assert_eq!(v[3], 0.0, "{name}: overflow");
    }
}

#[test]
fn sigterm_stops_cleanly_without_a_partial() {
    let f = fixture("root-zstd.root");
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), vec![chunk("ZZ", &f, "Events", 0, 20000)]);
    let child = wrapper(&job, misbehave(), &dir.path().join("p.partial"))
        .env("CASA_TEST_MODE", "slow")
        .args(["--batch-entries", "1000"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(ExitClass::Evicted.code() as i32),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("p.partial").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the job spec remains: {leftovers:?}"
    );
}

/// coffea itself (processor.Runner + IterativeExecutor, the seed's processor) computes the
/// dimuon mass in float32; casa in float64. Totals per category must agree, and every per-bin
/// difference must be an event whose float32 and float64 masses fall in different bins.
#[test]
fn coffea_agrees_up_to_float32_bin_migrations() {
    let f = fixture("root-nano-lzma9.root");
    let o = python_command()
        .arg(workspace().join("tests/python/coffea_dimuon.py"))
        .args(["ZZ", f.to_str().unwrap(), "Events", "20000"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let c: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let coffea: Vec<Vec<f64>> = serde_json::from_value(c["values"].clone()).unwrap();
    let migration: Vec<Vec<f64>> = serde_json::from_value(c["migration"].clone()).unwrap();
    let entries = c["entries"].as_u64().unwrap();
    let r = run(dimuon(), vec![chunk("ZZ", &f, "Events", 0, entries)], &[]);
    let (ours, our_entries) = ours(&r.partial().1, "ZZ");
    assert_eq!(our_entries, entries);
    assert_eq!(coffea.len(), ours.len(), "categories");
    for (row, (a, b)) in coffea.iter().zip(&ours).enumerate() {
        assert_eq!(a.len(), b.len(), "category {row}: bins");
        assert_eq!(
            a.iter().sum::<f64>(),
            b.iter().sum::<f64>(),
            "category {row} totals"
        );
        for (bin, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(
                x - y,
                migration[row][bin],
                "category {row} bin {bin}: coffea {x}, casa {y}"
            );
        }
    }
    let migrated = c["migrated"].as_u64().unwrap();
    let selected = c["selected"].as_u64().unwrap();
    assert!(selected > 10_000, "enough events to see migrations");
    assert!(
        migrated * 500 < selected,
        "{migrated} of {selected} migrated: more than float32 rounding explains"
    );
    eprintln!(
        "coffea vs casa: {migrated} of {selected} events change bin between float32 and float64"
    );
}

/// Collections on a real NanoAOD file (selection with a converted int32 jetId, sorting,
/// b-tagged trijets, ΔR matching, cross references both ways, a bool field) against the same
/// operations written as plain Python loops in float64.
#[test]
fn collections_on_real_nanoaod_match_an_independent_computation() {
    let f = real_file("nanoAOD_2015_CMS_Open_Data_ttbar.root");
    let (_, acc) = run_mode("nanoaod", vec![chunk("ttbar", &f, "Events", 0, 200)]).partial();
    let mut cmd = python_command();
    let o = cmd
        .arg(workspace().join("tests/python/collections_reference.py"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let want: serde_json::Map<String, Value> = serde_json::from_slice(&o.stdout).unwrap();
    for (name, w) in &want {
        match acc.datasets["ttbar"].get(name) {
            Some(Item::Counter(casa_hist::Counter::Int(n))) => {
                assert_eq!(Some(*n), w.as_i64(), "{name}")
            }
            Some(Item::Counter(casa_hist::Counter::Float(x))) => {
                let w = w.as_f64().unwrap();
                assert!(
                    (x - w).abs() <= 1e-9 * w.abs(),
                    "{name}: casa {x}, reference {w}"
                );
            }
            other => panic!("{name}: {other:?}"),
        }
        // Not vacuous: every quantity is non-zero on this file.
        assert_ne!(w.as_f64(), Some(0.0), "{name}");
    }
}

/// A C plugin against `casa_plugin.h` with static optional columns and no `select_columns`:
/// the present one arrives, the absent one is left out, the job succeeds.
#[test]
fn a_c_plugin_declares_optional_columns() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("optional.c");
    std::fs::write(
        &src,
        r#"
#include <casa_plugin.h>
#include <string.h>
static int state;
static void *init(const casa_host *h, char *e, uint64_t n) { (void)e; (void)n; return h->abi_version == 2 ? &state : NULL; }
static int32_t process(void *s, const casa_host *h, const casa_batch *b, char *e, uint64_t n) {
  (void)s; (void)e; (void)n;
  double pt = 0, absent = 0;
  for (uint64_t c = 0; c < b->n_columns; ++c) {
    if (strcmp(b->columns[c].name, "Muon_pt") == 0) pt += (double)b->columns[c].n_values;
    if (strcmp(b->columns[c].name, "not_in_this_file") == 0) absent += 1;
  }
  if (h->count(h->ctx, "muon_pt_values", pt, 1) || h->count(h->ctx, "absent", absent, 1)) return -1;
  return 0;
}
static void destroy(void *s) { (void)s; }
static const char *const columns[] = {"nMuon", NULL};
static const char *const optional[] = {"Muon_pt", "not_in_this_file", NULL};
static const casa_plugin plugin = {CASA_ABI_VERSION, "optional-c", columns, init, process,
                                   destroy, optional, NULL};
const casa_plugin *casa_plugin_v2(void) { return &plugin; }
"#,
    )
    .unwrap();
    let so = d.path().join("liboptional.so");
    let st = Command::new("gcc")
        .args([
            "-std=c99", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I",
        ])
        .arg(workspace().join("plugin/include"))
        .arg("-o")
        .arg(&so)
        .arg(&src)
        .arg("-lm")
        .status()
        .unwrap();
    assert!(st.success());
    let f = fixture("root-zstd.root");
    let (_, acc) = run(&so, vec![chunk("ZZ", &f, "Events", 0, 5000)], &[]).partial();
    let want = python_json(
        "import sys, json, uproot; t = uproot.open(sys.argv[1])['Events']; \
         print(json.dumps(int(t['nMuon'].array(library='np', entry_stop=5000).sum())))",
        &[f.to_str().unwrap()],
    );
    assert_eq!(
        counter(&acc, "ZZ", "muon_pt_values"),
        want.as_i64().unwrap()
    );
    assert_eq!(counter(&acc, "ZZ", "absent"), 0);
}
