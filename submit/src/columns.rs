//! The plan-time column check: every required column of the plugin, for each dataset's
//! metadata and the run's configuration, exists with a readable type in every file of that
//! dataset. Without it a typo fails each job on the worker, after the queue wait.
//!
//! The plugin is loaded and asked exactly as the leaf jobs do it (casa-wrapper's host: `init`
//! with the configuration and the shipped inputs, then its column choice per dataset), so the
//! check and the jobs cannot disagree on which columns are required. Optional columns never
//! fail.

use std::path::Path;
use std::sync::Arc;

use casa_formats::Fileset;
use casa_wrapper::host::{ColumnChoice, Plugin, PluginError, Session, Setup};
use rayon::prelude::*;
use rootio::{open_event_source, RootFile};

/// Problems listed in the error before "and N more".
const SHOWN: usize = 20;

/// A required column one file cannot give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnProblem {
    pub dataset: String,
    pub file: String,
    pub column: String,
    /// Why: missing, or its type cannot be read.
    pub why: String,
    /// The file's column nearest in spelling, for a missing one.
    pub suggestion: Option<String>,
}

impl std::fmt::Display for ColumnProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dataset {}: {}: required column {:?} {}",
            self.dataset, self.file, self.column, self.why
        )?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean {s:?}?)")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ColumnCheckError {
    /// The plugin cannot be loaded, its `init` fails or it cannot choose its columns.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("{}", list(.0))]
    Missing(Vec<ColumnProblem>),
}

fn list(problems: &[ColumnProblem]) -> String {
    let mut s = format!(
        "{} required column{} missing or unreadable; the jobs would fail on them:",
        problems.len(),
        if problems.len() == 1 { " is" } else { "s are" }
    );
    for p in problems.iter().take(SHOWN) {
        s.push_str(&format!("\n  {p}"));
    }
    if problems.len() > SHOWN {
        s.push_str(&format!("\n  and {} more", problems.len() - SHOWN));
    }
    s
}

/// What the plugin at `plugin` requires of each dataset of `fs` (in fileset order), asked
/// with `setup` as the jobs will ask it.
pub fn required_columns(
    fs: &Fileset,
    plugin: &Path,
    setup: &Setup,
) -> Result<Vec<ColumnChoice>, ColumnCheckError> {
    let plugin = Plugin::load(plugin)?;
    let mut session = Session::start_with(&plugin, setup)?;
    let choices = fs
        .datasets
        .iter()
        .map(|ds| session.columns(&ds.name, &ds.metadata.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    drop(session.finish());
    Ok(choices)
}

/// Check every file with steps against its dataset's required columns. A file that cannot be
/// opened now (it opened in preprocessing) is left to its jobs, with a warning.
pub fn check_columns(fs: &Fileset, plugin: &Path, setup: &Setup) -> Result<(), ColumnCheckError> {
    let choices = required_columns(fs, plugin, setup)?;
    let files: Vec<_> = (fs.datasets.iter().zip(&choices))
        .flat_map(|(ds, c)| ds.files.iter().map(move |f| (ds, f, &c.required)))
        .filter(|(_, f, required)| f.steps.is_some() && !required.is_empty())
        .collect();
    let unopened = std::sync::atomic::AtomicUsize::new(0);
    let mut problems: Vec<ColumnProblem> = files
        .par_iter()
        .flat_map_iter(|(ds, f, required)| {
            let events = match rootio::open_input(&f.path, &Default::default())
                .and_then(|src| RootFile::from_source(Arc::new(src)))
                .and_then(|file| open_event_source(&file, &f.object_path))
            {
                Ok(e) => e,
                Err(e) => {
                    // Counted, and only the first few named: 10^4 unreachable files must not
                    // bury the plan's output.
                    let n = unopened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n < SHOWN {
                        tracing::warn!("dataset {}: {}: columns not checked: {e}", ds.name, f.path);
                    }
                    return Vec::new();
                }
            };
            let mut names: Option<Vec<String>> = None;
            let mut out = Vec::new();
            for column in required.iter() {
                let Err(e) = events.type_of(column) else {
                    continue;
                };
                let names = names
                    .get_or_insert_with(|| events.columns().into_iter().map(|c| c.name).collect());
                let exists = names.iter().any(|n| n == column);
                out.push(ColumnProblem {
                    dataset: ds.name.clone(),
                    file: f.path.clone(),
                    column: column.clone(),
                    why: if exists {
                        format!("cannot be read: {e}")
                    } else {
                        "is not in the file".into()
                    },
                    suggestion: (!exists).then(|| nearest(column, names)).flatten(),
                });
            }
            out
        })
        .collect();
    let unopened = unopened.into_inner();
    if unopened > SHOWN {
        tracing::warn!(
            "columns not checked in {unopened} files that could not be opened ({SHOWN} named above; --no-column-check skips the check)"
        );
    }
    if problems.is_empty() {
        return Ok(());
    }
    // par_iter keeps order, but say so: the message lists datasets and files as given.
    problems.sort_by_key(|p| {
        files
            .iter()
            .position(|(d, f, _)| d.name == p.dataset && f.path == p.file)
    });
    Err(ColumnCheckError::Missing(problems))
}

/// The name in `names` nearest to `want` by edit distance, when near enough to be a typo:
/// at most a third of the name's length (and 3) edits away.
pub fn nearest(want: &str, names: &[String]) -> Option<String> {
    let limit = (want.chars().count() / 3).clamp(1, 3);
    names
        .iter()
        .map(|n| (edit_distance(want, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}

/// Levenshtein distance, case-sensitive (ROOT branch names are).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_are_suggested_and_far_ones_not() {
        let names: Vec<String> = ["Jet_btagCSVV2", "Jet_pt", "Muon_pt", "nJet"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            nearest("Jet_btagCSV2", &names).as_deref(),
            Some("Jet_btagCSVV2")
        );
        assert_eq!(nearest("Jet_Pt", &names).as_deref(), Some("Jet_pt"));
        assert_eq!(nearest("Electron_pt", &names), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
