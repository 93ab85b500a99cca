//! Declaring histograms with a builder close to `hist.Hist.new`: axes in order, then the
//! storage. The declaration is sent to the host as JSON (casa-hist's `HistSpec`), so plugins
//! carry no histogram code.

use serde_json::{json, Value};

/// Start a histogram declaration: `Hist::new().str_cat(..).log(..).int64()`.
#[derive(Debug, Clone, Default)]
pub struct Hist {
    axes: Vec<Value>,
}

/// A finished declaration (axes and storage).
#[derive(Debug, Clone)]
pub struct HistDecl {
    pub(crate) spec: Value,
}

impl HistDecl {
    /// The JSON the host receives.
    pub fn to_json(&self) -> String {
        self.spec.to_string()
    }
}

impl Hist {
    pub fn new() -> Hist {
        Hist::default()
    }

    fn axis(mut self, v: Value) -> Hist {
        self.axes.push(v);
        self
    }

    /// `StrCat(categories, name=...)`; unknown labels go to the overflow bin.
    pub fn str_cat(self, categories: &[&str], name: &str) -> Hist {
        self.axis(json!({"type": "str_category", "categories": categories, "growth": false, "name": name}))
    }

    /// `StrCat([], name=..., growth=True)`.
    pub fn str_cat_growth(self, categories: &[&str], name: &str) -> Hist {
        self.axis(
            json!({"type": "str_category", "categories": categories, "growth": true, "name": name}),
        )
    }

    /// `IntCat(categories, name=...)`.
    pub fn int_cat(self, categories: &[i64], name: &str, growth: bool) -> Hist {
        self.axis(json!({"type": "int_category", "categories": categories, "growth": growth, "name": name}))
    }

    /// `Reg(bins, start, stop, name=...)`.
    pub fn reg(self, bins: u32, start: f64, stop: f64, name: &str) -> Hist {
        self.axis(
            json!({"type": "regular", "bins": bins, "start": start, "stop": stop, "name": name}),
        )
    }

    /// `Log(bins, start, stop, name=...)`: regular in log space.
    pub fn log(self, bins: u32, start: f64, stop: f64, name: &str) -> Hist {
        self.axis(
            json!({"type": "regular", "bins": bins, "start": start, "stop": stop,
                         "transform": {"kind": "log"}, "name": name}),
        )
    }

    /// `Sqrt(bins, start, stop, name=...)`.
    pub fn sqrt(self, bins: u32, start: f64, stop: f64, name: &str) -> Hist {
        self.axis(
            json!({"type": "regular", "bins": bins, "start": start, "stop": stop,
                         "transform": {"kind": "sqrt"}, "name": name}),
        )
    }

    /// `Pow(bins, start, stop, power, name=...)`.
    pub fn pow(self, bins: u32, start: f64, stop: f64, power: f64, name: &str) -> Hist {
        self.axis(
            json!({"type": "regular", "bins": bins, "start": start, "stop": stop,
                         "transform": {"kind": "pow", "power": power}, "name": name}),
        )
    }

    /// `Var(edges, name=...)`.
    pub fn var(self, edges: &[f64], name: &str) -> Hist {
        self.axis(json!({"type": "variable", "edges": edges, "name": name}))
    }

    /// `Integer(start, stop, name=...)`.
    pub fn integer(self, start: i64, stop: i64, name: &str) -> Hist {
        self.axis(json!({"type": "integer", "start": start, "stop": stop, "name": name}))
    }

    /// `Boolean(name=...)`.
    pub fn boolean(self, name: &str) -> Hist {
        self.axis(json!({"type": "boolean", "name": name}))
    }

    /// Set the label of the last axis added.
    pub fn label(mut self, label: &str) -> Hist {
        if let Some(Value::Object(a)) = self.axes.last_mut() {
            a.insert("label".into(), Value::String(label.into()));
        }
        self
    }

    /// Turn off the underflow and overflow bins of the last axis (regular, variable, integer).
    pub fn no_flow(mut self) -> Hist {
        if let Some(Value::Object(a)) = self.axes.last_mut() {
            a.insert("underflow".into(), Value::Bool(false));
            a.insert("overflow".into(), Value::Bool(false));
        }
        self
    }

    fn storage(self, s: &str) -> HistDecl {
        HistDecl {
            spec: json!({"axes": self.axes, "storage": s}),
        }
    }

    pub fn int64(self) -> HistDecl {
        self.storage("int64")
    }
    pub fn double(self) -> HistDecl {
        self.storage("double")
    }
    pub fn weight(self) -> HistDecl {
        self.storage("weight")
    }
    pub fn mean(self) -> HistDecl {
        self.storage("mean")
    }
    pub fn weighted_mean(self) -> HistDecl {
        self.storage("weighted_mean")
    }
}
