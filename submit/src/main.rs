//! `casa-submit`: from a coffea fileset to a DAGMan workflow that HTCondor accepts. Argument
//! parsing (`casa_submit::cli`) and dispatch; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use casa_formats::exit::{CommandExit, StatusExit};
use casa_submit::cli::{error_files, json_error, sibling, usage_error, without_node};
use casa_submit::cli::{
    Cli, Command, FailedArgs, PlanArgs, PreprocessArgs, ResubmitArgs, RunArgs, StatusArgs,
};
use casa_submit::inputs::{
    self, all_path, preprocessed_for_plan, read_selected, write_fileset, Skipped,
};
use casa_submit::plan::{PlanOptions, SiteConfig};
use casa_submit::{dagrun, failed, post, status};
use clap::Parser;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => usage_error(e),
    };
    casa_submit::cli::init_logging(cli.verbose);
    let (json, tool) = (cli.command.json(), cli.command.tool());
    let r = match cli.command {
        Command::Preprocess(a) => run_preprocess(a),
        Command::Plan(a) => run_plan(*a),
        Command::Post(a) => {
            let d =
                post::post_with_retries(&a.rundir, &a.node, a.ret, a.skip_bad_files, a.retries());
            eprintln!("casa-submit post: {}", d.message);
            return ExitCode::from(d.exit as u8);
        }
        Command::Lint(a) => run_lint(a.dag),
        Command::Run(a) => run_local(a),
        Command::Status(a) => match run_status(a) {
            Ok(code) => return ExitCode::from(code.code()),
            Err(e) => Err(e),
        },
        Command::FailedFileset(a) => run_failed(a),
        Command::Pre(a) => post::pre(&a.rundir, &a.node).map_err(anyhow::Error::from),
        Command::Resubmit(a) => run_resubmit(a),
        Command::NewPlugin(a) => casa_submit::scaffold::new_plugin(&a.dir, &a.name)
            .map(|root| {
                let root = root.display();
                eprintln!("created {root} — build it with: cd {root} && cargo build --release")
            })
            .map_err(anyhow::Error::from),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = casa_submit::cli::error_chain(&e);
            let code = CommandExit::Failure.code();
            if json {
                println!("{}", json_error(tool, code, &message, &error_files(&e)));
            }
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
    }
}

/// One warning per input left out with --skip-bad-files.
fn warn_skipped(skipped: &Skipped) {
    for f in &skipped.files {
        let why = &f.reason;
        eprintln!("warning: dataset {}: {} skipped: {why}", f.dataset, f.file);
    }
    for d in &skipped.datasets {
        eprintln!("warning: dataset {d} skipped: no readable file");
    }
}

fn run_preprocess(a: PreprocessArgs) -> Result<()> {
    a.steps.use_threads();
    let selection = a.select.selection();
    let fs = read_selected(&a.fileset, &selection)?;
    let out = inputs::preprocess_selected(&fs, &a.steps.options(), &selection)?;
    let skipped = Skipped::of(&out).check(a.skip_bad_files)?;
    write_fileset(&a.output, &out.available)?;
    write_fileset(&all_path(&a.output), &out.all)?;
    warn_skipped(&skipped);
    if a.json {
        println!("{}", inputs::summary(&out, &a.output));
    }
    if !a.quiet {
        eprintln!("{}", inputs::summary_line(&out, &a.output));
    }
    Ok(())
}

fn run_plan(a: PlanArgs) -> Result<()> {
    a.steps.use_threads();
    let selection = a.select.selection();
    let fs = read_selected(&a.fileset, &selection)?;
    let (fs, skipped) =
        preprocessed_for_plan(fs, &a.steps.options(), &selection, a.skip_bad_files)?;
    warn_skipped(&skipped);
    let Some(wrapper) = a.wrapper.clone().or_else(|| sibling("casa-wrapper")) else {
        bail!("casa-wrapper not found next to casa-submit; give --wrapper PATH");
    };
    let opts = PlanOptions {
        rundir: a.output.clone(),
        plugin: a.plugin.clone(),
        wrapper,
        merge: a.merge.clone().or_else(|| sibling("casa-merge")),
        submit: std::env::current_exe().context("locating casa-submit")?,
        events_per_job: a.events_per_job,
        fan_in: a.fan_in,
        run_id: (a.run_id.clone())
            .unwrap_or_else(|| casa_run::RunId::from_dir(&a.output).to_string()),
        templates: a.templates.clone(),
        site: SiteConfig::load(a.site.as_deref(), a.xcache.clone())?,
        skip_bad_files: a.skip_bad_files,
        skipped,
        command_line: std::env::args().collect(),
        inputs: a.inputs.clone(),
        config: a.config.clone(),
        check_columns: !a.no_column_check,
    };
    let s = casa_submit::plan::plan(&fs, &a.fileset, &opts)?;
    let out = a.output.display();
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else if !a.quiet {
        eprintln!(
            "planned {} jobs ({} chunks, {} events) and {} merge nodes in {out}",
            s.jobs, s.chunks, s.events, s.merge_nodes
        );
        eprintln!("submit with: cd {out} && condor_submit_dag casa.dag");
    }
    Ok(())
}

fn run_lint(dag: PathBuf) -> Result<()> {
    let problems = casa_run::lint(&dag).with_context(|| format!("reading {}", dag.display()))?;
    for p in &problems {
        eprintln!("{}: {p}", dag.display());
    }
    match problems.len() {
        0 => Ok(()),
        n => bail!("{n} problems"),
    }
}

fn run_local(a: RunArgs) -> Result<()> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let jobs =
        (a.jobs).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = dagrun::LocalRunOptions {
        jobs,
        progress: !a.quiet,
    };
    let r = dagrun::run(&a.rundir, &opts, &stop)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    }
    if !a.quiet {
        eprintln!("{r}");
    }
    if r.interrupted {
        let dir = a.rundir.display();
        bail!("interrupted: run `casa-submit run {dir}` again to finish");
    }
    if !r.failed.is_empty() {
        for (n, m) in &r.failed {
            eprintln!("failed: {n}: {}", without_node(m, n));
        }
        bail!("{} nodes failed", r.failed.len());
    }
    let result = casa_run::RunDir::new(&a.rundir).result_dir();
    if !a.quiet {
        eprintln!("result: {}", result.display());
    }
    Ok(())
}

fn run_status(a: StatusArgs) -> Result<StatusExit> {
    loop {
        let s = status::status(&a.rundir)?;
        match a.json {
            true => println!("{}", serde_json::to_string(&s)?),
            false => print!("{s}"),
        }
        match a.watch {
            Some(secs) if s.open() > 0 => {
                std::thread::sleep(std::time::Duration::from_secs(secs.max(1)))
            }
            _ => return Ok(s.exit()),
        }
    }
}

fn run_failed(a: FailedArgs) -> Result<()> {
    let (fs, nodes) = failed::failed_fileset(&a.rundir)?;
    write_fileset(&a.output, &fs)?;
    let steps = inputs::steps(&fs);
    let out = a.output.display();
    eprintln!("{steps} steps of {nodes} unfinished jobs written to {out}");
    Ok(())
}

fn run_resubmit(a: ResubmitArgs) -> Result<()> {
    let reset = failed::reset_failed(&a.rundir)?;
    eprintln!("{} nodes reset: {}", reset.len(), reset.join(" "));
    if a.local {
        return run_local(a.run_args());
    }
    eprintln!(
        "submit with: cd {} && condor_submit_dag casa.dag   (DAGMan reruns what its rescue DAG marks undone)",
        a.rundir.display()
    );
    Ok(())
}
