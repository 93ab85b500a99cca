"""The reference for the PHYSLITE example plugin (examples/physlite), computed with uproot,
numpy and hist: pT in GeV of the analysis electrons, muons and jets with |eta| < 2.5.

    python tests/python/physlite_reference.py FILE.root TREE START STOP

Prints JSON: {"values": [[...] per object kind, with the pt axis' flow bins], "entries": N}.
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import hist  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402

OBJECTS = [("electron", "AnalysisElectronsAuxDyn"), ("muon", "AnalysisMuonsAuxDyn"),
           ("jet", "AnalysisJetsAuxDyn")]


def main():
    path, tree, start, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t = uproot.open(path)[tree]
    h = hist.Hist(
        hist.axis.StrCategory([k for k, _ in OBJECTS], name="object"),
        hist.axis.Regular(50, 0.0, 250.0, name="pt"),
        storage=hist.storage.Int64(),
    )
    for kind, prefix in OBJECTS:
        pt = t[f"{prefix}.pt"].array(entry_start=start, entry_stop=stop)
        eta = t[f"{prefix}.eta"].array(entry_start=start, entry_stop=stop)
        pt = ak.to_numpy(ak.flatten(pt)).astype(np.float32)
        eta = ak.to_numpy(ak.flatten(eta)).astype(np.float32)
        gev = pt[np.abs(eta) < np.float32(2.5)].astype(np.float64) / 1000.0
        h.fill(object=kind, pt=gev)
    values = h.values(flow=True)
    print(json.dumps({"values": values.tolist(), "entries": stop - start}))


if __name__ == "__main__":
    main()
