//! Batches built in memory, to unit-test analysis code (and this SDK) without a host: the same
//! [`Events`] a plugin sees in `process`, from columns you give.
//!
//! ```
//! use casa_plugin::testing::TestBatch;
//!
//! // Two events: the first with jets of 50 and 30 GeV, the second with none.
//! let b = TestBatch::new(2)
//!     .jagged("Jet_pt", &[&[50.0f32, 30.0][..], &[]])
//!     .flat("genWeight", &[1.0f32, -1.0])
//!     .metadata(r#"{"is_mc": true}"#);
//! let ev = b.events();
//! assert_eq!(ev.len(), 2);
//! assert_eq!(ev.jagged::<f32>("Jet_pt").unwrap().row(0), &[50.0, 30.0]);
//! ```
#![allow(unsafe_code)] // builds the C batch the SDK wraps, over buffers owned here

use std::ffi::CString;

use crate::abi::{casa_batch, casa_column};
use crate::{Element, Events};

struct Col {
    name: CString,
    dtype: i32,
    // u64 words keep every element type aligned.
    words: Vec<u64>,
    n_values: usize,
    offsets: Option<Vec<u64>>,
}

/// An in-memory batch: columns, dataset, file UUID, entry range and metadata.
pub struct TestBatch {
    n: usize,
    dataset: CString,
    file: CString,
    tree: CString,
    uuid: CString,
    metadata: CString,
    entry_start: u64,
    cols: Vec<Col>,
}

fn abi_dtype<T: Element>() -> i32 {
    use crate::Dtype::*;
    match T::DTYPE {
        Bool => 0,
        I8 => 1,
        U8 => 2,
        I16 => 3,
        U16 => 4,
        I32 => 5,
        U32 => 6,
        I64 => 7,
        U64 => 8,
        F32 => 9,
        F64 => 10,
    }
}

fn words<T: Element>(values: &[T]) -> Vec<u64> {
    let bytes = std::mem::size_of_val(values);
    let mut w = vec![0u64; bytes.div_ceil(8)];
    unsafe {
        std::ptr::copy_nonoverlapping(values.as_ptr() as *const u8, w.as_mut_ptr() as *mut u8, bytes)
    };
    w
}

impl TestBatch {
    /// A batch of `n_entries` events of dataset `test`, file UUID
    /// `00000000-0000-0000-0000-000000000000`, entries `0..n_entries`, no metadata.
    pub fn new(n_entries: usize) -> TestBatch {
        let c = |s: &str| CString::new(s).expect("no NUL");
        TestBatch {
            n: n_entries,
            dataset: c("test"),
            file: c("test.root"),
            tree: c("Events"),
            uuid: c("00000000-0000-0000-0000-000000000000"),
            metadata: c("null"),
            entry_start: 0,
            cols: Vec::new(),
        }
    }

    /// A flat column: one value per event.
    ///
    /// # Panics
    /// If `values` does not have one value per event, or the name holds a NUL.
    pub fn flat<T: Element>(mut self, name: &str, values: &[T]) -> TestBatch {
        assert_eq!(values.len(), self.n, "column {name}: one value per event");
        self.cols.push(Col {
            name: CString::new(name).expect("no NUL"),
            dtype: abi_dtype::<T>(),
            words: words(values),
            n_values: values.len(),
            offsets: None,
        });
        self
    }

    /// A jagged column from one row per event (as `Muon_pt[nMuon]`).
    ///
    /// # Panics
    /// If there is not one row per event, or the name holds a NUL.
    pub fn jagged<T: Element>(mut self, name: &str, rows: &[&[T]]) -> TestBatch {
        assert_eq!(rows.len(), self.n, "column {name}: one row per event");
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        offsets.push(0u64);
        let mut flat = Vec::new();
        for r in rows {
            flat.extend_from_slice(r);
            offsets.push(flat.len() as u64);
        }
        self.cols.push(Col {
            name: CString::new(name).expect("no NUL"),
            dtype: abi_dtype::<T>(),
            words: words(&flat),
            n_values: flat.len(),
            offsets: Some(offsets),
        });
        self
    }

    /// The dataset's metadata as JSON text.
    pub fn metadata(mut self, json: &str) -> TestBatch {
        self.metadata = CString::new(json).expect("no NUL");
        self
    }

    /// The dataset name.
    pub fn dataset(mut self, name: &str) -> TestBatch {
        self.dataset = CString::new(name).expect("no NUL");
        self
    }

    /// The file's UUID.
    pub fn file_uuid(mut self, uuid: &str) -> TestBatch {
        self.uuid = CString::new(uuid).expect("no NUL");
        self
    }

    /// The file entry of the first event (the batch covers `start..start + n_entries`).
    pub fn entry_start(mut self, start: u64) -> TestBatch {
        self.entry_start = start;
        self
    }

    /// The events, as a plugin's `process` sees them.
    ///
    /// # Panics
    /// If a column is inconsistent (a bool column holding bytes other than 0 and 1).
    pub fn events(&self) -> Events<'_> {
        let cols: Vec<casa_column> = self
            .cols
            .iter()
            .map(|c| casa_column {
                name: c.name.as_ptr(),
                dtype: c.dtype,
                inner: 1,
                n_values: c.n_values as u64,
                values: c.words.as_ptr().cast(),
                offsets: c.offsets.as_ref().map_or(std::ptr::null(), |o| o.as_ptr()),
            })
            .collect();
        let batch = casa_batch {
            dataset: self.dataset.as_ptr(),
            file: self.file.as_ptr(),
            tree: self.tree.as_ptr(),
            file_uuid: self.uuid.as_ptr(),
            metadata_json: self.metadata.as_ptr(),
            entry_start: self.entry_start,
            entry_stop: self.entry_start + self.n as u64,
            n_entries: self.n as u64,
            n_columns: cols.len() as u64,
            columns: cols.as_ptr(),
        };
        // Every pointer in `batch` points into `self`, which outlives the events; `wrap`
        // copies what it needs out of `batch` and `cols`.
        unsafe { Events::wrap::<&str>(&batch, &[], None) }.expect("a consistent test batch")
    }
}
