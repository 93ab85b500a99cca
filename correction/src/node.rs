//! The evaluation tree: correction nodes with inputs resolved to indices, edges and keys in
//! flat arrays, formulas compiled. Evaluation follows correctionlib's `correction.cc`
//! decision by decision (bin lookup, flow, defaults), so results are bit-equal.

use std::collections::HashMap;
use std::sync::Arc;

use crate::formula::Expr;
use crate::prng::{self, Distribution};
use crate::Value;

#[derive(Debug)]
pub(crate) enum Node {
    Const(f64),
    Binning(Box<Binning>),
    MultiBinning(Box<MultiBinning>),
    CategoryInt(Box<CategoryInt>),
    CategoryStr(Box<CategoryStr>),
    Formula(Box<Expr>),
    FormulaRef(Box<FormulaRef>),
    Transform(Box<Transform>),
    HashPrng(Box<HashPrng>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// The content node after the last bin.
    Value,
    Clamp,
    Error,
    Wrap,
}

#[derive(Debug)]
pub(crate) enum Edges {
    Uniform { n: u32, low: f64, high: f64 },
    List(Vec<f64>),
}

impl Edges {
    pub(crate) fn nbins(&self) -> usize {
        match self {
            Edges::Uniform { n, .. } => *n as usize,
            Edges::List(e) => e.len() - 1,
        }
    }

    /// For error messages: the edges, the middle elided when there are many.
    pub(crate) fn describe(&self) -> String {
        match self {
            Edges::Uniform { n, low, high } => format!("{{n: {n}, low: {low}, high: {high}}}"),
            Edges::List(e) if e.len() <= 12 => format!(
                "[{}]",
                e.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Edges::List(e) => {
                let head: Vec<_> = e[..5].iter().map(|x| x.to_string()).collect();
                let tail: Vec<_> = e[e.len() - 5..].iter().map(|x| x.to_string()).collect();
                format!(
                    "[{}, ... ({} edges) ..., {}]",
                    head.join(", "),
                    e.len(),
                    tail.join(", ")
                )
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Binning {
    pub input: usize,
    pub edges: Edges,
    pub flow: Flow,
    /// One node per bin, then the flow node (or 0.0 when the flow is not a node): a lookup
    /// that rounds onto the upper edge lands there, as in correctionlib.
    pub content: Vec<Node>,
}

#[derive(Debug)]
pub(crate) struct Axis {
    pub input: usize,
    pub stride: usize,
    pub edges: Edges,
}

#[derive(Debug)]
pub(crate) struct MultiBinning {
    pub axes: Vec<Axis>,
    pub flow: Flow,
    /// The bins in C order, then the flow node when the flow is a node.
    pub content: Vec<Node>,
}

#[derive(Debug)]
pub(crate) struct CategoryInt {
    pub input: usize,
    /// Sorted keys (the first of duplicated keys kept, as correctionlib's `try_emplace`).
    pub keys: Vec<i64>,
    pub content: Vec<Node>,
    pub default: Option<Node>,
}

#[derive(Debug)]
pub(crate) struct CategoryStr {
    pub input: usize,
    pub keys: Vec<Box<str>>,
    pub content: Vec<Node>,
    /// For many keys, hashing beats scanning.
    pub index: Option<HashMap<Box<str>, usize>>,
    pub default: Option<Node>,
}

#[derive(Debug)]
pub(crate) struct FormulaRef {
    pub formula: Arc<Expr>,
    pub params: Vec<f64>,
}

#[derive(Debug)]
pub(crate) struct Transform {
    pub input: usize,
    pub rule: Node,
    pub content: Node,
}

#[derive(Debug)]
pub(crate) struct HashPrng {
    pub inputs: Vec<usize>,
    pub dist: Distribution,
}

/// Why a node could not produce a value; converted to [`crate::Error`] with names by the
/// correction.
#[derive(Debug)]
pub(crate) enum NodeError<'n> {
    Range {
        input: usize,
        value: f64,
        edges: &'n Edges,
        below: bool,
    },
    Wrap {
        input: usize,
        value: f64,
        edges: &'n Edges,
    },
    Category {
        input: usize,
        key: String,
    },
    /// A string where a number is needed (or the reverse): only possible if a caller skipped
    /// input validation.
    Type {
        input: usize,
    },
}

/// Inputs fit on the stack below this count; more fall back to a heap copy.
pub(crate) const STACK_INPUTS: usize = 16;

#[inline]
fn real(v: &[Value<'_>], i: usize) -> f64 {
    match v.get(i) {
        Some(Value::Real(x)) => *x,
        // Formulas only use real inputs (checked when loading) and inputs are validated
        // before evaluation.
        _ => f64::NAN,
    }
}

#[inline]
fn number<'n>(v: &[Value<'_>], i: usize) -> Result<f64, NodeError<'n>> {
    match v.get(i) {
        Some(Value::Real(x)) => Ok(*x),
        Some(Value::Int(k)) => Ok(*k as f64),
        _ => Err(NodeError::Type { input: i }),
    }
}

/// correctionlib's `find_bin_idx`: the bin, or `nbins` for "the node after the bins".
#[inline]
fn find_bin<'n>(
    value: f64,
    edges: &'n Edges,
    flow: Flow,
    input: usize,
) -> Result<usize, NodeError<'n>> {
    match edges {
        Edges::Uniform { n, low, high } => {
            let n = *n as usize;
            let (low, high) = (*low, *high);
            // Exactly correctionlib's test: NaN passes it and, like a wrapped infinity, gives
            // a NaN position below, which x86-64 converts to bin 0 (Rust's `as` gives 0 too).
            if value < low || value >= high {
                match flow {
                    Flow::Value => return Ok(n),
                    Flow::Clamp => return Ok(if value < low { 0 } else { n - 1 }),
                    Flow::Error => {
                        return Err(NodeError::Range {
                            input,
                            value,
                            edges,
                            below: value < low,
                        })
                    }
                    Flow::Wrap => {}
                }
            }
            let mut norm = (value - low) / (high - low);
            if flow == Flow::Wrap {
                norm -= norm.floor();
            }
            // Truncation as C++'s double-to-size_t conversion; at most n (the node after).
            Ok(((n as f64 * norm) as usize).min(n))
        }
        Edges::List(e) => {
            let mut value = value;
            if flow == Flow::Wrap {
                let low = e[0];
                let high = e[e.len() - 1];
                let mut norm = (value - low) / (high - low);
                norm -= norm.floor();
                value = low + norm * (high - low);
            }
            // std::upper_bound: the first edge greater than the value (NaN: none).
            let mut pos = e.partition_point(|&edge| !(value < edge));
            let nb = e.len() - 1;
            if pos == 0 {
                match flow {
                    Flow::Value => return Ok(nb),
                    Flow::Error => {
                        return Err(NodeError::Range {
                            input,
                            value,
                            edges,
                            below: true,
                        })
                    }
                    Flow::Wrap => {
                        return Err(NodeError::Wrap {
                            input,
                            value,
                            edges,
                        })
                    }
                    Flow::Clamp => pos = 1,
                }
            } else if pos == e.len() {
                match flow {
                    Flow::Value => return Ok(nb),
                    Flow::Error => {
                        return Err(NodeError::Range {
                            input,
                            value,
                            edges,
                            below: false,
                        })
                    }
                    Flow::Wrap => {
                        return Err(NodeError::Wrap {
                            input,
                            value,
                            edges,
                        })
                    }
                    Flow::Clamp => pos = e.len() - 1,
                }
            }
            Ok(pos - 1)
        }
    }
}

/// C++'s `(int64_t) std::round(x)` on x86-64: NaN and out-of-range values give i64::MIN
/// (the "integer indefinite" of `cvttsd2si`), where Rust's `as` would saturate.
fn round_to_i64(x: f64) -> i64 {
    let r = x.round();
    if r.is_nan() || r >= 9_223_372_036_854_775_808.0 || r < -9_223_372_036_854_775_808.0 {
        i64::MIN
    } else {
        r as i64
    }
}

impl Node {
    pub(crate) fn eval<'n>(&'n self, v: &[Value<'_>]) -> Result<f64, NodeError<'n>> {
        match self {
            Node::Const(c) => Ok(*c),
            Node::Formula(e) => Ok(e.eval(&|i| real(v, i), &[])),
            Node::FormulaRef(f) => Ok(f.formula.eval(&|i| real(v, i), &f.params)),
            Node::Binning(b) => {
                let x = number(v, b.input)?;
                let i = find_bin(x, &b.edges, b.flow, b.input)?;
                match b.content.get(i) {
                    Some(n) => n.eval(v),
                    None => Ok(0.0),
                }
            }
            Node::MultiBinning(m) => {
                let mut idx = 0;
                for a in &m.axes {
                    let x = number(v, a.input)?;
                    let local = find_bin(x, &a.edges, m.flow, a.input)?;
                    if local == a.edges.nbins() {
                        // The flow node when there is one, else (a lookup rounding onto the
                        // upper edge) the last bin, exactly as correctionlib's content_.back().
                        return match m.content.last() {
                            Some(n) => n.eval(v),
                            None => Ok(0.0),
                        };
                    }
                    idx += local * a.stride;
                }
                match m.content.get(idx) {
                    Some(n) => n.eval(v),
                    None => Ok(0.0),
                }
            }
            Node::CategoryInt(c) => {
                let key = match v.get(c.input) {
                    Some(Value::Int(k)) => *k,
                    _ => return Err(NodeError::Type { input: c.input }),
                };
                match c.keys.binary_search(&key) {
                    Ok(i) => c.content[i].eval(v),
                    Err(_) => match &c.default {
                        Some(d) => d.eval(v),
                        None => Err(NodeError::Category {
                            input: c.input,
                            key: key.to_string(),
                        }),
                    },
                }
            }
            Node::CategoryStr(c) => {
                let key = match v.get(c.input) {
                    Some(Value::Str(s)) => *s,
                    _ => return Err(NodeError::Type { input: c.input }),
                };
                let found = match &c.index {
                    Some(map) => map.get(key).copied(),
                    None => c.keys.iter().position(|k| &**k == key),
                };
                match found {
                    Some(i) => c.content[i].eval(v),
                    None => match &c.default {
                        Some(d) => d.eval(v),
                        None => Err(NodeError::Category {
                            input: c.input,
                            key: format!("{key:?}"),
                        }),
                    },
                }
            }
            Node::Transform(t) => {
                let new = t.rule.eval(v)?;
                let replaced = match v.get(t.input) {
                    Some(Value::Real(_)) => Value::Real(new),
                    Some(Value::Int(_)) => Value::Int(round_to_i64(new)),
                    _ => return Err(NodeError::Type { input: t.input }),
                };
                if v.len() <= STACK_INPUTS {
                    let mut buf = [Value::Real(0.0); STACK_INPUTS];
                    buf[..v.len()].copy_from_slice(v);
                    buf[t.input] = replaced;
                    t.content.eval(&buf[..v.len()])
                } else {
                    let mut buf = v.to_vec();
                    buf[t.input] = replaced;
                    t.content.eval(&buf)
                }
            }
            Node::HashPrng(h) => {
                let mut words = [0u64; STACK_INPUTS];
                let mut heap = Vec::new();
                let words: &mut [u64] = if h.inputs.len() <= STACK_INPUTS {
                    &mut words[..h.inputs.len()]
                } else {
                    heap.resize(h.inputs.len(), 0);
                    &mut heap
                };
                for (w, &i) in words.iter_mut().zip(&h.inputs) {
                    *w = match v.get(i) {
                        Some(Value::Int(k)) => *k as u64,
                        Some(Value::Real(x)) => x.to_bits(),
                        _ => return Err(NodeError::Type { input: i }),
                    };
                }
                Ok(prng::draw(words, h.dist))
            }
        }
    }
}
