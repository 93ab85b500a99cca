//! `casa-merge show` and `export`: what a (merged) partial holds, as text or JSON; its
//! histograms as UHI JSON and plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use casa_formats::partial::{self, PartialHeader};
use std::io::{Read as _, Write as _};

use casa_hist::{Accumulator, AxisSpec, Counter, Hist, Item, Transform};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::MergeError;

/// Reads a partial and its accumulator.
pub fn read_accumulator(path: &Path) -> Result<(PartialHeader, Accumulator), MergeError> {
    let (header, json) = partial::read(path).map_err(|e| MergeError::BadPartials(vec![e]))?;
    let acc = serde_json::from_slice(&json).map_err(|e| MergeError::Payload {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    Ok((header, acc))
}

/// `{"<dataset>/<name>": histogram}` in the UHI JSON schema, as `write_uhi_json` writes it.
pub fn uhi_text(acc: &Accumulator) -> String {
    casa_hist::write_uhi_json(&serde_json::Value::Object(acc.to_uhi()))
}

/// Writes a file of named UHI histograms atomically; gzipped when `path` ends in `.gz` (as
/// hist's `h.write("hist.json.gz")`).
pub fn write_uhi(path: &Path, doc: &Map<String, Value>) -> Result<(), MergeError> {
    let text = casa_hist::write_uhi_json(&Value::Object(doc.clone()));
    if path.extension().is_some_and(|x| x == "gz") {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(text.as_bytes())
            .and_then(|()| enc.finish())
            .map_err(|e| MergeError::Write {
                path: path.to_path_buf(),
                what: format!("gzip: {e}"),
            })
            .and_then(|gz| write_file(path, &gz))
    } else {
        write_file(path, text.as_bytes())
    }
}

/// Reads a file of UHI histograms (`.json`, or gzipped whatever its name): either one
/// histogram or `{name: histogram}`; a single histogram is named after the file.
pub fn read_uhi(path: &Path) -> Result<Vec<(String, Hist)>, MergeError> {
    let bytes = std::fs::read(path).map_err(|source| MergeError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |what: String| MergeError::Uhi {
        path: path.to_path_buf(),
        what,
    };
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(|e| bad(format!("gzip: {e}")))?;
        s
    } else {
        String::from_utf8(bytes).map_err(|e| bad(e.to_string()))?
    };
    let doc = casa_hist::parse_json_lenient(&text).map_err(|e| bad(e.to_string()))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    if obj.contains_key("uhi_schema") {
        let name = path
            .file_name()
            .map(|f| {
                f.to_string_lossy()
                    .trim_end_matches(".gz")
                    .trim_end_matches(".json")
                    .to_string()
            })
            .unwrap_or_default();
        let h = Hist::from_uhi(&doc).map_err(|e| bad(e.to_string()))?;
        return Ok(vec![(name, h)]);
    }
    let acc = Accumulator::from_uhi(&doc).map_err(|e| bad(e.to_string()))?;
    Ok(named_hists(&acc))
}

/// The histograms of an accumulator, named `<dataset>/<name>` as in the UHI export.
pub fn named_hists(acc: &Accumulator) -> Vec<(String, Hist)> {
    let mut out = Vec::new();
    for (ds, items) in &acc.datasets {
        for (name, item) in items {
            if let Item::Hist(h) = item {
                let key = if ds.is_empty() {
                    name.clone()
                } else {
                    casa_hist::uhi_key(ds, name)
                };
                out.push((key, h.clone()));
            }
        }
    }
    out
}

/// The histogram named `want` (or the only one). `sum/<name>` not in the file (a partial,
/// or a UHI file written without `--sum`) is computed: `<name>` of every dataset added.
pub fn pick(
    file: &Path,
    hists: Vec<(String, Hist)>,
    want: Option<&str>,
) -> Result<(String, Hist), MergeError> {
    let names = || {
        let mut v: Vec<&str> = hists.iter().map(|(k, _)| k.as_str()).take(30).collect();
        if hists.len() > 30 {
            v.push("...");
        }
        v.join(", ")
    };
    let missing = |w: &str| {
        MergeError::Usage(format!(
            "{}: no histogram `{w}` (histograms: {})",
            file.display(),
            names()
        ))
    };
    match want {
        Some(w) => {
            if let Some(i) = hists.iter().position(|(k, _)| k == w) {
                return Ok(hists.into_iter().nth(i).expect("found"));
            }
            let name = w.strip_prefix("sum/").ok_or_else(|| missing(w))?;
            let mut parts = hists.iter().filter(|(k, _)| {
                !k.starts_with("sum/")
                    && !k.starts_with("by-")
                    && k.rsplit_once('/').is_some_and(|(_, n)| n == name)
            });
            let (_, first) = parts.next().ok_or_else(|| missing(w))?;
            let mut total = first.clone();
            for (k, h) in parts {
                total.add(h).map_err(|e| {
                    MergeError::Usage(format!(
                        "{}: `{k}` does not add to `{w}`: {e}",
                        file.display()
                    ))
                })?;
            }
            total.sort_growth_categories();
            Ok((w.to_string(), total))
        }
        None if hists.len() == 1 => Ok(hists.into_iter().next().expect("one")),
        None => Err(MergeError::Usage(format!(
            "{}: {} histograms, say which with --hist (histograms: {})",
            file.display(),
            hists.len(),
            names()
        ))),
    }
}

/// The histograms of a partial (`*.partial`) or a UHI file (anything else), by name.
pub fn read_hists(path: &Path) -> Result<Vec<(String, Hist)>, MergeError> {
    if path.extension().is_some_and(|x| x == "partial") {
        let (_, acc) = read_accumulator(path)?;
        Ok(named_hists(&acc))
    } else {
        read_uhi(path)
    }
}

/// Writes `text` to `path` atomically.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), MergeError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| MergeError::Write {
            path: dir.to_path_buf(),
            what: e.to_string(),
        })?;
    }
    casa_formats::fsutil::atomic_write(path, bytes).map_err(|e| MergeError::Write {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct AxisSummary {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub bins: usize,
    /// Range, edges or categories, in words.
    pub binning: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct HistSummary {
    pub name: String,
    pub label: String,
    pub storage: String,
    pub axes: Vec<AxisSummary>,
    /// Sum of the values with flow bins (entries for mean storages).
    pub sum: f64,
    /// Sum of the values without flow bins.
    pub sum_in_range: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DatasetSummary {
    pub dataset: String,
    pub histograms: Vec<HistSummary>,
    pub counters: Vec<(String, serde_json::Value)>,
}

/// What `show` prints.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub path: PathBuf,
    pub run_id: String,
    pub node: String,
    pub producer: String,
    pub plugin: String,
    pub chunks: usize,
    pub events: u64,
    pub datasets: Vec<DatasetSummary>,
}

pub fn summarize(path: &Path) -> Result<Summary, MergeError> {
    let (h, acc) = read_accumulator(path)?;
    let datasets = acc
        .datasets
        .iter()
        .map(|(ds, items)| {
            let mut d = DatasetSummary {
                dataset: ds.clone(),
                histograms: Vec::new(),
                counters: Vec::new(),
            };
            for (name, item) in items {
                match item {
                    Item::Hist(hist) => d.histograms.push(HistSummary {
                        name: name.clone(),
                        label: hist.spec().label.clone(),
                        storage: hist.storage_kind().to_string(),
                        axes: hist.spec().axes.iter().map(axis_summary).collect(),
                        sum: hist.sum(true),
                        sum_in_range: hist.sum(false),
                    }),
                    Item::Counter(c) => d.counters.push((
                        name.clone(),
                        match c {
                            Counter::Int(i) => serde_json::json!(i),
                            Counter::Float(x) if x.is_finite() => serde_json::json!(x),
                            Counter::Float(x) => serde_json::json!(x.to_string()),
                        },
                    )),
                }
            }
            d
        })
        .collect();
    Ok(Summary {
        path: path.to_path_buf(),
        run_id: h.run_id,
        node: h.node,
        producer: h.producer,
        plugin: h.plugin,
        chunks: h.chunks.len(),
        events: h.events,
        datasets,
    })
}

fn axis_summary(a: &AxisSpec) -> AxisSummary {
    let binning = match a {
        AxisSpec::Regular {
            start,
            stop,
            transform,
            ..
        } => {
            let t = match transform {
                Transform::None => String::new(),
                Transform::Log => ", log".into(),
                Transform::Sqrt => ", sqrt".into(),
                Transform::Pow { power } => format!(", pow {power}"),
            };
            format!("[{start}, {stop}){t}")
        }
        AxisSpec::Variable { edges, .. } => format!(
            "edges {}",
            list(edges.iter().map(|e| e.to_string()).collect())
        ),
        AxisSpec::Integer { start, stop, .. } => format!("[{start}, {stop})"),
        AxisSpec::StrCategory { categories, .. } => list(categories.clone()),
        AxisSpec::IntCategory { categories, .. } => {
            list(categories.iter().map(|c| c.to_string()).collect())
        }
        AxisSpec::Boolean { .. } => "false, true".into(),
    };
    let bins = a.bins();
    AxisSummary {
        name: a.name().to_string(),
        label: a.label().to_string(),
        kind: a.kind().to_string(),
        bins,
        binning: if a.growth() {
            format!("{binning} (growth)")
        } else {
            binning
        },
    }
}

/// At most 8 items, then a count.
fn list(items: Vec<String>) -> String {
    let n = items.len();
    let mut s = items.into_iter().take(8).collect::<Vec<_>>().join(", ");
    if n > 8 {
        let _ = write!(s, ", ... ({n} in all)");
    }
    format!("[{s}]")
}

/// The text form of a summary.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", s.path.display());
    let _ = writeln!(
        out,
        "run {}  node {}  producer {}  plugin {}",
        or_dash(&s.run_id),
        or_dash(&s.node),
        or_dash(&s.producer),
        or_dash(&s.plugin)
    );
    let _ = writeln!(out, "{} chunks, {} events", s.chunks, s.events);
    for d in &s.datasets {
        let _ = writeln!(out, "\ndataset {}", d.dataset);
        for h in &d.histograms {
            let label = if h.label.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", h.label)
            };
            let _ = writeln!(
                out,
                "  {}{label}  {} storage, sum {} ({} in range)",
                h.name, h.storage, h.sum, h.sum_in_range
            );
            for a in &h.axes {
                let label = if a.label.is_empty() {
                    String::new()
                } else {
                    format!(" \"{}\"", a.label)
                };
                let _ = writeln!(
                    out,
                    "    {}{label}: {} {} bins {}",
                    a.name, a.kind, a.bins, a.binning
                );
            }
        }
        for (name, v) in &d.counters {
            let _ = writeln!(out, "  {name} = {v}  (counter)");
        }
    }
    out
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "-"
    } else {
        s
    }
}
