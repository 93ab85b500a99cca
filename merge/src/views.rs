//! The UHI file a merge writes: every dataset's histograms (`<dataset>/<name>`), the
//! cross-dataset views a physicist fits (`sum/<name>`: all datasets added; `by-<KEY>/<name>`:
//! one slice per value of the dataset metadata KEY, on a new first category axis KEY), and
//! the completeness of each dataset in the histograms' metadata (flat `casa_*` keys, since
//! uhi's metadata holds strings, numbers and booleans only; hist shows them as attributes).

use std::collections::BTreeMap;
use std::path::Path;

use casa_formats::Fileset;
use casa_hist::{Accumulator, Hist, Item};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::MergeError;

/// Whether a key of the UHI document names a view rather than a dataset's histogram.
pub fn is_view(key: &str) -> bool {
    key.starts_with("sum/") || (key.starts_with("by-") && key.contains('/'))
}

/// Which views to add to the per-dataset histograms.
#[derive(Clone, Debug, Default)]
pub struct Views {
    /// `sum/<name>`: the histograms of every dataset added.
    pub sum: bool,
    /// `by-<KEY>/<name>`: datasets grouped by this metadata key.
    pub group_by: Option<String>,
}

/// How much of one dataset the merged result holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Completeness {
    /// Chunks (fileset steps) merged.
    pub steps_done: u64,
    /// Chunks planned (unknown without a plan).
    pub steps_expected: Option<u64>,
    /// Events merged.
    pub events: u64,
    pub events_expected: Option<u64>,
    /// Failed job attempts touching the dataset, by exit class (from the metrics).
    pub failures: BTreeMap<String, u64>,
}

impl Completeness {
    /// Nothing yet, with known (zero) expectations, to add datasets to.
    fn known() -> Completeness {
        Completeness {
            steps_expected: Some(0),
            events_expected: Some(0),
            ..Completeness::default()
        }
    }

    fn add(&mut self, o: &Completeness) {
        self.steps_done += o.steps_done;
        self.steps_expected = self
            .steps_expected
            .zip(o.steps_expected)
            .map(|(a, b)| a + b);
        self.events += o.events;
        self.events_expected = self
            .events_expected
            .zip(o.events_expected)
            .map(|(a, b)| a + b);
        for (k, v) in &o.failures {
            *self.failures.entry(k.clone()).or_default() += v;
        }
    }

    /// The `casa_*` metadata keys.
    fn write(&self, meta: &mut Map<String, Value>) {
        meta.insert("casa_steps_done".into(), json!(self.steps_done));
        if let Some(n) = self.steps_expected {
            meta.insert("casa_steps_expected".into(), json!(n));
        }
        meta.insert("casa_events".into(), json!(self.events));
        if let Some(n) = self.events_expected {
            meta.insert("casa_events_expected".into(), json!(n));
            meta.insert(
                "casa_complete".into(),
                json!(self.events == n && self.steps_expected == Some(self.steps_done)),
            );
        }
        for (class, n) in &self.failures {
            meta.insert(format!("casa_failed_{class}"), json!(n));
        }
    }
}

/// The metadata of each dataset of a fileset (coffea's `metadata` objects).
pub fn dataset_metadata(fileset: &Path) -> Result<BTreeMap<String, Value>, MergeError> {
    let fs = Fileset::read(fileset).map_err(|e| MergeError::Usage(e.to_string()))?;
    Ok(fs
        .datasets
        .into_iter()
        .map(|d| (d.name, d.metadata))
        .collect())
}

/// The value of `key` in a dataset's metadata, as a category label.
fn group_of(meta: &BTreeMap<String, Value>, ds: &str, key: &str) -> Result<String, MergeError> {
    let v = meta.get(ds).and_then(|m| m.get(key)).ok_or_else(|| {
        MergeError::Usage(format!(
            "--group-by {key}: dataset `{ds}` has no metadata key `{key}` in the fileset"
        ))
    })?;
    Ok(match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// The UHI document: per-dataset histograms with their completeness, and the views asked
/// for. Returns the document and, for each histogram left out of a view, why.
pub fn document(
    acc: &Accumulator,
    views: &Views,
    metadata: &BTreeMap<String, Value>,
    completeness: &BTreeMap<String, Completeness>,
) -> Result<(Map<String, Value>, Vec<String>), MergeError> {
    let mut doc = Map::new();
    let mut skipped = Vec::new();
    let prefixes = [
        views.sum.then(|| "sum".to_string()),
        views.group_by.as_ref().map(|k| format!("by-{k}")),
    ];
    if let Some(p) = prefixes
        .iter()
        .flatten()
        .find(|p| acc.datasets.contains_key(*p))
    {
        return Err(MergeError::Usage(format!(
            "a dataset is named `{p}`, as the view would be: its histograms and the view's would share names"
        )));
    }
    // name -> [(dataset, histogram)], datasets in order.
    let mut by_name: BTreeMap<&str, Vec<(&str, &Hist)>> = BTreeMap::new();
    for (ds, items) in &acc.datasets {
        for (name, item) in items {
            if let Item::Hist(h) = item {
                let mut v = h.to_uhi();
                if let Some(c) = completeness.get(ds) {
                    let meta = v
                        .as_object_mut()
                        .and_then(|o| o.entry("metadata").or_insert(json!({})).as_object_mut());
                    if let Some(meta) = meta {
                        meta.insert("casa_dataset".into(), json!(ds));
                        c.write(meta);
                    }
                }
                doc.insert(casa_hist::uhi_key(ds, name), v);
                by_name.entry(name).or_default().push((ds, h));
            }
        }
    }
    let groups = match &views.group_by {
        Some(key) => {
            let mut g = BTreeMap::new();
            for ds in acc.datasets.keys() {
                g.insert(ds.as_str(), group_of(metadata, ds, key)?);
            }
            Some((key.as_str(), g))
        }
        None => None,
    };
    for (name, hists) in &by_name {
        let datasets: Vec<&str> = hists.iter().map(|(d, _)| *d).collect();
        let total = match sum(hists.iter().map(|(_, h)| *h)) {
            Ok(t) => t,
            Err(e) => {
                skipped.push(format!(
                    "`{name}`: the datasets' histograms do not add: {e}"
                ));
                continue;
            }
        };
        if views.sum {
            let mut c = Completeness::known();
            for ds in &datasets {
                c.add(completeness.get(*ds).unwrap_or(&Completeness::default()));
            }
            doc.insert(
                casa_hist::uhi_key("sum", name),
                with_meta(total.to_uhi(), &datasets, completeness.is_empty(), &c),
            );
        }
        let Some((key, of)) = &groups else { continue };
        let mut members: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for ds in &datasets {
            members.entry(of[ds].as_str()).or_default().push(ds);
        }
        let mut parts = Vec::new();
        let mut c = Completeness::known();
        for (value, dss) in &members {
            // Each group's sum on the total's axes, so every slice has the same categories.
            let mut g =
                Hist::new(total.spec().clone()).map_err(|e| MergeError::Internal(e.to_string()))?;
            for (ds, h) in hists.iter().filter(|(d, _)| dss.contains(d)) {
                g.add(h)
                    .map_err(|e| MergeError::Internal(format!("{ds}/{name}: {e}")))?;
                c.add(completeness.get(*ds).unwrap_or(&Completeness::default()));
            }
            parts.push((value.to_string(), g));
        }
        match Hist::stacked(key, key, &parts) {
            Ok(h) => {
                doc.insert(
                    casa_hist::uhi_key(&format!("by-{key}"), name),
                    with_meta(h.to_uhi(), &datasets, completeness.is_empty(), &c),
                );
            }
            Err(e) => skipped.push(format!("`{name}` grouped by `{key}`: {e}")),
        }
    }
    Ok((doc, skipped))
}

/// All histograms added, growth categories sorted.
fn sum<'a>(mut hists: impl Iterator<Item = &'a Hist>) -> Result<Hist, casa_hist::HistError> {
    let mut total = hists
        .next()
        .cloned()
        .expect("a histogram name has a dataset");
    for h in hists {
        total.add(h)?;
    }
    total.sort_growth_categories();
    Ok(total)
}

fn with_meta(mut v: Value, datasets: &[&str], unknown: bool, c: &Completeness) -> Value {
    if let Some(meta) = v
        .as_object_mut()
        .and_then(|o| o.entry("metadata").or_insert(json!({})).as_object_mut())
    {
        meta.insert("casa_datasets".into(), json!(datasets.join(", ")));
        if !unknown {
            c.write(meta);
        }
    }
    v
}

/// The completeness of every dataset: merged chunks and events from the merged header's
/// chunk list; planned ones from the coverage check; failed attempts by exit class from the
/// metrics, counted for every dataset the failed job's chunks read.
pub fn completeness(
    chunks: &[casa_formats::partial::ChunkId],
    plan: Option<&crate::coverage::Plan>,
    coverage: Option<&crate::coverage::Coverage>,
    metrics: Option<&crate::metrics::MetricsSummary>,
) -> BTreeMap<String, Completeness> {
    let mut out: BTreeMap<String, Completeness> = BTreeMap::new();
    for c in chunks {
        let e = out.entry(c.dataset.clone()).or_default();
        e.steps_done += 1;
        e.events += c.entry_stop - c.entry_start;
    }
    if let Some(cov) = coverage {
        for d in &cov.datasets {
            let e = out.entry(d.dataset.clone()).or_default();
            e.steps_expected = Some(d.planned_chunks);
            e.events_expected = Some(d.planned_events);
        }
    }
    if let (Some(plan), Some(m)) = (plan, metrics) {
        let mut datasets_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in &plan.chunks {
            let v = datasets_of.entry(plan.nodes[c.node].as_str()).or_default();
            if !v.contains(&c.dataset.as_str()) {
                v.push(&c.dataset);
            }
        }
        for (node, class) in &m.failures {
            for ds in datasets_of.get(node.as_str()).into_iter().flatten() {
                let e = out.entry(ds.to_string()).or_default();
                *e.failures.entry(class.clone()).or_default() += 1;
            }
        }
    }
    out
}
