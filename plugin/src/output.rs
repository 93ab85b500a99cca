//! Where a plugin's results go: the host's histograms and counters, keyed by the batch's
//! dataset on the host side.
#![allow(unsafe_code)] // calls through the host's function table, valid during the callback

use std::ffi::{CStr, CString};

use crate::abi::{self, casa_fill_arg, casa_host};
use crate::{HistDecl, Result};

/// A declared histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistId(i64);

/// One fill argument per axis, in axis order: casa-histspec's [`FillArg`](casa_histspec::FillArg),
/// the type the host fills casa-hist with. Arrays must all have the same length; the `One*`
/// forms repeat one value for every entry.
pub use casa_histspec::FillArg as Fill;

/// The plugin's handle on the host during one callback.
pub struct Output<'h> {
    pub(crate) host: &'h casa_host,
}

impl<'h> Output<'h> {
    pub(crate) fn new(host: &'h casa_host) -> Output<'h> {
        Output { host }
    }

    fn host_error(&self, what: &str) -> crate::Error {
        let msg = unsafe {
            let p = (self.host.last_error)(self.host.ctx);
            if p.is_null() {
                "unknown error".to_string()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        format!("{what}: {msg}").into()
    }

    /// Declare a histogram (in `init`).
    pub fn hist(&mut self, name: &str, decl: HistDecl) -> Result<HistId> {
        let cname = CString::new(name)?;
        let spec = CString::new(decl.to_json())?;
        let id = unsafe { (self.host.declare_hist)(self.host.ctx, cname.as_ptr(), spec.as_ptr()) };
        if id < 0 {
            return Err(self.host_error(&format!("declaring histogram '{name}'")));
        }
        Ok(HistId(id))
    }

    /// Fill a histogram with one argument per axis.
    pub fn fill(&mut self, h: HistId, args: &[Fill<'_>]) -> Result<()> {
        self.fill_full(h, args, None, None)
    }

    /// Fill with a weight per entry.
    pub fn fill_weighted(&mut self, h: HistId, args: &[Fill<'_>], weights: &[f64]) -> Result<()> {
        self.fill_full(h, args, Some(weights), None)
    }

    /// Fill a mean (profile) histogram with a sample per entry, optionally weighted.
    pub fn fill_mean(
        &mut self,
        h: HistId,
        args: &[Fill<'_>],
        samples: &[f64],
        weights: Option<&[f64]>,
    ) -> Result<()> {
        self.fill_full(h, args, weights, Some(samples))
    }

    fn fill_full(
        &mut self,
        h: HistId,
        args: &[Fill<'_>],
        weights: Option<&[f64]>,
        samples: Option<&[f64]>,
    ) -> Result<()> {
        let lens: Vec<usize> = args
            .iter()
            .filter_map(Fill::array_len)
            .chain(weights.map(|w| w.len()))
            .chain(samples.map(|s| s.len()))
            .collect();
        let n = lens.first().copied().unwrap_or(1);
        if lens.iter().any(|&l| l != n) {
            return Err(format!("fill arrays have different lengths: {lens:?}").into());
        }
        // Keep converted data alive until the host call returns.
        let mut bools: Vec<Vec<u8>> = Vec::new();
        let mut strs: Vec<(Vec<CString>, Vec<*const std::ffi::c_char>)> = Vec::new();
        let mut ones: Vec<CString> = Vec::new();
        let mut scalars_f: Vec<Box<f64>> = Vec::new();
        let mut scalars_i: Vec<Box<i64>> = Vec::new();
        let mut scalars_b: Vec<Box<u8>> = Vec::new();
        let mut raw = Vec::with_capacity(args.len());
        for a in args {
            let (kind, data): (i32, *const std::ffi::c_void) = match a {
                Fill::F64(v) => (abi::CASA_FILL_F64, v.as_ptr().cast()),
                Fill::F32(v) => (abi::CASA_FILL_F32, v.as_ptr().cast()),
                Fill::I64(v) => (abi::CASA_FILL_I64, v.as_ptr().cast()),
                Fill::Bool(v) => {
                    bools.push(v.iter().map(|&b| b as u8).collect());
                    (
                        abi::CASA_FILL_BOOL,
                        bools.last().expect("pushed").as_ptr().cast(),
                    )
                }
                Fill::Str(v) => {
                    let owned: Vec<CString> = v
                        .iter()
                        .map(|s| CString::new(*s))
                        .collect::<Result<_, _>>()?;
                    let ptrs: Vec<*const std::ffi::c_char> =
                        owned.iter().map(|c| c.as_ptr()).collect();
                    strs.push((owned, ptrs));
                    (
                        abi::CASA_FILL_STR,
                        strs.last().expect("pushed").1.as_ptr().cast(),
                    )
                }
                Fill::OneF64(x) => {
                    scalars_f.push(Box::new(*x));
                    (
                        abi::CASA_FILL_ONE_F64,
                        (&**scalars_f.last().expect("pushed") as *const f64).cast(),
                    )
                }
                Fill::OneI64(x) => {
                    scalars_i.push(Box::new(*x));
                    (
                        abi::CASA_FILL_ONE_I64,
                        (&**scalars_i.last().expect("pushed") as *const i64).cast(),
                    )
                }
                Fill::OneBool(x) => {
                    scalars_b.push(Box::new(u8::from(*x)));
                    (
                        abi::CASA_FILL_ONE_BOOL,
                        (&**scalars_b.last().expect("pushed") as *const u8).cast(),
                    )
                }
                Fill::OneStr(s) => {
                    ones.push(CString::new(*s)?);
                    (
                        abi::CASA_FILL_ONE_STR,
                        ones.last().expect("pushed").as_ptr().cast(),
                    )
                }
            };
            raw.push(casa_fill_arg { kind, data });
        }
        let rc = unsafe {
            (self.host.fill)(
                self.host.ctx,
                h.0,
                n as u64,
                raw.as_ptr(),
                raw.len() as u64,
                weights.map_or(std::ptr::null(), |w| w.as_ptr()),
                samples.map_or(std::ptr::null(), |s| s.as_ptr()),
            )
        };
        if rc != 0 {
            return Err(self.host_error("filling a histogram"));
        }
        Ok(())
    }

    /// Add to an integer counter.
    pub fn count(&mut self, name: &str, n: u64) -> Result<()> {
        self.count_raw(name, n as f64, true)
    }

    /// Add to a floating-point counter (for example a sum of weights).
    pub fn count_f64(&mut self, name: &str, x: f64) -> Result<()> {
        self.count_raw(name, x, false)
    }

    fn count_raw(&mut self, name: &str, x: f64, is_int: bool) -> Result<()> {
        let cname = CString::new(name)?;
        let rc = unsafe { (self.host.count)(self.host.ctx, cname.as_ptr(), x, is_int as i32) };
        if rc != 0 {
            return Err(self.host_error(&format!("counter '{name}'")));
        }
        Ok(())
    }
}
