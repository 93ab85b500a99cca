//! The seam between formats and their users: an [`EventSource`] is anything that stores events
//! as columns in compressed storage units (a TTree's baskets, an RNTuple's pages).
//! The wrapper, `inspect` and `preprocess` only talk to this trait, so a second format is a
//! sibling module that implements it (and one arm in `open`), not an edit in each of them. It
//! plays the part of uproot's shared interpretation layer over its sibling `TTree` and
//! `RNTuple` models: the consumers ask for named columns over an entry range and get the same
//! native arrays back, whichever model read them.

use std::any::Any;

use crate::columns::{Batch, ReadMetrics, ReadPlan};
use crate::compress::Codec;
use crate::error::Result;
use crate::types::ColumnType;

/// The compressed bytes of a plan, one entry per planned storage unit in plan order (`None`
/// for a unit held in memory, like a basket embedded in its TTree).
pub type Fetched = Vec<Option<Vec<u8>>>;

/// What `inspect` shows of one column. Cheap: no I/O.
#[derive(Debug)]
pub struct ColumnInfo {
    /// The name that finds this column and no other (a TTree branch's bare name, or its full
    /// path `parent/child` when other branches share the bare name).
    pub name: String,
    pub title: String,
    /// A one-line type, like uproot's `typename`; also for columns that cannot be read.
    pub type_name: String,
    /// The type as the decoder reads it, or why the column cannot be read.
    pub column_type: Result<ColumnType>,
    /// The storage object's class (a TTree's `TBranch`, `TBranchElement`, ...).
    pub class: String,
    /// A TTree column's leaf class (`TLeafF`); `None` where the format has no leaves.
    pub leaf: Option<String>,
    /// The enclosing column (a TTree sub-branch's parent branch).
    pub parent: Option<String>,
    pub entries: u64,
    /// Compressed storage units (TTree baskets).
    pub units: usize,
    pub compressed_bytes: i64,
    pub uncompressed_bytes: i64,
}

/// A columnar event source: entries, columns and their types, the entry boundaries of its
/// storage units, and reading a batch of columns over an entry range in three steps (plan,
/// fetch, decode) so an I/O layer can coalesce and time the fetch, and decoding can run
/// while the consumer works on the previous batch.
///
/// Column names are the format's own (`Muon_pt`). Errors name the file, the object and the
/// column; [`crate::Error::is_io`] tells a failing source from bad bytes.
pub trait EventSource: Send + Sync {
    /// The ROOT class this source was read from (`TTree`).
    fn class(&self) -> &'static str;
    /// Where the object sits in its file (`Events`, `dir/tree`).
    fn path(&self) -> &str;
    fn title(&self) -> &str;
    /// The file's name, for messages.
    fn file_name(&self) -> &str;
    /// Number of entries (events).
    fn entries(&self) -> u64;
    /// Every column, in file order.
    fn columns(&self) -> Vec<ColumnInfo>;
    /// The type of the column named `name`, or why it is missing or unreadable.
    fn type_of(&self, name: &str) -> Result<ColumnType>;
    /// The entry numbers where every storage unit of the named columns, and of what decoding
    /// them needs (a jagged column's counter), starts or ends: uproot's
    /// `common_entry_offsets`. Always holds 0 and [`entries`](Self::entries). Batches cut
    /// there decompress no unit twice.
    fn boundaries(&self, columns: &[&str]) -> Result<Vec<u64>>;
    /// [`boundaries`](Self::boundaries) over every stored column: where a job may start or end
    /// whatever its analysis reads.
    fn all_boundaries(&self) -> Vec<u64>;
    /// The end of the first storage unit, over the named columns, that holds `entry`: the
    /// earliest a batch starting at `entry` can end without a partial unit for any of them.
    fn first_unit_end(&self, columns: &[&str], entry: u64) -> Option<u64>;
    /// The clustering the file declares (a TTree's fAutoFlush and cluster ranges). Only a hint:
    /// after `hadd` it can disagree with the storage units; use
    /// [`boundaries`](Self::boundaries) to cut.
    fn cluster_hint(&self) -> Vec<u64>;
    /// The codec of the first stored unit of column `index` (in [`columns`](Self::columns)
    /// order), read from its block header (one small read); `None` when it cannot be told.
    fn first_codec(&self, index: usize) -> Option<Codec>;
    /// The storage units and byte ranges needed to read `columns` over `[start, stop)`.
    fn plan(&self, columns: &[&str], start: u64, stop: u64) -> Result<ReadPlan>;
    /// Read a plan's compressed bytes through the byte source (one vector read).
    fn fetch(&self, plan: &ReadPlan) -> Result<Fetched>;
    /// Decompress and decode fetched bytes into the plan's columns, in the order asked for.
    fn decode(&self, plan: &ReadPlan, raw: Fetched) -> Result<(Batch, ReadMetrics)>;
    /// Plan, fetch and decode in one call.
    fn read(&self, columns: &[&str], start: u64, stop: u64) -> Result<Batch> {
        let plan = self.plan(columns, start, stop)?;
        let raw = self.fetch(&plan)?;
        self.decode(&plan, raw).map(|(b, _)| b)
    }
    /// The format's own model, for what only that format has (a TTree's fAutoFlush).
    fn as_any(&self) -> &dyn Any;
}
