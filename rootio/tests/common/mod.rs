//! What the reference tests share: running a Python reference script (uproot) that dumps
//! every column of a file, and comparing casa's values with its dumps byte for byte.

use std::path::Path;
use std::process::Command;

use rootio::Values;
use serde_json::Value;

use casa_test_support::{python, workspace};

pub struct Reference {
    pub dir: tempfile::TempDir,
    pub manifest: Value,
}

/// Runs `tests/python/<script>` on `file` (it writes `manifest.json` and one file per column).
pub fn reference(script: &str, file: &Path) -> Reference {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(workspace().join("tests/python").join(script))
        .arg(file)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} failed on {}:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    Reference { dir, manifest }
}

/// The values as little-endian bytes, with the numpy dtype name the dumps use.
pub fn le_bytes(v: &Values) -> (&'static str, Vec<u8>) {
    fn le<T: Copy, const N: usize>(v: &[T], f: fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|&x| f(x)).collect()
    }
    match v {
        Values::Bool(v) => ("bool", v.iter().map(|&b| b as u8).collect()),
        Values::I8(v) => ("int8", le(v, i8::to_le_bytes)),
        Values::U8(v) => ("uint8", v.clone()),
        Values::I16(v) => ("int16", le(v, i16::to_le_bytes)),
        Values::U16(v) => ("uint16", le(v, u16::to_le_bytes)),
        Values::I32(v) => ("int32", le(v, i32::to_le_bytes)),
        Values::U32(v) => ("uint32", le(v, u32::to_le_bytes)),
        Values::I64(v) => ("int64", le(v, i64::to_le_bytes)),
        Values::U64(v) => ("uint64", le(v, u64::to_le_bytes)),
        Values::F32(v) => ("float32", le(v, f32::to_le_bytes)),
        Values::F64(v) => ("float64", le(v, f64::to_le_bytes)),
    }
}

/// Bytes per element of a numpy dtype name.
pub fn width(dtype: &str) -> usize {
    match dtype {
        "bool" | "int8" | "uint8" => 1,
        "int16" | "uint16" => 2,
        "int32" | "uint32" | "float32" => 4,
        _ => 8,
    }
}
