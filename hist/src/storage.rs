//! Bin contents: the five storages of boost-histogram, with every floating-point sum exact.
//!
//! Mean storages keep sums (count, Σx, Σx² and their weighted versions) rather than
//! boost's running mean and sum of squared deltas, because sums add exactly and running
//! means do not. Means and variances are computed from the exact sums when read, each rounded
//! once (see [`crate::exact::div_round`]).

use crate::error::HistError;
use crate::exact::{self, div_expansion, div_round, mul, round, scale, sub, two_prod, ExactVec};
use crate::layout::{Doubles, Rest, StorageLayout, SumsLayout};
use casa_histspec::StorageKind;

/// The weights of one chunk of a fill.
#[derive(Clone, Copy)]
pub(crate) enum W<'a> {
    Unit,
    One(f64),
    Each(&'a [f64]),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Storage {
    Int64(Vec<i64>),
    Double {
        sum: ExactVec,
        /// False once filled with weights: hist's `.variances()` is then None.
        variance_known: bool,
    },
    Weight {
        sw: ExactVec,
        sw2: ExactVec,
    },
    Mean {
        n: ExactVec,
        sx: ExactVec,
        sxx: ExactVec,
    },
    WeightedMean {
        sw: ExactVec,
        sw2: ExactVec,
        swx: ExactVec,
        swxx: ExactVec,
    },
}

/// Calls `f(bin, entry, weight)` for every entry that has a bin.
#[inline(always)]
fn for_each(idx: &[usize], len: usize, w: W<'_>, mut f: impl FnMut(usize, usize, f64)) {
    match w {
        W::Unit => {
            for (j, &i) in idx.iter().enumerate() {
                if i < len {
                    f(i, j, 1.0);
                }
            }
        }
        W::One(x) => {
            for (j, &i) in idx.iter().enumerate() {
                if i < len {
                    f(i, j, x);
                }
            }
        }
        W::Each(ws) => {
            for (j, (&i, &x)) in idx.iter().zip(ws).enumerate() {
                if i < len {
                    f(i, j, x);
                }
            }
        }
    }
}

/// Adds `a * b` to bin `i`, exactly.
#[inline(always)]
fn add_prod(v: &mut ExactVec, i: usize, a: f64, b: f64) {
    let (p, e) = two_prod(a, b);
    v.add(i, p);
    if e != 0.0 {
        v.add(i, e);
    }
}

/// Adds `a * b * c` to bin `i`, exactly (four terms at most).
#[inline(always)]
fn add_prod3(v: &mut ExactVec, i: usize, a: f64, b: f64, c: f64) {
    let (p, e) = two_prod(a, b);
    add_prod(v, i, p, c);
    if e != 0.0 {
        add_prod(v, i, e, c);
    }
}

/// Count, mean and sample variance (boost's `mean` accumulator view) from exact sums.
fn mean_stats(n: &ExactVec, sx: &ExactVec, sxx: &ExactVec, i: usize) -> (f64, f64, f64) {
    let (Ok(ne), Ok(sxe), Ok(sxxe)) = (n.exact(i), sx.exact(i), sxx.exact(i)) else {
        // Infinities or NaN among the samples: IEEE arithmetic on the rounded sums.
        let (c, s) = (n.value(i), sx.value(i));
        return (c, s / c, f64::NAN);
    };
    let count = round(&ne);
    if ne.is_empty() {
        // boost: an empty mean is 0 and its variance 0 / (0 - 1) = -0.
        return (0.0, 0.0, -0.0);
    }
    let value = div_round(&sxe, &ne);
    // variance = Σ(x - mean)² / (n - 1) = (n Σx² - (Σx)²) / (n (n - 1)); boost divides by the
    // rounded n - 1, and so do we.
    let num = sub(&mul(&ne, &sxxe), &mul(&sxe, &sxe));
    let den = scale(&ne, count - 1.0);
    (count, value, ratio(&num, &den))
}

/// Sum of weights, of squared weights, weighted mean and variance (boost's
/// `weighted_mean` view) from exact sums.
fn weighted_mean_stats(
    sw: &ExactVec,
    sw2: &ExactVec,
    swx: &ExactVec,
    swxx: &ExactVec,
    i: usize,
) -> (f64, f64, f64, f64) {
    let (Ok(a), Ok(b), Ok(c), Ok(d)) = (sw.exact(i), sw2.exact(i), swx.exact(i), swxx.exact(i))
    else {
        let (w, w2, x) = (sw.value(i), sw2.value(i), swx.value(i));
        return (w, w2, x / w, f64::NAN);
    };
    let value = if a.is_empty() {
        // boost: 0 until filled.
        if c.is_empty() {
            0.0
        } else {
            round(&c) / 0.0
        }
    } else {
        div_round(&c, &a)
    };
    // variance = Σw(x - mean)² / (Σw - Σw²/Σw) = (Σw Σwx² - (Σwx)²) / ((Σw)² - Σw²)
    let num = sub(&mul(&a, &d), &mul(&c, &c));
    let den = sub(&mul(&a, &a), &b);
    (round(&a), round(&b), value, ratio(&num, &den))
}

/// `num / den`, correctly rounded; 0/0 is NaN as in boost (a bin with one entry).
fn ratio(num: &[f64], den: &[f64]) -> f64 {
    if den.is_empty() {
        return if num.is_empty() {
            f64::NAN
        } else {
            round(num) / 0.0
        };
    }
    if num.is_empty() {
        return 0.0 / round(den);
    }
    div_round(num, den)
}

/// One column of a storage as UHI writes it.
pub(crate) enum Column {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

impl Storage {
    pub(crate) fn new(kind: StorageKind, len: usize) -> Storage {
        let z = || ExactVec::zeros(len);
        match kind {
            StorageKind::Int64 => Storage::Int64(vec![0; len]),
            StorageKind::Double => Storage::Double {
                sum: z(),
                variance_known: true,
            },
            StorageKind::Weight => Storage::Weight { sw: z(), sw2: z() },
            StorageKind::Mean => Storage::Mean {
                n: z(),
                sx: z(),
                sxx: z(),
            },
            StorageKind::WeightedMean => Storage::WeightedMean {
                sw: z(),
                sw2: z(),
                swx: z(),
                swxx: z(),
            },
        }
    }

    pub(crate) fn kind(&self) -> StorageKind {
        match self {
            Storage::Int64(_) => StorageKind::Int64,
            Storage::Double { .. } => StorageKind::Double,
            Storage::Weight { .. } => StorageKind::Weight,
            Storage::Mean { .. } => StorageKind::Mean,
            Storage::WeightedMean { .. } => StorageKind::WeightedMean,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Storage::Int64(v) => v.len(),
            Storage::Double { sum, .. } => sum.len(),
            Storage::Weight { sw, .. } | Storage::WeightedMean { sw, .. } => sw.len(),
            Storage::Mean { n, .. } => n.len(),
        }
    }

    fn sums_mut(&mut self) -> Vec<&mut ExactVec> {
        match self {
            Storage::Int64(_) => Vec::new(),
            Storage::Double { sum, .. } => vec![sum],
            Storage::Weight { sw, sw2 } => vec![sw, sw2],
            Storage::Mean { n, sx, sxx } => vec![n, sx, sxx],
            Storage::WeightedMean { sw, sw2, swx, swxx } => vec![sw, sw2, swx, swxx],
        }
    }

    fn sums(&self) -> Vec<&ExactVec> {
        match self {
            Storage::Int64(_) => Vec::new(),
            Storage::Double { sum, .. } => vec![sum],
            Storage::Weight { sw, sw2 } => vec![sw, sw2],
            Storage::Mean { n, sx, sxx } => vec![n, sx, sxx],
            Storage::WeightedMean { sw, sw2, swx, swxx } => vec![sw, sw2, swx, swxx],
        }
    }

    /// Fills the entries whose bins are `idx` (entries with an index past the end are not
    /// counted). The caller has checked that weights and samples suit the storage.
    pub(crate) fn fill(
        &mut self,
        idx: &[usize],
        w: W<'_>,
        sample: &[f64],
    ) -> Result<(), HistError> {
        let len = self.len();
        match self {
            Storage::Int64(v) => {
                for &i in idx {
                    if let Some(c) = v.get_mut(i) {
                        *c = c.checked_add(1).ok_or_else(|| HistError::Overflow {
                            what: format!("int64 bin {i} would pass {}", i64::MAX),
                        })?;
                    }
                }
            }
            Storage::Double { sum, .. } => for_each(idx, len, w, |i, _, x| sum.add(i, x)),
            Storage::Weight { sw, sw2 } => for_each(idx, len, w, |i, _, x| {
                sw.add(i, x);
                add_prod(sw2, i, x, x);
            }),
            Storage::Mean { n, sx, sxx } => for_each(idx, len, W::Unit, |i, j, _| {
                let s = sample[j];
                n.add(i, 1.0);
                sx.add(i, s);
                add_prod(sxx, i, s, s);
            }),
            Storage::WeightedMean { sw, sw2, swx, swxx } => for_each(idx, len, w, |i, j, x| {
                let s = sample[j];
                sw.add(i, x);
                add_prod(sw2, i, x, x);
                add_prod(swx, i, x, s);
                add_prod3(swxx, i, x, s, s);
            }),
        }
        Ok(())
    }

    pub(crate) fn mark_weighted(&mut self) {
        if let Storage::Double { variance_known, .. } = self {
            *variance_known = false;
        }
    }

    /// The storage with bin `i` moved to `map[i]`, in a layout of `new_len` bins.
    pub(crate) fn remap(&self, map: &[usize], new_len: usize) -> Storage {
        let mut out = Storage::new(self.kind(), new_len);
        if let (Storage::Int64(a), Storage::Int64(b)) = (self, &mut out) {
            for (i, &m) in map.iter().enumerate() {
                b[m] = a[i];
            }
        }
        if let (
            Storage::Double {
                variance_known: a, ..
            },
            Storage::Double {
                variance_known: b, ..
            },
        ) = (self, &mut out)
        {
            *b = *a;
        }
        for (a, b) in self.sums().into_iter().zip(out.sums_mut()) {
            *b = a.remap(map, new_len);
        }
        out
    }

    /// Checks that `other` (bin `j` going to bin `map[j]`) can be added: same kind, and no
    /// Int64 bin overflows. Adding after a successful check cannot fail.
    pub(crate) fn check_add(
        &self,
        other: &Storage,
        map: Option<&[usize]>,
    ) -> Result<(), HistError> {
        if self.kind() != other.kind() {
            return Err(HistError::Incompatible {
                reason: format!("storages differ: {} and {}", self.kind(), other.kind()),
            });
        }
        if let (Storage::Int64(a), Storage::Int64(b)) = (self, other) {
            for (j, &y) in b.iter().enumerate() {
                let i = map.map_or(j, |m| m[j]);
                if a[i].checked_add(y).is_none() {
                    return Err(HistError::Overflow {
                        what: format!("int64 bin {i}: {} + {y}", a[i]),
                    });
                }
            }
        }
        Ok(())
    }

    /// Adds `other` bin by bin (bin `j` to bin `map[j]`), exactly. Call `check_add` first.
    pub(crate) fn add(&mut self, other: &Storage, map: Option<&[usize]>) {
        if let (Storage::Int64(a), Storage::Int64(b)) = (&mut *self, other) {
            for (j, &y) in b.iter().enumerate() {
                let i = map.map_or(j, |m| m[j]);
                a[i] = a[i].saturating_add(y);
            }
            return;
        }
        if let (
            Storage::Double {
                variance_known: a, ..
            },
            Storage::Double {
                variance_known: b, ..
            },
        ) = (&mut *self, other)
        {
            *a &= *b;
        }
        for (a, b) in self.sums_mut().into_iter().zip(other.sums()) {
            for j in 0..b.len() {
                a.add_from(map.map_or(j, |m| m[j]), b, j);
            }
        }
    }

    /// hist's `.values()` for bin `i`.
    pub(crate) fn value(&self, i: usize) -> f64 {
        match self {
            Storage::Int64(v) => v[i] as f64,
            Storage::Double { sum, .. } => sum.value(i),
            Storage::Weight { sw, .. } => sw.value(i),
            Storage::Mean { n, sx, sxx } => mean_stats(n, sx, sxx, i).1,
            Storage::WeightedMean { sw, sw2, swx, swxx } => {
                weighted_mean_stats(sw, sw2, swx, swxx, i).2
            }
        }
    }

    pub(crate) fn variances_known(&self) -> bool {
        !matches!(
            self,
            Storage::Double {
                variance_known: false,
                ..
            }
        )
    }

    /// hist's `.variances()` for bin `i`: the variance of the mean for mean storages.
    pub(crate) fn variance(&self, i: usize) -> f64 {
        match self {
            Storage::Int64(v) => v[i] as f64,
            Storage::Double { sum, .. } => sum.value(i),
            Storage::Weight { sw2, .. } => sw2.value(i),
            Storage::Mean { n, sx, sxx } => {
                let (count, _, var) = mean_stats(n, sx, sxx, i);
                if count > 1.0 {
                    var / count
                } else {
                    f64::NAN
                }
            }
            Storage::WeightedMean { sw, sw2, swx, swxx } => {
                let (w, w2, _, var) = weighted_mean_stats(sw, sw2, swx, swxx, i);
                if w * w > w2 {
                    var / w
                } else {
                    f64::NAN
                }
            }
        }
    }

    /// hist's `.counts()` for bin `i`: entries, or the effective entries for weighted means.
    pub(crate) fn count(&self, i: usize) -> f64 {
        match self {
            Storage::Mean { n, .. } => n.value(i),
            Storage::WeightedMean { sw, sw2, .. } => {
                let (w, w2) = (sw.value(i), sw2.value(i));
                if w2 != 0.0 {
                    w * w / w2
                } else {
                    0.0
                }
            }
            _ => self.value(i),
        }
    }

    /// The sum over `bins`, rounded once: of values for counting storages, of entries
    /// (Mean) or of weights (WeightedMean) for the others.
    pub(crate) fn sum(&self, bins: &[usize]) -> f64 {
        let v = match self {
            Storage::Int64(v) => {
                return bins.iter().map(|&i| i128::from(v[i])).sum::<i128>() as f64
            }
            Storage::Double { sum, .. } => sum,
            Storage::Weight { sw, .. } | Storage::WeightedMean { sw, .. } => sw,
            Storage::Mean { n, .. } => n,
        };
        let mut parts = Vec::new();
        let mut special = 0.0;
        for &i in bins {
            match v.exact(i) {
                Ok(p) => parts.extend(p),
                Err(x) => special += x,
            }
        }
        let finite = exact::canonical(parts).map_or(f64::INFINITY, |c| c.0);
        if special != 0.0 || special.is_nan() {
            special + finite
        } else {
            finite
        }
    }

    /// The UHI storage type and columns (flow bins included, flat row-major).
    pub(crate) fn uhi_columns(&self) -> (&'static str, Vec<(&'static str, Column)>) {
        let n = self.len();
        let col = |f: &dyn Fn(usize) -> f64| Column::Float((0..n).map(f).collect());
        match self {
            Storage::Int64(v) => ("int", vec![("values", Column::Int(v.clone()))]),
            Storage::Double { sum, .. } => ("double", vec![("values", col(&|i| sum.value(i)))]),
            Storage::Weight { sw, sw2 } => (
                "weighted",
                vec![
                    ("values", col(&|i| sw.value(i))),
                    ("variances", col(&|i| sw2.value(i))),
                ],
            ),
            Storage::Mean { n: c, sx, sxx } => {
                let stats: Vec<_> = (0..n).map(|i| mean_stats(c, sx, sxx, i)).collect();
                (
                    "mean",
                    vec![
                        ("counts", Column::Float(stats.iter().map(|s| s.0).collect())),
                        ("values", Column::Float(stats.iter().map(|s| s.1).collect())),
                        (
                            "variances",
                            Column::Float(stats.iter().map(|s| s.2).collect()),
                        ),
                    ],
                )
            }
            Storage::WeightedMean { sw, sw2, swx, swxx } => {
                let stats: Vec<_> = (0..n)
                    .map(|i| weighted_mean_stats(sw, sw2, swx, swxx, i))
                    .collect();
                (
                    "weighted_mean",
                    vec![
                        (
                            "sum_of_weights",
                            Column::Float(stats.iter().map(|s| s.0).collect()),
                        ),
                        (
                            "sum_of_weights_squared",
                            Column::Float(stats.iter().map(|s| s.1).collect()),
                        ),
                        ("values", Column::Float(stats.iter().map(|s| s.2).collect())),
                        (
                            "variances",
                            Column::Float(stats.iter().map(|s| s.3).collect()),
                        ),
                    ],
                )
            }
        }
    }

    /// Sets bin `i` from the columns of a UHI storage (`cols` in the order of
    /// [`Storage::uhi_columns`]). Means and variances become sums whose read-out gives them
    /// back exactly.
    pub(crate) fn set_from_uhi(&mut self, i: usize, ints: Option<i64>, cols: &[f64]) {
        match self {
            Storage::Int64(v) => v[i] = ints.unwrap_or(0),
            Storage::Double { sum, .. } => sum.set(i, &[cols[0]]),
            Storage::Weight { sw, sw2 } => {
                sw.set(i, &[cols[0]]);
                sw2.set(i, &[cols[1]]);
            }
            Storage::Mean { n, sx, sxx } => {
                let (count, mean, var) = (cols[0], cols[1], cols[2]);
                n.set(i, &[count]);
                let (p, e) = two_prod(count, mean);
                sx.set(i, &[p, e]);
                // Σx² = n mean² + var (n - 1), so that (n Σx² - (Σx)²) / (n (n - 1)) = var.
                let mut s2 = scale(&pair(two_prod(mean, mean)), count);
                if count > 1.0 && var.is_finite() {
                    let (p, e) = two_prod(var, count - 1.0);
                    s2.extend([p, e]);
                }
                sxx.set(i, &s2);
            }
            Storage::WeightedMean { sw, sw2, swx, swxx } => {
                let (w, w2, mean, var) = (cols[0], cols[1], cols[2], cols[3]);
                sw.set(i, &[w]);
                sw2.set(i, &[w2]);
                let (p, e) = two_prod(w, mean);
                swx.set(i, &[p, e]);
                // Σwx² = Σw mean² + var ((Σw)² - Σw²) / Σw, the last term to ~200 bits.
                let mut s2 = scale(&pair(two_prod(mean, mean)), w);
                let den = sub(&mul(&[w], &[w]), &[w2]);
                if var.is_finite() && !den.is_empty() && w != 0.0 && w.is_finite() {
                    s2.extend(div_expansion(&scale(&den, var), &[w]));
                }
                swxx.set(i, &s2);
            }
        }
    }

    pub(crate) fn to_layout(&self) -> StorageLayout {
        StorageLayout {
            kind: self.kind(),
            ints: match self {
                Storage::Int64(v) => v.clone(),
                _ => Vec::new(),
            },
            sums: self
                .sums()
                .into_iter()
                .map(|v| {
                    let mut values = Vec::with_capacity(v.len());
                    let mut second = Vec::with_capacity(v.len());
                    let mut rest = Vec::new();
                    for i in 0..v.len() {
                        // Remainders come smallest first: the largest is the second double.
                        let (c0, mut r) = v.canonical_bin(i);
                        values.push(c0);
                        second.push(r.pop().unwrap_or(0.0));
                        if !r.is_empty() {
                            rest.push((i, r));
                        }
                    }
                    if second.iter().all(|&x| x == 0.0) {
                        second.clear();
                    }
                    SumsLayout {
                        values: Doubles(values),
                        second: Doubles(second),
                        rest: Rest(rest),
                    }
                })
                .collect(),
            variance_known: self.variances_known(),
        }
    }

    pub(crate) fn from_layout(r: StorageLayout, len: usize) -> Result<Storage, String> {
        let mut s = Storage::new(r.kind, len);
        if let Storage::Int64(v) = &mut s {
            if r.ints.len() != len {
                return Err(format!(
                    "{} int64 bins for a histogram of {len} bins",
                    r.ints.len()
                ));
            }
            *v = r.ints;
            return Ok(s);
        }
        let want = s.sums().len();
        if r.sums.len() != want {
            return Err(format!(
                "{} storage with {} sums instead of {want}",
                r.kind,
                r.sums.len()
            ));
        }
        for (slot, sums) in s.sums_mut().into_iter().zip(r.sums) {
            if sums.values.0.len() != len {
                return Err(format!(
                    "{} bins for a histogram of {len} bins",
                    sums.values.0.len()
                ));
            }
            let second = sums.second.0;
            if !second.is_empty() && second.len() != len {
                return Err(format!(
                    "{} second doubles for a histogram of {len} bins",
                    second.len()
                ));
            }
            let mut rest = sums.rest.0;
            rest.extend(
                second
                    .into_iter()
                    .enumerate()
                    .filter(|&(_, x)| x != 0.0)
                    .map(|(i, x)| (i, vec![x])),
            );
            *slot = ExactVec::from_parts(sums.values.0, rest)
                .ok_or("a bin remainder out of range or not finite")?;
        }
        if !r.variance_known {
            s.mark_weighted();
        }
        Ok(s)
    }
}

fn pair((a, b): (f64, f64)) -> [f64; 2] {
    [a, b]
}
