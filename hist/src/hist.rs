//! [`Hist`]: axes plus storage; filling, exact addition and the hist-style read-outs.

use serde::{Deserialize, Serialize, Serializer};

use crate::axis::{growth_map, plan_growth, remap_linear, Growth, Lookup};
use crate::error::HistError;
use casa_histspec::{AxisSpec, FillArg, HistSpec, StorageKind, MAX_BINS};

use crate::layout::StorageLayout;
use crate::spec::Normalize;
use crate::storage::{Storage, W};

/// The weights of a fill: one per entry, or one for all.
#[derive(Clone, Copy, Debug)]
pub enum Weights<'a> {
    Each(&'a [f64]),
    One(f64),
}

/// A histogram: axes and storage, as `hist.Hist`.
///
/// Bins are kept row-major (first axis slowest) with their flow bins, the layout of hist's
/// `.values(flow=True)`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "HistRepr")]
pub struct Hist {
    spec: HistSpec,
    lookups: Vec<Lookup>,
    storage: Storage,
}

/// Entries handled per pass: bin indices of one chunk live on the stack.
const CHUNK: usize = 512;

impl Hist {
    /// A new, empty histogram. The declaration is checked: bins > 0, finite start < stop,
    /// transforms defined on the range (log needs start > 0), sorted edges, unique
    /// categories, at most [`MAX_BINS`] bins.
    pub fn new(spec: HistSpec) -> Result<Hist, HistError> {
        let spec = spec.normalized()?;
        let len = spec.axes.iter().map(|a| a.extent()).product();
        Ok(Hist {
            lookups: spec.axes.iter().map(Lookup::new).collect(),
            storage: Storage::new(spec.storage, len),
            spec,
        })
    }

    /// The axes as they are now (growth categories added so far), in normal form.
    pub fn spec(&self) -> &HistSpec {
        &self.spec
    }

    pub fn storage_kind(&self) -> StorageKind {
        self.spec.storage
    }

    /// Bins including flow bins.
    pub fn len(&self) -> usize {
        self.storage.len()
    }

    /// True when there are no bins at all: a growth axis that has not seen a value yet.
    pub fn is_empty(&self) -> bool {
        self.storage.len() == 0
    }

    /// Fills `n` entries: one argument per axis; array arguments (and `Each` weights and the
    /// sample) must all have the same length `n`; `One*` arguments apply to every entry.
    /// Weights suit Double, Weight and WeightedMean storages (Int64 and Mean refuse them);
    /// a sample is required by Mean and WeightedMean and refused by the others.
    ///
    /// Everything is checked before any bin changes; only an Int64 bin passing `i64::MAX`
    /// can stop a fill half-way.
    pub fn fill(
        &mut self,
        args: &[FillArg<'_>],
        weight: Option<Weights<'_>>,
        sample: Option<&[f64]>,
    ) -> Result<(), HistError> {
        let kind = self.spec.storage;
        if args.len() != self.spec.axes.len() {
            return Err(HistError::fill(format!(
                "{} arguments for a histogram of {} axes",
                args.len(),
                self.spec.axes.len()
            )));
        }
        for (i, (lookup, arg)) in self.lookups.iter().zip(args).enumerate() {
            lookup
                .check(arg)
                .map_err(|reason| self.fill_axis_error(i, reason))?;
        }
        // The entry count: every array must agree.
        let mut n: Option<(usize, String)> = None;
        let mut lengths: Vec<(usize, String)> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if let Some(l) = a.array_len() {
                lengths.push((l, format!("axis {i} (`{}`)", self.spec.axes[i].name())));
            }
        }
        if let Some(Weights::Each(w)) = weight {
            lengths.push((w.len(), "the weights".into()));
        }
        if let Some(s) = sample {
            lengths.push((s.len(), "the sample".into()));
        }
        for (l, what) in lengths {
            match &n {
                None => n = Some((l, what)),
                Some((m, first)) if *m != l => {
                    return Err(HistError::fill(format!(
                        "lengths differ: {first} has {m} values, {what} has {l}"
                    )))
                }
                _ => {}
            }
        }
        let n = n.map_or(1, |(l, _)| l);
        if weight.is_some() && matches!(kind, StorageKind::Int64 | StorageKind::Mean) {
            return Err(HistError::fill(format!(
                "the {kind} storage takes no weights (use weight or weighted_mean storage)"
            )));
        }
        let needs_sample = matches!(kind, StorageKind::Mean | StorageKind::WeightedMean);
        match (needs_sample, sample.is_some()) {
            (true, false) => {
                return Err(HistError::fill(format!(
                    "the {kind} storage needs a sample (the values to average)"
                )))
            }
            (false, true) => {
                return Err(HistError::fill(format!(
                    "the {kind} storage takes no sample (use mean or weighted_mean storage)"
                )))
            }
            _ => {}
        }
        if n == 0 {
            return Ok(());
        }
        self.grow_for(args, n)?;
        if weight.is_some() {
            self.storage.mark_weighted();
        }

        // Row-major strides.
        let extents: Vec<usize> = self.spec.axes.iter().map(|a| a.extent()).collect();
        let mut strides = vec![1usize; extents.len()];
        for k in (0..extents.len() - 1).rev() {
            strides[k] = strides[k + 1] * extents[k + 1];
        }
        let mut idx = [0usize; CHUNK];
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let out = &mut idx[..end - start];
            out.fill(0);
            for ((lookup, arg), &stride) in self.lookups.iter().zip(args).zip(&strides) {
                let r = if arg.array_len().is_some() {
                    start..end
                } else {
                    0..0
                };
                lookup.accumulate(arg, r, stride, out);
            }
            let w = match weight {
                None => W::Unit,
                Some(Weights::One(x)) => W::One(x),
                Some(Weights::Each(ws)) => W::Each(&ws[start..end]),
            };
            let s = sample.map_or(&[][..], |s| &s[start..end]);
            self.storage.fill(out, w, s)?;
            start = end;
        }
        Ok(())
    }

    fn fill_axis_error(&self, index: usize, reason: String) -> HistError {
        let a = &self.spec.axes[index];
        HistError::FillAxis {
            index,
            name: a.name().to_string(),
            kind: a.kind(),
            reason,
        }
    }

    /// Grows the growth axes to hold every value of this fill, before any bin is filled.
    fn grow_for(&mut self, args: &[FillArg<'_>], n: usize) -> Result<(), HistError> {
        if !self.spec.axes.iter().any(|a| a.growth()) {
            return Ok(());
        }
        let mut new_axes = self.spec.axes.clone();
        let mut grown = false;
        for (i, (axis, arg)) in self.spec.axes.iter().zip(args).enumerate() {
            let Some(g) = plan_growth(axis, arg, n) else {
                continue;
            };
            grown = true;
            match (&mut new_axes[i], g) {
                (AxisSpec::Integer { start, stop, .. }, Growth::Integer { start: a, stop: b }) => {
                    let b = i64::try_from(b).map_err(|_| {
                        self.fill_axis_error(i, format!("cannot grow to hold {}", i64::MAX))
                    })?;
                    if i128::from(b) - i128::from(a) > MAX_BINS as i128 {
                        return Err(HistError::TooManyBins {
                            what: format!(
                                "growing axis {i} (`{}`) to [{a}, {b})",
                                self.spec.axes[i].name()
                            ),
                        });
                    }
                    (*start, *stop) = (a, b);
                }
                (AxisSpec::StrCategory { categories, .. }, Growth::Str(new)) => {
                    categories.extend(new)
                }
                (AxisSpec::IntCategory { categories, .. }, Growth::Int(new)) => {
                    categories.extend(new)
                }
                _ => {}
            }
        }
        if grown {
            self.reshape(new_axes)?;
        }
        Ok(())
    }

    /// Replaces the axes by grown versions of themselves, moving every bin.
    fn reshape(&mut self, new_axes: Vec<AxisSpec>) -> Result<(), HistError> {
        let old_ext: Vec<usize> = self.spec.axes.iter().map(|a| a.extent()).collect();
        let new_ext: Vec<usize> = new_axes.iter().map(|a| a.extent()).collect();
        let total = new_ext
            .iter()
            .try_fold(1usize, |t, &e| t.checked_mul(e).filter(|&t| t <= MAX_BINS))
            .ok_or_else(|| HistError::TooManyBins {
                what: format!(
                    "growing to axes of {} bins",
                    new_ext
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(" x ")
                ),
            })?;
        let maps: Vec<Vec<usize>> = self
            .spec
            .axes
            .iter()
            .zip(&new_axes)
            .map(|(o, n)| growth_map(o, n))
            .collect();
        let map = remap_linear(&old_ext, &new_ext, &maps);
        self.storage = self.storage.remap(&map, total);
        self.lookups = new_axes.iter().map(Lookup::new).collect();
        self.spec.axes = new_axes;
        Ok(())
    }

    /// Adds `other` bin by bin, exactly. Axes must be identical (type, edges, flow bins,
    /// categories in order, name and label), except growth axes: categories are merged by
    /// label (ours first, then the new ones in `other`'s order), integer ranges are joined,
    /// as boost-histogram does. Storages must be the same kind. On error nothing changes,
    /// and the message names the axis (index and name) and what differs.
    pub fn add(&mut self, other: &Hist) -> Result<(), HistError> {
        let plan = self.plan_add(other)?;
        if let Some(axes) = plan.axes {
            self.reshape(axes)?;
        }
        self.storage.add(&other.storage, plan.map.as_deref());
        Ok(())
    }

    /// Checks that [`Hist::add`] would succeed, changing nothing.
    pub fn check_add(&self, other: &Hist) -> Result<(), HistError> {
        self.plan_add(other).map(|_| ())
    }

    fn plan_add(&self, other: &Hist) -> Result<AddPlan, HistError> {
        let (a, b) = (&self.spec, &other.spec);
        if a.storage != b.storage {
            return Err(HistError::Incompatible {
                reason: format!("storages differ: {} and {}", a.storage, b.storage),
            });
        }
        if a.axes.len() != b.axes.len() {
            return Err(HistError::Incompatible {
                reason: format!("{} axes and {} axes", a.axes.len(), b.axes.len()),
            });
        }
        if a.label != b.label {
            // Strict where hist is lenient: a different label means a different histogram,
            // and keeping either one would make the result depend on the merge order.
            return Err(HistError::Incompatible {
                reason: format!("histogram labels differ: {:?} and {:?}", a.label, b.label),
            });
        }
        let mut merged = a.axes.clone();
        let mut grows = false;
        let mut maps = Vec::with_capacity(a.axes.len());
        for (i, (x, y)) in a.axes.iter().zip(&b.axes).enumerate() {
            let err = |reason: String| HistError::IncompatibleAxis {
                index: i,
                name: x.name().to_string(),
                reason,
            };
            let (m, g) = merge_axis(x, y).map_err(err)?;
            if let Some(g) = g {
                merged[i] = g;
                grows = true;
            }
            maps.push(m);
        }
        let new_ext: Vec<usize> = merged.iter().map(|a| a.extent()).collect();
        // Bin j of `other` is bin j of the sum only if every axis maps onto itself: same
        // extent (a smaller growth axis changes the strides) and no moved category.
        let identity = maps
            .iter()
            .zip(&new_ext)
            .all(|(m, &e)| m.len() == e && m.iter().copied().eq(0..e));
        if new_ext
            .iter()
            .try_fold(1usize, |t, &e| t.checked_mul(e).filter(|&t| t <= MAX_BINS))
            .is_none()
        {
            return Err(HistError::TooManyBins {
                what: "the sum of these histograms".into(),
            });
        }
        let map = (!identity).then(|| {
            let old: Vec<usize> = b.axes.iter().map(|a| a.extent()).collect();
            remap_linear(&old, &new_ext, &maps)
        });
        if grows && self.spec.storage == StorageKind::Int64 {
            // Int64 overflow is checked against our bins moved to the merged layout.
            let own: Vec<Vec<usize>> = a
                .axes
                .iter()
                .zip(&merged)
                .map(|(o, n)| growth_map(o, n))
                .collect();
            let old: Vec<usize> = a.axes.iter().map(|a| a.extent()).collect();
            let moved = self.storage.remap(
                &remap_linear(&old, &new_ext, &own),
                new_ext.iter().product(),
            );
            moved.check_add(&other.storage, map.as_deref())?;
        } else {
            self.storage.check_add(&other.storage, map.as_deref())?;
        }
        Ok(AddPlan {
            axes: grows.then_some(merged),
            map,
        })
    }

    /// A histogram with a new first axis, a string-category axis `name` (label `label`,
    /// its overflow bin empty), whose slice for category `parts[i].0` is `parts[i].1`,
    /// exactly: hist's view of several histograms side by side (casa-merge's `--group-by`).
    /// Every part must have the same axes, storage and label; an error names the category
    /// that differs.
    pub fn stacked(name: &str, label: &str, parts: &[(String, Hist)]) -> Result<Hist, HistError> {
        let Some((_, first)) = parts.first() else {
            return Err(HistError::InvalidSpec {
                reason: format!("no histograms to stack along `{name}`"),
            });
        };
        if first.spec.axes.iter().any(|a| a.name() == name) {
            return Err(HistError::InvalidSpec {
                reason: format!("the histogram already has an axis `{name}`"),
            });
        }
        let mut axes = vec![AxisSpec::StrCategory {
            categories: parts.iter().map(|(c, _)| c.clone()).collect(),
            growth: false,
            name: name.to_string(),
            label: label.to_string(),
        }];
        axes.extend(first.spec.axes.iter().cloned());
        let mut out = Hist::new(HistSpec {
            axes,
            storage: first.spec.storage,
            label: first.spec.label.clone(),
        })?;
        let len = first.len();
        for (k, (cat, h)) in parts.iter().enumerate() {
            if h.spec != first.spec {
                return Err(HistError::Incompatible {
                    reason: format!(
                        "`{cat}` has other axes, storage or label than `{}`",
                        parts[0].0
                    ),
                });
            }
            let map: Vec<usize> = (k * len..(k + 1) * len).collect();
            out.storage.check_add(&h.storage, Some(&map))?;
            out.storage.add(&h.storage, Some(&map));
        }
        Ok(out)
    }

    /// Sorts the categories of growth axes (strings by bytes, integers by value), moving the
    /// bins with them. Growth categories come in order of first appearance, which depends on
    /// the order partials are merged in; sorting gives one layout whatever that order was.
    pub fn sort_growth_categories(&mut self) {
        let mut new_axes = self.spec.axes.clone();
        let mut maps = Vec::new();
        for a in new_axes.iter_mut() {
            let map = match a {
                AxisSpec::StrCategory {
                    categories,
                    growth: true,
                    ..
                } => {
                    let mut order: Vec<usize> = (0..categories.len()).collect();
                    order.sort_by(|&i, &j| categories[i].cmp(&categories[j]));
                    *categories = order.iter().map(|&i| categories[i].clone()).collect();
                    inverse(&order)
                }
                AxisSpec::IntCategory {
                    categories,
                    growth: true,
                    ..
                } => {
                    let mut order: Vec<usize> = (0..categories.len()).collect();
                    order.sort_by_key(|&i| categories[i]);
                    *categories = order.iter().map(|&i| categories[i]).collect();
                    inverse(&order)
                }
                _ => (0..a.extent()).collect(),
            };
            maps.push(map);
        }
        let ext: Vec<usize> = new_axes.iter().map(|a| a.extent()).collect();
        let map = remap_linear(&ext, &ext, &maps);
        self.storage = self.storage.remap(&map, self.storage.len());
        self.lookups = new_axes.iter().map(Lookup::new).collect();
        self.spec.axes = new_axes;
    }

    /// Whether this histogram is what `declared` declares, grown or not: same storage,
    /// label and axes, where growth axes may hold more categories (or a wider range).
    pub fn is_instance_of(&self, declared: &HistSpec) -> Result<(), HistError> {
        // The common case, checked on every fill call: the declaration as it is held.
        if *declared == self.spec {
            return Ok(());
        }
        let d = declared.normalized()?;
        if d.storage != self.spec.storage {
            return Err(HistError::Incompatible {
                reason: format!(
                    "declared with {} storage, holds {}",
                    d.storage, self.spec.storage
                ),
            });
        }
        if d.label != self.spec.label || d.axes.len() != self.spec.axes.len() {
            return Err(HistError::Incompatible {
                reason: "declared with other axes or label".into(),
            });
        }
        for (i, (x, y)) in self.spec.axes.iter().zip(&d.axes).enumerate() {
            merge_axis(x, y)
                .ok()
                .filter(|(_, g)| g.is_none())
                .ok_or_else(|| HistError::IncompatibleAxis {
                    index: i,
                    name: x.name().to_string(),
                    reason: format!("declared as {y:?}, holds {x:?}"),
                })?;
        }
        Ok(())
    }

    /// Linear indices of the bins of the view with or without flow, in row-major order.
    fn view(&self, flow: bool) -> Vec<usize> {
        let ext: Vec<usize> = self.spec.axes.iter().map(|a| a.extent()).collect();
        if flow {
            return (0..self.storage.len()).collect();
        }
        let maps: Vec<Vec<usize>> = self
            .spec
            .axes
            .iter()
            .map(|a| {
                let u = usize::from(a.flow().0);
                (u..u + a.bins()).collect()
            })
            .collect();
        let inner: Vec<usize> = maps.iter().map(|m| m.len()).collect();
        remap_linear(&inner, &ext, &maps)
    }

    /// hist's `.values(flow=...)`, flattened row-major (first axis slowest): sums of
    /// weights, or means for Mean storages.
    pub fn values(&self, flow: bool) -> Vec<f64> {
        self.view(flow)
            .into_iter()
            .map(|i| self.storage.value(i))
            .collect()
    }

    /// The Int64 counts exactly (`None` for other storages).
    pub fn int_values(&self, flow: bool) -> Option<Vec<i64>> {
        match &self.storage {
            Storage::Int64(v) => Some(self.view(flow).into_iter().map(|i| v[i]).collect()),
            _ => None,
        }
    }

    /// hist's `.variances(flow=...)`: the counts for Int64 (and Double if never filled with
    /// weights, else `None`), the sums of squared weights for Weight, the variance of the
    /// mean (NaN with one entry or less) for Mean storages.
    pub fn variances(&self, flow: bool) -> Option<Vec<f64>> {
        self.storage.variances_known().then(|| {
            self.view(flow)
                .into_iter()
                .map(|i| self.storage.variance(i))
                .collect()
        })
    }

    /// hist's `.counts(flow=...)`: entries for Mean, effective entries (Σw)²/Σw² for
    /// WeightedMean, the values for the other storages (as hist).
    pub fn counts(&self, flow: bool) -> Option<Vec<f64>> {
        Some(
            self.view(flow)
                .into_iter()
                .map(|i| self.storage.count(i))
                .collect(),
        )
    }

    /// Bins per axis, with or without flow bins (the shape of `.values(flow)`).
    pub fn shape(&self, flow: bool) -> Vec<usize> {
        self.spec
            .axes
            .iter()
            .map(|a| if flow { a.extent() } else { a.bins() })
            .collect()
    }

    /// The exact sum of the values (entries for Mean, weights for WeightedMean), rounded once.
    pub fn sum(&self, flow: bool) -> f64 {
        self.storage.sum(&self.view(flow))
    }

    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    /// A histogram from parts read elsewhere (UHI import).
    pub(crate) fn from_parts(spec: HistSpec, storage: Storage) -> Hist {
        Hist {
            lookups: spec.axes.iter().map(Lookup::new).collect(),
            storage,
            spec,
        }
    }

    pub(crate) fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }
}

fn inverse(order: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        inv[old] = new;
    }
    inv
}

struct AddPlan {
    axes: Option<Vec<AxisSpec>>,
    /// Where each bin of `other` goes in the (merged) layout; `None` for the identity.
    map: Option<Vec<usize>>,
}

/// How axis `y` (of the histogram added) maps onto axis `x`: the local-index map and, when
/// `x` must grow, the grown axis.
fn merge_axis(x: &AxisSpec, y: &AxisSpec) -> Result<(Vec<usize>, Option<AxisSpec>), String> {
    if x.kind() != y.kind() {
        return Err(format!("{} axis and {} axis", x.kind(), y.kind()));
    }
    if x.name() != y.name() {
        return Err(format!("names differ: `{}` and `{}`", x.name(), y.name()));
    }
    if x.label() != y.label() {
        return Err(format!(
            "labels differ: {:?} and {:?}",
            x.label(),
            y.label()
        ));
    }
    if x.growth() != y.growth() {
        return Err(format!("growth differs: {} and {}", x.growth(), y.growth()));
    }
    if x.flow() != y.flow() {
        let f = |(u, o): (bool, bool)| format!("underflow={u}, overflow={o}");
        return Err(format!(
            "flow bins differ: {} and {}",
            f(x.flow()),
            f(y.flow())
        ));
    }
    let ident = || (0..y.extent()).collect::<Vec<_>>();
    match (x, y) {
        (
            AxisSpec::Regular {
                bins: b1,
                start: s1,
                stop: e1,
                transform: t1,
                circular: c1,
                ..
            },
            AxisSpec::Regular {
                bins: b2,
                start: s2,
                stop: e2,
                transform: t2,
                circular: c2,
                ..
            },
        ) => {
            if (b1, s1.to_bits(), e1.to_bits()) != (b2, s2.to_bits(), e2.to_bits()) {
                return Err(format!(
                    "binning differs: ({b1}, {s1}, {e1}) and ({b2}, {s2}, {e2})"
                ));
            }
            if t1 != t2 {
                return Err(format!("transforms differ: {t1:?} and {t2:?}"));
            }
            if c1 != c2 {
                return Err(format!("circular differs: {c1} and {c2}"));
            }
            Ok((ident(), None))
        }
        (AxisSpec::Variable { edges: a, .. }, AxisSpec::Variable { edges: b, .. }) => {
            if a.len() != b.len() || a.iter().zip(b).any(|(p, q)| p.to_bits() != q.to_bits()) {
                return Err(format!("edges differ: {a:?} and {b:?}"));
            }
            Ok((ident(), None))
        }
        (
            AxisSpec::Integer {
                start: s1,
                stop: e1,
                growth,
                ..
            },
            AxisSpec::Integer {
                start: s2,
                stop: e2,
                ..
            },
        ) => {
            if (s1, e1) == (s2, e2) {
                return Ok((ident(), None));
            }
            if !growth {
                return Err(format!("ranges differ: [{s1}, {e1}) and [{s2}, {e2})"));
            }
            let (s, e) = (*s1.min(s2), *e1.max(e2));
            if i128::from(e) - i128::from(s) > MAX_BINS as i128 {
                return Err(format!(
                    "joining [{s1}, {e1}) and [{s2}, {e2}) needs too many bins"
                ));
            }
            // Growth axes have no flow bins: local index = value - start.
            let shift = (i128::from(*s2) - i128::from(s)) as usize;
            let map = (0..y.extent()).map(|i| i + shift).collect();
            if (s, e) == (*s1, *e1) {
                return Ok((map, None));
            }
            let mut g = x.clone();
            if let AxisSpec::Integer { start, stop, .. } = &mut g {
                (*start, *stop) = (s, e);
            }
            Ok((map, Some(g)))
        }
        (
            AxisSpec::StrCategory {
                categories: a,
                growth,
                ..
            },
            AxisSpec::StrCategory { categories: b, .. },
        ) => merge_categories(a, b, *growth, x, |c: &mut AxisSpec, new: Vec<String>| {
            if let AxisSpec::StrCategory { categories, .. } = c {
                categories.extend(new);
            }
        }),
        (
            AxisSpec::IntCategory {
                categories: a,
                growth,
                ..
            },
            AxisSpec::IntCategory { categories: b, .. },
        ) => merge_categories(a, b, *growth, x, |c: &mut AxisSpec, new: Vec<i64>| {
            if let AxisSpec::IntCategory { categories, .. } = c {
                categories.extend(new);
            }
        }),
        (AxisSpec::Boolean { .. }, AxisSpec::Boolean { .. }) => Ok((ident(), None)),
        _ => Err("axis types differ".into()),
    }
}

fn merge_categories<T: Clone + Eq + std::hash::Hash + std::fmt::Debug>(
    a: &[T],
    b: &[T],
    growth: bool,
    x: &AxisSpec,
    extend: impl Fn(&mut AxisSpec, Vec<T>),
) -> Result<(Vec<usize>, Option<AxisSpec>), String> {
    if a == b {
        return Ok(((0..x.extent()).collect(), None));
    }
    if !growth {
        return Err(format!("categories differ: {a:?} and {b:?}"));
    }
    // Growth axes have no overflow bin: the local index is the category's position.
    let mut pos: std::collections::HashMap<&T, usize> =
        a.iter().enumerate().map(|(i, c)| (c, i)).collect();
    let mut new = Vec::new();
    let map = b
        .iter()
        .map(|c| {
            let next = pos.len();
            *pos.entry(c).or_insert_with(|| {
                new.push(c.clone());
                next
            })
        })
        .collect();
    if new.is_empty() {
        return Ok((map, None));
    }
    let mut g = x.clone();
    extend(&mut g, new);
    Ok((map, Some(g)))
}

/// How a histogram is serialised: its axes and exact bin sums.
#[derive(Serialize, Deserialize)]
struct HistRepr {
    spec: HistSpec,
    storage: StorageLayout,
}

impl Serialize for Hist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        HistRepr {
            spec: self.spec.clone(),
            storage: self.storage_layout(),
        }
        .serialize(s)
    }
}

impl TryFrom<HistRepr> for Hist {
    type Error = HistError;

    fn try_from(r: HistRepr) -> Result<Hist, HistError> {
        Hist::from_layout(r.spec, r.storage)
    }
}

impl Hist {
    /// The storage as the payload of a partial holds it ([`crate::layout`]): every exact sum
    /// in canonical form.
    pub fn storage_layout(&self) -> StorageLayout {
        self.storage.to_layout()
    }

    /// The histogram `spec` with the bins of `storage` (what deserialising does; for readers
    /// that take the layout apart themselves, as casa-merge's fast path).
    pub fn from_layout(spec: HistSpec, storage: StorageLayout) -> Result<Hist, HistError> {
        let mut h = Hist::new(spec)?;
        if storage.kind != h.spec.storage {
            return Err(HistError::InvalidSpec {
                reason: format!(
                    "spec says {} storage, bins are {}",
                    h.spec.storage, storage.kind
                ),
            });
        }
        let len = h.len();
        *h.storage_mut() = Storage::from_layout(storage, len)
            .map_err(|reason| HistError::InvalidSpec { reason })?;
        Ok(h)
    }
}
