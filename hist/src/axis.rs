//! Bin lookup: from fill values to bin indices, exactly as boost-histogram computes them.
//!
//! Indices here are *local*: 0 is the underflow bin when the axis has one, and the overflow
//! bin (or a category axis's "other" bin) comes last. [`DROP`] marks a value that lands in a
//! flow bin the axis does not have: boost-histogram does not count such an entry at all.

use std::collections::{HashMap, HashSet};

use casa_histspec::{regular_range, AxisSpec, FillArg, Transform};

/// An entry that falls outside the axis and has no flow bin to go to.
pub(crate) const DROP: usize = usize::MAX;

/// What bin lookup needs of an axis, precomputed from its [`AxisSpec`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lookup {
    Regular {
        bins: usize,
        min: f64,
        delta: f64,
        transform: Transform,
        under: bool,
        over: bool,
        circular: bool,
    },
    Variable {
        edges: Vec<f64>,
        under: bool,
        over: bool,
    },
    Integer {
        start: i64,
        bins: usize,
        under: bool,
        over: bool,
    },
    Str {
        map: HashMap<String, usize>,
        growth: bool,
    },
    Int {
        map: HashMap<i64, usize>,
        growth: bool,
    },
    Boolean,
}

/// Turns an index in `[-1, bins]` (boost's convention) into a local index.
#[inline(always)]
fn flow_local(idx: isize, bins: usize, under: bool, over: bool) -> usize {
    if idx < 0 {
        if under {
            0
        } else {
            DROP
        }
    } else if idx as usize >= bins {
        if over {
            bins + usize::from(under)
        } else {
            DROP
        }
    } else {
        idx as usize + usize::from(under)
    }
}

/// boost's `regular::index` for `z = (T(x) - T(start)) / (T(stop) - T(start))`.
#[inline(always)]
fn regular_index(z: f64, bins: usize, over: bool, circular: bool) -> isize {
    let n = bins as f64;
    if circular {
        if z.is_finite() {
            // `as` truncates like boost's static_cast; z*n can round up to n (overflow bin).
            ((z - z.floor()) * n) as isize
        } else {
            bins as isize
        }
    } else if z < 1.0 {
        if z >= 0.0 {
            (z * n) as isize
        } else {
            -1
        }
    } else if !over && z == 1.0 {
        // Without an overflow bin the upper edge belongs to the last bin.
        bins as isize - 1
    } else {
        // Also NaN.
        bins as isize
    }
}

/// Values a continuous axis accepts, converted as numpy would.
trait AsF64: Copy {
    fn f(self) -> f64;
}
impl AsF64 for f64 {
    #[inline(always)]
    fn f(self) -> f64 {
        self
    }
}
impl AsF64 for f32 {
    #[inline(always)]
    fn f(self) -> f64 {
        f64::from(self)
    }
}
impl AsF64 for i64 {
    #[inline(always)]
    fn f(self) -> f64 {
        self as f64
    }
}
impl AsF64 for bool {
    #[inline(always)]
    fn f(self) -> f64 {
        f64::from(u8::from(self))
    }
}

#[inline(always)]
fn apply<T: Copy>(xs: &[T], out: &mut [usize], stride: usize, f: impl Fn(T) -> usize) {
    for (o, &x) in out.iter_mut().zip(xs) {
        // DROP saturates, so a dropped entry stays dropped whatever the other axes say.
        *o = o.saturating_add(f(x).saturating_mul(stride));
    }
}

#[inline(always)]
fn apply_one(out: &mut [usize], stride: usize, local: usize) {
    let d = local.saturating_mul(stride);
    for o in out.iter_mut() {
        *o = o.saturating_add(d);
    }
}

/// Runs `f` on the numeric values of `arg[r]` (or its one value).
#[inline(always)]
fn numeric(
    arg: &FillArg<'_>,
    r: std::ops::Range<usize>,
    out: &mut [usize],
    stride: usize,
    f: impl Fn(f64) -> usize,
) {
    match arg {
        FillArg::F64(xs) => apply(&xs[r], out, stride, |x| f(x.f())),
        FillArg::F32(xs) => apply(&xs[r], out, stride, |x| f(x.f())),
        FillArg::I64(xs) => apply(&xs[r], out, stride, |x| f(x.f())),
        FillArg::Bool(xs) => apply(&xs[r], out, stride, |x| f(x.f())),
        FillArg::OneF64(x) => apply_one(out, stride, f(*x)),
        FillArg::OneI64(x) => apply_one(out, stride, f(x.f())),
        FillArg::OneBool(x) => apply_one(out, stride, f(x.f())),
        // Refused by `check`.
        FillArg::Str(_) | FillArg::OneStr(_) => apply_one(out, stride, DROP),
    }
}

/// Runs `f` on the integer values of `arg[r]` (booleans count as 0 and 1, as in numpy).
#[inline(always)]
fn integral(
    arg: &FillArg<'_>,
    r: std::ops::Range<usize>,
    out: &mut [usize],
    stride: usize,
    f: impl Fn(i64) -> usize,
) {
    match arg {
        FillArg::I64(xs) => apply(&xs[r], out, stride, &f),
        FillArg::Bool(xs) => apply(&xs[r], out, stride, |b| f(i64::from(b))),
        FillArg::OneI64(x) => apply_one(out, stride, f(*x)),
        FillArg::OneBool(x) => apply_one(out, stride, f(i64::from(*x))),
        _ => apply_one(out, stride, DROP),
    }
}

impl Lookup {
    pub(crate) fn new(spec: &AxisSpec) -> Lookup {
        match spec {
            AxisSpec::Regular {
                bins,
                start,
                stop,
                transform,
                underflow,
                overflow,
                circular,
                ..
            } => {
                let (min, delta) = regular_range(*transform, *start, *stop);
                Lookup::Regular {
                    bins: *bins as usize,
                    min,
                    delta,
                    transform: *transform,
                    under: *underflow,
                    over: *overflow,
                    circular: *circular,
                }
            }
            AxisSpec::Variable {
                edges,
                underflow,
                overflow,
                ..
            } => Lookup::Variable {
                edges: edges.clone(),
                under: *underflow,
                over: *overflow,
            },
            AxisSpec::Integer {
                start,
                underflow,
                overflow,
                ..
            } => Lookup::Integer {
                start: *start,
                bins: spec.bins(),
                under: *underflow,
                over: *overflow,
            },
            AxisSpec::StrCategory {
                categories, growth, ..
            } => Lookup::Str {
                map: categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), i))
                    .collect(),
                growth: *growth,
            },
            AxisSpec::IntCategory {
                categories, growth, ..
            } => Lookup::Int {
                map: categories
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (*c, i))
                    .collect(),
                growth: *growth,
            },
            AxisSpec::Boolean { .. } => Lookup::Boolean,
        }
    }

    /// Why `arg` cannot fill this axis, if it cannot. The accepted types follow
    /// boost-histogram: integer and category axes refuse floating-point values.
    pub(crate) fn check(&self, arg: &FillArg<'_>) -> Result<(), String> {
        let ok = match self {
            Lookup::Regular { .. } | Lookup::Variable { .. } => {
                !matches!(arg, FillArg::Str(_) | FillArg::OneStr(_))
            }
            Lookup::Integer { .. } | Lookup::Int { .. } | Lookup::Boolean => matches!(
                arg,
                FillArg::I64(_) | FillArg::Bool(_) | FillArg::OneI64(_) | FillArg::OneBool(_)
            ),
            Lookup::Str { .. } => matches!(arg, FillArg::Str(_) | FillArg::OneStr(_)),
        };
        if ok {
            return Ok(());
        }
        let wants = match self {
            Lookup::Regular { .. } | Lookup::Variable { .. } => "numbers (f64, f32, i64 or bool)",
            Lookup::Integer { .. } | Lookup::Int { .. } | Lookup::Boolean => {
                "integers (i64 or bool; hist refuses floats here too)"
            }
            Lookup::Str { .. } => "strings",
        };
        Err(format!(
            "cannot fill with {} values: this axis takes {wants}",
            arg.type_name()
        ))
    }

    /// Adds `local * stride` to `out[j]` for the entries `r` of `arg` (see [`DROP`]). Growth
    /// axes must already hold every value of `arg` (see [`Lookup::plan_growth`]).
    pub(crate) fn accumulate(
        &self,
        arg: &FillArg<'_>,
        r: std::ops::Range<usize>,
        stride: usize,
        out: &mut [usize],
    ) {
        match self {
            &Lookup::Regular {
                bins,
                min,
                delta,
                transform,
                under,
                over,
                circular,
            } => {
                let local =
                    |z: f64| flow_local(regular_index(z, bins, over, circular), bins, under, over);
                // One monomorphised loop per transform keeps the hot loop free of dispatch.
                match transform {
                    Transform::None => numeric(arg, r, out, stride, |x| local((x - min) / delta)),
                    Transform::Log => {
                        numeric(arg, r, out, stride, |x| local((x.ln() - min) / delta))
                    }
                    Transform::Sqrt => {
                        numeric(arg, r, out, stride, |x| local((x.sqrt() - min) / delta))
                    }
                    Transform::Pow { power } => numeric(arg, r, out, stride, |x| {
                        local((x.powf(power) - min) / delta)
                    }),
                }
            }
            Lookup::Variable { edges, under, over } => {
                let (under, over) = (*under, *over);
                let bins = edges.len() - 1;
                let last = edges[bins];
                numeric(arg, r, out, stride, |x| {
                    if !over && x == last {
                        return bins - 1 + usize::from(under);
                    }
                    // std::upper_bound: the first edge e with x < e; NaN compares false with
                    // every edge, so it passes them all (overflow).
                    let ub = if x.is_nan() {
                        edges.len()
                    } else {
                        edges.partition_point(|&e| e <= x)
                    };
                    flow_local(ub as isize - 1, bins, under, over)
                })
            }
            &Lookup::Integer {
                start,
                bins,
                under,
                over,
            } => integral(arg, r, out, stride, |x| {
                let d = i128::from(x) - i128::from(start);
                let idx = if d < 0 {
                    -1
                } else if d >= bins as i128 {
                    bins as isize
                } else {
                    d as isize
                };
                flow_local(idx, bins, under, over)
            }),
            Lookup::Str { map, growth } => {
                // Growth axes hold every value by now; a miss on the others is "other".
                let miss = if *growth { DROP } else { map.len() };
                match arg {
                    FillArg::Str(xs) => {
                        // Consecutive equal labels are the common case (one region per batch).
                        let mut last: Option<(&str, usize)> = None;
                        for (o, s) in out.iter_mut().zip(&xs[r]) {
                            let l = match last {
                                Some((p, l)) if p == *s => l,
                                _ => {
                                    let l = map.get(*s).copied().unwrap_or(miss);
                                    last = Some((s, l));
                                    l
                                }
                            };
                            *o = o.saturating_add(l.saturating_mul(stride));
                        }
                    }
                    FillArg::OneStr(s) => {
                        apply_one(out, stride, map.get(*s).copied().unwrap_or(miss))
                    }
                    _ => apply_one(out, stride, DROP),
                }
            }
            Lookup::Int { map, growth } => {
                let miss = if *growth { DROP } else { map.len() };
                integral(arg, r, out, stride, |x| {
                    map.get(&x).copied().unwrap_or(miss)
                })
            }
            Lookup::Boolean => integral(arg, r, out, stride, |x| usize::from(x != 0)),
        }
    }
}

/// How a growth axis must grow to take the values of one fill.
#[derive(Debug)]
pub(crate) enum Growth {
    /// `stop` may exceed `i64::MAX` (an axis that cannot be built: the caller says so).
    Integer {
        start: i64,
        stop: i128,
    },
    Str(Vec<String>),
    Int(Vec<i64>),
}

/// The values of an integer-valued argument.
fn int_values<'a>(arg: &'a FillArg<'a>, n: usize) -> Box<dyn Iterator<Item = i64> + 'a> {
    match arg {
        FillArg::I64(xs) => Box::new(xs.iter().copied()),
        FillArg::Bool(xs) => Box::new(xs.iter().map(|&b| i64::from(b))),
        FillArg::OneI64(x) if n > 0 => Box::new(std::iter::once(*x)),
        FillArg::OneBool(x) if n > 0 => Box::new(std::iter::once(i64::from(*x))),
        _ => Box::new(std::iter::empty()),
    }
}

/// What a growth axis must add to hold every value of `arg` (`n` entries), new values in
/// order of first appearance, as boost-histogram adds them. `None` if nothing.
pub(crate) fn plan_growth(spec: &AxisSpec, arg: &FillArg<'_>, n: usize) -> Option<Growth> {
    if !spec.growth() {
        return None;
    }
    match spec {
        AxisSpec::Integer { start, stop, .. } => {
            let (mut lo, mut hi) = (*start, i128::from(*stop));
            for x in int_values(arg, n) {
                lo = lo.min(x);
                hi = hi.max(i128::from(x) + 1);
            }
            ((lo, hi) != (*start, i128::from(*stop))).then_some(Growth::Integer {
                start: lo,
                stop: hi,
            })
        }
        AxisSpec::StrCategory { categories, .. } => {
            let known: HashSet<&str> = categories.iter().map(|c| c.as_str()).collect();
            let mut new = Vec::new();
            let mut seen = HashSet::new();
            let mut visit = |s: &str| {
                if !known.contains(s) && seen.insert(s.to_string()) {
                    new.push(s.to_string());
                }
            };
            match arg {
                FillArg::Str(xs) => {
                    let mut last: Option<&str> = None;
                    for s in xs.iter() {
                        if last != Some(*s) {
                            visit(s);
                            last = Some(s);
                        }
                    }
                }
                FillArg::OneStr(s) if n > 0 => visit(s),
                _ => {}
            }
            (!new.is_empty()).then_some(Growth::Str(new))
        }
        AxisSpec::IntCategory { categories, .. } => {
            let known: HashSet<i64> = categories.iter().copied().collect();
            let mut new = Vec::new();
            let mut seen = HashSet::new();
            for x in int_values(arg, n) {
                if !known.contains(&x) && seen.insert(x) {
                    new.push(x);
                }
            }
            (!new.is_empty()).then_some(Growth::Int(new))
        }
        _ => None,
    }
}

/// For each old local index of a grown axis, its local index in the grown axis.
pub(crate) fn growth_map(old: &AxisSpec, new: &AxisSpec) -> Vec<usize> {
    match (old, new) {
        (AxisSpec::Integer { start: a, .. }, AxisSpec::Integer { start: b, .. }) => {
            // Growth axes have no flow bins: local index = value - start.
            let shift = (i128::from(*a) - i128::from(*b)) as usize;
            (0..old.extent()).map(|i| i + shift).collect()
        }
        _ => (0..old.extent()).collect(),
    }
}

/// Maps every linear index of a row-major layout with `old` extents to the linear index of
/// the same bin in a layout with `new` extents, given per-axis maps of local indices.
pub(crate) fn remap_linear(old: &[usize], new: &[usize], maps: &[Vec<usize>]) -> Vec<usize> {
    let total: usize = old.iter().product();
    let mut strides = vec![1usize; new.len()];
    for k in (0..new.len().saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * new[k + 1];
    }
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return out;
    }
    let mut idx = vec![0usize; old.len()];
    for _ in 0..total {
        out.push(
            idx.iter()
                .zip(maps)
                .zip(&strides)
                .map(|((&i, m), s)| m[i] * s)
                .sum(),
        );
        // Odometer, last axis fastest (row-major).
        for k in (0..old.len()).rev() {
            idx[k] += 1;
            if idx[k] < old[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}
