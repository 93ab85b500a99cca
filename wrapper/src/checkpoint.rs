//! Self-checkpointing of a leaf job (`casa-wrapper run --checkpoint-dir DIR`).
//!
//! At a batch boundary, every `--checkpoint-every` seconds and when SIGTERM arrives, the job
//! writes what it has (the accumulator, the chunks finished, the entry reached in the current
//! chunk, the metrics so far) to `DIR/checkpoint` atomically and exits with
//! [`ExitClass::Checkpointed`] (85). HTCondor (`checkpoint_exit_code = 85`,
//! `transfer_checkpoint_files = DIR`) keeps the file and starts the job again, here or on
//! another slot; so does `casa-submit run`. On start, a job resumes from a checkpoint of its own
//! (same run, node, job spec, plugin, casa and batch size); it ignores any other with a warning.
//!
//! Exactly once: the resumed job reads the batches the uninterrupted one would have read
//! after that point, with the same boundaries, into the restored accumulator, so its partial
//! is the same bytes. A plugin must keep no state across batches outside the host's
//! histograms and counters (the SDK's plugins do not).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use casa_formats::checkpoint::{self, CheckpointHeader, CheckpointIdentity};
use casa_formats::metrics::CheckpointMetrics;
use casa_formats::partial::ChunkId;
use casa_formats::{ExitClass, JobMetrics, JobSpec};
use casa_hist::Accumulator;
use sha2::{Digest, Sha256};

use crate::run::Failure;

/// The default interval between checkpoints.
pub const DEFAULT_EVERY: Duration =
    Duration::from_secs(casa_formats::exit::DEFAULT_CHECKPOINT_EVERY_S);

/// Where and how often a job checkpoints.
#[derive(Debug, Clone)]
pub struct CheckpointOptions {
    /// The directory holding `checkpoint` (HTCondor's `transfer_checkpoint_files`).
    pub dir: PathBuf,
    pub every: Duration,
}

/// Where a resumed job goes on.
pub struct Resume {
    pub covered: Vec<ChunkId>,
    pub next_chunk: usize,
    pub next_entry: u64,
    pub metrics: JobMetrics,
    pub acc: Accumulator,
}

/// The position a checkpoint records.
pub struct Position<'a> {
    pub covered: &'a [ChunkId],
    pub next_chunk: usize,
    pub next_entry: u64,
}

/// A hint, rewritten after every batch (no fsync: losing it only loses the count), of how
/// many events this job has handed to the plugin: after a hard kill, the next attempt learns
/// how much work the last checkpoint did not keep.
#[derive(serde::Serialize, serde::Deserialize)]
struct Progress {
    /// `run_id/node`: whose hint it is.
    job: String,
    /// The stats when the hint was written; it belongs to the checkpoint `stats.written`, and
    /// keeps what that checkpoint cannot hold about itself (its write time) and whether the
    /// attempt that wrote the hint had resumed.
    stats: CheckpointMetrics,
    events_handed: u64,
}

/// One job's checkpointing.
pub struct Checkpointer {
    dir: PathBuf,
    every: Duration,
    /// Hashing the plugin takes a moment: done only when a checkpoint is read or written.
    identity: Option<CheckpointIdentity>,
    job_path: PathBuf,
    plugin_path: PathBuf,
    run_id: String,
    node: String,
    batch_entries: u64,
    since: Instant,
    /// Events handed to the plugin by every attempt (reprocessed ones twice).
    pub events_handed: u64,
    pub stats: CheckpointMetrics,
}

fn sha256_file(path: &Path, what: &str) -> Result<String, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::new(
            ExitClass::InvalidJob,
            format!(
                "{}: cannot read the {what} to checkpoint: {e}",
                path.display()
            ),
        )
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

impl Checkpointer {
    pub fn new(
        opts: &CheckpointOptions,
        job_path: &Path,
        plugin_path: &Path,
        job: &JobSpec,
        batch_entries: u64,
    ) -> Result<Checkpointer, Failure> {
        std::fs::create_dir_all(&opts.dir).map_err(|e| {
            Failure::new(
                ExitClass::OutputFault,
                format!(
                    "{}: cannot create the checkpoint directory: {e}",
                    opts.dir.display()
                ),
            )
        })?;
        Ok(Checkpointer {
            dir: opts.dir.clone(),
            every: opts.every,
            identity: None,
            job_path: job_path.to_path_buf(),
            plugin_path: plugin_path.to_path_buf(),
            run_id: job.run_id.clone(),
            node: job.node.clone(),
            batch_entries,
            since: Instant::now(),
            events_handed: 0,
            stats: CheckpointMetrics::default(),
        })
    }

    /// This job's identity (hashes computed on first use).
    fn identity(&mut self) -> Result<&CheckpointIdentity, Failure> {
        if self.identity.is_none() {
            self.identity = Some(CheckpointIdentity {
                run_id: self.run_id.clone(),
                node: self.node.clone(),
                job_sha256: sha256_file(&self.job_path, "job spec")?,
                plugin_sha256: sha256_file(&self.plugin_path, "plugin")?,
                producer: format!("casa-wrapper {}", env!("CARGO_PKG_VERSION")),
                batch_entries: self.batch_entries,
            });
        }
        Ok(self.identity.as_ref().expect("just set"))
    }

    fn tag(&self) -> String {
        format!("{}/{}", self.run_id, self.node)
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }

    fn progress_path(&self) -> PathBuf {
        self.dir.join("progress.json")
    }

    /// The checkpoint to resume from, if there is one of this job. Any other (foreign,
    /// corrupt, another version) is reported on stderr and ignored: the job starts over and
    /// its first checkpoint replaces it.
    pub fn load(&mut self) -> Option<Resume> {
        let path = self.path();
        let ignore = |why: String| {
            eprintln!(
                "warning: {}: {why}; ignoring it and starting from the beginning",
                path.display()
            );
            None
        };
        let (header, payload) = match checkpoint::read(&path) {
            Ok(Some(c)) => c,
            Ok(None) => return None,
            Err(e) => return ignore(e.to_string()),
        };
        let mismatch = match self.identity() {
            Ok(id) => id.mismatch(&header.identity),
            Err(f) => Some(f.message),
        };
        if let Some(why) = mismatch {
            return ignore(format!("the checkpoint is another job's: {why}"));
        }
        let acc: Accumulator = match serde_json::from_slice(&payload) {
            Ok(a) => a,
            Err(e) => return ignore(format!("corrupt checkpoint: accumulator: {e}")),
        };
        let mut metrics = header.metrics;
        self.stats = std::mem::take(&mut metrics.checkpoint);
        self.stats.last_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.events_handed = header.events_handed;
        // Work done after the checkpoint by an attempt that then died without writing one.
        if let Some(p) = std::fs::read(self.progress_path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Progress>(&b).ok())
            .filter(|p| {
                p.job == self.tag()
                    && p.stats.written == self.stats.written
                    && p.events_handed >= header.events_handed
            })
        {
            let lost = p.events_handed - header.events_handed;
            self.stats.events_reprocessed = p.stats.events_reprocessed + lost;
            self.stats.resumed = p.stats.resumed;
            self.stats.write_s = p.stats.write_s;
            self.events_handed += lost;
        }
        self.stats.resumed += 1;
        // Known from now on, even if this attempt dies before its first batch.
        self.handed(0);
        eprintln!(
            "casa-wrapper: resuming from {} (chunk {}, entry {}; {} events done)",
            path.display(),
            header.next_chunk,
            header.next_entry,
            metrics.events
        );
        Some(Resume {
            covered: header.covered,
            next_chunk: header.next_chunk,
            next_entry: header.next_entry,
            metrics,
            acc,
        })
    }

    /// Whether a checkpoint is due now: SIGTERM arrived, or the interval has passed.
    pub fn due(&self, evicted: bool) -> bool {
        evicted || self.since.elapsed() >= self.every
    }

    /// Record `n` more events handed to the plugin (after each batch).
    pub fn handed(&mut self, n: u64) {
        self.events_handed += n;
        let p = Progress {
            job: self.tag(),
            stats: self.stats.clone(),
            events_handed: self.events_handed,
        };
        let (path, tmp) = (self.progress_path(), self.dir.join(".progress.json.tmp"));
        let bytes = serde_json::to_vec(&p).expect("progress serialises");
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }

    /// Write a checkpoint at `pos` with the accumulator and the metrics so far, and return
    /// the failure the job exits with: [`ExitClass::Checkpointed`], or, if the write failed,
    /// `otherwise` (the caller's class when it must stop anyway).
    pub fn write(
        &mut self,
        pos: Position<'_>,
        acc: &Accumulator,
        metrics: &JobMetrics,
        why: &str,
    ) -> Result<Failure, Failure> {
        let t = Instant::now();
        let payload = serde_json::to_vec(acc).map_err(|e| {
            Failure::new(
                ExitClass::Internal,
                format!("serialising the accumulator: {e}"),
            )
        })?;
        let mut stats = self.stats.clone();
        stats.written += 1;
        let mut metrics = metrics.clone();
        metrics.checkpoint = stats.clone();
        let header = CheckpointHeader {
            identity: self.identity()?.clone(),
            covered: pos.covered.to_vec(),
            next_chunk: pos.next_chunk,
            next_entry: pos.next_entry,
            metrics,
            events_handed: self.events_handed,
        };
        let path = self.path();
        let bytes = checkpoint::write(&path, &header, &payload)
            .map_err(|e| Failure::new(ExitClass::OutputFault, e.to_string()))?;
        stats.write_s += t.elapsed().as_secs_f64();
        stats.last_bytes = bytes;
        self.stats = stats;
        // The hint now belongs to this checkpoint.
        self.handed(0);
        Ok(Failure::new(
            ExitClass::Checkpointed,
            format!(
                "checkpoint written to {} ({why}; chunk {}, entry {}, {bytes} bytes): run the job again to resume",
                path.display(),
                pos.next_chunk,
                pos.next_entry
            ),
        ))
    }

    /// The job is done and its partial verified: the checkpoint is of no more use.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(self.path());
        let _ = std::fs::remove_file(self.progress_path());
    }
}
