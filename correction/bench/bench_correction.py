#!/usr/bin/env python3
"""Time correctionlib's vectorised evaluate (numpy arrays) on a few representative corrections
and write the same inputs, its outputs and its timings (on-CPU time of the thread, best of
REPEATS) for casa's side of the benchmark (correction/examples/bench_correction.rs). Called by
bench_correction.sh.

Usage: bench_correction.py DATA_DIR OUT_DIR N REPEATS
"""

import json
import os
import sys
import time

import numpy as np

import correctionlib


def cpu_seconds():
    """Time this thread has run on a CPU (CLOCK_THREAD_CPUTIME_ID, as casa's side): the
    machine may be shared, and wall time would count the time other processes had the core."""
    return time.thread_time()


def cases(rng, n):
    """(label, file, correction, compound, inputs) with inputs as numpy arrays or constants."""
    pt = rng.uniform(20.0, 400.0, n)
    eta = rng.uniform(-2.4, 2.4, n)
    return [
        ("JES L1L2L3Res (compound, formulas)", "jme_jet_jerc.json.gz", "Summer19UL18_V5_MC_L1L2L3Res_AK4PFchs", True,
         {"JetA": rng.uniform(0.3, 0.7, n), "JetEta": eta, "JetPt": pt, "Rho": rng.uniform(0.0, 60.0, n)}),
        ("JER scale factor", "jme_jet_jerc.json.gz", "Summer19UL18_JRV2_MC_ScaleFactor_AK4PFchs", False,
         {"JetEta": eta, "systematic": "nom"}),
        ("muon ID scale factor", "muo_muon_z.json.gz", "NUM_TightID_DEN_TrackerMuons", False,
         {"year": "2018_UL", "abseta": np.abs(eta), "pt": pt, "ValType": "sf"}),
        ("electron ID scale factor", "egm_electron.json.gz", "UL-Electron-ID-SF", False,
         {"year": "2018", "ValType": "sf", "WorkingPoint": "Tight", "eta": eta, "pt": pt}),
        ("b-tag shape (deepJet)", "btv_btagging.json.gz", "deepJet_shape", False,
         {"systematic": "central", "flavor": rng.choice(np.array([0, 4, 5], dtype=np.int64), n),
          "abseta": np.abs(eta), "pt": pt, "discriminant": rng.uniform(0.0, 1.0, n)}),
        ("pileup weight", "lum_puweights.json.gz", "Collisions18_UltraLegacy_goldenJSON", False,
         {"NumTrueInteractions": rng.uniform(0.0, 99.0, n), "weights": "nominal"}),
        ("AGC event systematics", "agc_corrections.json", "event_systematics", False,
         {"syst_name": "btag_var", "direction": "up", "pt": pt}),
    ]


def main():
    data, out, n, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261203)
    manifest = []
    for k, (label, fname, name, compound, inputs) in enumerate(cases(rng, n)):
        path = os.path.join(data, fname)
        cset = correctionlib.CorrectionSet.from_file(path)
        corr = cset.compound[name] if compound else cset[name]
        order = [v.name for v in corr.inputs]
        args = [inputs[o] for o in order]
        best = float("inf")
        for _ in range(repeats):
            t0 = cpu_seconds()
            result = corr.evaluate(*args)
            best = min(best, cpu_seconds() - t0)
        cols = []
        for i, (o, a) in enumerate(zip(order, args)):
            if isinstance(a, str):
                cols.append({"const_str": a})
            else:
                f = os.path.join(out, f"case{k}_in{i}.bin")
                a.tofile(f)
                cols.append({"i64" if a.dtype == np.int64 else "f64": f})
        outf = os.path.join(out, f"case{k}_out.bin")
        np.asarray(result, dtype=np.float64).tofile(outf)
        manifest.append({"label": label, "file": path, "correction": name, "compound": compound,
                         "n": n, "columns": cols, "expected": outf, "correctionlib_seconds": best})
        print(f"correctionlib: {label}: {n / best / 1e6:.2f} M evaluations/s", file=sys.stderr)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
