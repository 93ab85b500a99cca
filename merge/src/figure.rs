//! `casa-merge plot`: one histogram drawn as a physicist asks for it, natively (plotters),
//! as PNG or SVG. The histogram is cut down first, as hist does: `--slice axis=value` keeps
//! one bin of an axis, `--project axis` keeps the named axes and sums the others (flow bins
//! included, as `hist.project`). What is left is drawn:
//!
//! - one numeric or category axis: the histogram as steps (bars for categories) with error
//!   bars when the storage knows its variances (sqrt of the variances);
//! - plus a category axis given as `--stack`: filled stacked histograms, error bars on the
//!   total; as `--overlay`: one line per category, each with its error bars;
//! - two axes otherwise: a colour map.
//!
//! Labels are mathtext ([`crate::mathtext`]), drawn with sub- and superscripts; colours come
//! from a 20-colour table, then golden-angle hues, so any number of categories stay apart;
//! the legend goes in the upper corner where it covers the least data, and the y range grows
//! until it covers none.

use std::path::Path;

use casa_hist::{AxisSpec, Hist, StorageKind};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::MergeError;
use crate::mathtext::{self, Script};
use crate::plot::{self, bins_of, e, Bins, Err, PlotAxis, Scale, Size, FONT};

/// What to draw.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `(axis, value)`: keep the bin of `axis` holding `value` (a category, or a number).
    pub slices: Vec<(String, String)>,
    /// Keep these axes (and the stack or overlay axis), summing the others.
    pub project: Vec<String>,
    pub stack: Option<String>,
    pub overlay: Option<String>,
    pub logx: bool,
    pub logy: bool,
    /// Each series (the stack's total) normalised to unit area.
    pub density: bool,
    /// The category of the stack or overlay axis that is data: drawn as points with error
    /// bars over the others, not stacked.
    pub data: Option<String>,
    pub size: Size,
}

/// The output format, from the file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn of(path: &Path) -> Result<Format, MergeError> {
        match path.extension().and_then(|x| x.to_str()) {
            Some(x) if x.eq_ignore_ascii_case("png") => Ok(Format::Png),
            Some(x) if x.eq_ignore_ascii_case("svg") => Ok(Format::Svg),
            _ => Err(MergeError::Usage(format!(
                "{}: the plot's file name must end in .png or .svg",
                path.display()
            ))),
        }
    }
}

/// A histogram's bins as plain numbers (flow bins included), cut down axis by axis.
#[derive(Clone, Debug)]
struct Grid {
    axes: Vec<AxisSpec>,
    shape: Vec<usize>,
    values: Vec<f64>,
    variances: Option<Vec<f64>>,
}

impl Grid {
    fn of(h: &Hist) -> Grid {
        // Int64 counts are their own variances (hist's plot shows them so).
        let variances = h
            .variances(true)
            .or_else(|| (h.storage_kind() == StorageKind::Int64).then(|| h.values(true)));
        Grid {
            axes: h.spec().axes.clone(),
            shape: h.shape(true),
            values: h.values(true),
            variances,
        }
    }

    fn axis(&self, name: &str) -> Result<usize, MergeError> {
        self.axes
            .iter()
            .position(|a| a.name() == name)
            .ok_or_else(|| {
                MergeError::Usage(format!(
                    "no axis `{name}` (axes: {})",
                    self.axes
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Applies `f(kept, index along axis)` to every bin, giving the grid without `axis`.
    fn reduce(&self, axis: usize, keep: impl Fn(usize) -> bool) -> Grid {
        let outer: usize = self.shape[..axis].iter().product();
        let n = self.shape[axis];
        let inner: usize = self.shape[axis + 1..].iter().product();
        let fold = |v: &[f64]| {
            let mut out = vec![0.0; outer * inner];
            for o in 0..outer {
                for k in (0..n).filter(|&k| keep(k)) {
                    for i in 0..inner {
                        out[o * inner + i] += v[(o * n + k) * inner + i];
                    }
                }
            }
            out
        };
        let mut axes = self.axes.clone();
        axes.remove(axis);
        let mut shape = self.shape.clone();
        shape.remove(axis);
        Grid {
            axes,
            shape,
            values: fold(&self.values),
            variances: self.variances.as_deref().map(fold),
        }
    }

    /// The flow-bin index of `value` on axis `i`.
    fn find(&self, i: usize, value: &str) -> Result<usize, MergeError> {
        let a = &self.axes[i];
        let (under, _) = a.flow();
        let under = usize::from(under);
        let not_found =
            |what: String| MergeError::Usage(format!("--slice {}={value}: {what}", a.name()));
        match bins_of(a) {
            Bins::Categories(c) => c.iter().position(|x| x == value).ok_or_else(|| {
                not_found(format!("no such category (categories: {})", c.join(", ")))
            }),
            Bins::Edges(edges, _) => {
                let v: f64 = value
                    .parse()
                    .map_err(|_| not_found("not a number, and the axis is numeric".into()))?;
                let k = edges
                    .windows(2)
                    .position(|w| w[0] <= v && v < w[1])
                    .ok_or_else(|| {
                        not_found(format!(
                            "outside [{}, {})",
                            edges[0],
                            edges[edges.len() - 1]
                        ))
                    })?;
                Ok(k + under)
            }
        }
    }
}

/// One line, filled area or stack layer, per category of the group axis (or just one).
struct Series {
    label: String,
    values: Vec<f64>,
    variances: Option<Vec<f64>>,
}

/// What [`plot`] drew, for the command's summary and the tests.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Drawn {
    pub kind: String,
    pub x_title: String,
    pub y_title: String,
    pub series: Vec<String>,
    /// Values drawn, series by series (after density), without flow bins.
    pub values: Vec<Vec<f64>>,
    /// The data points (`--data`), after density.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<f64>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Single,
    Stack,
    Overlay,
}

/// Draws `h` as `req` asks into `out` (PNG or SVG by its name); `title` is written above.
pub fn plot(h: &Hist, title: &str, req: &Request, out: &Path) -> Result<Drawn, MergeError> {
    let format = Format::of(out)?;
    let (drawn, bytes) = render(h, title, req, format)?;
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    plot::write(dir.unwrap_or(Path::new(".")), out, &bytes)?;
    Ok(drawn)
}

/// The image's bytes, and what it shows.
pub fn render(
    h: &Hist,
    title: &str,
    req: &Request,
    format: Format,
) -> Result<(Drawn, Vec<u8>), MergeError> {
    let mean = matches!(
        h.storage_kind(),
        StorageKind::Mean | StorageKind::WeightedMean
    );
    let mut g = Grid::of(h);
    for (name, value) in &req.slices {
        let i = g.axis(name)?;
        let k = g.find(i, value)?;
        g = g.reduce(i, |j| j == k);
    }
    let group = match (&req.stack, &req.overlay) {
        (Some(_), Some(_)) => {
            return Err(MergeError::Usage(
                "--stack and --overlay: give one of them".into(),
            ))
        }
        (Some(a), None) => Some((a.as_str(), Mode::Stack)),
        (None, Some(a)) => Some((a.as_str(), Mode::Overlay)),
        (None, None) => None,
    };
    if let Some((name, _)) = group {
        let i = g.axis(name)?;
        if !matches!(bins_of(&g.axes[i]), Bins::Categories(_)) {
            return Err(MergeError::Usage(format!(
                "--stack/--overlay {name}: not a category axis"
            )));
        }
    }
    if !req.project.is_empty() {
        let mut keep: Vec<&str> = req.project.iter().map(String::as_str).collect();
        keep.extend(group.map(|(n, _)| n));
        for k in &keep {
            g.axis(k)?;
        }
        while let Some(i) = g.axes.iter().position(|a| !keep.contains(&a.name())) {
            if mean {
                return Err(MergeError::Usage(format!(
                    "{} storage: means do not add; --slice axis `{}` instead",
                    h.storage_kind(),
                    g.axes[i].name()
                )));
            }
            g = g.reduce(i, |_| true);
        }
    }
    let axis_names = || {
        g.axes
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(empty) = g.axes.iter().find(|a| a.bins() == 0) {
        return Err(MergeError::Usage(format!(
            "axis `{}` has no bins yet (a growth axis never filled): nothing to draw",
            empty.name()
        )));
    }
    let dims = g.axes.len();
    let (mode, x_axis, group_axis) = match (group, dims) {
        (Some((name, mode)), 2) => {
            let gi = g.axis(name)?;
            (mode, 1 - gi, Some(gi))
        }
        (None, 1) => (Mode::Single, 0, None),
        (None, 2) => {
            // One category axis: a line per category, as the automatic plots draw it.
            let cat = |a: &AxisSpec| matches!(bins_of(a), Bins::Categories(_));
            match (cat(&g.axes[0]), cat(&g.axes[1])) {
                (true, false) => (Mode::Overlay, 1, Some(0)),
                (false, true) => (Mode::Overlay, 0, Some(1)),
                _ => return draw_map_to(&g, title, req, format),
            }
        }
        _ => {
            return Err(MergeError::Usage(format!(
                "{dims} axes left ({}): --slice or --project them down to one{}",
                axis_names(),
                if group.is_some() {
                    " besides the stacked or overlaid one"
                } else {
                    " or two"
                }
            )))
        }
    };
    let xa = g.axes[x_axis].clone();
    let (x_under, _) = xa.flow();
    let nx = xa.bins();
    let x_bins = bins_of(&xa);
    let edges: Vec<f64> = match &x_bins {
        Bins::Edges(e, _) => e.clone(),
        Bins::Categories(c) => (0..=c.len()).map(|i| i as f64).collect(),
    };
    let at = |v: &[f64], gk: Option<usize>, k: usize| -> f64 {
        let xi = k + usize::from(x_under);
        match (group_axis, gk) {
            (Some(0), Some(c)) => v[c * g.shape[1] + xi],
            (Some(_), Some(c)) => v[xi * g.shape[1] + c],
            _ => v[xi],
        }
    };
    let mut series: Vec<Series> = Vec::new();
    match group_axis {
        Some(gi) => {
            let Bins::Categories(cats) = bins_of(&g.axes[gi]) else {
                unreachable!("checked above")
            };
            for (c, name) in cats.iter().enumerate() {
                series.push(Series {
                    label: name.clone(),
                    values: (0..nx).map(|k| at(&g.values, Some(c), k)).collect(),
                    variances: g
                        .variances
                        .as_ref()
                        .map(|v| (0..nx).map(|k| at(v, Some(c), k)).collect()),
                });
            }
        }
        None => series.push(Series {
            label: String::new(),
            values: (0..nx).map(|k| at(&g.values, None, k)).collect(),
            variances: g
                .variances
                .as_ref()
                .map(|v| (0..nx).map(|k| at(v, None, k)).collect()),
        }),
    }
    let mut data = match &req.data {
        None => None,
        Some(d) => {
            if group_axis.is_none() {
                return Err(MergeError::Usage(format!(
                    "--data {d}: give the axis its category is on with --stack or --overlay"
                )));
            }
            let i = series.iter().position(|s| &s.label == d).ok_or_else(|| {
                MergeError::Usage(format!(
                    "--data {d}: no such category (categories: {})",
                    series
                        .iter()
                        .map(|s| s.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            Some(series.remove(i))
        }
    };
    if req.density {
        if mean {
            return Err(MergeError::Usage(format!(
                "--density: a {} storage holds means, not counts",
                h.storage_kind()
            )));
        }
        // hist's density: values / (their sum x bin width), so the area is one.
        let width = |k: usize| edges[k + 1] - edges[k];
        let sum = |s: &Series| -> f64 { s.values.iter().sum() };
        let scale = |s: &mut Series, norm: f64| {
            if norm != 0.0 && norm.is_finite() {
                for (k, v) in s.values.iter_mut().enumerate() {
                    *v /= norm * width(k);
                }
                for (k, v) in s.variances.iter_mut().flatten().enumerate() {
                    *v /= (norm * width(k)).powi(2);
                }
            }
        };
        let total: f64 = series.iter().map(sum).sum();
        for s in &mut series {
            let norm = if mode == Mode::Stack { total } else { sum(s) };
            scale(s, norm);
        }
        if let Some(d) = &mut data {
            let norm = sum(d);
            scale(d, norm);
        }
    }
    let x_title = plot::title_of(&xa);
    let y_title = if req.density {
        "density".to_string()
    } else if !h.spec().label.is_empty() {
        h.spec().label.clone()
    } else {
        match h.storage_kind() {
            StorageKind::Int64 => "entries".into(),
            StorageKind::Double | StorageKind::Weight => "sum of weights".into(),
            StorageKind::Mean | StorageKind::WeightedMean => "mean".into(),
        }
    };
    let fig = Fig1d {
        title: title.to_string(),
        x_title: x_title.clone(),
        y_title: y_title.clone(),
        x: PlotAxis {
            lo: edges[0],
            hi: edges[nx],
            scale: match &x_bins {
                Bins::Categories(c) => Scale::Category(c.clone()),
                Bins::Edges(_, log) if (*log || req.logx) && edges[0] > 0.0 => Scale::Log,
                Bins::Edges(..) => Scale::Linear,
            },
        },
        category_x: matches!(x_bins, Bins::Categories(_)),
        edges,
        series: &series,
        data: data.as_ref(),
        mode,
        logy: req.logy,
    };
    let bytes = draw_any(req.size, format, &fig)?;
    let drawn = Drawn {
        kind: match mode {
            Mode::Single => "1d",
            Mode::Stack => "stack",
            Mode::Overlay => "overlay",
        }
        .into(),
        x_title,
        y_title,
        series: series.iter().map(|s| s.label.clone()).collect(),
        values: series.iter().map(|s| s.values.clone()).collect(),
        data: data.map(|d| d.values),
    };
    Ok((drawn, bytes))
}

/// A figure that draws itself on any plotters backend.
trait Painter {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Err>;
}

/// Paints `draw` on a PNG or SVG canvas of `size`; the file's bytes.
fn draw_any(size: Size, format: Format, draw: &impl Painter) -> Result<Vec<u8>, MergeError> {
    plot::register_font();
    let (w, h) = (size.width, size.height);
    let fail = |what: String| MergeError::Internal(format!("drawing the plot: {what}"));
    match format {
        Format::Png => {
            let mut buf = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(|x| fail(e(x)))?;
                draw.paint(&root).map_err(fail)?;
                root.present().map_err(|x| fail(e(x)))?;
            }
            plot::encode_png(&buf, w, h).map_err(fail)
        }
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(|x| fail(e(x)))?;
                draw.paint(&root).map_err(fail)?;
                root.present().map_err(|x| fail(e(x)))?;
            }
            Ok(text.into_bytes())
        }
    }
}

/// Colour `k` of any number: a 20-colour table (matplotlib's tab10, then tab20's light
/// halves), then hues a golden angle apart.
pub fn palette(k: usize) -> RGBColor {
    const T: [(u8, u8, u8); 20] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
        (174, 199, 232),
        (255, 187, 120),
        (152, 223, 138),
        (255, 152, 150),
        (197, 176, 213),
        (196, 156, 148),
        (247, 182, 210),
        (199, 199, 199),
        (219, 219, 141),
        (158, 218, 229),
    ];
    if let Some(&(r, g, b)) = T.get(k) {
        return RGBColor(r, g, b);
    }
    let hue = ((k - T.len()) as f64 * 137.507_764) % 360.0;
    let (s, l) = (0.65, if k % 2 == 0 { 0.45 } else { 0.62 });
    let c = (1.0 - (2.0 * l - 1.0f64).abs()) * s;
    let x = c * (1.0 - ((hue / 60.0) % 2.0 - 1.0).abs());
    let (r, g, b) = match (hue / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let to = |v: f64| ((v + m) * 255.0).round() as u8;
    RGBColor(to(r), to(g), to(b))
}

struct Fig1d<'a> {
    title: String,
    x_title: String,
    y_title: String,
    x: PlotAxis,
    category_x: bool,
    edges: Vec<f64>,
    series: &'a [Series],
    data: Option<&'a Series>,
    mode: Mode,
    logy: bool,
}

const MARGIN: u32 = 14;
const X_AREA: u32 = 62;
const Y_AREA: u32 = 86;
const TOP: u32 = 34;
const TICK_FONT: u32 = 15;
const TITLE_FONT: u32 = 19;
const LEGEND_FONT: u32 = 15;

impl Painter for Fig1d<'_> {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Err> {
        draw_1d(root, self)
    }
}

fn draw_1d<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, f: &Fig1d) -> Result<(), Err> {
    let (w, h) = root.dim_in_pixel();
    let n = f.edges.len() - 1;
    // What sits on top in each bin (stack total, or the highest line with its error bar).
    let err = |s: &Series, k: usize| s.variances.as_ref().map_or(0.0, |v| v[k].max(0.0).sqrt());
    let total: Vec<f64> = (0..n)
        .map(|k| f.series.iter().map(|s| finite(s.values[k])).sum())
        .collect();
    let total_err: Vec<f64> = (0..n)
        .map(|k| {
            f.series
                .iter()
                .map(|s| s.variances.as_ref().map_or(0.0, |v| v[k].max(0.0)))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let data_top = |k: usize| {
        f.data
            .map_or(f64::MIN, |d| finite(d.values[k]) + data_err(d, k))
    };
    let top: Vec<f64> = (0..n)
        .map(|k| match f.mode {
            Mode::Stack => total[k] + total_err[k],
            _ => f
                .series
                .iter()
                .map(|s| finite(s.values[k]) + err(s, k))
                .fold(f64::MIN, f64::max),
        })
        .enumerate()
        .map(|(k, t)| t.max(data_top(k)))
        .collect();
    let low = (0..n)
        .flat_map(|k| {
            f.series
                .iter()
                .map(move |s| finite(s.values[k]) - err(s, k))
        })
        .fold(0.0f64, f64::min);
    let positive_min = f
        .series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let data_max = top.iter().copied().fold(0.0f64, f64::max);
    // The legend: rows, size, and the corner where it covers the least data.
    // Data last (listed first), marked by `usize::MAX`.
    let legend: Vec<(usize, &Series)> = f
        .series
        .iter()
        .enumerate()
        .chain(f.data.map(|d| (usize::MAX, d)))
        .filter(|(_, s)| !s.label.is_empty())
        .collect();
    let row_h = LEGEND_FONT + 7;
    let lw = legend
        .iter()
        .map(|(_, s)| rich_width(root, &mathtext::parse(&s.label), LEGEND_FONT))
        .max()
        .unwrap_or(0)
        + 42;
    let lh = legend.len() as u32 * row_h + 10;
    let plot_w = w.saturating_sub(Y_AREA + 2 * MARGIN).max(1);
    let plot_h = h.saturating_sub(X_AREA + TOP + MARGIN).max(1);
    let frac_x = (f64::from(lw + 16) / f64::from(plot_w)).min(1.0);
    let frac_y = (f64::from(lh + 16) / f64::from(plot_h)).min(0.9);
    let span_max = |from: f64, to: f64| {
        (0..n)
            .filter(|&k| {
                let (a, b) = (f.x.frac(f.edges[k]), f.x.frac(f.edges[k + 1]));
                b > from && a < to
            })
            .map(|k| top[k])
            .fold(0.0f64, f64::max)
    };
    let (right, left) = (span_max(1.0 - frac_x, 1.0), span_max(0.0, frac_x));
    let upper_right = legend.is_empty() || right <= left;
    let local = if legend.is_empty() {
        0.0
    } else if upper_right {
        right
    } else {
        left
    };
    let (ylo, yhi) = if f.logy {
        let lo = if positive_min.is_finite() {
            10f64.powf((positive_min / 2.0).log10().floor())
        } else {
            0.1
        };
        let hi = data_max.max(lo * 10.0);
        // In log space: the data below the legend, then 5 % head room.
        let (llo, lhi, lloc) = (lo.ln(), hi.ln(), local.max(lo).ln());
        let need = llo + (lloc - llo) / (1.0 - frac_y);
        let top = lhi.max(need) + 0.05 * (lhi.max(need) - llo);
        (lo, top.exp())
    } else {
        let lo = if low < 0.0 { low * 1.08 } else { 0.0 };
        let hi = if data_max > lo { data_max } else { lo + 1.0 };
        let need = lo + (local - lo) / (1.0 - frac_y);
        (lo, hi.max(need) * 1.06 - lo * 0.06)
    };
    let y = PlotAxis {
        lo: ylo,
        hi: yhi,
        scale: if f.logy { Scale::Log } else { Scale::Linear },
    };
    let mut chart = ChartBuilder::on(root)
        .margin(MARGIN)
        .margin_top(TOP)
        .x_label_area_size(X_AREA)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(f.x.clone(), y)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .label_style((FONT, TICK_FONT))
        .draw()
        .map_err(e)?;
    let clamp = |v: f64| if f.logy { v.max(ylo) } else { v };
    let bar = |k: usize| {
        if f.category_x && f.mode != Mode::Stack {
            (f.edges[k] + 0.1, f.edges[k + 1] - 0.1)
        } else {
            (f.edges[k], f.edges[k + 1])
        }
    };
    match f.mode {
        Mode::Stack => {
            let mut base = vec![0.0; n];
            for (c, s) in f.series.iter().enumerate() {
                let colour = palette(c);
                chart
                    .draw_series((0..n).map(|k| {
                        let (x0, x1) = bar(k);
                        let (b, t) = (base[k], base[k] + finite(s.values[k]));
                        Rectangle::new([(x0, clamp(b)), (x1, clamp(t))], colour.filled())
                    }))
                    .map_err(e)?;
                for (k, b) in base.iter_mut().enumerate() {
                    *b += finite(s.values[k]);
                }
            }
            chart
                .draw_series(LineSeries::new(
                    steps_of(&f.edges, &total, clamp),
                    BLACK.stroke_width(1),
                ))
                .map_err(e)?;
            if f.series.iter().any(|s| s.variances.is_some()) {
                // The total's uncertainty as a grey band, as stacks of simulation are drawn
                // (error bars are for data).
                chart
                    .draw_series((0..n).filter(|&k| total_err[k] > 0.0).map(|k| {
                        Rectangle::new(
                            [
                                (f.edges[k], clamp(total[k] - total_err[k])),
                                (f.edges[k + 1], clamp(total[k] + total_err[k])),
                            ],
                            BLACK.mix(0.3).filled(),
                        )
                    }))
                    .map_err(e)?;
            }
        }
        Mode::Single | Mode::Overlay => {
            for (c, s) in f.series.iter().enumerate() {
                let colour = palette(c);
                let vals: Vec<f64> = s.values.iter().copied().map(finite).collect();
                if f.category_x {
                    chart
                        .draw_series((0..n).map(|k| {
                            let (x0, x1) = bar(k);
                            let filled = if f.mode == Mode::Single {
                                colour.mix(0.75).filled()
                            } else {
                                colour.stroke_width(2)
                            };
                            Rectangle::new([(x0, clamp(0.0)), (x1, clamp(vals[k]))], filled)
                        }))
                        .map_err(e)?;
                } else {
                    if f.mode == Mode::Single {
                        chart
                            .draw_series(AreaSeries::new(
                                steps_of(&f.edges, &vals, clamp),
                                clamp(0.0),
                                colour.mix(0.2),
                            ))
                            .map_err(e)?;
                    }
                    chart
                        .draw_series(LineSeries::new(
                            steps_of(&f.edges, &vals, clamp),
                            colour.stroke_width(2),
                        ))
                        .map_err(e)?;
                }
                if let Some(var) = &s.variances {
                    let errs: Vec<f64> = var.iter().map(|v| v.max(0.0).sqrt()).collect();
                    error_bars(&mut chart, f, &vals, &errs, colour, clamp)?;
                }
            }
        }
    }
    // Data: points at the bin centres with their error bars, over everything else.
    if let Some(d) = f.data {
        let vals: Vec<f64> = d.values.iter().copied().map(finite).collect();
        let errs: Vec<f64> = (0..n).map(|k| data_err(d, k)).collect();
        error_bars(&mut chart, f, &vals, &errs, BLACK, clamp)?;
        let centre = |k: usize| match f.x.scale {
            Scale::Log => (f.edges[k] * f.edges[k + 1]).sqrt(),
            _ => (f.edges[k] + f.edges[k + 1]) / 2.0,
        };
        chart
            .draw_series(
                (0..n)
                    .filter(|&k| vals[k] != 0.0)
                    .map(|k| Circle::new((centre(k), clamp(vals[k])), 4, BLACK.filled())),
            )
            .map_err(e)?;
    }
    // Titles, drawn as mathtext.
    let (pw, ph) = (plot_w as i32, plot_h as i32);
    let x0 = (MARGIN + Y_AREA) as i32;
    let y0 = TOP as i32;
    draw_rich(
        root,
        &mathtext::parse(&f.x_title),
        (x0 + pw / 2, h as i32 - 16),
        TITLE_FONT,
        false,
    )?;
    draw_rich(
        root,
        &mathtext::parse(&f.y_title),
        (MARGIN as i32 + 8, y0 + ph / 2),
        TITLE_FONT,
        true,
    )?;
    draw_rich(
        root,
        &mathtext::parse(&f.title),
        (x0 + pw / 2, TOP as i32 / 2),
        TITLE_FONT - 2,
        false,
    )?;
    // The legend, drawn last on a white box.
    if !legend.is_empty() {
        let lx = if upper_right {
            x0 + pw - lw as i32 - 8
        } else {
            x0 + 8
        };
        let ly = y0 + 8;
        root.draw(&Rectangle::new(
            [(lx, ly), (lx + lw as i32, ly + lh as i32)],
            WHITE.mix(0.9).filled(),
        ))
        .map_err(e)?;
        root.draw(&Rectangle::new(
            [(lx, ly), (lx + lw as i32, ly + lh as i32)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .map_err(e)?;
        // A stack's legend lists the top layer first, as it is drawn.
        let mut order: Vec<&(usize, &Series)> = if f.mode == Mode::Stack {
            legend.iter().rev().collect()
        } else {
            legend.iter().collect()
        };
        order.sort_by_key(|(c, _)| *c != usize::MAX);
        for (row, (c, s)) in order.into_iter().enumerate() {
            let ry = ly + 5 + (row as u32 * row_h) as i32 + row_h as i32 / 2;
            let colour = palette(*c);
            if *c == usize::MAX {
                root.draw(&Circle::new((lx + 19, ry), 4, BLACK.filled()))
                    .map_err(e)?;
                root.draw(&PathElement::new(
                    vec![(lx + 19, ry - 8), (lx + 19, ry + 8)],
                    BLACK.stroke_width(2),
                ))
                .map_err(e)?;
            } else if f.mode == Mode::Stack {
                root.draw(&Rectangle::new(
                    [(lx + 8, ry - 6), (lx + 30, ry + 6)],
                    colour.filled(),
                ))
                .map_err(e)?;
            } else {
                root.draw(&PathElement::new(
                    vec![(lx + 8, ry), (lx + 30, ry)],
                    colour.stroke_width(3),
                ))
                .map_err(e)?;
            }
            draw_rich_left(root, &mathtext::parse(&s.label), (lx + 36, ry), LEGEND_FONT)?;
        }
    }
    Ok(())
}

impl PlotAxis {
    /// Where `v` falls on the axis, 0 at the left end and 1 at the right.
    fn frac(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Log => {
                (v.max(f64::MIN_POSITIVE).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
            }
            _ => (v - self.lo) / (self.hi - self.lo),
        }
    }
}

/// A data point's error bar: the square root of its variance, or of its count when the
/// storage does not know variances (a Double storage of unit weights).
fn data_err(d: &Series, k: usize) -> f64 {
    d.variances
        .as_ref()
        .map_or(d.values[k], |v| v[k])
        .max(0.0)
        .sqrt()
}

fn finite(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}

fn steps_of(edges: &[f64], values: &[f64], clamp: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(2 * values.len());
    for (k, &v) in values.iter().enumerate() {
        pts.push((edges[k], clamp(v)));
        pts.push((edges[k + 1], clamp(v)));
    }
    pts
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<PlotAxis, PlotAxis>>;

fn error_bars<DB: DrawingBackend>(
    chart: &mut Chart<DB>,
    f: &Fig1d,
    values: &[f64],
    errs: &[f64],
    colour: RGBColor,
    clamp: impl Fn(f64) -> f64,
) -> Result<(), Err> {
    let centre = |k: usize| match f.x.scale {
        Scale::Log => (f.edges[k] * f.edges[k + 1]).sqrt(),
        _ => (f.edges[k] + f.edges[k + 1]) / 2.0,
    };
    chart
        .draw_series((0..values.len()).filter(|&k| errs[k] > 0.0).map(|k| {
            let x = centre(k);
            PathElement::new(
                vec![
                    (x, clamp(values[k] - errs[k])),
                    (x, clamp(values[k] + errs[k])),
                ],
                colour.stroke_width(2),
            )
        }))
        .map_err(e)?;
    Ok(())
}

fn style(size: u32, script: Script) -> TextStyle<'static> {
    let size = match script {
        Script::Normal => size,
        _ => size * 7 / 10,
    };
    TextStyle::from((FONT, size).into_font()).color(&BLACK)
}

fn run_width<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, text: &str, st: &TextStyle) -> u32 {
    root.estimate_text_size(&nbsp(text), st)
        .map_or(0, |(w, _)| w)
}

/// Spaces as no-break spaces: the text layout drops a run's leading and trailing spaces.
fn nbsp(s: &str) -> String {
    s.replace(' ', "\u{a0}")
}

fn rich_width<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[mathtext::Run],
    size: u32,
) -> u32 {
    runs.iter()
        .map(|r| run_width(root, &r.text, &style(size, r.script)))
        .sum()
}

/// Draws `runs` centred at `at` (rotated to read upwards when `vertical`).
fn draw_rich<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[mathtext::Run],
    at: (i32, i32),
    size: u32,
    vertical: bool,
) -> Result<(), Err> {
    let total = rich_width(root, runs, size) as i32;
    let mut pos = -total / 2;
    for r in runs {
        let st = style(size, r.script);
        let shift = match r.script {
            Script::Normal => 0,
            Script::Sub => (size as i32) * 3 / 10,
            Script::Sup => -(size as i32) * 4 / 10,
        };
        let wdt = run_width(root, &r.text, &st) as i32;
        if vertical {
            let st = st
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw_text(&nbsp(&r.text), &st, (at.0 + shift, at.1 - pos))
                .map_err(e)?;
        } else {
            let st = st.pos(Pos::new(HPos::Left, VPos::Center));
            root.draw_text(&nbsp(&r.text), &st, (at.0 + pos, at.1 + shift))
                .map_err(e)?;
        }
        pos += wdt;
    }
    Ok(())
}

/// Draws `runs` starting at `at` (left end, vertically centred).
fn draw_rich_left<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[mathtext::Run],
    at: (i32, i32),
    size: u32,
) -> Result<(), Err> {
    let total = rich_width(root, runs, size) as i32;
    draw_rich(root, runs, (at.0 + total / 2, at.1), size, false)
}

/// Two numeric axes: a colour map.
fn draw_map_to(
    g: &Grid,
    title: &str,
    req: &Request,
    format: Format,
) -> Result<(Drawn, Vec<u8>), MergeError> {
    let (ax, ay) = (&g.axes[0], &g.axes[1]);
    let (ux, _) = ax.flow();
    let (uy, _) = ay.flow();
    let (nx, ny) = (ax.bins(), ay.bins());
    let values: Vec<f64> = (0..nx)
        .flat_map(|i| {
            let row = (i + usize::from(ux)) * g.shape[1];
            (0..ny).map(move |j| g.values[row + j + usize::from(uy)])
        })
        .collect();
    let fig = MapFig {
        bx: bins_of(ax),
        by: bins_of(ay),
        nx,
        ny,
        values,
        title: title.to_string(),
        x_title: plot::title_of(ax),
        y_title: plot::title_of(ay),
        logx: req.logx,
        logy: req.logy,
    };
    let bytes = draw_any(req.size, format, &fig)?;
    let drawn = Drawn {
        kind: "2d".into(),
        x_title: fig.x_title,
        y_title: fig.y_title,
        series: Vec::new(),
        values: vec![fig.values],
        data: None,
    };
    Ok((drawn, bytes))
}

struct MapFig {
    bx: Bins,
    by: Bins,
    nx: usize,
    ny: usize,
    values: Vec<f64>,
    title: String,
    x_title: String,
    y_title: String,
    logx: bool,
    logy: bool,
}

fn map_axis(b: &Bins, log: bool) -> PlotAxis {
    match b {
        Bins::Edges(e, tlog) => PlotAxis {
            lo: e[0],
            hi: e[e.len() - 1],
            scale: if (log || *tlog) && e[0] > 0.0 {
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

fn span(b: &Bins, k: usize) -> (f64, f64) {
    match b {
        Bins::Edges(e, _) => (e[k], e[k + 1]),
        Bins::Categories(_) => (k as f64, k as f64 + 1.0),
    }
}

impl Painter for MapFig {
    fn paint<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Err> {
        let f = self;
        let (vmin, vmax) = f
            .values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let (vmin, vmax) = if vmin < vmax {
            (vmin, vmax)
        } else {
            (0.0, vmin.max(0.0) + 1.0)
        };
        let mut chart = ChartBuilder::on(root)
            .margin(MARGIN)
            .margin_top(TOP)
            .margin_right(MARGIN + 40)
            .x_label_area_size(X_AREA)
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(map_axis(&f.bx, f.logx), map_axis(&f.by, f.logy))
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .label_style((FONT, TICK_FONT))
            .draw()
            .map_err(e)?;
        chart
            .draw_series((0..f.nx).flat_map(|i| {
                let (x0, x1) = span(&f.bx, i);
                (0..f.ny).map(move |j| {
                    let (y0, y1) = span(&f.by, j);
                    let v = f.values[i * f.ny + j];
                    Rectangle::new(
                        [(x0, y0), (x1, y1)],
                        plot::colour((v - vmin) / (vmax - vmin)).filled(),
                    )
                })
            }))
            .map_err(e)?;
        let (w, hgt) = root.dim_in_pixel();
        let (pw, ph) = (
            w.saturating_sub(Y_AREA + 3 * MARGIN + 40) as i32,
            hgt.saturating_sub(X_AREA + TOP + MARGIN) as i32,
        );
        let x0 = (MARGIN + Y_AREA) as i32;
        let top = TOP as i32;
        draw_rich(
            root,
            &mathtext::parse(&f.x_title),
            (x0 + pw / 2, hgt as i32 - 16),
            TITLE_FONT,
            false,
        )?;
        draw_rich(
            root,
            &mathtext::parse(&f.y_title),
            (MARGIN as i32 + 8, top + ph / 2),
            TITLE_FONT,
            true,
        )?;
        draw_rich(
            root,
            &mathtext::parse(&f.title),
            (x0 + pw / 2, top / 2),
            TITLE_FONT - 2,
            false,
        )?;
        // The colour bar: a strip at the right edge, its range written at the ends.
        let bx0 = w as i32 - MARGIN as i32 - 30;
        for k in 0..64 {
            let yk = top + ph - ((k + 1) * ph / 64);
            root.draw(&Rectangle::new(
                [(bx0, yk), (bx0 + 16, yk + ph / 64 + 1)],
                plot::colour(f64::from(k) / 63.0).filled(),
            ))
            .map_err(e)?;
        }
        let small = TextStyle::from((FONT, 12).into_font()).color(&BLACK);
        root.draw_text(&plot::number(vmax), &small, (bx0 - 4, top - 14))
            .map_err(e)?;
        root.draw_text(&plot::number(vmin), &small, (bx0 - 4, top + ph + 4))
            .map_err(e)?;
        Ok(())
    }
}

/// Plots every histogram of `acc` into `dir/<dataset>/<name>.png`.
pub fn plot_all(
    acc: &casa_hist::Accumulator,
    dir: &Path,
    size: Size,
) -> Result<Vec<plot::PlotFile>, MergeError> {
    let mut out = Vec::new();
    for (file, png) in render_all(acc, dir, size)? {
        if let (Some(path), Some(png)) = (&file.path, png) {
            plot::write(path.parent().unwrap_or(dir), path, &png)?;
        }
        out.push(file);
    }
    Ok(out)
}

/// A plot made but not written: its record and, when drawn, the PNG bytes.
pub type Rendered = (plot::PlotFile, Option<Vec<u8>>);

/// Every histogram of `acc` drawn, with the path under `dir` it goes to, nothing written
/// (the final merge writes its whole result set at once).
pub fn render_all(
    acc: &casa_hist::Accumulator,
    dir: &Path,
    size: Size,
) -> Result<Vec<Rendered>, MergeError> {
    let mut out = Vec::new();
    let mut used = std::collections::HashSet::new();
    for (ds, items) in &acc.datasets {
        for (name, item) in items {
            let casa_hist::Item::Hist(h) = item else {
                continue;
            };
            let mut file = plot::PlotFile {
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
                let req = Request {
                    size,
                    ..Default::default()
                };
                let (_, png) =
                    render(h, &format!("{ds}: {name}"), &req, Format::Png).map_err(|err| {
                        MergeError::Write {
                            path: dir.to_path_buf(),
                            what: format!("plotting dataset `{ds}`, histogram `{name}`: {err}"),
                        }
                    })?;
                let sub = dir.join(plot::safe_name(ds));
                let mut path = sub.join(format!("{}.png", plot::safe_name(name)));
                let mut n = 1;
                while !used.insert(path.clone()) {
                    n += 1;
                    path = sub.join(format!("{}-{n}.png", plot::safe_name(name)));
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
