//! The accumulator of a merge: casa-hist's exact sums, added fast.
//!
//! `casa_hist::Accumulator::add` is exact but builds every bin's sum anew in canonical form
//! (a few hundred nanoseconds a bin); merging 10,000 partials of 10,000 bins that way takes
//! minutes. Here a histogram whose axes are the same text in both operands (the common case)
//! is added bin by bin with an error-free `two_sum` into a leading double, the error into a
//! second double, its error into a third, and only the error of that into a per-bin
//! expansion: one addition and a predictable branch per bin for integer-valued sums, a few
//! more for general floats (whose sums and sums of squares fit in three doubles). The sum
//! stays exact; casa-hist brings it to canonical form once, when the result is converted back
//! ([`MergeAcc::into_accumulator`]), so the bytes written equal those of casa-hist's own
//! additions in any order.
//!
//! Everything else (axes that differ, growing axes, non-finite bins, sums that could
//! overflow, Int64 overflow, counters) goes through casa-hist, which also words the errors.

use std::collections::{BTreeMap, BTreeSet};

use casa_hist::layout::{Doubles, Rest, StorageLayout, SumsLayout};
use casa_hist::payload::{HistLayout, Payload, PayloadError};
use casa_hist::{grow, two_sum, Accumulator, Hist, HistError, Item, StorageKind};

/// Why a payload cannot be taken into a merge, or a merge given back as an accumulator.
#[derive(Debug, thiserror::Error)]
pub enum AccError {
    /// The payload is not readable (casa-hist's reader says where).
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// casa-hist refused a histogram (its words name the axis).
    #[error("dataset `{dataset}`, histogram `{name}`: {source}")]
    Hist {
        dataset: String,
        name: String,
        /// The input the histogram came from (the first, for a sum of several).
        origin: usize,
        #[source]
        source: Box<HistError>,
    },
}

/// Above this bound on a bin's magnitude the fast path could overflow: casa-hist decides.
const SAFE_MAGNITUDE: f64 = 1e300;

/// One exact sum per bin: `hi[i] + lo[i] + lo2[i] + Σ tails[i]`, all finite.
#[derive(Clone, Debug)]
pub(crate) struct Sums {
    hi: Vec<f64>,
    /// Empty until an addition is inexact (never, for integer-valued sums below 2^53), then
    /// one double per bin.
    lo: Vec<f64>,
    /// Empty until an error of `lo` needs keeping, then one double per bin. Sums of float
    /// weights need ~70 bits, of their squares ~125: three doubles hold both, so the
    /// expansions below (slow to grow) are rarely touched.
    lo2: Vec<f64>,
    /// Empty until an error of `lo2` needs keeping, then one expansion per bin.
    tails: Vec<Vec<f64>>,
}

impl Sums {
    /// From casa-hist's serialised form: rounded values, the second double of every bin (or
    /// none; the caller checks the length) and the other remainders of some bins.
    pub(crate) fn from_parts(
        values: Vec<f64>,
        second: Vec<f64>,
        rest: Vec<(usize, Vec<f64>)>,
    ) -> Sums {
        debug_assert!(second.is_empty() || second.len() == values.len());
        let mut s = Sums {
            hi: values,
            lo: second,
            lo2: Vec::new(),
            tails: Vec::new(),
        };
        for (i, parts) in rest {
            for x in parts {
                s.add(i, x);
            }
        }
        s
    }

    pub(crate) fn len(&self) -> usize {
        self.hi.len()
    }

    /// Adds `v` to bin `i`, exactly.
    #[inline(always)]
    fn add(&mut self, i: usize, v: f64) {
        let (s, e) = two_sum(self.hi[i], v);
        self.hi[i] = s;
        if e != 0.0 {
            self.add_error(i, e);
        }
    }

    /// Adds `e` to bin `i` of `lo` (the second double), carrying the error down.
    #[inline]
    fn add_error(&mut self, i: usize, e: f64) {
        let e2 = carry(&mut self.lo, self.hi.len(), i, e);
        if e2 != 0.0 {
            self.add_error2(i, e2);
        }
    }

    /// Adds `e` to bin `i` of `lo2` (the third double); its error goes to the expansion.
    #[inline]
    fn add_error2(&mut self, i: usize, e: f64) {
        let e3 = carry(&mut self.lo2, self.hi.len(), i, e);
        if e3 != 0.0 {
            self.spill(i, e3);
        }
    }

    #[cold]
    #[inline(never)]
    fn spill(&mut self, i: usize, e: f64) {
        if self.tails.is_empty() {
            self.tails = vec![Vec::new(); self.hi.len()];
        }
        grow(&mut self.tails[i], e);
    }

    /// Adds every bin of `other` (same length), exactly.
    fn add_all(&mut self, other: &Sums) {
        for (i, &h) in other.hi.iter().enumerate() {
            if h != 0.0 {
                self.add(i, h);
            }
        }
        // Each level into the same level: any split of the exact sum is exact.
        for (i, &l) in other.lo.iter().enumerate() {
            if l != 0.0 {
                self.add_error(i, l);
            }
        }
        for (i, &l) in other.lo2.iter().enumerate() {
            if l != 0.0 {
                self.add_error2(i, l);
            }
        }
        for (i, t) in other.tails.iter().enumerate() {
            for &x in t {
                self.add(i, x);
            }
        }
    }

    /// casa-hist's layout of these sums: `hi` as the values, `lo` as the second doubles, the
    /// rest as remainders (casa-hist rounds every bin to canonical form itself).
    fn to_layout(&self) -> SumsLayout {
        let rest: Vec<(usize, Vec<f64>)> = (0..self.hi.len())
            .filter_map(|i| {
                let mut parts: Vec<f64> = self.tails.get(i).cloned().unwrap_or_default();
                parts.extend(self.lo2.get(i).copied().filter(|&x| x != 0.0));
                (!parts.is_empty()).then_some((i, parts))
            })
            .collect();
        SumsLayout {
            values: Doubles(self.hi.clone()),
            second: Doubles(self.lo.clone()),
            rest: Rest(rest),
        }
    }
}

/// Adds `e` to bin `i` of a lazily allocated level of `len` doubles; returns the rounding
/// error, which the next level keeps.
#[inline(always)]
fn carry(level: &mut Vec<f64>, len: usize, i: usize, e: f64) -> f64 {
    if level.is_empty() {
        *level = vec![0.0; len];
    }
    let (s, err) = two_sum(level[i], e);
    level[i] = s;
    err
}

/// A histogram in the fast form: its axes as JSON text, and exact sums.
#[derive(Clone, Debug)]
pub(crate) struct FastHist {
    /// The `spec` object exactly as serialised: equal text means identical axes.
    pub(crate) spec: String,
    pub(crate) kind: StorageKind,
    pub(crate) ints: Vec<i64>,
    pub(crate) sums: Vec<Sums>,
    pub(crate) variance_known: bool,
    /// An upper bound on the magnitude of every bin.
    pub(crate) bound: f64,
}

impl FastHist {
    /// Whether `other` can be added here without casa-hist's help.
    fn fast_compatible(&self, other: &FastHist) -> bool {
        self.spec == other.spec
            && self.kind == other.kind
            && self.ints.len() == other.ints.len()
            && self.sums.len() == other.sums.len()
            && self
                .sums
                .iter()
                .zip(&other.sums)
                .all(|(a, b)| a.len() == b.len())
            && self.bound + other.bound < SAFE_MAGNITUDE
            && self
                .ints
                .iter()
                .zip(&other.ints)
                .all(|(a, b)| a.checked_add(*b).is_some())
    }

    fn add(&mut self, other: &FastHist) {
        for (a, b) in self.ints.iter_mut().zip(&other.ints) {
            *a += *b;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            a.add_all(b);
        }
        self.variance_known &= other.variance_known;
        self.bound += other.bound;
    }

    /// An upper bound on every bin of a histogram laid out as `storage`, `None` when a bin is
    /// not finite (casa-hist keeps those).
    fn bound(storage: &StorageLayout) -> Option<f64> {
        let mut max = 0.0f64;
        for s in &storage.sums {
            for v in [&s.values.0, &s.second.0] {
                // The largest magnitude as bits (an integer max vectorises; an infinity or
                // NaN is above every finite double's bits).
                let top = v
                    .iter()
                    .map(|x| x.to_bits() & !(1 << 63))
                    .max()
                    .unwrap_or(0);
                if top >= f64::INFINITY.to_bits() {
                    return None;
                }
                max = max.max(f64::from_bits(top));
            }
            if !s
                .rest
                .0
                .iter()
                .all(|(_, p)| p.iter().all(|x| x.is_finite()))
            {
                return None;
            }
        }
        // Remainders are below an ulp of their bin: a margin covers them.
        Some(max * 1.000_001)
    }

    /// The fast form of a histogram as a payload lays it out, whose bins are bounded by
    /// `bound` ([`FastHist::bound`]).
    fn from_layout(h: HistLayout, bound: f64) -> FastHist {
        let HistLayout { spec, storage } = h;
        FastHist {
            spec,
            kind: storage.kind,
            ints: storage.ints,
            sums: storage
                .sums
                .into_iter()
                .map(|s| Sums::from_parts(s.values.0, s.second.0, s.rest.0))
                .collect(),
            variance_known: storage.variance_known,
            bound,
        }
    }

    /// The casa-hist histogram (canonical form).
    pub(crate) fn to_hist(&self) -> Result<Hist, HistError> {
        HistLayout {
            spec: self.spec.clone(),
            storage: StorageLayout {
                kind: self.kind,
                ints: self.ints.clone(),
                sums: self.sums.iter().map(Sums::to_layout).collect(),
                variance_known: self.variance_known,
            },
        }
        .into_hist()
    }
}

/// One histogram of a merge: fast, or (rarely) handled by casa-hist.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum Slot {
    Fast(FastHist),
    Slow(Hist),
}

impl Slot {
    /// The fast form of `h` when it has one (finite, bounded bins), else `h` itself.
    pub(crate) fn from_hist(h: Hist) -> Slot {
        let layout = h.layout();
        match FastHist::bound(&layout.storage) {
            Some(b) if b < SAFE_MAGNITUDE => Slot::Fast(FastHist::from_layout(layout, b)),
            _ => Slot::Slow(h),
        }
    }

    /// A histogram read from a payload: fast when its bins are finite, else casa-hist's.
    fn from_payload(h: HistLayout) -> Result<Slot, HistError> {
        match FastHist::bound(&h.storage) {
            Some(b) => Ok(Slot::Fast(FastHist::from_layout(h, b))),
            None => h.into_hist().map(Slot::Slow),
        }
    }

    pub(crate) fn to_hist(&self) -> Result<Hist, HistError> {
        match self {
            Slot::Fast(f) => f.to_hist(),
            Slot::Slow(h) => Ok(h.clone()),
        }
    }

    /// Adds `other`; the error is casa-hist's (naming the axis), with the side whose
    /// histogram is malformed when that is the reason.
    fn add(&mut self, other: Slot) -> Result<(), (Option<Side>, HistError)> {
        if let (Slot::Fast(a), Slot::Fast(b)) = (&mut *self, &other) {
            if a.fast_compatible(b) {
                a.add(b);
                return Ok(());
            }
        }
        let mut a = match std::mem::replace(self, Slot::Slow(empty_hist())) {
            Slot::Fast(f) => f.to_hist().map_err(|e| (Some(Side::Mine), e))?,
            Slot::Slow(h) => h,
        };
        let b = other.to_hist().map_err(|e| (Some(Side::Other), e))?;
        let result = a.add(&b);
        *self = Slot::from_hist(a);
        result.map_err(|e| (None, e))
    }
}

/// Which side of an addition a malformed histogram is on.
#[derive(Clone, Copy, Debug)]
enum Side {
    Mine,
    Other,
}

/// A placeholder while a slot is taken apart (never observed).
fn empty_hist() -> Hist {
    Hist::new(casa_hist::HistSpec {
        axes: vec![casa_hist::AxisSpec::Boolean {
            name: String::new(),
            label: String::new(),
        }],
        storage: casa_hist::StorageKind::Int64,
        label: String::new(),
    })
    .expect("a boolean axis is valid")
}

/// A histogram and the input it first came from (for error messages).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) slot: Slot,
    pub(crate) origin: usize,
}

/// Why two accumulators cannot be added: the inputs the two sides came from, and casa-hist's
/// words.
#[derive(Debug)]
pub struct AddError {
    pub a: usize,
    pub b: usize,
    pub what: String,
    /// The input whose histogram is malformed (`a` or `b`), when that is why: a corrupt
    /// input, not two incompatible ones.
    pub malformed: Option<usize>,
}

/// What a merge holds: histograms in fast form, counters (and datasets) in a casa-hist
/// accumulator, and where each item first came from.
#[derive(Clone, Debug, Default)]
pub struct MergeAcc {
    pub(crate) hists: BTreeMap<String, BTreeMap<String, Entry>>,
    pub(crate) counters: Accumulator,
    pub(crate) counter_origin: BTreeMap<(String, String), usize>,
    pub(crate) datasets: BTreeSet<String>,
}

impl MergeAcc {
    /// A payload taken apart by casa-hist, every item marked as coming from input `origin`.
    pub(crate) fn from_payload(p: Payload, origin: usize) -> Result<MergeAcc, AccError> {
        let mut m = MergeAcc {
            datasets: p.datasets.into_iter().collect(),
            ..MergeAcc::default()
        };
        for (ds, name, h) in p.hists {
            let slot = match Slot::from_payload(h) {
                Ok(slot) => slot,
                Err(source) => {
                    return Err(AccError::Hist {
                        dataset: ds,
                        name,
                        origin,
                        source: Box::new(source),
                    })
                }
            };
            m.hists
                .entry(ds)
                .or_default()
                .insert(name, Entry { slot, origin });
        }
        for (ds, items) in &p.counters.datasets {
            for name in items.keys() {
                m.counter_origin.insert((ds.clone(), name.clone()), origin);
            }
        }
        m.counters = p.counters;
        Ok(m)
    }

    /// Adds `other` into `self`, exactly.
    pub fn add(&mut self, other: MergeAcc) -> Result<(), AddError> {
        // A name that is a histogram on one side and a counter on the other.
        for ((ds, name), &o) in &other.counter_origin {
            if let Some(e) = self.hists.get(ds).and_then(|d| d.get(name)) {
                return Err(AddError {
                    a: e.origin,
                    b: o,
                    what: format!("dataset `{ds}`, `{name}`: a histogram and a counter"),
                    malformed: None,
                });
            }
        }
        for (ds, items) in &other.hists {
            for (name, e) in items {
                if let Some(&o) = self.counter_origin.get(&(ds.clone(), name.clone())) {
                    return Err(AddError {
                        a: o,
                        b: e.origin,
                        what: format!("dataset `{ds}`, `{name}`: a counter and a histogram"),
                        malformed: None,
                    });
                }
            }
        }
        if !other.counter_origin.is_empty() {
            self.counters.add(&other.counters).map_err(|e| {
                let o = first_shared(&self.counter_origin, &other.counter_origin);
                AddError {
                    a: o.0,
                    b: o.1,
                    what: e.to_string(),
                    malformed: None,
                }
            })?;
            for (k, o) in other.counter_origin {
                let slot = self.counter_origin.entry(k).or_insert(o);
                *slot = (*slot).min(o);
            }
        }
        self.datasets.extend(other.datasets);
        for (ds, items) in other.hists {
            let mine = self.hists.entry(ds.clone()).or_default();
            for (name, e) in items {
                match mine.get_mut(&name) {
                    None => {
                        mine.insert(name, e);
                    }
                    Some(m) => {
                        m.slot.add(e.slot).map_err(|(side, what)| AddError {
                            a: m.origin,
                            b: e.origin,
                            what: format!("dataset `{ds}`, histogram `{name}`: {what}"),
                            malformed: side.map(|s| match s {
                                Side::Mine => m.origin,
                                Side::Other => e.origin,
                            }),
                        })?;
                        m.origin = m.origin.min(e.origin);
                    }
                }
            }
        }
        Ok(())
    }

    /// casa-hist's accumulator, every sum in canonical form and growth categories sorted (so
    /// the result depends on neither the order nor the grouping of the inputs).
    pub fn into_accumulator(self) -> Result<Accumulator, AccError> {
        let mut acc = self.counters;
        for ds in self.datasets {
            acc.datasets.entry(ds).or_default();
        }
        for (ds, items) in self.hists {
            let slot = acc.datasets.entry(ds.clone()).or_default();
            for (name, e) in items {
                let h = e.slot.to_hist().map_err(|source| AccError::Hist {
                    dataset: ds.clone(),
                    name: name.clone(),
                    origin: e.origin,
                    source: Box::new(source),
                })?;
                slot.insert(name, Item::Hist(h));
            }
        }
        acc.sort_growth_categories();
        Ok(acc)
    }
}

/// The inputs behind the first counter both sides have (for an error message).
fn first_shared(
    a: &BTreeMap<(String, String), usize>,
    b: &BTreeMap<(String, String), usize>,
) -> (usize, usize) {
    b.iter()
        .find_map(|(k, &ob)| a.get(k).map(|&oa| (oa, ob)))
        .or_else(|| Some((*a.values().next()?, *b.values().next()?)))
        .unwrap_or((0, 0))
}
