//! Checking a histogram declaration ([`HistSpec`], from casa-histspec) and bringing it to
//! the form hist gives it.

use std::collections::HashSet;

use casa_histspec::{regular_range, AxisSpec, HistSpec, Transform, MAX_BINS};

use crate::error::HistError;

/// Validation of a declaration (an extension of casa-histspec's types, which plugins use
/// without casa-hist).
pub(crate) trait Normalize: Sized {
    /// Validates the declaration and returns it in normal form (see [`AxisSpec`]).
    fn normalized(&self) -> Result<Self, HistError>;
}

/// Checks axis `index` and brings it to the form hist gives it: a circular regular axis has
/// no underflow bin, a growing integer axis has no flow bins (hist ignores the flags).
fn normalized_axis(axis: &AxisSpec, index: usize) -> Result<AxisSpec, HistError> {
    {
        let bad = |reason: String| HistError::InvalidAxis {
            index,
            name: axis.name().to_string(),
            reason,
        };
        let mut a = axis.clone();
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

impl Normalize for HistSpec {
    fn normalized(&self) -> Result<HistSpec, HistError> {
        if self.axes.is_empty() {
            return Err(HistError::InvalidSpec {
                reason: "a histogram needs at least one axis".into(),
            });
        }
        let axes = self
            .axes
            .iter()
            .enumerate()
            .map(|(i, a)| normalized_axis(a, i))
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
