"""Compare casa's AGC histogram and cutflow (UHI JSON from `casa-merge export`) with the
float64 reference (tests/python/agc_numpy.py's output and its --dump-observables), for the
Rust test examples/agc-ttbar/tests/pipeline.rs, which asserts on the JSON report printed here.

    python compare_agc.py FILESET NUMPY.json NUMPY.npz CASA_UHI.json [RECHUNKED_UHI.json [PLOT.json]]

casa-hist sums weights exactly and rounds each bin once, so the reference for a bin is the
exact sum (fractions.Fraction) of the dumped float64 weights (and of their exact squares) of
the events whose float64 observable falls in it, rounded once: casa must equal it bit for bit.
hist (agc_numpy.py's own histogram) adds in event order, each addition rounded: the report
counts the bins where that differs from the exact sum and the largest difference in ulps
(rounding only). pt_res_up (casa's reproducible smearing, coffea's numpy global generator) is
compared in total against nominal; with a second export of the same files cut into other
chunks, every bin of every histogram must be byte-identical. PLOT.json is what
`casa-merge plot --hist sum/agc --slice region=4j2b --slice variation=nominal --stack process
--json` drew: each process's layer must be the exact reference of (4j2b, process, nominal).
"""

import json
import sys
import warnings
from fractions import Fraction

warnings.filterwarnings("ignore")

import hist  # noqa: E402
import numpy as np  # noqa: E402
import uhi.io.json as uj  # noqa: E402

EDGES = hist.axis.Regular(25, 50, 550)


def load_uhi(path):
    with open(path) as f:
        doc = json.load(f, object_hook=uj.object_hook)
    # casa names each histogram `<dataset>/<name>` (uhi's flat groups).
    out = {}
    for key, h in doc.items():
        ds, name = key.rsplit("/", 1)
        out.setdefault(ds, {})[name] = hist.Hist(h)
    return out


def cells(h):
    """{(region, process, variation): (values[27], variances[27])} with the flow bins."""
    v = h.view(flow=True)
    out = {}
    for r in ("4j1b", "4j2b"):
        ri = h.axes["region"].index(r)
        for pi, p in enumerate(h.axes["process"]):
            for vi, var in enumerate(h.axes["variation"]):
                c = v[:, ri, pi, vi]
                out[(r, p, var)] = (np.array(c["value"]), np.array(c["variance"]))
    return out


def ulps(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ia, ib = a.view(np.int64), b.view(np.int64)
    return np.abs(ia - ib)


def main():
    fileset_path, numpy_json, numpy_npz, casa_uhi = sys.argv[1:5]
    rechunked = sys.argv[5] if len(sys.argv) > 5 else None
    with open(fileset_path) as f:
        fileset = json.load(f)
    with open(numpy_json) as f:
        ref = json.load(f, object_hook=uj.object_hook)
    ref_hist = hist.Hist(ref["agc"])
    dump = np.load(numpy_npz)
    casa = load_uhi(casa_uhi)

    # The exact reference per (region, process, variation), from the dumped events.
    exact, events = {}, {}
    for key in dump.files:
        if not key.endswith("/obs_f64"):
            continue
        ds, region, var = key.split("/")[:3]
        obs, w = dump[key], dump[f"{ds}/{region}/{var}/weight"]
        if len(obs) == 0:
            continue
        process = fileset[ds]["metadata"]["process"]
        k = (region, process, var)
        assert k not in exact, f"{k} filled by two datasets"
        idx = EDGES.index(obs) + 1  # flow view: underflow first
        sw = [Fraction(0)] * 27
        sw2 = [Fraction(0)] * 27
        for b, x in zip(idx, w):
            sw[b] += Fraction(float(x))
            sw2[b] += Fraction(float(x)) ** 2
        exact[k] = (np.array([float(x) for x in sw]), np.array([float(x) for x in sw2]))
        events[k] = len(obs)

    ours = {}
    for ds, items in casa.items():
        for k, c in cells(items["agc"]).items():
            if c[0].any() or c[1].any():
                assert k not in ours, f"{k} filled by two datasets"
                ours[k] = c
    ref_cells = cells(ref_hist)

    report = {"compared_bins": 0, "mismatches": [], "missing": [], "extra": [],
              "hist_rounding": {"bins": 0, "max_ulps": 0}, "events": sum(events.values())}
    for k in sorted(set(exact) | set(ours)):
        if k[2] == "pt_res_up":
            continue
        if k not in ours:
            report["missing"].append(list(k))
            continue
        if k not in exact:
            report["extra"].append(list(k))
            continue
        for what, a, b in (("value", ours[k][0], exact[k][0]), ("variance", ours[k][1], exact[k][1])):
            report["compared_bins"] += len(a)
            for i in np.nonzero(a.view(np.int64) != b.view(np.int64))[0]:
                report["mismatches"].append({"cell": list(k), "bin": int(i), what: [float(a[i]), float(b[i])]})
        # hist's sequential sums against the exact ones: rounding only.
        d = ulps(ref_cells[k][0], exact[k][0])
        report["hist_rounding"]["bins"] += int((d != 0).sum())
        report["hist_rounding"]["max_ulps"] = max(report["hist_rounding"]["max_ulps"], int(d.max()))

    # pt_res_up: the sum of weights against nominal, per region and process.
    report["pt_res_up"] = []
    for k, (v, _) in sorted(ours.items()):
        if k[2] != "pt_res_up":
            continue
        nominal = ours.get((k[0], k[1], "nominal"))
        n_nominal = events.get((k[0], k[1], "nominal"), 0)
        report["pt_res_up"].append({"region": k[0], "process": k[1], "nominal_events": n_nominal,
                                    "ratio": float(v.sum() / nominal[0].sum())})

    # Cutflows: events passing each step, per dataset (a 1-D histogram over the cut axis).
    report["cutflow"] = {}
    for ds, items in casa.items():
        h = items["cutflow"]
        v = h.view(flow=False)
        report["cutflow"][ds] = {c: int(v[i]) for i, c in enumerate(h.axes["cut"])}
    report["cutflow_reference"] = ref["cutflow"]

    if rechunked:
        other = load_uhi(rechunked)
        same, differ = 0, []
        for ds, items in casa.items():
            a, b = cells(items["agc"]), cells(other[ds]["agc"])
            for k in set(a) | set(b):
                if k not in a or k not in b or a[k][0].tobytes() != b[k][0].tobytes() or a[k][1].tobytes() != b[k][1].tobytes():
                    differ.append(list(k))
                elif k[2] == "pt_res_up" and a[k][0].any():
                    same += 1
        report["rechunked"] = {"identical_pt_res_up_cells": same, "differing_cells": differ}
    if len(sys.argv) > 6:
        with open(sys.argv[6]) as f:
            drawn = json.load(f)
        plot = {"series": drawn["series"], "mismatches": [], "layers": 0}
        for p, values in zip(drawn["series"], drawn["values"]):
            want = exact.get(("4j2b", p, "nominal"), (np.zeros(27),))[0][1:26]
            plot["layers"] += 1
            if np.asarray(values, np.float64).tobytes() != want.tobytes():
                plot["mismatches"].append(p)
        report["plot"] = plot
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
