//! Filesets in and out of the commands: reading with a selection, preprocessing what has no
//! steps yet before planning, and writing coffea's outputs (gzipped by name).

use std::path::{Path, PathBuf};

use casa_formats::fsutil::atomic_write;
use casa_formats::Fileset;

use crate::manipulate::{SelectError, Selection};
use crate::preprocess::{preprocess, FileOutcome, PreprocessOptions, Preprocessed};

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Read(#[from] casa_formats::fileset::FilesetError),
    #[error(transparent)]
    Select(#[from] SelectError),
    #[error("writing {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
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

/// What `plan` plans: `fs` as it is when every file has steps, otherwise preprocessed first
/// (with the files that could not be opened, for warnings).
pub fn preprocessed_for_plan(
    fs: Fileset,
    opts: &PreprocessOptions,
    selection: &Selection,
) -> Result<(Fileset, Vec<FileOutcome>), InputError> {
    let needs_preprocessing = fs
        .datasets
        .iter()
        .flat_map(|d| &d.files)
        .any(|f| f.steps.is_none());
    if !needs_preprocessing {
        return Ok((fs, Vec::new()));
    }
    let out = preprocess_selected(&fs, opts, selection)?;
    let failed = out
        .outcomes
        .into_iter()
        .filter(|o| o.error.is_some())
        .collect();
    Ok((out.available, failed))
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
