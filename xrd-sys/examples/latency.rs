//! Where the time of a first remote read goes: loading the shim (and libXrdCl), the first open
//! (connect, log in, open, stat), a second open on the same connection, and small reads.
//!
//!     cargo run --release -p xrd-sys --example latency -- root://host:port//path

use std::time::{Duration, Instant};

use xrd_sys::XrdFile;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: latency root://host:port//path")?;
    let deadline = Duration::from_secs(30);
    let t = Instant::now();
    let shim = xrd_sys::load(deadline, deadline)?;
    let load = t.elapsed();
    let t = Instant::now();
    let f = XrdFile::open(&url, deadline)?;
    let open = t.elapsed();
    let t = Instant::now();
    let _again = XrdFile::open(&url, deadline)?;
    let reopen = t.elapsed();
    let mut reads: Vec<Duration> = (0..50u64)
        .map(|i| {
            let t = Instant::now();
            f.read(i * 4096 % f.size().max(1), 1000, deadline)
                .map(|_| t.elapsed())
        })
        .collect::<Result<_, _>>()?;
    reads.sort();
    println!(
        "XRootD {}: load {load:?}, first open {open:?}, second open {reopen:?}, \
         1000-byte read median {:?} (of {})",
        shim.version(),
        reads[reads.len() / 2],
        reads.len()
    );
    Ok(())
}
