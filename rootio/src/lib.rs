//! A columnar reader for ROOT TTrees and RNTuples, built for analysis jobs: it reads only the branches asked
//! for, only the baskets that overlap the entry range, decompresses them in parallel and hands
//! back contiguous native arrays (with offsets for jagged branches).
//!
//! ```no_run
//! let file = rootio::RootFile::open("nano.root")?;
//! let tree = file.tree("Events")?;
//! let batch = tree.read(&["nMuon", "Muon_pt"], 0, tree.entries)?;
//! let pt = batch.column("Muon_pt").unwrap();
//! println!("{} muons", pt.values.len());
//! # Ok::<(), rootio::Error>(())
//! ```
//!
//! Bytes come through the [`ByteSource`] trait, so the same reader works on local files and,
//! through `xrd-sys` (cargo feature `xrootd`), on XRootD; [`source::open_input`] picks the
//! source by the input's URL scheme. [`Tree::plan`] gives the byte ranges a read needs so an I/O
//! layer can coalesce them.
//!
//! Users that should not care about the format (the job wrapper, `inspect`, `preprocess`) open
//! an [`EventSource`] with [`open_event_source`] and cut ranges with a [`BatchPolicy`]; a new
//! format is a sibling of `tree` + `read` that implements the trait, as the RNTuple reader
//! (`ntuple` + `ntuple_read`) is. The modules form layers (bytes, objects, columns, file, basket,
//! tree/ntuple, read/ntuple_read, open), each importing only those below it;
//! `tests/module_layers.rs` keeps it so.

mod basket;
mod batching;
mod columns;
mod compress;
mod cursor;
mod error;
mod event;
mod file;
mod ntuple;
mod ntuple_read;
mod objects;
mod open;
mod read;
pub mod source;
mod streamed;
mod streamer;
mod tree;
mod types;

pub use basket::FULL_CHECKS_ENV;
pub use batching::BatchPolicy;
pub use columns::{Batch, Column, PlannedBasket, ReadMetrics, ReadPlan, Values};
pub use compress::{
    blocks, decompress, decompress_blocks, decompress_prefix, Block, Codec, DecodeError,
};
pub use error::{Error, Result};
pub use event::{ColumnInfo, EventSource, Fetched};
pub use file::{Directory, FileHeader, Key, RootFile, Uuid};
pub use ntuple::{Cluster, ClusterColumn, ColumnDesc, Field, NTuple, Page};
pub use open::{event_sources, open_event_source};
pub use source::{open_input, ByteRange, ByteSource, Input, LocalFile, MemSource, ReadStats};
pub use streamer::{StreamerElement, StreamerInfo};
pub use tree::{Branch, ElementInfo, EmbeddedBasket, Leaf, Tree};
pub use types::{ColumnType, Layout, Packing, Primitive};
