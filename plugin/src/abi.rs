//! The C ABI of `include/casa_plugin.h`, mirrored field for field. Version 2.
//!
//! Version 2 appends to version 1's plugin descriptor (optional columns, and a callback that
//! chooses the columns per dataset) and to the host table (the run's configuration, shipped
//! inputs, correctionlib evaluation); the batch is unchanged. A host speaking
//! version 2 also loads version-1 plugins (`casa_plugin_v1`, read with [`casa_plugin_v1`]'s
//! layout); a version-2 plugin exports `casa_plugin_v2`, which an older host does not look
//! up, and that host names the version it found in its error.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

pub const CASA_ABI_VERSION: u32 = 2;
/// The oldest plugin ABI version a host still loads.
pub const CASA_ABI_MIN_VERSION: u32 = 1;
/// The symbol a plugin exports for this ABI version.
pub const ENTRY_SYMBOL: &str = "casa_plugin_v2";
/// The symbol of version-1 plugins.
pub const ENTRY_SYMBOL_V1: &str = "casa_plugin_v1";

pub const CASA_BOOL: i32 = 0;
pub const CASA_I8: i32 = 1;
pub const CASA_U8: i32 = 2;
pub const CASA_I16: i32 = 3;
pub const CASA_U16: i32 = 4;
pub const CASA_I32: i32 = 5;
pub const CASA_U32: i32 = 6;
pub const CASA_I64: i32 = 7;
pub const CASA_U64: i32 = 8;
pub const CASA_F32: i32 = 9;
pub const CASA_F64: i32 = 10;

pub const CASA_FILL_F64: i32 = 0;
pub const CASA_FILL_F32: i32 = 1;
pub const CASA_FILL_I64: i32 = 2;
pub const CASA_FILL_BOOL: i32 = 3;
pub const CASA_FILL_STR: i32 = 4;
pub const CASA_FILL_ONE_F64: i32 = 5;
pub const CASA_FILL_ONE_I64: i32 = 6;
pub const CASA_FILL_ONE_STR: i32 = 7;
pub const CASA_FILL_ONE_BOOL: i32 = 8;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct casa_column {
    pub name: *const c_char,
    pub dtype: i32,
    pub inner: u64,
    pub n_values: u64,
    pub values: *const c_void,
    pub offsets: *const u64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct casa_batch {
    pub dataset: *const c_char,
    pub file: *const c_char,
    pub tree: *const c_char,
    pub file_uuid: *const c_char,
    pub metadata_json: *const c_char,
    pub entry_start: u64,
    pub entry_stop: u64,
    pub n_entries: u64,
    pub n_columns: u64,
    pub columns: *const casa_column,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct casa_fill_arg {
    pub kind: i32,
    pub data: *const c_void,
}

#[repr(C)]
pub struct casa_host {
    pub abi_version: u32,
    pub ctx: *mut c_void,
    pub declare_hist: unsafe extern "C" fn(
        ctx: *mut c_void,
        name: *const c_char,
        spec_json: *const c_char,
    ) -> i64,
    pub fill: unsafe extern "C" fn(
        ctx: *mut c_void,
        hist: i64,
        n: u64,
        args: *const casa_fill_arg,
        n_args: u64,
        weights: *const f64,
        samples: *const f64,
    ) -> i32,
    pub count:
        unsafe extern "C" fn(ctx: *mut c_void, name: *const c_char, value: f64, is_int: i32) -> i32,
    pub last_error: unsafe extern "C" fn(ctx: *mut c_void) -> *const c_char,
    /// Version 2: the run's plugin configuration as JSON text (`null` when the run has none),
    /// owned by the host for the whole job.
    pub config_json: unsafe extern "C" fn(ctx: *mut c_void) -> *const c_char,
    /// Version 2: the local path of the shipped input `name`, owned by the host for the whole
    /// job, or NULL (then `last_error` names the input and the inputs there are).
    pub input_path: unsafe extern "C" fn(ctx: *mut c_void, name: *const c_char) -> *const c_char,
    /// Version 2: read the correctionlib file shipped as input `name` (JSON or gzipped JSON);
    /// a handle >= 0, or -1.
    pub correction_set: unsafe extern "C" fn(ctx: *mut c_void, input: *const c_char) -> i64,
    /// Version 2: the correction `name` of a set (a correction, else a compound correction);
    /// a handle >= 0, or -1.
    pub correction: unsafe extern "C" fn(ctx: *mut c_void, set: i64, name: *const c_char) -> i64,
    /// Version 2: evaluate a correction on `n` rows: one argument per correction input, as
    /// fill arguments (`CASA_FILL_F64`, `_F32`, `_I64`, `_STR` arrays of `n`, or `_ONE_*`
    /// constants); results into `out[n]`. 0, or -1.
    pub correction_eval: unsafe extern "C" fn(
        ctx: *mut c_void,
        correction: i64,
        n: u64,
        args: *const casa_fill_arg,
        n_args: u64,
        out: *mut f64,
    ) -> i32,
}

/// The columns a plugin reads for one dataset: NULL-terminated lists (either may be NULL),
/// owned by the plugin and valid until its next `select_columns` or `destroy`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct casa_column_lists {
    pub required: *const *const c_char,
    pub optional: *const *const c_char,
}

/// Chooses the columns for a dataset (see `casa_plugin.h`).
pub type SelectColumnsFn = unsafe extern "C" fn(
    state: *mut c_void,
    dataset: *const c_char,
    metadata_json: *const c_char,
    out: *mut casa_column_lists,
    err: *mut c_char,
    err_len: u64,
) -> i32;

/// The plugin descriptor of ABI version 1, which version 2 extends.
#[repr(C)]
pub struct casa_plugin_v1 {
    pub abi_version: u32,
    pub name: *const c_char,
    pub columns: *const *const c_char,
    pub init:
        unsafe extern "C" fn(host: *const casa_host, err: *mut c_char, err_len: u64) -> *mut c_void,
    pub process: unsafe extern "C" fn(
        state: *mut c_void,
        host: *const casa_host,
        batch: *const casa_batch,
        err: *mut c_char,
        err_len: u64,
    ) -> i32,
    pub destroy: unsafe extern "C" fn(state: *mut c_void),
}

#[repr(C)]
pub struct casa_plugin {
    pub abi_version: u32,
    pub name: *const c_char,
    pub columns: *const *const c_char,
    pub init:
        unsafe extern "C" fn(host: *const casa_host, err: *mut c_char, err_len: u64) -> *mut c_void,
    pub process: unsafe extern "C" fn(
        state: *mut c_void,
        host: *const casa_host,
        batch: *const casa_batch,
        err: *mut c_char,
        err_len: u64,
    ) -> i32,
    pub destroy: unsafe extern "C" fn(state: *mut c_void),
    /// Version 2: columns read when the file has them (NULL-terminated, or NULL).
    pub optional_columns: *const *const c_char,
    /// Version 2: chooses the columns per dataset, or NULL for `columns` and
    /// `optional_columns`.
    pub select_columns: Option<SelectColumnsFn>,
}

/// Signature of the exported entry point.
pub type EntryFn = unsafe extern "C" fn() -> *const casa_plugin;
