//! What a local run shows while it goes: a progress bar on a terminal (indicatif), and a log
//! line per attempt through `tracing` (a node failed for good is a warning, shown by default;
//! the rest with `-v` or `RUST_LOG`).

use std::time::Instant;

use casa_run::scheduler::Decision;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counters the reporter shows with each attempt.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub finished: usize,
    pub running: usize,
    pub failed: usize,
    pub events: u64,
}

pub struct Reporter {
    bar: Option<ProgressBar>,
    t0: Instant,
}

impl Reporter {
    /// `nodes` in all, `reused` of them done before this run; a bar only when `progress` and
    /// stderr is a terminal (indicatif draws nothing elsewhere).
    pub fn new(nodes: usize, reused: usize, progress: bool) -> Reporter {
        let bar = progress.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(nodes as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} nodes done, {msg} [{elapsed}, ETA {eta}]",
                )
                .expect("the template is valid"),
            );
            bar.set_position(reused as u64);
            // The ETA from this run's pace, not from the nodes found done.
            bar.reset_eta();
            bar
        });
        Reporter {
            bar,
            t0: Instant::now(),
        }
    }

    /// An attempt of `node` ended with `decision`.
    pub fn attempt(&self, node: &str, decision: Decision, message: &str, p: Progress) {
        let what = match decision {
            Decision::Done => "done",
            Decision::Skipped => "skipped",
            Decision::Failed => "FAILED",
            Decision::Retry { .. } | Decision::Pending => "retrying",
        };
        let message = crate::cli::without_node(message, node);
        let rate = p.events as f64 / self.t0.elapsed().as_secs_f64().max(1e-9);
        let line = format!(
            "[{} done, {} running, {} failed, {rate:.0} events/s] {node} {what} ({message})",
            p.finished, p.running, p.failed
        );
        let log = || match decision {
            Decision::Failed => tracing::warn!("{line}"),
            _ => tracing::info!("{line}"),
        };
        match &self.bar {
            Some(bar) => {
                // Log lines above the bar, not through it.
                bar.suspend(log);
                bar.set_position(p.finished as u64);
                bar.set_message(format!(
                    "{} running, {} failed, {rate:.0} events/s; {node} {what}",
                    p.running, p.failed
                ));
            }
            None => log(),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
