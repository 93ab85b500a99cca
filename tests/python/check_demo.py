"""Check the demo's merged result against two independent computations on the same files:

1. the float64 reference (uproot + numpy + hist, tests/python/dimuon_reference.py): every bin
   of every dataset's dimuon histogram must be equal;
2. the seed's processor run by coffea itself (processor.Runner + IterativeExecutor,
   tests/python/coffea_dimuon.py), which computes the mass in float32: per-category totals must
   be equal, and every per-bin difference must be explained by events whose float32 and
   float64 masses fall in different bins.

    python tests/python/check_demo.py RUNDIR PREPROCESSED_FILESET LOCAL_DIR

The fileset names the files by their root:// URLs; LOCAL_DIR holds the same files (by base
name), which the Python side reads directly. Prints a table; exits 1 on any mismatch.
"""

import gzip
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import hist  # noqa: E402
import numpy as np  # noqa: E402
import uhi.io.json as uj  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coffea_dimuon  # noqa: E402
import dimuon_reference  # noqa: E402


def main():
    rundir, fileset_path, local = sys.argv[1], sys.argv[2], sys.argv[3]
    opener = gzip.open if fileset_path.endswith(".gz") else open
    with opener(fileset_path, "rt") as f:
        fileset = json.load(f)
    with open(os.path.join(rundir, "result", "histograms.json")) as f:
        ours = json.load(f, object_hook=uj.object_hook)
    with open(os.path.join(rundir, "result", "report.json")) as f:
        report = json.load(f)
    by_dataset = {d["dataset"]: d for d in report["coverage"]["datasets"]}

    failures = []
    rows = []
    for dataset, spec in fileset.items():
        files = {os.path.join(local, os.path.basename(url)): v["object_path"] for url, v in spec["files"].items()}
        planned = sum(v["num_entries"] for v in spec["files"].values())
        cov = by_dataset[dataset]
        if cov["covered_events"] + cov["missing_events"] != cov["planned_events"] or cov["planned_events"] != planned:
            failures.append(f"{dataset}: coverage {cov} does not add up to {planned} planned events")
        h = hist.Hist(ours[f"{dataset}/mass"])
        casa = h.values(flow=True)

        # 1. float64 reference, bin by bin.
        ref = dimuon_reference.histogram(
            [(os.path.join(local, os.path.basename(url)), v["object_path"], 0, v["num_entries"])
             for url, v in spec["files"].items()])
        f64 = ref.values(flow=True)
        diff64 = int(np.count_nonzero(casa != f64))
        if diff64:
            failures.append(f"{dataset}: {diff64} bins differ from the float64 reference")

        # 2. coffea's Runner on the same files (float32 masses), every difference explained.
        out = coffea_dimuon.run({dataset: {"files": files, "metadata": spec.get("metadata", {})}},
                                coffea_dimuon.ExplainingProcessor())[dataset]
        coffea = out["mass"].values(flow=True)
        migration, migrated, selected = coffea_dimuon.explain(out)
        if int(out["entries"]) != planned:
            failures.append(f"{dataset}: coffea saw {out['entries']} events, {planned} planned")
        if not np.array_equal(coffea.sum(axis=1), casa.sum(axis=1)):
            failures.append(f"{dataset}: per-category totals differ: coffea {coffea.sum(axis=1)}, casa {casa.sum(axis=1)}")
        unexplained = int(np.count_nonzero((coffea - casa) != migration))
        if unexplained:
            failures.append(f"{dataset}: {unexplained} bins differ from coffea beyond float32 bin migrations")
        if migrated * 500 > max(selected, 1):
            failures.append(f"{dataset}: {migrated} of {selected} events migrate: more than float32 rounding explains")
        rows.append((dataset, planned, cov["covered_events"], selected, diff64, int(np.count_nonzero(coffea != casa)), migrated))

    print(f"{'dataset':<12} {'planned':>8} {'covered':>8} {'filled':>7} {'bins != float64':>16} "
          f"{'bins != coffea':>15} {'float32 migrations':>19}")
    for r in rows:
        print(f"{r[0]:<12} {r[1]:>8} {r[2]:>8} {r[3]:>7} {r[4]:>16} {r[5]:>15} {r[6]:>19}")
    if failures:
        for f in failures:
            print("MISMATCH: " + f, file=sys.stderr)
        sys.exit(1)
    print("casa equals the float64 reference in every bin; every difference from coffea is an event "
          "whose float32 mass falls in another bin")


if __name__ == "__main__":
    main()
