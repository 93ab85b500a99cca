//! Histograms and counters as Python `hist` / boost-histogram users know them, shared by the
//! job wrapper (which fills them for analysis plugins), the plugin SDK and the merge tool.
//!
//! ```
//! use casa_hist::{FillArg, Hist, HistSpec};
//!
//! let spec: HistSpec = serde_json::from_str(
//!     r#"{"axes": [{"type": "regular", "bins": 60, "start": 60, "stop": 120, "name": "mass"}],
//!         "storage": "weight"}"#,
//! )?;
//! let mut h = Hist::new(spec)?;
//! h.fill(&[FillArg::F64(&[91.2, 89.9, 130.0])], None, None)?;
//! assert_eq!(h.sum(true), 3.0);
//! let partial = h.clone();
//! h.add(&partial)?;
//! assert_eq!(h.values(false)[31], 2.0);
//! # Ok::<(), casa_hist::HistError>(())
//! ```
//!
//! # Same bins as hist
//!
//! Bin lookup follows boost-histogram line by line: a regular axis computes
//! `z = (T(x) - T(start)) / (T(stop) - T(start))` and takes bin `floor(z * bins)`, `z < 0`
//! is underflow, `z >= 1` and NaN are overflow, and without an overflow bin `x == stop` goes
//! to the last bin; a variable axis uses `upper_bound` on its edges; values that fall into a
//! flow bin the axis does not have are not counted at all. Category axes count unknown
//! values in an overflow bin, or append them when they grow. Storages and their read-outs
//! (`values`, `variances`, `counts`) follow hist, including its quirks (the variances of a
//! Double histogram are unknown once it was filled with weights; Mean variances are the
//! variance of the mean).
//!
//! # Exact, associative addition
//!
//! The merge tool adds thousands of partial histograms in a tree whose shape depends on
//! which jobs finish first, and the result must not depend on it. Floating-point addition
//! is not associative, so every floating-point bin content (Σw, Σw², and for profiles the
//! count, Σwx and Σwx²) is kept as an *exact* sum: the leading double in a plain array, and
//! the rounding errors in a per-bin non-overlapping expansion (Shewchuk's algorithm, the
//! one behind Python's `math.fsum`).
//!
//! - Filling adds a weight with an error-free `two_sum`: one addition, and the error (zero
//!   for unit weights below 2^53) joins the bin's tail only when it is not zero. Products
//!   (w², wx, wx²) are split exactly with `fma`.
//! - Adding histograms adds the exact sums and stores the result in canonical form: the
//!   correctly rounded value, then the correctly rounded remainders. That form depends only
//!   on the real number, so any grouping and order of additions gives the same bits.
//! - Reading rounds once. Means and variances of profiles are computed from the exact sums
//!   with a correctly rounded division, so they can differ from boost-histogram's running
//!   (Welford) values in the last bits, towards the exact result.
//! - Int64 bins are `i64`; passing `i64::MAX` is an error, never a wrap.
//!
//! Exactness holds for finite sums that stay below about 1e308 and products above about
//! 1e-290 (an `fma` error term below the subnormal range is lost); infinities and NaN
//! propagate as in IEEE arithmetic.
//!
//! # UHI
//!
//! [`Hist::to_uhi`] / [`Hist::from_uhi`] speak the UHI JSON IR as hist writes it: Integer
//! axes as `regular` with `writer_info["boost-histogram"].orig_type = "Integer"`, transformed
//! regular axes as `variable` edges plus the transform in `writer_info`, category `flow` =
//! not growth, axis `metadata` `{name, label}`, storage arrays nested with flow bins (the
//! crate README has the full table). Non-finite numbers are the strings "NaN", "Infinity",
//! "-Infinity" in a `serde_json::Value`; [`write_uhi_json`] writes them as Python's bare
//! tokens and [`parse_json_lenient`] reads those.

mod accumulator;
mod axis;
mod error;
mod exact;
mod hist;
pub mod layout;
pub mod packed;
pub mod payload;
mod spec;
mod storage;
mod uhi;

pub use accumulator::{uhi_key, Accumulator, Counter, Item};
/// The declarations and fill arguments plugins send (one definition, in casa-histspec).
pub use casa_histspec::{AxisSpec, FillArg, HistSpec, StorageKind, Transform, MAX_BINS};
pub use error::HistError;
/// Error-free additions for other exact summers (casa-merge's fast path).
pub use exact::{grow, two_sum};
pub use hist::{Hist, Weights};
pub use uhi::{parse_json_lenient, write_uhi_json};
