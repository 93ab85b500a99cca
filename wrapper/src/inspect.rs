//! `casa-wrapper inspect`: what is in a ROOT file (trees, branches, types, entries, clusters,
//! compression, UUID), and the values of chosen branches. rootls / uproot `show` for casa users.

use std::io::Write;

use anyhow::{bail, Result};
use clap::Args;
use rootio::{
    event_sources, open_event_source, Codec, EventSource, NTuple, RootFile, Tree, Values,
};
use serde_json::{json, Value};

/// List trees, branches, types, entries, clusters, compression and the UUID of a ROOT file,
/// or dump branch values.
#[derive(Args)]
#[command(after_help = "Examples:
  casa-wrapper inspect nano.root
  casa-wrapper inspect nano.root --tree Events --json
  casa-wrapper inspect nano.root --tree Events --dump nMuon Muon_pt --entries 0:20 --json")]
pub struct InspectArgs {
    /// The ROOT file (a local path or file: URL).
    file: String,
    /// Only this tree (`Events`, `dir/tree`, `tree;2`).
    #[arg(long)]
    tree: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Print the values of these branches (jagged ones as nested lists).
    #[arg(long, num_args = 1..)]
    dump: Vec<String>,
    /// Entry range `A:B` for --dump (half-open; either side may be omitted).
    #[arg(long, value_name = "A:B", value_parser = entry_range)]
    entries: Option<EntryRange>,
    /// Decompression threads (default: all cores; at most 1024).
    #[arg(short = 'j', long, value_parser = clap::builder::TypedValueParser::map(
        clap::value_parser!(u64).range(1..=casa_formats::MAX_THREADS), |n| n as usize))]
    threads: Option<usize>,
}

pub fn run(args: InspectArgs) -> Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .ok();
    }
    // Any input a job can read: local paths, file: and root:// URLs (through XRootD).
    let source = crate::run::open_input(&args.file, &Default::default())?;
    let file = RootFile::from_source(std::sync::Arc::new(source))?;
    let out = std::io::stdout();
    let mut out = out.lock();
    if !args.dump.is_empty() {
        let path = match &args.tree {
            Some(t) => t.clone(),
            None => first_tree(&file)?,
        };
        let source = open_event_source(&file, &path)?;
        let (start, stop) = args.entries.unwrap_or_default().within(source.entries());
        let names: Vec<&str> = args.dump.iter().map(String::as_str).collect();
        let batch = source.read(&names, start, stop)?;
        if args.json {
            let mut branches = serde_json::Map::new();
            for col in &batch.columns {
                branches.insert(col.name.clone(), column_json(col));
            }
            let v = json!({
                "file": args.file, "tree": path, "entries": [start, stop],
                "branches": branches,
            });
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
        } else {
            for col in &batch.columns {
                writeln!(out, "{} ({}):", col.name, col.ctype)?;
                let vals = column_json(col);
                for (i, v) in vals.as_array().into_iter().flatten().enumerate() {
                    writeln!(out, "  [{}] {}", start + i as u64, v)?;
                }
            }
        }
        return Ok(());
    }
    let trees: Vec<String> = match &args.tree {
        Some(t) => vec![t.clone()],
        None => event_sources(&file)?
            .into_iter()
            .map(|(p, _)| p)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    let mut tree_json = Vec::new();
    for path in &trees {
        match open_event_source(&file, path) {
            Ok(source) => tree_json.push(describe_source(&*source)),
            // Asked for by name: its failure is the answer.
            Err(e) if args.tree.is_some() => return Err(e.into()),
            // Listing the file: one tree that cannot be opened must not hide the others.
            Err(e) => {
                eprintln!("warning: {e}");
                tree_json.push(json!({"path": path, "error": e.to_string()}));
            }
        }
    }
    let h = file.header();
    let objects: Vec<Value> = file
        .walk()?
        .into_iter()
        .map(|(p, k)| json!({"path": p, "class": k.class, "cycle": k.cycle, "title": k.title}))
        .collect();
    let streamers: Vec<Value> = file
        .streamer_infos()
        .unwrap_or_else(|e| {
            eprintln!("warning: cannot read the streamer info list: {e}");
            Vec::new()
        })
        .into_iter()
        .map(|s| json!({"class": s.class, "version": s.version}))
        .collect();
    let doc = json!({
        "file": args.file,
        "uuid": file.uuid().to_string(),
        "root_version": h.version % 1_000_000,
        "large_file": h.large,
        "size": file.source().size(),
        "compression": {"setting": h.compress, "algorithm": algorithm_name(h.compress), "level": h.compress % 100},
        "objects": objects,
        "streamers": streamers,
        "trees": tree_json,
    });
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        print_text(&mut out, &doc)?;
    }
    Ok(())
}

fn first_tree(file: &RootFile) -> Result<String> {
    match event_sources(file)?.first() {
        Some((p, _)) => Ok(p.clone()),
        None => bail!("{}: no TTree in this file", file.name()),
    }
}

/// `--entries A:B`: a half-open range, either side omitted for the file's start or end.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryRange {
    start: Option<u64>,
    stop: Option<u64>,
}

impl EntryRange {
    /// The range in a tree of `n` entries (clipped to it, as a Python slice is).
    fn within(self, n: u64) -> (u64, u64) {
        let start = self.start.unwrap_or(0).min(n);
        (start, self.stop.unwrap_or(n).clamp(start, n))
    }
}

/// Parsed with the command line, so a malformed or backwards range is a usage error (exit 2)
/// before any file is opened, rather than an empty dump.
fn entry_range(spec: &str) -> Result<EntryRange, String> {
    let (a, b) = spec
        .split_once(':')
        .ok_or_else(|| "expected A:B".to_string())?;
    let parse = |s: &str| -> Result<Option<u64>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .map_err(|_| format!("'{s}' is not an entry number"))
    };
    let range = EntryRange {
        start: parse(a)?,
        stop: parse(b)?,
    };
    if let (Some(a), Some(b)) = (range.start, range.stop) {
        if a > b {
            return Err(format!("start {a} is after stop {b}"));
        }
    }
    Ok(range)
}

fn algorithm_name(setting: i32) -> &'static str {
    match setting / 100 {
        0 if setting % 100 == 0 => "none",
        0 | 1 => "zlib",
        2 => "lzma",
        3 => "root-legacy",
        4 => "lz4",
        5 => "zstd",
        _ => "unknown",
    }
}

/// Any event source through the reader's seam; what only a TTree has (fAutoFlush) through its
/// model.
fn describe_source(source: &dyn EventSource) -> Value {
    let branches: Vec<Value> = source
        .columns()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "name": c.name,
                "title": c.title,
                "type": c.type_name,
                "class": c.class,
                "leaf": c.leaf,
                "parent": c.parent,
                "readable": c.column_type.is_ok(),
                "why_not": c.column_type.err().map(|e| e.to_string()),
                "entries": c.entries,
                "baskets": c.units,
                "compressed_bytes": c.compressed_bytes,
                "uncompressed_bytes": c.uncompressed_bytes,
                "codec": source.first_codec(i).map(Codec::name),
            })
        })
        .collect();
    let auto_flush = source.as_any().downcast_ref::<Tree>().map(|t| t.auto_flush);
    let rntuple = source.as_any().downcast_ref::<NTuple>().map(|n| {
        json!({
            "version": n.version.iter().map(u16::to_string).collect::<Vec<_>>().join("."),
            "writer": n.writer,
            "cluster_groups": n.cluster_groups.len(),
            "fields": n.fields.len(),
            "physical_columns": n.columns.len(),
        })
    });
    json!({
        "path": source.path(),
        "class": source.class(),
        "rntuple": rntuple,
        "title": source.title(),
        "entries": source.entries(),
        "clusters": source.all_boundaries(),
        "cluster_hint": source.cluster_hint(),
        "auto_flush": auto_flush,
        "branches": branches,
    })
}

fn values_json(v: &Values, range: std::ops::Range<usize>) -> Vec<Value> {
    fn num<T: Copy + Into<Value>>(v: &[T], r: std::ops::Range<usize>) -> Vec<Value> {
        v[r].iter().map(|&x| x.into()).collect()
    }
    match v {
        Values::Bool(v) => num(v, range),
        Values::I8(v) => num(v, range),
        Values::U8(v) => num(v, range),
        Values::I16(v) => num(v, range),
        Values::U16(v) => num(v, range),
        Values::I32(v) => num(v, range),
        Values::U32(v) => num(v, range),
        Values::I64(v) => num(v, range),
        Values::U64(v) => num(v, range),
        Values::F32(v) => v[range]
            .iter()
            .map(|&x| float(x as f64, x.to_string()))
            .collect(),
        Values::F64(v) => v[range].iter().map(|&x| float(x, x.to_string())).collect(),
    }
}

/// Floats as JSON numbers that round-trip (f32 printed as f32); NaN and infinities, which JSON
/// cannot hold, as the strings "nan", "inf", "-inf".
fn float(x: f64, shortest: String) -> Value {
    if x.is_finite() {
        serde_json::from_str(&shortest).unwrap_or(Value::Null)
    } else if x.is_nan() {
        Value::String("nan".into())
    } else if x > 0.0 {
        Value::String("inf".into())
    } else {
        Value::String("-inf".into())
    }
}

fn column_json(col: &rootio::Column) -> Value {
    let inner = col.inner.max(1);
    let group = |a: usize, b: usize| -> Value {
        let flat = values_json(&col.values, a * inner..b * inner);
        if inner == 1 {
            Value::Array(flat)
        } else {
            Value::Array(
                flat.chunks(inner)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            )
        }
    };
    match &col.offsets {
        Some(off) => Value::Array(
            off.windows(2)
                .map(|w| group(w[0] as usize, w[1] as usize))
                .collect(),
        ),
        None if inner == 1 => Value::Array(values_json(&col.values, 0..col.values.len())),
        None => {
            let n = col.values.len() / inner;
            Value::Array(
                (0..n)
                    .map(|i| group(i, i + 1))
                    .map(|v| match v {
                        Value::Array(mut a) if a.len() == 1 => a.remove(0),
                        v => v,
                    })
                    .collect(),
            )
        }
    }
}

fn print_text(out: &mut impl Write, doc: &Value) -> Result<()> {
    writeln!(out, "file        {}", doc["file"].as_str().unwrap_or(""))?;
    writeln!(out, "uuid        {}", doc["uuid"].as_str().unwrap_or(""))?;
    writeln!(
        out,
        "written by  ROOT {}  ({} bytes{})",
        doc["root_version"],
        doc["size"],
        if doc["large_file"] == true {
            ", 64-bit seeks"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "compression {} level {} (setting {})",
        doc["compression"]["algorithm"].as_str().unwrap_or(""),
        doc["compression"]["level"],
        doc["compression"]["setting"]
    )?;
    writeln!(out, "objects:")?;
    for o in doc["objects"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {};{}  {}",
            o["path"].as_str().unwrap_or(""),
            o["cycle"],
            o["class"].as_str().unwrap_or("")
        )?;
    }
    for t in doc["trees"].as_array().into_iter().flatten() {
        if let Some(e) = t["error"].as_str() {
            writeln!(
                out,
                "\ntree {}  (cannot be opened: {e})",
                t["path"].as_str().unwrap_or("")
            )?;
            continue;
        }
        let clusters = t["clusters"]
            .as_array()
            .map_or(0, |c| c.len().saturating_sub(1));
        let rntuple = t["class"] == "RNTuple";
        if rntuple {
            writeln!(
                out,
                "\nrntuple {}  ({} entries, {} clusters in {} cluster groups; format {}, written by {})",
                t["path"].as_str().unwrap_or(""),
                t["entries"],
                clusters,
                t["rntuple"]["cluster_groups"],
                t["rntuple"]["version"].as_str().unwrap_or(""),
                t["rntuple"]["writer"].as_str().unwrap_or("")
            )?;
        } else {
            writeln!(
                out,
                "\ntree {}  ({} entries, {} clusters at common basket boundaries)",
                t["path"].as_str().unwrap_or(""),
                t["entries"],
                clusters
            )?;
        }
        let (col, unit) = if rntuple {
            ("field", "pages")
        } else {
            ("branch", "baskets")
        };
        writeln!(
            out,
            "  {:<40} {:<22} {:>7} {:>12} {:>12} codec",
            col, "type", unit, "zipped", "unzipped"
        )?;
        for b in t["branches"].as_array().into_iter().flatten() {
            writeln!(
                out,
                "  {:<40} {:<22} {:>7} {:>12} {:>12} {}{}",
                b["name"].as_str().unwrap_or(""),
                b["type"].as_str().unwrap_or(""),
                b["baskets"].to_string(),
                b["compressed_bytes"].to_string(),
                b["uncompressed_bytes"].to_string(),
                b["codec"].as_str().unwrap_or("-"),
                if b["readable"] == true {
                    ""
                } else {
                    "  (not readable as a column)"
                }
            )?;
        }
    }
    Ok(())
}
