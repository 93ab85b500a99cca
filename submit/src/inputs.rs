//! Filesets in and out of the commands: reading with a selection, preprocessing what has no
//! steps yet before planning, and writing coffea's outputs (gzipped by name).

use std::path::{Path, PathBuf};

use casa_formats::fsutil::atomic_write;
use casa_formats::{Fileset, SkippedFile};

use crate::manipulate::{SelectError, Selection};
use crate::preprocess::{preprocess, PreprocessOptions, Preprocessed};

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Read(#[from] casa_formats::fileset::FilesetError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("{}", unreadable_message(files, datasets))]
    Unreadable {
        files: Vec<SkippedFile>,
        datasets: Vec<String>,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// "cannot read 2 input files ...": every file named, with its dataset and reason.
fn unreadable_message(files: &[SkippedFile], datasets: &[String]) -> String {
    let mut parts: Vec<String> = (files.iter())
        .map(|f| format!("dataset {}: {}: {}", f.dataset, f.file, f.reason))
        .collect();
    let only_empty = datasets
        .iter()
        .filter(|d| !files.iter().any(|f| &f.dataset == *d));
    parts.extend(only_empty.map(|d| format!("dataset {d} has no file")));
    let what = match files.len() {
        0 => "some datasets have no input file".to_string(),
        1 => "cannot read 1 input file".to_string(),
        n => format!("cannot read {n} input files"),
    };
    format!(
        "{what} (fix the fileset, or give --skip-bad-files to go on without them and have the run reported incomplete): {}",
        parts.join("; ")
    )
}

/// What a run leaves out at plan time: unreadable files and datasets left with no file.
#[derive(Debug, Clone, Default)]
pub struct Skipped {
    pub files: Vec<SkippedFile>,
    pub datasets: Vec<String>,
}

impl Skipped {
    /// What preprocessing could not read.
    pub fn of(out: &Preprocessed) -> Skipped {
        Skipped {
            files: (out.outcomes.iter())
                .filter_map(|o| {
                    Some(SkippedFile {
                        dataset: o.dataset.clone(),
                        file: o.path.clone(),
                        reason: o.error.clone()?,
                    })
                })
                .collect(),
            datasets: out.empty_datasets.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.datasets.is_empty()
    }

    /// Skipping must be asked for (`--skip-bad-files`); otherwise an unreadable file or a
    /// dataset without files is an error naming them all (coffea's `skip_bad_files=False`).
    pub fn check(self, skip_bad_files: bool) -> Result<Skipped, InputError> {
        if skip_bad_files || self.is_empty() {
            return Ok(self);
        }
        Err(InputError::Unreadable {
            files: self.files,
            datasets: self.datasets,
        })
    }
}

/// The fileset at `path`, selected.
pub fn read_selected(path: &Path, selection: &Selection) -> Result<Fileset, InputError> {
    let mut fs = Fileset::read(path)?;
    selection.apply(&mut fs)?;
    Ok(fs)
}

/// `preprocess`: both outputs, selected again once the steps exist (max_chunks applies to
/// steps).
pub fn preprocess_selected(
    fs: &Fileset,
    opts: &PreprocessOptions,
    selection: &Selection,
) -> Result<Preprocessed, InputError> {
    let mut out = preprocess(fs, opts);
    selection.on_steps().apply(&mut out.available)?;
    Ok(out)
}

/// The summary `preprocess --json` prints.
pub fn summary(out: &Preprocessed, output: &Path) -> serde_json::Value {
    let failed: Vec<_> = out.outcomes.iter().filter(|o| o.error.is_some()).collect();
    serde_json::json!({
        "files": out.outcomes.len(),
        "available": out.outcomes.len() - failed.len(),
        "failed": failed.iter().map(|o| serde_json::json!({"dataset": o.dataset, "file": o.path, "error": o.error})).collect::<Vec<_>>(),
        "empty_datasets": out.empty_datasets,
        "reused_steps": out.outcomes.iter().filter(|o| o.reused).count(),
        "output": output, "output_all": all_path(output),
    })
}

/// Steps in a fileset.
pub fn steps(fs: &Fileset) -> usize {
    (fs.datasets.iter().flat_map(|d| &d.files))
        .map(|f| f.steps.as_ref().map_or(0, Vec::len))
        .sum()
}

/// What `plan` plans: `fs` as it is when every file has steps, otherwise preprocessed first;
/// and what is left out. Unreadable files and datasets without files are an error unless
/// `skip_bad_files`.
pub fn preprocessed_for_plan(
    fs: Fileset,
    opts: &PreprocessOptions,
    selection: &Selection,
    skip_bad_files: bool,
) -> Result<(Fileset, Skipped), InputError> {
    let needs_preprocessing = fs
        .datasets
        .iter()
        .flat_map(|d| &d.files)
        .any(|f| f.steps.is_none());
    if !needs_preprocessing {
        let mut fs = fs;
        let skipped = Skipped {
            files: Vec::new(),
            datasets: (fs.datasets.iter())
                .filter(|d| d.files.is_empty())
                .map(|d| d.name.clone())
                .collect(),
        }
        .check(skip_bad_files)?;
        fs.datasets.retain(|d| !d.files.is_empty());
        return Ok((fs, skipped));
    }
    let out = preprocess_selected(&fs, opts, selection)?;
    let skipped = Skipped::of(&out).check(skip_bad_files)?;
    Ok((out.available, skipped))
}

/// Write `fs` as coffea's JSON, gzipped when the name ends in `.gz`, atomically.
pub fn write_fileset(path: &Path, fs: &Fileset) -> Result<(), InputError> {
    let err = |source| InputError::Write {
        path: path.display().to_string(),
        source,
    };
    let text = serde_json::to_vec_pretty(&fs.to_json()).expect("a fileset serialises");
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&text).map_err(err)?;
        enc.finish().map_err(err)?
    } else {
        text
    };
    atomic_write(path, &bytes).map_err(err)
}

/// coffea's second output: `pre.json.gz` -> `pre_all.json.gz`.
pub fn all_path(p: &Path) -> PathBuf {
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
