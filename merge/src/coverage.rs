//! Coverage: the merged chunks against the plan (`RUNDIR/jobs/*.json`).
//!
//! Per (dataset, file, tree), the planned ranges and the covered ranges are each joined into
//! sorted disjoint intervals; the missing ranges are planned minus covered (adjacent ones
//! joined, so a run of missing jobs reads as one gap), the unplanned ones covered minus
//! planned. A covered chunk read from a file whose UUID differs from the one the plan
//! recorded counts as unplanned: it is another file.
//!
//! Files the plan left out because they could not be read (`plan --skip-bad-files`, listed
//! in the run's manifest) make the coverage incomplete too: their events were never planned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use casa_formats::partial::ChunkId;
use casa_formats::{JobSpec, SkippedFile};
use serde::Serialize;

use crate::error::MergeError;

/// One planned chunk and the job that reads it.
#[derive(Clone, Debug)]
pub struct Planned {
    /// Index into [`Plan::nodes`].
    pub node: usize,
    pub dataset: String,
    pub file: String,
    pub tree: String,
    pub uuid: Option<String>,
    pub entry_start: u64,
    pub entry_stop: u64,
}

/// The leaf jobs of a run directory.
pub struct Plan {
    pub dir: PathBuf,
    pub jobs: usize,
    pub run_id: String,
    /// The jobs' node names.
    pub nodes: Vec<String>,
    pub chunks: Vec<Planned>,
    /// Files and datasets the plan left out (`manifest.json`'s totals).
    pub skipped_files: Vec<SkippedFile>,
    pub skipped_datasets: Vec<String>,
}

/// What the manifest says was left out of the plan (nothing without a manifest: a plan made
/// by hand, or before casa recorded it).
fn read_skipped(rundir: &Path) -> Result<(Vec<SkippedFile>, Vec<String>), MergeError> {
    #[derive(serde::Deserialize, Default)]
    struct Totals {
        #[serde(default)]
        skipped_files: Vec<SkippedFile>,
        #[serde(default)]
        skipped_datasets: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(default)]
        totals: Totals,
    }
    let path = casa_run::RunDir::new(rundir).manifest();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(source) => return Err(MergeError::Read { path, source }),
    };
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| MergeError::Plan(format!("{}: {e}", path.display())))?;
    Ok((m.totals.skipped_files, m.totals.skipped_datasets))
}

/// Reads every `RUNDIR/jobs/*.json`.
pub fn read_plan(rundir: &Path) -> Result<Plan, MergeError> {
    let dir = casa_run::RunDir::new(rundir).jobs_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|source| MergeError::Read {
            path: dir.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(MergeError::Plan(format!(
            "{}: no job specs (*.json)",
            dir.display()
        )));
    }
    let mut chunks = Vec::new();
    let mut nodes = Vec::with_capacity(files.len());
    let mut run_id = String::new();
    for f in &files {
        let spec = JobSpec::read(f).map_err(|e| MergeError::Plan(e.to_string()))?;
        if run_id.is_empty() {
            run_id = spec.run_id.clone();
        }
        let node = if spec.node.is_empty() {
            f.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        } else {
            spec.node.clone()
        };
        nodes.push(node);
        for c in spec.chunks {
            chunks.push(Planned {
                node: nodes.len() - 1,
                dataset: c.dataset,
                file: c.file,
                tree: c.tree,
                uuid: c.uuid.filter(|u| !u.is_empty()),
                entry_start: c.entry_start,
                entry_stop: c.entry_stop,
            });
        }
    }
    let (skipped_files, skipped_datasets) = read_skipped(rundir)?;
    Ok(Plan {
        dir: rundir.to_path_buf(),
        jobs: files.len(),
        run_id,
        nodes,
        chunks,
        skipped_files,
        skipped_datasets,
    })
}

/// A range of entries of one file and tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub dataset: String,
    pub file: String,
    pub tree: String,
    pub entry_start: u64,
    pub entry_stop: u64,
    /// The planned jobs whose chunks fall in this range (missing ranges), or why the range
    /// is not in the plan (unplanned ones).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Gap {
    pub fn events(&self) -> u64 {
        self.entry_stop - self.entry_start
    }
}

/// Planned against covered events of one dataset.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DatasetCoverage {
    pub dataset: String,
    pub planned_events: u64,
    pub covered_events: u64,
    pub missing_events: u64,
    pub unplanned_events: u64,
    pub planned_chunks: u64,
    /// Files of the dataset left out of the plan (unreadable at plan time).
    pub skipped_files: u64,
}

/// The coverage report.
#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub plan: PathBuf,
    pub jobs: usize,
    pub planned_events: u64,
    pub covered_events: u64,
    pub missing_events: u64,
    pub unplanned_events: u64,
    /// No planned event missing, none unplanned, and no input left out of the plan.
    pub complete: bool,
    pub datasets: Vec<DatasetCoverage>,
    pub missing: Vec<Gap>,
    pub unplanned: Vec<Gap>,
    /// Files the plan left out (unreadable at plan time): their events are in no count.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_files: Vec<SkippedFile>,
    /// Datasets the plan left out, having no readable file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_datasets: Vec<String>,
}

type Key<'a> = (&'a str, &'a str, &'a str);

/// Compares the merged chunks with the plan.
pub fn check(plan: &Plan, covered: &[ChunkId]) -> Coverage {
    let mut planned: BTreeMap<Key, Vec<(u64, u64, usize)>> = BTreeMap::new();
    let mut uuids: BTreeMap<Key, &str> = BTreeMap::new();
    let mut per_ds: BTreeMap<&str, DatasetCoverage> = BTreeMap::new();
    for c in &plan.chunks {
        let key = (c.dataset.as_str(), c.file.as_str(), c.tree.as_str());
        if let Some(u) = &c.uuid {
            uuids.entry(key).or_insert(u);
        }
        planned
            .entry(key)
            .or_default()
            .push((c.entry_start, c.entry_stop, c.node));
        per_ds.entry(&c.dataset).or_default().planned_chunks += 1;
    }
    let mut have: BTreeMap<Key, Vec<(u64, u64)>> = BTreeMap::new();
    let mut unplanned = Vec::new();
    for c in covered {
        let key = (c.dataset.as_str(), c.file.as_str(), c.tree.as_str());
        match uuids.get(&key) {
            Some(u) if !c.uuid.is_empty() && c.uuid != *u => unplanned.push(gap(
                key,
                c.entry_start,
                c.entry_stop,
                Vec::new(),
                format!("file UUID {} is not the planned {u}", c.uuid),
            )),
            _ => have
                .entry(key)
                .or_default()
                .push((c.entry_start, c.entry_stop)),
        }
    }
    let mut missing = Vec::new();
    for (key, ranges) in &planned {
        let p = join(ranges.iter().map(|&(a, b, _)| (a, b)).collect());
        let h = join(have.get(key).cloned().unwrap_or_default());
        let d = per_ds.entry(key.0).or_default();
        d.planned_events += p.iter().map(|(a, b)| b - a).sum::<u64>();
        for (a, b) in subtract(&p, &h) {
            let mut nodes: Vec<String> = ranges
                .iter()
                .filter(|&&(s, e, _)| s < b && a < e)
                .map(|&(_, _, n)| plan.nodes[n].clone())
                .collect();
            nodes.sort();
            nodes.dedup();
            d.missing_events += b - a;
            missing.push(gap(*key, a, b, nodes, String::new()));
        }
    }
    for (key, ranges) in &have {
        let h = join(ranges.clone());
        let p = planned
            .get(key)
            .map(|r| join(r.iter().map(|&(a, b, _)| (a, b)).collect()))
            .unwrap_or_default();
        for (a, b) in subtract(&h, &p) {
            unplanned.push(gap(*key, a, b, Vec::new(), "not in the plan".into()));
        }
    }
    unplanned.sort_by(|x, y| {
        (&x.dataset, &x.file, &x.tree, x.entry_start).cmp(&(
            &y.dataset,
            &y.file,
            &y.tree,
            y.entry_start,
        ))
    });
    for u in &unplanned {
        per_ds.entry(&u.dataset).or_default().unplanned_events += u.events();
    }
    for f in &plan.skipped_files {
        per_ds.entry(&f.dataset).or_default().skipped_files += 1;
    }
    for d in &plan.skipped_datasets {
        per_ds.entry(d).or_default();
    }
    let datasets: Vec<DatasetCoverage> = per_ds
        .into_iter()
        .map(|(name, mut d)| {
            d.dataset = name.to_string();
            d.covered_events = d.planned_events - d.missing_events;
            d
        })
        .collect();
    let sum = |f: fn(&DatasetCoverage) -> u64| datasets.iter().map(f).sum::<u64>();
    let (planned_events, covered_events) = (sum(|d| d.planned_events), sum(|d| d.covered_events));
    let (missing_events, unplanned_events) =
        (sum(|d| d.missing_events), sum(|d| d.unplanned_events));
    Coverage {
        plan: plan.dir.clone(),
        jobs: plan.jobs,
        planned_events,
        covered_events,
        missing_events,
        unplanned_events,
        complete: missing.is_empty()
            && unplanned.is_empty()
            && plan.skipped_files.is_empty()
            && plan.skipped_datasets.is_empty(),
        datasets,
        missing,
        unplanned,
        skipped_files: plan.skipped_files.clone(),
        skipped_datasets: plan.skipped_datasets.clone(),
    }
}

fn gap(key: Key, a: u64, b: u64, nodes: Vec<String>, reason: String) -> Gap {
    Gap {
        dataset: key.0.to_string(),
        file: key.1.to_string(),
        tree: key.2.to_string(),
        entry_start: a,
        entry_stop: b,
        nodes,
        reason,
    }
}

/// Sorted disjoint intervals covering the same entries; touching ones are joined.
fn join(mut r: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    r.retain(|(a, b)| a < b);
    r.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(r.len());
    for (a, b) in r {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// `a` minus `b`, both sorted and disjoint.
fn subtract(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(mut s, e) in a {
        while j < b.len() && b[j].1 <= s {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && b[k].0 < e {
            if b[k].0 > s {
                out.push((s, b[k].0));
            }
            s = s.max(b[k].1);
            k += 1;
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

/// One line per gap, for messages: `ZZ a.root Events [100, 200) (leaf-3, leaf-4)`.
pub fn describe(gaps: &[Gap], limit: usize) -> String {
    let mut s = String::new();
    for g in gaps.iter().take(limit) {
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.push_str(&format!(
            "{} {} {} [{}, {})",
            g.dataset, g.file, g.tree, g.entry_start, g.entry_stop
        ));
        if !g.nodes.is_empty() {
            s.push_str(&format!(" (jobs {})", g.nodes.join(", ")));
        }
        if !g.reason.is_empty() && g.reason != "not in the plan" {
            s.push_str(&format!(" ({})", g.reason));
        }
    }
    if gaps.len() > limit {
        s.push_str(&format!("; and {} more", gaps.len() - limit));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(
            join(vec![(5, 10), (0, 5), (12, 14), (13, 20)]),
            vec![(0, 10), (12, 20)]
        );
        assert_eq!(
            subtract(&[(0, 100)], &[(0, 10), (20, 30), (90, 120)]),
            vec![(10, 20), (30, 90)]
        );
        assert_eq!(
            subtract(&[(0, 10), (20, 30)], &[(5, 25)]),
            vec![(0, 5), (25, 30)]
        );
        assert_eq!(subtract(&[(0, 10)], &[]), vec![(0, 10)]);
    }
}
