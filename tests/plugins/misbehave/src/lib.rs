//! A plugin for the wrapper's tests. `CASA_TEST_MODE` chooses how it misbehaves:
//! `panic` or `error` in `process`, `init-error` in `init`, `bad-fill` (a fill the host must
//! refuse), `slow` (sleeps per batch, for eviction tests), `crash-once` (the first job whose
//! marker file `CASA_TEST_MARKER` does not exist yet creates it and aborts the process: a crash
//! a retry recovers from); or which SDK feature it exercises: `optional` (optional columns,
//! one present and one absent), `mc-only` (a column required only when the dataset's metadata
//! says `is_mc`, which no file has), `smear` (reproducible normal numbers into a histogram),
//! `cutflow` (nMuon >= 1, >= 2 with weight 0.5); anything else counts events.

use casa_plugin::{
    export_plugin, Columns, Cutflow, Dataset, Events, Fill, Hist, HistId, Output, PackedSelection,
    Processor, Result,
};

struct Misbehave {
    h: HistId,
    mode: String,
    extra: Option<HistId>,
    cutflow: Option<Cutflow>,
}

#[derive(serde::Deserialize)]
struct Meta {
    #[serde(default)]
    is_mc: bool,
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
        let extra = match mode.as_str() {
            "smear" => Some(out.hist("smear", Hist::new().reg(40, -4.0, 4.0, "x").double())?),
            _ => None,
        };
        let cutflow = match mode.as_str() {
            "cutflow" => Some(Cutflow::declare(out, "cutflow", &["one", "two"])?),
            _ => None,
        };
        Ok(Misbehave {
            h,
            mode,
            extra,
            cutflow,
        })
    }

    fn columns(&self, ds: &Dataset) -> Result<Columns> {
        let c = Columns::new().require(Self::COLUMNS);
        Ok(match self.mode.as_str() {
            "optional" => c.optional(&["Muon_pt", "genWeight_not_in_any_file"]),
            "mc-only" if ds.meta::<Meta>()?.is_mc => c.require(&["GenPart_not_in_any_file"]),
            _ => c,
        })
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
            "optional" => {
                out.count("has_muon_pt", events.has("Muon_pt") as u64)?;
                out.count("has_absent", events.has("genWeight_not_in_any_file") as u64)?;
                let muons = events.collection("Muon")?;
                out.count("muons", muons.n_objects() as u64)?;
            }
            "smear" => {
                let rng = events.rng("smear");
                // Several objects per event, as a jet smearing draws them.
                let x: Vec<f64> = (0..events.len())
                    .flat_map(|i| (0..3).map(move |j| rng.normal(i, j)))
                    .collect();
                out.fill(self.extra.expect("declared"), &[Fill::F64(&x)])?;
            }
            "cutflow" => {
                let n = events.values_as::<u32>("nMuon")?;
                let mut sel = PackedSelection::new(events.len());
                sel.add("one", |i| n[i] >= 1)?;
                sel.add("two", |i| n[i] >= 2)?;
                let w = vec![0.5; events.len()];
                self.cutflow
                    .as_ref()
                    .expect("declared")
                    .fill(out, &sel, Some(&w))?;
            }
            _ => {}
        }
        let n: Vec<i64> = events
            .flat::<u32>("nMuon")?
            .iter()
            .map(|&x| x as i64)
            .collect();
        out.fill(self.h, &[Fill::I64(&n)])?;
        out.count("entries", events.len() as u64)
    }
}

export_plugin!(Misbehave);
