//! ATLAS PHYSLITE as a casa plugin: the transverse momentum of the analysis electrons, muons
//! and jets inside |eta| < 2.5, read from the xAOD `*AuxDyn.*` branches of `CollectionTree`
//! (one `std::vector<float>` per event and variable, in MeV), filled in GeV, one category per
//! object kind.

use casa_plugin::{export_plugin, Events, Fill, Hist, HistId, Output, Processor, Result};

/// The object kinds, with the prefix of their AuxDyn branches.
const OBJECTS: [(&str, &str); 3] = [
    ("electron", "AnalysisElectronsAuxDyn"),
    ("muon", "AnalysisMuonsAuxDyn"),
    ("jet", "AnalysisJetsAuxDyn"),
];

struct Physlite {
    pt: HistId,
}

impl Processor for Physlite {
    const NAME: &'static str = "physlite";
    const COLUMNS: &'static [&'static str] = &[
        "AnalysisElectronsAuxDyn.pt",
        "AnalysisElectronsAuxDyn.eta",
        "AnalysisMuonsAuxDyn.pt",
        "AnalysisMuonsAuxDyn.eta",
        "AnalysisJetsAuxDyn.pt",
        "AnalysisJetsAuxDyn.eta",
    ];

    fn init(out: &mut Output) -> Result<Self> {
        let h = Hist::new()
            .str_cat(&["electron", "muon", "jet"], "object")
            .reg(50, 0.0, 250.0, "pt")
            .label("$p_T$ [GeV]")
            .int64();
        Ok(Physlite {
            pt: out.hist("pt", h)?,
        })
    }

    fn process(&mut self, events: &Events, out: &mut Output) -> Result<()> {
        for (kind, prefix) in OBJECTS {
            let pt = events.jagged::<f32>(&format!("{prefix}.pt"))?;
            let eta = events.jagged::<f32>(&format!("{prefix}.eta"))?;
            let mut gev = Vec::new();
            for i in 0..events.len() {
                for (&p, &e) in pt.row(i).iter().zip(eta.row(i)) {
                    if e.abs() < 2.5 {
                        gev.push(p as f64 / 1000.0);
                    }
                }
            }
            out.fill(self.pt, &[Fill::OneStr(kind), Fill::F64(&gev)])?;
        }
        out.count("entries", events.len() as u64)
    }
}

export_plugin!(Physlite);
