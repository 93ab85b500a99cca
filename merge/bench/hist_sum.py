"""The Python side of bench_merge.sh: sum the benchmark's histograms with hist.

Reads every DIR/*.json (one histogram each, UHI JSON as casa-hist writes it), adds them one
by one (streaming, as `sum()` over a generator does), and compares the total with casa-merge's
result (REFERENCE, UHI JSON of {"<dataset>/<name>": histogram}). Prints one JSON line: files,
seconds loading, seconds adding, peak RSS, largest relative difference from casa-merge.
"""

import json
import resource
import sys
import time
from pathlib import Path

import hist
import numpy as np
import uhi.io.json as uj


def load(path):
    with open(path) as f:
        return hist.Hist(json.load(f, object_hook=uj.object_hook))


def main():
    files = sorted(Path(sys.argv[1]).glob("*.json"))
    load_s = add_s = 0.0
    total = None
    t_all = time.perf_counter()
    for f in files:
        t = time.perf_counter()
        h = load(f)
        t2 = time.perf_counter()
        total = h if total is None else total + h
        add_s += time.perf_counter() - t2
        load_s += t2 - t
    wall = time.perf_counter() - t_all
    with open(sys.argv[2]) as f:
        ref = json.load(f, object_hook=uj.object_hook)
    ref = hist.Hist(ref["bench/x"])
    worst = 0.0
    for a, b in ((total.values(flow=True), ref.values(flow=True)),
                 (total.variances(flow=True), ref.variances(flow=True))):
        d = np.abs(a - b) / np.maximum(np.abs(b), 1e-300)
        worst = max(worst, float(d.max()))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"files": len(files), "wall_s": wall, "load_s": load_s, "add_s": add_s,
                      "peak_rss_kb": peak_kb, "max_rel_diff": worst,
                      "exact_equal": bool(np.array_equal(total.values(flow=True), ref.values(flow=True)))}))


if __name__ == "__main__":
    main()
