//! `casa-wrapper run`: one leaf job. Read the job spec, load the plugin, read each chunk's
//! columns batch by batch (cluster-aligned, bounded memory), hand the batches to the plugin,
//! and write the partial result and the metrics atomically. Every failure ends in one exit
//! class from `casa_formats::ExitClass`.

use std::collections::BTreeMap;
use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casa_formats::metrics::ServerReads;
use casa_formats::partial::{self, ChunkId, PartialHeader};
use casa_formats::{ExitClass, JobMetrics, JobSpec};
use casa_plugin::abi::{self, casa_batch, casa_column};
use rootio::source::is_permanent;
use rootio::{open_event_source, BatchPolicy, ByteRange, ByteSource, RootFile, Values};

use crate::checkpoint::{CheckpointOptions, Checkpointer, Position};
use crate::host::{resolve_inputs, Plugin, Session, Setup};
use crate::latency::Latency;

/// A batch read and decoded, ready for the plugin.
struct Ready {
    lo: u64,
    hi: u64,
    batch: rootio::Batch,
    m: rootio::ReadMetrics,
    fetch: Duration,
    decode: Duration,
}

fn evicted_failure() -> Failure {
    Failure::new(
        ExitClass::Evicted,
        "SIGTERM received: stopped before the end, no partial written",
    )
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub job: PathBuf,
    pub plugin: PathBuf,
    pub out: PathBuf,
    pub metrics: Option<PathBuf>,
    /// Target entries per batch (batches end on common basket boundaries).
    pub batch_entries: u64,
    /// Read the next batch while the plugin processes the current one (uses one more
    /// thread; worth it when the job has more than one core).
    pub pipeline: bool,
    /// How remote (`root://`) inputs are read.
    pub input: InputOptions,
    /// Self-checkpointing (none: SIGTERM stops the job without a partial, exit 15).
    pub checkpoint: Option<CheckpointOptions>,
}

/// Inputs are opened by the reader, the source chosen by URL scheme with the run's XCache and
/// remote settings; errors carry the I/O error whose kind [`classify`] turns into the exit
/// class.
pub use rootio::source::{open_input, InputOptions};

/// A failed run: the exit class and a message naming what failed.
#[derive(Debug)]
pub struct Failure {
    pub class: ExitClass,
    pub message: String,
}

impl Failure {
    pub(crate) fn new(class: ExitClass, message: impl Into<String>) -> Failure {
        Failure {
            class,
            message: message.into(),
        }
    }
}

/// What a successful run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub events: u64,
    pub metrics: JobMetrics,
}

/// Classify a reader error: the source failing is worth a retry, bad bytes are not, and a
/// branch the plugin asked for that is missing or unreadable is the plugin's fault.
fn classify(e: &rootio::Error) -> ExitClass {
    use rootio::Error as E;
    match e {
        E::Open { source, .. } | E::Io { source, .. } => {
            if is_permanent(source.kind()) {
                ExitClass::PermanentInput
            } else {
                ExitClass::RetryableInput
            }
        }
        E::NoBranch { .. } | E::AmbiguousBranch { .. } | E::Unsupported { .. } => {
            ExitClass::PluginFault
        }
        _ => ExitClass::PermanentInput,
    }
}

/// Reads per input server ("local" for files, `host:port` for XRootD): the latency of each
/// request and the bytes and time they add up to.
type Latencies = Arc<Mutex<BTreeMap<String, (Latency, ServerReads)>>>;

/// A byte source that times every request, for the latency metrics.
struct Timed<S> {
    inner: S,
    latency: Latencies,
}

impl<S: ByteSource> Timed<S> {
    /// One request of `bytes`: a vector read is one request, however many ranges it served
    /// (timing it once per range counted a slow request many times over).
    fn record(&self, d: Duration, bytes: u64) {
        // Keyed by the server that answered: a fallback moves later requests elsewhere.
        let mut map = self.latency.lock().expect("latency lock");
        let (l, reads) = map.entry(self.inner.server()).or_default();
        l.record(d);
        reads.add(&ServerReads {
            requests: 1,
            bytes,
            seconds: d.as_secs_f64(),
        });
    }
}

impl<S: ByteSource> ByteSource for Timed<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let t = Instant::now();
        let r = self.inner.read_at(offset, buf);
        self.record(t.elapsed(), buf.len() as u64);
        r
    }
    fn read_ranges(&self, ranges: &[ByteRange]) -> std::io::Result<Vec<Vec<u8>>> {
        let t = Instant::now();
        let r = self.inner.read_ranges(ranges);
        let bytes = ranges.iter().map(|r| r.len as u64).sum();
        self.record(t.elapsed(), bytes);
        r
    }
    fn stats(&self) -> rootio::ReadStats {
        self.inner.stats()
    }
    fn server(&self) -> String {
        self.inner.server()
    }
}

/// Column descriptors for the C ABI, pointing into a decoded batch.
fn abi_columns(names: &[CString], batch: &rootio::Batch) -> Vec<casa_column> {
    names
        .iter()
        .zip(&batch.columns)
        .map(|(name, col)| {
            let (dtype, values, n): (i32, *const c_void, usize) = match &col.values {
                // Rust bools are one byte, 0 or 1: exactly the ABI's bool.
                Values::Bool(v) => (abi::CASA_BOOL, v.as_ptr().cast(), v.len()),
                Values::I8(v) => (abi::CASA_I8, v.as_ptr().cast(), v.len()),
                Values::U8(v) => (abi::CASA_U8, v.as_ptr().cast(), v.len()),
                Values::I16(v) => (abi::CASA_I16, v.as_ptr().cast(), v.len()),
                Values::U16(v) => (abi::CASA_U16, v.as_ptr().cast(), v.len()),
                Values::I32(v) => (abi::CASA_I32, v.as_ptr().cast(), v.len()),
                Values::U32(v) => (abi::CASA_U32, v.as_ptr().cast(), v.len()),
                Values::I64(v) => (abi::CASA_I64, v.as_ptr().cast(), v.len()),
                Values::U64(v) => (abi::CASA_U64, v.as_ptr().cast(), v.len()),
                Values::F32(v) => (abi::CASA_F32, v.as_ptr().cast(), v.len()),
                Values::F64(v) => (abi::CASA_F64, v.as_ptr().cast(), v.len()),
            };
            casa_column {
                name: name.as_ptr(),
                dtype,
                inner: col.inner as u64,
                n_values: n as u64,
                values,
                offsets: col
                    .offsets
                    .as_ref()
                    .map_or(std::ptr::null(), |o| o.as_ptr()),
            }
        })
        .collect()
}

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).expect("NULs replaced")
}

/// Run a job. `started` is the process start, for time-to-first-event.
pub fn run(
    opts: &RunOptions,
    started: Instant,
    evicted: &AtomicBool,
) -> Result<RunSummary, Failure> {
    let mut metrics = JobMetrics {
        format: "casa-metrics".into(),
        version: casa_formats::metrics::METRICS_FORMAT_VERSION.into(),
        host: hostname(),
        ..Default::default()
    };
    // Create the output directories first: on HTCondor the job returns its output
    // directory, which must exist even when the job fails before writing anything.
    for p in std::iter::once(&opts.out).chain(opts.metrics.as_ref()) {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return Err(Failure::new(
                    ExitClass::OutputFault,
                    format!("{}: cannot create the output directory: {e}", dir.display()),
                ));
            }
        }
    }
    let result = run_inner(opts, started, evicted, &mut metrics);
    metrics.exit_class = match &result {
        Ok(_) => ExitClass::Success,
        Err(f) => f.class,
    };
    if let Err(f) = &result {
        metrics.error = f.message.clone();
    }
    metrics.wall_s = started.elapsed().as_secs_f64();
    metrics.cpu_s = cpu_seconds();
    metrics.peak_rss_kb = peak_rss_kb();
    if let Some(path) = &opts.metrics {
        let text = serde_json::to_vec_pretty(&metrics).expect("metrics serialise");
        if let Err(e) = casa_formats::fsutil::atomic_write(path, &text) {
            // A failure already explains itself; a lost metrics file on success is an
            // output fault.
            if result.is_ok() {
                // A failure leaves no partial: one found next to an exit 13 must not be
                // taken for a good result.
                let _ = std::fs::remove_file(&opts.out);
                return Err(Failure::new(
                    ExitClass::OutputFault,
                    format!("{}: cannot write metrics: {e}", path.display()),
                ));
            }
        }
    }
    result.map(|events| RunSummary { events, metrics })
}

fn run_inner(
    opts: &RunOptions,
    started: Instant,
    evicted: &AtomicBool,
    metrics: &mut JobMetrics,
) -> Result<u64, Failure> {
    let job =
        JobSpec::read(&opts.job).map_err(|e| Failure::new(ExitClass::InvalidJob, e.to_string()))?;
    metrics.run_id = job.run_id.clone();
    metrics.node = job.node.clone();
    let plugin = Plugin::load(&opts.plugin)
        .map_err(|e| Failure::new(ExitClass::PluginFault, e.to_string()))?;
    // The shipped inputs must all be here before the plugin starts: a missing one is the
    // job's fault, not the plugin's.
    let job_dir = opts.job.parent().unwrap_or(Path::new(""));
    let setup = Setup {
        config: job.config.clone(),
        inputs: resolve_inputs(&job.inputs, job_dir).map_err(|e| {
            Failure::new(
                ExitClass::InvalidJob,
                format!("{}: {e}", opts.job.display()),
            )
        })?,
    };
    let mut session = Session::start_with(&plugin, &setup)
        .map_err(|e| Failure::new(ExitClass::PluginFault, e.to_string()))?;
    let latency: Latencies = Arc::default();
    let mut batch_time = Latency::new();
    let mut covered = Vec::with_capacity(job.chunks.len());
    let mut first_event = None;
    // Where to start: the beginning, or where this job's checkpoint says.
    let (mut ckpt, mut start_chunk, mut start_entry) = (None, 0, None);
    if let Some(o) = &opts.checkpoint {
        let mut c = Checkpointer::new(o, &opts.job, &opts.plugin, &job, opts.batch_entries)?;
        if let Some(r) = c.load() {
            let (host, exit_class) = (std::mem::take(&mut metrics.host), metrics.exit_class);
            *metrics = r.metrics;
            (metrics.host, metrics.exit_class) = (host, exit_class);
            c.stats.earlier_wall_s = metrics.wall_s;
            covered = r.covered;
            session.restore(r.acc);
            (start_chunk, start_entry) = (r.next_chunk, Some(r.next_entry));
        }
        ckpt = Some(c);
    }
    let (mut io_s, mut decode_s, mut plugin_s) = (metrics.io_s, metrics.decode_s, metrics.plugin_s);
    let plugin_name = plugin.name.clone();
    for (ci, chunk) in job.chunks.iter().enumerate().skip(start_chunk) {
        let fail_input = |e: rootio::Error| {
            let class = classify(&e);
            let msg = match class {
                ExitClass::PluginFault => format!(
                    "plugin {plugin_name} asks for a column this input cannot give (dataset {}): {e}",
                    chunk.dataset
                ),
                _ => format!("dataset {}: {e}", chunk.dataset),
            };
            Failure::new(class, msg)
        };
        let t = Instant::now();
        let source = open_input(&chunk.file, &opts.input).map_err(fail_input)?;
        let source = Arc::new(Timed {
            inner: source,
            latency: latency.clone(),
        });
        let file = RootFile::from_source(source.clone()).map_err(fail_input)?;
        let uuid = file.uuid().to_string();
        if let Some(want) = &chunk.uuid {
            if !want.is_empty() && *want != uuid {
                return Err(Failure::new(
                    ExitClass::PermanentInput,
                    format!(
                        "{}: UUID is {uuid}, the plan expected {want} (the file changed since preprocessing)",
                        chunk.file
                    ),
                ));
            }
        }
        let events = open_event_source(&file, &chunk.tree).map_err(fail_input)?;
        let meta = chunk.metadata.to_string();
        // The plugin's columns for this dataset: required ones must exist (checked below),
        // optional ones (MC-only branches) are read when this file has them.
        let choice = session
            .columns(&chunk.dataset, &meta)
            .map_err(|e| Failure::new(ExitClass::PluginFault, e.to_string()))?;
        let names: Vec<&str> = choice
            .required
            .iter()
            .map(String::as_str)
            .chain(
                choice
                    .optional
                    .iter()
                    .map(String::as_str)
                    .filter(|n| events.type_of(n).is_ok()),
            )
            .collect();
        let cnames: Vec<CString> = names.iter().map(|n| cstring(n)).collect();
        for n in &names {
            events.type_of(n).map_err(fail_input)?;
        }
        if chunk.entry_stop > events.entries() {
            return Err(Failure::new(
                ExitClass::PermanentInput,
                format!(
                    "{}: tree '{}' has {} entries, the chunk asks for {}:{} (the file changed since preprocessing)",
                    chunk.file, chunk.tree, events.entries(), chunk.entry_start, chunk.entry_stop
                ),
            ));
        }
        io_s += t.elapsed().as_secs_f64();
        let dataset = cstring(&chunk.dataset);
        let cfile = cstring(&chunk.file);
        let ctree = cstring(&chunk.tree);
        let cuuid = cstring(&uuid);
        let cmeta = cstring(&meta);
        // A small first batch so the plugin starts early, then about `batch_entries` entries
        // each, on common basket boundaries (the reader's policy, shared with preprocess).
        let mut batches = BatchPolicy::quick_start(opts.batch_entries)
            .batches(&*events, &names, chunk.entry_start, chunk.entry_stop)
            .map_err(fail_input)?;
        // Resuming inside this chunk: the batches after the checkpoint, cut where the
        // uninterrupted run cut them.
        let mut reached = chunk.entry_start;
        if ci == start_chunk {
            if let Some(from) = start_entry.filter(|&e| e > chunk.entry_start) {
                if from != chunk.entry_stop && !batches.iter().any(|&(lo, _)| lo == from) {
                    return Err(Failure::new(
                        ExitClass::Internal,
                        format!(
                            "the checkpoint stops at entry {from} of {} entries {}:{}, which is no batch boundary",
                            chunk.file, chunk.entry_start, chunk.entry_stop
                        ),
                    ));
                }
                batches.retain(|&(lo, _)| lo >= from);
                reached = from;
            }
        }
        let read_batch = |lo: u64, hi: u64| -> Result<Ready, Failure> {
            let tb = Instant::now();
            let plan = events.plan(&names, lo, hi).map_err(fail_input)?;
            let raw = events.fetch(&plan).map_err(fail_input)?;
            let fetch = tb.elapsed();
            let (batch, m) = events.decode(&plan, raw).map_err(fail_input)?;
            Ok(Ready {
                lo,
                hi,
                batch,
                m,
                fetch,
                decode: tb.elapsed() - fetch,
            })
        };
        // Checkpoint at `entry` of this chunk, with the metrics so far.
        let save = |ckpt: &mut Checkpointer,
                    session: &Session,
                    metrics: &JobMetrics,
                    times: (f64, f64, f64),
                    entry: u64,
                    why: &str| {
            let mut m = metrics.clone();
            (m.io_s, m.decode_s, m.plugin_s) = times;
            let stats = source.stats();
            m.bytes_read += stats.bytes;
            m.read_requests += stats.requests;
            m.wall_s = ckpt.stats.earlier_wall_s + started.elapsed().as_secs_f64();
            let pos = Position {
                covered: &covered,
                next_chunk: ci,
                next_entry: entry,
            };
            ckpt.write(pos, session.accumulator(), &m, why)
                .unwrap_or_else(|e| e)
        };
        let mut consume = |r: Ready| -> Result<(), Failure> {
            if evicted.load(Ordering::Relaxed) {
                return Err(match ckpt.as_mut() {
                    Some(c) => {
                        let t = (io_s, decode_s, plugin_s);
                        save(c, &session, metrics, t, r.lo, "SIGTERM")
                    }
                    None => evicted_failure(),
                });
            }
            let tp = Instant::now();
            metrics.baskets += r.m.baskets;
            metrics.bytes_decompressed += r.m.uncompressed_bytes;
            let columns = abi_columns(&cnames, &r.batch);
            let cb = casa_batch {
                dataset: dataset.as_ptr(),
                file: cfile.as_ptr(),
                tree: ctree.as_ptr(),
                file_uuid: cuuid.as_ptr(),
                metadata_json: cmeta.as_ptr(),
                entry_start: r.lo,
                entry_stop: r.hi,
                n_entries: r.hi - r.lo,
                n_columns: columns.len() as u64,
                columns: columns.as_ptr(),
            };
            if first_event.is_none() {
                first_event = Some(started.elapsed());
            }
            session.process(&chunk.dataset, &cb).map_err(|e| {
                Failure::new(
                    ExitClass::PluginFault,
                    format!(
                        "{e} (dataset {}, file {}, entries {}:{})",
                        chunk.dataset, chunk.file, r.lo, r.hi
                    ),
                )
            })?;
            let plugin = tp.elapsed();
            io_s += r.fetch.as_secs_f64();
            decode_s += r.decode.as_secs_f64();
            plugin_s += plugin.as_secs_f64();
            batch_time.record(r.fetch + r.decode + plugin);
            metrics.batches += 1;
            metrics.events += r.hi - r.lo;
            reached = r.hi;
            if let Some(c) = ckpt.as_mut() {
                c.handed(r.hi - r.lo);
                let ev = evicted.load(Ordering::Relaxed);
                // After the job's last batch only the partial is left to write: cheaper than
                // a checkpoint and a restart.
                let last = ci + 1 == job.chunks.len() && r.hi == chunk.entry_stop;
                if !last && c.due(ev) {
                    let why = if ev { "SIGTERM" } else { "interval" };
                    let t = (io_s, decode_s, plugin_s);
                    let f = save(c, &session, metrics, t, r.hi, why);
                    // A periodic checkpoint that cannot be written is not worth stopping for.
                    if ev || f.class == ExitClass::Checkpointed {
                        return Err(f);
                    }
                    eprintln!("warning: {}", f.message);
                }
            }
            Ok(())
        };
        if opts.pipeline {
            // Read and decode the next batch while the plugin works on this one.
            std::thread::scope(|s| -> Result<(), Failure> {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let read_batch = &read_batch;
                let batches = &batches;
                s.spawn(move || {
                    for &(lo, hi) in batches {
                        if evicted.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = read_batch(lo, hi);
                        let failed = r.is_err();
                        if tx.send(r).is_err() || failed {
                            break;
                        }
                    }
                });
                for r in rx {
                    consume(r?)?;
                }
                Ok(())
            })?;
            // The reader stopped early for SIGTERM: checkpoint where the plugin got to.
            if evicted.load(Ordering::Relaxed) && reached < chunk.entry_stop {
                return Err(match ckpt.as_mut() {
                    Some(c) => {
                        let t = (io_s, decode_s, plugin_s);
                        save(c, &session, metrics, t, reached, "SIGTERM")
                    }
                    None => evicted_failure(),
                });
            }
        } else {
            for &(lo, hi) in &batches {
                consume(read_batch(lo, hi)?)?;
            }
        }
        let stats = source.stats();
        metrics.bytes_read += stats.bytes;
        metrics.read_requests += stats.requests;
        metrics.chunks += 1;
        covered.push(ChunkId {
            dataset: chunk.dataset.clone(),
            file: chunk.file.clone(),
            uuid,
            tree: chunk.tree.clone(),
            entry_start: chunk.entry_start,
            entry_stop: chunk.entry_stop,
        });
    }
    let acc = session.finish();
    metrics.io_s = io_s;
    metrics.decode_s = decode_s;
    metrics.plugin_s = plugin_s;
    metrics.time_to_first_event_ms = first_event.map_or(0.0, |d| d.as_secs_f64() * 1e3);
    for (server, (l, reads)) in latency.lock().expect("latency lock").iter() {
        metrics.read_latency_us.insert(server.clone(), l.encode());
        metrics.reads_by_server.insert(server.clone(), *reads);
    }
    metrics.batch_time_us = batch_time.encode();
    // With a checkpoint, SIGTERM after the last batch still ends in the (complete) partial.
    if evicted.load(Ordering::Relaxed) && ckpt.is_none() {
        return Err(Failure::new(
            ExitClass::Evicted,
            "SIGTERM received: no partial written",
        ));
    }
    let header = PartialHeader {
        run_id: job.run_id.clone(),
        node: job.node.clone(),
        producer: format!("casa-wrapper {}", env!("CARGO_PKG_VERSION")),
        plugin: plugin.name.clone(),
        chunks: covered,
        events: metrics.events,
    };
    let payload = serde_json::to_vec(&acc).map_err(|e| {
        Failure::new(
            ExitClass::Internal,
            format!("serialising the accumulator: {e}"),
        )
    })?;
    partial::write(&opts.out, &header, &payload)
        .map_err(|e| Failure::new(ExitClass::OutputFault, e.to_string()))?;
    // Success means the partial on disk reads back whole.
    partial::read(&opts.out).map_err(|e| {
        Failure::new(
            ExitClass::OutputFault,
            format!("written partial does not verify: {e}"),
        )
    })?;
    if let Some(c) = ckpt {
        metrics.checkpoint = c.stats.clone();
        c.remove();
    }
    Ok(metrics.events)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Peak resident set size of this process (VmHWM), in KiB.
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse().ok()))
        })
        .unwrap_or(0)
}

/// User + system CPU time of this process, from /proc/self/stat (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are 14th and 15th.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// The path of the partial a job writes by default: `OUT` as given.
pub fn default_metrics_path(out: &Path) -> PathBuf {
    out.with_extension("metrics.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vector read of five ranges is one request of their bytes, not five requests of the
    /// whole read's latency (which made page-cache reads show a 143 ms median).
    #[test]
    fn a_vector_read_is_timed_once() {
        let latency: Latencies = Arc::default();
        let source = Timed {
            inner: rootio::MemSource::new("m", vec![7u8; 1000]),
            latency: latency.clone(),
        };
        let ranges: Vec<ByteRange> = (0..5)
            .map(|i| ByteRange {
                offset: i * 100,
                len: 50,
            })
            .collect();
        source.read_ranges(&ranges).unwrap();
        source.read_at(0, &mut [0u8; 10]).unwrap();
        let map = latency.lock().unwrap();
        let (l, reads) = &map["local"];
        assert_eq!(l.len(), 2);
        assert_eq!((reads.requests, reads.bytes), (2, 260));
    }
}
