//! What an analysis plugin tells the host about histograms: their declarations (the JSON of
//! [`HistSpec`]) and the values it fills them with ([`FillArg`]).
//!
//! One definition for both sides: casa-hist checks and fills them, the plugin SDK
//! (casa-plugin) builds them. Plugins carry no histogram engine, so this crate is small and
//! depends on serde alone.

mod fill;
mod spec;

pub use fill::FillArg;
pub use spec::{regular_range, AxisSpec, HistSpec, StorageKind, Transform, MAX_BINS};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_read_as_python_hist_names_them() {
        let spec: HistSpec = serde_json::from_str(
            r#"{"axes": [{"type": "regular", "bins": 2, "start": 1, "stop": 100,
                          "transform": {"kind": "log"}, "name": "x"},
                         {"type": "boolean", "name": "b"}], "storage": "weighted_mean"}"#,
        )
        .unwrap();
        assert_eq!(spec.storage, StorageKind::WeightedMean);
        assert_eq!(spec.axes[0].extent(), 4);
        assert_eq!(spec.axes[1].extent(), 2);
        // Log-spaced edges, as boost-histogram computes them.
        let e = spec.axes[0].edges();
        assert_eq!(e.len(), 3);
        assert!((e[1] - 10.0).abs() < 1e-12, "{e:?}");
        for k in StorageKind::ALL {
            assert_eq!(StorageKind::from_name(k.name()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        assert_eq!(StorageKind::from_name("profile"), None);
    }

    #[test]
    fn fill_arguments_know_their_length() {
        assert_eq!(FillArg::Bool(&[true, false]).array_len(), Some(2));
        assert_eq!(FillArg::OneBool(true).array_len(), None);
        assert_eq!(FillArg::OneBool(true).type_name(), "bool");
    }
}
