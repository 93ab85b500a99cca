//! casa-submit's command line (clap): the commands and their options, parsed by `main.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::manipulate::Selection;
use crate::preprocess::PreprocessOptions;

/// Turn coffea filesets into HTCondor DAGMan workflows of casa jobs.
#[derive(Parser)]
#[command(name = "casa-submit", version, about)]
pub struct Cli {
    /// More log output (-v: every attempt of a local run, -vv: debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    Preprocess(PreprocessArgs),
    // Boxed: its many options make it much larger than the other commands.
    Plan(Box<PlanArgs>),
    Run(RunArgs),
    Status(StatusArgs),
    FailedFileset(FailedArgs),
    Pre(PreArgs),
    Resubmit(ResubmitArgs),
    NewPlugin(NewPluginArgs),
    Post(PostArgs),
    Lint(LintArgs),
}

/// Create a plugin crate (Rust) to start an analysis from.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit new-plugin my-analysis
  cd my-analysis && cargo build --release     # target/release/libmy_analysis.so")]
pub struct NewPluginArgs {
    pub name: String,
    /// Where to create it.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// Write the steps that are not done (failed, skipped, not run) as a coffea fileset.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit failed-fileset runs/dimuon -o failed.json
  casa-submit plan failed.json --plugin libdimuon.so -o runs/dimuon-retry")]
pub struct FailedArgs {
    pub rundir: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Execute a run directory's DAG on this machine (DAGMan's semantics for what casa writes).
#[derive(Args)]
#[command(
    after_help = "Running again after Ctrl-C, a kill or a reboot finishes the run without redoing
the nodes that are done (their outputs are verified first).

Examples:
  casa-submit run runs/dimuon
  casa-submit run runs/dimuon -j 8"
)]
pub struct RunArgs {
    pub rundir: PathBuf,
    /// Jobs at once (default: the number of cores; at most 1024).
    #[arg(short = 'j', long, value_parser = jobs_parser())]
    pub jobs: Option<usize>,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print a JSON report at the end.
    #[arg(long)]
    pub json: bool,
}

/// Show a run's progress from its state files.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit status runs/dimuon
  casa-submit status runs/dimuon --json")]
pub struct StatusArgs {
    pub rundir: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Print again every N seconds until every node is done, skipped or failed.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<u64>,
}

#[derive(Args, Clone)]
pub struct StepArgs {
    /// Target entries per step.
    #[arg(long, default_value_t = 100_000)]
    pub step_size: u64,
    /// Cut steps at cluster (common basket) boundaries.
    #[arg(long)]
    pub align_clusters: bool,
    /// Recompute steps even where the stored UUID matches.
    #[arg(long)]
    pub recalculate_steps: bool,
    /// Parallel file opens (default: all cores; at most 1024).
    #[arg(short = 'j', long, value_parser = jobs_parser())]
    pub threads: Option<usize>,
}

#[derive(Args, Clone)]
pub struct SelectArgs {
    /// Only these datasets (names or globs; repeat the option).
    #[arg(long = "dataset")]
    pub datasets: Vec<String>,
    /// At most N files per dataset.
    #[arg(long)]
    pub max_files: Option<usize>,
    /// At most N steps per dataset.
    #[arg(long)]
    pub max_chunks: Option<usize>,
    /// At most N steps per file.
    #[arg(long)]
    pub max_chunks_per_file: Option<usize>,
}

/// Open every file, read entries, UUID and clusters, cut steps; write coffea's two outputs.
#[derive(Args)]
#[command(
    after_help = "Writes OUT (the available files) and OUT with `_all` before the extension (every
file; unreadable ones with null steps), as coffea's preprocess does. `.gz` names are gzipped.
A file that cannot be read is an error (nothing is written) unless --skip-bad-files is given.

Examples:
  casa-submit preprocess fileset.json -o preprocessed.json.gz
  casa-submit preprocess fileset.json -o pre.json --step-size 50000 --align-clusters"
)]
pub struct PreprocessArgs {
    /// The coffea fileset (.json or gzip).
    pub fileset: PathBuf,
    /// Output fileset (available files).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub steps: StepArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Leave out files that cannot be read (they keep null steps in the `_all` output)
    /// instead of failing.
    #[arg(long)]
    pub skip_bad_files: bool,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// Write a run directory: job specs, the DAG and the submit files.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit plan preprocessed.json.gz --plugin target/release/libdimuon.so -o runs/dimuon
  casa-submit plan fileset.json --plugin libdimuon.so -o run --events-per-job 500000 --fan-in 8 --site site.toml
  casa-submit plan pre.json --plugin libagc_ttbar.so -o run --input corrections.json --config agc.toml
  condor_submit_dag run/casa.dag")]
pub struct PlanArgs {
    /// The coffea fileset (preprocessed or not: it is preprocessed first when needed).
    pub fileset: PathBuf,
    /// The analysis plugin (shared library).
    #[arg(long)]
    pub plugin: PathBuf,
    /// The run directory to create.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Target events per leaf job (steps are never split).
    #[arg(long, default_value_t = 1_000_000)]
    pub events_per_job: u64,
    /// Children per merge node.
    #[arg(long, default_value_t = 16)]
    pub fan_in: usize,
    /// Site configuration (TOML; see templates/site.toml).
    #[arg(long)]
    pub site: Option<PathBuf>,
    /// Leaf jobs read root:// inputs through this XCache first (overrides the site's xcache).
    #[arg(long, value_name = "root://HOST:PORT")]
    pub xcache: Option<String>,
    /// Directory with leaf.sub.j2 / merge.sub.j2 overriding the built-in templates.
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Plan without the files that cannot be opened now (instead of failing), and record
    /// chunks that fail for good at job time as skipped; the manifest, status and the merge
    /// report list what was left out, and the run ends "incomplete".
    #[arg(long)]
    pub skip_bad_files: bool,
    /// Run id (default: the run directory's name).
    #[arg(long)]
    pub run_id: Option<String>,
    /// The casa-wrapper binary to ship (default: next to casa-submit).
    #[arg(long)]
    pub wrapper: Option<PathBuf>,
    /// The casa-merge binary (default: next to casa-submit).
    #[arg(long)]
    pub merge: Option<PathBuf>,
    /// A file shipped with every leaf job (repeat the option); the plugin opens it by its
    /// file name. Copied into RUNDIR/inputs/, its SHA-256 in the manifest.
    #[arg(long = "input", value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// The plugin configuration (JSON, or TOML when named .toml), handed to every job's init.
    #[arg(long, value_name = "cfg.{json,toml}")]
    pub config: Option<PathBuf>,
    /// Do not open the files to check the plugin's required columns (for files this machine
    /// cannot reach; the jobs still fail on a missing column).
    #[arg(long)]
    pub no_column_check: bool,
    #[command(flatten)]
    pub steps: StepArgs,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// Rerun only the failed and skipped nodes: locally, or with HTCondor's rescue DAG.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit resubmit runs/dimuon --local      # run them here now
  casa-submit resubmit runs/dimuon              # then: cd runs/dimuon && condor_submit_dag casa.dag
                                                # (DAGMan picks up its rescue DAG)")]
pub struct ResubmitArgs {
    pub rundir: PathBuf,
    /// Run them on this machine now.
    #[arg(long)]
    pub local: bool,
    /// Jobs at once with --local (at most 1024).
    #[arg(short = 'j', long, value_parser = jobs_parser())]
    pub jobs: Option<usize>,
}

/// The DAGMan PRE script of every leaf node (DAGMan calls it; see docs/submit.md).
#[derive(Args)]
pub struct PreArgs {
    pub rundir: PathBuf,
    pub node: String,
    /// $RETRY (recorded).
    #[arg(allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// The DAGMan POST script of every node (DAGMan calls it; see docs/submit.md).
#[derive(Args)]
pub struct PostArgs {
    /// A permanent input fault is recorded as skipped and the node succeeds.
    #[arg(long)]
    pub skip_bad_files: bool,
    pub rundir: PathBuf,
    pub node: String,
    /// The job's exit code ($RETURN).
    #[arg(allow_hyphen_values = true)]
    pub ret: i32,
    /// $RETRY and $MAX_RETRIES (recorded).
    #[arg(allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Check a DAG for what HTCondor does not: cycles, undefined or duplicate nodes, missing
/// submit files, malformed RETRY/VARS/SCRIPT lines.
#[derive(Args)]
pub struct LintArgs {
    pub dag: PathBuf,
}

/// `-j N`: 1 to [`casa_formats::MAX_THREADS`].
fn jobs_parser() -> impl clap::builder::TypedValueParser<Value = usize> {
    use clap::builder::TypedValueParser;
    clap::value_parser!(u64)
        .range(1..=casa_formats::MAX_THREADS)
        .map(|n| n as usize)
}

impl StepArgs {
    pub fn options(&self) -> PreprocessOptions {
        PreprocessOptions {
            step_size: self.step_size.max(1),
            align_clusters: self.align_clusters,
            recalculate_steps: self.recalculate_steps,
        }
    }

    /// Use `-j` threads for the file opens (all cores without it).
    pub fn use_threads(&self) {
        if let Some(n) = self.threads {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build_global()
                .ok();
        }
    }
}

impl SelectArgs {
    pub fn selection(&self) -> Selection {
        Selection {
            datasets: self.datasets.clone(),
            max_files: self.max_files,
            max_chunks: self.max_chunks,
            max_chunks_per_file: self.max_chunks_per_file,
        }
    }
}

/// Logs go to stderr through `tracing`: warnings only by default.
pub fn init_logging(verbose: u8) {
    let default = ["warn", "info", "debug"][usize::from(verbose.min(2))];
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
}

impl PostArgs {
    /// DAGMan's `$RETRY` and `$MAX_RETRIES`, when both are given.
    pub fn retries(&self) -> Option<(u32, u32)> {
        match (self.rest.first(), self.rest.get(1)) {
            (Some(r), Some(m)) => r.parse().ok().zip(m.parse().ok()),
            _ => None,
        }
    }
}

/// A binary installed next to casa-submit (the wrapper and casa-merge, by default).
pub fn sibling(name: &str) -> Option<PathBuf> {
    let p = std::env::current_exe().ok()?.parent()?.join(name);
    p.is_file().then_some(p)
}

impl ResubmitArgs {
    /// `--local`: a run of the reset nodes, with progress.
    pub fn run_args(self) -> RunArgs {
        RunArgs {
            rundir: self.rundir,
            jobs: self.jobs,
            quiet: false,
            json: false,
        }
    }
}
