//! A plugin for the wrapper's tests. `CASA_TEST_MODE` chooses how it misbehaves:
//! `panic` or `error` in `process`, `init-error` in `init`, `bad-fill` (a fill the host must
//! refuse), `slow` (sleeps per batch, for eviction tests), `crash-once` (the first job whose
//! marker file `CASA_TEST_MARKER` does not exist yet creates it and aborts the process: a crash
//! a retry recovers from); `bools` (also fills a histogram of two boolean axes with `Bool`
//! arrays and `OneBool`); or which SDK feature it exercises: `optional` (optional columns,
//! one present and one absent), `mc-only` (a column required only when the dataset's metadata
//! says `is_mc`, which no file has), `smear` (reproducible normal numbers into a histogram),
//! `cutflow` (nMuon >= 1, >= 2 with weight 0.5), `nanoaod` (collections on real NanoAOD:
//! selection, sorting, trijets, ΔR matching and cross references, summed into counters),
//! `setup` (the run's configuration `{"label": .., "scale": ..}` and the shipped input
//! `note.txt`, reported as counters), `correction` (the shipped `corrections.json`'s
//! `event_systematics` btag_var up at pt = 10 nMuon + 25, as the weights of an nMuon
//! histogram), `typo` (requires `Jet_btagCSV2`, a misspelling of NanoAOD's `Jet_btagCSVV2`,
//! for the plan-time column check); anything else counts events. `CASA_TEST_SLEEP_MS`, in
//! any mode, sleeps that long per batch (a long job to evict at random times).

use casa_plugin::collection::{max_by, triples};
use casa_plugin::correction::{Column, CorrectionSet, Value};
use casa_plugin::{
    export_plugin, Columns, Cutflow, Dataset, Events, Fill, Hist, HistId, Output, PackedSelection,
    Processor, Result,
};

struct Misbehave {
    h: HistId,
    flags: Option<HistId>,
    mode: String,
    extra: Option<HistId>,
    cutflow: Option<Cutflow>,
    setup: Option<(Config, usize)>,
    corrections: Option<CorrectionSet>,
}

#[derive(serde::Deserialize)]
struct Config {
    label: String,
    #[serde(default = "one")]
    scale: f64,
}

fn one() -> f64 {
    1.0
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
            "correction" => Some(out.hist("w", Hist::new().integer(0, 10, "nMuon").weight())?),
            _ => None,
        };
        let cutflow = match mode.as_str() {
            "cutflow" => Some(Cutflow::declare(out, "cutflow", &["one", "two"])?),
            _ => None,
        };
        let flags = if mode == "bools" {
            let decl = Hist::new().boolean("a").boolean("b").int64();
            Some(out.hist("flags", decl)?)
        } else {
            None
        };
        let setup = match mode.as_str() {
            "setup" => {
                let cfg: Config = out.config()?;
                let note = std::fs::read_to_string(out.input("note.txt")?)?;
                Some((cfg, note.len()))
            }
            _ => None,
        };
        let corrections = match mode.as_str() {
            "correction" => Some(CorrectionSet::open(out.input("corrections.json")?)?),
            _ => None,
        };
        Ok(Misbehave {
            h,
            flags,
            mode,
            extra,
            cutflow,
            setup,
            corrections,
        })
    }

    fn columns(&self, ds: &Dataset) -> Result<Columns> {
        let c = Columns::new().require(Self::COLUMNS);
        Ok(match self.mode.as_str() {
            // nMuon is also required: read once.
            "optional" => c.optional(&["Muon_pt", "nMuon", "genWeight_not_in_any_file"]),
            "mc-only" if ds.meta::<Meta>()?.is_mc => c.require(&["GenPart_not_in_any_file"]),
            "typo" => c.require(&["Jet_btagCSV2"]),
            "nanoaod" => c
                .fields(
                    "Jet",
                    &["pt", "eta", "phi", "mass", "btagCSVV2", "jetId", "muonIdx1"],
                )
                .fields("Muon", &["pt", "eta", "phi", "mass", "isGlobal", "jetIdx"]),
            _ => c,
        })
    }

    fn process(&mut self, events: &Events, out: &mut Output) -> Result<()> {
        if let Some(ms) = std::env::var("CASA_TEST_SLEEP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
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
            "nanoaod" => nanoaod(events, out)?,
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
            "setup" => {
                // Reported once per job, so the test knows what to expect.
                if let Some((cfg, bytes)) = self.setup.take() {
                    out.count(&format!("label_{}", cfg.label), 1)?;
                    out.count_f64("scale", cfg.scale)?;
                    out.count("note_bytes", bytes as u64)?;
                }
            }
            "correction" => {
                let n = events.values_as::<u32>("nMuon")?;
                let pt: Vec<f64> = n.iter().map(|&k| 10.0 * k as f64 + 25.0).collect();
                let mut w = vec![0.0; n.len()];
                let c = self
                    .corrections
                    .as_ref()
                    .expect("opened")
                    .get("event_systematics")?;
                c.evaluate_batch(
                    &[
                        Column::Const(Value::Str("btag_var")),
                        Column::Const(Value::Str("up")),
                        Column::F64(&pt),
                    ],
                    &mut w,
                )?;
                let n: Vec<i64> = n.iter().map(|&k| k as i64).collect();
                out.fill_weighted(self.extra.expect("declared"), &[Fill::I64(&n)], &w)?;
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

/// Collections on real NanoAOD, each result summed into a counter the test compares with an
/// independent Python computation.
fn nanoaod(events: &Events, out: &mut Output) -> Result<()> {
    let (jets, muons) = (events.collection("Jet")?, events.collection("Muon")?);
    let (jp4, mp4) = (jets.p4()?, muons.p4()?);
    // jetId is int32 in this file: read as u8 through the conversion.
    let (btag, id) = (jets.field::<f32>("btagCSVV2")?, jets.field::<u8>("jetId")?);
    let global = muons.field::<bool>("isGlobal")?;
    let mu_of_jet = jets.xref("muonIdx1", &muons)?;
    let jet_of_mu = muons.xref("jetIdx", &jets)?;
    let mut good = jets.select(|k| jp4.pt[k] > 20.0 && jp4.eta[k].abs() < 2.4 && id[k] & 2 != 0);
    good.sort_desc_by(|k| jp4.pt[k] as f64);
    let global_mu = muons.select(|k| global[k]);
    let all_mu = muons.all();
    let (mut n3, mut sum_m3, mut sum_ht, mut sum_lead) = (0u64, 0.0, 0.0, 0.0);
    let (mut n_dr, mut sum_xref, mut n_mu_jet, mut n_global) = (0u64, 0.0, 0u64, 0u64);
    let mut jv = Vec::new();
    for i in 0..events.len() {
        let js = good.event(i);
        sum_ht += good.sum(i, |k| jp4.pt[k] as f64);
        if let Some(&lead) = js.first() {
            sum_lead += jp4.pt[lead as usize] as f64;
        }
        jp4.vectors(js, &mut jv);
        let tagged = triples(&jv).filter(|t| t.iter().any(|j| btag[j.k] > 0.5));
        if let Some(top) = max_by(tagged.map(|[a, b, c]| a.v + b.v + c.v), |t| t.pt()) {
            n3 += 1;
            sum_m3 += top.mass();
        }
        for &k in js {
            let k = k as usize;
            n_dr += jp4.nearest(k, &mp4, all_mu.event(i), 0.4).is_some() as u64;
            if let Some(m) = mu_of_jet.get(k) {
                sum_xref += mp4.pt[m] as f64;
            }
        }
        n_mu_jet += muons
            .range(i)
            .filter(|&m| jet_of_mu.get(m).is_some())
            .count() as u64;
        n_global += global_mu.count(i) as u64;
    }
    out.count("n3", n3)?;
    out.count_f64("sum_m3", sum_m3)?;
    out.count_f64("sum_ht", sum_ht)?;
    out.count_f64("sum_lead_pt", sum_lead)?;
    out.count("n_dr_match", n_dr)?;
    out.count_f64("sum_xref_mu_pt", sum_xref)?;
    out.count("n_mu_jet", n_mu_jet)?;
    out.count("n_global", n_global)
}
