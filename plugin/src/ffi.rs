//! The glue between the C ABI and a [`Processor`]: the callbacks the host calls, which turn
//! panics and errors into messages (a panic must never unwind into the host).
#![allow(unsafe_code)] // FFI: raw pointers from the host, valid for the duration of each call.

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use crate::abi::{casa_batch, casa_column_lists, casa_host, casa_plugin, CASA_ABI_VERSION};
use crate::events::MetaCache;
use crate::{Dataset, Events, Output, Processor};

/// The static description a plugin returns: owns the C strings it points to.
pub struct Descriptor {
    _name: CString,
    _columns: Vec<CString>,
    _column_ptrs: Vec<*const c_char>,
    _optional: Vec<CString>,
    _optional_ptrs: Vec<*const c_char>,
    plugin: casa_plugin,
}

// The descriptor is immutable once built and its pointers point into itself.
unsafe impl Send for Descriptor {}
unsafe impl Sync for Descriptor {}

fn c_list(names: &[impl AsRef<str>]) -> (Vec<CString>, Vec<*const c_char>) {
    let owned: Vec<CString> = names
        .iter()
        .map(|c| CString::new(c.as_ref().replace('\0', " ")).expect("NULs replaced"))
        .collect();
    let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    (owned, ptrs)
}

impl Descriptor {
    pub fn new<P: Processor>() -> Descriptor {
        install_panic_hook();
        let name = CString::new(P::NAME).expect("plugin name without NUL");
        let (columns, column_ptrs) = c_list(P::COLUMNS);
        let (optional, optional_ptrs) = c_list(P::OPTIONAL);
        let plugin = casa_plugin {
            abi_version: CASA_ABI_VERSION,
            name: name.as_ptr(),
            columns: column_ptrs.as_ptr(),
            init: init::<P>,
            process: process::<P>,
            destroy: destroy::<P>,
            optional_columns: optional_ptrs.as_ptr(),
            select_columns: Some(select_columns::<P>),
        };
        Descriptor {
            _name: name,
            _columns: columns,
            _column_ptrs: column_ptrs,
            _optional: optional,
            _optional_ptrs: optional_ptrs,
            plugin,
        }
    }

    pub fn as_ptr(&self) -> *const casa_plugin {
        &self.plugin
    }
}

/// A processor with what the SDK keeps beside it.
struct Instance<P> {
    p: P,
    meta: MetaCache,
    /// The required columns of the current dataset (the host must pass them all).
    required: Vec<String>,
    /// The lists last handed to the host by `select_columns`.
    lists: [(Vec<CString>, Vec<*const c_char>); 2],
}

thread_local! {
    /// Where the last panic on this thread happened, recorded by the hook.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Record panic locations for the error message (the default hook still prints the message
/// and backtrace on stderr). The plugin links its own standard library, so this hook sees
/// only the plugin's panics.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(l) = info.location() {
                let at = format!("{}:{}:{}", l.file(), l.line(), l.column());
                PANIC_AT.with(|p| *p.borrow_mut() = Some(at));
            }
            previous(info);
        }));
    });
}

/// Copy a message into the host's error buffer, truncated and NUL-terminated.
unsafe fn write_err(err: *mut c_char, err_len: u64, msg: &str) {
    if err.is_null() || err_len == 0 {
        return;
    }
    let mut n = msg.len().min(err_len as usize - 1);
    while !msg.is_char_boundary(n) {
        n -= 1;
    }
    std::ptr::copy_nonoverlapping(msg.as_ptr() as *const c_char, err, n);
    *err.add(n) = 0;
}

/// "panicked at FILE:LINE:COL: MESSAGE".
fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    let msg = if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        String::new()
    };
    let at = PANIC_AT.with(|a| a.borrow_mut().take());
    match (at, msg.is_empty()) {
        (Some(at), false) => format!("panicked at {at}: {msg}"),
        (Some(at), true) => format!("panicked at {at}"),
        (None, false) => format!("panicked: {msg}"),
        (None, true) => "panicked".to_string(),
    }
}

unsafe fn cstr<'a>(p: *const c_char) -> &'a str {
    if p.is_null() {
        ""
    } else {
        CStr::from_ptr(p).to_str().unwrap_or("")
    }
}

unsafe extern "C" fn init<P: Processor>(
    host: *const casa_host,
    err: *mut c_char,
    err_len: u64,
) -> *mut c_void {
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut out = Output::new(&*host);
        P::init(&mut out)
    }));
    match r {
        Ok(Ok(p)) => Box::into_raw(Box::new(Instance {
            p,
            meta: MetaCache::default(),
            required: P::COLUMNS.iter().map(|c| c.to_string()).collect(),
            lists: Default::default(),
        })) as *mut c_void,
        Ok(Err(e)) => {
            write_err(err, err_len, &e.to_string());
            std::ptr::null_mut()
        }
        Err(p) => {
            write_err(err, err_len, &panic_message(p));
            std::ptr::null_mut()
        }
    }
}

unsafe extern "C" fn select_columns<P: Processor>(
    state: *mut c_void,
    dataset: *const c_char,
    metadata_json: *const c_char,
    out: *mut casa_column_lists,
    err: *mut c_char,
    err_len: u64,
) -> i32 {
    if state.is_null() || out.is_null() {
        write_err(err, err_len, "select_columns called with a null pointer");
        return -1;
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        let inst = &mut *(state as *mut Instance<P>);
        let ds = Dataset {
            name: cstr(dataset),
            metadata_json: cstr(metadata_json),
        };
        let cols = inst.p.columns(&ds)?;
        inst.lists = [c_list(&cols.required), c_list(&cols.optional)];
        inst.required = cols.required;
        *out = casa_column_lists {
            required: inst.lists[0].1.as_ptr(),
            optional: inst.lists[1].1.as_ptr(),
        };
        Ok::<(), crate::Error>(())
    }));
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            write_err(err, err_len, &e.to_string());
            -1
        }
        Err(p) => {
            write_err(err, err_len, &panic_message(p));
            -1
        }
    }
}

unsafe extern "C" fn process<P: Processor>(
    state: *mut c_void,
    host: *const casa_host,
    batch: *const casa_batch,
    err: *mut c_char,
    err_len: u64,
) -> i32 {
    if state.is_null() || host.is_null() || batch.is_null() {
        write_err(err, err_len, "process called with a null pointer");
        return -1;
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        let inst = &mut *(state as *mut Instance<P>);
        let events = Events::wrap(&*batch, &inst.required, Some(&inst.meta))?;
        let mut out = Output::new(&*host);
        inst.p.process(&events, &mut out)
    }));
    match r {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            write_err(err, err_len, &e.to_string());
            -1
        }
        Err(p) => {
            // The host adds dataset, file and entry range to every failure; the location is
            // only known here.
            write_err(err, err_len, &panic_message(p));
            -1
        }
    }
}

unsafe extern "C" fn destroy<P: Processor>(state: *mut c_void) {
    if !state.is_null() {
        // A panic in Drop must not cross the boundary either.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop(Box::from_raw(state as *mut Instance<P>))
        }));
    }
}
