//! The declaration of a histogram, as plugins send it to the host in JSON: axes, storage and
//! label, in the words of Python `hist` (`hist.axis.Regular`, `hist.storage.Weight`, ...).
//! casa-hist checks and fills them; the plugin SDK builds them. Validation lives in
//! casa-hist (`Hist::new` refuses a bad declaration, naming the axis).

use serde::{Deserialize, Serialize};

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
    pub fn name(self) -> &'static str {
        match self {
            StorageKind::Int64 => "int64",
            StorageKind::Double => "double",
            StorageKind::Weight => "weight",
            StorageKind::Mean => "mean",
            StorageKind::WeightedMean => "weighted_mean",
        }
    }
}

impl StorageKind {
    /// Every storage, in declaration order.
    pub const ALL: [StorageKind; 5] = [
        StorageKind::Int64,
        StorageKind::Double,
        StorageKind::Weight,
        StorageKind::Mean,
        StorageKind::WeightedMean,
    ];

    /// The storage called `name` (as [`StorageKind::name`] spells it).
    pub fn from_name(name: &str) -> Option<StorageKind> {
        StorageKind::ALL.into_iter().find(|k| k.name() == name)
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
    pub fn forward(self, x: f64) -> f64 {
        match self {
            Transform::None => x,
            Transform::Log => x.ln(),
            Transform::Sqrt => x.sqrt(),
            Transform::Pow { power } => x.powf(power),
        }
    }

    pub fn inverse(self, x: f64) -> f64 {
        match self {
            Transform::None => x,
            Transform::Log => x.exp(),
            Transform::Sqrt => x * x,
            Transform::Pow { power } => x.powf(1.0 / power),
        }
    }
}

/// The pattern of the axes that have underflow and overflow flags (regular, variable,
/// integer), binding them to the two names given: one place knows which axes those are.
macro_rules! flow_axes {
    ($underflow:ident, $overflow:ident) => {
        AxisSpec::Regular {
            $underflow,
            $overflow,
            ..
        } | AxisSpec::Variable {
            $underflow,
            $overflow,
            ..
        } | AxisSpec::Integer {
            $underflow,
            $overflow,
            ..
        }
    };
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
    pub fn flow(&self) -> (bool, bool) {
        match self {
            flow_axes!(underflow, overflow) => (*underflow, *overflow),
            AxisSpec::StrCategory { growth, .. } | AxisSpec::IntCategory { growth, .. } => {
                (false, !growth)
            }
            AxisSpec::Boolean { .. } => (false, false),
        }
    }

    /// The underflow and overflow flags, for the axes that have them (regular, variable,
    /// integer).
    pub fn flow_flags_mut(&mut self) -> Option<(&mut bool, &mut bool)> {
        match self {
            flow_axes!(underflow, overflow) => Some((underflow, overflow)),
            _ => None,
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
    pub fn extent(&self) -> usize {
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
}

/// `(T(start), T(stop) - T(start))`, boost-histogram's `min_` and `delta_`.
pub fn regular_range(t: Transform, start: f64, stop: f64) -> (f64, f64) {
    let min = t.forward(start);
    (min, t.forward(stop) - min)
}
