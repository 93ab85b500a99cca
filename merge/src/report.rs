//! `report.json` and `report.md`: what was merged, coverage against the plan, and the jobs'
//! metrics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::coverage::{Coverage, Gap};
use crate::metrics::MetricsSummary;
use crate::once::Duplicate;
use crate::plot::PlotFile;

pub const REPORT_FORMAT_VERSION: &str = "1.0";

/// Everything a merge reports.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Always "casa-merge-report".
    pub format: String,
    pub version: String,
    /// "complete", "incomplete" (gaps allowed by `--allow-missing`, or refused), or
    /// "unchecked" (no plan).
    pub status: String,
    pub producer: String,
    pub run_id: String,
    pub plugin: String,
    /// The merged partial (absent when the coverage check refused to write it).
    pub output: Option<PathBuf>,
    pub inputs: usize,
    /// Partials written by casa-merge, left out because the leaves they hold are merged
    /// (`--run` without named partials).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_merged_partials: Vec<PathBuf>,
    pub merged: usize,
    pub duplicates: Vec<Duplicate>,
    pub chunks: usize,
    /// Sum of the merged partials' event counts.
    pub events: u64,
    /// Entries in the merged chunks, per dataset.
    pub entries_by_dataset: BTreeMap<String, u64>,
    pub coverage: Option<Coverage>,
    pub metrics: Option<MetricsSummary>,
    pub histograms: Option<PathBuf>,
    /// Histograms left out of the cross-dataset views, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views_skipped: Vec<String>,
    pub plots: Vec<PlotFile>,
    pub fan_in: usize,
    pub threads: usize,
    pub merge_seconds: f64,
}

fn ranges(out: &mut String, gaps: &[Gap], limit: usize) {
    let _ = writeln!(
        out,
        "| dataset | file | tree | entries | events | jobs / reason |"
    );
    let _ = writeln!(out, "|---|---|---|---|---:|---|");
    for g in gaps.iter().take(limit) {
        let who = if g.nodes.is_empty() {
            g.reason.clone()
        } else {
            g.nodes.join(", ")
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | [{}, {}) | {} | {} |",
            g.dataset,
            g.file,
            g.tree,
            g.entry_start,
            g.entry_stop,
            g.events(),
            who
        );
    }
    if gaps.len() > limit {
        let _ = writeln!(
            out,
            "\n... and {} more (see report.json)",
            gaps.len() - limit
        );
    }
}

/// The Markdown report.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# casa-merge report\n");
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| status | **{}** |", r.status);
    let _ = writeln!(s, "| run | {} |", r.run_id);
    let _ = writeln!(s, "| plugin | {} |", r.plugin);
    if let Some(o) = &r.output {
        let _ = writeln!(s, "| merged partial | `{}` |", o.display());
    }
    let _ = writeln!(
        s,
        "| partials | {} read, {} merged, {} duplicates left out |",
        r.inputs,
        r.merged,
        r.duplicates.len()
    );
    if !r.skipped_merged_partials.is_empty() {
        let _ = writeln!(
            s,
            "| merged partials left out | {} (their leaves are merged instead) |",
            r.skipped_merged_partials.len()
        );
    }
    let _ = writeln!(s, "| chunks | {} |", r.chunks);
    let _ = writeln!(s, "| events | {} |", r.events);
    let _ = writeln!(
        s,
        "| merge | {:.2} s, fan-in {}, {} threads |",
        r.merge_seconds, r.fan_in, r.threads
    );
    let _ = writeln!(s, "| producer | {} |", r.producer);

    let _ = writeln!(s, "\n## Coverage\n");
    match &r.coverage {
        None => {
            let _ = writeln!(s, "Not checked (no plan given).\n");
            let _ = writeln!(s, "| dataset | entries merged |\n|---|---:|");
            for (ds, n) in &r.entries_by_dataset {
                let _ = writeln!(s, "| {ds} | {n} |");
            }
        }
        Some(c) => {
            let _ = writeln!(
                s,
                "Plan `{}`: {} jobs. {} of {} planned events covered ({:.4} %), {} missing, {} not in the plan.\n",
                c.plan.display(),
                c.jobs,
                c.covered_events,
                c.planned_events,
                if c.planned_events > 0 {
                    100.0 * c.covered_events as f64 / c.planned_events as f64
                } else {
                    100.0
                },
                c.missing_events,
                c.unplanned_events
            );
            if !c.skipped_files.is_empty() || !c.skipped_datasets.is_empty() {
                let _ = writeln!(
                    s,
                    "**{} files and {} datasets were left out of the plan** (unreadable when planned, `--skip-bad-files`): their events are in no count above.\n",
                    c.skipped_files.len(),
                    c.skipped_datasets.len()
                );
            }
            let _ = writeln!(
                s,
                "| dataset | planned chunks | planned events | covered | missing | not planned | files left out |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
            for d in &c.datasets {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    d.dataset,
                    d.planned_chunks,
                    d.planned_events,
                    d.covered_events,
                    d.missing_events,
                    d.unplanned_events,
                    d.skipped_files
                );
            }
            if !c.skipped_files.is_empty() {
                let _ = writeln!(s, "\n### Files left out of the plan\n");
                let _ = writeln!(s, "| dataset | file | reason |\n|---|---|---|");
                for f in &c.skipped_files {
                    let _ = writeln!(s, "| {} | `{}` | {} |", f.dataset, f.file, f.reason);
                }
            }
            if !c.skipped_datasets.is_empty() {
                let _ = writeln!(
                    s,
                    "\nDatasets left out (no readable file): {}",
                    c.skipped_datasets.join(", ")
                );
            }
            if !c.missing.is_empty() {
                let _ = writeln!(s, "\n### Missing ranges\n");
                ranges(&mut s, &c.missing, 200);
            }
            if !c.unplanned.is_empty() {
                let _ = writeln!(s, "\n### Covered but not planned\n");
                ranges(&mut s, &c.unplanned, 200);
            }
        }
    }
    if !r.duplicates.is_empty() {
        let _ = writeln!(s, "\n## Duplicates left out\n");
        let _ = writeln!(
            s,
            "| kept | left out (identical copy) | chunks |\n|---|---|---:|"
        );
        for d in &r.duplicates {
            let _ = writeln!(
                s,
                "| `{}` | `{}` | {} |",
                d.kept.display(),
                d.dropped.display(),
                d.chunks
            );
        }
    }
    if let Some(m) = &r.metrics {
        let _ = writeln!(s, "\n## Jobs (`{}`)\n", m.dir.display());
        let _ = writeln!(
            s,
            "{} attempts of {} jobs ({} retries).\n",
            m.attempts, m.jobs, m.retries
        );
        let _ = writeln!(s, "| exit class | attempts |\n|---|---:|");
        for (class, n) in &m.by_exit_class {
            let _ = writeln!(s, "| {class} | {n} |");
        }
        if !m.failures.is_empty() {
            let _ = writeln!(s, "\nFailed attempts:");
            for (node, class) in m.failures.iter().take(100) {
                let _ = writeln!(s, "- {node}: {class}");
            }
        }
        let _ = writeln!(s, "\n| | |\n|---|---|");
        let _ = writeln!(s, "| events (successful attempts) | {} |", m.events);
        let _ = writeln!(
            s,
            "| job wall time (sum) | {:.1} s, CPU {:.1} s |",
            m.wall_s, m.cpu_s
        );
        let _ = writeln!(
            s,
            "| throughput per job slot | {:.0} events/s (events / summed wall time) |",
            m.events_per_wall_s
        );
        let _ = writeln!(
            s,
            "| throughput of the run | {:.0} events/s over a {:.1} s span |",
            m.events_per_span_s, m.span_s
        );
        let _ = writeln!(
            s,
            "| read | {} bytes in {} requests |",
            m.bytes_read, m.read_requests
        );
        let _ = writeln!(
            s,
            "| peak RSS (max over jobs) | {} MiB ({}) |",
            m.peak_rss_kb / 1024,
            m.peak_rss_node
        );
        if !m.read_latency.is_empty() {
            let _ = writeln!(
                s,
                "\nRead latency per input server: per request (µs; a vector read is one request), \
                 and per byte over all requests:\n"
            );
            let _ = writeln!(
                s,
                "| server | requests | p50 | p90 | p99 | max | MB read | µs per KiB | MB/s |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            for (server, p) in &m.read_latency {
                let per_byte = match m.reads_by_server.get(server) {
                    Some(r) if r.bytes > 0 => format!(
                        "{:.1} | {:.2} | {:.0}",
                        r.bytes as f64 / 1e6,
                        r.us_per_kib(),
                        r.mb_per_s()
                    ),
                    _ => "— | — | —".into(),
                };
                let _ = writeln!(
                    s,
                    "| {server} | {} | {} | {} | {} | {} | {per_byte} |",
                    p.count, p.p50_us, p.p90_us, p.p99_us, p.max_us
                );
            }
        }
        if let Some(p) = &m.batch_time {
            let _ = writeln!(
                s,
                "\nBatch time (µs): p50 {}, p90 {}, p99 {}, max {} over {} batches.",
                p.p50_us, p.p90_us, p.p99_us, p.max_us, p.count
            );
        }
        if !m.unreadable.is_empty() {
            let _ = writeln!(s, "\nUnreadable metrics:");
            for u in &m.unreadable {
                let _ = writeln!(s, "- {u}");
            }
        }
    }
    if let Some(h) = &r.histograms {
        let _ = writeln!(s, "\n## Outputs\n");
        let _ = writeln!(s, "- histograms (UHI JSON): `{}`", h.display());
        for p in &r.plots {
            match &p.path {
                Some(path) => {
                    let _ = writeln!(s, "- {} / {}: `{}`", p.dataset, p.name, path.display());
                }
                None => {
                    let _ = writeln!(
                        s,
                        "- {} / {}: not plotted ({})",
                        p.dataset, p.name, p.skipped
                    );
                }
            }
        }
    }
    s
}
