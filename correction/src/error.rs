//! Everything that can go wrong, each naming the file, correction, node or input concerned.

use std::path::PathBuf;

use crate::VarType;

/// An error from loading a correction file or evaluating a correction.
///
/// Loading errors name the file and the JSON node (`corrections[3] "name" .data.content[2]`);
/// evaluation errors name the correction and the input, and say what was wrong with the
/// value. Wherever correctionlib raises an exception for an input, casa returns one of
/// these; casa never panics on any file or input.
///
/// ```
/// use casa_correction::{CorrectionSet, Error, Value};
///
/// let set = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [{
///     "name": "sf", "version": 1, "inputs": [{"name": "pt", "type": "real"}],
///     "output": {"name": "w", "type": "real"},
///     "data": {"nodetype": "binning", "input": "pt", "edges": [20.0, 50.0, 100.0],
///              "content": [1.1, 1.2], "flow": "error"}}]}"#)?;
/// let err = set.get("sf")?.evaluate(&[Value::Real(150.0)]).unwrap_err();
/// assert!(matches!(err, Error::OutOfRange { .. }));
/// assert_eq!(
///     err.to_string(),
///     r#"correction "sf": input "pt" = 150 is above the edges [20, 50, 100] (flow "error")"#
/// );
/// assert!(matches!(set.get("SF"), Err(Error::UnknownCorrection { .. })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read (or its gzip stream is corrupt).
    #[error("cannot read correction file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not JSON.
    #[error("{origin}: not valid JSON: {message} at byte {offset}")]
    Json {
        /// The file (or `<string>`).
        origin: String,
        /// Byte offset in the (decompressed) text.
        offset: usize,
        /// What was expected.
        message: String,
    },
    /// The JSON does not describe a valid correctionlib schema v2 correction set, or uses
    /// something correctionlib's evaluator refuses.
    #[error("{origin}: {node}: {message}")]
    Schema {
        /// The file (or `<string>`).
        origin: String,
        /// Where in the document, e.g. `corrections[2] "muon_sf" .data.content[0].value`.
        node: String,
        /// What is wrong.
        message: String,
    },
    /// No correction (or compound correction) of that name in the set.
    #[error("no {kind} named {name:?} in {origin} (it has: {available})")]
    UnknownCorrection {
        /// `correction` or `compound correction`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The file (or `<string>`).
        origin: String,
        /// The names it has, comma-separated.
        available: String,
    },
    /// Not as many inputs (or columns) as the correction declares.
    #[error("correction {correction:?} takes {expected} inputs ({names}), got {got}")]
    InputCount {
        /// The correction.
        correction: String,
        /// How many it declares.
        expected: usize,
        /// Their names, comma-separated.
        names: String,
        /// How many were given.
        got: usize,
    },
    /// An input of the wrong type (correctionlib does not convert: an integer for a real
    /// input is refused too).
    #[error("correction {correction:?}: input {input:?} must be {expected}, got {got}")]
    InputType {
        /// The correction.
        correction: String,
        /// The input's name.
        input: String,
        /// Its declared type.
        expected: VarType,
        /// The type given.
        got: VarType,
    },
    /// A value outside the edges of a binning whose flow is `"error"`.
    #[error(
        "correction {correction:?}: input {input:?} = {value} is {} the edges {edges} (flow \"error\")",
        if *below { "below" } else { "above" }
    )]
    OutOfRange {
        /// The correction.
        correction: String,
        /// The binned input.
        input: String,
        /// The value (NaN counts as above).
        value: f64,
        /// The binning's edges, abbreviated when long.
        edges: String,
        /// Below the first edge (else above the last).
        below: bool,
    },
    /// A value that `"wrap"` flow cannot fold into the edges (NaN or infinite, or rounding
    /// that lands on the upper edge: correctionlib raises a logic error there too).
    #[error("correction {correction:?}: input {input:?} = {value} cannot be wrapped into the edges {edges}")]
    Unwrappable {
        /// The correction.
        correction: String,
        /// The binned input.
        input: String,
        /// The value.
        value: f64,
        /// The binning's edges, abbreviated when long.
        edges: String,
    },
    /// A category key not in a Category node without default.
    #[error("correction {correction:?}: input {input:?} has no category {key} (and no default)")]
    UnknownCategory {
        /// The correction.
        correction: String,
        /// The categorised input.
        input: String,
        /// The key given (strings quoted).
        key: String,
    },
    /// A column whose length is not the output's.
    #[error(
        "correction {correction:?}: column {input:?} has {got} rows, the output has {expected}"
    )]
    ColumnLength {
        /// The correction.
        correction: String,
        /// The input the column is for.
        input: String,
        /// Rows in the output slice.
        expected: usize,
        /// Rows in the column.
        got: usize,
    },
    /// An evaluation error on one row of a batch.
    #[error("row {row}: {source}")]
    Row {
        /// The row (index into the columns).
        row: usize,
        /// The error on that row.
        source: Box<Error>,
    },
}
