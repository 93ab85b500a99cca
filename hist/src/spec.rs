//! The declaration of a histogram (what plugins send as JSON) and its validation.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::HistError;

/// The most bins (flow bins included) one histogram may have: a guard against a bad
/// declaration or a runaway growth axis exhausting memory (a Weight storage of this size is
/// already about 2 GiB).
pub const MAX_BINS: usize = 1 << 27;

fn yes() -> bool {
    true
}

/// The declaration of a histogram: its axes, storage and label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistSpec {
    pub axes: Vec<AxisSpec>,
    pub storage: StorageKind,
    #[serde(default)]
    pub label: String,
}

/// One axis, as `hist.axis.*` declares it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AxisSpec {
    /// `hist.axis.Regular`: `bins` equal bins in `T(x)` between `T(start)` and `T(stop)`.
    Regular {
        bins: u32,
        start: f64,
        stop: f64,
        #[serde(default)]
        transform: Transform,
        name: String,
        #[serde(default)]
        label: String,
        #[serde(default = "yes")]
        underflow: bool,
        #[serde(default = "yes")]
        overflow: bool,
        #[serde(default)]
        circular: bool,
    },
    /// `hist.axis.Variable`: bins between consecutive `edges`.
    Variable {
        edges: Vec<f64>,
        name: String,
        #[serde(default)]
        label: String,
        #[serde(default = "yes")]
        underflow: bool,
        #[serde(default = "yes")]
        overflow: bool,
    },
    /// `hist.axis.Integer`: one bin per integer in `[start, stop)`.
    Integer {
        start: i64,
        stop: i64,
        name: String,
        #[serde(default)]
        label: String,
        #[serde(default = "yes")]
        underflow: bool,
        #[serde(default = "yes")]
        overflow: bool,
        #[serde(default)]
        growth: bool,
    },
    /// `hist.axis.StrCategory`: an overflow bin takes unknown labels, unless `growth`
    /// appends them.
    StrCategory {
        categories: Vec<String>,
        #[serde(default)]
        growth: bool,
        name: String,
        #[serde(default)]
        label: String,
    },
    /// `hist.axis.IntCategory`, like `StrCategory`.
    IntCategory {
        categories: Vec<i64>,
        #[serde(default)]
        growth: bool,
        name: String,
        #[serde(default)]
        label: String,
    },
    /// `hist.axis.Boolean`: bins false and true, no flow bins.
    Boolean {
        name: String,
        #[serde(default)]
        label: String,
    },
}

/// The transform of a regular axis (`hist.axis.transform`).
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transform {
    #[default]
    None,
    Log,
    Sqrt,
    Pow {
        power: f64,
    },
}

/// What each bin holds (`hist.storage.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageKind {
    /// Counts; no weights.
    Int64,
    /// Sum of weights.
    Double,
    /// Sum of weights and sum of squared weights.
    Weight,
    /// Count, mean and variance of a sample (a profile).
    Mean,
    /// Sum of weights, of squared weights, weighted mean and variance of a sample.
    WeightedMean,
}

impl StorageKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            StorageKind::Int64 => "int64",
            StorageKind::Double => "double",
            StorageKind::Weight => "weight",
            StorageKind::Mean => "mean",
            StorageKind::WeightedMean => "weighted_mean",
        }
    }
}

impl std::fmt::Display for StorageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Transform {
    /// The forward function, as boost-histogram applies it (`std::log`, `std::sqrt`,
    /// `std::pow`).
    #[inline]
    pub(crate) fn forward(self, x: f64) -> f64 {
        match self {
            Transform::None => x,
            Transform::Log => x.ln(),
            Transform::Sqrt => x.sqrt(),
            Transform::Pow { power } => x.powf(power),
        }
    }

    pub(crate) fn inverse(self, x: f64) -> f64 {
        match self {
            Transform::None => x,
            Transform::Log => x.exp(),
            Transform::Sqrt => x * x,
            Transform::Pow { power } => x.powf(1.0 / power),
        }
    }
}

impl AxisSpec {
    pub fn name(&self) -> &str {
        match self {
            AxisSpec::Regular { name, .. }
            | AxisSpec::Variable { name, .. }
            | AxisSpec::Integer { name, .. }
            | AxisSpec::StrCategory { name, .. }
            | AxisSpec::IntCategory { name, .. }
            | AxisSpec::Boolean { name, .. } => name,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            AxisSpec::Regular { label, .. }
            | AxisSpec::Variable { label, .. }
            | AxisSpec::Integer { label, .. }
            | AxisSpec::StrCategory { label, .. }
            | AxisSpec::IntCategory { label, .. }
            | AxisSpec::Boolean { label, .. } => label,
        }
    }

    /// The axis type as `hist` calls it.
    pub fn kind(&self) -> &'static str {
        match self {
            AxisSpec::Regular { .. } => "regular",
            AxisSpec::Variable { .. } => "variable",
            AxisSpec::Integer { .. } => "integer",
            AxisSpec::StrCategory { .. } => "str_category",
            AxisSpec::IntCategory { .. } => "int_category",
            AxisSpec::Boolean { .. } => "boolean",
        }
    }

    /// True for axes that add unknown values instead of counting them in a flow bin.
    pub fn growth(&self) -> bool {
        match self {
            AxisSpec::Integer { growth, .. }
            | AxisSpec::StrCategory { growth, .. }
            | AxisSpec::IntCategory { growth, .. } => *growth,
            _ => false,
        }
    }

    /// (underflow, overflow) bins as the axis really has them.
    pub(crate) fn flow(&self) -> (bool, bool) {
        match self {
            AxisSpec::Regular {
                underflow,
                overflow,
                ..
            }
            | AxisSpec::Variable {
                underflow,
                overflow,
                ..
            }
            | AxisSpec::Integer {
                underflow,
                overflow,
                ..
            } => (*underflow, *overflow),
            AxisSpec::StrCategory { growth, .. } | AxisSpec::IntCategory { growth, .. } => {
                (false, !growth)
            }
            AxisSpec::Boolean { .. } => (false, false),
        }
    }

    /// Bins without flow.
    pub fn bins(&self) -> usize {
        match self {
            AxisSpec::Regular { bins, .. } => *bins as usize,
            AxisSpec::Variable { edges, .. } => edges.len().saturating_sub(1),
            AxisSpec::Integer { start, stop, .. } => {
                usize::try_from(i128::from(*stop) - i128::from(*start)).unwrap_or(usize::MAX)
            }
            AxisSpec::StrCategory { categories, .. } => categories.len(),
            AxisSpec::IntCategory { categories, .. } => categories.len(),
            AxisSpec::Boolean { .. } => 2,
        }
    }

    /// Bins with flow.
    pub(crate) fn extent(&self) -> usize {
        let (u, o) = self.flow();
        self.bins().saturating_add(usize::from(u) + usize::from(o))
    }

    /// The bin edges of a regular axis computed as boost-histogram computes them
    /// (`regular::value`), so that exported edges match hist's bit for bit; the edges of a
    /// variable or integer axis; empty for category axes.
    pub fn edges(&self) -> Vec<f64> {
        match self {
            AxisSpec::Regular {
                bins,
                start,
                stop,
                transform,
                ..
            } => {
                let (min, delta) = regular_range(*transform, *start, *stop);
                let n = f64::from(*bins);
                (0..=*bins)
                    .map(|i| {
                        let z = f64::from(i) / n;
                        transform.inverse((1.0 - z) * min + z * (min + delta))
                    })
                    .collect()
            }
            AxisSpec::Variable { edges, .. } => edges.clone(),
            AxisSpec::Integer { start, stop, .. } => (*start..=*stop).map(|v| v as f64).collect(),
            _ => Vec::new(),
        }
    }

    /// Checks the axis and brings it to the form hist gives it: a circular regular axis has
    /// no underflow bin, a growing integer axis has no flow bins (hist ignores the flags).
    pub(crate) fn normalized(&self, index: usize) -> Result<AxisSpec, HistError> {
        let bad = |reason: String| HistError::InvalidAxis {
            index,
            name: self.name().to_string(),
            reason,
        };
        let mut a = self.clone();
        match &mut a {
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
                if *bins == 0 {
                    return Err(bad("a regular axis needs at least one bin".into()));
                }
                if !(start.is_finite() && stop.is_finite() && start < stop) {
                    return Err(bad(format!(
                        "start ({start}) and stop ({stop}) must be finite with start < stop"
                    )));
                }
                match *transform {
                    Transform::None => {}
                    Transform::Log if *start <= 0.0 => {
                        return Err(bad(format!("a log axis needs start > 0, got {start}")))
                    }
                    Transform::Sqrt if *start < 0.0 => {
                        return Err(bad(format!("a sqrt axis needs start >= 0, got {start}")))
                    }
                    Transform::Pow { power } if !power.is_finite() || power == 0.0 => {
                        return Err(bad(format!(
                            "a pow axis needs a finite non-zero power, got {power}"
                        )))
                    }
                    _ => {}
                }
                let (min, delta) = regular_range(*transform, *start, *stop);
                if !(min.is_finite() && delta.is_finite() && delta > 0.0) {
                    return Err(bad(format!(
                        "the transform maps [{start}, {stop}) to [{min}, {}), not to an increasing finite range",
                        min + delta
                    )));
                }
                if *transform != Transform::None && (!*underflow || !*overflow || *circular) {
                    // hist: "Transform supplied, cannot change other options".
                    return Err(bad(
                        "a transformed regular axis always has both flow bins and is not circular (as in hist)".into(),
                    ));
                }
                if *circular {
                    if !*overflow {
                        return Err(bad(
                            "a circular axis keeps its overflow bin (for NaN and infinities), as in hist".into(),
                        ));
                    }
                    // hist ignores underflow=True on a circular axis.
                    *underflow = false;
                }
            }
            AxisSpec::Variable { edges, .. } => {
                if edges.len() < 2 {
                    return Err(bad(format!(
                        "a variable axis needs at least 2 edges, got {}",
                        edges.len()
                    )));
                }
                if let Some(e) = edges.iter().find(|e| !e.is_finite()) {
                    return Err(bad(format!("edges must be finite, got {e}")));
                }
                if let Some(w) = edges.windows(2).find(|w| w[0] >= w[1]) {
                    return Err(bad(format!(
                        "edges must be strictly increasing, got {} then {}",
                        w[0], w[1]
                    )));
                }
            }
            AxisSpec::Integer {
                start,
                stop,
                underflow,
                overflow,
                growth,
                ..
            } => {
                if start >= stop {
                    return Err(bad(format!(
                        "an integer axis needs start < stop, got [{start}, {stop})"
                    )));
                }
                if *growth {
                    *underflow = false;
                    *overflow = false;
                }
            }
            AxisSpec::StrCategory { categories, .. } => {
                let mut seen = HashSet::new();
                if let Some(c) = categories.iter().find(|c| !seen.insert(c.as_str())) {
                    return Err(bad(format!("category {c:?} appears twice")));
                }
            }
            AxisSpec::IntCategory { categories, .. } => {
                let mut seen = HashSet::new();
                if let Some(c) = categories.iter().find(|c| !seen.insert(**c)) {
                    return Err(bad(format!("category {c} appears twice")));
                }
            }
            AxisSpec::Boolean { .. } => {}
        }
        if a.extent() > MAX_BINS {
            return Err(bad(format!(
                "{} bins is more than the limit of {MAX_BINS}",
                a.extent()
            )));
        }
        Ok(a)
    }
}

/// `(T(start), T(stop) - T(start))`, boost-histogram's `min_` and `delta_`.
pub(crate) fn regular_range(t: Transform, start: f64, stop: f64) -> (f64, f64) {
    let min = t.forward(start);
    (min, t.forward(stop) - min)
}

impl HistSpec {
    /// Validates the declaration and returns it in normal form (see [`AxisSpec`]).
    pub(crate) fn normalized(&self) -> Result<HistSpec, HistError> {
        if self.axes.is_empty() {
            return Err(HistError::InvalidSpec {
                reason: "a histogram needs at least one axis".into(),
            });
        }
        let axes = self
            .axes
            .iter()
            .enumerate()
            .map(|(i, a)| a.normalized(i))
            .collect::<Result<Vec<_>, _>>()?;
        let total = axes.iter().try_fold(1usize, |t, a| {
            t.checked_mul(a.extent()).filter(|&t| t <= MAX_BINS)
        });
        if total.is_none() {
            return Err(HistError::TooManyBins {
                what: format!(
                    "axes of {} bins",
                    axes.iter()
                        .map(|a| a.extent().to_string())
                        .collect::<Vec<_>>()
                        .join(" x ")
                ),
            });
        }
        Ok(HistSpec {
            axes,
            storage: self.storage,
            label: self.label.clone(),
        })
    }
}
