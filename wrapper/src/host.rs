//! The plugin host: loads an analysis plugin (a shared library speaking the C ABI of
//! `casa_plugin.h`), gives it the host function table, and keeps everything it fills in an
//! accumulator keyed by the current batch's dataset.
//!
//! A plugin can only fail by returning an error (or panicking, which its SDK turns into an
//! error): every host callback also catches panics, so no unwinding crosses the boundary.
#![allow(unsafe_code)] // FFI with the plugin: raw pointers valid for the duration of each call

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use ::casa_plugin::abi::{
    self, casa_batch, casa_fill_arg, casa_host, casa_plugin as PluginDesc, EntryFn,
    CASA_ABI_VERSION, ENTRY_SYMBOL,
};
use casa_hist::{Accumulator, Counter, FillArg, HistSpec, Weights};

/// A loaded plugin.
pub struct Plugin {
    // Keep the library loaded while its descriptor is in use.
    _lib: libloading::Library,
    desc: *const PluginDesc,
    pub name: String,
    pub columns: Vec<String>,
    pub path: String,
}

/// Why a plugin could not be used: always the plugin's fault (exit class plugin_fault).
#[derive(Debug, thiserror::Error)]
#[error("plugin {path}: {what}")]
pub struct PluginError {
    pub path: String,
    pub what: String,
}

unsafe fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

impl Plugin {
    pub fn load(path: &Path) -> Result<Plugin, PluginError> {
        let p = path.display().to_string();
        let err = |what: String| PluginError {
            path: p.clone(),
            what,
        };
        // dlopen searches the library path for a bare name; a plugin given as `libx.so` (as
        // HTCondor jobs give it, from their sandbox) means the file in the current directory.
        let resolved;
        let path = if path.components().count() == 1 {
            resolved = Path::new(".").join(path);
            resolved.as_path()
        } else {
            path
        };
        // Loading runs the library's initialisers: that is what loading a plugin means.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| err(format!("cannot load: {e}")))?;
        let entry: libloading::Symbol<EntryFn> = match unsafe { lib.get(ENTRY_SYMBOL.as_bytes()) } {
            Ok(s) => s,
            Err(_) => {
                let other = (0..10u32).filter(|v| *v != CASA_ABI_VERSION).find(|v| {
                    unsafe { lib.get::<EntryFn>(format!("casa_plugin_v{v}").as_bytes()) }.is_ok()
                });
                return Err(err(match other {
                    Some(v) => format!(
                        "built for casa plugin ABI version {v}; this casa-wrapper speaks version {CASA_ABI_VERSION} (rebuild the plugin against this casa)"
                    ),
                    None => format!("exports no `{ENTRY_SYMBOL}`: not a casa plugin"),
                }));
            }
        };
        let desc =
            catch_unwind(|| unsafe { entry() }).map_err(|_| err("entry point panicked".into()))?;
        if desc.is_null() {
            return Err(err(format!("`{ENTRY_SYMBOL}` returned null")));
        }
        let d = unsafe { &*desc };
        if d.abi_version != CASA_ABI_VERSION {
            return Err(err(format!(
                "declares ABI version {}, this casa-wrapper speaks version {CASA_ABI_VERSION}",
                d.abi_version
            )));
        }
        let name = unsafe { c_str(d.name) };
        let mut columns = Vec::new();
        if !d.columns.is_null() {
            let mut i = 0;
            loop {
                let c = unsafe { *d.columns.add(i) };
                if c.is_null() || i > 100_000 {
                    break;
                }
                columns.push(unsafe { c_str(c) });
                i += 1;
            }
        }
        Ok(Plugin {
            _lib: lib,
            desc,
            name,
            columns,
            path: p,
        })
    }

    fn desc(&self) -> &PluginDesc {
        unsafe { &*self.desc }
    }
}

/// What the host keeps while a plugin runs.
struct HostState {
    acc: Accumulator,
    hists: Vec<(String, HistSpec)>,
    dataset: String,
    last_error: CString,
}

impl HostState {
    fn fail(&mut self, msg: String) {
        self.last_error = CString::new(msg.replace('\0', " ")).expect("NULs replaced");
    }
}

/// One plugin instance for one job.
pub struct Session<'p> {
    plugin: &'p Plugin,
    state: *mut c_void,
    // Boxed so the pointers handed to the plugin stay put.
    host: Box<casa_host>,
    hs: Box<HostState>,
}

const ERR_LEN: usize = 4096;

fn err_text(buf: &[u8]) -> String {
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[..n]).into_owned();
    if s.is_empty() {
        "failed without a message".into()
    } else {
        s
    }
}

impl<'p> Session<'p> {
    /// Create the host table and call the plugin's `init`.
    pub fn start(plugin: &'p Plugin) -> Result<Session<'p>, PluginError> {
        let mut hs = Box::new(HostState {
            acc: Accumulator::new(),
            hists: Vec::new(),
            dataset: String::new(),
            last_error: CString::default(),
        });
        let host = Box::new(casa_host {
            abi_version: CASA_ABI_VERSION,
            ctx: (&mut *hs as *mut HostState).cast(),
            declare_hist: host_declare_hist,
            fill: host_fill,
            count: host_count,
            last_error: host_last_error,
        });
        let mut err = vec![0u8; ERR_LEN];
        let state =
            unsafe { (plugin.desc().init)(&*host, err.as_mut_ptr().cast(), ERR_LEN as u64) };
        if state.is_null() {
            return Err(PluginError {
                path: plugin.path.clone(),
                what: format!("init failed: {}", err_text(&err)),
            });
        }
        Ok(Session {
            plugin,
            state,
            host,
            hs,
        })
    }

    /// Hand one batch to the plugin; results go to `dataset`.
    pub fn process(&mut self, dataset: &str, batch: &casa_batch) -> Result<(), PluginError> {
        if self.hs.dataset != dataset {
            self.hs.dataset = dataset.to_string();
        }
        let mut err = vec![0u8; ERR_LEN];
        let rc = unsafe {
            (self.plugin.desc().process)(
                self.state,
                &*self.host,
                batch,
                err.as_mut_ptr().cast(),
                ERR_LEN as u64,
            )
        };
        if rc != 0 {
            return Err(PluginError {
                path: self.plugin.path.clone(),
                what: format!("process failed: {}", err_text(&err)),
            });
        }
        Ok(())
    }

    /// Destroy the plugin state and return what it filled.
    pub fn finish(mut self) -> Accumulator {
        let state = std::mem::replace(&mut self.state, std::ptr::null_mut());
        unsafe { (self.plugin.desc().destroy)(state) };
        std::mem::take(&mut self.hs.acc)
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.state.is_null() {
            unsafe { (self.plugin.desc().destroy)(self.state) };
        }
    }
}

fn with_state<T>(
    ctx: *mut c_void,
    fail: T,
    f: impl FnOnce(&mut HostState) -> Result<T, String>,
) -> T {
    if ctx.is_null() {
        return fail;
    }
    let hs = unsafe { &mut *(ctx as *mut HostState) };
    match catch_unwind(AssertUnwindSafe(|| f(hs))) {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => {
            hs.fail(msg);
            fail
        }
        Err(_) => {
            hs.fail("internal error in the host (panic)".into());
            fail
        }
    }
}

unsafe extern "C" fn host_declare_hist(
    ctx: *mut c_void,
    name: *const c_char,
    spec: *const c_char,
) -> i64 {
    with_state(ctx, -1, |hs| {
        let name = unsafe { c_str(name) };
        let text = unsafe { c_str(spec) };
        if name.is_empty() {
            return Err("histogram name is empty".into());
        }
        if hs.hists.iter().any(|(n, _)| *n == name) {
            return Err(format!("histogram '{name}' is declared twice"));
        }
        let spec: HistSpec = serde_json::from_str(&text)
            .map_err(|e| format!("histogram '{name}': bad spec {text}: {e}"))?;
        casa_hist::Hist::new(spec.clone()).map_err(|e| format!("histogram '{name}': {e}"))?;
        hs.hists.push((name, spec));
        Ok((hs.hists.len() - 1) as i64)
    })
}

unsafe extern "C" fn host_fill(
    ctx: *mut c_void,
    hist: i64,
    n: u64,
    args: *const casa_fill_arg,
    n_args: u64,
    weights: *const f64,
    samples: *const f64,
) -> i32 {
    with_state(ctx, -1, |hs| {
        let (name, spec) = usize::try_from(hist)
            .ok()
            .and_then(|i| hs.hists.get(i))
            .cloned()
            .ok_or_else(|| format!("fill of undeclared histogram handle {hist}"))?;
        let n = n as usize;
        let raw: &[casa_fill_arg] = if n_args == 0 || args.is_null() {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(args, n_args as usize) }
        };
        // Strings first: FillArg borrows them.
        let mut strings: Vec<Vec<&str>> = Vec::new();
        for a in raw {
            if a.kind == abi::CASA_FILL_STR {
                let ptrs = unsafe { std::slice::from_raw_parts(a.data as *const *const c_char, n) };
                let v: Vec<&str> = ptrs
                    .iter()
                    .map(|&p| {
                        unsafe { CStr::from_ptr(p) }
                            .to_str()
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<_, _>>()?;
                strings.push(v);
            }
        }
        let mut si = 0;
        let mut fill_args = Vec::with_capacity(raw.len());
        for a in raw {
            if a.data.is_null() {
                return Err(format!("histogram '{name}': null fill argument"));
            }
            fill_args.push(unsafe {
                match a.kind {
                    abi::CASA_FILL_F64 => {
                        FillArg::F64(std::slice::from_raw_parts(a.data.cast(), n))
                    }
                    abi::CASA_FILL_F32 => {
                        FillArg::F32(std::slice::from_raw_parts(a.data.cast(), n))
                    }
                    abi::CASA_FILL_I64 => {
                        FillArg::I64(std::slice::from_raw_parts(a.data.cast(), n))
                    }
                    abi::CASA_FILL_BOOL => {
                        let b: &[u8] = std::slice::from_raw_parts(a.data.cast(), n);
                        if b.iter().any(|&x| x > 1) {
                            return Err(format!("histogram '{name}': booleans must be 0 or 1"));
                        }
                        // 0/1 bytes are valid bools.
                        FillArg::Bool(std::slice::from_raw_parts(a.data.cast(), n))
                    }
                    abi::CASA_FILL_STR => {
                        si += 1;
                        FillArg::Str(&strings[si - 1])
                    }
                    abi::CASA_FILL_ONE_F64 => FillArg::OneF64(*(a.data as *const f64)),
                    abi::CASA_FILL_ONE_I64 => FillArg::OneI64(*(a.data as *const i64)),
                    abi::CASA_FILL_ONE_BOOL => match *(a.data as *const u8) {
                        0 => FillArg::OneBool(false),
                        1 => FillArg::OneBool(true),
                        _ => return Err(format!("histogram '{name}': booleans must be 0 or 1")),
                    },
                    abi::CASA_FILL_ONE_STR => FillArg::OneStr(
                        CStr::from_ptr(a.data.cast())
                            .to_str()
                            .map_err(|e| e.to_string())?,
                    ),
                    k => return Err(format!("histogram '{name}': unknown fill kind {k}")),
                }
            });
        }
        let w = (!weights.is_null())
            .then(|| Weights::Each(unsafe { std::slice::from_raw_parts(weights, n) }));
        let s = (!samples.is_null()).then(|| unsafe { std::slice::from_raw_parts(samples, n) });
        let dataset = hs.dataset.clone();
        hs.acc
            .hist_mut(&dataset, &name, &spec)
            .and_then(|h| h.fill(&fill_args, w, s))
            .map_err(|e| format!("histogram '{name}': {e}"))?;
        Ok(0)
    })
}

unsafe extern "C" fn host_count(
    ctx: *mut c_void,
    name: *const c_char,
    value: f64,
    is_int: i32,
) -> i32 {
    with_state(ctx, -1, |hs| {
        let name = unsafe { c_str(name) };
        let c = if is_int != 0 {
            if value.fract() != 0.0 || !value.is_finite() {
                return Err(format!("counter '{name}': {value} is not an integer"));
            }
            Counter::Int(value as i64)
        } else {
            Counter::Float(value)
        };
        let dataset = hs.dataset.clone();
        hs.acc
            .count(&dataset, &name, c)
            .map_err(|e| format!("counter '{name}': {e}"))?;
        Ok(0)
    })
}

unsafe extern "C" fn host_last_error(ctx: *mut c_void) -> *const c_char {
    if ctx.is_null() {
        return std::ptr::null();
    }
    let hs = unsafe { &*(ctx as *const HostState) };
    hs.last_error.as_ptr()
}
