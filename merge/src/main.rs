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
        /// Write `{dataset: {name: histogram}}` in the UHI JSON schema here.
        #[arg(long, value_name = "FILE")]
        uhi: Option<PathBuf>,
        /// Draw every 1D and 2D histogram as PNG into DIR/<dataset>/<name>.png.
        #[arg(long, value_name = "DIR")]
        plot: Option<PathBuf>,
        /// Plot size in pixels.
        #[arg(long, value_name = "WxH", default_value = "800x600", value_parser = parse_size)]
        plot_size: plot::Size,
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
    /// Print the report as JSON on stdout (and errors as JSON objects).
    #[arg(long)]
    json: bool,
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
        Some(Command::Show { json, .. }) => *json,
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
            plot,
            plot_size,
        }) => {
            if uhi.is_none() && plot.is_none() {
                return Err(
                    MergeError::Usage("export needs --uhi FILE and/or --plot DIR".into()).into(),
                );
            }
            let (_, acc) = show::read_accumulator(&partial)?;
            if let Some(f) = uhi {
                show::write_file(&f, show::uhi_text(&acc).as_bytes())?;
            }
            if let Some(dir) = plot {
                plot::plot_all(&acc, &dir, plot_size)?;
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
