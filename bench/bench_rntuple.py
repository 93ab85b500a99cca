"""The dimuon job on an RNTuple vs its peers, in one run: casa-wrapper + the dimuon plugin on
the RNTuple and on the TTree it was snapshotted from, ROOT RDataFrame (analysis compiled in
C++, PyPI `root`) on both, and uproot + awkward + vector + hist on the RNTuple; one thread and
two. Called by ci/bench-rntuple; prints events/s and ratios.

    python bench/bench_rntuple.py CASA_WRAPPER LIBDIMUON TTREE.root RNTUPLE.root
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_dimuon import PY, RDF, best, casa, entries_of  # noqa: E402

UPROOT_RNTUPLE = r"""
import sys, time, json, resource, warnings
warnings.filterwarnings("ignore")
import uproot, awkward as ak, vector, hist, numpy as np
vector.register_awkward()
path = sys.argv[1]
t0 = time.perf_counter()
h = hist.Hist.new.StrCat(["opposite", "same"], name="sign").Log(1000, 0.2, 200.0, name="mass").Int64()
r = uproot.open(path)["Events"]
n = r.num_entries
step = 500_000
for start in range(0, n, step):
    a = r.arrays(["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"], entry_start=start, entry_stop=min(n, start + step))
    mu = ak.zip({"pt": a.Muon_pt, "eta": a.Muon_eta, "phi": a.Muon_phi, "mass": a.Muon_mass, "charge": a.Muon_charge}, with_name="Momentum4D")
    two = mu[ak.num(mu) == 2]
    m = (two[:, 0] + two[:, 1]).mass
    q = two.charge[:, 0] + two.charge[:, 1]
    h.fill(sign="opposite", mass=m[q == 0])
    h.fill(sign="same", mass=m[q != 0])
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "filled": float(h.sum(flow=True)), "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def main():
    wrapper, plugin, ttree, rntuple = sys.argv[1:5]
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    n = entries_of(ttree)
    with tempfile.TemporaryDirectory() as tmp:
        def c(path, threads):
            return min((casa(wrapper, plugin, path, n, threads, tmp) for _ in range(repeat)), key=lambda r: r["wall"])

        r = {
            "casa RNTuple 1": c(rntuple, 1),
            "casa RNTuple 2": c(rntuple, 2),
            "casa TTree 1": c(ttree, 1),
            "casa TTree 2": c(ttree, 2),
            "RDF RNTuple 1": best([PY, "-c", RDF, rntuple, "1"], 1),
            "RDF RNTuple 2": best([PY, "-c", RDF, rntuple, "2"], 1),
            "RDF TTree 1": best([PY, "-c", RDF, ttree, "1"], 1),
            "uproot RNTuple": best([PY, "-c", UPROOT_RNTUPLE, rntuple], 1),
        }
    ev = {k: n / v["wall"] for k, v in r.items()}
    print()
    print(f"{n:,} events, {os.path.basename(ttree)} / {os.path.basename(rntuple)}")
    print()
    print("| reader | events/s |")
    print("|---|---|")
    for k, v in ev.items():
        print(f"| {k} thr | {v:,.0f} |".replace("uproot RNTuple thr", "uproot RNTuple"))
    print()
    print("| ratio | value |")
    print("|---|---|")
    for a, b in [
        ("casa RNTuple 1", "RDF RNTuple 1"),
        ("casa RNTuple 2", "RDF RNTuple 2"),
        ("casa RNTuple 1", "casa TTree 1"),
        ("casa RNTuple 2", "casa TTree 2"),
        ("casa RNTuple 1", "uproot RNTuple"),
        ("RDF RNTuple 1", "RDF TTree 1"),
    ]:
        print(f"| {a} / {b} | {ev[a] / ev[b]:.2f}x |")


if __name__ == "__main__":
    main()
