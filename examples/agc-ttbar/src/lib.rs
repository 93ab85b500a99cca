//! The IRIS-HEP Analysis Grand Challenge ttbar analysis (CMS 2015 open data, NanoAOD, no ML)
//! as a casa plugin: docs/agc.md specifies it, docs/plugins.md walks through this file next to
//! the coffea processor (tests/python/agc_coffea.py). Everything is computed in f64 from the
//! float32 columns, as the float64 reference (tests/python/agc_numpy.py) does.
//!
//! Configuration (`casa-submit plan --config`): `{"lumi": 3378.0}` (/pb, the default).
//! Shipped input (`plan --input`): the AGC's `corrections.json` (b-tag and W+jets scale
//! weights). Dataset metadata: `process`, `variation`, `xsec`, `nevts`.

use casa_plugin::collection::{max_by, triples};
use casa_plugin::correction::{Column, CorrectionSet, Value};
use casa_plugin::{
    export_plugin, Columns, Cutflow, Dataset, Events, Fill, Hist, HistId, LorentzVector, Output,
    PackedSelection, Processor, Result,
};

#[derive(serde::Deserialize)]
struct Config {
    #[serde(default = "lumi")]
    lumi: f64,
}

fn lumi() -> f64 {
    3378.0
}

#[derive(serde::Deserialize)]
struct Meta {
    process: String,
    variation: String,
    xsec: Option<f64>,
    nevts: u64,
}

struct Agc {
    hist: HistId,
    cutflow: Cutflow,
    corrections: CorrectionSet,
    lumi: f64,
}

const REGIONS: [(&str, &[&str]); 2] = [
    ("4j1b", &["exactly_1l", "atleast_4j", "exactly_1b"]),
    ("4j2b", &["exactly_1l", "atleast_4j", "atleast_2b"]),
];

impl Processor for Agc {
    const NAME: &'static str = "agc-ttbar";
    const COLUMNS: &'static [&'static str] = &[];

    fn init(out: &mut Output) -> Result<Self> {
        let hist = Hist::new()
            .reg(25, 50.0, 550.0, "observable")
            .label("observable [GeV]")
            .str_cat(&["4j1b", "4j2b"], "region")
            .label("Region")
            .str_cat_growth(&[], "process")
            .label("Process")
            .str_cat_growth(&[], "variation")
            .label("Systematic variation")
            .weight();
        let cutflow = Cutflow::declare_steps(
            out,
            "cutflow",
            &[
                ("exactly_1l", &["exactly_1l"]),
                ("atleast_4j", &["exactly_1l", "atleast_4j"]),
                (REGIONS[0].0, REGIONS[0].1),
                (REGIONS[1].0, REGIONS[1].1),
            ],
        )?;
        Ok(Agc {
            hist: out.hist("agc", hist)?,
            cutflow,
            corrections: CorrectionSet::open(out.input("corrections.json")?)?,
            lumi: out.config::<Config>()?.lumi,
        })
    }

    fn columns(&self, _: &Dataset) -> Result<Columns> {
        Ok(Columns::new()
            .fields("Jet", &["pt", "eta", "phi", "mass", "btagCSVV2", "jetId"])
            .fields("Electron", &["pt", "eta", "cutBased", "sip3d"])
            .fields("Muon", &["pt", "eta", "tightId", "sip3d", "pfRelIso04_all"]))
    }

    fn process(&mut self, events: &Events, out: &mut Output) -> Result<()> {
        let meta = events.meta::<Meta>()?;
        let is_mc = meta.process != "data";
        let w0 = match meta.xsec {
            Some(xsec) if is_mc => xsec * self.lumi / meta.nevts as f64,
            None if is_mc => return Err(format!("dataset {}: no xsec", events.dataset).into()),
            _ => 1.0,
        };
        let nominal = meta.variation == "nominal";
        let syst = self.corrections.get("event_systematics")?;

        let el = events.collection("Electron")?;
        let (pt, eta) = (el.field::<f64>("pt")?, el.field::<f64>("eta")?);
        let (id, sip) = (el.field::<i32>("cutBased")?, el.field::<f64>("sip3d")?);
        let electrons =
            el.select(|k| pt[k] > 30.0 && eta[k].abs() < 2.1 && id[k] == 4 && sip[k] < 4.0);
        let mu = events.collection("Muon")?;
        let (pt, eta, tight) = (
            mu.field::<f64>("pt")?,
            mu.field::<f64>("eta")?,
            mu.field::<bool>("tightId")?,
        );
        let (sip, iso) = (
            mu.field::<f64>("sip3d")?,
            mu.field::<f64>("pfRelIso04_all")?,
        );
        let muons = mu.select(|k| {
            pt[k] > 30.0 && eta[k].abs() < 2.1 && tight[k] && sip[k] < 4.0 && iso[k] < 0.15
        });

        let jets = events.collection("Jet")?;
        let p4 = jets.p4_as::<f64>()?;
        let (btag, jet_id) = (jets.field::<f32>("btagCSVV2")?, jets.field::<i32>("jetId")?);
        // The jet variations: varied pT for every jet, then the whole selection again. The
        // resolution smearing draws per (file, entry, jet), whatever the chunking.
        let mut variations = vec![("nominal", p4.pt.clone())];
        if is_mc && nominal {
            variations.push(("pt_scale_up", p4.pt.map(|x| x * 1.03)));
            let rng = events.rng("pt_res_up");
            let smear: Vec<f64> = (0..events.len())
                .flat_map(|i| jets.range(i).map(move |k| (i, k)))
                .map(|(i, k)| {
                    p4.pt[k] * (1.0 + 0.05 * rng.normal(i, (k - jets.range(i).start) as u32))
                })
                .collect();
            variations.push(("pt_res_up", p4.pt.with_values(smear)?));
        }

        for (jet_var, jet_pt) in &variations {
            let p4 = p4.with_pt(jet_pt);
            let good =
                jets.select(|k| p4.pt[k] > 30.0 && p4.eta[k].abs() < 2.4 && jet_id[k] & 4 != 0);
            let n_b = |i| good.count_if(i, |k| btag[k] > 0.5);
            let mut sel = PackedSelection::new(events.len());
            sel.add("exactly_1l", |i| electrons.count(i) + muons.count(i) == 1)?;
            sel.add("atleast_4j", |i| good.count(i) >= 4)?;
            sel.add("exactly_1b", |i| n_b(i) == 1)?;
            sel.add("atleast_2b", |i| n_b(i) >= 2)?;
            if *jet_var == "nominal" {
                self.cutflow
                    .fill(out, &sel, Some(&vec![w0; events.len()]))?;
            }
            let v4 = p4.cartesian();
            for (region, cuts) in REGIONS {
                let ev = sel.indices(cuts)?;
                if ev.is_empty() {
                    continue; // the AGC fills no empty region (no empty categories)
                }
                let obs: Vec<f64> = if region == "4j1b" {
                    ev.iter().map(|&i| good.sum(i, |k| p4.pt[k])).collect()
                } else {
                    // The highest-pT trijet with at least one b-tagged jet: its mass.
                    let trijet_mass = |i: usize| {
                        let tagged = triples(good.event(i))
                            .filter(|t| t.iter().any(|&k| btag[k as usize] > 0.5));
                        let p4s = tagged
                            .map(|t| t.iter().map(|&k| v4[k as usize]).sum::<LorentzVector>());
                        max_by(p4s, |v| v.pt()).map_or(f64::NAN, |v| v.mass())
                    };
                    ev.iter().map(|&i| trijet_mass(i)).collect()
                };
                let w = vec![w0; ev.len()];
                let name = if nominal {
                    jet_var
                } else {
                    meta.variation.as_str()
                };
                let mut fill = |name: &str, w: &[f64]| {
                    let args = [
                        Fill::F64(&obs),
                        Fill::OneStr(region),
                        Fill::OneStr(&meta.process),
                        Fill::OneStr(name),
                    ];
                    out.fill_weighted(self.hist, &args, w)
                };
                fill(name, &w)?;
                if *jet_var != "nominal" || !is_mc || !nominal {
                    continue;
                }
                // Event-weight variations: the nominal events and observable, reweighted.
                let weights = |kind: &str, dir: &str, pt: &[f64]| -> Result<Vec<f64>> {
                    let mut f = vec![0.0; pt.len()];
                    let args = [
                        Column::Const(Value::Str(kind)),
                        Column::Const(Value::Str(dir)),
                        Column::F64(pt),
                    ];
                    syst.evaluate_batch(&args, &mut f)?;
                    Ok(f.iter().map(|f| w0 * f).collect())
                };
                for j in 0..4 {
                    let pt_j: Vec<f64> = ev
                        .iter()
                        .map(|&i| p4.pt[good.event(i)[j] as usize])
                        .collect();
                    for dir in ["up", "down"] {
                        fill(
                            &format!("btag_var_{j}_{dir}"),
                            &weights("btag_var", dir, &pt_j)?,
                        )?;
                    }
                }
                if meta.process == "wjets" {
                    let pt_0: Vec<f64> = ev
                        .iter()
                        .map(|&i| p4.pt[good.event(i)[0] as usize])
                        .collect();
                    for dir in ["up", "down"] {
                        fill(
                            &format!("scale_var_{dir}"),
                            &weights("scale_var", dir, &pt_0)?,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

export_plugin!(Agc);
