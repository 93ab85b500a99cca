//! `casa-wrapper`: the self-contained binary that runs casa jobs on worker nodes
//! (`casa-wrapper run`) and inspects ROOT files (`casa-wrapper inspect`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use casa_formats::fsutil::same_file;
use casa_formats::ExitClass;
use casa_wrapper::{inspect, run};
use clap::{Args, Parser, Subcommand};

// mimalloc keeps freed pages for the next batch instead of returning them to the kernel; with
// glibc's allocator the page faults cost ~15% of a ZSTD read (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The casa job wrapper.
#[derive(Parser)]
#[command(name = "casa-wrapper", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Run(RunArgs),
    Inspect(inspect::InspectArgs),
}

/// Run one job: read its chunks, run the analysis plugin, write the partial and the metrics.
#[derive(Args)]
#[command(
    after_help = "Exit codes (docs/exit-codes.md): 0 success, 1 internal, 2 usage,
10 retryable input, 11 permanent input, 12 plugin fault, 13 output fault,
14 invalid job, 15 evicted (SIGTERM), 85 checkpointed (run again to resume).

Examples:
  casa-wrapper run --job jobs/leaf-000017.json --plugin libdimuon.so --out leaf-000017.partial
  casa-wrapper run --job job.json --plugin ./libdimuon.so --out p.partial --metrics p.metrics.json
  casa-wrapper run --job job.json --plugin ./libdimuon.so --out p.partial --xcache root://xcache:1094
  casa-wrapper run --job job.json --plugin ./libdimuon.so --out p.partial --checkpoint-dir casa-ckpt --checkpoint-every 600"
)]
struct RunArgs {
    /// The job spec (JSON: the chunks to read).
    #[arg(long)]
    job: PathBuf,
    /// The analysis plugin (a shared library exporting casa_plugin_v1).
    #[arg(long)]
    plugin: PathBuf,
    /// Where to write the partial result.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the job's metrics (JSON).
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Target entries per batch; batches end at common basket boundaries.
    #[arg(long, default_value_t = 100_000)]
    batch_entries: u64,
    /// Decompression threads (default: all cores given to the job; at most 1024).
    #[arg(short = 'j', long, value_parser = clap::builder::TypedValueParser::map(
        clap::value_parser!(u64).range(1..=casa_formats::MAX_THREADS), |n| n as usize))]
    threads: Option<usize>,
    /// Print a one-line JSON summary on success.
    #[arg(long)]
    json: bool,
    /// Read root:// inputs through this XCache, the input's own server as the fallback
    /// (root://origin//store/x.root is read as root://HOST:PORT//store/x.root first).
    #[arg(long, env = "CASA_XCACHE", value_name = "root://HOST:PORT", value_parser = xcache_arg)]
    xcache: Option<String>,
    /// Deadline of one open of a remote input (connect, log in, open, stat), in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = seconds_arg)]
    open_timeout: Duration,
    /// Deadline of one read request of a remote input, in seconds.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds_arg)]
    read_timeout: Duration,
    /// Rounds over the input's servers (XCache, origin) for a failing remote request before
    /// the job exits as retryable (10).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    io_attempts: u32,
    /// Pause after the first failed round, in seconds; doubled after each further one.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = seconds_arg)]
    io_backoff: Duration,
    /// Read each basket of a remote input with its own request instead of vector reads.
    #[arg(long)]
    no_vector_reads: bool,
    /// After SIGTERM, how long the job may take to stop cleanly (it checks between batches)
    /// before it exits 15 wherever it is blocked (a hung open or read), in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds_arg)]
    term_grace: Duration,
    /// Checkpoint into DIR (every --checkpoint-every seconds and on SIGTERM, then exit 85)
    /// and resume from the checkpoint found there. Without it SIGTERM exits 15, no partial.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Seconds between checkpoints, at the next batch boundary [default: 300].
    #[arg(long, value_name = "SECS", value_parser = seconds_arg, requires = "checkpoint_dir")]
    checkpoint_every: Option<Duration>,
}

/// An empty value (`CASA_XCACHE=`) means no cache.
fn xcache_arg(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Ok(String::new());
    }
    rootio::source::xrootd::parse_xcache(s).map_err(|e| e.to_string())
}

fn seconds_arg(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v).ok())
        .ok_or_else(|| format!("{s:?} is not a number of seconds"))
}

fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => return run_job(args, started),
        Command::Inspect(args) => inspect::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// SIGTERM is a flag the job checks between batches; a job blocked elsewhere (an open that
/// hangs on a dead file system or server) would never see it, and HTCondor would have to kill
/// it. This thread gives the job `grace` to stop cleanly after SIGTERM, then exits 15 itself,
/// leaving no partial.
fn eviction_watchdog(grace: Duration, out: std::path::PathBuf) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGTERM])?;
    std::thread::Builder::new()
        .name("sigterm-watchdog".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                std::thread::sleep(grace);
                let _ = std::fs::remove_file(&out);
                eprintln!(
                    "error: SIGTERM: the job did not stop within {} s (blocked on input or output); stopped without a partial [{}]",
                    grace.as_secs_f64(),
                    ExitClass::Evicted.name()
                );
                std::process::exit(i32::from(ExitClass::Evicted.code()));
            }
        })?;
    Ok(())
}

fn run_job(args: RunArgs, started: Instant) -> ExitCode {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .ok();
    }
    // The metrics are written after the partial and would replace it.
    if let Some(m) = args.metrics.as_deref().filter(|m| same_file(&args.out, m)) {
        eprintln!(
            "error: --out {} and --metrics {} are the same file: the metrics would replace the partial [{}]",
            args.out.display(),
            m.display(),
            ExitClass::Usage.name()
        );
        return ExitCode::from(ExitClass::Usage.code());
    }
    // Eviction: HTCondor sends SIGTERM; finish the current batch, write nothing, exit 15.
    let evicted = Arc::new(AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGTERM, evicted.clone()) {
        eprintln!("error: cannot install the SIGTERM handler: {e}");
        return ExitCode::from(ExitClass::Internal.code());
    }
    if let Err(e) = eviction_watchdog(args.term_grace, args.out.clone()) {
        eprintln!("error: cannot install the SIGTERM handler: {e}");
        return ExitCode::from(ExitClass::Internal.code());
    }
    let opts = run::RunOptions {
        job: args.job,
        plugin: args.plugin,
        out: args.out,
        metrics: args.metrics,
        batch_entries: args.batch_entries.max(1),
        pipeline: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            > 1,
        input: run::InputOptions {
            xcache: args.xcache.filter(|x| !x.is_empty()),
            remote: rootio::source::RemoteOptions {
                open_timeout: args.open_timeout,
                read_timeout: args.read_timeout,
                attempts: args.io_attempts,
                backoff: args.io_backoff,
                vector_reads: !args.no_vector_reads,
                ..rootio::source::RemoteOptions::default()
            },
        },
        checkpoint: args
            .checkpoint_dir
            .map(|dir| casa_wrapper::checkpoint::CheckpointOptions {
                dir,
                every: args
                    .checkpoint_every
                    .unwrap_or(casa_wrapper::checkpoint::DEFAULT_EVERY),
            }),
    };
    match run::run(&opts, started, &evicted) {
        Ok(summary) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"events": summary.events, "partial": opts.out, "metrics": summary.metrics})
                );
            }
            ExitCode::SUCCESS
        }
        Err(f) if f.class == ExitClass::Checkpointed => {
            eprintln!("casa-wrapper: {} [{}]", f.message, f.class.name());
            ExitCode::from(f.class.code())
        }
        Err(f) => {
            eprintln!("error: {} [{}]", f.message, f.class.name());
            ExitCode::from(f.class.code())
        }
    }
}
