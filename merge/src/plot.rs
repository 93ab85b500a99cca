//! PNG plots of every 1D and 2D histogram, drawn with plotters into a pixel buffer and
//! encoded with the `png` crate. The font (DejaVu Sans) is compiled in, so plots look the same
//! on a worker node without fonts.
//!
//! - 1D numeric axis: the histogram as steps over a filled area; a log-transformed axis is
//!   drawn on a log scale.
//! - 1D category (or boolean) axis: one bar per category, labelled.
//! - 2D with one category axis: one line per category over the other axis, with a legend.
//! - Other 2D: a colour map (with a colour bar).
//!
//! Axis titles are the axes' labels (their names when unlabelled); the y title is the
//! histogram's label, else what the storage holds.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use casa_hist::{Accumulator, AxisSpec, Hist, StorageKind, Transform};
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

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font shipped by the dejavu crate.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Plots every histogram of `acc` into `dir/<dataset>/<name>.png`.
pub fn plot_all(acc: &Accumulator, dir: &Path, size: Size) -> Result<Vec<PlotFile>, MergeError> {
    let mut out = Vec::new();
    for (file, png) in render_all(acc, dir, size)? {
        if let (Some(path), Some(png)) = (&file.path, png) {
            write(path.parent().unwrap_or(dir), path, &png)?;
        }
        out.push(file);
    }
    Ok(out)
}

/// A plot made but not written: its record and, when drawn, the PNG bytes.
pub type Rendered = (PlotFile, Option<Vec<u8>>);

/// Every histogram of `acc` drawn, with the path under `dir` it goes to, nothing written
/// (the final merge writes its whole result set at once).
pub fn render_all(acc: &Accumulator, dir: &Path, size: Size) -> Result<Vec<Rendered>, MergeError> {
    let mut out = Vec::new();
    let mut used = std::collections::HashSet::new();
    for (ds, items) in &acc.datasets {
        for (name, item) in items {
            let casa_hist::Item::Hist(h) = item else {
                continue;
            };
            let mut file = PlotFile {
                dataset: ds.clone(),
                name: name.clone(),
                path: None,
                skipped: String::new(),
            };
            let dims = h.spec().axes.len();
            if dims > 2 {
                file.skipped = format!("{dims} axes (only 1D and 2D histograms are drawn)");
            } else if h.shape(false).contains(&0) {
                file.skipped = "an axis has no bins yet".into();
            } else {
                let png = render(h, &format!("{ds}: {name}"), size).map_err(|what| {
                    MergeError::Write {
                        path: dir.to_path_buf(),
                        what: format!("plotting dataset `{ds}`, histogram `{name}`: {what}"),
                    }
                })?;
                let sub = dir.join(safe_name(ds));
                let mut path = sub.join(format!("{}.png", safe_name(name)));
                let mut n = 1;
                while !used.insert(path.clone()) {
                    n += 1;
                    path = sub.join(format!("{}-{n}.png", safe_name(name)));
                }
                file.path = Some(path);
                out.push((file, Some(png)));
                continue;
            }
            out.push((file, None));
        }
    }
    Ok(out)
}

fn write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), MergeError> {
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
enum Scale {
    Linear,
    Log,
    Category(Vec<String>),
}

/// A plot axis: a range and a scale; category `i` spans `[i, i + 1)`.
#[derive(Clone, Debug)]
struct PlotAxis {
    lo: f64,
    hi: f64,
    scale: Scale,
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
            Scale::Category(c) => c.get(v.floor() as usize).cloned().unwrap_or_default(),
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
fn number(v: f64) -> String {
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
enum Bins {
    Edges(Vec<f64>, bool),
    Categories(Vec<String>),
}

fn bins_of(a: &AxisSpec) -> Bins {
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

fn plot_axis(b: &Bins) -> PlotAxis {
    match b {
        Bins::Edges(e, log) => PlotAxis {
            lo: e[0],
            hi: *e.last().unwrap_or(&e[0]),
            scale: if *log && e[0] > 0.0 {
                Scale::Log
            } else {
                Scale::Linear
            },
        },
        Bins::Categories(c) => PlotAxis {
            lo: 0.0,
            hi: c.len() as f64,
            scale: Scale::Category(c.clone()),
        },
    }
}

fn title_of(a: &AxisSpec) -> String {
    if a.label().is_empty() {
        a.name().to_string()
    } else {
        a.label().to_string()
    }
}

fn y_title(h: &Hist) -> String {
    if !h.spec().label.is_empty() {
        return h.spec().label.clone();
    }
    match h.storage_kind() {
        StorageKind::Int64 => "entries".into(),
        StorageKind::Double | StorageKind::Weight => "sum of weights".into(),
        StorageKind::Mean | StorageKind::WeightedMean => "mean".into(),
    }
}

/// A value range with some head room, never empty.
fn value_range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let pad = 0.08 * (hi - lo);
    (if lo < 0.0 { lo - pad } else { lo }, hi + pad)
}

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Viridis, sampled at five points and interpolated.
fn colour(t: f64) -> RGBColor {
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

type Err = String;

fn e<E: std::fmt::Debug>(x: E) -> Err {
    format!("{x:?}")
}

/// Draws one 1D or 2D histogram; returns the PNG file's bytes.
pub fn render(h: &Hist, title: &str, size: Size) -> Result<Vec<u8>, Err> {
    register_font();
    let (w, ht) = (size.width, size.height);
    let mut buf = vec![0u8; w as usize * ht as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, ht)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let axes = &h.spec().axes;
        let values = h.values(false);
        match axes.len() {
            1 => draw_1d(&root, h, &values, title)?,
            2 => {
                let cat = |a: &AxisSpec| matches!(bins_of(a), Bins::Categories(_));
                match (cat(&axes[0]), cat(&axes[1])) {
                    (true, false) => draw_lines(&root, h, &values, title, 0)?,
                    (false, true) => draw_lines(&root, h, &values, title, 1)?,
                    _ => draw_map(&root, h, &values, title)?,
                }
            }
            n => return Err(format!("{n} axes")),
        }
        root.present().map_err(e)?;
    }
    encode_png(&buf, w, ht)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_1d(root: &Area, h: &Hist, values: &[f64], title: &str) -> Result<(), Err> {
    let a = &h.spec().axes[0];
    let bins = bins_of(a);
    let x = plot_axis(&bins);
    let (lo, hi) = value_range(values.iter().copied());
    let y = PlotAxis {
        lo,
        hi,
        scale: Scale::Linear,
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(title_of(a))
        .y_desc(y_title(h))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(e)?;
    let colour = PALETTE[0];
    match bins {
        Bins::Edges(edges, _) => {
            let steps = steps(&edges, values.iter().copied());
            chart
                .draw_series(AreaSeries::new(steps.clone(), 0.0, colour.mix(0.25)))
                .map_err(e)?;
            chart
                .draw_series(LineSeries::new(steps, colour.stroke_width(2)))
                .map_err(e)?;
        }
        Bins::Categories(_) => {
            chart
                .draw_series(values.iter().enumerate().map(|(i, &v)| {
                    let v = if v.is_finite() { v } else { 0.0 };
                    Rectangle::new(
                        [(i as f64 + 0.1, 0.0), (i as f64 + 0.9, v)],
                        colour.filled(),
                    )
                }))
                .map_err(e)?;
        }
    }
    Ok(())
}

/// The outline of a histogram: (edge, value) pairs stepping through the bins.
fn steps(edges: &[f64], values: impl Iterator<Item = f64>) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for (k, v) in values.enumerate() {
        let v = if v.is_finite() { v } else { 0.0 };
        pts.push((edges[k], v));
        pts.push((edges[k + 1], v));
    }
    pts
}

/// A 2D histogram with one category axis (`cat_axis`): one line per category.
fn draw_lines(
    root: &Area,
    h: &Hist,
    values: &[f64],
    title: &str,
    cat_axis: usize,
) -> Result<(), Err> {
    let axes = &h.spec().axes;
    let num_axis = 1 - cat_axis;
    let Bins::Categories(cats) = bins_of(&axes[cat_axis]) else {
        return Err("not a category axis".into());
    };
    let bins = bins_of(&axes[num_axis]);
    let Bins::Edges(edges, _) = &bins else {
        return Err("not a numeric axis".into());
    };
    let shape = h.shape(false);
    let at = |c: usize, k: usize| {
        if cat_axis == 0 {
            values[c * shape[1] + k]
        } else {
            values[k * shape[1] + c]
        }
    };
    let n = edges.len() - 1;
    let (lo, hi) = value_range(values.iter().copied());
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            plot_axis(&bins),
            PlotAxis {
                lo,
                hi,
                scale: Scale::Linear,
            },
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(title_of(&axes[num_axis]))
        .y_desc(y_title(h))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(e)?;
    for (c, name) in cats.iter().enumerate() {
        let colour = PALETTE[c % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                steps(edges, (0..n).map(|k| at(c, k))),
                colour.stroke_width(2),
            ))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    Ok(())
}

/// Any other 2D histogram: a colour map with a colour bar.
fn draw_map(root: &Area, h: &Hist, values: &[f64], title: &str) -> Result<(), Err> {
    let axes = &h.spec().axes;
    let (bx, by) = (bins_of(&axes[0]), bins_of(&axes[1]));
    let shape = h.shape(false);
    let (n0, n1) = (shape[0], shape[1]);
    let (vmin, vmax) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let (vmin, vmax) = if vmin < vmax {
        (vmin, vmax)
    } else {
        (vmin.min(0.0), vmin.max(0.0) + 1.0)
    };
    let (main, bar) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(110));
    let mut chart = ChartBuilder::on(&main)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(plot_axis(&bx), plot_axis(&by))
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(title_of(&axes[0]))
        .y_desc(title_of(&axes[1]))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()
        .map_err(e)?;
    let span = |b: &Bins, k: usize| match b {
        Bins::Edges(e, _) => (e[k], e[k + 1]),
        Bins::Categories(_) => (k as f64, k as f64 + 1.0),
    };
    chart
        .draw_series((0..n0).flat_map(|i| {
            let (x0, x1) = span(&bx, i);
            let by = &by;
            (0..n1).map(move |j| {
                let (y0, y1) = span(by, j);
                let v = values[i * n1 + j];
                Rectangle::new(
                    [(x0, y0), (x1, y1)],
                    colour((v - vmin) / (vmax - vmin)).filled(),
                )
            })
        }))
        .map_err(e)?;
    // The colour bar.
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(40)
        .margin_bottom(57)
        .margin_right(10)
        .y_label_area_size(60)
        .build_cartesian_2d(
            PlotAxis {
                lo: 0.0,
                hi: 1.0,
                scale: Scale::Linear,
            },
            PlotAxis {
                lo: vmin,
                hi: vmax,
                scale: Scale::Linear,
            },
        )
        .map_err(e)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style((FONT, 12))
        .draw()
        .map_err(e)?;
    let steps = 64;
    cb.draw_series((0..steps).map(|k| {
        let (a, b) = (k as f64 / steps as f64, (k + 1) as f64 / steps as f64);
        Rectangle::new(
            [
                (0.0, vmin + a * (vmax - vmin)),
                (1.0, vmin + b * (vmax - vmin)),
            ],
            colour((a + b) / 2.0).filled(),
        )
    }))
    .map_err(e)?;
    Ok(())
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, Err> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|x| x.to_string())?;
    writer.write_image_data(rgb).map_err(|x| x.to_string())?;
    writer.finish().map_err(|x| x.to_string())?;
    Ok(out)
}
