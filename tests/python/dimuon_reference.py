"""The dimuon histogram of the seed processor, computed independently with uproot + numpy in
float64 and filled with `hist`, for the tests to compare with casa bin by bin.

    python tests/python/dimuon_reference.py FILE TREE START STOP [FILE TREE START STOP ...]

Prints {"values": [[...]], "entries": N} with flow bins (StrCat overflow, Log under/overflow).
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import hist  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402


def masses(path, tree, start, stop):
    t = uproot.open(path)[tree]
    a = t.arrays(["Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"],
                 entry_start=start, entry_stop=stop)
    two = ak.num(a["Muon_pt"]) == 2
    def col(name):
        return ak.to_numpy(a[name][two]).astype(np.float64).reshape(-1, 2)
    pt, eta, phi, m = col("Muon_pt"), col("Muon_eta"), col("Muon_phi"), col("Muon_mass")
    q = ak.to_numpy(a["Muon_charge"][two]).astype(np.int64).reshape(-1, 2).sum(axis=1)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px * px + py * py + pz * pz + m * m)
    spx, spy, spz, se = px[:, 0] + px[:, 1], py[:, 0] + py[:, 1], pz[:, 0] + pz[:, 1], e[:, 0] + e[:, 1]
    m2 = se * se - (spx * spx + spy * spy + spz * spz)
    mass = np.where(m2 >= 0, np.sqrt(np.abs(m2)), -np.sqrt(np.abs(m2)))
    return mass, q


def histogram(chunks):
    """The dimuon histogram over `chunks`, each (path, tree, start, stop)."""
    h = hist.Hist.new.StrCat(["opposite", "same"], name="sign").Log(1000, 0.2, 200.0, name="mass").Int64()
    for path, tree, start, stop in chunks:
        mass, q = masses(path, tree, start, stop)
        h.fill(sign="opposite", mass=mass[q == 0])
        h.fill(sign="same", mass=mass[q != 0])
    return h


def main():
    args = sys.argv[1:]
    chunks = [(args[i], args[i + 1], int(args[i + 2]), int(args[i + 3])) for i in range(0, len(args), 4)]
    h = histogram(chunks)
    entries = sum(stop - start for _, _, start, stop in chunks)
    print(json.dumps({"values": h.values(flow=True).tolist(), "entries": entries}))


if __name__ == "__main__":
    main()
