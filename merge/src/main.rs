//! The casa-merge command line. Errors print as one `error: ...` line naming the files
//! concerned, and the process exits with the code of docs/exit-codes.md.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use casa_merge::{exit, plot, show, MergeError, MergeOptions};
use casa_run::RunDir;
use clap::{Args, Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  casa-merge -o merged.partial leaf-*.partial          merge partials into one partial
  casa-merge -o out/merged.partial --from-list list.txt -j 4 --fan-in 32
  casa-merge -o m.partial RUNDIR/partials --plan RUNDIR --outdir out
                                                       check coverage; write UHI, plots, report
  casa-merge --run RUNDIR                              RUNDIR/partials -> RUNDIR/result/
  casa-merge --run RUNDIR --allow-missing              write the result even with gaps
  casa-merge show RUNDIR/result/merged.partial --json
  casa-merge export merged.partial --uhi h.json --plot plots/

Exit codes: 0 ok, 1 internal, 2 usage, 20 unreadable input, 21 corrupt or truncated partial,
22 unsupported partial version, 23 conflicting duplicate, 24 overlapping chunks,
25 incompatible partials, 26 coverage gap, 27 output not written, 28 invalid plan
(docs/exit-codes.md).";

/// Merge casa partial results exactly, check that every planned chunk is counted once, and
/// write histograms (UHI JSON), plots and a report.
#[derive(Parser, Debug)]
#[command(
    name = "casa-merge",
    version,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    merge: MergeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the histograms of a (merged) partial as UHI JSON and/or PNG plots.
    #[command(
        after_help = "Example:\n  casa-merge export merged.partial --uhi histograms.json --plot plots/"
    )]
    Export {
        /// The partial to export.
        partial: PathBuf,
        /// Write the histograms as UHI JSON here (`<dataset>/<name>`; gzipped for `.gz`).
        #[arg(long, value_name = "FILE")]
        uhi: Option<PathBuf>,
        /// A run directory: completeness against its plan, metadata from its fileset.
        #[arg(long, value_name = "RUNDIR")]
        plan: Option<PathBuf>,
        #[command(flatten)]
        views: ViewArgs,
        /// Draw every 1D and 2D histogram as PNG into DIR/<dataset>/<name>.png.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Plot size in pixels.
        #[arg(long, value_name = "WxH", default_value = "800x600", value_parser = parse_size)]
        plot_size: plot::Size,
    },
    /// Draw one histogram of a partial or a UHI file (.json, .json.gz) as PNG or SVG:
    /// sliced, projected, stacked or overlaid, as hist + mplhep would.
    #[command(after_help = PLOT_EXAMPLES)]
    Plot {
        /// A partial (`*.partial`) or a UHI file (`histograms.json`, `.json.gz`).
        file: PathBuf,
        /// The histogram: `<dataset>/<name>`, `sum/<name>`, `by-KEY/<name>` [default: the
        /// only one].
        #[arg(long, value_name = "NAME")]
        hist: Option<String>,
        /// The image: `.png` or `.svg`.
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// Keep the bin of AXIS holding VALUE (a category, or a number); repeatable.
        #[arg(long, value_name = "AXIS=VALUE", value_parser = parse_slice)]
        slice: Vec<(String, String)>,
        /// Keep AXIS (repeatable), summing every other axis (flow bins included).
        #[arg(long, value_name = "AXIS")]
        project: Vec<String>,
        /// Draw the categories of AXIS as stacked filled histograms.
        #[arg(long, value_name = "AXIS", conflicts_with = "overlay")]
        stack: Option<String>,
        /// Draw the categories of AXIS as one line each.
        #[arg(long, value_name = "AXIS")]
        overlay: Option<String>,
        /// Log x axis.
        #[arg(long)]
        logx: bool,
        /// Log y axis.
        #[arg(long)]
        logy: bool,
        /// Normalise each line (a stack's total) to unit area.
        #[arg(long)]
        density: bool,
        /// The category of the --stack/--overlay axis that is data: points with error bars.
        #[arg(long, value_name = "CATEGORY")]
        data: Option<String>,
        /// The title above the plot [default: the histogram's name and the slices].
        #[arg(long)]
        title: Option<String>,
        /// Plot size in pixels.
        #[arg(long, value_name = "WxH", default_value = "800x600", value_parser = parse_size)]
        size: plot::Size,
        /// Print what was drawn (series, titles, values) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print what a partial holds: datasets, histograms, axes, totals, counters.
    #[command(after_help = "Example:\n  casa-merge show RUNDIR/result/merged.partial --json")]
    Show {
        partial: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct MergeArgs {
    /// Partials to merge; a directory stands for every `*.partial` file in it.
    #[arg(value_name = "PARTIAL")]
    partials: Vec<PathBuf>,
    /// Also merge the partials listed in FILE, one path a line (`#` comments allowed).
    #[arg(long, value_name = "FILE")]
    from_list: Option<PathBuf>,
    /// The merged partial to write [default: OUTDIR/merged.partial].
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Also write histograms.json, plots/ and report.{json,md} into DIR.
    #[arg(long, value_name = "DIR")]
    outdir: Option<PathBuf>,
    /// A whole run: merge RUNDIR/partials (unless partials are named; partials written by
    /// casa-merge there are skipped), check coverage against RUNDIR/jobs, read
    /// RUNDIR/metrics, write into RUNDIR/result.
    #[arg(long, value_name = "RUNDIR")]
    run: Option<PathBuf>,
    /// Check coverage against the job specs in RUNDIR/jobs/*.json.
    #[arg(long, value_name = "RUNDIR")]
    plan: Option<PathBuf>,
    /// Job metrics for the report [default: RUNDIR/metrics with --run or --plan].
    #[arg(long, value_name = "DIR")]
    metrics: Option<PathBuf>,
    /// Fail when a planned event is missing (the default).
    #[arg(long, conflicts_with = "allow_missing")]
    strict: bool,
    /// Write the result even when planned events are missing; the gaps go in the report.
    #[arg(long)]
    allow_missing: bool,
    /// Merge at most K partials at each node of the tree.
    #[arg(long, value_name = "K", default_value_t = 16, value_parser = clap::value_parser!(u32).range(2..))]
    fan_in: u32,
    /// Threads [default: the number of CPUs; at most 1024].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=casa_formats::MAX_THREADS as i64))]
    jobs: Option<u32>,
    /// The run id in the output's header [default: the inputs'].
    #[arg(long)]
    run_id: Option<String>,
    /// The node name in the output's header.
    #[arg(long, default_value = "merge")]
    node: String,
    /// Do not draw plots into OUTDIR/plots.
    #[arg(long)]
    no_plots: bool,
    /// Plot size in pixels.
    #[arg(long, value_name = "WxH", default_value = "800x600", value_parser = parse_size)]
    plot_size: plot::Size,
    #[command(flatten)]
    views: ViewArgs,
    /// Print the report as JSON on stdout (and errors as JSON objects).
    #[arg(long)]
    json: bool,
}

/// Cross-dataset views in the UHI file (docs/merge.md).
#[derive(Args, Debug, Clone)]
struct ViewArgs {
    /// Also write `sum/<name>`: each histogram summed over all datasets.
    #[arg(long)]
    sum: bool,
    /// Also write `by-KEY/<name>`: each histogram with a new first category axis KEY, one
    /// slice per value of the datasets' metadata KEY (e.g. process).
    #[arg(long, value_name = "KEY")]
    group_by: Option<String>,
    /// The fileset whose dataset metadata --group-by reads [default: RUNDIR/fileset.json].
    #[arg(long, value_name = "FILE")]
    fileset: Option<PathBuf>,
}

impl ViewArgs {
    fn views(&self) -> casa_merge::views::Views {
        casa_merge::views::Views {
            sum: self.sum,
            group_by: self.group_by.clone(),
        }
    }
}

/// Fault injection for the end-to-end tests (docs/merge.md): with `CASA_MERGE_CRASH_ONCE=FILE`,
/// the first casa-merge to create FILE aborts right after writing its output, so its node
/// fails with a result on disk, the hardest case for counting every chunk once.
fn crash_once_if_asked() {
    let Some(marker) = std::env::var_os("CASA_MERGE_CRASH_ONCE") else {
        return;
    };
    // create_new: of merges running at once, exactly one is the first.
    if std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&marker)
        .is_ok()
    {
        eprintln!(
            "casa-merge: CASA_MERGE_CRASH_ONCE: aborting after the output was written ({})",
            std::path::Path::new(&marker).display()
        );
        std::process::abort();
    }
}

const PLOT_EXAMPLES: &str = "\
Examples:
  casa-merge plot result/histograms.json --hist sum/agc --slice region=4j2b \\
      --slice variation=nominal --stack process --data data -o agc-4j2b.png
  casa-merge plot result/merged.partial --hist DY/mass --logy -o mass.svg
  casa-merge plot h.json.gz --hist by-process/pt --overlay process --density -o pt.png";

fn parse_slice(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, v)| (a.to_string(), v.to_string()))
        .filter(|(a, _)| !a.is_empty())
        .ok_or_else(|| format!("{s:?} is not AXIS=VALUE"))
}

fn parse_size(s: &str) -> Result<plot::Size, String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let p = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|n| (100..=10_000).contains(n))
            .ok_or_else(|| format!("{v:?} is not a size between 100 and 10000 pixels"))
    };
    Ok(plot::Size {
        width: p(w)?,
        height: p(h)?,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = match &cli.command {
        Some(Command::Show { json, .. }) | Some(Command::Plot { json, .. }) => *json,
        Some(_) => false,
        None => cli.merge.json,
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e
                .downcast_ref::<MergeError>()
                .map_or(exit::INTERNAL, MergeError::exit_code);
            if json {
                let m = e.downcast_ref::<MergeError>();
                let doc = serde_json::json!({"error": {
                    "code": code,
                    "kind": m.map_or("internal", MergeError::kind),
                    "message": format!("{e:#}"),
                    "files": m.map(MergeError::files).unwrap_or_default(),
                }});
                println!("{doc}");
            }
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Show { partial, json }) => {
            let s = show::summarize(&partial)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", show::render(&s));
            }
            Ok(())
        }
        Some(Command::Export {
            partial,
            uhi,
            plan,
            views,
            plot,
            plot_size,
        }) => {
            if uhi.is_none() && plot.is_none() {
                return Err(
                    MergeError::Usage("export needs --uhi FILE and/or --plot DIR".into()).into(),
                );
            }
            let (header, acc) = show::read_accumulator(&partial)?;
            if let Some(f) = uhi {
                let fileset = views
                    .fileset
                    .clone()
                    .or_else(|| plan.as_ref().map(|p| RunDir::new(p).fileset()));
                let doc = casa_merge::export_uhi(
                    &header,
                    &acc,
                    &views.views(),
                    fileset.as_deref(),
                    plan.as_deref(),
                )?;
                show::write_uhi(&f, &doc)?;
            }
            if let Some(dir) = plot {
                casa_merge::figure::plot_all(&acc, &dir, plot_size)?;
            }
            Ok(())
        }
        Some(Command::Plot {
            file,
            hist,
            output,
            slice,
            project,
            stack,
            overlay,
            logx,
            logy,
            density,
            data,
            title,
            size,
            json,
        }) => {
            let hists = show::read_hists(&file)?;
            let (key, h) = show::pick(&file, hists, hist.as_deref())?;
            let title = title.unwrap_or_else(|| {
                let cuts: Vec<String> = slice.iter().map(|(a, v)| format!("{a}={v}")).collect();
                if cuts.is_empty() {
                    key.clone()
                } else {
                    format!("{key}: {}", cuts.join(", "))
                }
            });
            let req = casa_merge::figure::Request {
                slices: slice,
                project,
                stack,
                overlay,
                logx,
                logy,
                density,
                data,
                size,
            };
            let drawn = casa_merge::figure::plot(&h, &title, &req, &output)
                .map_err(|e| anyhow::Error::from(e).context(format!("plotting `{key}`")))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&drawn)?);
            }
            Ok(())
        }
        None => merge(cli.merge),
    }
}

fn merge(a: MergeArgs) -> anyhow::Result<()> {
    let threads = a.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("starting the thread pool")?;
    let plan = a.plan.clone().or_else(|| a.run.clone());
    let outdir = a
        .outdir
        .clone()
        .or_else(|| a.run.as_ref().map(|r| RunDir::new(r).result_dir()));
    let output = match (&a.output, &outdir) {
        (Some(o), _) => o.clone(),
        (None, Some(d)) => d.join(RunDir::MERGED_PARTIAL),
        (None, None) => {
            return Err(MergeError::Usage(
                "say where the merged partial goes: -o OUT, --outdir DIR or --run RUNDIR".into(),
            )
            .into())
        }
    };
    let mut named = a.partials.clone();
    let mut leaves_only = false;
    if named.is_empty() && a.from_list.is_none() {
        if let Some(run) = &a.run {
            named.push(RunDir::new(run).partials_dir());
            // Inner merge nodes write there too: their leaves are merged instead.
            leaves_only = true;
        }
    }
    let inputs = casa_merge::inputs(&named, a.from_list.as_deref())?;
    let opts = MergeOptions {
        inputs,
        output,
        outdir,
        plan,
        metrics: a.metrics.clone(),
        allow_missing: a.allow_missing && !a.strict,
        fan_in: a.fan_in as usize,
        run_id: a.run_id.clone(),
        node: Some(a.node.clone()),
        leaves_only,
        plots: !a.no_plots,
        plot_size: a.plot_size,
        views: a.views.views(),
        fileset: a.views.fileset.clone(),
    };
    let report = casa_merge::merge(&opts)?;
    crash_once_if_asked();
    if let Some(c) = &report.coverage {
        if !c.missing.is_empty() {
            eprintln!(
                "warning: {} of {} planned events missing ({} ranges); see the report",
                c.missing_events,
                c.planned_events,
                c.missing.len()
            );
        }
        if !c.skipped_files.is_empty() || !c.skipped_datasets.is_empty() {
            eprintln!(
                "warning: incomplete: {} files and {} datasets were left out of the plan (unreadable when planned); see the report",
                c.skipped_files.len(),
                c.skipped_datasets.len()
            );
        }
    }
    if !report.duplicates.is_empty() {
        eprintln!(
            "warning: {} duplicate partials (identical copies) left out",
            report.duplicates.len()
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
