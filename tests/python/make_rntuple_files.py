"""Write the RNTuples the rntuple tests read, with the writers casa must agree with:

    python tests/python/make_rntuple_files.py FIXTURES OUTDIR [NAME ...]

(with NAMEs, only those files: `snap-zstd`, `writer`, `uproot`, ...)

* snap-{zstd,lzma,zlib,lz4}.root: ROOT's RDataFrame Snapshot (fOutputFormat = kRNTuple) of the
  NanoAOD-like TTree fixtures FIXTURES/root-<codec>.root, every branch, small clusters and
  pages: the same content as the TTree, so casa on either must agree.
* writer.root: ROOT's RNTupleWriter with every kind of field casa reads (fundamentals,
  Real16, Real32Trunc, Real32Quant, std::array, std::vector and RVec, vector<bool>,
  std::string, a collection of records `Jet` with `Jet.pt`), pages of at most 2 KiB, a cluster
  every 700 entries and a cluster group every 2 clusters (ZSTD, page checksums on).
* uproot.root: uproot's own writer (an untyped collection of records, unsplit columns).
"""

import os
import sys
import warnings

warnings.filterwarnings("ignore")

WRITER = r"""
#include <ROOT/RNTupleModel.hxx>
#include <ROOT/RNTupleWriter.hxx>
#include <ROOT/RNTupleWriteOptions.hxx>
#include <ROOT/RField.hxx>
#include <ROOT/RVec.hxx>
#include <TRandom3.h>
#include <array>
#include <string>
#include <vector>
struct CasaJet { float pt; float eta; std::int32_t id; };
void casa_write_rntuple(const char* path, int n, int compression, int cluster, int group) {
  auto model = ROOT::RNTupleModel::Create();
  auto run = model->MakeField<std::uint32_t>("run");
  auto b = model->MakeField<bool>("flag");
  auto i8 = model->MakeField<std::int8_t>("i8");
  auto u16 = model->MakeField<std::uint16_t>("u16");
  auto i64 = model->MakeField<std::int64_t>("i64");
  auto u64 = model->MakeField<std::uint64_t>("u64");
  auto f = model->MakeField<float>("f");
  auto d = model->MakeField<double>("d");
  auto half = model->MakeField<float>("half");
  auto trunc = model->MakeField<float>("trunc");
  auto quant = model->MakeField<double>("quant");
  auto arr = model->MakeField<std::array<float, 3>>("arr");
  auto vf = model->MakeField<std::vector<float>>("vf");
  auto vb = model->MakeField<std::vector<bool>>("vb");
  auto rv = model->MakeField<ROOT::RVec<std::int16_t>>("rv");
  auto s = model->MakeField<std::string>("s");
  auto jets = model->MakeField<std::vector<CasaJet>>("Jet");
  dynamic_cast<ROOT::RRealField<float>&>(model->GetMutableField("half")).SetHalfPrecision();
  dynamic_cast<ROOT::RRealField<float>&>(model->GetMutableField("trunc")).SetTruncated(14);
  dynamic_cast<ROOT::RRealField<double>&>(model->GetMutableField("quant")).SetQuantized(-5., 5., 11);
  ROOT::RNTupleWriteOptions opts;
  opts.SetCompression(compression);
  opts.SetMaxUnzippedPageSize(2048);
  opts.SetInitialUnzippedPageSize(256);
  auto w = ROOT::RNTupleWriter::Recreate(std::move(model), "Events", path, opts);
  TRandom3 rng(7);
  for (int e = 0; e < n; ++e) {
    *run = e / 100; *b = rng.Rndm() < 0.3; *i8 = (std::int8_t)((int)rng.Integer(256) - 128);
    *u16 = rng.Integer(65536); *i64 = (std::int64_t)rng.Integer(1000000) - 500000;
    *u64 = ((std::uint64_t)rng.Integer(4000000000u) << 20) + e;
    *f = rng.Gaus(); *d = rng.Gaus() * 1e3; *half = rng.Gaus(); *trunc = rng.Gaus();
    *quant = rng.Uniform(-5, 5);
    for (auto &x : *arr) x = rng.Gaus();
    int k = rng.Poisson(2);
    vf->clear(); vb->clear(); rv->clear(); jets->clear();
    for (int j = 0; j < k; ++j) {
      vf->push_back(rng.Exp(20)); vb->push_back(rng.Rndm() < .5);
      rv->push_back((std::int16_t)((int)rng.Integer(2000) - 1000));
      jets->push_back(CasaJet{(float)rng.Exp(30), (float)rng.Gaus(), (std::int32_t)rng.Integer(8)});
    }
    *s = std::string(e % 7, 'a' + e % 26);
    w->Fill();
    if (cluster > 0 && (e + 1) % cluster == 0)
      w->CommitCluster(group > 0 && ((e + 1) / cluster) % group == 0);
  }
}
"""

CODECS = {"zstd": (5, 5), "lzma": (2, 7), "zlib": (1, 6), "lz4": (4, 4)}


def snapshot(ROOT, src, dst, algorithm, level):
    df = ROOT.RDataFrame("Events", src)
    o = ROOT.RDF.RSnapshotOptions()
    o.fOutputFormat = ROOT.RDF.ESnapshotOutputFormat.kRNTuple
    o.fCompressionAlgorithm = algorithm
    o.fCompressionLevel = level
    o.fApproxZippedClusterSize = 200_000
    o.fMaxUnzippedPageSize = 8192
    o.fInitialUnzippedPageSize = 1024
    df.Snapshot("Events", dst, list(df.GetColumnNames()), o)


def main():
    fixtures, out = sys.argv[1], sys.argv[2]
    only = set(sys.argv[3:])

    def wanted(name):
        return not only or name in only

    os.makedirs(out, exist_ok=True)
    import ROOT

    ROOT.gErrorIgnoreLevel = ROOT.kWarning
    for name, (alg, lvl) in CODECS.items():
        if wanted(f"snap-{name}"):
            snapshot(ROOT, os.path.join(fixtures, f"root-{name}.root"), os.path.join(out, f"snap-{name}.root"), alg, lvl)
    if wanted("writer"):
        ROOT.gInterpreter.Declare(WRITER)
        ROOT.casa_write_rntuple(os.path.join(out, "writer.root"), 5000, 505, 700, 2)
    if not wanted("uproot"):
        return

    import awkward as ak
    import numpy as np
    import uproot

    rng = np.random.default_rng(3)
    n = 3000
    counts = rng.poisson(2, n)
    total = int(counts.sum())
    muon = ak.zip(
        {
            "pt": ak.unflatten(rng.exponential(20, total).astype(np.float32), counts),
            "eta": ak.unflatten(rng.normal(0, 1.5, total).astype(np.float32), counts),
            "charge": ak.unflatten(rng.choice([-1, 1], total).astype(np.int32), counts),
        }
    )
    events = ak.Array(
        {
            "run": np.full(n, 1, np.uint32),
            "x": rng.normal(size=n),
            "v": ak.unflatten(rng.normal(size=total).astype(np.float32), counts),
            "Muon": muon,
        }
    )
    with uproot.recreate(os.path.join(out, "uproot.root")) as f:
        f.mkrntuple("Events", events)


if __name__ == "__main__":
    main()
