//! A columnar reader for ROOT TTrees, built for analysis jobs: it reads only the branches asked
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

mod compress;
mod cursor;
mod error;
mod file;
mod objects;
mod read;
pub mod source;
mod streamed;
mod streamer;
mod tree;
mod types;

pub use compress::{decompress, decompress_prefix, Codec, DecodeError};
pub use error::{Error, Result};
pub use file::{Directory, FileHeader, Key, RootFile, Uuid};
pub use read::{Batch, Column, PlannedBasket, ReadMetrics, ReadPlan, Values};
pub use source::{open_input, ByteRange, ByteSource, Input, LocalFile, MemSource, ReadStats};
pub use streamer::{StreamerElement, StreamerInfo};
pub use tree::{Branch, ElementInfo, EmbeddedBasket, Leaf, Tree};
pub use types::{ColumnType, Layout, Packing, Primitive};
