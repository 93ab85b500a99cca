"""Write the benchmark input: a NanoAOD-like tree with many branches, of which the dimuon
analysis reads five muon branches and the counter. Written by real ROOT (PyPI `root`).

    python tests/python/bench_write.py OUT.root EVENTS ALGORITHM LEVEL
"""

import os
import sys
import warnings

warnings.filterwarnings("ignore")

CODE = r"""
#include <TFile.h>
#include <TTree.h>
#include <TRandom3.h>
#include <Compression.h>
#include <cmath>
#include <string>
#include <vector>

void casa_bench_write(const char* path, Long64_t n, int algorithm, int level) {
  TFile f(path, "RECREATE", "casa benchmark",
          ROOT::CompressionSettings((ROOT::RCompressionSetting::EAlgorithm::EValues)algorithm, level));
  TTree t("Events", "NanoAOD-like benchmark");
  t.SetAutoFlush(-10000000);  // CMS NanoAOD: flush every ~10 MB
  TRandom3 rng(42);
  const int M = 16, J = 24, NF = 40;
  UInt_t run = 1, nMuon, nJet, nElectron; ULong64_t event;
  Float_t Muon_pt[M], Muon_eta[M], Muon_phi[M], Muon_mass[M]; Int_t Muon_charge[M];
  Float_t Muon_iso[M], Muon_dxy[M];
  Float_t Jet_pt[J], Jet_eta[J], Jet_phi[J], Jet_mass[J], Jet_btag[J]; Int_t Jet_id[J];
  Float_t Electron_pt[M], Electron_eta[M], Electron_phi[M];
  Float_t flat[NF]; Bool_t hlt[NF];
  t.Branch("run", &run, "run/i");
  t.Branch("event", &event, "event/l");
  t.Branch("nMuon", &nMuon, "nMuon/i");
  t.Branch("Muon_pt", Muon_pt, "Muon_pt[nMuon]/F");
  t.Branch("Muon_eta", Muon_eta, "Muon_eta[nMuon]/F");
  t.Branch("Muon_phi", Muon_phi, "Muon_phi[nMuon]/F");
  t.Branch("Muon_mass", Muon_mass, "Muon_mass[nMuon]/F");
  t.Branch("Muon_charge", Muon_charge, "Muon_charge[nMuon]/I");
  t.Branch("Muon_iso", Muon_iso, "Muon_iso[nMuon]/F");
  t.Branch("Muon_dxy", Muon_dxy, "Muon_dxy[nMuon]/F");
  t.Branch("nJet", &nJet, "nJet/i");
  t.Branch("Jet_pt", Jet_pt, "Jet_pt[nJet]/F");
  t.Branch("Jet_eta", Jet_eta, "Jet_eta[nJet]/F");
  t.Branch("Jet_phi", Jet_phi, "Jet_phi[nJet]/F");
  t.Branch("Jet_mass", Jet_mass, "Jet_mass[nJet]/F");
  t.Branch("Jet_btag", Jet_btag, "Jet_btag[nJet]/F");
  t.Branch("Jet_id", Jet_id, "Jet_id[nJet]/I");
  t.Branch("nElectron", &nElectron, "nElectron/i");
  t.Branch("Electron_pt", Electron_pt, "Electron_pt[nElectron]/F");
  t.Branch("Electron_eta", Electron_eta, "Electron_eta[nElectron]/F");
  t.Branch("Electron_phi", Electron_phi, "Electron_phi[nElectron]/F");
  for (int k = 0; k < NF; ++k) {
    t.Branch(("Flat_" + std::to_string(k)).c_str(), &flat[k], ("Flat_" + std::to_string(k) + "/F").c_str());
    t.Branch(("HLT_" + std::to_string(k)).c_str(), &hlt[k], ("HLT_" + std::to_string(k) + "/O").c_str());
  }
  for (Long64_t i = 0; i < n; ++i) {
    event = i;
    nMuon = rng.Poisson(1.2); if (nMuon > (UInt_t)M) nMuon = M;
    for (UInt_t j = 0; j < nMuon; ++j) {
      Muon_pt[j] = 3 + rng.Exp(20); Muon_eta[j] = rng.Uniform(-2.4, 2.4);
      Muon_phi[j] = rng.Uniform(-M_PI, M_PI); Muon_mass[j] = 0.105658f;
      Muon_charge[j] = rng.Rndm() < 0.5 ? -1 : 1; Muon_iso[j] = rng.Exp(0.1); Muon_dxy[j] = rng.Gaus(0, 0.01);
    }
    nJet = rng.Poisson(5); if (nJet > (UInt_t)J) nJet = J;
    for (UInt_t j = 0; j < nJet; ++j) {
      Jet_pt[j] = 15 + rng.Exp(30); Jet_eta[j] = rng.Uniform(-4.7, 4.7); Jet_phi[j] = rng.Uniform(-M_PI, M_PI);
      Jet_mass[j] = rng.Exp(8); Jet_btag[j] = rng.Rndm(); Jet_id[j] = rng.Integer(7);
    }
    nElectron = rng.Poisson(0.8); if (nElectron > (UInt_t)M) nElectron = M;
    for (UInt_t j = 0; j < nElectron; ++j) {
      Electron_pt[j] = 5 + rng.Exp(20); Electron_eta[j] = rng.Uniform(-2.5, 2.5); Electron_phi[j] = rng.Uniform(-M_PI, M_PI);
    }
    for (int k = 0; k < NF; ++k) { flat[k] = (Float_t)(int)rng.Exp(3 + k); hlt[k] = rng.Rndm() < 0.02 * (k + 1); }
    t.Fill();
  }
  t.Write();
  f.Close();
}
"""


def main():
    out, n, alg, lvl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    import ROOT

    ROOT.gROOT.SetBatch(True)
    ROOT.gInterpreter.Declare(CODE)
    tmp = out + ".tmp"
    ROOT.casa_bench_write(tmp, n, alg, lvl)
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
