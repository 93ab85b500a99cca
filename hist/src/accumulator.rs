//! Counters and the accumulator: everything a job fills, keyed by dataset then name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::HistError;
use crate::exact;
use crate::hist::Hist;
use casa_histspec::HistSpec;

/// A number summed across chunks (events seen, sum of generator weights, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Counter {
    Int(i64),
    Float(#[serde(with = "wire_f64")] f64),
}

/// One named thing in an accumulator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)] // Items live in maps, one allocation each either way.
pub enum Item {
    Hist(Hist),
    Counter(Counter),
}

impl Item {
    fn kind(&self) -> &'static str {
        match self {
            Item::Hist(_) => "a histogram",
            Item::Counter(Counter::Int(_)) => "an integer counter",
            Item::Counter(Counter::Float(_)) => "a float counter",
        }
    }
}

/// dataset -> name -> item (the wrapper keys by dataset, as coffea's Runner does).
///
/// Float counters are summed exactly like histogram bins: `Counter::Float` holds the
/// correctly rounded sum and the accumulator keeps the exact remainder beside it (in
/// `float_rest`, serialised with the accumulator). Change items through [`Accumulator::count`]
/// and [`Accumulator::add`], and serialise the whole accumulator (not only `datasets`) to
/// keep float counters exact across merges.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accumulator {
    pub datasets: BTreeMap<String, BTreeMap<String, Item>>,
    /// Exact remainders of float counters whose sum needs more than one double.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    float_rest: BTreeMap<String, BTreeMap<String, Vec<f64>>>,
}

impl Accumulator {
    pub fn new() -> Self {
        Accumulator::default()
    }

    /// The histogram `name` of `dataset`, created from `spec` on first use. Later calls
    /// check that the histogram is still what `spec` declares (growth axes may have grown).
    pub fn hist_mut(
        &mut self,
        dataset: &str,
        name: &str,
        spec: &HistSpec,
    ) -> Result<&mut Hist, HistError> {
        let exists = self
            .datasets
            .get(dataset)
            .is_some_and(|d| d.contains_key(name));
        if !exists {
            let h = Hist::new(spec.clone()).map_err(|e| e.in_item(dataset, name))?;
            self.datasets
                .entry(dataset.to_string())
                .or_default()
                .insert(name.to_string(), Item::Hist(h));
        }
        match self.datasets.get_mut(dataset).and_then(|d| d.get_mut(name)) {
            Some(Item::Hist(h)) => {
                if exists {
                    h.is_instance_of(spec)
                        .map_err(|e| e.in_item(dataset, name))?;
                }
                Ok(h)
            }
            Some(other) => Err(HistError::Incompatible {
                reason: format!("is {}, not a histogram", other.kind()),
            }
            .in_item(dataset, name)),
            None => Err(HistError::Incompatible {
                reason: "vanished".into(),
            }
            .in_item(dataset, name)),
        }
    }

    /// Adds `c` to the counter `name` of `dataset` (created on first use). Integer counters
    /// stay integers (overflow is an error), float counters are summed exactly; mixing the
    /// two kinds under one name is an error.
    pub fn count(&mut self, dataset: &str, name: &str, c: Counter) -> Result<(), HistError> {
        let mut other = Accumulator::new();
        other
            .datasets
            .entry(dataset.to_string())
            .or_default()
            .insert(name.to_string(), Item::Counter(normal(c)));
        self.add(&other)
    }

    /// The item `name` of `dataset`.
    pub fn get(&self, dataset: &str, name: &str) -> Option<&Item> {
        self.datasets.get(dataset)?.get(name)
    }

    /// The histogram `name` of `dataset`.
    pub fn hist(&self, dataset: &str, name: &str) -> Option<&Hist> {
        match self.get(dataset, name)? {
            Item::Hist(h) => Some(h),
            Item::Counter(_) => None,
        }
    }

    /// Adds every item of `other`, exactly (see [`Hist::add`]); new items are copied. On
    /// error nothing changes, and the message names the dataset, the item and the axis.
    pub fn add(&mut self, other: &Accumulator) -> Result<(), HistError> {
        // Check everything first so that a failed merge leaves `self` as it was.
        for (ds, items) in &other.datasets {
            for (name, item) in items {
                if let Some(mine) = self.get(ds, name) {
                    check_item(mine, item).map_err(|e| e.in_item(ds, name))?;
                }
            }
        }
        for (ds, items) in &other.datasets {
            for (name, item) in items {
                let theirs_rest = other.rest(ds, name).to_vec();
                let mine_rest = self.rest(ds, name).to_vec();
                let slot = self.datasets.entry(ds.clone()).or_default();
                let mut new_rest = None;
                match (slot.get_mut(name), item) {
                    (None, _) => {
                        slot.insert(name.clone(), item.clone());
                        new_rest = Some(theirs_rest);
                    }
                    (Some(Item::Hist(h)), Item::Hist(o)) => {
                        h.add(o).map_err(|e| e.in_item(ds, name))?;
                    }
                    (Some(Item::Counter(Counter::Int(a))), Item::Counter(Counter::Int(b))) => {
                        *a = a.saturating_add(*b);
                    }
                    (Some(Item::Counter(Counter::Float(a))), Item::Counter(Counter::Float(b))) => {
                        let (c0, rest) = add_float(*a, &mine_rest, *b, &theirs_rest);
                        *a = c0;
                        new_rest = Some(rest);
                    }
                    // Excluded by the check above.
                    _ => {}
                }
                if let Some(rest) = new_rest {
                    self.set_rest(ds, name, rest);
                }
            }
        }
        Ok(())
    }

    fn rest(&self, ds: &str, name: &str) -> &[f64] {
        self.float_rest
            .get(ds)
            .and_then(|d| d.get(name))
            .map_or(&[], |r| r.as_slice())
    }

    fn set_rest(&mut self, ds: &str, name: &str, rest: Vec<f64>) {
        if rest.is_empty() {
            if let Some(d) = self.float_rest.get_mut(ds) {
                d.remove(name);
                if d.is_empty() {
                    self.float_rest.remove(ds);
                }
            }
        } else {
            self.float_rest
                .entry(ds.to_string())
                .or_default()
                .insert(name.to_string(), rest);
        }
    }

    /// Sorts the categories of every growth axis (see [`Hist::sort_growth_categories`]).
    pub fn sort_growth_categories(&mut self) {
        for items in self.datasets.values_mut() {
            for item in items.values_mut() {
                if let Item::Hist(h) = item {
                    h.sort_growth_categories();
                }
            }
        }
    }

    /// `{"<dataset>/<name>": <UHI histogram>}`: a file of named histograms as uhi defines it
    /// (`histograms.schema.json` allows no nesting; uhi itself writes a group as flat
    /// `group/name` keys and reads a group back with `file.json:group`). Counters are left
    /// out (UHI has no counters).
    pub fn to_uhi(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (ds, items) in &self.datasets {
            for (name, item) in items {
                if let Item::Hist(h) = item {
                    out.insert(uhi_key(ds, name), h.to_uhi());
                }
            }
        }
        out
    }

    /// Reads a file of named histograms as [`Accumulator::to_uhi`] writes it: keys
    /// `<dataset>/<name>` split at the last `/` (a key without `/` is a histogram of the
    /// dataset ""). The nested `{dataset: {name: histogram}}` casa wrote before is read too.
    pub fn from_uhi(v: &Value) -> Result<Accumulator, HistError> {
        let mut acc = Accumulator::new();
        let top = v
            .as_object()
            .ok_or_else(|| HistError::uhi("/", "not an object of named histograms"))?;
        let mut put = |ds: &str, name: &str, h: &Value| -> Result<(), HistError> {
            let h = Hist::from_uhi(h).map_err(|e| e.in_item(ds, name))?;
            acc.datasets
                .entry(ds.to_string())
                .or_default()
                .insert(name.to_string(), Item::Hist(h));
            Ok(())
        };
        for (key, v) in top {
            if v.get("uhi_schema").is_some() {
                let (ds, name) = key.rsplit_once('/').unwrap_or(("", key));
                put(ds, name, v)?;
                continue;
            }
            let items = v.as_object().ok_or_else(|| {
                HistError::uhi(format!("/{key}"), "neither a histogram nor a group of them")
            })?;
            for (name, h) in items {
                put(key, name, h)?;
            }
        }
        Ok(acc)
    }
}

/// The key of a dataset's histogram in a UHI file: `<dataset>/<name>`.
pub fn uhi_key(dataset: &str, name: &str) -> String {
    format!("{dataset}/{name}")
}

/// One NaN bit pattern, so that equal accumulators serialise identically.
fn normal(c: Counter) -> Counter {
    match c {
        Counter::Float(x) if x.is_nan() => Counter::Float(f64::NAN),
        c => c,
    }
}

fn check_item(mine: &Item, theirs: &Item) -> Result<(), HistError> {
    match (mine, theirs) {
        (Item::Hist(a), Item::Hist(b)) => a.check_add(b),
        (Item::Counter(Counter::Int(a)), Item::Counter(Counter::Int(b))) => a
            .checked_add(*b)
            .map(|_| ())
            .ok_or_else(|| HistError::Overflow {
                what: format!("integer counter: {a} + {b}"),
            }),
        (Item::Counter(Counter::Float(_)), Item::Counter(Counter::Float(_))) => Ok(()),
        (a, b) => Err(HistError::Incompatible {
            reason: format!("{} and {}", a.kind(), b.kind()),
        }),
    }
}

/// The exact sum of two float counters in canonical form (rounded value, remainder).
fn add_float(a: f64, a_rest: &[f64], b: f64, b_rest: &[f64]) -> (f64, Vec<f64>) {
    if !(a.is_finite() && b.is_finite()) {
        let s = a + b;
        return (if s.is_nan() { f64::NAN } else { s }, Vec::new());
    }
    let parts = a_rest.iter().chain([&a]).chain(b_rest).chain([&b]).copied();
    exact::canonical(parts).unwrap_or((a + b, Vec::new()))
}

/// Floats that survive JSON (see `layout::Wire`).
mod wire_f64 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        crate::layout::Wire(*x).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        crate::layout::Wire::deserialize(d).map(|w| w.0)
    }
}
