//! The one error type of the crate. Messages name the axis (by index and name), and the
//! dataset and item when the error comes through an [`crate::Accumulator`].

/// Everything that can go wrong declaring, filling, adding, reading or writing histograms.
#[derive(Debug, thiserror::Error)]
pub enum HistError {
    /// The declaration as a whole is unusable.
    #[error("invalid histogram: {reason}")]
    InvalidSpec { reason: String },

    /// One axis of the declaration is unusable.
    #[error("invalid histogram: axis {index} (`{name}`): {reason}")]
    InvalidAxis {
        index: usize,
        name: String,
        reason: String,
    },

    /// The histogram (or a growth axis) would need more bins than [`crate::MAX_BINS`].
    #[error(
        "too many bins: {what} is more than the limit of {} bins",
        crate::MAX_BINS
    )]
    TooManyBins { what: String },

    /// The fill arguments do not fit the histogram (count, lengths, weight or sample).
    #[error("fill: {reason}")]
    Fill { reason: String },

    /// A fill argument does not fit its axis.
    #[error("fill: axis {index} (`{name}`, {kind}): {reason}")]
    FillAxis {
        index: usize,
        name: String,
        kind: &'static str,
        reason: String,
    },

    /// An Int64 bin would pass `i64::MAX` (or an integer counter would).
    #[error("integer overflow: {what}")]
    Overflow { what: String },

    /// Two histograms cannot be added: the axis that differs and how.
    #[error("cannot add histograms: axis {index} (`{name}`): {reason}")]
    IncompatibleAxis {
        index: usize,
        name: String,
        reason: String,
    },

    /// Two histograms (or items) cannot be added, for a reason not tied to one axis.
    #[error("cannot add: {reason}")]
    Incompatible { reason: String },

    /// A UHI document that cannot be read; `path` points into the document.
    #[error("UHI histogram, at {path}: {reason}")]
    Uhi { path: String, reason: String },

    /// Text that is not JSON (even allowing Python's NaN and Infinity).
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// Any of the above, for one item of an accumulator.
    #[error("dataset `{dataset}`, `{name}`: {source}")]
    Item {
        dataset: String,
        name: String,
        source: Box<HistError>,
    },
}

impl HistError {
    pub(crate) fn in_item(self, dataset: &str, name: &str) -> HistError {
        HistError::Item {
            dataset: dataset.to_string(),
            name: name.to_string(),
            source: Box::new(self),
        }
    }

    pub(crate) fn fill(reason: impl Into<String>) -> HistError {
        HistError::Fill {
            reason: reason.into(),
        }
    }

    pub(crate) fn uhi(path: impl Into<String>, reason: impl Into<String>) -> HistError {
        HistError::Uhi {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
