//! Evaluate [correctionlib](https://github.com/cms-nanoAOD/correctionlib) corrections (JSON
//! schema v2, `.json` or `.json.gz`) natively, with results bit-equal to correctionlib's.
//!
//! A [`CorrectionSet`] is read and compiled once (inputs resolved to positions, edges and
//! category keys in flat arrays, formulas parsed), then each [`Correction`] evaluates one set
//! of inputs ([`Correction::evaluate`]) or whole columns at once
//! ([`Correction::evaluate_batch`], the path for a batch of events: types are checked once
//! per batch, not per row, and nothing is allocated per row).
//!
//! ```
//! use casa_correction::{Column, CorrectionSet, Value};
//!
//! let set = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [{
//!     "name": "muon_sf", "version": 1,
//!     "inputs": [{"name": "eta", "type": "real"}, {"name": "pt", "type": "real"},
//!                {"name": "syst", "type": "string"}],
//!     "output": {"name": "weight", "type": "real"},
//!     "data": {"nodetype": "category", "input": "syst", "content": [
//!         {"key": "nominal", "value": {"nodetype": "multibinning", "inputs": ["eta", "pt"],
//!             "edges": [[0.0, 1.2, 2.4], [15.0, 50.0, "inf"]],
//!             "content": [0.98, 0.99, 0.97, 0.985], "flow": "clamp"}},
//!         {"key": "up", "value": {"nodetype": "formula", "expression": "1.0+0.0002*x",
//!             "parser": "TFormula", "variables": ["pt"]}}]}}]}"#)?;
//! let sf = set.get("muon_sf")?;
//!
//! // One evaluation:
//! let w = sf.evaluate(&[Value::Real(0.5), Value::Real(30.0), Value::Str("nominal")])?;
//! assert_eq!(w, 0.98);
//!
//! // A batch: one column per input, a constant broadcast to every row.
//! let eta = [0.5f32, 1.5, 3.0];
//! let pt = [30.0f32, 80.0, 20.0];
//! let mut out = [0.0; 3];
//! sf.evaluate_batch(
//!     &[Column::F32(&eta), Column::F32(&pt), Column::Const(Value::Str("nominal"))],
//!     &mut out,
//! )?;
//! assert_eq!(out, [0.98, 0.985, 0.97]);
//! # Ok::<(), casa_correction::Error>(())
//! ```
//!
//! Supported: every node type of schema v2 that correctionlib 2.9 evaluates (Category with
//! int or string keys and default, Binning and MultiBinning with edge lists or uniform
//! `{n, low, high}` edges and every flow: a content node, `"clamp"`, `"error"`, `"wrap"`,
//! Formula and FormulaRef with the TFormula subset, Transform, HashPRNG with its three
//! distributions), and CompoundCorrection; not LWTNN (neural networks), which is refused with
//! a clear error. docs/corrections.md explains how bit-equality is obtained and checked.

mod error;
mod formula;
mod json;
mod libm;
mod load;
mod node;
mod prng;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

pub use error::Error;

use node::{Node, NodeError, STACK_INPUTS};

/// The type of a correction's input or output, as declared in the file.
///
/// ```
/// use casa_correction::VarType;
/// assert_eq!(VarType::Real.to_string(), "real");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarType {
    /// A double-precision value (`"real"`).
    Real,
    /// A 64-bit integer (`"int"`).
    Int,
    /// A string (`"string"`).
    Str,
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VarType::Real => "real",
            VarType::Int => "int",
            VarType::Str => "string",
        })
    }
}

/// A declared input or output of a correction.
///
/// ```
/// use casa_correction::{CorrectionSet, VarType};
/// let set = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [{"name": "c",
///     "version": 1, "inputs": [{"name": "pt", "type": "real", "description": "jet pT"}],
///     "output": {"name": "w", "type": "real"}, "data": 1.0}]}"#)?;
/// let pt = &set.get("c")?.inputs()[0];
/// assert_eq!((pt.name(), pt.ty(), pt.description()), ("pt", VarType::Real, "jet pT"));
/// # Ok::<(), casa_correction::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    name: String,
    ty: VarType,
    description: String,
}

impl Variable {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its type.
    pub fn ty(&self) -> VarType {
        self.ty
    }
    /// Its description (empty when the file has none).
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// One input value. The type must be the declared one: correctionlib does not convert, and
/// neither does casa (an integer for a `real` input is an [`Error::InputType`]).
///
/// ```
/// use casa_correction::Value;
/// assert_eq!(Value::from(1.5), Value::Real(1.5));
/// assert_eq!(Value::from(2.5f32), Value::Real(2.5));
/// assert_eq!(Value::from(3i32), Value::Int(3));
/// assert_eq!(Value::from("up"), Value::Str("up"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// For a `real` input.
    Real(f64),
    /// For an `int` input.
    Int(i64),
    /// For a `string` input.
    Str(&'a str),
}

impl Value<'_> {
    /// The type this value has.
    ///
    /// ```
    /// use casa_correction::{Value, VarType};
    /// assert_eq!(Value::Int(1).ty(), VarType::Int);
    /// ```
    pub fn ty(&self) -> VarType {
        match self {
            Value::Real(_) => VarType::Real,
            Value::Int(_) => VarType::Int,
            Value::Str(_) => VarType::Str,
        }
    }
}

impl From<f64> for Value<'_> {
    fn from(x: f64) -> Self {
        Value::Real(x)
    }
}
impl From<f32> for Value<'_> {
    fn from(x: f32) -> Self {
        Value::Real(f64::from(x))
    }
}
impl From<i64> for Value<'_> {
    fn from(x: i64) -> Self {
        Value::Int(x)
    }
}
impl From<i32> for Value<'_> {
    fn from(x: i32) -> Self {
        Value::Int(i64::from(x))
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(x: &'a str) -> Self {
        Value::Str(x)
    }
}

/// One input of a batch: a column with one value per row, or a constant for every row.
/// `F32` and `I32`/`U8` columns (as NanoAOD stores them) are widened exactly.
///
/// ```
/// use casa_correction::{Column, Value, VarType};
/// assert_eq!(Column::F32(&[1.0]).ty(), VarType::Real);
/// assert_eq!(Column::U8(&[2]).ty(), VarType::Int);
/// assert_eq!(Column::Const(Value::Str("central")).len(), None);
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// Real values.
    F64(&'a [f64]),
    /// Real values in single precision (converted exactly).
    F32(&'a [f32]),
    /// Integer values.
    I64(&'a [i64]),
    /// 32-bit integers (converted exactly).
    I32(&'a [i32]),
    /// Small unsigned integers, such as NanoAOD's `Jet_hadronFlavour` (converted exactly).
    U8(&'a [u8]),
    /// Strings.
    Str(&'a [&'a str]),
    /// One value for every row.
    Const(Value<'a>),
}

impl<'a> Column<'a> {
    /// The type of its values.
    ///
    /// ```
    /// use casa_correction::{Column, VarType};
    /// assert_eq!(Column::Str(&["up"]).ty(), VarType::Str);
    /// ```
    pub fn ty(&self) -> VarType {
        match self {
            Column::F64(_) | Column::F32(_) => VarType::Real,
            Column::I64(_) | Column::I32(_) | Column::U8(_) => VarType::Int,
            Column::Str(_) => VarType::Str,
            Column::Const(v) => v.ty(),
        }
    }

    /// Its number of rows (`None` for a constant).
    ///
    /// ```
    /// use casa_correction::Column;
    /// assert_eq!(Column::I64(&[1, 2]).len(), Some(2));
    /// ```
    #[allow(clippy::len_without_is_empty)] // a constant has no length, so no emptiness
    pub fn len(&self) -> Option<usize> {
        match self {
            Column::F64(c) => Some(c.len()),
            Column::F32(c) => Some(c.len()),
            Column::I64(c) => Some(c.len()),
            Column::I32(c) => Some(c.len()),
            Column::U8(c) => Some(c.len()),
            Column::Str(c) => Some(c.len()),
            Column::Const(_) => None,
        }
    }

    #[inline]
    fn at(&self, row: usize) -> Value<'a> {
        // Lengths were checked against the output before the loop.
        match self {
            Column::F64(c) => Value::Real(c[row]),
            Column::F32(c) => Value::Real(f64::from(c[row])),
            Column::I64(c) => Value::Int(c[row]),
            Column::I32(c) => Value::Int(i64::from(c[row])),
            Column::U8(c) => Value::Int(i64::from(c[row])),
            Column::Str(c) => Value::Str(c[row]),
            Column::Const(v) => *v,
        }
    }
}

/// The binary operations of a compound correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Mul,
    Div,
    Last,
}

impl Op {
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Op::Add => a + b,
            Op::Mul => a * b,
            Op::Div => a / b,
            Op::Last => b,
        }
    }
}

#[derive(Debug)]
struct Compound {
    /// Each constituent with, for each of its inputs, the position in the compound's inputs.
    stack: Vec<(Vec<usize>, Arc<Correction>)>,
    update: Vec<usize>,
    input_op: Op,
    output_op: Op,
}

#[derive(Debug)]
enum Kind {
    Simple(Node),
    Compound(Compound),
}

/// A correction, ready to evaluate: a simple one from `corrections` or a compound one from
/// `compound_corrections` (a stack of simple corrections, evaluated in order, each updating
/// the inputs for the next and combined into one output).
///
/// ```
/// use casa_correction::{CorrectionSet, Value};
/// let set = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [{
///     "name": "pu", "version": 2, "description": "pileup weight",
///     "inputs": [{"name": "nTrueInt", "type": "real"}],
///     "output": {"name": "weight", "type": "real"},
///     "data": {"nodetype": "binning", "input": "nTrueInt",
///              "edges": {"n": 3, "low": 0.0, "high": 60.0},
///              "content": [0.5, 1.0, 1.5], "flow": "clamp"}}]}"#)?;
/// let pu = set.get("pu")?;
/// assert_eq!((pu.name(), pu.version(), pu.description()), ("pu", Some(2), "pileup weight"));
/// assert_eq!(pu.evaluate(&[Value::Real(75.0)])?, 1.5);
/// # Ok::<(), casa_correction::Error>(())
/// ```
#[derive(Debug)]
pub struct Correction {
    name: String,
    description: String,
    version: Option<i64>,
    inputs: Vec<Variable>,
    output: Variable,
    kind: Kind,
}

impl Correction {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its description (empty when the file has none).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Its version (`None` for a compound correction, which has none).
    pub fn version(&self) -> Option<i64> {
        self.version
    }

    /// Its inputs, in the order [`evaluate`](Self::evaluate) takes them.
    pub fn inputs(&self) -> &[Variable] {
        &self.inputs
    }

    /// Its (real-valued) output.
    pub fn output(&self) -> &Variable {
        &self.output
    }

    /// Whether it is a compound correction.
    ///
    /// ```
    /// # let set = casa_correction::CorrectionSet::from_json(r#"{"schema_version": 2,
    /// #   "corrections": [{"name": "c", "version": 1, "inputs": [],
    /// #   "output": {"name": "w", "type": "real"}, "data": 1.0}]}"#)?;
    /// assert!(!set.get("c")?.is_compound());
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn is_compound(&self) -> bool {
        matches!(self.kind, Kind::Compound(_))
    }

    /// Position of the input named `name`, to build inputs in the right order without
    /// hard-coding it.
    ///
    /// ```
    /// # let set = casa_correction::CorrectionSet::from_json(r#"{"schema_version": 2,
    /// #   "corrections": [{"name": "c", "version": 1, "inputs": [{"name": "eta",
    /// #   "type": "real"}, {"name": "pt", "type": "real"}],
    /// #   "output": {"name": "w", "type": "real"}, "data": 1.0}]}"#)?;
    /// assert_eq!(set.get("c")?.input_index("pt"), Some(1));
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|v| v.name == name)
    }

    /// Evaluate for one set of inputs, given in the order of [`inputs`](Self::inputs).
    ///
    /// Errors: [`Error::InputCount`], [`Error::InputType`], and, from the correction's
    /// nodes, [`Error::OutOfRange`] (flow `"error"`), [`Error::UnknownCategory`] and
    /// [`Error::Unwrappable`].
    ///
    /// ```
    /// use casa_correction::{CorrectionSet, Error, Value};
    /// let set = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [{
    ///     "name": "btag", "version": 1,
    ///     "inputs": [{"name": "flavour", "type": "int"}, {"name": "pt", "type": "real"}],
    ///     "output": {"name": "sf", "type": "real"},
    ///     "data": {"nodetype": "category", "input": "flavour", "content": [
    ///         {"key": 5, "value": {"nodetype": "formula", "expression": "0.9+0.001*x",
    ///                              "parser": "TFormula", "variables": ["pt"]}},
    ///         {"key": 4, "value": 0.95}]}}]}"#)?;
    /// let btag = set.get("btag")?;
    /// assert_eq!(btag.evaluate(&[Value::Int(4), Value::Real(40.0)])?, 0.95);
    /// assert!(matches!(btag.evaluate(&[Value::Int(0), Value::Real(40.0)]),
    ///                  Err(Error::UnknownCategory { .. })));
    /// assert!(matches!(btag.evaluate(&[Value::Real(5.0), Value::Real(40.0)]),
    ///                  Err(Error::InputType { .. })));
    /// assert!(matches!(btag.evaluate(&[Value::Int(5)]), Err(Error::InputCount { .. })));
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn evaluate(&self, inputs: &[Value<'_>]) -> Result<f64, Error> {
        self.check_count(inputs.len())?;
        for (v, var) in inputs.iter().zip(&self.inputs) {
            self.check_type(var, v.ty())?;
        }
        self.eval_checked(inputs)
    }

    /// Evaluate row by row over columns (one per input, in the order of
    /// [`inputs`](Self::inputs)), writing `out[row]`. Column types are checked once; every
    /// column must have `out.len()` rows (constants fit any length). The first failing row
    /// stops the batch with [`Error::Row`]; rows before it are written.
    ///
    /// ```
    /// use casa_correction::{Column, CorrectionSet, Value};
    /// let set = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [{
    ///     "name": "jer_sf", "version": 1,
    ///     "inputs": [{"name": "eta", "type": "real"}, {"name": "syst", "type": "string"}],
    ///     "output": {"name": "sf", "type": "real"},
    ///     "data": {"nodetype": "binning", "input": "eta", "edges": [-5.0, 0.0, 5.0],
    ///       "flow": "clamp", "content": [
    ///         {"nodetype": "category", "input": "syst", "content": [
    ///             {"key": "nom", "value": 1.1}, {"key": "up", "value": 1.2}]},
    ///         {"nodetype": "category", "input": "syst", "content": [
    ///             {"key": "nom", "value": 1.15}, {"key": "up", "value": 1.25}]}]}}]}"#)?;
    /// let eta = [-1.0, 2.0, 7.0];
    /// let syst = ["nom", "up", "nom"];
    /// let mut sf = vec![0.0; eta.len()];
    /// set.get("jer_sf")?.evaluate_batch(&[Column::F64(&eta), Column::Str(&syst)], &mut sf)?;
    /// assert_eq!(sf, [1.1, 1.25, 1.15]);
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn evaluate_batch(&self, columns: &[Column<'_>], out: &mut [f64]) -> Result<(), Error> {
        self.check_count(columns.len())?;
        for (c, var) in columns.iter().zip(&self.inputs) {
            self.check_type(var, c.ty())?;
            if let Some(n) = c.len() {
                if n != out.len() {
                    return Err(Error::ColumnLength {
                        correction: self.name.clone(),
                        input: var.name.clone(),
                        expected: out.len(),
                        got: n,
                    });
                }
            }
        }
        let row_err = |row: usize, e: Error| Error::Row {
            row,
            source: Box::new(e),
        };
        let n = columns.len();
        if n <= STACK_INPUTS {
            let mut buf = [Value::Real(0.0); STACK_INPUTS];
            let vals = &mut buf[..n];
            for (row, o) in out.iter_mut().enumerate() {
                for (v, c) in vals.iter_mut().zip(columns) {
                    *v = c.at(row);
                }
                *o = self.eval_checked(vals).map_err(|e| row_err(row, e))?;
            }
        } else {
            let mut vals = vec![Value::Real(0.0); n];
            for (row, o) in out.iter_mut().enumerate() {
                for (v, c) in vals.iter_mut().zip(columns) {
                    *v = c.at(row);
                }
                *o = self.eval_checked(&vals).map_err(|e| row_err(row, e))?;
            }
        }
        Ok(())
    }

    fn check_count(&self, got: usize) -> Result<(), Error> {
        if got != self.inputs.len() {
            return Err(Error::InputCount {
                correction: self.name.clone(),
                expected: self.inputs.len(),
                names: load::names(&self.inputs),
                got,
            });
        }
        Ok(())
    }

    fn check_type(&self, var: &Variable, got: VarType) -> Result<(), Error> {
        if var.ty != got {
            return Err(Error::InputType {
                correction: self.name.clone(),
                input: var.name.clone(),
                expected: var.ty,
                got,
            });
        }
        Ok(())
    }

    /// Evaluate inputs whose count and types were checked.
    fn eval_checked(&self, v: &[Value<'_>]) -> Result<f64, Error> {
        match &self.kind {
            Kind::Simple(node) => node.eval(v).map_err(|e| self.named(e)),
            Kind::Compound(c) => self.eval_compound(c, v),
        }
    }

    fn eval_compound(&self, c: &Compound, v: &[Value<'_>]) -> Result<f64, Error> {
        // correctionlib's CompoundCorrection::evaluate: each constituent sees the inputs as
        // updated by those before it; the output starts at the first result.
        let mut ivals_buf = [Value::Real(0.0); STACK_INPUTS];
        let mut ivals_heap = Vec::new();
        let ivals: &mut [Value<'_>] = if v.len() <= STACK_INPUTS {
            ivals_buf[..v.len()].copy_from_slice(v);
            &mut ivals_buf[..v.len()]
        } else {
            ivals_heap.extend_from_slice(v);
            &mut ivals_heap
        };
        let mut out = 0.0;
        for (k, (map, corr)) in c.stack.iter().enumerate() {
            let mut cbuf = [Value::Real(0.0); STACK_INPUTS];
            let mut cheap = Vec::new();
            let cvals: &[Value<'_>] = if map.len() <= STACK_INPUTS {
                for (d, &p) in cbuf.iter_mut().zip(map) {
                    *d = ivals[p];
                }
                &cbuf[..map.len()]
            } else {
                cheap.extend(map.iter().map(|&p| ivals[p]));
                &cheap
            };
            // A constituent may declare another type for an input of the same name.
            let sf = corr.evaluate(cvals)?;
            for &p in &c.update {
                if let Value::Real(x) = ivals[p] {
                    ivals[p] = Value::Real(c.input_op.apply(x, sf));
                }
            }
            out = if k == 0 {
                sf
            } else {
                c.output_op.apply(out, sf)
            };
        }
        Ok(out)
    }

    fn named(&self, e: NodeError<'_>) -> Error {
        let input = |i: usize| {
            self.inputs
                .get(i)
                .map(|v| v.name.clone())
                .unwrap_or_default()
        };
        let correction = self.name.clone();
        match e {
            NodeError::Range {
                input: i,
                value,
                edges,
                below,
            } => Error::OutOfRange {
                correction,
                input: input(i),
                value,
                edges: edges.describe(),
                below,
            },
            NodeError::Wrap {
                input: i,
                value,
                edges,
            } => Error::Unwrappable {
                correction,
                input: input(i),
                value,
                edges: edges.describe(),
            },
            NodeError::Category { input: i, key } => Error::UnknownCategory {
                correction,
                input: input(i),
                key,
            },
            NodeError::Type { input: i } => Error::InputType {
                correction,
                input: input(i),
                expected: self.inputs.get(i).map_or(VarType::Real, |v| v.ty),
                got: VarType::Str,
            },
        }
    }
}

/// A correctionlib file: its corrections and compound corrections by name.
///
/// ```
/// use casa_correction::{CorrectionSet, Value};
/// let set = CorrectionSet::from_json(r#"{"schema_version": 2, "description": "demo",
///   "corrections": [
///     {"name": "a", "version": 1, "inputs": [{"name": "x", "type": "real"}],
///      "output": {"name": "w", "type": "real"},
///      "data": {"nodetype": "formula", "expression": "2*x", "parser": "TFormula",
///               "variables": ["x"]}},
///     {"name": "b", "version": 1, "inputs": [{"name": "x", "type": "real"}],
///      "output": {"name": "w", "type": "real"}, "data": 3.0}],
///   "compound_corrections": [
///     {"name": "ab", "inputs": [{"name": "x", "type": "real"}],
///      "output": {"name": "w", "type": "real"}, "inputs_update": ["x"],
///      "input_op": "*", "output_op": "*", "stack": ["a", "b"]}]}"#)?;
/// assert_eq!(set.names().collect::<Vec<_>>(), ["a", "b"]);
/// assert_eq!(set.description(), "demo");
/// // a(5) = 10, then x becomes 5 * 10 = 50 and b(50) = 3: the product is 30.
/// assert_eq!(set.compound("ab")?.evaluate(&[Value::Real(5.0)])?, 30.0);
/// # Ok::<(), casa_correction::Error>(())
/// ```
#[derive(Debug)]
pub struct CorrectionSet {
    origin: String,
    description: String,
    corrections: Vec<Arc<Correction>>,
    by_name: HashMap<String, usize>,
    compound: Vec<Correction>,
    compound_by_name: HashMap<String, usize>,
}

impl CorrectionSet {
    /// Read a correction file, `.json` or gzip-compressed `.json.gz` (recognised by its
    /// content, as correctionlib does, not by its name).
    ///
    /// ```
    /// use casa_correction::CorrectionSet;
    /// let dir = std::env::temp_dir().join(format!("casa-correction-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("one.json");
    /// std::fs::write(&path, r#"{"schema_version": 2, "corrections": [{"name": "one",
    ///     "version": 1, "inputs": [], "output": {"name": "w", "type": "real"}, "data": 1.0}]}"#)?;
    /// let set = CorrectionSet::open(&path)?;
    /// assert_eq!(set.get("one")?.evaluate(&[])?, 1.0);
    /// assert!(CorrectionSet::open(dir.join("missing.json")).is_err());
    /// std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let raw = std::fs::read(path).map_err(io)?;
        let text = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::with_capacity(raw.len() * 8);
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .map_err(io)?;
            out
        } else {
            raw
        };
        Self::from_slice(&text, &path.display().to_string())
    }

    /// Read a correction set from JSON text.
    ///
    /// ```
    /// use casa_correction::{CorrectionSet, Error};
    /// let err = CorrectionSet::from_json(r#"{"schema_version": 1, "corrections": []}"#);
    /// assert!(matches!(err, Err(Error::Schema { .. })));
    /// ```
    pub fn from_json(text: &str) -> Result<Self, Error> {
        Self::from_slice(text.as_bytes(), "<string>")
    }

    fn from_slice(text: &[u8], origin: &str) -> Result<Self, Error> {
        let doc = json::parse(text).map_err(|e| Error::Json {
            origin: origin.to_string(),
            offset: e.offset,
            message: e.message.to_string(),
        })?;
        let ctx = load::Ctx { origin };
        if !matches!(doc, json::Json::Object(_)) {
            return Err(ctx.err("document", "expected a correction set object"));
        }
        match doc.get("schema_version") {
            Some(json::Json::Num(json::Num::Int(2))) => {}
            Some(json::Json::Num(json::Num::Int(v))) => return Err(ctx.err(
                "schema_version",
                format!(
                    "schema version {v}: casa (like correctionlib 2) reads schema version 2 only"
                ),
            )),
            _ => return Err(ctx.err("document", "missing or non-integer \"schema_version\"")),
        }
        let description = match doc.get("description") {
            Some(json::Json::Str(s)) => s.clone(),
            _ => String::new(),
        };
        let mut corrections = Vec::new();
        let mut by_name = HashMap::new();
        let items = match doc.get("corrections") {
            Some(json::Json::Array(a)) => a,
            _ => return Err(ctx.err("document", "missing \"corrections\" array")),
        };
        for (k, item) in items.iter().enumerate() {
            let c = load::correction(&ctx, item, &format!("corrections[{k}]"))?;
            if by_name.insert(c.name.clone(), corrections.len()).is_some() {
                return Err(ctx.err(
                    &format!("corrections[{k}]"),
                    format!("duplicate correction name {:?}", c.name),
                ));
            }
            corrections.push(Arc::new(c));
        }
        let mut compound = Vec::new();
        let mut compound_by_name = HashMap::new();
        match doc.get("compound_corrections") {
            None | Some(json::Json::Null) => {}
            Some(json::Json::Array(a)) => {
                for (k, item) in a.iter().enumerate() {
                    let node = format!("compound_corrections[{k}]");
                    let c = load::compound(&ctx, item, &node, &corrections, &by_name)?;
                    if compound_by_name
                        .insert(c.name.clone(), compound.len())
                        .is_some()
                    {
                        return Err(ctx.err(
                            &node,
                            format!("duplicate compound correction name {:?}", c.name),
                        ));
                    }
                    compound.push(c);
                }
            }
            Some(_) => return Err(ctx.err("compound_corrections", "must be an array")),
        }
        Ok(CorrectionSet {
            origin: origin.to_string(),
            description,
            corrections,
            by_name,
            compound,
            compound_by_name,
        })
    }

    /// The correction named `name` (from `corrections`), or [`Error::UnknownCorrection`]
    /// listing the names there are.
    ///
    /// ```
    /// # let set = casa_correction::CorrectionSet::from_json(r#"{"schema_version": 2,
    /// #   "corrections": [{"name": "c", "version": 1, "inputs": [],
    /// #   "output": {"name": "w", "type": "real"}, "data": 1.0}]}"#)?;
    /// let c = set.get("c")?;
    /// let err = set.get("d").unwrap_err().to_string();
    /// assert_eq!(err, r#"no correction named "d" in <string> (it has: c)"#);
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Result<&Correction, Error> {
        match self.by_name.get(name) {
            Some(&i) => Ok(&self.corrections[i]),
            None => Err(Error::UnknownCorrection {
                kind: "correction",
                name: name.to_string(),
                origin: self.origin.clone(),
                available: self.names().collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The compound correction named `name` (from `compound_corrections`).
    ///
    /// ```
    /// # let set = casa_correction::CorrectionSet::from_json(r#"{"schema_version": 2,
    /// #   "corrections": []}"#)?;
    /// assert!(set.compound("L1L2L3Res").is_err());
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn compound(&self, name: &str) -> Result<&Correction, Error> {
        match self.compound_by_name.get(name) {
            Some(&i) => Ok(&self.compound[i]),
            None => Err(Error::UnknownCorrection {
                kind: "compound correction",
                name: name.to_string(),
                origin: self.origin.clone(),
                available: self.compound_names().collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// Names of the corrections, in file order.
    ///
    /// ```
    /// # let set = casa_correction::CorrectionSet::from_json(r#"{"schema_version": 2,
    /// #   "corrections": []}"#)?;
    /// assert_eq!(set.names().count(), 0);
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.corrections.iter().map(|c| c.name.as_str())
    }

    /// Names of the compound corrections, in file order.
    ///
    /// ```
    /// # let set = casa_correction::CorrectionSet::from_json(r#"{"schema_version": 2,
    /// #   "corrections": []}"#)?;
    /// assert_eq!(set.compound_names().count(), 0);
    /// # Ok::<(), casa_correction::Error>(())
    /// ```
    pub fn compound_names(&self) -> impl Iterator<Item = &str> {
        self.compound.iter().map(|c| c.name.as_str())
    }

    /// The set's description (empty when the file has none).
    pub fn description(&self) -> &str {
        &self.description
    }
}
