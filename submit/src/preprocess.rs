//! `casa-submit preprocess`: what coffea's `dataset_tools.preprocess` does, natively. Open
//! every file (in parallel), read its entries, UUID and cluster boundaries, cut steps, and
//! produce the two filesets coffea produces: *available* (unreadable files dropped) and *all*
//! (unreadable files kept with null steps). Whether an unreadable file is an error is the
//! caller's choice (`inputs::check_readable`): by default it is, as in coffea.

use std::sync::Arc;

use casa_formats::{FileSpec, Fileset};
use rayon::prelude::*;
use rootio::{open_event_source, BatchPolicy, RootFile};

/// Options, with coffea's meanings.
#[derive(Debug, Clone)]
pub struct PreprocessOptions {
    /// Target entries per step.
    pub step_size: u64,
    /// Cut steps at cluster (common basket) boundaries.
    pub align_clusters: bool,
    /// Recompute steps even when the stored UUID matches the file's.
    pub recalculate_steps: bool,
}

/// What happened to one file.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub dataset: String,
    pub path: String,
    /// `None` when the file was read; the reason otherwise.
    pub error: Option<String>,
    /// Steps kept from the input because the UUID matched.
    pub reused: bool,
}

/// Both outputs and a per-file account.
pub struct Preprocessed {
    pub available: Fileset,
    pub all: Fileset,
    pub outcomes: Vec<FileOutcome>,
    /// Datasets left without a readable file (dropped from `available`).
    pub empty_datasets: Vec<String>,
}

/// Python's `round()`: halves go to the even neighbour (coffea computes step counts with it).
fn round_half_even(x: f64) -> u64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        (r - x.signum()) as u64
    } else {
        r as u64
    }
}

/// coffea's `get_steps` without cluster alignment: `n = max(round(N / step), 1)` steps of
/// `ceil(N / n)` entries, the last one shorter. When `n` steps of that size overshoot the end
/// (any step size below about √N), coffea's trailing steps start at or past `N` (inverted or
/// empty, like `[200271, 200000]`); those are left out, so the steps always tile `[0, N)`
/// and are coffea's own wherever coffea's are all non-empty.
pub fn even_steps(num_entries: u64, step_size: u64) -> Vec<[u64; 2]> {
    let n = round_half_even(num_entries as f64 / step_size.max(1) as f64).max(1);
    let size = num_entries.div_ceil(n);
    // Steps that start before the end (one, empty, for an empty file).
    let count = if size == 0 {
        1
    } else {
        n.min(num_entries.div_ceil(size))
    };
    (0..count)
        .map(|i| [i * size, ((i + 1) * size).min(num_entries)])
        .collect()
}

/// coffea's `get_steps` with `align_clusters`: keep a boundary once at least `step_size`
/// entries have passed since the last one kept, and always the end. That is the reader's even
/// batching over the file's common boundaries (shared with the jobs); a file without entries
/// gets one empty step, as coffea gives it. A `step_size` of 0 counts as 1.
pub fn cluster_steps(clusters: &[u64], step_size: u64) -> Vec<[u64; 2]> {
    let end = clusters.last().copied().unwrap_or(0);
    let steps = BatchPolicy::even(step_size).cut(clusters, 0, end, None);
    if steps.is_empty() {
        return vec![[0, 0]];
    }
    steps.into_iter().map(|(a, b)| [a, b]).collect()
}

/// Open a local path, a `file:` URL or a `root://` URL (through XrdCl, as the jobs will).
fn open(path: &str) -> Result<RootFile, String> {
    let src = rootio::open_input(path, &Default::default()).map_err(|e| e.to_string())?;
    RootFile::from_source(Arc::new(src)).map_err(|e| e.to_string())
}

/// What one file holds: entries, UUID, steps, and whether the steps were kept from the input.
struct Examined {
    n: u64,
    uuid: String,
    steps: Vec<[u64; 2]>,
    reused: bool,
}

/// Look at one file.
fn examine(f: &FileSpec, opts: &PreprocessOptions) -> Result<Examined, String> {
    let file = open(&f.path)?;
    let uuid = file.uuid().to_string();
    let source = open_event_source(&file, &f.object_path).map_err(|e| e.to_string())?;
    let n = source.entries();
    if !opts.recalculate_steps && f.uuid.as_deref() == Some(uuid.as_str()) {
        if let (Some(steps), Some(stored_n)) = (&f.steps, f.num_entries) {
            if stored_n == n {
                return Ok(Examined {
                    n,
                    uuid,
                    steps: steps.clone(),
                    reused: true,
                });
            }
        }
    }
    if n == 0 {
        return Ok(Examined {
            n: 0,
            uuid,
            steps: vec![[0, 0]],
            reused: false,
        });
    }
    let steps = if opts.align_clusters {
        cluster_steps(&source.all_boundaries(), opts.step_size)
    } else {
        even_steps(n, opts.step_size)
    };
    Ok(Examined {
        n,
        uuid,
        steps,
        reused: false,
    })
}

/// Preprocess a fileset.
pub fn preprocess(input: &Fileset, opts: &PreprocessOptions) -> Preprocessed {
    let jobs: Vec<(usize, usize)> = input
        .datasets
        .iter()
        .enumerate()
        .flat_map(|(d, ds)| (0..ds.files.len()).map(move |f| (d, f)))
        .collect();
    let results: Vec<Result<Examined, String>> = jobs
        .par_iter()
        .map(|&(d, f)| examine(&input.datasets[d].files[f], opts))
        .collect();
    let mut all = input.clone();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for (&(d, f), r) in jobs.iter().zip(results) {
        let dataset = all.datasets[d].name.clone();
        let spec = &mut all.datasets[d].files[f];
        match r {
            Ok(Examined {
                n,
                uuid,
                steps,
                reused,
            }) => {
                let selected: u64 = steps.iter().map(|[a, b]| b - a).sum();
                spec.num_entries = Some(n);
                spec.uuid = Some(uuid);
                spec.steps = Some(steps);
                if spec.extra.contains_key("num_selected_entries") {
                    spec.extra
                        .insert("num_selected_entries".into(), selected.into());
                }
                outcomes.push(FileOutcome {
                    dataset: dataset.clone(),
                    path: spec.path.clone(),
                    error: None,
                    reused,
                });
            }
            Err(e) => {
                spec.num_entries = None;
                spec.uuid = None;
                spec.steps = None;
                outcomes.push(FileOutcome {
                    dataset: dataset.clone(),
                    path: spec.path.clone(),
                    error: Some(e),
                    reused: false,
                });
            }
        }
    }
    let mut available = all.clone();
    for ds in &mut available.datasets {
        ds.files.retain(FileSpec::is_runnable);
    }
    let empty_datasets = (available.datasets.iter())
        .filter(|d| d.files.is_empty())
        .map(|d| d.name.clone())
        .collect();
    available.datasets.retain(|d| !d.files.is_empty());
    Preprocessed {
        available,
        all,
        outcomes,
        empty_datasets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_counts_follow_pythons_round() {
        // round(2.5) == 2 in Python.
        assert_eq!(even_steps(250, 100).len(), 2);
        assert_eq!(even_steps(350, 100).len(), 4);
        assert_eq!(
            even_steps(1000, 300),
            vec![[0, 334], [334, 668], [668, 1000]]
        );
        assert_eq!(even_steps(10, 1000), vec![[0, 10]]);
    }

    #[test]
    fn cluster_alignment() {
        assert_eq!(
            cluster_steps(&[0, 100, 200, 300, 350], 150),
            vec![[0, 200], [200, 350]]
        );
        assert_eq!(cluster_steps(&[0], 10), vec![[0, 0]]);
    }

    /// The steps tile [0, n): they start at 0, each starts where the one before stops, none
    /// is empty (but the one step of an empty file), and the last stops at n.
    fn assert_tiles(steps: &[[u64; 2]], n: u64) -> Result<(), TestCaseError> {
        if n == 0 {
            prop_assert_eq!(steps, &[[0, 0]][..]);
            return Ok(());
        }
        let mut at = 0;
        for s in steps {
            prop_assert!(s[0] == at && s[1] > s[0], "{:?} after {} of {}", s, at, n);
            at = s[1];
        }
        prop_assert_eq!(at, n);
        Ok(())
    }

    #[test]
    fn small_step_sizes_tile_the_file() {
        // coffea's formula gives 833 steps of 241 entries here, the last four past the end.
        let steps = even_steps(200_000, 240);
        assert_eq!(steps.len(), 830);
        assert_eq!(steps[829], [199_789, 200_000]);
        // ... and a trailing empty step here.
        assert_eq!(even_steps(9, 2), vec![[0, 3], [3, 6], [6, 9]]);
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn steps_tile_whatever_the_step_size(n in 0u64..3_000_000, step in 0u64..5_000) {
            assert_tiles(&even_steps(n, step), n)?;
        }

        #[test]
        fn even_steps_are_coffeas_where_coffeas_are_valid(n in 1u64..100_000, step in 1u64..200_000) {
            // coffea: n_steps = max(round(N / step), 1) steps of ceil(N / n_steps).
            let k = round_half_even(n as f64 / step as f64).max(1);
            let size = n.div_ceil(k);
            let coffea: Vec<[u64; 2]> = (0..k).map(|i| [i * size, ((i + 1) * size).min(n)]).collect();
            if coffea.iter().all(|s| s[0] < s[1]) {
                prop_assert_eq!(even_steps(n, step), coffea);
            }
        }

        #[test]
        fn cluster_steps_tile_the_file(
            gaps in proptest::collection::vec(1u64..5_000, 0..200),
            step in 0u64..20_000,
        ) {
            let mut bounds = vec![0];
            for g in gaps {
                bounds.push(bounds.last().unwrap() + g);
            }
            let n = *bounds.last().unwrap();
            assert_tiles(&cluster_steps(&bounds, step), n)?;
        }
    }
}
