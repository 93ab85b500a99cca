"""The dimuon analysis, end to end, on the same files in one run: casa-wrapper with the dimuon
plugin vs coffea (the seed's processor, Runner + IterativeExecutor, one process) vs uproot +
awkward + vector + hist vs ROOT RDataFrame with the analysis compiled in C++ (PyPI `root`),
on one thread and two. Called by ci/bench-dimuon; prints events/s, ratios and peak RSS.

    python bench/bench_dimuon.py CASA_WRAPPER LIBDIMUON BENCH_READ FILE...
"""

import json
import os
import subprocess
import sys
import tempfile

PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
TESTS_PY = os.path.join(os.path.dirname(HERE), "tests", "python")
BRANCHES = ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"]

COFFEA = r"""
import sys, time, json, resource, warnings
warnings.filterwarnings("ignore")
sys.path.insert(0, sys.argv[3])
from coffea_dimuon import MyProcessor, run
path, n = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
out = run({"bench": {"files": {path: "Events"}, "metadata": {"is_mc": True}}}, MyProcessor())
total = float(out["bench"]["mass"].sum(flow=True))
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "filled": total, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

UPROOT = r"""
import sys, time, json, resource, warnings
warnings.filterwarnings("ignore")
import uproot, awkward as ak, vector, hist, numpy as np
vector.register_awkward()
path = sys.argv[1]
t0 = time.perf_counter()
h = hist.Hist.new.StrCat(["opposite", "same"], name="sign").Log(1000, 0.2, 200.0, name="mass").Int64()
for a in uproot.iterate({path: "Events"}, ["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"], step_size="100 MB"):
    mu = ak.zip({"pt": a.Muon_pt, "eta": a.Muon_eta, "phi": a.Muon_phi, "mass": a.Muon_mass, "charge": a.Muon_charge}, with_name="Momentum4D")
    two = mu[ak.num(mu) == 2]
    m = (two[:, 0] + two[:, 1]).mass
    q = two.charge[:, 0] + two.charge[:, 1]
    h.fill(sign="opposite", mass=m[q == 0])
    h.fill(sign="same", mass=m[q != 0])
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "filled": float(h.sum(flow=True)), "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

RDF = r"""
import sys, time, json, resource, warnings
warnings.filterwarnings("ignore")
import ROOT
path, threads = sys.argv[1], int(sys.argv[2])
if threads > 1:
    ROOT.EnableImplicitMT(threads)
ROOT.gInterpreter.Declare('''
#include <ROOT/RDataFrame.hxx>
#include <TH1D.h>
#include <cmath>
#include <vector>
double casa_dimuon(const char* path) {
  std::vector<double> edges(1001);
  for (int i = 0; i <= 1000; ++i) edges[i] = std::exp(std::log(0.2) + i * (std::log(200.0) - std::log(0.2)) / 1000);
  ROOT::RDataFrame df("Events", path);
  auto two = df.Filter([](unsigned n) { return n == 2; }, {"nMuon"});
  auto m = two.Define("m", [](const ROOT::RVecF& pt, const ROOT::RVecF& eta, const ROOT::RVecF& phi, const ROOT::RVecF& mass) {
      double px = 0, py = 0, pz = 0, e = 0;
      for (int i = 0; i < 2; ++i) {
        double x = pt[i] * std::cos(phi[i]), y = pt[i] * std::sin(phi[i]), z = pt[i] * std::sinh(eta[i]);
        px += x; py += y; pz += z; e += std::sqrt(x * x + y * y + z * z + double(mass[i]) * mass[i]);
      }
      double m2 = e * e - (px * px + py * py + pz * pz);
      return m2 >= 0 ? std::sqrt(m2) : -std::sqrt(-m2);
    }, {"Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass"})
    .Define("q", [](const ROOT::RVecI& c) { return c[0] + c[1]; }, {"Muon_charge"});
  auto os = m.Filter([](int q) { return q == 0; }, {"q"}).Histo1D(ROOT::RDF::TH1DModel("os", "", 1000, edges.data()), "m");
  auto ss = m.Filter([](int q) { return q != 0; }, {"q"}).Histo1D(ROOT::RDF::TH1DModel("ss", "", 1000, edges.data()), "m");
  return os->GetEntries() + ss->GetEntries();
}
''')
ROOT.casa_dimuon(path)  # warm-up: opens libraries and instantiates templates
t0 = time.perf_counter()
n = ROOT.casa_dimuon(path)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "filled": n, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def best(cmd, n, env=None):
    return min((run(cmd, env) for _ in range(n)), key=lambda r: r["wall"])


def casa(wrapper, plugin, path, entries, threads, tmp):
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump({"format": "casa-job", "version": "1.0", "run_id": "bench", "node": "leaf",
                   "chunks": [{"dataset": "bench", "file": path, "tree": "Events",
                               "entry_start": 0, "entry_stop": entries}]}, f)
    metrics = os.path.join(tmp, "m.json")
    subprocess.run([wrapper, "run", "--job", job, "--plugin", plugin, "--out", os.path.join(tmp, "p.partial"),
                    "--metrics", metrics, "-j", str(threads)], check=True)
    m = json.load(open(metrics))
    return {"wall": m["wall_s"], "ttfe_ms": m["time_to_first_event_ms"], "peak_rss_kb": m["peak_rss_kb"],
            "events": m["events"]}


def entries_of(path):
    code = "import uproot,sys; print(uproot.open(sys.argv[1])['Events'].num_entries)"
    return int(subprocess.run([PY, "-c", code, path], check=True, capture_output=True, text=True).stdout)


def main():
    wrapper, plugin, bench_read, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            n = entries_of(path)
            c1 = min((casa(wrapper, plugin, path, n, 1, tmp) for _ in range(repeat)), key=lambda r: r["wall"])
            c2 = min((casa(wrapper, plugin, path, n, 2, tmp) for _ in range(repeat)), key=lambda r: r["wall"])
            bare = best([bench_read, path, "Events", "--threads", "1", "--decompress-only"] + BRANCHES, repeat)
            cof = best([PY, "-c", COFFEA, path, str(n), TESTS_PY], 1)
            upr = best([PY, "-c", UPROOT, path], max(1, repeat - 1))
            rdf1 = best([PY, "-c", RDF, path, "1"], 1)
            rdf2 = best([PY, "-c", RDF, path, "2"], 1)
            rows.append((os.path.basename(path), n, c1, c2, bare, cof, upr, rdf1, rdf2))
    ev = lambda n, r: n / r["wall"]  # noqa: E731
    print()
    print("| file | events | casa 1 thr (ev/s) | casa 2 thr | coffea | uproot+vector+hist | RDF 1 thr | RDF 2 thr | "
          "casa/coffea | casa/RDF (1 thr) | casa 1 thr / bare decompress | time to first event (ms) | peak RSS casa / coffea / RDF (MB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, n, c1, c2, bare, cof, upr, rdf1, rdf2 in rows:
        print(f"| {name} | {n:,} | {ev(n, c1):,.0f} | {ev(n, c2):,.0f} | {ev(n, cof):,.0f} | {ev(n, upr):,.0f} | "
              f"{ev(n, rdf1):,.0f} | {ev(n, rdf2):,.0f} | {ev(n, c1) / ev(n, cof):.1f}x | {ev(n, c1) / ev(n, rdf1):.2f}x | "
              f"{c1['wall'] / bare['wall']:.2f} | {c1['ttfe_ms']:.1f} | "
              f"{c1['peak_rss_kb'] / 1024:.0f} / {cof['peak_rss_kb'] / 1024:.0f} / {rdf1['peak_rss_kb'] / 1024:.0f} |")


if __name__ == "__main__":
    main()
