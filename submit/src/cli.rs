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
    /// The crate's name (letters, digits, - and _); it is created in --dir.
    #[arg(value_parser = crate::scaffold::check_name)]
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
#[command(after_help = status_help())]
pub struct StatusArgs {
    pub rundir: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Print again every N seconds until every node is done, skipped or failed.
    #[arg(long, value_name = "SECONDS")]
    pub watch: Option<u64>,
}

/// `status --help`'s epilogue: its exit codes, from the one table, and examples.
fn status_help() -> String {
    let codes: Vec<String> = casa_formats::exit::Tool::Status
        .codes()
        .iter()
        .map(|c| {
            format!(
                "  {:>2} {:<13} {}",
                c.code,
                c.name,
                c.meaning.replace('`', "")
            )
        })
        .collect();
    format!(
        "Exit codes (docs/exit-codes.md):\n{}\n\nExamples:
  casa-submit status runs/dimuon
  casa-submit status runs/dimuon --json
  casa-submit status runs/dimuon --watch 60 || casa-submit resubmit runs/dimuon",
        codes.join("\n")
    )
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
    /// No summary on success (warnings and errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,
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
    /// No summary on success (warnings and errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,
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
        .event_format(Plain)
        .init();
}

/// Log lines as the command's own messages read: `warning: ...`, `error: ...` (not tracing's
/// ` WARN ...`), so one run does not print two styles.
struct Plain;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut w: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        write!(w, "{level}: ")?;
        tracing_subscriber::fmt::FormatFields::format_fields(ctx, w.by_ref(), event)?;
        writeln!(w)
    }
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

/// An error and its causes on one line, each said once: a cause whose text its parent already
/// holds (thiserror messages that embed their `#[source]`) is not repeated.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

/// The one JSON object a failed command prints on stdout under `--json`, in casa-merge's shape:
/// the exit code, its class name as `kind`, the message and the files concerned.
pub fn json_error(
    tool: casa_formats::exit::Tool,
    code: u8,
    message: &str,
    files: &[String],
) -> String {
    let kind = tool
        .codes()
        .iter()
        .find(|c| c.code == code)
        .map_or("failure", |c| c.name);
    serde_json::json!({"error": {
        "code": code,
        "kind": kind,
        "message": message,
        "files": files,
    }})
    .to_string()
}

/// clap's refusal (exit 2), also as JSON on stdout when `--json` is on the command line.
pub fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let asked = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
    if !asked && std::env::args().any(|a| a == "--json") {
        // clap's message without its usage and tip paragraphs, on one line.
        let text = e.render().to_string();
        let first = text.split("\n\n").next().unwrap_or("");
        let message = first.split_whitespace().collect::<Vec<_>>().join(" ");
        let message = message.trim_start_matches("error: ");
        let code = casa_formats::exit::CommandExit::Usage.code();
        println!(
            "{}",
            json_error(casa_formats::exit::Tool::Submit, code, message, &[])
        );
    }
    e.exit()
}

/// The files an error names, for `--json`.
pub fn error_files(e: &anyhow::Error) -> Vec<String> {
    use crate::inputs::InputError;
    use crate::rundag::DagFileError;
    use crate::status::StatusError;
    use casa_formats::fileset::FilesetError;
    let fileset = |f: &FilesetError| match f {
        FilesetError::Read { path, .. }
        | FilesetError::Json { path, .. }
        | FilesetError::Invalid { path, .. } => vec![path.clone()],
    };
    e.chain()
        .find_map(|c| {
            if let Some(f) = c.downcast_ref::<FilesetError>() {
                return Some(fileset(f));
            }
            if let Some(e) = c.downcast_ref::<StatusError>() {
                return match e {
                    StatusError::Read { path, .. }
                    | StatusError::NotARun { path, .. }
                    | StatusError::DagFile(DagFileError::Read { path, .. })
                    | StatusError::DagFile(DagFileError::Dag { path, .. }) => {
                        Some(vec![path.clone()])
                    }
                    _ => None,
                };
            }
            match c.downcast_ref::<InputError>()? {
                InputError::Read(f) => Some(fileset(f)),
                InputError::UnknownKey { path, .. } | InputError::Write { path, .. } => {
                    Some(vec![path.clone()])
                }
                InputError::Select(_) => None,
                InputError::Unreadable { files, .. } => {
                    Some(files.iter().map(|f| f.file.clone()).collect())
                }
            }
        })
        .unwrap_or_default()
}

/// A node's message without the node's name in front (the POST script writes `node: ...`
/// for DAGMan's log, where nothing else names it), for lines that name the node already.
pub fn without_node<'a>(message: &'a str, node: &str) -> &'a str {
    message
        .strip_prefix(node)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(message)
}

impl Command {
    /// Whether the command was asked for JSON output (errors are then JSON on stdout too).
    pub fn json(&self) -> bool {
        match self {
            Command::Preprocess(a) => a.json,
            Command::Plan(a) => a.json,
            Command::Run(a) => a.json,
            Command::Status(a) => a.json,
            _ => false,
        }
    }

    /// The tool of the exit-code table the command exits by.
    pub fn tool(&self) -> casa_formats::exit::Tool {
        match self {
            Command::Status(_) => casa_formats::exit::Tool::Status,
            Command::Post(_) => casa_formats::exit::Tool::Post,
            _ => casa_formats::exit::Tool::Submit,
        }
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("{path}: not valid JSON: {source}")]
    struct Embeds {
        path: String,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn a_cause_its_parent_already_says_is_not_repeated() {
        let inner = std::io::Error::other("trailing comma at line 1 column 9");
        let e = anyhow::Error::from(Embeds {
            path: "f.json".into(),
            source: inner,
        });
        assert_eq!(
            super::error_chain(&e),
            "f.json: not valid JSON: trailing comma at line 1 column 9"
        );
        let e = anyhow::anyhow!("inner cause").context("reading x");
        assert_eq!(super::error_chain(&e), "reading x: inner cause");
    }

    #[test]
    fn the_node_is_named_once() {
        let m = "leaf-000000: plugin_fault (exit 12): boom";
        assert_eq!(
            super::without_node(m, "leaf-000000"),
            "plugin_fault (exit 12): boom"
        );
        assert_eq!(super::without_node(m, "leaf-000001"), m);
    }
}
