//! Write casa analysis plugins in Rust.
//!
//! A plugin is a `cdylib` with one type implementing [`Processor`] and one line,
//! [`export_plugin!`]. It lists the branches it reads, declares histograms in `init`, and in
//! `process` looks at a batch of events and fills. Results are keyed by dataset by the host,
//! as coffea's Runner does, so plugins never handle datasets themselves.
//!
//! ```ignore
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
//! C and C++ plugins use `include/casa_plugin.h` directly; this crate mirrors it in [`abi`].

pub mod abi;
pub mod collection;
mod events;
#[doc(hidden)]
pub mod ffi;
mod hist;
mod output;
pub mod random;
mod selection;
pub mod testing;
pub mod vec4;

pub use collection::{Collection, Field, Subset, P4};
pub use events::{
    Candidate, Candidates, Column, Dtype, Element, EventCandidates, Events, Jagged,
};
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
    /// The branches to read, in the order [`Events::column`] finds them fastest.
    const COLUMNS: &'static [&'static str];
    /// Called once per job: declare histograms here.
    fn init(out: &mut Output<'_>) -> Result<Self>;
    /// Called for each batch of events.
    fn process(&mut self, events: &Events<'_>, out: &mut Output<'_>) -> Result<()>;
}

/// Export a [`Processor`] as the plugin's entry point (`casa_plugin_v1`).
#[macro_export]
macro_rules! export_plugin {
    ($t:ty) => {
        /// The plugin's entry point for casa ABI version 1.
        #[no_mangle]
        pub extern "C" fn casa_plugin_v1() -> *const $crate::abi::casa_plugin {
            static DESCRIPTOR: ::std::sync::OnceLock<$crate::ffi::Descriptor> =
                ::std::sync::OnceLock::new();
            DESCRIPTOR
                .get_or_init(|| $crate::ffi::Descriptor::new::<$t>())
                .as_ptr()
        }
    };
}
