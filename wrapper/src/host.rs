//! The plugin host: loads an analysis plugin (a shared library speaking the C ABI of
//! `casa_plugin.h`), gives it the host function table, and keeps everything it fills in an
//! accumulator keyed by the current batch's dataset.
//!
//! A plugin can only fail by returning an error (or panicking, which its SDK turns into an
//! error): every host callback also catches panics, so no unwinding crosses the boundary.
#![allow(unsafe_code)] // FFI with the plugin: raw pointers valid for the duration of each call

use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ::casa_plugin::abi::{
    self, casa_batch, casa_column_lists, casa_fill_arg, casa_host, casa_plugin_v1 as PluginDescV1,
    EntryFn, SelectColumnsFn, CASA_ABI_MIN_VERSION, CASA_ABI_VERSION, ENTRY_SYMBOL,
    ENTRY_SYMBOL_V1,
};
use casa_correction::CorrectionSet;
use casa_hist::{Accumulator, Counter, FillArg, HistSpec, Weights};

/// The callbacks of a plugin, from a descriptor of either ABI version.
struct Callbacks {
    init: unsafe extern "C" fn(*const casa_host, *mut c_char, u64) -> *mut c_void,
    process: unsafe extern "C" fn(
        *mut c_void,
        *const casa_host,
        *const casa_batch,
        *mut c_char,
        u64,
    ) -> i32,
    destroy: unsafe extern "C" fn(*mut c_void),
    select_columns: Option<SelectColumnsFn>,
}

/// A loaded plugin.
pub struct Plugin {
    // Keep the library loaded while its callbacks are in use.
    _lib: libloading::Library,
    calls: Callbacks,
    pub name: String,
    /// The ABI version the plugin was built for (1 or 2).
    pub abi_version: u32,
    /// The static column lists: required, and (ABI 2) read when present.
    pub columns: Vec<String>,
    pub optional: Vec<String>,
    pub path: String,
}

/// The columns a plugin reads for one dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnChoice {
    pub required: Vec<String>,
    pub optional: Vec<String>,
}

/// A NULL-terminated list of C strings (at most 100 000, against a missing terminator).
unsafe fn c_list(p: *const *const c_char) -> Vec<String> {
    let mut out = Vec::new();
    if p.is_null() {
        return out;
    }
    while out.len() <= 100_000 {
        let c = unsafe { *p.add(out.len()) };
        if c.is_null() {
            break;
        }
        out.push(unsafe { c_str(c) });
    }
    out
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
        // This host's version first, then the older ones it still speaks.
        let found = [
            (CASA_ABI_VERSION, ENTRY_SYMBOL),
            (CASA_ABI_MIN_VERSION, ENTRY_SYMBOL_V1),
        ]
        .into_iter()
        .find_map(|(v, sym)| {
            unsafe { lib.get::<EntryFn>(sym.as_bytes()) }
                .ok()
                .map(|s| (v, sym, *s))
        });
        let Some((version, symbol, entry)) = found else {
            let other = (0..10u32)
                .filter(|v| !(CASA_ABI_MIN_VERSION..=CASA_ABI_VERSION).contains(v))
                .find(|v| {
                    unsafe { lib.get::<EntryFn>(format!("casa_plugin_v{v}").as_bytes()) }.is_ok()
                });
            return Err(err(match other {
                Some(v) => format!(
                    "built for casa plugin ABI version {v}; this casa-wrapper speaks versions {CASA_ABI_MIN_VERSION} to {CASA_ABI_VERSION} (rebuild the plugin against this casa)"
                ),
                None => format!(
                    "exports neither `{ENTRY_SYMBOL}` nor `{ENTRY_SYMBOL_V1}`: not a casa plugin"
                ),
            }));
        };
        let desc =
            catch_unwind(|| unsafe { entry() }).map_err(|_| err("entry point panicked".into()))?;
        if desc.is_null() {
            return Err(err(format!("`{symbol}` returned null")));
        }
        // Both layouts start with the version; read only as much as that version has.
        let declared = unsafe { (*(desc as *const PluginDescV1)).abi_version };
        if declared != version {
            return Err(err(format!(
                "`{symbol}` declares ABI version {declared}, not {version}"
            )));
        }
        let (name, columns, optional, calls) = if version == CASA_ABI_VERSION {
            let d = unsafe { &*desc };
            let calls = Callbacks {
                init: d.init,
                process: d.process,
                destroy: d.destroy,
                select_columns: d.select_columns,
            };
            unsafe {
                (
                    c_str(d.name),
                    c_list(d.columns),
                    c_list(d.optional_columns),
                    calls,
                )
            }
        } else {
            let d = unsafe { &*(desc as *const PluginDescV1) };
            let calls = Callbacks {
                init: d.init,
                process: d.process,
                destroy: d.destroy,
                select_columns: None,
            };
            unsafe { (c_str(d.name), c_list(d.columns), Vec::new(), calls) }
        };
        Ok(Plugin {
            _lib: lib,
            calls,
            name,
            abi_version: version,
            columns,
            optional,
            path: p,
        })
    }
}

/// What a job gives its plugin besides the events: the run's configuration and the inputs
/// shipped with the job (name, local path).
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The configuration as JSON (`Value::Null` when the run has none).
    pub config: serde_json::Value,
    pub inputs: Vec<(String, PathBuf)>,
}

/// A shipped input found neither in the working directory nor beside the job spec.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "shipped input {name:?} is neither in the working directory ({cwd}) nor beside the job spec ({})",
    beside.display()
)]
pub struct MissingInput {
    pub name: String,
    /// The working directory, as shown (`.` when it cannot be read).
    pub cwd: String,
    pub beside: PathBuf,
}

/// Find each shipped input by name: in the working directory (where HTCondor transfers
/// inputs), else in `job_dir` (beside the job spec, as a local run lays them out). The error
/// names the input and both places looked in.
pub fn resolve_inputs(
    names: &[String],
    job_dir: &Path,
) -> Result<Vec<(String, PathBuf)>, MissingInput> {
    names
        .iter()
        .map(|name| {
            let here = Path::new(name);
            let beside = job_dir.join(name);
            if here.is_file() {
                Ok((name.clone(), here.to_path_buf()))
            } else if beside.is_file() {
                Ok((name.clone(), beside))
            } else {
                let cwd = std::env::current_dir()
                    .map_or_else(|_| ".".into(), |d| d.display().to_string());
                Err(MissingInput {
                    name: name.clone(),
                    cwd,
                    beside,
                })
            }
        })
        .collect()
}

/// A correction handed out to the plugin: its set and name.
struct CorrectionRef {
    set: usize,
    name: String,
    compound: bool,
}

/// What the host keeps while a plugin runs.
struct HostState {
    acc: Accumulator,
    hists: Vec<(String, HistSpec)>,
    dataset: String,
    last_error: CString,
    config: CString,
    /// Shipped inputs: name, path as a C string.
    inputs: Vec<(String, CString)>,
    sets: Vec<(String, CorrectionSet)>,
    corrections: Vec<CorrectionRef>,
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
    /// Create the host table and call the plugin's `init`, without configuration or inputs.
    pub fn start(plugin: &'p Plugin) -> Result<Session<'p>, PluginError> {
        Session::start_with(plugin, &Setup::default())
    }

    /// Create the host table and call the plugin's `init`; the plugin can ask for the run's
    /// configuration and the shipped inputs of `setup` from then on.
    pub fn start_with(plugin: &'p Plugin, setup: &Setup) -> Result<Session<'p>, PluginError> {
        let mut hs = Box::new(HostState {
            acc: Accumulator::new(),
            hists: Vec::new(),
            dataset: String::new(),
            last_error: CString::default(),
            config: cstring(&setup.config.to_string()),
            inputs: setup
                .inputs
                .iter()
                .map(|(n, p)| (n.clone(), cstring(&p.to_string_lossy())))
                .collect(),
            sets: Vec::new(),
            corrections: Vec::new(),
        });
        let host = Box::new(casa_host {
            abi_version: plugin.abi_version,
            ctx: (&mut *hs as *mut HostState).cast(),
            declare_hist: host_declare_hist,
            fill: host_fill,
            count: host_count,
            last_error: host_last_error,
            config_json: host_config_json,
            input_path: host_input_path,
            correction_set: host_correction_set,
            correction: host_correction,
            correction_eval: host_correction_eval,
        });
        let mut err = vec![0u8; ERR_LEN];
        let state = unsafe { (plugin.calls.init)(&*host, err.as_mut_ptr().cast(), ERR_LEN as u64) };
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

    /// The columns to read for `dataset`: the plugin's choice (ABI 2, asked before each
    /// chunk), or its static lists.
    pub fn columns(
        &mut self,
        dataset: &str,
        metadata_json: &str,
    ) -> Result<ColumnChoice, PluginError> {
        let Some(select) = self.plugin.calls.select_columns else {
            return Ok(ColumnChoice {
                required: self.plugin.columns.clone(),
                optional: self.plugin.optional.clone(),
            });
        };
        let fail = |what: String| PluginError {
            path: self.plugin.path.clone(),
            what,
        };
        let cds = CString::new(dataset.replace('\0', " ")).expect("NULs replaced");
        let cmeta = CString::new(metadata_json.replace('\0', " ")).expect("NULs replaced");
        let mut lists = casa_column_lists {
            required: std::ptr::null(),
            optional: std::ptr::null(),
        };
        let mut err = vec![0u8; ERR_LEN];
        let rc = unsafe {
            select(
                self.state,
                cds.as_ptr(),
                cmeta.as_ptr(),
                &mut lists,
                err.as_mut_ptr().cast(),
                ERR_LEN as u64,
            )
        };
        if rc != 0 {
            return Err(fail(format!(
                "choosing the columns of dataset {dataset} failed: {}",
                err_text(&err)
            )));
        }
        let mut required = unsafe { c_list(lists.required) };
        let mut optional = unsafe { c_list(lists.optional) };
        // A column is read once: drop repeats, and optional ones that are also required.
        let mut seen = std::collections::HashSet::new();
        required.retain(|c| seen.insert(c.clone()));
        optional.retain(|c| seen.insert(c.clone()));
        Ok(ColumnChoice { required, optional })
    }

    /// Hand one batch to the plugin; results go to `dataset`.
    pub fn process(&mut self, dataset: &str, batch: &casa_batch) -> Result<(), PluginError> {
        if self.hs.dataset != dataset {
            self.hs.dataset = dataset.to_string();
        }
        let mut err = vec![0u8; ERR_LEN];
        let rc = unsafe {
            (self.plugin.calls.process)(
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

    /// What the plugin filled so far (for a checkpoint).
    pub fn accumulator(&self) -> &Accumulator {
        &self.hs.acc
    }

    /// Go on from what a checkpoint kept: the plugin fills `acc` from now on.
    pub fn restore(&mut self, acc: Accumulator) {
        self.hs.acc = acc;
    }

    /// Destroy the plugin state and return what it filled.
    pub fn finish(mut self) -> Accumulator {
        let state = std::mem::replace(&mut self.state, std::ptr::null_mut());
        unsafe { (self.plugin.calls.destroy)(state) };
        std::mem::take(&mut self.hs.acc)
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.state.is_null() {
            unsafe { (self.plugin.calls.destroy)(self.state) };
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

/// The `n_args` fill arguments a plugin passed at `args` (NULL when there are none).
///
/// # Safety
/// `args` is NULL or points to `n_args` arguments that outlive the call.
unsafe fn fill_args<'a>(args: *const casa_fill_arg, n_args: u64) -> &'a [casa_fill_arg] {
    if n_args == 0 || args.is_null() {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(args, n_args as usize) }
    }
}

/// The `n` NUL-terminated strings of a `CASA_FILL_STR` argument.
///
/// # Safety
/// `a.data` points to `n` C strings that outlive the call.
unsafe fn str_column<'a>(a: &casa_fill_arg, n: usize) -> Result<Vec<&'a str>, std::str::Utf8Error> {
    let ptrs = unsafe { std::slice::from_raw_parts(a.data as *const *const c_char, n) };
    ptrs.iter()
        .map(|&p| unsafe { CStr::from_ptr(p) }.to_str())
        .collect()
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
        let raw = unsafe { fill_args(args, n_args) };
        // Strings first: FillArg borrows them.
        let mut strings: Vec<Vec<&str>> = Vec::new();
        for a in raw {
            if a.kind == abi::CASA_FILL_STR {
                strings.push(unsafe { str_column(a, n) }.map_err(|e| e.to_string())?);
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

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).expect("NULs replaced")
}

unsafe extern "C" fn host_config_json(ctx: *mut c_void) -> *const c_char {
    if ctx.is_null() {
        return std::ptr::null();
    }
    let hs = unsafe { &*(ctx as *const HostState) };
    hs.config.as_ptr()
}

impl HostState {
    fn input(&self, name: &str) -> Result<&CString, String> {
        self.inputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .ok_or_else(|| {
                let have: Vec<&str> = self.inputs.iter().map(|(n, _)| n.as_str()).collect();
                if have.is_empty() {
                    format!("no input named {name:?}: this job ships no inputs (casa-submit plan --input FILE ships one)")
                } else {
                    format!(
                        "no input named {name:?}: this job ships {}",
                        have.join(", ")
                    )
                }
            })
    }
}

unsafe extern "C" fn host_input_path(ctx: *mut c_void, name: *const c_char) -> *const c_char {
    with_state(ctx, std::ptr::null(), |hs| {
        let name = unsafe { c_str(name) };
        Ok(hs.input(&name)?.as_ptr())
    })
}

unsafe extern "C" fn host_correction_set(ctx: *mut c_void, input: *const c_char) -> i64 {
    with_state(ctx, -1, |hs| {
        let name = unsafe { c_str(input) };
        // One set per input, however often a plugin asks.
        if let Some(i) = hs.sets.iter().position(|(n, _)| *n == name) {
            return Ok(i as i64);
        }
        let path = hs.input(&name)?.to_string_lossy().into_owned();
        let set = CorrectionSet::open(&path).map_err(|e| format!("input {name:?}: {e}"))?;
        hs.sets.push((name, set));
        Ok((hs.sets.len() - 1) as i64)
    })
}

unsafe extern "C" fn host_correction(ctx: *mut c_void, set: i64, name: *const c_char) -> i64 {
    with_state(ctx, -1, |hs| {
        let name = unsafe { c_str(name) };
        let s = usize::try_from(set)
            .ok()
            .filter(|&s| s < hs.sets.len())
            .ok_or_else(|| format!("no correction set with handle {set}"))?;
        let cs = &hs.sets[s].1;
        let compound = match cs.get(&name) {
            Ok(_) => false,
            Err(e) => {
                cs.compound(&name).map_err(|_| e.to_string())?;
                true
            }
        };
        hs.corrections.push(CorrectionRef {
            set: s,
            name,
            compound,
        });
        Ok((hs.corrections.len() - 1) as i64)
    })
}

unsafe extern "C" fn host_correction_eval(
    ctx: *mut c_void,
    correction: i64,
    n: u64,
    args: *const casa_fill_arg,
    n_args: u64,
    out: *mut f64,
) -> i32 {
    use casa_correction::{Column, Value};
    with_state(ctx, -1, |hs| {
        let r = usize::try_from(correction)
            .ok()
            .and_then(|c| hs.corrections.get(c))
            .ok_or_else(|| format!("no correction with handle {correction}"))?;
        let set = &hs.sets[r.set].1;
        let c = if r.compound {
            set.compound(&r.name)
        } else {
            set.get(&r.name)
        }
        .map_err(|e| e.to_string())?;
        let n = n as usize;
        if out.is_null() && n > 0 {
            return Err(format!("correction {:?}: null output array", r.name));
        }
        let raw = unsafe { fill_args(args, n_args) };
        let bad = |i: usize, what: &str| format!("correction {:?}, argument {i}: {what}", r.name);
        // Strings first: the columns borrow them.
        let mut strings: Vec<Vec<&str>> = Vec::new();
        for (i, a) in raw.iter().enumerate() {
            if a.data.is_null() {
                return Err(bad(i, "null data"));
            }
            if a.kind == abi::CASA_FILL_STR {
                strings.push(unsafe { str_column(a, n) }.map_err(|e| bad(i, &e.to_string()))?);
            }
        }
        let mut si = 0;
        let mut cols = Vec::with_capacity(raw.len());
        for (i, a) in raw.iter().enumerate() {
            cols.push(unsafe {
                match a.kind {
                    abi::CASA_FILL_F64 => Column::F64(std::slice::from_raw_parts(a.data.cast(), n)),
                    abi::CASA_FILL_F32 => Column::F32(std::slice::from_raw_parts(a.data.cast(), n)),
                    abi::CASA_FILL_I64 => Column::I64(std::slice::from_raw_parts(a.data.cast(), n)),
                    abi::CASA_FILL_STR => {
                        si += 1;
                        Column::Str(&strings[si - 1])
                    }
                    abi::CASA_FILL_ONE_F64 => Column::Const(Value::Real(*(a.data as *const f64))),
                    abi::CASA_FILL_ONE_I64 => Column::Const(Value::Int(*(a.data as *const i64))),
                    abi::CASA_FILL_ONE_STR => Column::Const(Value::Str(
                        CStr::from_ptr(a.data.cast())
                            .to_str()
                            .map_err(|e| bad(i, &e.to_string()))?,
                    )),
                    k => {
                        return Err(bad(
                            i,
                            &format!("kind {k} is not an input kind (F64, F32, I64, STR or ONE_*)"),
                        ))
                    }
                }
            });
        }
        let out: &mut [f64] = if n == 0 {
            &mut []
        } else {
            unsafe { std::slice::from_raw_parts_mut(out, n) }
        };
        c.evaluate_batch(&cols, out).map_err(|e| e.to_string())?;
        Ok(0)
    })
}
