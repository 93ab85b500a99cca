//! What a run gives its plugin besides events: the configuration (`casa-submit plan
//! --config cfg.{json,toml}`, the same for every job) and the inputs shipped with the jobs
//! (`plan --input FILE`: correction files, lookup tables), opened by name.
#![allow(unsafe_code)] // calls through the host's function table, valid during the callback

use std::ffi::{CStr, CString};
use std::path::PathBuf;

use serde::de::DeserializeOwned;

use crate::{Output, Result};

impl Output<'_> {
    fn host_message(&self) -> String {
        let p = unsafe { (self.host.last_error)(self.host.ctx) };
        if p.is_null() {
            "unknown error".into()
        } else {
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    }

    /// The run's configuration as JSON text (`null` when the run has none).
    pub fn config_json(&self) -> String {
        let p = unsafe { (self.host.config_json)(self.host.ctx) };
        if p.is_null() {
            return "null".into();
        }
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    /// The run's configuration as your own type. A run without a configuration reads as `{}`,
    /// so fields marked `#[serde(default)]` take their defaults; an error names the type and
    /// what does not fit.
    ///
    /// ```no_run
    /// # use casa_plugin::{Output, Result};
    /// #[derive(serde::Deserialize)]
    /// struct Config {
    ///     #[serde(default = "default_lumi")]
    ///     lumi: f64,
    /// }
    /// fn default_lumi() -> f64 { 3378.0 }
    /// # fn init(out: &mut Output) -> Result<()> {
    /// let cfg: Config = out.config()?; // in init
    /// # Ok(()) }
    /// ```
    pub fn config<T: DeserializeOwned>(&self) -> Result<T> {
        let text = self.config_json();
        let text = if text.trim() == "null" { "{}" } else { &text };
        serde_json::from_str(text).map_err(|e| {
            format!(
                "the run's configuration does not fit {}: {e} (configuration: {text})",
                std::any::type_name::<T>()
            )
            .into()
        })
    }

    /// The local path of the input shipped with the job under `name` (its file name), for
    /// example `CorrectionSet::open(out.input("corrections.json")?)`. An error names the input
    /// and the inputs the job has.
    pub fn input(&self, name: &str) -> Result<PathBuf> {
        let c = CString::new(name)?;
        let p = unsafe { (self.host.input_path)(self.host.ctx, c.as_ptr()) };
        if p.is_null() {
            return Err(self.host_message().into());
        }
        Ok(PathBuf::from(
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned(),
        ))
    }
}
