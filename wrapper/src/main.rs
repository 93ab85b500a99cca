//! `casa-wrapper`: the self-contained binary that runs casa jobs on worker nodes. Today it
//! inspects ROOT files (`casa-wrapper inspect`), which is also how users report bad files.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod inspect;

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
    Inspect(inspect::InspectArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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
