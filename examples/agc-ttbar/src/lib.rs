//! The IRIS-HEP Analysis Grand Challenge ttbar analysis (CMS 2015 open data, NanoAOD, no ML)
//! as a casa plugin: docs/agc.md specifies it, docs/plugins.md walks through this file next to
//! the coffea processor (tests/python/agc_coffea.py). Everything is computed in f64 from the
//! float32 columns, as the float64 reference (tests/python/agc_numpy.py) does.
//!
//! Configuration (`casa-submit plan --config`): `{"lumi": 3378.0}` (/pb, the default).
//! Shipped input (`plan --input`): the AGC's `corrections.json` (b-tag and W+jets scale
//! weights). Dataset metadata: `process`, `variation`, `xsec`, `nevts`. Optional column:
//! `genWeight` (MC only), summed into the counter `sum_genWeight` where a file has it.

use casa_plugin::collection::{max_by, triples};
use casa_plugin::correction::{Column, CorrectionSet, Value};
use casa_plugin::{
    export_plugin, Columns, Cutflow, Dataset, Events, Field, Fill, Hist, HistId, Output,
    PackedSelection, Processor, Result,
};

#[derive(serde::Deserialize)]
struct Config {
    lumi: Option<f64>,
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
            .str_cat_growth(&[], "process")
            .str_cat_growth(&[], "variation")
            .weight();
        let steps = [
            ("exactly_1l", &["exactly_1l"][..]),
            ("atleast_4j", &["exactly_1l", "atleast_4j"]),
        ];
        Ok(Agc {
            hist: out.hist("agc", hist)?,
            cutflow: Cutflow::declare_steps(out, "cutflow", &[&steps[..], &REGIONS].concat())?,
            corrections: CorrectionSet::open(out.input("corrections.json")?)?,
            lumi: out.config::<Config>()?.lumi.unwrap_or(3378.0),
        })
    }

    fn columns(&self, _: &Dataset) -> Result<Columns> {
        Ok(Columns::new()
            .fields("Jet", &["pt", "eta", "phi", "mass", "btagCSVV2", "jetId"])
            .fields("Electron", &["pt", "eta", "cutBased", "sip3d"])
            .fields("Muon", &["pt", "eta", "tightId", "sip3d", "pfRelIso04_all"])
            // MC only: the data files have no genWeight, and their jobs must not fail for it.
            .optional(&["genWeight"]))
    }

    fn process(&mut self, events: &Events, out: &mut Output) -> Result<()> {
        let meta = events.meta::<Meta>()?;
        let (is_mc, nominal) = (meta.process != "data", meta.variation == "nominal");
        let sf = self.corrections.get("event_systematics")?;
        let w0 = match meta.xsec {
            Some(xsec) if is_mc => xsec * self.lumi / meta.nevts as f64,
            None if is_mc => return Err(format!("dataset {}: no xsec", events.dataset).into()),
            _ => 1.0,
        };
        // The AGC weights by cross-section only; the generator weights are summed for the
        // record (a normalisation cross-check), where the file has them.
        if let Some(gw) = events.optional::<f64>("genWeight")? {
            out.count_f64("sum_genWeight", gw.iter().sum())?;
        }

        let el = events.collection("Electron")?;
        let [pt, eta, sip]: [Field<f64>; 3] = el.fields(["pt", "eta", "sip3d"])?;
        let id = el.field::<i32>("cutBased")?;
        let electrons =
            el.select(|k| pt[k] > 30.0 && eta[k].abs() < 2.1 && id[k] == 4 && sip[k] < 4.0);
        let mu = events.collection("Muon")?;
        let [pt, eta, sip, iso]: [Field<f64>; 4] =
            mu.fields(["pt", "eta", "sip3d", "pfRelIso04_all"])?;
        let tight = mu.field::<bool>("tightId")?;
        let muons = mu.select(|k| {
            pt[k] > 30.0 && eta[k].abs() < 2.1 && tight[k] && sip[k] < 4.0 && iso[k] < 0.15
        });

        let jets = events.collection("Jet")?;
        let p4 = jets.p4_as::<f64>()?;
        let (btag, jet_id) = (jets.field::<f32>("btagCSVV2")?, jets.field::<i32>("jetId")?);
        // Jet variations: a varied pT for every jet, then the whole selection again. The
        // resolution smearing draws per (file, entry, jet), so chunking cannot change it.
        let mut variations = vec![("nominal", p4.pt.clone())];
        if is_mc && nominal {
            variations.push(("pt_scale_up", p4.pt.map(|pt| pt * 1.03)));
            let r = events.rng("pt_res_up").normals(&jets);
            let smeared = (0..r.len())
                .map(|k| p4.pt[k] * (1.0 + 0.05 * r[k]))
                .collect();
            variations.push(("pt_res_up", p4.pt.with_values(smeared)?));
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
            // The highest-pT trijet with at least one b-tagged jet: its mass.
            let trijet_mass = |i: usize| {
                let js: Vec<_> = good
                    .event(i)
                    .iter()
                    .map(|&k| (p4.vec(k as usize), btag[k as usize] > 0.5))
                    .collect();
                let tagged = triples(&js).filter(|t| t.iter().any(|j| j.1));
                max_by(tagged.map(|t| t[0].0 + t[1].0 + t[2].0), |v| v.pt())
                    .map_or(f64::NAN, |v| v.mass())
            };
            for (region, cuts) in REGIONS {
                let ev = sel.indices(cuts)?;
                if ev.is_empty() {
                    continue; // the AGC fills no empty region (no empty categories)
                }
                let obs: Vec<f64> = match region {
                    "4j1b" => ev.iter().map(|&i| good.sum(i, |k| p4.pt[k])).collect(),
                    _ => ev.iter().map(|&i| trijet_mass(i)).collect(),
                };
                let mut fill = |name: &str, w: &[f64]| {
                    let axes = [
                        Fill::OneStr(region),
                        Fill::OneStr(&meta.process),
                        Fill::OneStr(name),
                    ];
                    out.fill_weighted(self.hist, &[&[Fill::F64(&obs)][..], &axes].concat(), w)
                };
                fill(
                    if nominal { jet_var } else { &meta.variation },
                    &vec![w0; ev.len()],
                )?;
                if *jet_var != "nominal" || !is_mc || !nominal {
                    continue;
                }
                // Weight variations of the nominal events: event_systematics(kind, dir, pT of
                // the j-th jet), b-tagging for jets 0-3 and the W+jets scale.
                let mut weight_systs: Vec<_> = (0..4)
                    .map(|j| (format!("btag_var_{j}"), "btag_var", j))
                    .collect();
                if meta.process == "wjets" {
                    weight_systs.push(("scale_var".into(), "scale_var", 0));
                }
                for (name, kind, j) in weight_systs {
                    let pt: Vec<f64> = ev
                        .iter()
                        .map(|&i| p4.pt[good.event(i)[j] as usize])
                        .collect();
                    for dir in ["up", "down"] {
                        let mut w = vec![0.0; ev.len()];
                        let args = [
                            Column::Const(Value::Str(kind)),
                            Column::Const(Value::Str(dir)),
                            Column::F64(&pt),
                        ];
                        sf.evaluate_batch(&args, &mut w)?;
                        w.iter_mut().for_each(|w| *w *= w0);
                        fill(&format!("{name}_{dir}"), &w)?;
                    }
                }
            }
        }
        Ok(())
    }
}

export_plugin!(Agc);
