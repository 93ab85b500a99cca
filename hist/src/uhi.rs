//! The UHI JSON intermediate representation (scikit-hep/uhi `histogram.schema.json`), as
//! hist 2.12 / boost-histogram 1.8 write and read it.
//!
//! Mapping (every choice is what `hist` itself writes):
//! - Integer axes are `regular` axes with `writer_info["boost-histogram"].orig_type =
//!   "Integer"` and integer bounds; growth axes add `growth: true` there.
//! - Transformed regular axes are `variable` axes with the transformed edges, plus
//!   `writer_info["boost-histogram"] = {transform, [power], bins, lower, upper}` (lower and
//!   upper are the first and last computed edges).
//! - Category axes have `flow` = not growth; growth is `writer_info["boost-histogram"]`.
//! - Axis `metadata` is `{name, label}`; the histogram's is `{label}` when it has one.
//! - Storage arrays are nested (first axis outermost) and include the flow bins.
//!
//! JSON has no NaN or infinities, and `serde_json::Value` cannot hold them: in a `Value`,
//! a non-finite number in a storage array is the string `"NaN"`, `"Infinity"` or
//! `"-Infinity"`. [`write_uhi_json`] writes them as the bare tokens Python's `json` writes and
//! reads; [`parse_json_lenient`] reads those tokens back into the strings.

use serde_json::{json, Map, Value};

use crate::error::HistError;
use crate::hist::Hist;
use crate::layout::special_float;
use casa_histspec::{AxisSpec, HistSpec, StorageKind, Transform};

use crate::spec::Normalize;
use crate::storage::{Column, Storage};

fn float_value(x: f64) -> Value {
    match serde_json::Number::from_f64(x) {
        Some(n) => Value::Number(n),
        None if x.is_nan() => Value::String("NaN".into()),
        None if x > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Nests a flat row-major array into lists of lists with the given shape.
fn nest(flat: &[Value], shape: &[usize]) -> Value {
    if shape.len() <= 1 {
        return Value::Array(flat.to_vec());
    }
    let inner: usize = shape[1..].iter().product();
    if inner == 0 {
        return Value::Array((0..shape[0]).map(|_| nest(&[], &shape[1..])).collect());
    }
    Value::Array(flat.chunks(inner).map(|c| nest(c, &shape[1..])).collect())
}

fn metadata(name: &str, label: &str) -> Value {
    json!({"name": name, "label": label})
}

fn axis_to_uhi(a: &AxisSpec) -> Value {
    let meta = metadata(a.name(), a.label());
    match a {
        AxisSpec::Regular {
            bins,
            transform,
            underflow,
            overflow,
            circular,
            ..
        } => {
            let edges = a.edges();
            let (lo, hi) = (edges[0], edges[edges.len() - 1]);
            if *transform == Transform::None {
                return json!({
                    "type": "regular", "lower": lo, "upper": hi, "bins": bins,
                    "underflow": underflow, "overflow": overflow, "circular": circular,
                    "metadata": meta,
                });
            }
            let mut wi = Map::new();
            match transform {
                Transform::Log => wi.insert("transform".into(), json!("log")),
                Transform::Sqrt => wi.insert("transform".into(), json!("sqrt")),
                Transform::Pow { power } => {
                    wi.insert("transform".into(), json!("pow"));
                    wi.insert("power".into(), json!(power))
                }
                Transform::None => None,
            };
            wi.insert("bins".into(), json!(bins));
            wi.insert("lower".into(), float_value(lo));
            wi.insert("upper".into(), float_value(hi));
            json!({
                "type": "variable", "edges": edges.iter().map(|&e| float_value(e)).collect::<Vec<_>>(),
                "underflow": underflow, "overflow": overflow, "circular": circular,
                "writer_info": {"boost-histogram": wi},
                "metadata": meta,
            })
        }
        AxisSpec::Variable {
            edges,
            underflow,
            overflow,
            ..
        } => json!({
            "type": "variable", "edges": edges, "underflow": underflow, "overflow": overflow,
            "circular": false, "metadata": meta,
        }),
        AxisSpec::Integer {
            start,
            stop,
            underflow,
            overflow,
            growth,
            ..
        } => {
            let mut wi = json!({"orig_type": "Integer"});
            if *growth {
                wi["growth"] = json!(true);
            }
            json!({
                "type": "regular", "lower": start, "upper": stop, "bins": a.bins(),
                "underflow": underflow, "overflow": overflow, "circular": false,
                "writer_info": {"boost-histogram": wi},
                "metadata": meta,
            })
        }
        AxisSpec::StrCategory {
            categories, growth, ..
        } => category_to_uhi("category_str", json!(categories), *growth, meta),
        AxisSpec::IntCategory {
            categories, growth, ..
        } => category_to_uhi("category_int", json!(categories), *growth, meta),
        AxisSpec::Boolean { .. } => json!({"type": "boolean", "metadata": meta}),
    }
}

fn category_to_uhi(kind: &str, categories: Value, growth: bool, meta: Value) -> Value {
    let mut v = json!({"type": kind, "categories": categories, "flow": !growth, "metadata": meta});
    if growth {
        v["writer_info"] = json!({"boost-histogram": {"growth": true}});
    }
    v
}

impl Hist {
    /// This histogram in the UHI JSON IR (one histogram object, schema version 1), as hist
    /// writes it. Non-finite numbers are the strings "NaN", "Infinity", "-Infinity"; write
    /// the document with [`write_uhi_json`] to get Python's tokens.
    pub fn to_uhi(&self) -> Value {
        let spec = self.spec();
        let shape = self.shape(true);
        let (kind, columns) = self.storage().uhi_columns();
        let mut storage = Map::new();
        storage.insert("type".into(), json!(kind));
        for (name, col) in columns {
            let flat: Vec<Value> = match col {
                Column::Int(v) => v.into_iter().map(Value::from).collect(),
                Column::Float(v) => v.into_iter().map(float_value).collect(),
            };
            storage.insert(name.into(), nest(&flat, &shape));
        }
        let mut h = json!({
            "uhi_schema": 1,
            "writer_info": {"casa-hist": {"version": env!("CARGO_PKG_VERSION")}},
            "axes": spec.axes.iter().map(axis_to_uhi).collect::<Vec<_>>(),
            "storage": storage,
        });
        if !spec.label.is_empty() {
            h["metadata"] = json!({"label": spec.label});
        }
        h
    }

    /// Reads one histogram of the UHI JSON IR (as [`Hist::to_uhi`] and hist write it; dense,
    /// sparse or empty storage). Non-finite numbers may be numbers' string forms (see
    /// [`parse_json_lenient`]). Axes casa cannot represent (growing regular or variable
    /// axes, circular variable axes, category axes without an overflow bin unless growing)
    /// are errors naming the axis.
    pub fn from_uhi(v: &Value) -> Result<Hist, HistError> {
        let obj = v
            .as_object()
            .ok_or_else(|| HistError::uhi("/", "not an object"))?;
        match obj.get("uhi_schema") {
            Some(s) if s.as_u64() == Some(1) => {}
            Some(s) => {
                return Err(HistError::uhi(
                    "/uhi_schema",
                    format!("schema version {s}: this casa reads version 1"),
                ))
            }
            None => return Err(HistError::uhi("/", "no uhi_schema: not a UHI histogram")),
        }
        let axes_v = obj
            .get("axes")
            .and_then(Value::as_array)
            .ok_or_else(|| HistError::uhi("/axes", "missing or not an array"))?;
        let axes = axes_v
            .iter()
            .enumerate()
            .map(|(i, a)| axis_from_uhi(a, &format!("/axes/{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let storage_v = obj
            .get("storage")
            .and_then(Value::as_object)
            .ok_or_else(|| HistError::uhi("/storage", "missing or not an object"))?;
        let kind = match storage_v.get("type").and_then(Value::as_str) {
            Some("int") => StorageKind::Int64,
            Some("double") => StorageKind::Double,
            Some("weighted") => StorageKind::Weight,
            Some("mean") => StorageKind::Mean,
            Some("weighted_mean") => StorageKind::WeightedMean,
            other => {
                return Err(HistError::uhi(
                    "/storage/type",
                    format!("unknown storage type {other:?}"),
                ))
            }
        };
        let label = match obj.get("metadata").and_then(|m| m.get("label")) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let spec = HistSpec {
            axes,
            storage: kind,
            label,
        };
        let spec = spec
            .normalized()
            .map_err(|e| HistError::uhi("/axes", e.to_string()))?;
        let shape: Vec<usize> = spec.axes.iter().map(|a| a.extent()).collect();
        let mut storage = Storage::new(kind, shape.iter().product());
        read_storage(&mut storage, storage_v, kind, &shape)?;
        Ok(Hist::from_parts(spec, storage))
    }
}

fn get_str<'a>(a: &'a Value, key: &str) -> Option<&'a str> {
    a.get(key).and_then(Value::as_str)
}

fn get_bool(a: &Value, key: &str, path: &str) -> Result<bool, HistError> {
    a.get(key)
        .and_then(Value::as_bool)
        .ok_or_else(|| HistError::uhi(format!("{path}/{key}"), "missing or not a boolean"))
}

fn get_f64(a: &Value, key: &str, path: &str) -> Result<f64, HistError> {
    a.get(key)
        .and_then(number)
        .ok_or_else(|| HistError::uhi(format!("{path}/{key}"), "missing or not a number"))
}

/// An integer written as an integer or as an integral float.
fn integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        let f = v.as_f64()?;
        (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
    })
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => special_float(s),
        _ => None,
    }
}

fn axis_from_uhi(a: &Value, path: &str) -> Result<AxisSpec, HistError> {
    let ty = get_str(a, "type").ok_or_else(|| HistError::uhi(format!("{path}/type"), "missing"))?;
    let meta = a.get("metadata");
    let text = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (name, label) = (text("name"), text("label"));
    let bh = a.get("writer_info").and_then(|w| w.get("boost-histogram"));
    let bh_str = |k: &str| bh.and_then(|w| w.get(k)).and_then(Value::as_str);
    let growth = bh
        .and_then(|w| w.get("growth"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let circular = a.get("circular").and_then(Value::as_bool).unwrap_or(false);
    let unsupported = |what: &str| {
        HistError::uhi(
            path,
            format!("{what} (axis `{name}`) has no casa equivalent"),
        )
    };
    match ty {
        "regular" if bh_str("orig_type") == Some("Integer") => {
            let lower = a.get("lower").and_then(integer);
            let upper = a.get("upper").and_then(integer);
            let (Some(start), Some(stop)) = (lower, upper) else {
                return Err(HistError::uhi(
                    path,
                    "an Integer axis needs integer lower and upper",
                ));
            };
            let bins = a.get("bins").and_then(Value::as_u64);
            if bins.map(i128::from) != Some(i128::from(stop) - i128::from(start)) {
                return Err(HistError::uhi(
                    path,
                    format!("Integer axis: bins {bins:?} is not upper - lower"),
                ));
            }
            if circular {
                return Err(unsupported("a circular Integer axis"));
            }
            Ok(AxisSpec::Integer {
                start,
                stop,
                name,
                label,
                underflow: get_bool(a, "underflow", path)?,
                overflow: get_bool(a, "overflow", path)?,
                growth,
            })
        }
        "regular" => {
            if growth {
                return Err(unsupported("a growing regular axis"));
            }
            let bins = a
                .get("bins")
                .and_then(Value::as_u64)
                .and_then(|b| u32::try_from(b).ok())
                .ok_or_else(|| {
                    HistError::uhi(format!("{path}/bins"), "missing or not a bin count")
                })?;
            Ok(AxisSpec::Regular {
                bins,
                start: get_f64(a, "lower", path)?,
                stop: get_f64(a, "upper", path)?,
                transform: Transform::None,
                name,
                label,
                underflow: get_bool(a, "underflow", path)?,
                overflow: get_bool(a, "overflow", path)?,
                circular,
            })
        }
        "variable" => {
            if let Some(t) = bh_str("transform") {
                // boost-histogram restores the regular axis from these, and so do we.
                let transform = match t {
                    "log" => Some(Transform::Log),
                    "sqrt" => Some(Transform::Sqrt),
                    "pow" => Some(Transform::Pow {
                        power: bh
                            .and_then(|w| w.get("power"))
                            .and_then(number)
                            .ok_or_else(|| {
                                HistError::uhi(
                                    format!("{path}/writer_info"),
                                    "pow transform without power",
                                )
                            })?,
                    }),
                    _ => None,
                };
                if let Some(transform) = transform {
                    let w = bh.unwrap_or(&Value::Null);
                    let wpath = format!("{path}/writer_info/boost-histogram");
                    let bins = w
                        .get("bins")
                        .and_then(Value::as_u64)
                        .and_then(|b| u32::try_from(b).ok())
                        .ok_or_else(|| {
                            HistError::uhi(format!("{wpath}/bins"), "missing or not a bin count")
                        })?;
                    return Ok(AxisSpec::Regular {
                        bins,
                        start: get_f64(w, "lower", &wpath)?,
                        stop: get_f64(w, "upper", &wpath)?,
                        transform,
                        name,
                        label,
                        underflow: true,
                        overflow: true,
                        circular: false,
                    });
                }
            }
            if growth {
                return Err(unsupported("a growing variable axis"));
            }
            if circular {
                return Err(unsupported("a circular variable axis"));
            }
            let edges = match a.get("edges") {
                Some(Value::Array(e)) => e
                    .iter()
                    .map(number)
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| HistError::uhi(format!("{path}/edges"), "not all numbers"))?,
                Some(Value::String(s)) => {
                    return Err(HistError::uhi(
                        format!("{path}/edges"),
                        format!("edges stored elsewhere ({s:?}): only inline JSON arrays are read"),
                    ))
                }
                _ => return Err(HistError::uhi(format!("{path}/edges"), "missing")),
            };
            Ok(AxisSpec::Variable {
                edges,
                name,
                label,
                underflow: get_bool(a, "underflow", path)?,
                overflow: get_bool(a, "overflow", path)?,
            })
        }
        "category_str" | "category_int" => {
            let flow = get_bool(a, "flow", path)?;
            if flow == growth {
                return Err(unsupported(if growth {
                    "a growing category axis with a flow bin"
                } else {
                    "a category axis without a flow bin"
                }));
            }
            let cats = a
                .get("categories")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    HistError::uhi(format!("{path}/categories"), "missing or not an array")
                })?;
            if ty == "category_str" {
                let categories = cats
                    .iter()
                    .map(|c| c.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        HistError::uhi(format!("{path}/categories"), "not all strings")
                    })?;
                Ok(AxisSpec::StrCategory {
                    categories,
                    growth,
                    name,
                    label,
                })
            } else {
                let categories = cats
                    .iter()
                    .map(Value::as_i64)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        HistError::uhi(format!("{path}/categories"), "not all integers")
                    })?;
                Ok(AxisSpec::IntCategory {
                    categories,
                    growth,
                    name,
                    label,
                })
            }
        }
        "boolean" => Ok(AxisSpec::Boolean { name, label }),
        other => Err(HistError::uhi(
            format!("{path}/type"),
            format!("unknown axis type {other:?}"),
        )),
    }
}

/// Flattens a nested array of the given shape (row-major), checking every extent.
fn flatten<'a>(
    v: &'a Value,
    shape: &[usize],
    path: &str,
    out: &mut Vec<&'a Value>,
) -> Result<(), HistError> {
    let Some((&n, rest)) = shape.split_first() else {
        out.push(v);
        return Ok(());
    };
    let arr = v
        .as_array()
        .ok_or_else(|| HistError::uhi(path, "not an array"))?;
    // JSON collapses empty trailing dimensions ([[], []] may come as []), as uhi notes.
    if arr.is_empty() && n == 0 {
        return Ok(());
    }
    if arr.len() != n {
        return Err(HistError::uhi(
            path,
            format!("{} entries where the axes give {n}", arr.len()),
        ));
    }
    for (i, x) in arr.iter().enumerate() {
        flatten(x, rest, &format!("{path}/{i}"), out)?;
    }
    Ok(())
}

fn read_storage(
    storage: &mut Storage,
    s: &Map<String, Value>,
    kind: StorageKind,
    shape: &[usize],
) -> Result<(), HistError> {
    let names: &[&str] = match kind {
        StorageKind::Int64 | StorageKind::Double => &["values"],
        StorageKind::Weight => &["values", "variances"],
        StorageKind::Mean => &["counts", "values", "variances"],
        StorageKind::WeightedMean => &[
            "sum_of_weights",
            "sum_of_weights_squared",
            "values",
            "variances",
        ],
    };
    let present = names.iter().filter(|k| s.contains_key(**k)).count();
    if present == 0 {
        // A structure-only histogram: empty bins.
        return Ok(());
    }
    if present != names.len() {
        return Err(HistError::uhi(
            "/storage",
            format!("needs all of {names:?}"),
        ));
    }
    let len: usize = shape.iter().product();
    // Which bins the data arrays describe: all of them (dense), or those in `index` (sparse).
    let bins: Vec<usize> = match s.get("index") {
        None => (0..len).collect(),
        Some(index) => {
            let rows = index
                .as_array()
                .filter(|r| r.len() == shape.len())
                .ok_or_else(|| HistError::uhi("/storage/index", "not one index list per axis"))?;
            let mut cols: Vec<Vec<usize>> = Vec::new();
            for (k, r) in rows.iter().enumerate() {
                let c = r
                    .as_array()
                    .and_then(|r| {
                        r.iter()
                            .map(|x| x.as_u64().map(|x| x as usize))
                            .collect::<Option<Vec<_>>>()
                    })
                    .ok_or_else(|| {
                        HistError::uhi(format!("/storage/index/{k}"), "not a list of indices")
                    })?;
                if let Some(&bad) = c.iter().find(|&&i| i >= shape[k]) {
                    return Err(HistError::uhi(
                        format!("/storage/index/{k}"),
                        format!("index {bad} past the {} bins of the axis", shape[k]),
                    ));
                }
                cols.push(c);
            }
            let m = cols.first().map_or(0, |c| c.len());
            if cols.iter().any(|c| c.len() != m) {
                return Err(HistError::uhi(
                    "/storage/index",
                    "index lists of different lengths",
                ));
            }
            (0..m)
                .map(|j| {
                    cols.iter()
                        .zip(shape)
                        .fold(0, |acc, (c, &e)| acc * e + c[j])
                })
                .collect()
        }
    };
    let data_shape: Vec<usize> = if s.contains_key("index") {
        vec![bins.len()]
    } else {
        shape.to_vec()
    };
    let mut columns: Vec<Vec<&Value>> = Vec::new();
    for name in names {
        let path = format!("/storage/{name}");
        let v = &s[*name];
        if v.is_string() {
            return Err(HistError::uhi(
                path,
                "data stored elsewhere (a zip/HDF5 reference): only inline JSON arrays are read",
            ));
        }
        let mut flat = Vec::with_capacity(bins.len());
        flatten(v, &data_shape, &path, &mut flat)?;
        if flat.len() != bins.len() {
            return Err(HistError::uhi(
                path,
                format!("{} values for {} bins", flat.len(), bins.len()),
            ));
        }
        columns.push(flat);
    }
    let mut row = vec![0.0; names.len()];
    for (j, &bin) in bins.iter().enumerate() {
        let mut int = None;
        for (k, c) in columns.iter().enumerate() {
            let path = || format!("/storage/{}/{j}", names[k]);
            if kind == StorageKind::Int64 {
                int = Some(integer(c[j]).ok_or_else(|| HistError::uhi(path(), "not an integer"))?);
            } else {
                row[k] = number(c[j]).ok_or_else(|| HistError::uhi(path(), "not a number"))?;
            }
        }
        storage.set_from_uhi(bin, int, &row);
    }
    Ok(())
}

/// Parses JSON that may hold Python's bare `NaN`, `Infinity` and `-Infinity` (which
/// Python's `json` writes for non-finite floats), turning them into the strings "NaN",
/// "Infinity", "-Infinity" (a `serde_json::Value` cannot hold those numbers).
pub fn parse_json_lenient(text: &str) -> Result<Value, HistError> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    let mut last = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        let token = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| b[i..].starts_with(t.as_bytes()));
        if let Some(t) = token {
            out.push_str(&text[last..i]);
            out.push('"');
            out.push_str(t);
            out.push('"');
            i += t.len();
            last = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    Ok(serde_json::from_str(&out)?)
}

/// Writes JSON as Python's `json` does for UHI documents: compact, with non-finite numbers
/// of storage arrays (the strings "NaN", "Infinity", "-Infinity" in a [`Hist::to_uhi`] value)
/// as bare tokens. Strings anywhere else (labels, categories) are left alone.
pub fn write_uhi_json(v: &Value) -> String {
    let mut out = String::new();
    write(&mut out, v, false);
    out
}

fn write(out: &mut String, v: &Value, in_storage: bool) {
    match v {
        Value::Object(m) => {
            let is_hist = m.contains_key("uhi_schema");
            out.push('{');
            for (k, (key, x)) in m.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(out, x, in_storage || (is_hist && key == "storage"));
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (k, x) in a.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                match x {
                    Value::String(s)
                        if in_storage && matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") =>
                    {
                        out.push_str(s)
                    }
                    _ => write(out, x, in_storage),
                }
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}
