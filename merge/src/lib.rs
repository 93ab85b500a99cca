//! casa-merge: exact hierarchical reduction of partial results.
//!
//! A merge goes:
//!
//! 1. [`inputs`]: the partials named, listed (`--from-list`) or found in directories.
//! 2. `envelope::scan` every input in parallel: magic, version, lengths and checksum, and
//!    the header. Every bad file is reported at once, by name.
//! 3. [`once::select`]: every chunk counted once; identical copies (a retried node whose
//!    first attempt also wrote) are left out, anything else that shares a chunk is an error.
//! 4. [`coverage::check`] against the plan, from the headers alone, so a strict merge with
//!    gaps fails before reading any payload.
//! 5. [`tree::merge`]: a tree of fan-in k on the rayon pool, reading each payload once into
//!    the fast exact sums of [`acc`], memory bounded by fan-in and threads.
//! 6. The merged partial (itself a partial, so DAG merge nodes chain), and with an output
//!    directory `histograms.json` (UHI), PNG plots and the report.

pub mod acc;
pub mod coverage;
mod envelope;
pub mod error;
pub mod figure;
pub mod mathtext;
pub mod metrics;
pub mod once;
pub mod payload;
pub mod plot;
pub mod report;
pub mod show;
pub mod tree;
pub mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use casa_formats::fsutil;
use casa_formats::partial::{self, ChunkId, PartialHeader};
use rayon::prelude::*;

pub use error::{exit, MergeError};
pub use report::Report;

/// The producer string written into merged partials.
pub fn producer() -> String {
    format!("casa-merge {}", env!("CARGO_PKG_VERSION"))
}

/// What to merge and what to write.
#[derive(Clone, Debug)]
pub struct MergeOptions {
    /// The partials, as [`inputs`] returns them (sorted, each once).
    pub inputs: Vec<PathBuf>,
    /// The merged partial.
    pub output: PathBuf,
    /// Where `histograms.json`, `plots/` and `report.{json,md}` go (none: the merged partial
    /// only, as a DAG's inner merge nodes want).
    pub outdir: Option<PathBuf>,
    /// A run directory whose `jobs/*.json` are the plan to check coverage against.
    pub plan: Option<PathBuf>,
    /// A directory of job metrics for the report.
    pub metrics: Option<PathBuf>,
    /// Write the result even when planned events are missing (the gaps go in the report).
    pub allow_missing: bool,
    pub fan_in: usize,
    /// Header fields of the output; by default the inputs' run and "merge".
    pub run_id: Option<String>,
    pub node: Option<String>,
    /// Leave out inputs written by casa-merge itself (the outputs of a DAG's inner merge
    /// nodes, which share `RUNDIR/partials` with the leaves they contain).
    pub leaves_only: bool,
    /// Draw PNG plots into `outdir/plots`.
    pub plots: bool,
    pub plot_size: plot::Size,
    /// Cross-dataset views in `histograms.json`.
    pub views: views::Views,
    /// The fileset whose dataset metadata `--group-by` reads [default: RUNDIR/fileset.json
    /// of the plan].
    pub fileset: Option<PathBuf>,
}

/// The partials named by `args` (files, or directories whose `*.partial` files are taken)
/// and by the lines of `list` (one path a line; blank lines and `#` comments skipped),
/// sorted, each once.
pub fn inputs(args: &[PathBuf], list: Option<&Path>) -> Result<Vec<PathBuf>, MergeError> {
    let mut named: Vec<PathBuf> = args.to_vec();
    if let Some(list) = list {
        let text = std::fs::read_to_string(list).map_err(|source| MergeError::Read {
            path: list.to_path_buf(),
            source,
        })?;
        named.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(PathBuf::from),
        );
    }
    let mut out = Vec::new();
    for p in named {
        if p.is_dir() {
            let entries = std::fs::read_dir(&p).map_err(|source| MergeError::Read {
                path: p.clone(),
                source,
            })?;
            for e in entries {
                let e = e.map_err(|source| MergeError::Read {
                    path: p.clone(),
                    source,
                })?;
                let path = e.path();
                if path.extension().is_some_and(|x| x == "partial") && path.is_file() {
                    out.push(path);
                }
            }
        } else {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Merges, checks and writes as `opts` says; returns the report (also written when there is
/// an output directory).
pub fn merge(opts: &MergeOptions) -> Result<Report, MergeError> {
    let t0 = Instant::now();
    let plan = opts.plan.as_deref().map(coverage::read_plan).transpose()?;
    if opts.inputs.is_empty() && plan.is_none() {
        return Err(MergeError::Usage(
            "no partials to merge (name files, directories or --from-list)".into(),
        ));
    }
    // Read before merging: a bad fileset or key fails before anything is written.
    let metadata = group_metadata(opts)?;

    // The output is written over by rename: an input it names would be replaced. (An output
    // that does not exist yet is no input: those must exist.)
    if opts.output.exists() {
        let output = &opts.output;
        if let Some(input) = opts.inputs.iter().find(|i| fsutil::same_file(i, output)) {
            return Err(MergeError::Usage(format!(
                "the output {} is also an input ({}): the merge would replace it",
                output.display(),
                input.display()
            )));
        }
    }

    // Scan every input; report every bad one.
    let scanned: Vec<_> = opts.inputs.par_iter().map(|p| envelope::scan(p)).collect();
    let mut bad = Vec::new();
    let mut all = Vec::with_capacity(scanned.len());
    for (path, s) in opts.inputs.iter().zip(scanned) {
        match s {
            Ok(header) => all.push(once::Input {
                path: path.clone(),
                header,
            }),
            Err(e) => bad.push(e),
        }
    }
    if !bad.is_empty() {
        return Err(MergeError::BadPartials(bad));
    }
    let mut skipped = Vec::new();
    if opts.leaves_only {
        let (merged, leaves): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|i| i.header.producer.starts_with("casa-merge "));
        skipped = merged.into_iter().map(|i| i.path).collect();
        all = leaves;
    }
    let plugin = agree(&all, "plugin", |h| &h.plugin)?;
    let run_id = match &opts.run_id {
        Some(r) => r.clone(),
        None => {
            let r = agree(&all, "run", |h| &h.run_id)?;
            if r.is_empty() {
                plan.as_ref().map(|p| p.run_id.clone()).unwrap_or_default()
            } else {
                r
            }
        }
    };

    // Exactly once.
    let selection = once::select(&all)?;
    // The headers' chunk lists are not needed any more: move them (a million chunks take a
    // few hundred MB).
    let sources: Vec<tree::Source> = all
        .iter()
        .map(|i| tree::Source {
            path: i.path.clone(),
            datasets: i.header.datasets(),
        })
        .collect();
    let mut chunks: Vec<ChunkId> = Vec::new();
    for &i in &selection.unique {
        chunks.append(&mut all[i].header.chunks);
    }
    for i in &mut all {
        i.header.chunks = Vec::new();
    }
    chunks.sort();
    let events: u64 = selection.unique.iter().map(|&i| all[i].header.events).sum();
    let mut entries_by_dataset: BTreeMap<String, u64> = BTreeMap::new();
    for c in &chunks {
        *entries_by_dataset.entry(c.dataset.clone()).or_default() += c.entry_stop - c.entry_start;
    }

    let mut report = Report {
        format: "casa-merge-report".into(),
        version: report::REPORT_FORMAT_VERSION.into(),
        status: "unchecked".into(),
        producer: producer(),
        run_id: run_id.clone(),
        plugin: plugin.clone(),
        output: None,
        inputs: all.len(),
        skipped_merged_partials: skipped,
        merged: selection.unique.len(),
        duplicates: selection.duplicates.clone(),
        chunks: chunks.len(),
        events,
        entries_by_dataset,
        coverage: None,
        metrics: None,
        histograms: None,
        views_skipped: Vec::new(),
        plots: Vec::new(),
        fan_in: opts.fan_in,
        threads: rayon::current_num_threads(),
        merge_seconds: 0.0,
    };
    let metrics_dir = opts.metrics.clone().or_else(|| {
        opts.plan
            .as_ref()
            .map(|p| casa_run::RunDir::new(p).metrics_dir())
    });
    report.metrics = metrics_dir.as_deref().and_then(metrics::summarize);

    // Coverage, before the expensive part.
    if let Some(plan) = &plan {
        let cov = coverage::check(plan, &chunks);
        let refuse = !cov.unplanned.is_empty() || (!cov.missing.is_empty() && !opts.allow_missing);
        report.status = if cov.complete {
            "complete"
        } else {
            "incomplete"
        }
        .into();
        let summary = coverage_summary(&cov);
        report.coverage = Some(cov);
        if refuse {
            if let Some(dir) = &opts.outdir {
                report.merge_seconds = t0.elapsed().as_secs_f64();
                write_report(dir, &report)?;
            }
            return Err(MergeError::Coverage {
                plan: plan.dir.clone(),
                summary,
            });
        }
    }

    // The merge.
    let merged = tree::merge(&sources, &selection.unique, opts.fan_in)?;
    let acc = merged.into_accumulator().map_err(|e| match e {
        // A histogram no reader can take is a corrupt partial (as `show` and `export` say).
        acc::AccError::Hist { origin, .. } => MergeError::Payload {
            path: sources[origin].path.clone(),
            what: e.to_string(),
        },
        acc::AccError::Payload(_) => MergeError::Internal(e.to_string()),
    })?;
    let payload = serde_json::to_vec(&acc).map_err(|e| MergeError::Internal(e.to_string()))?;
    // The UHI document before the partial, so that a view that cannot be built (a dataset
    // without the --group-by key) leaves nothing half-written.
    let uhi = match &opts.outdir {
        Some(_) => {
            let done = views::completeness(
                &chunks,
                plan.as_ref(),
                report.coverage.as_ref(),
                report.metrics.as_ref(),
            );
            let (doc, skipped) = views::document(&acc, &opts.views, &metadata, &done)?;
            report.views_skipped = skipped;
            Some(doc)
        }
        None => None,
    };
    let header = PartialHeader {
        run_id,
        node: opts.node.clone().unwrap_or_else(|| "merge".into()),
        producer: producer(),
        plugin,
        chunks,
        events,
    };
    // The result set (merged partial, histograms, plots, report) is made in memory and then
    // written as one: nothing of it lands unless all of it can (a plot name the file system
    // refuses, a full disk), and the report, written last, vouches for the rest.
    let mut files = vec![(opts.output.clone(), partial::encode(&header, &payload))];
    report.output = Some(opts.output.clone());
    if let (Some(dir), Some(doc)) = (&opts.outdir, &uhi) {
        let uhi = dir.join("histograms.json");
        let text = casa_hist::write_uhi_json(&serde_json::Value::Object(doc.clone()));
        files.push((uhi.clone(), text.into_bytes()));
        report.histograms = Some(uhi);
        if opts.plots {
            let mut plotted = figure::render_all(&acc, &dir.join("plots"), opts.plot_size)?;
            // The views too, as plots/sum/<name>.png and plots/by-KEY/<name>.png.
            let views: serde_json::Map<_, _> = doc
                .iter()
                .filter(|(k, _)| views::is_view(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !views.is_empty() {
                let as_acc = casa_hist::Accumulator::from_uhi(&serde_json::Value::Object(views))
                    .map_err(|e| MergeError::Internal(format!("reading the views back: {e}")))?;
                plotted.extend(figure::render_all(
                    &as_acc,
                    &dir.join("plots"),
                    opts.plot_size,
                )?);
            }
            for (file, png) in plotted {
                if let (Some(path), Some(png)) = (&file.path, png) {
                    files.push((path.clone(), png));
                }
                report.plots.push(file);
            }
        }
        report.merge_seconds = t0.elapsed().as_secs_f64();
        let json =
            serde_json::to_vec_pretty(&report).map_err(|e| MergeError::Internal(e.to_string()))?;
        files.push((dir.join("report.json"), json));
        files.push((
            dir.join("report.md"),
            report::markdown(&report).into_bytes(),
        ));
    }
    write_all(&files)?;
    report.merge_seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Writes `files` as one ([`fsutil::atomic_write_all`]), creating their directories.
fn write_all(files: &[(PathBuf, Vec<u8>)]) -> Result<(), MergeError> {
    for (path, _) in files {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| MergeError::Write {
                path: dir.to_path_buf(),
                what: e.to_string(),
            })?;
        }
    }
    fsutil::atomic_write_all(files).map_err(|(path, e)| MergeError::Write {
        path,
        what: e.to_string(),
    })
}

/// The UHI document of a partial (`casa-merge export --uhi`): its histograms, the views
/// asked for and, from the header (and the plan's coverage and metrics when given), the
/// completeness of each dataset. Views that cannot be built are errors here.
pub fn export_uhi(
    header: &PartialHeader,
    acc: &casa_hist::Accumulator,
    views: &views::Views,
    fileset: Option<&Path>,
    plan_dir: Option<&Path>,
) -> Result<serde_json::Map<String, serde_json::Value>, MergeError> {
    let metadata = match (&views.group_by, fileset) {
        (None, _) => BTreeMap::new(),
        (Some(_), Some(f)) => views::dataset_metadata(f)?,
        (Some(key), None) => {
            return Err(MergeError::Usage(format!(
            "--group-by {key} reads the datasets' metadata: give --fileset FILE or --plan RUNDIR"
        )))
        }
    };
    let plan = plan_dir.map(coverage::read_plan).transpose()?;
    let cov = plan.as_ref().map(|p| coverage::check(p, &header.chunks));
    let metrics =
        plan_dir.and_then(|p| metrics::summarize(&casa_run::RunDir::new(p).metrics_dir()));
    let done = views::completeness(
        &header.chunks,
        plan.as_ref(),
        cov.as_ref(),
        metrics.as_ref(),
    );
    let (doc, skipped) = views::document(acc, views, &metadata, &done)?;
    if let Some(s) = skipped.first() {
        return Err(MergeError::Usage(format!("cannot build the view: {s}")));
    }
    Ok(doc)
}

/// The datasets' metadata when `--group-by` needs it: from `--fileset`, else the plan's
/// `RUNDIR/fileset.json`.
fn group_metadata(opts: &MergeOptions) -> Result<BTreeMap<String, serde_json::Value>, MergeError> {
    let Some(key) = &opts.views.group_by else {
        return Ok(BTreeMap::new());
    };
    let fileset = opts
        .fileset
        .clone()
        .or_else(|| opts.plan.as_ref().map(|p| casa_run::RunDir::new(p).fileset()))
        .ok_or_else(|| {
            MergeError::Usage(format!(
                "--group-by {key} reads the datasets' metadata: give --fileset FILE, --plan or --run"
            ))
        })?;
    views::dataset_metadata(&fileset)
}

fn write_report(dir: &Path, report: &Report) -> Result<(), MergeError> {
    let json =
        serde_json::to_vec_pretty(report).map_err(|e| MergeError::Internal(e.to_string()))?;
    show::write_file(&dir.join("report.json"), &json)?;
    show::write_file(&dir.join("report.md"), report::markdown(report).as_bytes())
}

/// The one value of a header field the inputs share (empty values agree with any).
fn agree(
    all: &[once::Input],
    what: &str,
    field: impl Fn(&PartialHeader) -> &String,
) -> Result<String, MergeError> {
    let mut seen: Option<&once::Input> = None;
    for i in all {
        let v = field(&i.header);
        if v.is_empty() {
            continue;
        }
        match seen {
            Some(s) if field(&s.header) != v => {
                let hint = if what == "run" {
                    "; pass --run-id to merge them anyway"
                } else {
                    ""
                };
                return Err(MergeError::Incompatible {
                    a: s.path.clone(),
                    b: i.path.clone(),
                    what: format!(
                        "{what} {:?} and {what} {v:?} differ{hint}",
                        field(&s.header)
                    ),
                });
            }
            Some(_) => {}
            None => seen = Some(i),
        }
    }
    Ok(seen.map(|s| field(&s.header).clone()).unwrap_or_default())
}

fn coverage_summary(c: &coverage::Coverage) -> String {
    let mut parts = Vec::new();
    if !c.missing.is_empty() {
        parts.push(format!(
            "{} of {} planned events missing in {} ranges: {}",
            c.missing_events,
            c.planned_events,
            c.missing.len(),
            coverage::describe(&c.missing, 20)
        ));
    }
    if !c.unplanned.is_empty() {
        parts.push(format!(
            "{} events covered that the plan does not have: {}",
            c.unplanned_events,
            coverage::describe(&c.unplanned, 20)
        ));
    }
    parts.join("; ")
}
