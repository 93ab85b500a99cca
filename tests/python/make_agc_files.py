"""Write NanoAOD-like ROOT files for the AGC ttbar example, with ROOT itself (PyPI `root`).

    python tests/python/make_agc_files.py OUTDIR [--events N] [--seed S]

One `Events` tree per file, laid out as real NanoAOD: UInt_t counters (nJet, nElectron,
nMuon) and leaf-list jagged branches (`Jet_pt[nJet]/F`, ...), float32 kinematics, Int_t ids
as in NanoAOD v9 (UChar_t in the single-top file, as in NanoAOD v12+), Bool_t Muon_tightId,
jets sorted by decreasing pT. MC files carry genWeight (Float_t, as NanoAOD); the data file
does not. The distributions are made up but shaped so that the AGC's 4j1b and 4j2b regions
(one tight lepton, >= 4 jets, 1 or >= 2 b-tags) get a good share of the events:

  ttbar    semileptonic-like: 1 isolated lepton in 80% of events, >= 4 jets, two of them b-like
  single top t-channel: 1 lepton, >= 2 jets, one or two b-like
  wjets    1 lepton, 0-6 jets, b-like rarely
  data     a mixture of the three

Every 200th event of ttbar__nominal_1.root is a bin-edge event: its HT is an edge of the
AGC's histogram minus 4e-6 GeV, so that coffea's float32 sum falls in the next bin (the
float32 explanation of the comparison has real cases to explain).
The two-point ttbar samples (scaledown, scaleup, ME_var, PS_var) are the nominal generator
with slightly different jet multiplicity and pT spectrum. Every file has its own seed
(S * 1000 + file index): the same OUTDIR, N and S always give the same entries.
Files are written to a temporary name and renamed.
"""

import argparse
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

WRITER = r"""
#include <TFile.h>
#include <TTree.h>
#include <TRandom3.h>
#include <Compression.h>
#include <algorithm>
#include <cmath>
#include <vector>

namespace casa_agc {

const int MAXJ = 16, MAXL = 6;

// kind: 0 ttbar, 1 single top t-channel, 2 wjets, 3 data (mixture of 0..2).
// jet_shift: extra mean jet multiplicity; pt_scale: scales the jet pT spectrum.
// small_ids: write Jet_jetId and Electron_cutBased as UChar_t (NanoAOD v12+) instead of Int_t.
void write(const char* path, Long64_t n, int kind, double jet_shift, double pt_scale,
           int seed, int algorithm, int level, bool is_mc, bool small_ids, int edge_every) {
  TFile f(path, "RECREATE", "casa AGC NanoAOD-like file",
          ROOT::CompressionSettings((ROOT::RCompressionSetting::EAlgorithm::EValues)algorithm, level));
  TTree t("Events", "Events");
  t.SetAutoFlush(-10000000);  // NanoAOD's 10 MB clusters
  TRandom3 rng(seed);

  UInt_t run = 1, luminosityBlock = 1; ULong64_t event = 0;
  UInt_t nJet = 0, nElectron = 0, nMuon = 0;
  Float_t Jet_pt[MAXJ], Jet_eta[MAXJ], Jet_phi[MAXJ], Jet_mass[MAXJ], Jet_btagCSVV2[MAXJ], Jet_qgl[MAXJ];
  Int_t Jet_jetId[MAXJ], Jet_hadronFlavour[MAXJ]; UChar_t Jet_jetId8[MAXJ];
  Float_t Electron_pt[MAXL], Electron_eta[MAXL], Electron_phi[MAXL], Electron_mass[MAXL], Electron_sip3d[MAXL];
  Int_t Electron_cutBased[MAXL], Electron_charge[MAXL]; UChar_t Electron_cutBased8[MAXL];
  Float_t Muon_pt[MAXL], Muon_eta[MAXL], Muon_phi[MAXL], Muon_mass[MAXL], Muon_sip3d[MAXL], Muon_pfRelIso04_all[MAXL];
  Bool_t Muon_tightId[MAXL]; Int_t Muon_charge[MAXL];
  Float_t MET_pt, MET_phi, genWeight; Int_t PV_npvs; Bool_t HLT_IsoMu24, HLT_Ele32_WPTight_Gsf;

  t.Branch("run", &run, "run/i");
  t.Branch("luminosityBlock", &luminosityBlock, "luminosityBlock/i");
  t.Branch("event", &event, "event/l");
  t.Branch("nJet", &nJet, "nJet/i");
  t.Branch("Jet_pt", Jet_pt, "Jet_pt[nJet]/F");
  t.Branch("Jet_eta", Jet_eta, "Jet_eta[nJet]/F");
  t.Branch("Jet_phi", Jet_phi, "Jet_phi[nJet]/F");
  t.Branch("Jet_mass", Jet_mass, "Jet_mass[nJet]/F");
  t.Branch("Jet_btagCSVV2", Jet_btagCSVV2, "Jet_btagCSVV2[nJet]/F");
  t.Branch("Jet_qgl", Jet_qgl, "Jet_qgl[nJet]/F");
  if (small_ids) t.Branch("Jet_jetId", Jet_jetId8, "Jet_jetId[nJet]/b");
  else t.Branch("Jet_jetId", Jet_jetId, "Jet_jetId[nJet]/I");
  if (is_mc) t.Branch("Jet_hadronFlavour", Jet_hadronFlavour, "Jet_hadronFlavour[nJet]/I");
  t.Branch("nElectron", &nElectron, "nElectron/i");
  t.Branch("Electron_pt", Electron_pt, "Electron_pt[nElectron]/F");
  t.Branch("Electron_eta", Electron_eta, "Electron_eta[nElectron]/F");
  t.Branch("Electron_phi", Electron_phi, "Electron_phi[nElectron]/F");
  t.Branch("Electron_mass", Electron_mass, "Electron_mass[nElectron]/F");
  t.Branch("Electron_charge", Electron_charge, "Electron_charge[nElectron]/I");
  if (small_ids) t.Branch("Electron_cutBased", Electron_cutBased8, "Electron_cutBased[nElectron]/b");
  else t.Branch("Electron_cutBased", Electron_cutBased, "Electron_cutBased[nElectron]/I");
  t.Branch("Electron_sip3d", Electron_sip3d, "Electron_sip3d[nElectron]/F");
  t.Branch("nMuon", &nMuon, "nMuon/i");
  t.Branch("Muon_pt", Muon_pt, "Muon_pt[nMuon]/F");
  t.Branch("Muon_eta", Muon_eta, "Muon_eta[nMuon]/F");
  t.Branch("Muon_phi", Muon_phi, "Muon_phi[nMuon]/F");
  t.Branch("Muon_mass", Muon_mass, "Muon_mass[nMuon]/F");
  t.Branch("Muon_charge", Muon_charge, "Muon_charge[nMuon]/I");
  t.Branch("Muon_tightId", Muon_tightId, "Muon_tightId[nMuon]/O");
  t.Branch("Muon_sip3d", Muon_sip3d, "Muon_sip3d[nMuon]/F");
  t.Branch("Muon_pfRelIso04_all", Muon_pfRelIso04_all, "Muon_pfRelIso04_all[nMuon]/F");
  t.Branch("MET_pt", &MET_pt, "MET_pt/F");
  t.Branch("MET_phi", &MET_phi, "MET_phi/F");
  t.Branch("PV_npvs", &PV_npvs, "PV_npvs/I");
  t.Branch("HLT_IsoMu24", &HLT_IsoMu24, "HLT_IsoMu24/O");
  t.Branch("HLT_Ele32_WPTight_Gsf", &HLT_Ele32_WPTight_Gsf, "HLT_Ele32_WPTight_Gsf/O");
  if (is_mc) t.Branch("genWeight", &genWeight, "genWeight/F");

  std::vector<std::pair<float, int>> order;
  float pt[MAXJ], eta[MAXJ], phi[MAXJ], mass[MAXJ], btag[MAXJ], qgl[MAXJ]; int flav[MAXJ];
  for (Long64_t i = 0; i < n; ++i) {
    event = 100000ULL * (seed % 1000) + i; luminosityBlock = 1 + i / 500;
    int k = kind == 3 ? (rng.Rndm() < 0.5 ? 2 : (rng.Rndm() < 0.8 ? 0 : 1)) : kind;
    // Jets: multiplicity, b-like jets, falling pT spectrum.
    int nj, nb;
    if (k == 0) { nj = 4 + rng.Poisson(1.6 + jet_shift); nb = rng.Rndm() < 0.85 ? 2 : 1; }
    else if (k == 1) { nj = 2 + rng.Poisson(1.8 + jet_shift); nb = rng.Rndm() < 0.3 ? 2 : 1; }
    else { nj = rng.Poisson(3.0 + jet_shift); nb = rng.Rndm() < 0.2 ? 1 : 0; }
    nj = std::min(nj, MAXJ); nb = std::min(nb, nj);
    double slope = (k == 2 ? 30.0 : 45.0) * pt_scale;
    for (int j = 0; j < nj; ++j) {
      bool b = j < nb;
      pt[j] = (float)(22.0 + rng.Exp(b ? 1.3 * slope : slope));
      eta[j] = (float)std::max(-4.7, std::min(4.7, rng.Gaus(0, b ? 1.1 : 1.4)));
      phi[j] = (float)rng.Uniform(-M_PI, M_PI);
      mass[j] = (float)(pt[j] * std::max(0.02, rng.Gaus(0.13, 0.04)));
      // CSVv2: b-like jets peak near 1, light jets near 0; NanoAOD writes -10 for failed taggers.
      double x = b ? 1.0 - rng.Exp(0.15) : rng.Exp(0.12);
      btag[j] = rng.Rndm() < 0.01 ? -10.f : (float)std::max(0.0, std::min(1.0, x));
      qgl[j] = (float)rng.Rndm();
      flav[j] = b ? 5 : (rng.Rndm() < 0.1 ? 4 : 0);
    }
    // Bin-edge events: four central jets, one b-tagged, whose pT sum is an HT bin edge E of the
    // AGC histogram minus one float32 ulp of 35: (E - 120) + 45 + 40 + 34.9999962. Added in
    // float64 that is just below E; added in float32 (as coffea does) it rounds to E, the next
    // bin. They exercise the float32 explanation of the comparison (docs/agc.md).
    bool edge = edge_every > 0 && i % edge_every == edge_every - 1;
    if (edge) {
      nj = 4; nb = 1;
      double E = 170.0 + 20.0 * rng.Integer(19);  // 170 ... 530
      float p4[4] = {(float)(E - 120.0), 45.f, 40.f, std::nextafter(35.f, 0.f)};
      for (int j = 0; j < 4; ++j) {
        pt[j] = p4[j]; eta[j] = (float)rng.Uniform(-2.0, 2.0); btag[j] = j == 0 ? 0.9f : 0.1f;
      }
    }
    order.clear();
    for (int j = 0; j < nj; ++j) order.push_back({pt[j], j});
    std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first > b.first; });
    nJet = nj;
    for (int s = 0; s < nj; ++s) {
      int j = order[s].second;
      Jet_pt[s] = pt[j]; Jet_eta[s] = eta[j]; Jet_phi[s] = phi[j]; Jet_mass[s] = mass[j];
      Jet_btagCSVV2[s] = btag[j]; Jet_qgl[s] = qgl[j]; Jet_hadronFlavour[s] = flav[j];
      double u = rng.Rndm();
      int id = edge || u < 0.9 ? 6 : (u < 0.96 ? 2 : 0);  // NanoAOD v9 jetId: bit 1 tight, bit 2 tightLepVeto
      Jet_jetId[s] = id; Jet_jetId8[s] = (UChar_t)id;
    }
    // Leptons: the prompt one (if any) plus soft, non-isolated extras.
    bool prompt = k == 0 ? rng.Rndm() < 0.8 : rng.Rndm() < 0.9;
    bool is_e = rng.Rndm() < 0.5;
    nElectron = 0; nMuon = 0;
    int extra_e = rng.Poisson(0.3), extra_m = rng.Poisson(0.4);
    for (int l = 0; l < (prompt && is_e ? 1 : 0) + extra_e && (int)nElectron < MAXL; ++l) {
      bool p = prompt && is_e && l == 0;
      int e = nElectron++;
      Electron_pt[e] = (float)(p ? 27.0 + rng.Exp(35) : 5.0 + rng.Exp(12));
      Electron_eta[e] = (float)(p ? std::max(-2.5, std::min(2.5, rng.Gaus(0, 1.1))) : rng.Uniform(-2.5, 2.5));
      Electron_phi[e] = (float)rng.Uniform(-M_PI, M_PI);
      Electron_mass[e] = (float)(0.000511 * (1 + rng.Gaus(0, 0.01)));
      Electron_charge[e] = rng.Rndm() < 0.5 ? -1 : 1;
      int cb = p ? (rng.Rndm() < 0.85 ? 4 : (int)rng.Integer(4)) : (int)rng.Integer(5);
      Electron_cutBased[e] = cb; Electron_cutBased8[e] = (UChar_t)cb;
      Electron_sip3d[e] = (float)(p ? rng.Exp(1.5) : rng.Exp(5.0));
    }
    for (int l = 0; l < (prompt && !is_e ? 1 : 0) + extra_m && (int)nMuon < MAXL; ++l) {
      bool p = prompt && !is_e && l == 0;
      int m = nMuon++;
      Muon_pt[m] = (float)(p ? 27.0 + rng.Exp(35) : 3.0 + rng.Exp(10));
      Muon_eta[m] = (float)(p ? std::max(-2.4, std::min(2.4, rng.Gaus(0, 1.1))) : rng.Uniform(-2.4, 2.4));
      Muon_phi[m] = (float)rng.Uniform(-M_PI, M_PI);
      Muon_mass[m] = 0.10565837f;
      Muon_charge[m] = rng.Rndm() < 0.5 ? -1 : 1;
      Muon_tightId[m] = p ? rng.Rndm() < 0.95 : rng.Rndm() < 0.5;
      Muon_sip3d[m] = (float)(p ? rng.Exp(1.5) : rng.Exp(5.0));
      Muon_pfRelIso04_all[m] = (float)(p ? rng.Exp(0.05) : rng.Exp(0.4));
    }
    // NanoAOD sorts leptons by pT too.
    for (UInt_t a = 1; a < nElectron; ++a) if (Electron_pt[a] > Electron_pt[0]) {
      std::swap(Electron_pt[a], Electron_pt[0]); std::swap(Electron_eta[a], Electron_eta[0]);
      std::swap(Electron_phi[a], Electron_phi[0]); std::swap(Electron_mass[a], Electron_mass[0]);
      std::swap(Electron_charge[a], Electron_charge[0]); std::swap(Electron_cutBased[a], Electron_cutBased[0]);
      std::swap(Electron_cutBased8[a], Electron_cutBased8[0]); std::swap(Electron_sip3d[a], Electron_sip3d[0]);
    }
    for (UInt_t a = 1; a < nMuon; ++a) if (Muon_pt[a] > Muon_pt[0]) {
      std::swap(Muon_pt[a], Muon_pt[0]); std::swap(Muon_eta[a], Muon_eta[0]);
      std::swap(Muon_phi[a], Muon_phi[0]); std::swap(Muon_mass[a], Muon_mass[0]);
      std::swap(Muon_charge[a], Muon_charge[0]); std::swap(Muon_tightId[a], Muon_tightId[0]);
      std::swap(Muon_sip3d[a], Muon_sip3d[0]); std::swap(Muon_pfRelIso04_all[a], Muon_pfRelIso04_all[0]);
    }
    MET_pt = (float)(prompt ? 20.0 + rng.Exp(40) : rng.Exp(20)); MET_phi = (float)rng.Uniform(-M_PI, M_PI);
    PV_npvs = 1 + rng.Poisson(14);
    HLT_IsoMu24 = prompt && !is_e && rng.Rndm() < 0.9;
    HLT_Ele32_WPTight_Gsf = prompt && is_e && rng.Rndm() < 0.85;
    // Mostly +1 with a few negative weights (NLO-like); magnitude constant per sample.
    genWeight = (float)((rng.Rndm() < 0.04 ? -1.0 : 1.0) * (k == 2 ? 1.0 : 0.5));
    t.Fill();
  }
  t.Write();
  f.Close();
}

}  // namespace casa_agc
"""

XSEC = {
    # pb, the values the AGC uses (utils/file_input.py of iris-hep/analysis-grand-challenge).
    "ttbar": 396.87 + 332.97,
    "single_top_t_chan": (36.993 + 22.175) / 0.252,
    "wjets": 61457 * 0.252,
    "data": None,
}

# (file name, process, variation, kind, jet_shift, pt_scale, algorithm, level, is_mc, small_ids, events factor,
#  every how many events a bin-edge event is written, 0 for none)
# Algorithms: 2 lzma, 5 zstd (ROOT::RCompressionSetting::EAlgorithm).
FILES = [
    ("ttbar__nominal_0.root", "ttbar", "nominal", 0, 0.0, 1.0, 5, 5, True, False, 1.0, 0),
    ("ttbar__nominal_1.root", "ttbar", "nominal", 0, 0.0, 1.0, 5, 5, True, False, 1.0, 200),
    ("ttbar__scaledown.root", "ttbar", "scaledown", 0, -0.15, 0.97, 5, 5, True, False, 0.5, 0),
    ("ttbar__scaleup.root", "ttbar", "scaleup", 0, 0.15, 1.03, 5, 5, True, False, 0.5, 0),
    ("ttbar__ME_var.root", "ttbar", "ME_var", 0, 0.05, 1.01, 5, 5, True, False, 0.5, 0),
    ("ttbar__PS_var.root", "ttbar", "PS_var", 0, -0.05, 0.99, 5, 5, True, False, 0.5, 0),
    ("single_top_t_chan__nominal.root", "single_top_t_chan", "nominal", 1, 0.0, 1.0, 5, 5, True, True, 0.5, 0),
    ("wjets__nominal.root", "wjets", "nominal", 2, 0.0, 1.0, 5, 5, True, False, 1.0, 0),
    # NanoAOD is written with LZMA level 9.
    ("data__nominal.root", "data", "nominal", 3, 0.0, 1.0, 2, 9, False, False, 1.0, 0),
]

MANIFEST = "agc-files.json"


def write(out, events, seed):
    import ROOT

    ROOT.gROOT.SetBatch(True)
    ROOT.gInterpreter.Declare(WRITER)
    manifest = []
    for index, (name, process, variation, kind, shift, scale, alg, lvl, is_mc, small, factor, edge) in enumerate(FILES):
        n = max(int(events * factor), 1)
        path = os.path.join(out, name)
        tmp = path + ".tmp"
        ROOT.casa_agc.write(tmp, n, kind, shift, scale, seed * 1000 + index, alg, lvl, is_mc, small, edge)
        os.replace(tmp, path)
        manifest.append({"file": name, "process": process, "variation": variation, "entries": n,
                         "is_mc": is_mc, "xsec": XSEC[process]})
    # What agc_fileset.py reads: the files and their sample metadata.
    tmp = os.path.join(out, MANIFEST + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"events": events, "seed": seed, "files": manifest}, f, indent=1)
    os.replace(tmp, os.path.join(out, MANIFEST))
    return manifest


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir")
    p.add_argument("--events", type=int, default=4000, help="entries of a full-size file (default 4000)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.events < 1:
        sys.exit("make_agc_files.py: --events must be at least 1")
    os.makedirs(a.outdir, exist_ok=True)
    manifest = write(a.outdir, a.events, a.seed)
    print(f"{len(manifest)} files, {sum(m['entries'] for m in manifest)} events written to {a.outdir}")


if __name__ == "__main__":
    main()
