//! Write casa analysis plugins in Rust.
//!
//! A plugin is a `cdylib` with one type implementing [`Processor`] and one line,
//! [`export_plugin!`]. It lists the branches it reads, declares histograms in `init`, and in
//! `process` looks at a batch of events and fills. Results are keyed by dataset by the host,
//! as coffea's Runner does, so plugins never handle datasets themselves.
//!
//! ```
//! use casa_plugin::{export_plugin, Events, Fill, Hist, HistId, Output, Processor, Result};
//!
//! struct Dimuon { mass: HistId }
//!
//! impl Processor for Dimuon {
//!     const NAME: &'static str = "dimuon";
//!     const COLUMNS: &'static [&'static str] =
//!         &["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"];
//!
//!     fn init(out: &mut Output) -> Result<Self> {
//!         let h = Hist::new()
//!             .str_cat(&["opposite", "same"], "sign")
//!             .log(1000, 0.2, 200.0, "mass").label("$m_{\\mu\\mu}$ [GeV]")
//!             .int64();
//!         Ok(Dimuon { mass: out.hist("mass", h)? })
//!     }
//!
//!     fn process(&mut self, events: &Events, out: &mut Output) -> Result<()> {
//!         let muons = events.candidates("Muon")?;
//!         let mut opposite = Vec::new();
//!         for i in 0..events.len() {
//!             let mu = muons.event(i);
//!             if mu.len() == 2 && mu.get(0).charge + mu.get(1).charge == 0 {
//!                 opposite.push((mu.get(0).p4() + mu.get(1).p4()).mass());
//!             }
//!         }
//!         out.fill(self.mass, &[Fill::OneStr("opposite"), Fill::F64(&opposite)])?;
//!         out.count("entries", events.len() as u64)
//!     }
//! }
//! export_plugin!(Dimuon);
//! ```
//!
//! Beyond that:
//!
//! - columns of any number type read as the type you ask ([`Element`], [`Events::values_as`]),
//!   optional columns ([`Processor::OPTIONAL`], [`Events::optional`]) and columns chosen per
//!   dataset ([`Processor::columns`]); typed, cached metadata ([`Events::meta`]);
//! - NanoAOD collections ([`Events::collection`], [`collection`]): fields by name, four-vectors,
//!   selections as index lists, sorting, argmax, combinations, cross references, ΔR matching;
//! - named cuts and cutflows ([`PackedSelection`], [`Cutflow`]);
//! - reproducible random numbers keyed by file and entry ([`Events::rng`], [`random`]);
//! - in-memory batches for unit tests ([`testing::TestBatch`]).
//!
//! C and C++ plugins use `include/casa_plugin.h` directly; this crate mirrors it in [`abi`].
//! The collections, conversions, selections and test batches are Rust-only conveniences; what
//! needs the host (optional and per-dataset columns, the entry range and file UUID, the
//! random-number definition) is in the header too.

pub mod abi;
pub mod collection;
mod events;
#[doc(hidden)]
pub mod ffi;
mod hist;
mod output;
pub mod random;
mod selection;
mod setup;
pub mod testing;
pub mod vec4;

/// correctionlib corrections (JSON schema v2), evaluated natively: the `casa-correction`
/// crate. Open a shipped file with `CorrectionSet::open(out.input("corrections.json")?)?` in
/// `init`, keep it in the processor, evaluate in `process`.
///
/// ```
/// use casa_plugin::correction::{Column, CorrectionSet, Value};
/// let set = CorrectionSet::from_json(r#"{"schema_version": 2, "corrections": [{
///     "name": "btag", "version": 1,
///     "inputs": [{"name": "direction", "type": "string"}, {"name": "pt", "type": "real"}],
///     "output": {"name": "w", "type": "real"},
///     "data": {"nodetype": "category", "input": "direction", "content": [
///         {"key": "up", "value": {"nodetype": "formula", "expression": "1.0 + (x*0.075 / 50)",
///                                 "parser": "TFormula", "variables": ["pt"]}}]}}]}"#)?;
/// let btag = set.get("btag")?;
/// assert_eq!(btag.evaluate(&[Value::Str("up"), Value::Real(50.0)])?, 1.075);
/// let mut w = [0.0; 2];
/// btag.evaluate_batch(&[Column::Const(Value::Str("up")), Column::F32(&[50.0, 100.0])], &mut w)?;
/// assert_eq!(w, [1.075, 1.15]);
/// # Ok::<(), casa_plugin::correction::Error>(())
/// ```
pub use casa_correction as correction;
pub use collection::{Collection, Field, ObjVec, Subset, P4};
pub use events::{Candidate, Candidates, Column, Dtype, Element, EventCandidates, Events, Jagged};
pub use hist::{Hist, HistDecl};
pub use output::{Fill, HistId, Output};
pub use random::Rng;
pub use selection::{Cutflow, PackedSelection};
pub use vec4::{LorentzVector, PtEtaPhiM};

/// Errors a plugin returns; any error type converts into it.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An analysis: what it reads, what it declares, what it does with each batch.
pub trait Processor: Sized + 'static {
    /// A short name for logs and partial headers.
    const NAME: &'static str;
    /// The branches to read: a file without one of them fails the job (exit 12).
    const COLUMNS: &'static [&'static str];
    /// Branches read when the file has them (MC-only ones such as `genWeight` or `GenPart_*`):
    /// absent ones are absent from the batch ([`Events::get`] and [`Events::optional`] give
    /// `None`) instead of failing the job.
    const OPTIONAL: &'static [&'static str] = &[];
    /// Called once per job: declare histograms here.
    fn init(out: &mut Output<'_>) -> Result<Self>;
    /// The columns for one dataset, asked before its first chunk: by default [`COLUMNS`]
    /// required and [`OPTIONAL`] optional. Override it to choose from the dataset's metadata
    /// (read MC-only branches only when `is_mc`) or from the plugin's own settings.
    ///
    /// [`COLUMNS`]: Processor::COLUMNS
    /// [`OPTIONAL`]: Processor::OPTIONAL
    ///
    /// ```
    /// use casa_plugin::{Columns, Dataset, Events, Output, Processor, Result};
    ///
    /// struct Ttbar;
    /// #[derive(serde::Deserialize)]
    /// struct Meta { #[serde(default)] is_mc: bool }
    ///
    /// impl Processor for Ttbar {
    ///     const NAME: &'static str = "ttbar";
    ///     const COLUMNS: &'static [&'static str] = &["Jet_pt", "Jet_eta"];
    ///     const OPTIONAL: &'static [&'static str] = &["genWeight"];
    ///     fn init(_: &mut Output) -> Result<Self> { Ok(Ttbar) }
    ///     fn columns(&self, ds: &Dataset) -> Result<Columns> {
    ///         let c = Columns::new().require(Self::COLUMNS).optional(Self::OPTIONAL);
    ///         Ok(if ds.meta::<Meta>()?.is_mc { c.fields("Jet", &["hadronFlavour"]) } else { c })
    ///     }
    ///     fn process(&mut self, _: &Events, _: &mut Output) -> Result<()> { Ok(()) }
    /// }
    ///
    /// let mc = Dataset { name: "ttbar", metadata_json: r#"{"is_mc": true}"# };
    /// let c = Ttbar.columns(&mc).unwrap();
    /// assert_eq!(c.required, ["Jet_pt", "Jet_eta", "Jet_hadronFlavour"]);
    /// assert_eq!(c.optional, ["genWeight"]);
    /// let data = Dataset { name: "data", metadata_json: r#"{"is_mc": false}"# };
    /// assert_eq!(Ttbar.columns(&data).unwrap().required, ["Jet_pt", "Jet_eta"]);
    /// ```
    fn columns(&self, dataset: &Dataset<'_>) -> Result<Columns> {
        let _ = dataset;
        Ok(Columns::new()
            .require(Self::COLUMNS)
            .optional(Self::OPTIONAL))
    }
    /// Called for each batch of events.
    fn process(&mut self, events: &Events<'_>, out: &mut Output<'_>) -> Result<()>;
}

/// A dataset, as [`Processor::columns`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Dataset<'a> {
    pub name: &'a str,
    /// The dataset's fileset metadata as JSON text.
    pub metadata_json: &'a str,
}

impl Dataset<'_> {
    /// The metadata as your own type (see [`Events::meta`]).
    ///
    /// ```
    /// #[derive(serde::Deserialize)]
    /// struct Meta { #[serde(default)] is_mc: bool }
    /// let ds = casa_plugin::Dataset { name: "ttbar", metadata_json: r#"{"is_mc": true}"# };
    /// assert!(ds.meta::<Meta>().unwrap().is_mc);
    /// let data = casa_plugin::Dataset { name: "data", metadata_json: "{}" };
    /// assert!(!data.meta::<Meta>().unwrap().is_mc);
    /// ```
    pub fn meta<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let text = if self.metadata_json.is_empty() {
            "null"
        } else {
            self.metadata_json
        };
        serde_json::from_str(text).map_err(|e| {
            format!(
                "metadata of dataset '{}' does not fit {}: {e} (metadata: {text})",
                self.name,
                std::any::type_name::<T>()
            )
            .into()
        })
    }
}

/// The columns to read for a dataset: required ones (a file without one fails the job) and
/// optional ones (read when present).
///
/// ```
/// use casa_plugin::Columns;
/// let c = Columns::new()
///     .require(&["nJet"])
///     .fields("Jet", &["pt", "eta", "btagCSVV2"])
///     .optional(&["genWeight"]);
/// assert_eq!(c.required, ["nJet", "Jet_pt", "Jet_eta", "Jet_btagCSVV2"]);
/// assert_eq!(c.optional, ["genWeight"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub required: Vec<String>,
    pub optional: Vec<String>,
}

impl Columns {
    pub fn new() -> Columns {
        Columns::default()
    }

    /// Add required columns.
    pub fn require(mut self, names: &[&str]) -> Columns {
        self.required.extend(names.iter().map(|n| n.to_string()));
        self
    }

    /// Add optional columns.
    pub fn optional(mut self, names: &[&str]) -> Columns {
        self.optional.extend(names.iter().map(|n| n.to_string()));
        self
    }

    /// Add the required fields `{collection}_{field}`.
    pub fn fields(mut self, collection: &str, fields: &[&str]) -> Columns {
        self.required
            .extend(fields.iter().map(|f| format!("{collection}_{f}")));
        self
    }

    /// Add the optional fields `{collection}_{field}` (a collection only MC has).
    ///
    /// ```
    /// let c = casa_plugin::Columns::new().optional_fields("GenPart", &["pt", "pdgId"]);
    /// assert_eq!(c.optional, ["GenPart_pt", "GenPart_pdgId"]);
    /// ```
    pub fn optional_fields(mut self, collection: &str, fields: &[&str]) -> Columns {
        self.optional
            .extend(fields.iter().map(|f| format!("{collection}_{f}")));
        self
    }
}

/// Export a [`Processor`] as the plugin's entry point (`casa_plugin_v2`).
#[macro_export]
macro_rules! export_plugin {
    ($t:ty) => {
        /// The plugin's entry point for casa ABI version 2.
        #[no_mangle]
        pub extern "C" fn casa_plugin_v2() -> *const $crate::abi::casa_plugin {
            static DESCRIPTOR: ::std::sync::OnceLock<$crate::ffi::Descriptor> =
                ::std::sync::OnceLock::new();
            DESCRIPTOR
                .get_or_init(|| $crate::ffi::Descriptor::new::<$t>())
                .as_ptr()
        }
    };
}
