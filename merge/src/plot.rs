//! What the plots of a merge share: the record of a plot, axes, ticks, colour map, PNG
//! encoding (the plots themselves are drawn by [`crate::figure`], which imports this module,
//! never the other way round). The font (DejaVu Sans) is compiled in, so plots look the same on a worker
//! node without fonts.
//!
//! - 1D numeric axis: the histogram as steps over a filled area, with error bars when the
//!   storage has variances; a log-transformed axis is drawn on a log scale.
//! - 1D category (or boolean) axis: one bar per category, labelled.
//! - 2D with one category axis: one line per category over the other axis, with a legend.
//! - Other 2D: a colour map (with a colour bar).
//!
//! Axis titles are the axes' labels (their names when unlabelled, mathtext drawn); the y
//! title is the histogram's label, else what the storage holds.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use casa_hist::{AxisSpec, Transform};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use serde::Serialize;

use crate::error::MergeError;

/// Pixel size of the plots.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Default for Size {
    fn default() -> Self {
        Size {
            width: 800,
            height: 600,
        }
    }
}

/// A plot written (or a histogram not plotted, with the reason).
#[derive(Clone, Debug, Serialize)]
pub struct PlotFile {
    pub dataset: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub skipped: String,
}

pub(crate) const FONT: &str = "sans-serif";

pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped by the dejavu crate.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

pub(crate) fn write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), MergeError> {
    let fail = |e: std::io::Error| MergeError::Write {
        path: path.to_path_buf(),
        what: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    casa_formats::fsutil::atomic_write(path, bytes).map_err(fail)
}

/// The longest name [`safe_name`] returns: room under NAME_MAX (255 bytes) for a `-N.png`
/// suffix and the temporary name of an atomic write (`.NAME.tmp.PID`).
pub const MAX_NAME: usize = 100;

/// A file name from a dataset or histogram name: letters, digits, `.`, `_`, `-` kept. A name
/// longer than [`MAX_NAME`] keeps its start and ends with a hash of the whole name, so long
/// names that differ only at the end stay apart.
pub fn safe_name(s: &str) -> String {
    let t = plain_name(s);
    if t.len() <= MAX_NAME {
        return t;
    }
    let hash = format!("{:016x}", xxhash_rust::xxh64::xxh64(s.as_bytes(), 0));
    // Every character of `t` is ASCII: any byte index is a character boundary.
    format!("{}-{hash}", &t[..MAX_NAME - hash.len() - 1])
}

fn plain_name(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() || t.starts_with('.') {
        format!("_{t}")
    } else {
        t
    }
}

/// How one axis is drawn.
#[derive(Clone, Debug)]
pub(crate) enum Scale {
    Linear,
    Log,
    Category(Vec<String>),
}

/// A plot axis: a range and a scale; category `i` spans `[i, i + 1)`.
#[derive(Clone, Debug)]
pub(crate) struct PlotAxis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) scale: Scale,
}

impl Ranged for PlotAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = match self.scale {
            Scale::Log => {
                (v.max(f64::MIN_POSITIVE).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
            }
            _ => (v - self.lo) / (self.hi - self.lo),
        };
        let t = if t.is_finite() {
            t.clamp(-10.0, 10.0)
        } else {
            0.0
        };
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let max = hint.max_num_points().max(2);
        match &self.scale {
            Scale::Category(c) => {
                let step = c.len().div_ceil(max).max(1);
                (0..c.len()).step_by(step).map(|i| i as f64 + 0.5).collect()
            }
            Scale::Log => {
                let (a, b) = (
                    self.lo.log10().floor() as i32,
                    self.hi.log10().ceil() as i32,
                );
                let step = ((b - a) as usize).div_ceil(max).max(1);
                (a..=b)
                    .step_by(step)
                    .map(|k| 10f64.powi(k))
                    .filter(|x| *x >= self.lo * (1.0 - 1e-12) && *x <= self.hi * (1.0 + 1e-12))
                    .collect()
            }
            Scale::Linear => nice_ticks(self.lo, self.hi, max.min(10)),
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for PlotAxis {
    fn format_ext(&self, v: &f64) -> String {
        match &self.scale {
            Scale::Category(c) => c
                .get(v.floor() as usize)
                .map(|c| crate::mathtext::plain(c))
                .unwrap_or_default(),
            _ => number(*v),
        }
    }
}

/// Up to `n` round tick values (1, 2, 5 times a power of ten) in `[lo, hi]`.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = hi - lo;
    if !span.is_finite() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A short label for a tick value.
pub(crate) fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The bin edges of a numeric axis, or the categories of a category axis.
pub(crate) enum Bins {
    Edges(Vec<f64>, bool),
    Categories(Vec<String>),
}

pub(crate) fn bins_of(a: &AxisSpec) -> Bins {
    match a {
        // casa-hist's edges are boost-histogram's, bit for bit, as in the UHI export.
        AxisSpec::Regular { transform, .. } => {
            Bins::Edges(a.edges(), matches!(transform, Transform::Log))
        }
        AxisSpec::Variable { .. } | AxisSpec::Integer { .. } => Bins::Edges(a.edges(), false),
        AxisSpec::StrCategory { categories, .. } => Bins::Categories(categories.clone()),
        AxisSpec::IntCategory { categories, .. } => {
            Bins::Categories(categories.iter().map(|c| c.to_string()).collect())
        }
        AxisSpec::Boolean { .. } => Bins::Categories(vec!["false".into(), "true".into()]),
    }
}

pub(crate) fn title_of(a: &AxisSpec) -> String {
    if a.label().is_empty() {
        a.name().to_string()
    } else {
        a.label().to_string()
    }
}

/// Viridis, sampled at five points and interpolated.
pub(crate) fn colour(t: f64) -> RGBColor {
    const V: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    RGBColor(
        mix(V[i].0, V[i + 1].0),
        mix(V[i].1, V[i + 1].1),
        mix(V[i].2, V[i + 1].2),
    )
}

pub(crate) type Err = String;

pub(crate) fn e<E: std::fmt::Debug>(x: E) -> Err {
    format!("{x:?}")
}

pub(crate) fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, Err> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|x| x.to_string())?;
    writer.write_image_data(rgb).map_err(|x| x.to_string())?;
    writer.finish().map_err(|x| x.to_string())?;
    Ok(out)
}
