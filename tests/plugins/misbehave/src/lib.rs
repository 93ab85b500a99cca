//! A plugin for the wrapper's failure tests. `CASA_TEST_MODE` chooses how it misbehaves:
//! `panic` or `error` in `process`, `init-error` in `init`, `bad-fill` (a fill the host must
//! refuse), `slow` (sleeps per batch, for eviction tests), `crash-once` (the first job whose
//! marker file `CASA_TEST_MARKER` does not exist yet creates it and aborts the process: a crash
//! a retry recovers from), `bools` (also fills a histogram of two boolean axes with `Bool`
//! arrays and `OneBool`); anything else counts events.

use casa_plugin::{export_plugin, Events, Fill, Hist, HistId, Output, Processor, Result};

struct Misbehave {
    h: HistId,
    flags: Option<HistId>,
    mode: String,
}

impl Processor for Misbehave {
    const NAME: &'static str = "misbehave";
    const COLUMNS: &'static [&'static str] = &["nMuon"];

    fn init(out: &mut Output) -> Result<Self> {
        let mode = std::env::var("CASA_TEST_MODE").unwrap_or_default();
        if mode == "init-error" {
            return Err("refusing to start, as asked".into());
        }
        let h = out.hist("n", Hist::new().integer(0, 10, "nMuon").int64())?;
        let flags = if mode == "bools" {
            let decl = Hist::new().boolean("a").boolean("b").int64();
            Some(out.hist("flags", decl)?)
        } else {
            None
        };
        Ok(Misbehave { h, flags, mode })
    }

    fn process(&mut self, events: &Events, out: &mut Output) -> Result<()> {
        match self.mode.as_str() {
            "panic" => panic!("deliberate panic at entry {}", events.entry_start),
            "error" => {
                return Err(format!("deliberate error at entry {}", events.entry_start).into())
            }
            "bad-fill" => {
                // Two axes' worth of arguments for a one-axis histogram.
                out.fill(self.h, &[Fill::OneI64(1), Fill::OneI64(2)])?;
            }
            "slow" => std::thread::sleep(std::time::Duration::from_millis(200)),
            "crash-once" => {
                let marker = std::env::var("CASA_TEST_MARKER").unwrap_or_default();
                if !marker.is_empty() && std::fs::File::create_new(&marker).is_ok() {
                    std::process::abort();
                }
            }
            _ => {}
        }
        let n: Vec<i64> = events
            .flat::<u32>("nMuon")?
            .iter()
            .map(|&x| x as i64)
            .collect();
        out.fill(self.h, &[Fill::I64(&n)])?;
        if let Some(flags) = self.flags {
            // (nMuon >= 2, true) for every event, then (false, nMuon == 0).
            let two: Vec<bool> = n.iter().map(|&k| k >= 2).collect();
            let none: Vec<bool> = n.iter().map(|&k| k == 0).collect();
            out.fill(flags, &[Fill::Bool(&two), Fill::OneBool(true)])?;
            out.fill(flags, &[Fill::OneBool(false), Fill::Bool(&none)])?;
        }
        out.count("entries", events.len() as u64)
    }
}

export_plugin!(Misbehave);
