//! coffea filesets, as coffea writes and reads them: hand-written ones (path → tree, lists,
//! `path:tree`), and preprocessed ones in the legacy shape (`form`) and the current one
//! (`compressed_form`, `format`, `did`, per-file `lfn`/`pfn`/`num_selected_entries`), as
//! `.json` or gzip (sniffed by magic bytes, not by extension).
//!
//! Keys casa does not use are kept, so a fileset read and written again loses nothing.
//! Errors name the dataset, the file and the field.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

/// A whole fileset, datasets in name order.
#[derive(Debug, Clone, PartialEq)]
pub struct Fileset {
    pub datasets: Vec<Dataset>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub files: Vec<FileSpec>,
    /// The dataset's `metadata` (`null` when absent).
    pub metadata: Value,
    /// Every other key of the dataset (`form`, `compressed_form`, `format`, `did`, ...).
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileSpec {
    /// Path or URL, as written in the fileset.
    pub path: String,
    /// The TTree path (coffea's `object_path`).
    pub object_path: String,
    /// `None` before preprocessing, and for files preprocessing could not open.
    pub steps: Option<Vec<[u64; 2]>>,
    pub num_entries: Option<u64>,
    pub uuid: Option<String>,
    /// Every other key of the file (`format`, `lfn`, `pfn`, `num_selected_entries`, ...).
    pub extra: Map<String, Value>,
}

/// Why a fileset was refused.
#[derive(Debug, thiserror::Error)]
pub enum FilesetError {
    #[error("{path}: cannot read the fileset: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {problem}")]
    Invalid {
        path: String,
        problem: FilesetJsonError,
    },
}

// The nested problems below are part of their parent's message rather than its `source`, so
// an error chain printed with `{:#}` says each of them once.

/// Why a fileset JSON document was refused, naming the dataset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FilesetJsonError {
    #[error("the top level must be an object of datasets")]
    NotAnObject,
    #[error("dataset '{dataset}': {problem}")]
    Dataset {
        dataset: String,
        problem: DatasetProblem,
    },
}

/// A field of a dataset's or a file's entry that is missing or of the wrong type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FieldProblem {
    #[error("field '{field}' is missing")]
    Missing { field: &'static str },
    /// `expected` completes "must be ..." ("a string", "an object or a list").
    #[error("field '{field}' must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
}

/// What is wrong with one dataset of a fileset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatasetProblem {
    #[error("empty dataset name")]
    EmptyName,
    #[error("must be an object with 'files' or a list of files")]
    Shape,
    #[error(transparent)]
    Field(#[from] FieldProblem),
    #[error("files[{index}] must be a string")]
    FileNotAString { index: usize },
    #[error("file '{path}': no tree given (use 'path:tree' or the dataset's 'treename')")]
    NoTree { path: String },
    #[error("file '{path}': {problem}")]
    File { path: String, problem: FileProblem },
}

/// What is wrong with one file of a dataset.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FileProblem {
    #[error("empty path")]
    EmptyPath,
    #[error("must be a tree name, null, or an object")]
    Shape,
    #[error("no tree given")]
    NoTree,
    #[error(transparent)]
    Field(#[from] FieldProblem),
    #[error("field 'steps'[{index}] must be [start, stop] with non-negative integers")]
    StepShape { index: usize },
    #[error("field 'steps'[{index}] = {step:?} has start after stop")]
    StepBackwards { index: usize, step: [u64; 2] },
    #[error("field 'steps'[{index}] = {step:?} overlaps the step before ({before:?})")]
    StepOverlap {
        index: usize,
        step: [u64; 2],
        before: [u64; 2],
    },
    #[error("field 'steps' reaches entry {stop} but 'num_entries' is {num_entries}")]
    StepsPastEnd { stop: u64, num_entries: u64 },
    #[error("field 'steps' is set but 'num_entries' is not")]
    StepsWithoutEntries,
}

/// An input file left out of a run because it could not be read when the run was planned
/// (`--skip-bad-files`). The manifest, `plan --json`, `status` and the merge report list
/// them, and a run with any is "incomplete".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkippedFile {
    pub dataset: String,
    pub file: String,
    /// Why it could not be read.
    pub reason: String,
}

impl FileSpec {
    /// Steps present and valid: the file can be planned.
    pub fn is_runnable(&self) -> bool {
        self.steps.is_some() && self.num_entries.is_some()
    }

    /// Entries covered by the steps.
    pub fn selected_entries(&self) -> u64 {
        self.steps
            .as_ref()
            .map_or(0, |s| s.iter().map(|[a, b]| b - a).sum())
    }
}

impl Fileset {
    /// Read a fileset file (`.json` or gzip, whatever its name says).
    pub fn read(path: &Path) -> Result<Fileset, FilesetError> {
        let name = path.display().to_string();
        let raw = std::fs::read(path).map_err(|source| FilesetError::Read {
            path: name.clone(),
            source,
        })?;
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut s = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut s)
                .map_err(|source| FilesetError::Read {
                    path: name.clone(),
                    source,
                })?;
            s
        } else {
            raw
        };
        let v: Value = serde_json::from_slice(&text).map_err(|source| FilesetError::Json {
            path: name.clone(),
            source,
        })?;
        Fileset::from_json(&v).map_err(|problem| FilesetError::Invalid {
            path: name,
            problem,
        })
    }

    /// Interpret a fileset JSON document.
    pub fn from_json(v: &Value) -> Result<Fileset, FilesetJsonError> {
        let obj = v.as_object().ok_or(FilesetJsonError::NotAnObject)?;
        let mut datasets = Vec::with_capacity(obj.len());
        for (name, spec) in obj {
            datasets.push(parse_dataset(name, spec).map_err(|problem| {
                FilesetJsonError::Dataset {
                    dataset: name.clone(),
                    problem,
                }
            })?);
        }
        Ok(Fileset { datasets })
    }

    /// The coffea JSON for this fileset (preprocessed shape where files have steps).
    pub fn to_json(&self) -> Value {
        let mut top = Map::new();
        for d in &self.datasets {
            let mut files = Map::new();
            for f in &d.files {
                let mut o = Map::new();
                o.insert("object_path".into(), Value::String(f.object_path.clone()));
                o.insert(
                    "steps".into(),
                    f.steps.as_ref().map_or(Value::Null, |s| {
                        Value::Array(s.iter().map(|[a, b]| serde_json::json!([a, b])).collect())
                    }),
                );
                o.insert(
                    "num_entries".into(),
                    f.num_entries.map_or(Value::Null, Value::from),
                );
                o.insert(
                    "uuid".into(),
                    f.uuid.clone().map_or(Value::Null, Value::String),
                );
                for (k, v) in &f.extra {
                    o.entry(k.clone()).or_insert_with(|| v.clone());
                }
                files.insert(f.path.clone(), Value::Object(o));
            }
            let mut ds = Map::new();
            ds.insert("files".into(), Value::Object(files));
            ds.insert("metadata".into(), d.metadata.clone());
            for (k, v) in &d.extra {
                ds.entry(k.clone()).or_insert_with(|| v.clone());
            }
            top.insert(d.name.clone(), Value::Object(ds));
        }
        Value::Object(top)
    }

    pub fn dataset(&self, name: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| d.name == name)
    }
}

/// Split `path:object` the way uproot does: the last colon, unless what follows looks like
/// a port or a path (URLs have colons of their own).
pub fn split_object_path(s: &str) -> (&str, Option<&str>) {
    match s.rsplit_once(':') {
        Some((p, obj))
            if !obj.is_empty()
                && !obj.contains('/')
                && !obj.chars().all(|c| c.is_ascii_digit())
                && !p.is_empty()
                && !p.ends_with(':') =>
        {
            (p, Some(obj))
        }
        _ => (s, None),
    }
}

fn parse_dataset(name: &str, spec: &Value) -> Result<Dataset, DatasetProblem> {
    if name.is_empty() {
        return Err(DatasetProblem::EmptyName);
    }
    let (files_v, obj) = match spec {
        Value::Array(_) => (spec.clone(), Map::new()),
        Value::Object(o) => (
            o.get("files")
                .cloned()
                .ok_or(FieldProblem::Missing { field: "files" })?,
            o.clone(),
        ),
        _ => return Err(DatasetProblem::Shape),
    };
    let treename = match obj.get("treename") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => {
            return Err(FieldProblem::WrongType {
                field: "treename",
                expected: "a string",
            }
            .into())
        }
    };
    let mut files = Vec::new();
    match &files_v {
        Value::Object(m) => {
            for (path, fv) in m {
                files.push(
                    parse_file(path, fv, treename.as_deref()).map_err(|problem| {
                        DatasetProblem::File {
                            path: path.clone(),
                            problem,
                        }
                    })?,
                );
            }
        }
        Value::Array(list) => {
            for (i, item) in list.iter().enumerate() {
                let s = item
                    .as_str()
                    .ok_or(DatasetProblem::FileNotAString { index: i })?;
                let (path, obj_path) = split_object_path(s);
                let object_path = obj_path
                    .map(str::to_string)
                    .or_else(|| treename.clone())
                    .ok_or_else(|| DatasetProblem::NoTree {
                        path: path.to_string(),
                    })?;
                files.push(FileSpec {
                    path: path.to_string(),
                    object_path,
                    steps: None,
                    num_entries: None,
                    uuid: None,
                    extra: Map::new(),
                });
            }
        }
        _ => {
            return Err(FieldProblem::WrongType {
                field: "files",
                expected: "an object or a list",
            }
            .into())
        }
    }
    let mut extra = obj;
    extra.remove("files");
    let metadata = extra.remove("metadata").unwrap_or(Value::Null);
    if !(metadata.is_null() || metadata.is_object()) {
        return Err(FieldProblem::WrongType {
            field: "metadata",
            expected: "an object",
        }
        .into());
    }
    Ok(Dataset {
        name: name.to_string(),
        files,
        metadata,
        extra,
    })
}

fn parse_file(path: &str, v: &Value, treename: Option<&str>) -> Result<FileSpec, FileProblem> {
    if path.is_empty() {
        return Err(FileProblem::EmptyPath);
    }
    match v {
        Value::String(tree) => Ok(FileSpec {
            path: path.to_string(),
            object_path: tree.clone(),
            steps: None,
            num_entries: None,
            uuid: None,
            extra: Map::new(),
        }),
        Value::Null => {
            let (p, obj) = split_object_path(path);
            let object_path = obj.or(treename).ok_or(FileProblem::NoTree)?.to_string();
            Ok(FileSpec {
                path: p.to_string(),
                object_path,
                steps: None,
                num_entries: None,
                uuid: None,
                extra: Map::new(),
            })
        }
        Value::Object(o) => {
            let mut extra = o.clone();
            let object_path = match extra.remove("object_path") {
                Some(Value::String(s)) => s,
                None | Some(Value::Null) => treename
                    .ok_or(FieldProblem::Missing {
                        field: "object_path",
                    })?
                    .to_string(),
                Some(_) => {
                    return Err(FieldProblem::WrongType {
                        field: "object_path",
                        expected: "a string",
                    }
                    .into())
                }
            };
            let num_entries = match extra.remove("num_entries") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().ok_or(FieldProblem::WrongType {
                    field: "num_entries",
                    expected: "a non-negative integer",
                })?),
            };
            let uuid = match extra.remove("uuid") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s),
                Some(_) => {
                    return Err(FieldProblem::WrongType {
                        field: "uuid",
                        expected: "a string",
                    }
                    .into())
                }
            };
            let steps = match extra.remove("steps") {
                None | Some(Value::Null) => None,
                Some(Value::Array(list)) => {
                    let mut out: Vec<[u64; 2]> = Vec::with_capacity(list.len());
                    for (i, s) in list.iter().enumerate() {
                        let pair = s
                            .as_array()
                            .filter(|a| a.len() == 2)
                            .and_then(|a| Some([a[0].as_u64()?, a[1].as_u64()?]))
                            .ok_or(FileProblem::StepShape { index: i })?;
                        if pair[0] > pair[1] {
                            return Err(FileProblem::StepBackwards {
                                index: i,
                                step: pair,
                            });
                        }
                        // No entry twice. Gaps are allowed: a subset of the steps is what
                        // max_chunks and the failed steps of a run (coffea's and ours) write.
                        if let Some(prev) = out.last() {
                            if pair[0] < prev[1] {
                                return Err(FileProblem::StepOverlap {
                                    index: i,
                                    step: pair,
                                    before: *prev,
                                });
                            }
                        }
                        out.push(pair);
                    }
                    if let (Some(n), Some(last)) = (num_entries, out.last()) {
                        if last[1] > n {
                            return Err(FileProblem::StepsPastEnd {
                                stop: last[1],
                                num_entries: n,
                            });
                        }
                    }
                    Some(out)
                }
                Some(_) => {
                    return Err(FieldProblem::WrongType {
                        field: "steps",
                        expected: "a list or null",
                    }
                    .into())
                }
            };
            if steps.is_some() && num_entries.is_none() {
                return Err(FileProblem::StepsWithoutEntries);
            }
            Ok(FileSpec {
                path: path.to_string(),
                object_path,
                steps,
                num_entries,
                uuid,
                extra,
            })
        }
        _ => Err(FileProblem::Shape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_shape_coffea_writes() {
        let text =
            include_str!("../../tests/data/formats/coffea-preprocess-outputs.generated.json");
        let all: Value = serde_json::from_str(text).unwrap();
        for key in [
            "legacy_available",
            "legacy_updated",
            "current_available",
            "current_updated",
            "max_chunks_2_of_current_available",
            "max_files_1_of_current_available",
        ] {
            let fs = Fileset::from_json(&all[key]).unwrap_or_else(|e| panic!("{key}: {e}"));
            // Round trip keeps every key coffea wrote.
            let back = fs.to_json();
            for (ds, spec) in all[key].as_object().unwrap() {
                for (path, f) in spec["files"].as_object().unwrap() {
                    for (k, v) in f.as_object().unwrap() {
                        assert_eq!(&back[ds]["files"][path][k], v, "{key} {ds} {path} {k}");
                    }
                }
                for (k, v) in spec.as_object().unwrap() {
                    if k != "files" {
                        assert_eq!(&back[ds][k], v, "{key} {ds} {k}");
                    }
                }
            }
        }
        let updated = Fileset::from_json(&all["current_updated"]).unwrap();
        let missing = &updated.dataset("SingleMuon").unwrap().files;
        assert!(missing
            .iter()
            .any(|f| f.path == "missing.root" && !f.is_runnable()));
    }

    #[test]
    fn hand_written_shapes() {
        let v = serde_json::json!({
            "DY": {"files": {"/d/a.root": "Events"}, "metadata": {"is_mc": true}},
            "Data": {"treename": "Events", "files": ["/d/b.root", "root://host:1094//store/c.root"]},
            "Other": ["/d/c.root:Events", "root://x.cern.ch:1094//store/d.root:Tree"]
        });
        let fs = Fileset::from_json(&v).unwrap();
        let data = fs.dataset("Data").unwrap();
        assert_eq!(data.files[1].path, "root://host:1094//store/c.root");
        assert_eq!(data.files[1].object_path, "Events");
        let other = fs.dataset("Other").unwrap();
        assert_eq!(other.files[1].path, "root://x.cern.ch:1094//store/d.root");
        assert_eq!(other.files[1].object_path, "Tree");
    }

    #[test]
    fn errors_name_dataset_file_and_field() {
        let v = serde_json::json!({"DY": {"files": {"a.root": {"object_path": "Events", "steps": [[0, 10], [5, 20]], "num_entries": 20}}}});
        let e = Fileset::from_json(&v).unwrap_err().to_string();
        assert!(
            e.contains("'DY'")
                && e.contains("'a.root'")
                && e.contains("steps")
                && e.contains("overlaps"),
            "{e}"
        );
        // The words users see (and scripts may match) are those of the string errors before.
        assert_eq!(
            e,
            "dataset 'DY': file 'a.root': field 'steps'[1] = [5, 20] overlaps the step before ([0, 10])"
        );
        // What coffea's preprocess writes for a step size of 240 on 200,000 entries.
        let mut steps: Vec<[u64; 2]> = (0..833)
            .map(|i| [i * 241, ((i + 1) * 241).min(200_000)])
            .collect();
        let v = serde_json::json!({"DY": {"files": {"a.root": {"object_path": "Events", "steps": steps, "num_entries": 200_000}}}});
        assert_eq!(
            Fileset::from_json(&v).unwrap_err().to_string(),
            "dataset 'DY': file 'a.root': field 'steps'[830] = [200030, 200000] has start after stop"
        );
        // A subset of the steps, with gaps, is what max_chunks and failed-fileset write.
        steps.truncate(830);
        steps.remove(3);
        let v = serde_json::json!({"DY": {"files": {"a.root": {"object_path": "Events", "steps": &steps[2..], "num_entries": 200_000}}}});
        assert!(Fileset::from_json(&v).is_ok());
        let v = serde_json::json!({"DY": {"files": ["a.root"]}});
        let e = Fileset::from_json(&v).unwrap_err().to_string();
        assert!(e.contains("no tree"), "{e}");
        assert_eq!(
            e,
            "dataset 'DY': file 'a.root': no tree given (use 'path:tree' or the dataset's 'treename')"
        );
        let v = serde_json::json!({"DY": {"files": {"a.root": {"steps": 3}}, "treename": "T"}});
        let e = Fileset::from_json(&v).unwrap_err();
        assert_eq!(
            e,
            FilesetJsonError::Dataset {
                dataset: "DY".into(),
                problem: DatasetProblem::File {
                    path: "a.root".into(),
                    problem: FileProblem::Field(FieldProblem::WrongType {
                        field: "steps",
                        expected: "a list or null"
                    })
                }
            }
        );
        assert_eq!(
            e.to_string(),
            "dataset 'DY': file 'a.root': field 'steps' must be a list or null"
        );
    }
}
