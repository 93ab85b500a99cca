//! Benchmark driver for `ci/bench-read`: read some branches of a tree in cluster-aligned
//! batches and print one JSON line with the timing, so the script can compare it with uproot
//! and RDataFrame on the same file in the same run.
//!
//!     bench_read FILE TREE --threads N [--decompress-only] [--batch ENTRIES] BRANCH...
//!
//! `--decompress-only` fetches and decompresses exactly the baskets a read would, without
//! decoding: the bare decompression time the reader is measured against.

use std::time::Instant;

use rootio::{BatchPolicy, RootFile, Values};

// The allocator the casa binaries use: it keeps freed pages for reuse instead of returning
// them to the kernel after every batch.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or("usage: bench_read FILE TREE [--threads N] BRANCH...")?;
    let tree_name = args.next().ok_or("missing TREE")?;
    let mut threads = 1usize;
    let mut decompress_only = false;
    let mut batch = 200_000u64;
    let mut branches = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().ok_or("--threads N")?.parse()?,
            "--batch" => batch = args.next().ok_or("--batch N")?.parse()?,
            "--decompress-only" => decompress_only = true,
            _ => branches.push(a),
        }
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let t0 = Instant::now();
    let f = RootFile::open(&file)?;
    let tree = f.tree(&tree_name)?;
    let names: Vec<&str> = branches.iter().map(String::as_str).collect();
    let mut checksum = 0f64;
    // The checksum (compared with uproot's) is not part of the read: its time is subtracted.
    let mut checksum_time = 0f64;
    let mut values = 0u64;
    let mut compressed = 0u64;
    let mut uncompressed = 0u64;
    for (lo, hi) in BatchPolicy::even(batch).batches(&tree, &names, 0, tree.entries)? {
        let plan = tree.plan(&names, lo, hi)?;
        let raw = tree.fetch(&plan)?;
        if decompress_only {
            use rayon::prelude::*;
            let sizes: Vec<(u64, u64)> = raw
                .into_par_iter()
                .flatten()
                .map(|bytes| {
                    let objlen = u32::from_be_bytes(bytes[6..10].try_into().unwrap()) as usize;
                    let keylen = u16::from_be_bytes(bytes[14..16].try_into().unwrap()) as usize;
                    let mut out = vec![0u8; objlen];
                    rootio::decompress(&bytes[keylen..], &mut out).expect("decompress");
                    (bytes.len() as u64, objlen as u64)
                })
                .collect();
            compressed += sizes.iter().map(|s| s.0).sum::<u64>();
            uncompressed += sizes.iter().map(|s| s.1).sum::<u64>();
            continue;
        }
        let (batch, m) = tree.decode(&plan, raw)?;
        compressed += m.compressed_bytes;
        uncompressed += m.uncompressed_bytes;
        let tc = Instant::now();
        for c in &batch.columns {
            values += c.values.len() as u64;
            checksum += match &c.values {
                Values::F32(v) => v.iter().map(|&x| x as f64).sum::<f64>(),
                Values::F64(v) => v.iter().sum::<f64>(),
                Values::I32(v) => v.iter().map(|&x| x as f64).sum::<f64>(),
                Values::U32(v) => v.iter().map(|&x| x as f64).sum::<f64>(),
                other => (0..other.len()).map(|i| other.get_f64(i)).sum::<f64>(),
            };
        }
        checksum_time += tc.elapsed().as_secs_f64();
    }
    let wall = t0.elapsed().as_secs_f64() - checksum_time;
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .map(|k| k.parse::<u64>().unwrap_or(0))
            })
        })
        .unwrap_or(0);
    println!(
        "{{\"wall\": {wall}, \"entries\": {}, \"values\": {values}, \"checksum\": {checksum}, \"compressed_bytes\": {compressed}, \"uncompressed_bytes\": {uncompressed}, \"file_bytes\": {}, \"peak_rss_kb\": {rss}, \"threads\": {threads}}}",
        tree.entries,
        f.source().size()
    );
    Ok(())
}
