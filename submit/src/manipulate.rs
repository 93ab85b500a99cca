//! The coffea fileset manipulations users rely on (`dataset_tools/manipulations.py`):
//! dataset selection by name or glob, max files, max chunks (per dataset and per file).

use casa_formats::Fileset;

/// A dataset selection that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("dataset pattern {pattern:?}: {source}")]
    Pattern {
        pattern: String,
        #[source]
        source: globset::Error,
    },
    #[error("no dataset matches {0:?}")]
    NoMatch(Vec<String>),
}

/// Keep datasets whose name matches one of the patterns (exact names or globs).
pub fn select_datasets(fs: &mut Fileset, patterns: &[String]) -> Result<(), SelectError> {
    if patterns.is_empty() {
        return Ok(());
    }
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        b.add(
            globset::Glob::new(p).map_err(|source| SelectError::Pattern {
                pattern: p.clone(),
                source,
            })?,
        );
    }
    let set = b.build().map_err(|source| SelectError::Pattern {
        pattern: patterns.join(" "),
        source,
    })?;
    fs.datasets
        .retain(|d| set.is_match(&d.name) || patterns.contains(&d.name));
    if fs.datasets.is_empty() {
        return Err(SelectError::NoMatch(patterns.to_vec()));
    }
    Ok(())
}

/// The selection options of `preprocess` and `plan`, in coffea's order: datasets, files,
/// chunks per file, chunks per dataset.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub datasets: Vec<String>,
    pub max_files: Option<usize>,
    pub max_chunks: Option<usize>,
    pub max_chunks_per_file: Option<usize>,
}

impl Selection {
    pub fn apply(&self, fs: &mut Fileset) -> Result<(), SelectError> {
        select_datasets(fs, &self.datasets)?;
        if let Some(n) = self.max_files {
            max_files(fs, n);
        }
        if let Some(n) = self.max_chunks_per_file {
            max_chunks_per_file(fs, n);
        }
        if let Some(n) = self.max_chunks {
            max_chunks(fs, n);
        }
        Ok(())
    }

    /// The same without the dataset selection: what applies again once steps exist.
    pub fn on_steps(&self) -> Selection {
        Selection {
            datasets: Vec::new(),
            ..self.clone()
        }
    }
}

/// `max_files(fs, n)`: the first n files of each dataset.
pub fn max_files(fs: &mut Fileset, n: usize) {
    for d in &mut fs.datasets {
        d.files.truncate(n);
    }
}

/// `max_chunks_per_file(fs, n)`: the first n steps of each file.
pub fn max_chunks_per_file(fs: &mut Fileset, n: usize) {
    for d in &mut fs.datasets {
        for f in &mut d.files {
            if let Some(s) = &mut f.steps {
                s.truncate(n);
            }
        }
    }
}

/// `max_chunks(fs, n)`: the first n steps of each dataset, across its files in order; files
/// left without steps are dropped.
pub fn max_chunks(fs: &mut Fileset, n: usize) {
    for d in &mut fs.datasets {
        let mut left = n;
        for f in &mut d.files {
            if let Some(s) = &mut f.steps {
                s.truncate(left);
                left -= s.len();
            }
        }
        d.files
            .retain(|f| f.steps.as_ref().is_none_or(|s| !s.is_empty()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_chunks_matches_coffea() {
        let all: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/data/formats/coffea-preprocess-outputs.generated.json"
        ))
        .unwrap();
        let mut fs = Fileset::from_json(&all["current_available"]).unwrap();
        max_chunks(&mut fs, 2);
        let want = Fileset::from_json(&all["max_chunks_2_of_current_available"]).unwrap();
        for (a, b) in fs.datasets.iter().zip(&want.datasets) {
            let sa: Vec<_> = a.files.iter().map(|f| (&f.path, &f.steps)).collect();
            let sb: Vec<_> = b.files.iter().map(|f| (&f.path, &f.steps)).collect();
            assert_eq!(sa, sb, "{}", a.name);
        }
        let mut fs = Fileset::from_json(&all["current_available"]).unwrap();
        max_files(&mut fs, 1);
        let want = Fileset::from_json(&all["max_files_1_of_current_available"]).unwrap();
        for (a, b) in fs.datasets.iter().zip(&want.datasets) {
            assert_eq!(a.files.len(), b.files.len());
            assert_eq!(a.files[0].path, b.files[0].path);
        }
    }
}
