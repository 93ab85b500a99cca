//! From JSON to the evaluation tree, with the checks correctionlib's loader makes (and its
//! refusals: integer bin edges, unknown inputs, formulas over non-real inputs, ...), each
//! error naming the node.

use std::collections::HashMap;
use std::sync::Arc;

use crate::formula::{self, Expr, FormulaError};
use crate::json::{Json, Num};
use crate::node::*;
use crate::prng::Distribution;
use crate::{Compound, Correction, Error, Kind, Op, VarType, Variable};

/// Where we are in the document, for error messages.
pub(crate) struct Ctx<'a> {
    pub origin: &'a str,
}

impl Ctx<'_> {
    pub(crate) fn err(&self, node: &str, message: impl Into<String>) -> Error {
        Error::Schema {
            origin: self.origin.to_string(),
            node: node.to_string(),
            message: message.into(),
        }
    }

    fn field<'j>(&self, obj: &'j Json, node: &str, key: &str) -> Result<&'j Json, Error> {
        obj.get(key)
            .ok_or_else(|| self.err(node, format!("missing required attribute {key:?}")))
    }

    fn str<'j>(&self, obj: &'j Json, node: &str, key: &str) -> Result<&'j str, Error> {
        match self.field(obj, node, key)? {
            Json::Str(s) => Ok(s),
            other => Err(self.err(
                node,
                format!("{key:?} must be a string, not {}", other.kind()),
            )),
        }
    }

    fn opt_str(&self, obj: &Json, node: &str, key: &str) -> Result<String, Error> {
        match obj.get(key) {
            None | Some(Json::Null) => Ok(String::new()),
            Some(Json::Str(s)) => Ok(s.clone()),
            Some(other) => Err(self.err(
                node,
                format!("{key:?} must be a string, not {}", other.kind()),
            )),
        }
    }

    fn array<'j>(&self, obj: &'j Json, node: &str, key: &str) -> Result<&'j [Json], Error> {
        match self.field(obj, node, key)? {
            Json::Array(a) => Ok(a),
            other => Err(self.err(
                node,
                format!("{key:?} must be an array, not {}", other.kind()),
            )),
        }
    }

    /// A number where correctionlib reads `GetDouble()` (integers accepted).
    fn number(&self, j: &Json, node: &str, what: &str) -> Result<f64, Error> {
        match j {
            Json::Num(n) => Ok(n.as_f64()),
            other => Err(self.err(
                node,
                format!("{what} must be a number, not {}", other.kind()),
            )),
        }
    }

    /// A number where correctionlib asks `IsDouble()`: written with a fraction or exponent.
    fn real(&self, j: &Json, node: &str, what: &str) -> Result<f64, Error> {
        match j {
            Json::Num(Num::Double(d)) => Ok(*d),
            Json::Num(_) => Err(self.err(
                node,
                format!("{what} is written as an integer; correctionlib requires a real number (write 1.0, not 1)"),
            )),
            other => Err(self.err(node, format!("{what} must be a real number, not {}", other.kind()))),
        }
    }
}

fn variable(ctx: &Ctx, j: &Json, node: &str) -> Result<Variable, Error> {
    if !matches!(j, Json::Object(_)) {
        return Err(ctx.err(
            node,
            format!("a variable must be an object, not {}", j.kind()),
        ));
    }
    let ty = match ctx.str(j, node, "type")? {
        "real" => VarType::Real,
        "int" => VarType::Int,
        "string" => VarType::Str,
        other => {
            return Err(ctx.err(
                node,
                format!("unknown variable type {other:?} (real, int or string)"),
            ))
        }
    };
    Ok(Variable {
        name: ctx.str(j, node, "name")?.to_string(),
        ty,
        description: ctx.opt_str(j, node, "description")?,
    })
}

pub(crate) fn variables(ctx: &Ctx, obj: &Json, node: &str) -> Result<Vec<Variable>, Error> {
    ctx.array(obj, node, "inputs")?
        .iter()
        .enumerate()
        .map(|(i, v)| variable(ctx, v, &format!("{node}.inputs[{i}]")))
        .collect()
}

pub(crate) fn output(ctx: &Ctx, obj: &Json, node: &str) -> Result<Variable, Error> {
    let out = variable(
        ctx,
        ctx.field(obj, node, "output")?,
        &format!("{node}.output"),
    )?;
    if out.ty != VarType::Real {
        return Err(ctx.err(node, "outputs can only be real-valued"));
    }
    Ok(out)
}

/// The context of one correction: its inputs and generic formulas.
struct Scope<'a> {
    ctx: &'a Ctx<'a>,
    inputs: &'a [Variable],
    generic: Vec<Arc<Expr>>,
}

impl Scope<'_> {
    fn input(&self, name: &str, node: &str) -> Result<usize, Error> {
        self.inputs
            .iter()
            .position(|v| v.name == name)
            .ok_or_else(|| {
                self.ctx.err(
                    node,
                    format!(
                        "input {name:?} is not one of the correction's inputs ({})",
                        names(self.inputs)
                    ),
                )
            })
    }

    fn numeric_input(&self, name: &str, node: &str, what: &str) -> Result<usize, Error> {
        let i = self.input(name, node)?;
        if self.inputs[i].ty == VarType::Str {
            return Err(self
                .ctx
                .err(node, format!("{what} cannot use the string input {name:?}")));
        }
        Ok(i)
    }

    fn formula(&self, j: &Json, node: &str, generic: bool) -> Result<Expr, Error> {
        let ctx = self.ctx;
        let text = ctx.str(j, node, "expression")?;
        match ctx.str(j, node, "parser")? {
            "TFormula" => {}
            "numexpr" => {
                return Err(ctx.err(
                    node,
                    "the numexpr formula parser is not supported (nor by correctionlib)",
                ))
            }
            other => return Err(ctx.err(node, format!("unknown formula parser {other:?}"))),
        }
        let mut vars = Vec::new();
        for (k, v) in ctx.array(j, node, "variables")?.iter().enumerate() {
            let Json::Str(name) = v else {
                return Err(ctx.err(node, format!("variables[{k}] must be a string")));
            };
            let i = self.input(name, node)?;
            if self.inputs[i].ty != VarType::Real {
                return Err(ctx.err(
                    node,
                    format!(
                        "formulas only accept real-valued inputs, {name:?} is {}",
                        self.inputs[i].ty
                    ),
                ));
            }
            vars.push(i);
        }
        let params = match j.get("parameters") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Array(a)) => a
                .iter()
                .map(|p| ctx.number(p, node, "a formula parameter"))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(ctx.err(
                    node,
                    format!("\"parameters\" must be an array, not {}", other.kind()),
                ))
            }
        };
        formula::parse(text, &vars, if generic { None } else { Some(&params) }).map_err(|e| {
            ctx.err(
                node,
                match e {
                    FormulaError::Syntax { position } => format!(
                        "cannot parse formula {text:?} at position {position} (the TFormula subset correctionlib accepts)"
                    ),
                    FormulaError::Variable { index, available } => format!(
                        "formula {text:?} uses variable {index} but has {available} variables"
                    ),
                    FormulaError::Parameter { index, available } => format!(
                        "formula {text:?} uses parameter [{index}] but has {available} parameters"
                    ),
                },
            )
        })
    }

    fn edges(&self, j: &Json, node: &str) -> Result<Edges, Error> {
        let ctx = self.ctx;
        match j {
            Json::Array(a) => {
                let mut e: Vec<f64> = Vec::with_capacity(a.len());
                for (k, x) in a.iter().enumerate() {
                    let v = match x {
                        Json::Str(s) if s == "inf" || s == "+inf" => f64::INFINITY,
                        Json::Str(s) if s == "-inf" => f64::NEG_INFINITY,
                        _ => ctx.real(x, node, &format!("edges[{k}]"))?,
                    };
                    if let Some(&last) = e.last() {
                        if !(last < v) {
                            return Err(ctx.err(node, "binning edges are not monotone increasing"));
                        }
                    }
                    e.push(v);
                }
                if e.len() < 2 {
                    return Err(ctx.err(node, "a binning needs at least two edges"));
                }
                Ok(Edges::List(e))
            }
            Json::Object(_) => {
                let n = match ctx.field(j, node, "n")? {
                    Json::Num(Num::Int(n)) if (0..=i64::from(u32::MAX)).contains(n) => *n as u32,
                    _ => {
                        return Err(ctx.err(
                            node,
                            "uniform binning \"n\" must be an unsigned 32-bit integer",
                        ))
                    }
                };
                if n == 0 {
                    return Err(ctx.err(node, "uniform binning has zero bins"));
                }
                let low = ctx.real(ctx.field(j, node, "low")?, node, "\"low\"")?;
                let high = ctx.real(ctx.field(j, node, "high")?, node, "\"high\"")?;
                Ok(Edges::Uniform { n, low, high })
            }
            other => Err(ctx.err(
                node,
                format!(
                    "edges must be an array or a {{n, low, high}} object, not {}",
                    other.kind()
                ),
            )),
        }
    }

    fn flow(&self, j: &Json, node: &str) -> Result<(Flow, Option<Node>), Error> {
        let f = self.ctx.field(j, node, "flow")?;
        Ok(match f {
            Json::Str(s) if s == "clamp" => (Flow::Clamp, None),
            Json::Str(s) if s == "error" => (Flow::Error, None),
            Json::Str(s) if s == "wrap" => (Flow::Wrap, None),
            other => (
                Flow::Value,
                Some(self.content(other, &format!("{node}.flow"))?),
            ),
        })
    }

    fn contents(&self, j: &Json, node: &str) -> Result<Vec<Node>, Error> {
        self.ctx
            .array(j, node, "content")?
            .iter()
            .enumerate()
            .map(|(i, c)| self.content(c, &format!("{node}.content[{i}]")))
            .collect()
    }

    pub(crate) fn content(&self, j: &Json, node: &str) -> Result<Node, Error> {
        let ctx = self.ctx;
        let obj = match j {
            Json::Num(n) => return Ok(Node::Const(n.as_f64())),
            Json::Object(_) if j.get("nodetype").is_some() => j,
            Json::Object(_) => return Err(ctx.err(node, "content object without \"nodetype\"")),
            other => {
                return Err(ctx.err(
                    node,
                    format!("content must be a number or a node, not {}", other.kind()),
                ))
            }
        };
        match ctx.str(obj, node, "nodetype")? {
            "binning" => {
                let content = self.contents(obj, node)?;
                let edges = self.edges(ctx.field(obj, node, "edges")?, node)?;
                if edges.nbins() != content.len() {
                    return Err(ctx.err(
                        node,
                        format!("{} bins but {} content nodes", edges.nbins(), content.len()),
                    ));
                }
                let input = self.numeric_input(ctx.str(obj, node, "input")?, node, "a binning")?;
                let (flow, default) = self.flow(obj, node)?;
                let mut content = content;
                content.push(default.unwrap_or(Node::Const(0.0)));
                Ok(Node::Binning(Box::new(Binning {
                    input,
                    edges,
                    flow,
                    content,
                })))
            }
            "multibinning" => {
                let inputs = ctx.array(obj, node, "inputs")?;
                let edges = ctx.array(obj, node, "edges")?;
                if inputs.len() != edges.len() {
                    return Err(ctx.err(
                        node,
                        format!("{} inputs but {} edge lists", inputs.len(), edges.len()),
                    ));
                }
                let mut axes = Vec::with_capacity(edges.len());
                for (k, (inp, e)) in inputs.iter().zip(edges).enumerate() {
                    let Json::Str(name) = inp else {
                        return Err(ctx.err(node, format!("inputs[{k}] must be a string")));
                    };
                    let edges = self.edges(e, &format!("{node}.edges[{k}]"))?;
                    let input = self.numeric_input(name, node, "a multibinning")?;
                    axes.push(Axis {
                        input,
                        stride: 0,
                        edges,
                    });
                }
                let mut stride: usize = 1;
                for a in axes.iter_mut().rev() {
                    a.stride = stride;
                    stride = stride
                        .checked_mul(a.edges.nbins())
                        .ok_or_else(|| ctx.err(node, "too many bins"))?;
                }
                let mut content = self.contents(obj, node)?;
                if content.len() != stride {
                    return Err(ctx.err(
                        node,
                        format!("{stride} bins but {} content nodes", content.len()),
                    ));
                }
                let (flow, default) = self.flow(obj, node)?;
                content.extend(default);
                Ok(Node::MultiBinning(Box::new(MultiBinning {
                    axes,
                    flow,
                    content,
                })))
            }
            "category" => {
                let name = ctx.str(obj, node, "input")?;
                let input = self.input(name, node)?;
                let ty = self.inputs[input].ty;
                if ty == VarType::Real {
                    return Err(ctx.err(
                        node,
                        format!("a category cannot use the real input {name:?}"),
                    ));
                }
                let mut int_keys: Vec<(i64, Node)> = Vec::new();
                let mut str_keys: Vec<(Box<str>, Node)> = Vec::new();
                for (k, item) in ctx.array(obj, node, "content")?.iter().enumerate() {
                    let inode = format!("{node}.content[{k}]");
                    let (Some(key), Some(value)) = (item.get("key"), item.get("value")) else {
                        return Err(ctx.err(&inode, "expected a {key, value} object"));
                    };
                    let value = || self.content(value, &format!("{inode}.value"));
                    let bad_type = |what: &str| {
                        ctx.err(
                            &inode,
                            format!("key of type {what} but the input {name:?} is {ty}"),
                        )
                    };
                    match key {
                        Json::Str(s) => {
                            if ty != VarType::Str {
                                return Err(bad_type("string"));
                            }
                            if !str_keys.iter().any(|(k, _)| **k == **s) {
                                str_keys.push((s.as_str().into(), value()?));
                            }
                        }
                        // correctionlib keys are 32-bit integers (rapidjson's IsInt).
                        Json::Num(Num::Int(i)) if i32::try_from(*i).is_ok() => {
                            if ty != VarType::Int {
                                return Err(bad_type("int"));
                            }
                            if !int_keys.iter().any(|(k, _)| k == i) {
                                int_keys.push((*i, value()?));
                            }
                        }
                        _ => {
                            return Err(
                                ctx.err(&inode, "category keys must be strings or 32-bit integers")
                            )
                        }
                    }
                }
                let default = match obj.get("default") {
                    None | Some(Json::Null) => None,
                    Some(d) => Some(self.content(d, &format!("{node}.default"))?),
                };
                if ty == VarType::Int {
                    int_keys.sort_by_key(|(k, _)| *k);
                    let (keys, content) = int_keys.into_iter().unzip();
                    Ok(Node::CategoryInt(Box::new(CategoryInt {
                        input,
                        keys,
                        content,
                        default,
                    })))
                } else {
                    let (keys, content): (Vec<Box<str>>, Vec<Node>) = str_keys.into_iter().unzip();
                    let index = (keys.len() > 8).then(|| {
                        keys.iter()
                            .cloned()
                            .enumerate()
                            .map(|(i, k)| (k, i))
                            .collect::<HashMap<_, _>>()
                    });
                    Ok(Node::CategoryStr(Box::new(CategoryStr {
                        input,
                        keys,
                        content,
                        index,
                        default,
                    })))
                }
            }
            "formula" => Ok(Node::Formula(Box::new(self.formula(obj, node, false)?))),
            "formularef" => {
                let index = match ctx.field(obj, node, "index")? {
                    Json::Num(Num::Int(i)) if i32::try_from(*i).is_ok() => *i,
                    _ => return Err(ctx.err(node, "\"index\" must be a 32-bit integer")),
                };
                let formula = usize::try_from(index)
                    .ok()
                    .and_then(|i| self.generic.get(i))
                    .ok_or_else(|| {
                        ctx.err(
                            node,
                            format!(
                                "no generic formula {index} (the correction has {})",
                                self.generic.len()
                            ),
                        )
                    })?
                    .clone();
                let params: Vec<f64> = ctx
                    .array(obj, node, "parameters")?
                    .iter()
                    .map(|p| ctx.number(p, node, "a formula parameter"))
                    .collect::<Result<_, _>>()?;
                if let Some(m) = formula.max_param() {
                    if m >= params.len() {
                        // correctionlib would read past its parameter array here.
                        return Err(ctx.err(
                            node,
                            format!("generic formula {index} uses parameter [{m}] but only {} are given", params.len()),
                        ));
                    }
                }
                Ok(Node::FormulaRef(Box::new(FormulaRef { formula, params })))
            }
            "transform" => {
                let input =
                    self.numeric_input(ctx.str(obj, node, "input")?, node, "a transform")?;
                let rule = self.content(ctx.field(obj, node, "rule")?, &format!("{node}.rule"))?;
                let content =
                    self.content(ctx.field(obj, node, "content")?, &format!("{node}.content"))?;
                Ok(Node::Transform(Box::new(Transform {
                    input,
                    rule,
                    content,
                })))
            }
            "hashprng" => {
                let mut inputs = Vec::new();
                for (k, i) in ctx.array(obj, node, "inputs")?.iter().enumerate() {
                    let Json::Str(name) = i else {
                        return Err(ctx.err(node, format!("inputs[{k}] must be a string")));
                    };
                    inputs.push(self.numeric_input(name, node, "a hashprng")?);
                }
                let dist = match ctx.str(obj, node, "distribution")? {
                    "stdflat" => Distribution::StdFlat,
                    "stdnormal" => Distribution::StdNormal,
                    "normal" => Distribution::Normal,
                    other => {
                        return Err(ctx.err(
                            node,
                            format!(
                                "unknown distribution {other:?} (stdflat, stdnormal or normal)"
                            ),
                        ))
                    }
                };
                Ok(Node::HashPrng(Box::new(HashPrng { inputs, dist })))
            }
            "lwtnn" => Err(ctx.err(
                node,
                "lwtnn (neural network) nodes are not supported by casa",
            )),
            other => Err(ctx.err(node, format!("unknown nodetype {other:?}"))),
        }
    }
}

pub(crate) fn names(vars: &[Variable]) -> String {
    vars.iter()
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn correction(ctx: &Ctx, j: &Json, node: &str) -> Result<Correction, Error> {
    if !matches!(j, Json::Object(_)) {
        return Err(ctx.err(node, "expected a correction object"));
    }
    let name = ctx.str(j, node, "name")?.to_string();
    let node = format!("{node} {name:?}");
    let node = node.as_str();
    let description = ctx.opt_str(j, node, "description")?;
    let version = match ctx.field(j, node, "version")? {
        Json::Num(Num::Int(v)) if i32::try_from(*v).is_ok() => *v,
        _ => return Err(ctx.err(node, "\"version\" must be a 32-bit integer")),
    };
    let output = output(ctx, j, node)?;
    let inputs = variables(ctx, j, node)?;
    let mut scope = Scope {
        ctx,
        inputs: &inputs,
        generic: Vec::new(),
    };
    match j.get("generic_formulas") {
        None | Some(Json::Null) => {}
        Some(Json::Array(items)) => {
            for (k, f) in items.iter().enumerate() {
                let e = scope.formula(f, &format!("{node}.generic_formulas[{k}]"), true)?;
                scope.generic.push(Arc::new(e));
            }
        }
        Some(_) => return Err(ctx.err(node, "\"generic_formulas\" must be an array")),
    }
    let data = scope.content(ctx.field(j, node, "data")?, &format!("{node}.data"))?;
    Ok(Correction {
        name,
        description,
        version: Some(version),
        inputs,
        output,
        kind: Kind::Simple(data),
    })
}

pub(crate) fn compound(
    ctx: &Ctx,
    j: &Json,
    node: &str,
    simple: &[Arc<Correction>],
    by_name: &HashMap<String, usize>,
) -> Result<Correction, Error> {
    if !matches!(j, Json::Object(_)) {
        return Err(ctx.err(node, "expected a compound correction object"));
    }
    let name = ctx.str(j, node, "name")?.to_string();
    let node = format!("{node} {name:?}");
    let node = node.as_str();
    let description = ctx.opt_str(j, node, "description")?;
    let output = output(ctx, j, node)?;
    let inputs = variables(ctx, j, node)?;
    let index = |n: &str| {
        inputs.iter().position(|v| v.name == n).ok_or_else(|| {
            ctx.err(
                node,
                format!(
                    "input {n:?} is not one of the compound correction's inputs ({})",
                    names(&inputs)
                ),
            )
        })
    };
    let mut update = Vec::new();
    for (k, u) in ctx.array(j, node, "inputs_update")?.iter().enumerate() {
        let Json::Str(n) = u else {
            return Err(ctx.err(node, format!("inputs_update[{k}] must be a string")));
        };
        let i = index(n)?;
        if inputs[i].ty != VarType::Real {
            return Err(ctx.err(node, format!("updated input {n:?} must be real-valued")));
        }
        update.push(i);
    }
    let op = |key: &str, last_ok: bool| -> Result<Op, Error> {
        match ctx.str(j, node, key)? {
            "+" => Ok(Op::Add),
            "*" => Ok(Op::Mul),
            "/" => Ok(Op::Div),
            "last" if last_ok => Ok(Op::Last),
            other => Err(ctx.err(node, format!("invalid {key} {other:?}"))),
        }
    };
    let input_op = op("input_op", false)?;
    let output_op = op("output_op", true)?;
    let mut stack = Vec::new();
    for (k, s) in ctx.array(j, node, "stack")?.iter().enumerate() {
        let Json::Str(n) = s else {
            return Err(ctx.err(node, format!("stack[{k}] must be a string")));
        };
        let corr = by_name.get(n).map(|&i| simple[i].clone()).ok_or_else(|| {
            ctx.err(
                node,
                format!("stack correction {n:?} is not in the correction set"),
            )
        })?;
        let map = corr
            .inputs
            .iter()
            .map(|v| index(&v.name))
            .collect::<Result<Vec<_>, _>>()?;
        stack.push((map, corr));
    }
    Ok(Correction {
        name,
        description,
        version: None,
        inputs,
        output,
        kind: Kind::Compound(Compound {
            stack,
            update,
            input_op,
            output_op,
        }),
    })
}
