//! Writes partials for the merge benchmark (merge/bench/bench_merge.sh): N partials of one
//! Weight-storage histogram, each filled with its own deterministic data and covering its
//! own chunk, and optionally each histogram's UHI JSON for the Python side.
//!
//! cargo run --release -p casa-merge --example make_partials -- --dir D --n 10000 --bins 10000

use std::path::PathBuf;

use casa_formats::partial::{self, ChunkId, PartialHeader};
use casa_hist::{Accumulator, FillArg, HistSpec, Weights};
use clap::Parser;
use rayon::prelude::*;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    #[arg(long, default_value_t = 10_000)]
    bins: u32,
    /// Entries filled per partial.
    #[arg(long, default_value_t = 100_000)]
    entries: usize,
    /// Fill with weights in [0.5, 1.5) (every bin a non-integer sum) instead of unit weights.
    #[arg(long)]
    weighted: bool,
    /// Also write DIR/uhi/p-NNNNN.json (the histogram in UHI JSON) for Python.
    #[arg(long)]
    uhi: bool,
    /// Chunks per partial (of `entries` / chunks entries each), to time the exactly-once and
    /// coverage checks at scale.
    #[arg(long, default_value_t = 1)]
    chunks: u64,
    /// Also write the plan, DIR/jobs/leaf-NNNNN.json, one job spec per partial.
    #[arg(long)]
    plan: bool,
}

/// xorshift64: the same numbers on every machine.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    std::fs::create_dir_all(&a.dir)?;
    if a.uhi {
        std::fs::create_dir_all(a.dir.join("uhi"))?;
    }
    if a.plan {
        std::fs::create_dir_all(a.dir.join("jobs"))?;
    }
    let spec: HistSpec = serde_json::from_value(serde_json::json!({
        "axes": [{"type": "regular", "bins": a.bins, "start": 0.0, "stop": 1.0,
                  "name": "x", "label": "x [a.u.]"}],
        "storage": "weight"}))?;
    (0..a.n)
        .into_par_iter()
        .try_for_each(|k| -> anyhow::Result<()> {
            let mut rng =
                Rng(0x9E37_79B9_7F4A_7C15 ^ (k as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            let xs: Vec<f64> = (0..a.entries).map(|_| rng.uniform()).collect();
            let ws: Vec<f64> = (0..a.entries).map(|_| 0.5 + rng.uniform()).collect();
            let mut acc = Accumulator::new();
            let h = acc.hist_mut("bench", "x", &spec)?;
            if a.weighted {
                h.fill(&[FillArg::F64(&xs)], Some(Weights::Each(&ws)), None)?;
            } else {
                h.fill(&[FillArg::F64(&xs)], None, None)?;
            }
            if a.uhi {
                let text = casa_hist::write_uhi_json(&h.to_uhi());
                std::fs::write(a.dir.join(format!("uhi/p-{k:05}.json")), text)?;
            }
            let step = a.entries as u64 / a.chunks;
            let chunks: Vec<ChunkId> = (0..a.chunks)
                .map(|j| ChunkId {
                    dataset: "bench".into(),
                    file: format!("f{k:05}.root"),
                    uuid: String::new(),
                    tree: "Events".into(),
                    entry_start: j * step,
                    entry_stop: if j + 1 == a.chunks {
                        a.entries as u64
                    } else {
                        (j + 1) * step
                    },
                })
                .collect();
            if a.plan {
                let spec = casa_formats::JobSpec::new(
                    "bench",
                    &format!("leaf-{k:05}"),
                    chunks
                        .iter()
                        .map(|c| casa_formats::Chunk {
                            dataset: c.dataset.clone(),
                            file: c.file.clone(),
                            tree: c.tree.clone(),
                            entry_start: c.entry_start,
                            entry_stop: c.entry_stop,
                            uuid: None,
                            metadata: serde_json::Value::Null,
                        })
                        .collect(),
                );
                std::fs::write(
                    a.dir.join(format!("jobs/leaf-{k:05}.json")),
                    serde_json::to_vec(&spec)?,
                )?;
            }
            let header = PartialHeader {
                run_id: "bench".into(),
                node: format!("leaf-{k:05}"),
                producer: "make_partials".into(),
                plugin: "bench".into(),
                chunks,
                events: a.entries as u64,
            };
            partial::write(
                &a.dir.join(format!("p-{k:05}.partial")),
                &header,
                &serde_json::to_vec(&acc)?,
            )?;
            Ok(())
        })
}
