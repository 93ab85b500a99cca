//! The dimuon mass spectrum of coffea's processor example, as a casa plugin: events with
//! exactly two muons, split by the sign of their charges, invariant mass on a log axis, and
//! the number of events seen.

use casa_plugin::{export_plugin, Events, Fill, Hist, HistId, Output, Processor, Result};

struct Dimuon {
    mass: HistId,
}

impl Processor for Dimuon {
    const NAME: &'static str = "dimuon";
    const COLUMNS: &'static [&'static str] = &[
        "nMuon",
        "Muon_pt",
        "Muon_eta",
        "Muon_phi",
        "Muon_mass",
        "Muon_charge",
    ];

    fn init(out: &mut Output) -> Result<Self> {
        let h = Hist::new()
            .str_cat(&["opposite", "same"], "sign")
            .log(1000, 0.2, 200.0, "mass")
            .label("$m_{\\mu\\mu}$ [GeV]")
            .int64();
        Ok(Dimuon {
            mass: out.hist("mass", h)?,
        })
    }

    fn process(&mut self, events: &Events, out: &mut Output) -> Result<()> {
        let muons = events.candidates("Muon")?;
        let mut opposite = Vec::new();
        let mut same = Vec::new();
        for i in 0..events.len() {
            let mu = muons.event(i);
            if mu.len() != 2 {
                continue;
            }
            let m = (mu.get(0).p4() + mu.get(1).p4()).mass();
            if mu.charge_sum() == 0 {
                opposite.push(m);
            } else {
                same.push(m);
            }
        }
        out.fill(self.mass, &[Fill::OneStr("opposite"), Fill::F64(&opposite)])?;
        out.fill(self.mass, &[Fill::OneStr("same"), Fill::F64(&same)])?;
        out.count("entries", events.len() as u64)
    }
}

export_plugin!(Dimuon);
