//! Declaring histograms with a builder close to `hist.Hist.new`: axes in order, then the
//! storage. The declaration is casa-histspec's `HistSpec`, the type the host reads, sent as
//! JSON, so plugins carry no histogram code.

use casa_histspec::{AxisSpec, HistSpec, StorageKind, Transform};

/// Start a histogram declaration: `Hist::new().str_cat(..).log(..).int64()`.
#[derive(Debug, Clone, Default)]
pub struct Hist {
    axes: Vec<AxisSpec>,
}

/// A finished declaration (axes and storage).
#[derive(Debug, Clone)]
pub struct HistDecl {
    pub(crate) spec: HistSpec,
}

impl HistDecl {
    /// The JSON the host receives.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.spec).expect("a histogram declaration serialises")
    }

    /// The declaration.
    pub fn spec(&self) -> &HistSpec {
        &self.spec
    }
}

impl Hist {
    pub fn new() -> Hist {
        Hist::default()
    }

    fn axis(mut self, a: AxisSpec) -> Hist {
        self.axes.push(a);
        self
    }

    fn regular(self, bins: u32, start: f64, stop: f64, transform: Transform, name: &str) -> Hist {
        self.axis(AxisSpec::Regular {
            bins,
            start,
            stop,
            transform,
            name: name.into(),
            label: String::new(),
            underflow: true,
            overflow: true,
            circular: false,
        })
    }

    /// `StrCat(categories, name=...)`; unknown labels go to the overflow bin.
    pub fn str_cat(self, categories: &[&str], name: &str) -> Hist {
        self.str_category(categories, name, false)
    }

    /// `StrCat([], name=..., growth=True)`.
    pub fn str_cat_growth(self, categories: &[&str], name: &str) -> Hist {
        self.str_category(categories, name, true)
    }

    fn str_category(self, categories: &[&str], name: &str, growth: bool) -> Hist {
        self.axis(AxisSpec::StrCategory {
            categories: categories.iter().map(|c| c.to_string()).collect(),
            growth,
            name: name.into(),
            label: String::new(),
        })
    }

    /// `IntCat(categories, name=...)`.
    pub fn int_cat(self, categories: &[i64], name: &str, growth: bool) -> Hist {
        self.axis(AxisSpec::IntCategory {
            categories: categories.to_vec(),
            growth,
            name: name.into(),
            label: String::new(),
        })
    }

    /// `Reg(bins, start, stop, name=...)`.
    pub fn reg(self, bins: u32, start: f64, stop: f64, name: &str) -> Hist {
        self.regular(bins, start, stop, Transform::None, name)
    }

    /// `Log(bins, start, stop, name=...)`: regular in log space.
    pub fn log(self, bins: u32, start: f64, stop: f64, name: &str) -> Hist {
        self.regular(bins, start, stop, Transform::Log, name)
    }

    /// `Sqrt(bins, start, stop, name=...)`.
    pub fn sqrt(self, bins: u32, start: f64, stop: f64, name: &str) -> Hist {
        self.regular(bins, start, stop, Transform::Sqrt, name)
    }

    /// `Pow(bins, start, stop, power, name=...)`.
    pub fn pow(self, bins: u32, start: f64, stop: f64, power: f64, name: &str) -> Hist {
        self.regular(bins, start, stop, Transform::Pow { power }, name)
    }

    /// `Var(edges, name=...)`.
    pub fn var(self, edges: &[f64], name: &str) -> Hist {
        self.axis(AxisSpec::Variable {
            edges: edges.to_vec(),
            name: name.into(),
            label: String::new(),
            underflow: true,
            overflow: true,
        })
    }

    /// `Integer(start, stop, name=...)`.
    pub fn integer(self, start: i64, stop: i64, name: &str) -> Hist {
        self.axis(AxisSpec::Integer {
            start,
            stop,
            name: name.into(),
            label: String::new(),
            underflow: true,
            overflow: true,
            growth: false,
        })
    }

    /// `Boolean(name=...)`.
    pub fn boolean(self, name: &str) -> Hist {
        self.axis(AxisSpec::Boolean {
            name: name.into(),
            label: String::new(),
        })
    }

    /// Set the label of the last axis added.
    pub fn label(mut self, text: &str) -> Hist {
        if let Some(
            AxisSpec::Regular { label, .. }
            | AxisSpec::Variable { label, .. }
            | AxisSpec::Integer { label, .. }
            | AxisSpec::StrCategory { label, .. }
            | AxisSpec::IntCategory { label, .. }
            | AxisSpec::Boolean { label, .. },
        ) = self.axes.last_mut()
        {
            *label = text.into();
        }
        self
    }

    /// Turn off the underflow and overflow bins of the last axis (regular, variable, integer;
    /// the others have no such flags).
    pub fn no_flow(mut self) -> Hist {
        if let Some((underflow, overflow)) = self.axes.last_mut().and_then(|a| a.flow_flags_mut()) {
            *underflow = false;
            *overflow = false;
        }
        self
    }

    fn storage(self, storage: StorageKind) -> HistDecl {
        HistDecl {
            spec: HistSpec {
                axes: self.axes,
                storage,
                label: String::new(),
            },
        }
    }

    pub fn int64(self) -> HistDecl {
        self.storage(StorageKind::Int64)
    }
    pub fn double(self) -> HistDecl {
        self.storage(StorageKind::Double)
    }
    pub fn weight(self) -> HistDecl {
        self.storage(StorageKind::Weight)
    }
    pub fn mean(self) -> HistDecl {
        self.storage(StorageKind::Mean)
    }
    pub fn weighted_mean(self) -> HistDecl {
        self.storage(StorageKind::WeightedMean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON a plugin sends reads back as the same declaration (the host parses it with
    /// the same type), and says what Python hist would (checked field by field).
    #[test]
    fn declarations_are_histspec_json() {
        let d = Hist::new()
            .str_cat(&["a", "b"], "sign")
            .log(10, 0.5, 50.0, "mass")
            .label("m")
            .integer(0, 3, "n")
            .no_flow()
            .boolean("ok")
            .weight();
        let v: serde_json::Value = serde_json::from_str(&d.to_json()).unwrap();
        assert_eq!(v["storage"], "weight");
        assert_eq!(v["axes"][0]["type"], "str_category");
        assert_eq!(v["axes"][0]["categories"], serde_json::json!(["a", "b"]));
        assert_eq!(v["axes"][1]["transform"]["kind"], "log");
        assert_eq!(v["axes"][1]["label"], "m");
        assert_eq!(v["axes"][2]["underflow"], false);
        assert_eq!(v["axes"][2]["overflow"], false);
        assert_eq!(v["axes"][3]["type"], "boolean");
        let back: HistSpec = serde_json::from_str(&d.to_json()).unwrap();
        assert_eq!(&back, d.spec());
    }
}
