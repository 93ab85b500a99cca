"""Compare casa's ROOT reader with uproot and ROOT RDataFrame on the same files, in one run.

Reads the dimuon analysis columns (nMuon and five Muon_* branches) of a NanoAOD-like file
with many other branches, for ZSTD and LZMA (CMS's setting 209), and prints events/s and the
ratios. Each measurement runs in its own process (so peak RSS is its own) and is repeated;
the best wall time counts. Called by ci/bench-read.
"""

import json
import os
import subprocess
import sys
import time

ROOT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
BRANCHES = ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"]
JAGGED = BRANCHES[1:]

UPROOT = r"""
import sys, time, resource, json, warnings
warnings.filterwarnings("ignore")
import uproot, awkward as ak, numpy as np
f, branches = sys.argv[1], sys.argv[2].split(",")
t0 = time.perf_counter()
arrays = uproot.open(f)["Events"].arrays(branches)
wall = time.perf_counter() - t0
checksum = float(sum(np.sum(ak.to_numpy(ak.flatten(arrays[b], axis=None)).astype(np.float64)) for b in branches))
print(json.dumps({"wall": wall, "checksum": checksum,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

RDF = r"""
import sys, time, resource, json, warnings
warnings.filterwarnings("ignore")
import ROOT
f, jagged = sys.argv[1], sys.argv[2].split(",")
expr = "double(nMuon) + " + " + ".join(f"double(ROOT::VecOps::Sum({b}))" for b in jagged)
best = None
for _ in range(2):  # the first loop includes cling's JIT; report the second
    df = ROOT.RDataFrame("Events", f).Define("s", expr)
    t0 = time.perf_counter()
    s = df.Sum("s").GetValue()
    wall = time.perf_counter() - t0
    best = wall if best is None else min(best, wall)
print(json.dumps({"wall": best, "checksum": s,
                  "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def best_of(cmd, n):
    runs = [run(cmd) for _ in range(n)]
    return min(runs, key=lambda r: r["wall"])


def main():
    bench_bin, files, repeat = sys.argv[1], sys.argv[2:], int(os.environ.get("BENCH_REPEAT", "3"))
    rows = []
    for path in files:
        label = os.path.basename(path)
        ours = {t: best_of([bench_bin, path, "Events", "--threads", str(t)] + BRANCHES, repeat) for t in (1, 2)}
        bare = {t: best_of([bench_bin, path, "Events", "--threads", str(t), "--decompress-only"] + BRANCHES, repeat)
                for t in (1, 2)}
        up = best_of([PY, "-c", UPROOT, path, ",".join(BRANCHES)], repeat)
        rdf = best_of([PY, "-c", RDF, path, ",".join(JAGGED)], max(1, repeat - 1))
        n = ours[1]["entries"]
        ev = lambda r: n / r["wall"]  # noqa: E731
        rows.append((label, n, ours, bare, up, rdf, ev))
        if abs(ours[1]["checksum"] - up["checksum"]) > 1e-6 * abs(up["checksum"]):
            print(f"WARNING {label}: checksum casa {ours[1]['checksum']} != uproot {up['checksum']}")
    print()
    print("| file | events | casa 1 thr (ev/s) | casa 2 thr | uproot | RDataFrame 1 thr | casa/uproot | casa/RDF | "
          "casa 1 thr / bare decompress | 2 thr speedup | peak RSS casa / uproot / RDF (MB) | bytes read / file |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, n, ours, bare, up, rdf, ev in rows:
        print(f"| {label} | {n:,} | {ev(ours[1]):,.0f} | {ev(ours[2]):,.0f} | {ev(up):,.0f} | {ev(rdf):,.0f} | "
              f"{ev(ours[1]) / ev(up):.2f}x | {ev(ours[1]) / ev(rdf):.2f}x | "
              f"{ours[1]['wall'] / bare[1]['wall']:.2f} | {ours[1]['wall'] / ours[2]['wall']:.2f}x | "
              f"{ours[1]['peak_rss_kb'] / 1024:.0f} / {up['peak_rss_kb'] / 1024:.0f} / {rdf['peak_rss_kb'] / 1024:.0f} | "
              f"{ours[1]['compressed_bytes'] / ours[1]['file_bytes']:.1%} |")
    print()
    print("bare decompression (same baskets, no decoding): " + ", ".join(
        f"{label}: {n / bare[1]['wall']:,.0f} ev/s (1 thr), {n / bare[2]['wall']:,.0f} ev/s (2 thr)"
        for label, n, ours, bare, up, rdf, ev in rows))


if __name__ == "__main__":
    main()
