//! How long the collection API takes per event, on the AGC ttbar selection (leptons, jets,
//! b-tags, regions 4j1b and 4j2b, HT and the highest-pT b-tagged trijet mass), against the
//! same computation written as raw loops over the column slices.
//!
//!   cargo run --release -p casa-plugin --example collections_bench [EVENTS]
//!
//! The events are synthetic (multiplicities and spectra roughly like ttbar NanoAOD, drawn with
//! the SDK's own generator), built once; each analysis runs over them in batches of 100 000.

use std::hint::black_box;
use std::time::Instant;

use casa_plugin::collection::{max_by, triples};
use casa_plugin::random::Rng;
use casa_plugin::testing::TestBatch;
use casa_plugin::vec4::{LorentzVector, PtEtaPhiM};
use casa_plugin::{Events, PackedSelection, Result};

const BATCH: usize = 100_000;

/// Jets, electrons and muons for `n` events starting at entry `start`.
fn batch(start: u64, n: usize) -> TestBatch {
    let r = Rng::new("bench", "events");
    let count = |i: usize, j: u32, mean: f64| -> usize {
        // A rough Poisson: the number of uniforms whose running product stays above e^-mean.
        let (mut p, mut k) = (1.0, 0);
        loop {
            p *= r.uniform(start as usize + i, j * 64 + k as u32);
            if p < (-mean).exp() || k == 15 {
                return k;
            }
            k += 1;
        }
    };
    let mut jets: [Vec<Vec<f32>>; 5] = Default::default();
    let mut jet_id: Vec<Vec<i32>> = Vec::new();
    let mut el: [Vec<Vec<f32>>; 3] = Default::default();
    let mut el_cut: Vec<Vec<i32>> = Vec::new();
    let mut mu: [Vec<Vec<f32>>; 4] = Default::default();
    let mut mu_tight: Vec<Vec<bool>> = Vec::new();
    let o = Rng::new("bench", "objects");
    for i in 0..n {
        let e = start as usize + i;
        let (nj, ne, nm) = (count(i, 0, 6.0), count(i, 1, 0.6), count(i, 2, 0.6));
        let u = |j: u32| o.uniform(e, j);
        for (f, v) in jets.iter_mut().enumerate() {
            v.push(
                (0..nj as u32)
                    .map(|j| match f {
                        0 => 25.0 + 150.0 * u(j).powi(2) as f32,
                        1 => (5.0 * u(j + 100) - 2.5) as f32,
                        2 => (std::f64::consts::TAU * u(j + 200) - std::f64::consts::PI) as f32,
                        3 => (5.0 + 15.0 * u(j + 300)) as f32,
                        _ => u(j + 400) as f32,
                    })
                    .collect(),
            );
        }
        jet_id.push(
            (0..nj as u32)
                .map(|j| if u(j + 500) < 0.9 { 6 } else { 2 })
                .collect(),
        );
        for (f, v) in el.iter_mut().enumerate() {
            v.push(
                (0..ne as u32)
                    .map(|j| match f {
                        0 => 20.0 + 60.0 * u(j + 600) as f32,
                        1 => (5.0 * u(j + 700) - 2.5) as f32,
                        _ => (6.0 * u(j + 800)) as f32,
                    })
                    .collect(),
            );
        }
        el_cut.push((0..ne as u32).map(|j| (u(j + 900) * 5.0) as i32).collect());
        for (f, v) in mu.iter_mut().enumerate() {
            v.push(
                (0..nm as u32)
                    .map(|j| match f {
                        0 => 20.0 + 60.0 * u(j + 1000) as f32,
                        1 => (5.0 * u(j + 1100) - 2.5) as f32,
                        2 => (6.0 * u(j + 1200)) as f32,
                        _ => (0.3 * u(j + 1300)) as f32,
                    })
                    .collect(),
            );
        }
        mu_tight.push((0..nm as u32).map(|j| u(j + 1400) < 0.8).collect());
    }
    fn rows<T: Copy>(v: &[Vec<T>]) -> Vec<&[T]> {
        v.iter().map(|r| r.as_slice()).collect()
    }
    TestBatch::new(n)
        .entry_start(start)
        .jagged("Jet_pt", &rows(&jets[0]))
        .jagged("Jet_eta", &rows(&jets[1]))
        .jagged("Jet_phi", &rows(&jets[2]))
        .jagged("Jet_mass", &rows(&jets[3]))
        .jagged("Jet_btagCSVV2", &rows(&jets[4]))
        .jagged("Jet_jetId", &rows(&jet_id))
        .jagged("Electron_pt", &rows(&el[0]))
        .jagged("Electron_eta", &rows(&el[1]))
        .jagged("Electron_sip3d", &rows(&el[2]))
        .jagged("Electron_cutBased", &rows(&el_cut))
        .jagged("Muon_pt", &rows(&mu[0]))
        .jagged("Muon_eta", &rows(&mu[1]))
        .jagged("Muon_sip3d", &rows(&mu[2]))
        .jagged("Muon_pfRelIso04_all", &rows(&mu[3]))
        .jagged("Muon_tightId", &rows(&mu_tight))
}

/// The AGC selection with the SDK: what an analysis writes.
fn with_sdk(ev: &Events) -> Result<(Vec<f64>, Vec<f64>)> {
    let (jets, el, mu) = (
        ev.collection("Jet")?,
        ev.collection("Electron")?,
        ev.collection("Muon")?,
    );
    let jp4 = jets.p4()?;
    let (btag, jet_id) = (jets.field::<f32>("btagCSVV2")?, jets.field::<u8>("jetId")?);
    let (ept, eeta) = (el.field::<f32>("pt")?, el.field::<f32>("eta")?);
    let (ecut, esip) = (el.field::<u8>("cutBased")?, el.field::<f32>("sip3d")?);
    let (mpt, meta, mtight) = (
        mu.field::<f32>("pt")?,
        mu.field::<f32>("eta")?,
        mu.field::<bool>("tightId")?,
    );
    let (msip, miso) = (
        mu.field::<f32>("sip3d")?,
        mu.field::<f32>("pfRelIso04_all")?,
    );

    let good_el =
        el.select(|k| ept[k] > 30.0 && eeta[k].abs() < 2.1 && ecut[k] == 4 && esip[k] < 4.0);
    let good_mu = mu.select(|k| {
        mpt[k] > 30.0 && meta[k].abs() < 2.1 && mtight[k] && msip[k] < 4.0 && miso[k] < 0.15
    });
    let good_jets =
        jets.select(|k| jp4.pt[k] > 30.0 && jp4.eta[k].abs() < 2.4 && jet_id[k] & 4 != 0);
    let n_b = |i| good_jets.count_if(i, |k| btag[k] > 0.5);

    let mut sel = PackedSelection::new(ev.len());
    sel.add("exactly_1l", |i| good_el.count(i) + good_mu.count(i) == 1)?;
    sel.add("atleast_4j", |i| good_jets.count(i) >= 4)?;
    sel.add("exactly_1b", |i| n_b(i) == 1)?;
    sel.add("atleast_2b", |i| n_b(i) >= 2)?;
    let r4j1b = sel.bits(&["exactly_1l", "atleast_4j", "exactly_1b"])?;
    let r4j2b = sel.bits(&["exactly_1l", "atleast_4j", "atleast_2b"])?;

    let (mut ht, mut m3, mut jv) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..ev.len() {
        if sel.passes(i, r4j1b) {
            ht.push(good_jets.sum(i, |k| jp4.pt[k] as f64));
        }
        if sel.passes(i, r4j2b) {
            jp4.vectors(good_jets.event(i), &mut jv);
            let tagged = triples(&jv).filter(|t| t.iter().any(|j| btag[j.k] > 0.5));
            if let Some(top) = max_by(tagged.map(|[a, b, c]| a.v + b.v + c.v), |t| t.pt()) {
                m3.push(top.mass());
            }
        }
    }
    Ok((ht, m3))
}

/// The same by hand over the raw slices: the floor the SDK is measured against.
fn by_hand(ev: &Events) -> Result<(Vec<f64>, Vec<f64>)> {
    let jo = ev.jagged::<f32>("Jet_pt")?.offsets;
    let (jpt, jeta) = (ev.flat::<f32>("Jet_pt")?, ev.flat::<f32>("Jet_eta")?);
    let (jphi, jm) = (ev.flat::<f32>("Jet_phi")?, ev.flat::<f32>("Jet_mass")?);
    let (btag, jid) = (
        ev.flat::<f32>("Jet_btagCSVV2")?,
        ev.flat::<i32>("Jet_jetId")?,
    );
    let eo = ev.jagged::<f32>("Electron_pt")?.offsets;
    let (ept, eeta) = (
        ev.flat::<f32>("Electron_pt")?,
        ev.flat::<f32>("Electron_eta")?,
    );
    let (ecut, esip) = (
        ev.flat::<i32>("Electron_cutBased")?,
        ev.flat::<f32>("Electron_sip3d")?,
    );
    let mo = ev.jagged::<f32>("Muon_pt")?.offsets;
    let (mpt, meta) = (ev.flat::<f32>("Muon_pt")?, ev.flat::<f32>("Muon_eta")?);
    let (mt, msip) = (
        ev.flat::<bool>("Muon_tightId")?,
        ev.flat::<f32>("Muon_sip3d")?,
    );
    let miso = ev.flat::<f32>("Muon_pfRelIso04_all")?;
    let (mut ht, mut m3) = (Vec::new(), Vec::new());
    let mut good: Vec<usize> = Vec::with_capacity(32);
    let mut vecs: Vec<LorentzVector> = Vec::with_capacity(32);
    for i in 0..ev.len() {
        let mut nl = 0;
        for k in eo[i] as usize..eo[i + 1] as usize {
            nl += (ept[k] > 30.0 && eeta[k].abs() < 2.1 && ecut[k] == 4 && esip[k] < 4.0) as usize;
        }
        for k in mo[i] as usize..mo[i + 1] as usize {
            nl += (mpt[k] > 30.0 && meta[k].abs() < 2.1 && mt[k] && msip[k] < 4.0 && miso[k] < 0.15)
                as usize;
        }
        if nl != 1 {
            continue;
        }
        good.clear();
        good.extend(
            (jo[i] as usize..jo[i + 1] as usize)
                .filter(|&k| jpt[k] > 30.0 && jeta[k].abs() < 2.4 && jid[k] & 4 != 0),
        );
        if good.len() < 4 {
            continue;
        }
        let nb = good.iter().filter(|&&k| btag[k] > 0.5).count();
        if nb == 1 {
            ht.push(good.iter().map(|&k| jpt[k] as f64).sum());
        } else if nb >= 2 {
            // Each jet's Cartesian vector once per event, in a buffer reused across events.
            vecs.clear();
            vecs.extend(good.iter().map(|&k| {
                PtEtaPhiM::new(jpt[k] as f64, jeta[k] as f64, jphi[k] as f64, jm[k] as f64)
                    .to_cartesian()
            }));
            let (mut best, mut best_pt): (Option<LorentzVector>, f64) = (None, f64::NEG_INFINITY);
            for a in 0..good.len() {
                for b in a + 1..good.len() {
                    for c in b + 1..good.len() {
                        let (x, y, z) = (good[a], good[b], good[c]);
                        if btag[x] > 0.5 || btag[y] > 0.5 || btag[z] > 0.5 {
                            let s = vecs[a] + vecs[b] + vecs[c];
                            if s.pt() > best_pt {
                                (best, best_pt) = (Some(s), s.pt());
                            }
                        }
                    }
                }
            }
            if let Some(s) = best {
                m3.push(s.mass());
            }
        }
    }
    Ok((ht, m3))
}

fn main() -> Result<()> {
    let events: usize = std::env::args().nth(1).map_or(Ok(400_000), |a| a.parse())?;
    let batches: Vec<TestBatch> = (0..events.div_ceil(BATCH))
        .map(|b| batch((b * BATCH) as u64, BATCH.min(events - b * BATCH)))
        .collect();
    type Analysis = fn(&Events) -> Result<(Vec<f64>, Vec<f64>)>;
    let mut results = Vec::new();
    for (name, f) in [
        ("sdk", with_sdk as Analysis),
        ("by hand", by_hand as Analysis),
    ] {
        let mut best = f64::INFINITY;
        let mut out = (Vec::new(), Vec::new());
        for _ in 0..5 {
            let t = Instant::now();
            out = (Vec::new(), Vec::new());
            for b in &batches {
                let (ht, m3) = f(black_box(&b.events()))?;
                out.0.extend(ht);
                out.1.extend(m3);
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{name:>8}: {:6.1} ns/event ({events} events; 4j1b {}, 4j2b {})",
            best * 1e9 / events as f64,
            out.0.len(),
            out.1.len()
        );
        results.push(out);
    }
    // Both must select the same events and compute the same observables.
    assert_eq!(
        results[0], results[1],
        "the SDK and the hand-written loops disagree"
    );
    Ok(())
}
