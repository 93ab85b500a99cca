//! The glue between the C ABI and a [`Processor`]: the callbacks the host calls, which turn
//! panics and errors into messages (a panic must never unwind into the host).
#![allow(unsafe_code)] // FFI: raw pointers from the host, valid for the duration of each call.

use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::abi::{casa_batch, casa_host, casa_plugin, CASA_ABI_VERSION};
use crate::{Events, Output, Processor};

/// The static description a plugin returns: owns the C strings it points to.
pub struct Descriptor {
    _name: CString,
    _columns: Vec<CString>,
    _column_ptrs: Vec<*const c_char>,
    plugin: casa_plugin,
}

// The descriptor is immutable once built and its pointers point into itself.
unsafe impl Send for Descriptor {}
unsafe impl Sync for Descriptor {}

impl Descriptor {
    pub fn new<P: Processor>() -> Descriptor {
        let name = CString::new(P::NAME).expect("plugin name without NUL");
        let columns: Vec<CString> = P::COLUMNS
            .iter()
            .map(|c| CString::new(*c).expect("column name without NUL"))
            .collect();
        let mut column_ptrs: Vec<*const c_char> = columns.iter().map(|c| c.as_ptr()).collect();
        column_ptrs.push(std::ptr::null());
        let plugin = casa_plugin {
            abi_version: CASA_ABI_VERSION,
            name: name.as_ptr(),
            columns: column_ptrs.as_ptr(),
            init: init::<P>,
            process: process::<P>,
            destroy: destroy::<P>,
        };
        Descriptor {
            _name: name,
            _columns: columns,
            _column_ptrs: column_ptrs,
            plugin,
        }
    }

    pub fn as_ptr(&self) -> *const casa_plugin {
        &self.plugin
    }
}

/// Copy a message into the host's error buffer, truncated and NUL-terminated.
unsafe fn write_err(err: *mut c_char, err_len: u64, msg: &str) {
    if err.is_null() || err_len == 0 {
        return;
    }
    let n = msg.len().min(err_len as usize - 1);
    std::ptr::copy_nonoverlapping(msg.as_ptr() as *const c_char, err, n);
    *err.add(n) = 0;
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
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
        Ok(Ok(state)) => Box::into_raw(Box::new(state)) as *mut c_void,
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
        let state = &mut *(state as *mut P);
        let events = Events::from_raw(&*batch, P::COLUMNS)?;
        let mut out = Output::new(&*host);
        state.process(&events, &mut out)
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

unsafe extern "C" fn destroy<P: Processor>(state: *mut c_void) {
    if !state.is_null() {
        // A panic in Drop must not cross the boundary either.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(Box::from_raw(state as *mut P))));
    }
}
