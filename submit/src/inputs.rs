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
    #[error(
        "{path}: dataset '{dataset}'{file}: unknown key '{key}' (did you mean '{suggestion}'?)"
    )]
    UnknownKey {
        path: String,
        dataset: String,
        /// `, file 'PATH'` for a key of a file's entry.
        file: String,
        key: String,
        suggestion: &'static str,
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
    check_keys(&fs, path)?;
    selection.apply(&mut fs)?;
    Ok(fs)
}

/// The keys of a dataset's entry that coffea writes or casa reads (`files`, `metadata` and
/// `treename` are read; the others are coffea's, kept as they are).
const DATASET_KEYS: [&str; 6] = [
    "files",
    "metadata",
    "treename",
    "form",
    "compressed_form",
    "format",
];
/// The same for a file's entry.
const FILE_KEYS: [&str; 8] = [
    "object_path",
    "steps",
    "num_entries",
    "uuid",
    "format",
    "lfn",
    "pfn",
    "num_selected_entries",
];

/// Refuse a key one typo away from a known one (`"metdata"`: the metadata would be dropped
/// without a word), and warn of any other key no one reads (it is kept as it is).
fn check_keys(fs: &Fileset, path: &Path) -> Result<(), InputError> {
    let known = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    let (dataset_keys, file_keys) = (known(&DATASET_KEYS), known(&FILE_KEYS));
    // coffea's rucio helpers add `did`: known, but only at dataset level.
    let check = |key: &str, keys: &[String], all: &[&'static str], ds: &str, file: String| {
        if all.contains(&key) || (key == "did" && file.is_empty()) {
            return Ok(());
        }
        match crate::columns::nearest(key, keys) {
            Some(s) => Err(InputError::UnknownKey {
                path: path.display().to_string(),
                dataset: ds.to_string(),
                file,
                key: key.to_string(),
                suggestion: all.iter().find(|k| **k == s).copied().unwrap_or(""),
            }),
            None => {
                tracing::warn!(
                    "{}: dataset '{ds}'{file}: key '{key}' is not one casa or coffea reads; kept as it is",
                    path.display()
                );
                Ok(())
            }
        }
    };
    for d in &fs.datasets {
        for k in d.extra.keys() {
            check(k, &dataset_keys, &DATASET_KEYS, &d.name, String::new())?;
        }
        for f in &d.files {
            for k in f.extra.keys() {
                check(
                    k,
                    &file_keys,
                    &FILE_KEYS,
                    &d.name,
                    format!(", file '{}'", f.path),
                )?;
            }
        }
    }
    Ok(())
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

/// The line `preprocess` ends with: what was found and where it went.
pub fn summary_line(out: &Preprocessed, output: &Path) -> String {
    let failed = out.outcomes.iter().filter(|o| o.error.is_some()).count();
    let files = out.available.datasets.iter().flat_map(|d| &d.files);
    let events: u64 = files.map(|f| f.selected_entries()).sum();
    let unreadable = match failed {
        0 => String::new(),
        n => format!(
            " ({n} unreadable, null steps in {})",
            all_path(output).display()
        ),
    };
    let n = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    format!(
        "preprocessed {} of {}: {}, {events} events{unreadable}; wrote {}",
        n(out.outcomes.len() - failed, "file"),
        n(out.available.datasets.len(), "dataset"),
        n(steps(&out.available), "step"),
        output.display()
    )
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
