//! The jobs' own metrics (`RUNDIR/metrics/*.json`, `casa_formats::JobMetrics`) summed for the
//! report: exit classes, throughput, read latency per input server (the jobs' HdrHistograms
//! added), peak memory.
//!
//! A metrics file that cannot be read is listed in the report, never fatal: the merged result
//! does not depend on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine;
use casa_formats::metrics::ServerReads;
use casa_formats::{ExitClass, JobMetrics};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Percentiles of a latency distribution, in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// What the metrics files say about the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MetricsSummary {
    pub dir: PathBuf,
    /// Metrics files read (one per attempt when attempts keep their own file).
    pub attempts: u64,
    /// Distinct nodes among them.
    pub jobs: u64,
    pub retries: u64,
    /// Attempts per exit class (`success`, `retryable_input`, ...).
    pub by_exit_class: BTreeMap<String, u64>,
    /// Attempts that did not succeed: node and class.
    pub failures: Vec<(String, String)>,
    /// Events processed by successful attempts.
    pub events: u64,
    pub bytes_read: u64,
    pub read_requests: u64,
    pub wall_s: f64,
    pub cpu_s: f64,
    /// From the first job's start to the last one's end: each metrics file's modification
    /// time is the end of its job, minus its wall time the start.
    pub span_s: f64,
    /// Events per second of summed job wall time (the throughput of one job slot).
    pub events_per_wall_s: f64,
    /// Events per second of the run's span (the throughput of the whole run).
    pub events_per_span_s: f64,
    pub peak_rss_kb: u64,
    pub peak_rss_node: String,
    /// Per request, per input server.
    pub read_latency: BTreeMap<String, Percentiles>,
    /// Requests, bytes and time per input server (jobs whose metrics have them, 1.2 on).
    pub reads_by_server: BTreeMap<String, ServerReads>,
    pub batch_time: Option<Percentiles>,
    /// Files that could not be read, with the reason.
    pub unreadable: Vec<String>,
}

/// Reads every `*.json` in `dir`; `None` when the directory does not exist.
pub fn summarize(dir: &Path) -> Option<MetricsSummary> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut s = MetricsSummary {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    let mut nodes = BTreeSet::new();
    let mut latency: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut batch: Option<Histogram<u64>> = None;
    let (mut first_start, mut last_end) = (f64::INFINITY, f64::NEG_INFINITY);
    for f in &files {
        let m = match std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<JobMetrics>(&b).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => {
                s.unreadable.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        s.attempts += 1;
        let node = if m.node.is_empty() {
            f.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        } else {
            m.node.clone()
        };
        nodes.insert(node.clone());
        *s.by_exit_class
            .entry(m.exit_class.name().to_string())
            .or_default() += 1;
        if m.exit_class == ExitClass::Success {
            s.events += m.events;
        } else {
            s.failures
                .push((node.clone(), m.exit_class.name().to_string()));
        }
        s.bytes_read += m.bytes_read;
        s.read_requests += m.read_requests;
        s.wall_s += m.wall_s;
        s.cpu_s += m.cpu_s;
        if m.peak_rss_kb > s.peak_rss_kb {
            s.peak_rss_kb = m.peak_rss_kb;
            s.peak_rss_node = node.clone();
        }
        if let Some(end) = mtime(f) {
            first_start = first_start.min(end - m.wall_s);
            last_end = last_end.max(end);
        }
        for (server, encoded) in &m.read_latency_us {
            match decode(encoded) {
                Ok(h) => add_into(latency.entry(server.clone()), h),
                Err(e) => s
                    .unreadable
                    .push(format!("{}: read_latency_us[{server}]: {e}", f.display())),
            }
        }
        for (server, r) in &m.reads_by_server {
            s.reads_by_server.entry(server.clone()).or_default().add(r);
        }
        if !m.batch_time_us.is_empty() {
            match decode(&m.batch_time_us) {
                Ok(h) => match &mut batch {
                    Some(b) => {
                        let _ = b.add(&h);
                    }
                    None => batch = Some(h),
                },
                Err(e) => s
                    .unreadable
                    .push(format!("{}: batch_time_us: {e}", f.display())),
            }
        }
    }
    s.jobs = nodes.len() as u64;
    s.retries = s.attempts.saturating_sub(s.jobs);
    if last_end > first_start {
        s.span_s = last_end - first_start;
    }
    if s.wall_s > 0.0 {
        s.events_per_wall_s = s.events as f64 / s.wall_s;
    }
    if s.span_s > 0.0 {
        s.events_per_span_s = s.events as f64 / s.span_s;
    }
    s.read_latency = latency
        .iter()
        .map(|(k, h)| (k.clone(), percentiles(h)))
        .collect();
    s.batch_time = batch.as_ref().map(percentiles);
    Some(s)
}

fn add_into(slot: std::collections::btree_map::Entry<String, Histogram<u64>>, h: Histogram<u64>) {
    match slot {
        std::collections::btree_map::Entry::Vacant(v) => {
            v.insert(h);
        }
        std::collections::btree_map::Entry::Occupied(mut o) => {
            // Auto-resizing histograms accept any other's range.
            let _ = o.get_mut().add(&h);
        }
    }
}

fn mtime(p: &Path) -> Option<f64> {
    let t = std::fs::metadata(p).ok()?.modified().ok()?;
    Some(t.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs_f64())
}

/// An HdrHistogram from base64 of its V2 (deflate) serialisation.
fn decode(b64: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("not an HdrHistogram: {e:?}"))?;
    h.auto(true);
    Ok(h)
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    Percentiles {
        count: h.len(),
        p50_us: h.value_at_quantile(0.5),
        p90_us: h.value_at_quantile(0.9),
        p99_us: h.value_at_quantile(0.99),
        max_us: h.max(),
    }
}
