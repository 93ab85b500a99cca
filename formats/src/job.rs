//! The job spec: what one leaf job reads. `casa-submit plan` writes one per job in
//! `RUNDIR/jobs/`; `casa-wrapper run --job` reads it. JSON, versioned `major.minor`.
//!
//! ```json
//! {
//!   "format": "casa-job", "version": "1.0",
//!   "run_id": "2026-11-22-dimuon", "node": "leaf-000017",
//!   "chunks": [
//!     {"dataset": "DoubleMuon", "file": "root://xcache//store/a.root", "tree": "Events",
//!      "entry_start": 0, "entry_stop": 100000,
//!      "uuid": "d48060b2-6a57-11ed-8e14-0600a8c0beef", "metadata": {"is_mc": false}}
//!   ]
//! }
//! ```
//!
//! Unknown fields are ignored (a newer minor version may add optional ones).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The version this code writes.
pub const JOB_FORMAT_VERSION: (u32, u32) = (1, 0);

/// One leaf job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Always "casa-job".
    pub format: String,
    /// `major.minor`.
    pub version: String,
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub node: String,
    pub chunks: Vec<Chunk>,
    /// The run's plugin configuration (`casa-submit plan --config cfg.{json,toml}`), the same
    /// for every job of a run; the plugin reads it in `init`. Absent (null) when the run has
    /// none, so job specs without one keep their bytes.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub config: serde_json::Value,
    /// The file names of the inputs shipped with the job (`casa-submit plan --input FILE`),
    /// which the plugin opens by name. The wrapper finds each in its working directory (where
    /// HTCondor transfers it), else beside the job spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
}

/// One entry range of one file, as the preprocessed fileset's steps give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub dataset: String,
    /// A local path, `file:` URL or `root://` URL.
    pub file: String,
    /// The TTree path in the file (coffea's `object_path`).
    pub tree: String,
    pub entry_start: u64,
    pub entry_stop: u64,
    /// The file's UUID from preprocessing; when set, a file with another UUID is refused
    /// (the file changed since the plan was made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The dataset's fileset metadata (for example `{"is_mc": true}`), handed to the plugin.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub metadata: serde_json::Value,
}

/// Why a job spec was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{path}: cannot read the job spec: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid job spec: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: SpecError },
}

// The nested problems below are part of their parent's message rather than its `source`, so
// an error chain printed with `{:#}` says each of them once.

/// What [`JobSpec::validate`] refuses, naming the field, input or chunk.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("field 'format' is {found:?}, expected \"casa-job\"")]
    Format { found: String },
    #[error("{0}")]
    Version(VersionError),
    #[error("field 'chunks' is empty: nothing to do")]
    NoChunks,
    #[error("inputs[{index}] {name:?}: {problem}")]
    Input {
        index: usize,
        name: String,
        problem: InputNameProblem,
    },
    #[error("inputs[{index}] {name:?}: named twice")]
    InputTwice { index: usize, name: String },
    #[error("chunks[{index}] ({dataset}, {file}): {problem}")]
    Chunk {
        index: usize,
        dataset: String,
        file: String,
        problem: ChunkProblem,
    },
    /// Two chunks of one (file, tree) share entries: the job would count them twice.
    #[error("{0}")]
    ChunkTwice(Box<ChunkTwice>),
}

/// Two chunks of one (file, tree) sharing entries (boxed: the other errors are small).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("chunks[{index}] ({dataset}, {file}, tree {tree}): entries [{}, {}) are read by chunks[{other}] [{}, {}) too{}", range[0], range[1], other_range[0], other_range[1], other_path(.file, .other_file))]
pub struct ChunkTwice {
    pub index: usize,
    pub dataset: String,
    pub file: String,
    pub tree: String,
    pub range: [u64; 2],
    pub other: usize,
    pub other_range: [u64; 2],
    /// The other chunk's path: another path of the same file (one UUID) when it differs.
    pub other_file: String,
}

fn other_path(file: &str, other: &str) -> String {
    if file == other {
        String::new()
    } else {
        format!(", as {other} (the same file: one UUID)")
    }
}

impl Chunk {
    /// What names the file: its UUID when known (one file under two paths is one file), its
    /// path otherwise.
    pub fn file_id(&self) -> &str {
        self.uuid
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or(&self.file)
    }
}

/// Why a shipped input's name is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputNameProblem {
    #[error("empty name")]
    Empty,
    #[error("an input is named by its file name, without a directory")]
    NotAFileName,
}

/// What is wrong with one chunk of a job spec.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChunkProblem {
    #[error("field '{field}' is empty")]
    EmptyField { field: &'static str },
    #[error("entry_start {start} is after entry_stop {stop}")]
    Backwards { start: u64, stop: u64 },
}

/// A `major.minor` format version this casa cannot read; `what` names the format ("job spec",
/// "state").
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VersionError {
    #[error("{what} version {major}.{minor} is not readable by this casa (reads {reads}.x)")]
    Unreadable {
        what: &'static str,
        major: u32,
        minor: u32,
        reads: u32,
    },
    #[error("{what} version {found:?} is not major.minor")]
    Malformed { what: &'static str, found: String },
}

impl JobSpec {
    pub fn new(run_id: &str, node: &str, chunks: Vec<Chunk>) -> JobSpec {
        JobSpec {
            format: "casa-job".into(),
            version: format!("{}.{}", JOB_FORMAT_VERSION.0, JOB_FORMAT_VERSION.1),
            run_id: run_id.into(),
            node: node.into(),
            chunks,
            config: serde_json::Value::Null,
            inputs: Vec::new(),
        }
    }

    /// Read and validate a job spec file.
    pub fn read(path: &Path) -> Result<JobSpec, JobError> {
        let name = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| JobError::Read {
            path: name.clone(),
            source,
        })?;
        let spec: JobSpec = serde_json::from_slice(&text).map_err(|source| JobError::Parse {
            path: name.clone(),
            source,
        })?;
        spec.validate().map_err(|problem| JobError::Invalid {
            path: name,
            problem,
        })?;
        Ok(spec)
    }

    /// Check what serde cannot: format, version, and each chunk's fields.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.format != "casa-job" {
            return Err(SpecError::Format {
                found: self.format.clone(),
            });
        }
        check_version(&self.version, JOB_FORMAT_VERSION, "job spec").map_err(SpecError::Version)?;
        if self.chunks.is_empty() {
            return Err(SpecError::NoChunks);
        }
        for (i, name) in self.inputs.iter().enumerate() {
            check_input_name(name).map_err(|problem| SpecError::Input {
                index: i,
                name: name.clone(),
                problem,
            })?;
            if self.inputs[..i].contains(name) {
                return Err(SpecError::InputTwice {
                    index: i,
                    name: name.clone(),
                });
            }
        }
        for (i, c) in self.chunks.iter().enumerate() {
            let at = |problem| SpecError::Chunk {
                index: i,
                dataset: c.dataset.clone(),
                file: c.file.clone(),
                problem,
            };
            let empty = |field| at(ChunkProblem::EmptyField { field });
            if c.dataset.is_empty() {
                return Err(empty("dataset"));
            }
            if c.file.is_empty() {
                return Err(empty("file"));
            }
            if c.tree.is_empty() {
                return Err(empty("tree"));
            }
            if c.entry_start > c.entry_stop {
                return Err(at(ChunkProblem::Backwards {
                    start: c.entry_start,
                    stop: c.entry_stop,
                }));
            }
        }
        self.check_each_entry_once()
    }

    /// No entry of a (file, tree) is in two chunks (nor one chunk twice), a file being known by
    /// its UUID when it has one (see [`Chunk::file_id`]): sorted by file, tree
    /// and range, each chunk is compared with the one reaching furthest before it.
    fn check_each_entry_once(&self) -> Result<(), SpecError> {
        let key = |i: usize| {
            let c = &self.chunks[i];
            (c.file_id(), &c.tree, c.entry_start, c.entry_stop)
        };
        let mut order: Vec<usize> = (0..self.chunks.len()).collect();
        order.sort_by(|&a, &b| key(a).cmp(&key(b)));
        let mut furthest: Option<usize> = None;
        for (n, &i) in order.iter().enumerate() {
            let c = &self.chunks[i];
            let same_file = |j: usize| {
                let o = &self.chunks[j];
                o.file_id() == c.file_id() && o.tree == c.tree
            };
            let twice = |j: usize| {
                let o = &self.chunks[j];
                let shared = c.entry_start < o.entry_stop && c.entry_start < c.entry_stop;
                let same = (c.entry_start, c.entry_stop) == (o.entry_start, o.entry_stop);
                shared || same
            };
            let prev = n.checked_sub(1).map(|p| order[p]).filter(|&p| same_file(p));
            let far = furthest.filter(|&f| same_file(f));
            if let Some(o) = far.filter(|&f| twice(f)).or(prev.filter(|&p| twice(p))) {
                let other = &self.chunks[o];
                return Err(SpecError::ChunkTwice(Box::new(ChunkTwice {
                    index: i,
                    dataset: c.dataset.clone(),
                    file: c.file.clone(),
                    tree: c.tree.clone(),
                    range: [c.entry_start, c.entry_stop],
                    other: o,
                    other_range: [other.entry_start, other.entry_stop],
                    other_file: other.file.clone(),
                })));
            }
            furthest = match far {
                Some(f) if self.chunks[f].entry_stop >= c.entry_stop => Some(f),
                _ => Some(i),
            };
        }
        Ok(())
    }

    /// Total entries to process.
    pub fn entries(&self) -> u64 {
        self.chunks
            .iter()
            .map(|c| c.entry_stop - c.entry_start)
            .sum()
    }
}

/// A shipped input is named by its file name alone: it is transferred next to the job, so a
/// directory part could not be honoured.
fn check_input_name(name: &str) -> Result<(), InputNameProblem> {
    if name.is_empty() {
        return Err(InputNameProblem::Empty);
    }
    if name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(InputNameProblem::NotAFileName);
    }
    Ok(())
}

/// Accept `major.minor` with our major; refuse anything else by name.
pub(crate) fn check_version(
    v: &str,
    ours: (u32, u32),
    what: &'static str,
) -> Result<(), VersionError> {
    let parsed = v
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match parsed {
        Some((major, _)) if major == ours.0 => Ok(()),
        Some((major, minor)) => Err(VersionError::Unreadable {
            what,
            major,
            minor,
            reads: ours.0,
        }),
        None => Err(VersionError::Malformed {
            what,
            found: v.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk() -> Chunk {
        Chunk {
            dataset: "ZZ".into(),
            file: "/data/a.root".into(),
            tree: "Events".into(),
            entry_start: 0,
            entry_stop: 10,
            uuid: None,
            metadata: serde_json::json!({"is_mc": true}),
        }
    }

    #[test]
    fn round_trips_and_ignores_unknown_fields() {
        let spec = JobSpec::new("run", "leaf-1", vec![chunk()]);
        let mut v = serde_json::to_value(&spec).unwrap();
        v["a_future_field"] = serde_json::json!(1);
        let back: JobSpec = serde_json::from_value(v).unwrap();
        assert_eq!(back, spec);
        assert!(back.validate().is_ok());
    }

    #[test]
    fn config_and_inputs_are_left_out_when_empty() {
        let spec = JobSpec::new("run", "leaf-1", vec![chunk()]);
        let text = serde_json::to_string(&spec).unwrap();
        assert!(
            !text.contains("config") && !text.contains("inputs"),
            "{text}"
        );
        let mut with = spec.clone();
        with.config = serde_json::json!({"lumi": 3378.0});
        with.inputs = vec!["corrections.json".into()];
        let back: JobSpec = serde_json::from_str(&serde_json::to_string(&with).unwrap()).unwrap();
        assert_eq!(back, with);
        assert!(back.validate().is_ok());
    }

    #[test]
    fn input_names_are_plain_file_names_named_once() {
        let mut spec = JobSpec::new("run", "leaf-1", vec![chunk()]);
        for bad in ["", "..", "dir/corrections.json"] {
            spec.inputs = vec![bad.into()];
            let e = spec.validate().unwrap_err().to_string();
            assert!(e.contains("inputs[0]"), "{e}");
        }
        spec.inputs = vec!["a.json".into(), "a.json".into()];
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            r#"inputs[1] "a.json": named twice"#
        );
    }

    #[test]
    fn a_range_of_a_file_is_read_once() {
        let mut spec = JobSpec::new("run", "leaf-1", vec![chunk(), chunk()]);
        spec.chunks[0].entry_start = 10;
        spec.chunks[0].entry_stop = 30;
        spec.chunks[1].entry_start = 10;
        spec.chunks[1].entry_stop = 30;
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "chunks[1] (ZZ, /data/a.root, tree Events): entries [10, 30) are read by chunks[0] [10, 30) too"
        );
        spec.chunks[1].entry_start = 0;
        spec.chunks[1].entry_stop = 11;
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "chunks[0] (ZZ, /data/a.root, tree Events): entries [10, 30) are read by chunks[1] [0, 11) too"
        );
        // Adjacent ranges, another tree or another file are fine.
        spec.chunks[1].entry_stop = 10;
        assert!(spec.validate().is_ok());
        spec.chunks[1].entry_stop = 11;
        spec.chunks[1].tree = "Runs".into();
        assert!(spec.validate().is_ok());
        spec.chunks[1].tree = "Events".into();
        spec.chunks[1].file = "/data/b.root".into();
        assert!(spec.validate().is_ok());
        // One file (one UUID) under two paths is one file.
        let mut two = JobSpec::new("run", "leaf-1", vec![chunk(), chunk()]);
        two.chunks[1].file = "/data/./a.root".into();
        assert!(
            two.validate().is_ok(),
            "no UUID: two files as far as anyone can tell"
        );
        for c in &mut two.chunks {
            c.uuid = Some("u-1".into());
        }
        assert_eq!(
            two.validate().unwrap_err().to_string(),
            "chunks[1] (ZZ, /data/./a.root, tree Events): entries [0, 10) are read by chunks[0] [0, 10) too, as /data/a.root (the same file: one UUID)"
        );
        // A range inside an earlier, longer one, past a chunk between them.
        let mut third = chunk();
        third.file = "/data/b.root".into();
        (third.entry_start, third.entry_stop) = (50, 60);
        spec.chunks[1].entry_stop = 100;
        spec.chunks.push(third);
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "chunks[2] (ZZ, /data/b.root, tree Events): entries [50, 60) are read by chunks[1] [0, 100) too"
        );
    }

    #[test]
    fn errors_name_the_field_and_chunk() {
        let mut spec = JobSpec::new("run", "leaf-1", vec![chunk(), chunk()]);
        spec.chunks[1].entry_start = 20;
        let e = spec.validate().unwrap_err();
        assert_eq!(
            e,
            SpecError::Chunk {
                index: 1,
                dataset: "ZZ".into(),
                file: "/data/a.root".into(),
                problem: ChunkProblem::Backwards {
                    start: 20,
                    stop: 10
                }
            }
        );
        // The words users see are those of the string errors before.
        assert_eq!(
            e.to_string(),
            "chunks[1] (ZZ, /data/a.root): entry_start 20 is after entry_stop 10"
        );
        spec.version = "2.0".into();
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "job spec version 2.0 is not readable by this casa (reads 1.x)"
        );
        spec.version = "two".into();
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            r#"job spec version "two" is not major.minor"#
        );
        spec.version = "1.0".into();
        spec.format = "casa-state".into();
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            r#"field 'format' is "casa-state", expected "casa-job""#
        );
    }
}
