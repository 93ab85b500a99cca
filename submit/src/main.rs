//! `casa-submit`: from a coffea fileset to a DAGMan workflow that HTCondor accepts.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use casa_formats::fsutil::atomic_write;
use casa_formats::Fileset;
use casa_submit::plan::{PlanOptions, SiteConfig};
use casa_submit::preprocess::{preprocess, PreprocessOptions};
use casa_submit::{manipulate, post};
use clap::{Args, Parser, Subcommand};

/// Turn coffea filesets into HTCondor DAGMan workflows of casa jobs.
#[derive(Parser)]
#[command(name = "casa-submit", version, about)]
struct Cli {
    /// More log output (-v: every attempt of a local run, -vv: debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Logs go to stderr through `tracing`: warnings only by default.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
}

#[derive(Subcommand)]
enum Command {
    Preprocess(PreprocessArgs),
    Plan(PlanArgs),
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
struct NewPluginArgs {
    name: String,
    /// Where to create it.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

/// Write the steps that are not done (failed, skipped, not run) as a coffea fileset.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit failed-fileset runs/dimuon -o failed.json
  casa-submit plan failed.json --plugin libdimuon.so -o runs/dimuon-retry")]
struct FailedArgs {
    rundir: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
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
struct RunArgs {
    rundir: PathBuf,
    /// Jobs at once (default: the number of cores).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// No progress output.
    #[arg(short, long)]
    quiet: bool,
    /// Print a JSON report at the end.
    #[arg(long)]
    json: bool,
}

/// Show a run's progress from its state files.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit status runs/dimuon
  casa-submit status runs/dimuon --json")]
struct StatusArgs {
    rundir: PathBuf,
    #[arg(long)]
    json: bool,
    /// Print again every N seconds until every node is done, skipped or failed.
    #[arg(long, value_name = "SECONDS")]
    watch: Option<u64>,
}

#[derive(Args, Clone)]
struct StepArgs {
    /// Target entries per step.
    #[arg(long, default_value_t = 100_000)]
    step_size: u64,
    /// Cut steps at cluster (common basket) boundaries.
    #[arg(long)]
    align_clusters: bool,
    /// Recompute steps even where the stored UUID matches.
    #[arg(long)]
    recalculate_steps: bool,
    /// Parallel file opens (default: all cores).
    #[arg(short = 'j', long)]
    threads: Option<usize>,
}

#[derive(Args, Clone)]
struct SelectArgs {
    /// Only these datasets (names or globs; repeat the option).
    #[arg(long = "dataset")]
    datasets: Vec<String>,
    /// At most N files per dataset.
    #[arg(long)]
    max_files: Option<usize>,
    /// At most N steps per dataset.
    #[arg(long)]
    max_chunks: Option<usize>,
    /// At most N steps per file.
    #[arg(long)]
    max_chunks_per_file: Option<usize>,
}

/// Open every file, read entries, UUID and clusters, cut steps; write coffea's two outputs.
#[derive(Args)]
#[command(
    after_help = "Writes OUT (the available files) and OUT with `_all` before the extension (every
file; unreadable ones with null steps), as coffea's preprocess does. `.gz` names are gzipped.

Examples:
  casa-submit preprocess fileset.json -o preprocessed.json.gz
  casa-submit preprocess fileset.json -o pre.json --step-size 50000 --align-clusters"
)]
struct PreprocessArgs {
    /// The coffea fileset (.json or gzip).
    fileset: PathBuf,
    /// Output fileset (available files).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    steps: StepArgs,
    #[command(flatten)]
    select: SelectArgs,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// Write a run directory: job specs, the DAG and the submit files.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit plan preprocessed.json.gz --plugin target/release/libdimuon.so -o runs/dimuon
  casa-submit plan fileset.json --plugin libdimuon.so -o run --events-per-job 500000 --fan-in 8 --site site.toml
  condor_submit_dag run/casa.dag")]
struct PlanArgs {
    /// The coffea fileset (preprocessed or not: it is preprocessed first when needed).
    fileset: PathBuf,
    /// The analysis plugin (shared library).
    #[arg(long)]
    plugin: PathBuf,
    /// The run directory to create.
    #[arg(short, long)]
    output: PathBuf,
    /// Target events per leaf job (steps are never split).
    #[arg(long, default_value_t = 1_000_000)]
    events_per_job: u64,
    /// Children per merge node.
    #[arg(long, default_value_t = 16)]
    fan_in: usize,
    /// Site configuration (TOML; see templates/site.toml).
    #[arg(long)]
    site: Option<PathBuf>,
    /// Leaf jobs read root:// inputs through this XCache first (overrides the site's xcache).
    #[arg(long, value_name = "root://HOST:PORT")]
    xcache: Option<String>,
    /// Directory with leaf.sub.j2 / merge.sub.j2 overriding the built-in templates.
    #[arg(long)]
    templates: Option<PathBuf>,
    /// Record permanently failing chunks as skipped and go on (the merge report lists them).
    #[arg(long)]
    skip_bad_files: bool,
    /// Run id (default: the run directory's name).
    #[arg(long)]
    run_id: Option<String>,
    /// The casa-wrapper binary to ship (default: next to casa-submit).
    #[arg(long)]
    wrapper: Option<PathBuf>,
    /// The casa-merge binary (default: next to casa-submit).
    #[arg(long)]
    merge: Option<PathBuf>,
    #[command(flatten)]
    steps: StepArgs,
    #[command(flatten)]
    select: SelectArgs,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

/// Rerun only the failed and skipped nodes: locally, or with HTCondor's rescue DAG.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-submit resubmit runs/dimuon --local      # run them here now
  casa-submit resubmit runs/dimuon              # then: cd runs/dimuon && condor_submit_dag casa.dag
                                                # (DAGMan picks up its rescue DAG)")]
struct ResubmitArgs {
    rundir: PathBuf,
    /// Run them on this machine now.
    #[arg(long)]
    local: bool,
    /// Jobs at once with --local.
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
}

/// The DAGMan PRE script of every leaf node (DAGMan calls it; see docs/submit.md).
#[derive(Args)]
struct PreArgs {
    rundir: PathBuf,
    node: String,
    /// $RETRY (recorded).
    #[arg(allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// The DAGMan POST script of every node (DAGMan calls it; see docs/submit.md).
#[derive(Args)]
struct PostArgs {
    /// A permanent input fault is recorded as skipped and the node succeeds.
    #[arg(long)]
    skip_bad_files: bool,
    rundir: PathBuf,
    node: String,
    /// The job's exit code ($RETURN).
    #[arg(allow_hyphen_values = true)]
    ret: i32,
    /// $RETRY and $MAX_RETRIES (recorded).
    #[arg(allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// Check a DAG for what HTCondor does not: cycles, undefined or duplicate nodes, missing
/// submit files, malformed RETRY/VARS/SCRIPT lines.
#[derive(Args)]
struct LintArgs {
    dag: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let r = match cli.command {
        Command::Preprocess(a) => run_preprocess(a),
        Command::Plan(a) => run_plan(a),
        Command::Post(a) => {
            let retries = match (a.rest.first(), a.rest.get(1)) {
                (Some(r), Some(m)) => r.parse().ok().zip(m.parse().ok()),
                _ => None,
            };
            let d = post::post_with_retries(&a.rundir, &a.node, a.ret, a.skip_bad_files, retries);
            eprintln!("casa-submit post: {}", d.message);
            return ExitCode::from(d.exit as u8);
        }
        Command::Lint(a) => run_lint(a),
        Command::Run(a) => run_local(a),
        Command::Status(a) => run_status(a),
        Command::FailedFileset(a) => run_failed(a),
        Command::Pre(a) => post::pre(&a.rundir, &a.node).map_err(anyhow::Error::from),
        Command::Resubmit(a) => run_resubmit(a),
        Command::NewPlugin(a) => casa_submit::scaffold::new_plugin(&a.dir, &a.name)
            .map(|root| {
                eprintln!(
                    "created {} — build it with: cd {} && cargo build --release",
                    root.display(),
                    root.display()
                )
            })
            .map_err(anyhow::Error::msg),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn threads(n: Option<usize>) {
    if let Some(n) = n {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .ok();
    }
}

fn select(fs: &mut Fileset, s: &SelectArgs) -> Result<()> {
    manipulate::select_datasets(fs, &s.datasets).map_err(anyhow::Error::msg)?;
    if let Some(n) = s.max_files {
        manipulate::max_files(fs, n);
    }
    if let Some(n) = s.max_chunks_per_file {
        manipulate::max_chunks_per_file(fs, n);
    }
    if let Some(n) = s.max_chunks {
        manipulate::max_chunks(fs, n);
    }
    Ok(())
}

fn steps_opts(s: &StepArgs) -> PreprocessOptions {
    PreprocessOptions {
        step_size: s.step_size.max(1),
        align_clusters: s.align_clusters,
        recalculate_steps: s.recalculate_steps,
    }
}

fn write_fileset(path: &Path, fs: &Fileset) -> Result<()> {
    let text = serde_json::to_vec_pretty(&fs.to_json())?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&text)?;
        enc.finish()?
    } else {
        text
    };
    atomic_write(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// `pre.json.gz` -> `pre_all.json.gz`.
fn all_path(p: &Path) -> PathBuf {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.find(".json") {
        Some(i) => (&name[..i], &name[i..]),
        None => (name.as_str(), ""),
    };
    p.with_file_name(format!("{stem}_all{ext}"))
}

fn run_preprocess(a: PreprocessArgs) -> Result<()> {
    threads(a.steps.threads);
    let mut fs = Fileset::read(&a.fileset)?;
    select(&mut fs, &a.select)?;
    let out = preprocess(&fs, &steps_opts(&a.steps));
    let mut available = out.available;
    // max_chunks applies to steps, which exist only now.
    select(
        &mut available,
        &SelectArgs {
            datasets: vec![],
            ..a.select.clone()
        },
    )?;
    write_fileset(&a.output, &available)?;
    write_fileset(&all_path(&a.output), &out.all)?;
    let failed: Vec<_> = out.outcomes.iter().filter(|o| o.error.is_some()).collect();
    for o in &failed {
        eprintln!(
            "warning: dataset {}: {} skipped: {}",
            o.dataset,
            o.path,
            o.error.as_deref().unwrap_or("")
        );
    }
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "files": out.outcomes.len(),
                "available": out.outcomes.len() - failed.len(),
                "failed": failed.iter().map(|o| serde_json::json!({"dataset": o.dataset, "file": o.path, "error": o.error})).collect::<Vec<_>>(),
                "reused_steps": out.outcomes.iter().filter(|o| o.reused).count(),
                "output": a.output, "output_all": all_path(&a.output),
            })
        );
    }
    Ok(())
}

fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join(name);
    p.is_file().then_some(p)
}

fn run_plan(a: PlanArgs) -> Result<()> {
    threads(a.steps.threads);
    let mut fs = Fileset::read(&a.fileset)?;
    select(&mut fs, &a.select)?;
    let needs_preprocessing = fs
        .datasets
        .iter()
        .flat_map(|d| &d.files)
        .any(|f| f.steps.is_none());
    if needs_preprocessing {
        let out = preprocess(&fs, &steps_opts(&a.steps));
        for o in out.outcomes.iter().filter(|o| o.error.is_some()) {
            eprintln!(
                "warning: dataset {}: {} skipped: {}",
                o.dataset,
                o.path,
                o.error.as_deref().unwrap_or("")
            );
        }
        fs = out.available;
        select(
            &mut fs,
            &SelectArgs {
                datasets: vec![],
                ..a.select.clone()
            },
        )?;
    }
    let site = match &a.site {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<SiteConfig>(&text)
                .with_context(|| format!("site config {}", p.display()))?
        }
        None => SiteConfig::default(),
    };
    let site = SiteConfig {
        xcache: a.xcache.clone().or(site.xcache),
        ..site
    };
    let run_id = match &a.run_id {
        Some(r) => r.clone(),
        None => a
            .output
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "._-".contains(c) {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect()
            })
            .unwrap_or_else(|| "casa".into()),
    };
    let wrapper = match a.wrapper.clone().or_else(|| sibling("casa-wrapper")) {
        Some(w) => w,
        None => bail!("casa-wrapper not found next to casa-submit; give --wrapper PATH"),
    };
    let submit = std::env::current_exe().context("locating casa-submit")?;
    let opts = PlanOptions {
        rundir: a.output.clone(),
        plugin: a.plugin.clone(),
        wrapper,
        merge: a.merge.clone().or_else(|| sibling("casa-merge")),
        submit,
        events_per_job: a.events_per_job,
        fan_in: a.fan_in,
        run_id,
        templates: a.templates.clone(),
        site,
        skip_bad_files: a.skip_bad_files,
        command_line: std::env::args().collect(),
    };
    let summary = casa_submit::plan::plan(&fs, &a.fileset, &opts)?;
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        eprintln!(
            "planned {} jobs ({} chunks, {} events) and {} merge nodes in {}",
            summary.jobs,
            summary.chunks,
            summary.events,
            summary.merge_nodes,
            a.output.display()
        );
        eprintln!(
            "submit with: cd {} && condor_submit_dag casa.dag",
            a.output.display()
        );
    }
    Ok(())
}

fn run_lint(a: LintArgs) -> Result<()> {
    let problems =
        casa_run::lint(&a.dag).with_context(|| format!("reading {}", a.dag.display()))?;
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("{}: {p}", a.dag.display());
    }
    bail!("{} problems", problems.len())
}

fn run_local(a: RunArgs) -> Result<()> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = casa_submit::dagrun::LocalRunOptions {
        jobs,
        progress: !a.quiet,
    };
    let r = casa_submit::dagrun::run(&a.rundir, &opts, &stop)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    }
    if !a.quiet {
        eprintln!(
            "{} nodes done ({} already done before), {} skipped, {} failed, {} not run; {} events in {:.1} s",
            r.done, r.reused, r.skipped, r.failed.len(), r.not_run, r.events, r.wall_s
        );
    }
    if r.interrupted {
        bail!(
            "interrupted: run `casa-submit run {}` again to finish",
            a.rundir.display()
        );
    }
    if !r.failed.is_empty() {
        for (n, m) in &r.failed {
            eprintln!("failed: {n}: {m}");
        }
        bail!("{} nodes failed", r.failed.len());
    }
    let result = a.rundir.join("result");
    if !a.quiet {
        eprintln!("result: {}", result.display());
    }
    Ok(())
}

fn run_status(a: StatusArgs) -> Result<()> {
    loop {
        let s = casa_submit::status::status(&a.rundir)?;
        print_status(&s, a.json)?;
        let open = s.by_status.get("pending").copied().unwrap_or(0)
            + s.by_status.get("running").copied().unwrap_or(0);
        match a.watch {
            Some(secs) if open > 0 => {
                std::thread::sleep(std::time::Duration::from_secs(secs.max(1)))
            }
            _ => return Ok(()),
        }
    }
}

fn print_status(s: &casa_submit::status::Status, json: bool) -> Result<()> {
    let a_json = json;
    if a_json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(());
    }
    println!(
        "{} nodes: {}",
        s.nodes,
        s.by_status
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (ds, by) in &s.datasets {
        println!(
            "  {ds}: {}",
            by.iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "events: {} of {} ({:.1}%), {:.0} events/s; {} retries",
        s.events_done,
        s.events_planned,
        100.0 * s.events_done as f64 / s.events_planned.max(1) as f64,
        s.events_per_second,
        s.retries
    );
    for (class, (n, msg)) in &s.failures {
        println!("failed attempts, {class}: {n} (e.g. {msg})");
    }
    for c in &s.corrupt_state_files {
        println!("corrupt: {c}");
    }
    if let Some(j) = &s.jobs {
        println!(
            "HTCondor jobs (logs/casa.log): {}",
            j.iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(g) = &s.grid {
        let get = |k: &str| g.get(k).copied().unwrap_or(0);
        println!(
            "HTCondor (casa.status): {} of {} nodes done, {} queued ({} idle, {} held), {} failed",
            get("NodesDone"),
            get("NodesTotal"),
            get("NodesQueued"),
            get("JobProcsIdle"),
            get("JobProcsHeld"),
            get("NodesFailed")
        );
    }
    Ok(())
}

fn run_failed(a: FailedArgs) -> Result<()> {
    let (fs, nodes) = casa_submit::failed::failed_fileset(&a.rundir)?;
    write_fileset(&a.output, &fs)?;
    let steps: usize = fs
        .datasets
        .iter()
        .flat_map(|d| &d.files)
        .map(|f| f.steps.as_ref().map_or(0, Vec::len))
        .sum();
    eprintln!(
        "{steps} steps of {nodes} unfinished jobs written to {}",
        a.output.display()
    );
    Ok(())
}

fn run_resubmit(a: ResubmitArgs) -> Result<()> {
    let reset = casa_submit::failed::reset_failed(&a.rundir)?;
    eprintln!("{} nodes reset: {}", reset.len(), reset.join(" "));
    if a.local {
        return run_local(RunArgs {
            rundir: a.rundir,
            jobs: a.jobs,
            quiet: false,
            json: false,
        });
    }
    eprintln!(
        "submit with: cd {} && condor_submit_dag casa.dag   (DAGMan reruns what its rescue DAG marks undone)",
        a.rundir.display()
    );
    Ok(())
}
