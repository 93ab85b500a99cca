"""Write the ROOT files the tests read: NanoAOD-like trees written by real ROOT (PyPI `root`)
in every codec, an hadd fast-merged file, and trees written by uproot.

    python tests/python/make_fixtures.py OUTDIR

Files are rewritten only when this script changes (a stamp holds its hash), and each file is
written to a temporary name and renamed, so an interrupted run never leaves a half file.
"""

import hashlib
import os
import sys
import warnings

warnings.filterwarnings("ignore")

WRITER = r"""
#include <TFile.h>
#include <TTree.h>
#include <TRandom3.h>
#include <Compression.h>
#include <vector>
#include <cmath>
#include <string>
#include <TDirectory.h>
#include <TFileMerger.h>

// A NanoAOD-like tree: counters, leaf-count jagged arrays (Muon_*[nMuon], Jet_*[nJet]),
// flat branches of every numeric leaf type, Float16/Double32 with and without ranges,
// fixed-size arrays and std::vector branches.
// `fillers` adds that many pairs of flat float and bool branches (HLT-like), so that reading
// the muon columns skips most of the file, as in real NanoAOD.
void casa_write_nano(const char* path, Long64_t n, int algorithm, int level,
                     Long64_t autoflush, int basket_size, int seed, bool extras, int fillers) {
  TFile f(path, "RECREATE", "casa fixture",
          ROOT::CompressionSettings((ROOT::RCompressionSetting::EAlgorithm::EValues)algorithm, level));
  TTree t("Events", "casa NanoAOD-like fixture");
  if (autoflush != 0) t.SetAutoFlush(autoflush);
  TRandom3 rng(seed);
  const int M = 16;
  UInt_t run = 1, luminosityBlock = 0; ULong64_t event = 0;
  UInt_t nMuon = 0, nJet = 0;
  Float_t Muon_pt[M], Muon_eta[M], Muon_phi[M], Muon_mass[M];
  Int_t Muon_charge[M]; Bool_t Muon_isGlobal[M]; UChar_t Muon_nStations[M]; Char_t Muon_tightCharge[M];
  Float_t Jet_pt[M], Jet_eta[M]; Short_t Jet_hadronFlavour[M]; Int_t Jet_jetId[M];
  Float_t MET_pt, MET_phi; Double_t genWeight; Bool_t HLT_IsoMu24;
  Char_t c_B; UChar_t c_b; Short_t s_S; UShort_t s_s; Int_t i_I; UInt_t i_i;
  Long64_t l_L; ULong64_t l_l; Float16_t f16, f16r; Double32_t d32, d32r, d32m;
  Float_t arr3[3]; Double_t mat[2][3];
  std::vector<float> vf; std::vector<int> vi; std::vector<double> vd;
  std::vector<Float_t> flat(fillers);
  Bool_t* hlt = new Bool_t[fillers > 0 ? fillers : 1];  // std::vector<bool> has no addressable elements

  t.Branch("run", &run, "run/i");
  t.Branch("luminosityBlock", &luminosityBlock, "luminosityBlock/i");
  t.Branch("event", &event, "event/l");
  t.Branch("nMuon", &nMuon, "nMuon/i");
  t.Branch("Muon_pt", Muon_pt, "Muon_pt[nMuon]/F");
  t.Branch("Muon_eta", Muon_eta, "Muon_eta[nMuon]/F");
  t.Branch("Muon_phi", Muon_phi, "Muon_phi[nMuon]/F");
  t.Branch("Muon_mass", Muon_mass, "Muon_mass[nMuon]/F");
  t.Branch("Muon_charge", Muon_charge, "Muon_charge[nMuon]/I");
  t.Branch("Muon_isGlobal", Muon_isGlobal, "Muon_isGlobal[nMuon]/O");
  t.Branch("Muon_nStations", Muon_nStations, "Muon_nStations[nMuon]/b");
  t.Branch("Muon_tightCharge", Muon_tightCharge, "Muon_tightCharge[nMuon]/B");
  t.Branch("nJet", &nJet, "nJet/i");
  t.Branch("Jet_pt", Jet_pt, "Jet_pt[nJet]/F");
  t.Branch("Jet_eta", Jet_eta, "Jet_eta[nJet]/F");
  t.Branch("Jet_hadronFlavour", Jet_hadronFlavour, "Jet_hadronFlavour[nJet]/S");
  t.Branch("Jet_jetId", Jet_jetId, "Jet_jetId[nJet]/I");
  t.Branch("MET_pt", &MET_pt, "MET_pt/F");
  t.Branch("MET_phi", &MET_phi, "MET_phi/F");
  t.Branch("genWeight", &genWeight, "genWeight/D");
  t.Branch("HLT_IsoMu24", &HLT_IsoMu24, "HLT_IsoMu24/O");
  if (extras) {
    t.Branch("c_B", &c_B, "c_B/B");
    t.Branch("c_b", &c_b, "c_b/b");
    t.Branch("s_S", &s_S, "s_S/S");
    t.Branch("s_s", &s_s, "s_s/s");
    t.Branch("i_I", &i_I, "i_I/I");
    t.Branch("i_i", &i_i, "i_i/i");
    t.Branch("l_L", &l_L, "l_L/L");
    t.Branch("l_l", &l_l, "l_l/l");
    t.Branch("f16", &f16, "f16/f");
    t.Branch("f16r", &f16r, "f16r/f[0,100,14]");
    t.Branch("d32", &d32, "d32/d");
    t.Branch("d32r", &d32r, "d32r/d[-10,10,20]");
    t.Branch("d32m", &d32m, "d32m/d[0,0,10]");
    t.Branch("arr3", arr3, "arr3[3]/F");
    t.Branch("mat", mat, "mat[2][3]/D");
    t.Branch("vf", &vf);
    t.Branch("vi", &vi);
    t.Branch("vd", &vd);
  }
  for (int k = 0; k < fillers; ++k) {
    t.Branch(("Flat_" + std::to_string(k)).c_str(), &flat[k], ("Flat_" + std::to_string(k) + "/F").c_str());
    t.Branch(("HLT_" + std::to_string(k)).c_str(), &hlt[k], ("HLT_" + std::to_string(k) + "/O").c_str());
  }
  if (basket_size > 0) {
    TIter next(t.GetListOfBranches());
    while (TBranch* b = (TBranch*)next()) b->SetBasketSize(basket_size);
  }
  for (Long64_t i = 0; i < n; ++i) {
    luminosityBlock = 1 + i / 1000; event = 1000000000ULL + i * 7;
    nMuon = rng.Poisson(1.5); if (nMuon > (UInt_t)M) nMuon = M;
    for (UInt_t j = 0; j < nMuon; ++j) {
      Muon_pt[j] = 3 + rng.Exp(25); Muon_eta[j] = rng.Uniform(-2.4, 2.4);
      Muon_phi[j] = rng.Uniform(-M_PI, M_PI); Muon_mass[j] = 0.1056583745f;
      Muon_charge[j] = rng.Rndm() < 0.5 ? -1 : 1; Muon_isGlobal[j] = rng.Rndm() < 0.8;
      Muon_nStations[j] = (UChar_t)rng.Integer(5); Muon_tightCharge[j] = (Char_t)(rng.Integer(5) - 2);
    }
    nJet = rng.Poisson(4); if (nJet > (UInt_t)M) nJet = M;
    for (UInt_t j = 0; j < nJet; ++j) {
      Jet_pt[j] = 15 + rng.Exp(40); Jet_eta[j] = rng.Uniform(-4.7, 4.7);
      Jet_hadronFlavour[j] = (Short_t)rng.Integer(6); Jet_jetId[j] = rng.Integer(7);
    }
    MET_pt = rng.Exp(30); MET_phi = rng.Uniform(-M_PI, M_PI);
    genWeight = rng.Rndm() < 0.05 ? -1.0 : 1.0; HLT_IsoMu24 = nMuon > 0 && rng.Rndm() < 0.7;
    if (extras) {
      c_B = (Char_t)(rng.Integer(256) - 128); c_b = (UChar_t)rng.Integer(256);
      s_S = (Short_t)(rng.Integer(65536) - 32768); s_s = (UShort_t)rng.Integer(65536);
      i_I = (Int_t)(rng.Rndm() * 4e9 - 2e9); i_i = (UInt_t)(rng.Rndm() * 4e9);
      l_L = (Long64_t)(rng.Rndm() * 9e18) - 4500000000000000000LL; l_l = 18000000000000000000ULL - i;
      f16 = rng.Gaus(0, 50); f16r = rng.Uniform(0, 100);
      d32 = rng.Gaus(0, 1e3); d32r = rng.Uniform(-10, 10); d32m = rng.Gaus(0, 10);
      for (int k = 0; k < 3; ++k) arr3[k] = rng.Gaus(k, 1);
      for (int a = 0; a < 2; ++a) for (int b = 0; b < 3; ++b) mat[a][b] = rng.Gaus(a, b + 1);
      vf.resize(rng.Poisson(2)); for (auto& x : vf) x = rng.Gaus();
      vi.resize(rng.Poisson(1)); for (auto& x : vi) x = rng.Integer(1000) - 500;
      vd.resize(rng.Poisson(3)); for (auto& x : vd) x = rng.Exp(1);
    }
    for (int k = 0; k < fillers; ++k) { flat[k] = (Float_t)(int)rng.Exp(3 + k); hlt[k] = rng.Rndm() < 0.02 * (k + 1); }
    t.Fill();
  }
  t.Write();
  f.Close();
  delete[] hlt;
}

// Subdirectories and cycles: dir/sub/Events written twice (cycles 1 and 2, with 500 and 800
// entries), and a top-level tree with a long name.
void casa_write_dirs(const char* path) {
  TFile f(path, "RECREATE", "casa fixture", 505);
  TDirectory* sub = f.mkdir("dir")->mkdir("sub");
  sub->cd();
  TTree t("Events", "nested");
  Int_t x; Float_t y[4]; Int_t n;
  t.Branch("x", &x, "x/I");
  t.Branch("n", &n, "n/I");
  t.Branch("y", y, "y[n]/F");
  for (int i = 0; i < 500; ++i) { x = i; n = i % 5; for (int k = 0; k < n; ++k) y[k] = i + 0.25f * k; t.Fill(); }
  t.Write();
  for (int i = 500; i < 800; ++i) { x = i; n = i % 5; for (int k = 0; k < n; ++k) y[k] = i + 0.25f * k; t.Fill(); }
  t.Write();
  f.cd();
  std::string name(300, 'L');
  TTree l(name.c_str(), "a tree whose name needs a 4-byte TString length");
  l.Branch("x", &x, "x/I");
  for (int i = 0; i < 10; ++i) { x = -i; l.Fill(); }
  l.Write();
  f.Close();
}

// A file larger than 2 GiB, so keys and baskets use 64-bit seeks.
void casa_write_large(const char* path, Long64_t n) {
  TFile f(path, "RECREATE", "casa large fixture", 0);
  TTree t("Events", "large");
  Long64_t i64; Double_t x;
  t.Branch("i", &i64, "i/L");
  t.Branch("x", &x, "x/D");
  for (Long64_t i = 0; i < n; ++i) { i64 = i; x = 0.5 * i; t.Fill(); }
  t.Write();
  f.Close();
}

void casa_hadd(const char* out, const char* a, const char* b, int compression) {
  TFileMerger m(false);
  m.OutputFile(out, "RECREATE", compression);
  m.AddFile(a);
  m.AddFile(b);
  m.Merge();
}
"""

# Two branches of 8 bytes: 140M entries make ~2.24 GB, past the 2 GiB 32-bit seek limit.
LARGE_ENTRIES = 140_000_000

# (name, entries, algorithm, level, autoflush, basket size, extras)
# Algorithms: 1 zlib, 2 lzma, 4 lz4, 5 zstd; level 0 means uncompressed.
ROOT_FILES = [
    ("root-zlib.root", 20000, 1, 1, 3000, 4000, True),
    ("root-lzma.root", 20000, 2, 9, -10_000_000, 0, True),
    ("root-zstd.root", 20000, 5, 5, 3000, 4000, True),
    ("root-lz4.root", 20000, 4, 4, 3000, 4000, True),
    ("root-none.root", 8000, 1, 0, 2000, 4000, True),
    ("root-nano-lzma9.root", 60000, 2, 9, -10_000_000, 0, False),
]


_declared = False


def declare(ROOT):
    global _declared
    if not _declared:
        ROOT.gROOT.SetBatch(True)
        ROOT.gInterpreter.Declare(WRITER)
        _declared = True


def digest():
    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_root(out):
    import ROOT

    declare(ROOT)
    for name, n, alg, lvl, af, bs, extras in ROOT_FILES:
        tmp = os.path.join(out, name + ".tmp")
        ROOT.casa_write_nano(tmp, n, alg, lvl, af, bs, sum(name.encode()), extras, 0)
        os.replace(tmp, os.path.join(out, name))
    # The cluster trap: a small never-flushed file fast-merged with a flushed one.
    a = os.path.join(out, "hadd-a.tmp.root")
    b = os.path.join(out, "hadd-b.tmp.root")
    ROOT.casa_write_nano(a, 7000, 5, 5, 100_000_000, 0, 11, False, 0)
    ROOT.casa_write_nano(b, 25000, 5, 5, 6000, 0, 12, False, 0)
    tmp = os.path.join(out, "root-hadd.root.tmp")
    ROOT.casa_hadd(tmp, a, b, 505)
    os.replace(tmp, os.path.join(out, "root-hadd.root"))
    os.remove(a)
    os.remove(b)
    tmp = os.path.join(out, "root-dirs.root.tmp")
    ROOT.casa_write_dirs(tmp)
    os.replace(tmp, os.path.join(out, "root-dirs.root"))


def write_large(out):
    """The >2 GiB file (64-bit seeks), written once: it takes ~2.2 GB of disk."""
    path = os.path.join(out, "root-large.root")
    if os.path.exists(path):
        return
    import ROOT

    declare(ROOT)
    tmp = path + ".tmp"
    ROOT.casa_write_large(tmp, LARGE_ENTRIES)
    os.replace(tmp, path)


def write_bench(path, n, algorithm, level):
    """The benchmark input: the NanoAOD-like tree with 80 filler branches, CMS's -10 MB
    auto-flush, written by ROOT."""
    import ROOT

    declare(ROOT)
    tmp = path + ".tmp"
    ROOT.casa_write_nano(tmp, n, algorithm, level, -10_000_000, 0, 42, False, 40)
    os.replace(tmp, path)


def write_uproot(out):
    import awkward as ak
    import numpy as np
    import uproot

    rng = np.random.default_rng(5)
    for codec, comp in [("zstd", uproot.ZSTD(5)), ("zlib", uproot.ZLIB(4)), ("lz4", uproot.LZ4(4)),
                        ("lzma", uproot.LZMA(6)), ("none", None)]:
        name = f"uproot-{codec}.root"
        tmp = os.path.join(out, name + ".tmp")
        with uproot.recreate(tmp, compression=comp) as f:
            first = True
            for chunk in range(5):  # each extend() writes one basket per branch
                n = 1000 + 137 * chunk
                counts = rng.poisson(2.0, n)
                muon = ak.zip({
                    "pt": ak.unflatten(rng.exponential(20, counts.sum()).astype(np.float32), counts),
                    "eta": ak.unflatten(rng.uniform(-2.4, 2.4, counts.sum()).astype(np.float32), counts),
                    "phi": ak.unflatten(rng.uniform(-np.pi, np.pi, counts.sum()).astype(np.float32), counts),
                    "mass": ak.unflatten(np.full(counts.sum(), 0.105658, dtype=np.float32), counts),
                    "charge": ak.unflatten(rng.choice([-1, 1], counts.sum()).astype(np.int32), counts),
                })
                data = {
                    "event": np.arange(chunk * 10000, chunk * 10000 + n, dtype=np.uint64),
                    "x": rng.normal(size=n),
                    "flag": rng.random(n) < 0.5,
                    "small": rng.integers(-100, 100, n).astype(np.int16),
                    "Muon": muon,
                }
                if first:
                    f.mktree("Events", {k: v.type if isinstance(v, ak.Array) else v.dtype for k, v in data.items()})
                    first = False
                f["Events"].extend(data)
        os.replace(tmp, os.path.join(out, name))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/fixtures"
    os.makedirs(out, exist_ok=True)
    stamp = os.path.join(out, ".stamp")
    want = digest()
    if os.environ.get("CASA_SKIP_LARGE") != "1":
        write_large(out)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    write_root(out)
    write_uproot(out)
    with open(stamp + ".tmp", "w") as f:
        f.write(want)
    os.replace(stamp + ".tmp", stamp)
    print(f"fixtures written to {out}")


if __name__ == "__main__":
    main()
