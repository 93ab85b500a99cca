"""Reference for the `nanoaod` mode of the misbehave test plugin: the same collection
operations on a NanoAOD file, written as plain Python loops over uproot's arrays in float64
(math module), independently of casa.

    python collections_reference.py FILE  ->  JSON of the counters
"""

import itertools
import json
import math
import sys

import uproot


def p4(pt, eta, phi, m):
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return (px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m))


def delta_r(eta1, phi1, eta2, phi2):
    dphi = (phi1 - phi2 + math.pi) % (2 * math.pi) - math.pi
    return math.hypot(eta1 - eta2, dphi)


def main(path):
    fields = ["pt", "eta", "phi", "mass", "btagCSVV2", "jetId", "muonIdx1"]
    mfields = ["pt", "eta", "phi", "mass", "isGlobal", "jetIdx"]
    t = uproot.open(path)["Events"]
    a = t.arrays([f"Jet_{f}" for f in fields] + [f"Muon_{f}" for f in mfields], library="np")
    out = dict(n3=0, sum_m3=0.0, sum_ht=0.0, sum_lead_pt=0.0, n_dr_match=0,
               sum_xref_mu_pt=0.0, n_mu_jet=0, n_global=0)
    for i in range(t.num_entries):
        j = {f: a[f"Jet_{f}"][i].tolist() for f in fields}
        mu = {f: a[f"Muon_{f}"][i].tolist() for f in mfields}
        good = [k for k in range(len(j["pt"]))
                if j["pt"][k] > 20 and abs(j["eta"][k]) < 2.4 and j["jetId"][k] & 2]
        good.sort(key=lambda k: -j["pt"][k])  # stable, as casa's sort
        out["sum_ht"] += sum(j["pt"][k] for k in good)
        if good:
            out["sum_lead_pt"] += j["pt"][good[0]]
        best = None
        for t3 in itertools.combinations(good, 3):
            if not any(j["btagCSVV2"][k] > 0.5 for k in t3):
                continue
            vs = [p4(j["pt"][k], j["eta"][k], j["phi"][k], j["mass"][k]) for k in t3]
            s = [vs[0][c] + vs[1][c] + vs[2][c] for c in range(4)]
            pt = math.hypot(s[0], s[1])
            if best is None or pt > best[0]:
                best = (pt, s)
        if best is not None:
            s = best[1]
            m2 = s[3] * s[3] - (s[0] * s[0] + s[1] * s[1] + s[2] * s[2])
            out["n3"] += 1
            out["sum_m3"] += math.sqrt(m2) if m2 >= 0 else -math.sqrt(-m2)
        out["n_global"] += sum(1 for x in mu["isGlobal"] if x)
        for k in good:
            if any(delta_r(j["eta"][k], j["phi"][k], mu["eta"][m], mu["phi"][m]) < 0.4
                   for m in range(len(mu["pt"]))):
                out["n_dr_match"] += 1
            m = j["muonIdx1"][k]
            if 0 <= m < len(mu["pt"]):
                out["sum_xref_mu_pt"] += mu["pt"][m]
        out["n_mu_jet"] += sum(1 for m in range(len(mu["pt"]))
                               if 0 <= mu["jetIdx"][m] < len(j["pt"]))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
