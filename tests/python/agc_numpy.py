"""The AGC ttbar histogram computed independently of coffea: uproot reads the columns, numpy
computes everything in float64, `hist` fills. This is the bin-exact reference for ports that
compute in float64 (casa's AGC example), as dimuon_reference.py is for the dimuon example.

    python tests/python/agc_numpy.py FILESET OUT.json [--dump-observables FILE.npz]

It computes every variation of tests/python/agc_coffea.py except `pt_res_up`, whose random
smearing (numpy's global generator in the AGC) cannot be reproduced by another program.
docs/agc.md describes each step; the functions below follow it in order. OUT.json holds
{"agc": <UHI histogram>, "nevents": {dataset: N}, "cutflow": {dataset: {cut: N}}}; the dump
holds, per dataset/region/variation, the file index, entry number, float64 observable and
weight of every filled event (keys `<dataset>/<region>/<variation>/<field>`).
"""

import argparse
import itertools
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import hist  # noqa: E402
import numpy as np  # noqa: E402
import uhi.io.json as uj  # noqa: E402
import uproot  # noqa: E402

LUMI = 3378.0  # /pb
B_TAG_THRESHOLD = 0.5
PT_SCALE_UP = 1.03
BTAG_SLOPE = 0.075 / 50  # documentation only: the weight is computed as 1 +- (pt * 0.075 / 50)
SCALE_VAR = {"up": 1.025, "down": 0.975}
REGIONS = ("4j1b", "4j2b")
COLUMNS = ["Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagCSVV2", "Jet_jetId",
           "Electron_pt", "Electron_eta", "Electron_cutBased", "Electron_sip3d",
           "Muon_pt", "Muon_eta", "Muon_tightId", "Muon_sip3d", "Muon_pfRelIso04_all"]
# The jet variations computed here; agc_coffea.py adds the random "pt_res_up".
JET_VARIATIONS = ("nominal", "pt_scale_up")


def agc_hist():
    """The AGC's histogram: one `agc` histogram with the region as an axis."""
    return (hist.Hist.new.Reg(25, 50, 550, name="observable", label="observable [GeV]")
            .StrCat(list(REGIONS), name="region", label="Region")
            .StrCat([], name="process", label="Process", growth=True)
            .StrCat([], name="variation", label="Systematic variation", growth=True)
            .Weight())


def padded(array, width, fill):
    """A jagged column as an (events, width) float64 matrix, `fill` past each event's end."""
    return ak.to_numpy(ak.fill_none(ak.pad_none(array, width, clip=True), fill)).astype(np.float64)


def ht(pt, n):
    """Scalar sum of the selected jets' pT, added left to right in jet order (so any port that
    adds in the same order gets the same float64 bits)."""
    total = np.zeros(len(n))
    for k in range(pt.shape[1]):
        total = total + np.where(k < n, pt[:, k], 0.0)
    return total


def four_vector(pt, eta, phi, mass):
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt(px * px + py * py + pz * pz + mass * mass)


def trijet_mass(pt, eta, phi, mass, btag, n):
    """Mass of the highest-pT trijet (jets i < j < k of the selected jets, in jet order) with at
    least one jet whose btagCSVV2 > 0.5; the first such trijet wins a tie. Events without any
    such trijet get NaN (cannot happen in 4j2b, where >= 2 selected jets are b-tagged)."""
    out = np.full(len(n), np.nan)
    px, py, pz, e = four_vector(pt, eta, phi, mass)
    for m in np.unique(n):
        if m < 3:
            continue
        rows = np.nonzero(n == m)[0]
        c = np.array(list(itertools.combinations(range(m), 3)))  # lexicographic, as ak.combinations
        a, b, d = c[:, 0], c[:, 1], c[:, 2]
        sx = (px[rows][:, a] + px[rows][:, b]) + px[rows][:, d]
        sy = (py[rows][:, a] + py[rows][:, b]) + py[rows][:, d]
        sz = (pz[rows][:, a] + pz[rows][:, b]) + pz[rows][:, d]
        se = (e[rows][:, a] + e[rows][:, b]) + e[rows][:, d]
        tagged = (btag[rows][:, a] > B_TAG_THRESHOLD) | (btag[rows][:, b] > B_TAG_THRESHOLD) | (
            btag[rows][:, d] > B_TAG_THRESHOLD)
        tpt = np.where(tagged, np.sqrt(sx * sx + sy * sy), -np.inf)
        best = np.argmax(tpt, axis=1)  # first maximum
        ok = tagged[np.arange(len(rows)), best]
        i = np.arange(len(rows))
        m2 = se[i, best] ** 2 - (sx[i, best] ** 2 + sy[i, best] ** 2 + sz[i, best] ** 2)
        mass_ = np.where(m2 >= 0, np.sqrt(np.abs(m2)), -np.sqrt(np.abs(m2)))
        out[rows] = np.where(ok, mass_, np.nan)
    return out


def xsec_weight(meta):
    """xsec * lumi / nevts for simulation (in that order of operations, as the AGC), 1 for data."""
    if meta["process"] == "data":
        return 1.0
    return meta["xsec"] * LUMI / meta["nevts"]


def btag_weight(pt, direction):
    """The AGC's corrections.json btag_var formula, evaluated in float64 as written there."""
    return 1.0 + (pt * 0.075 / 50) if direction == "up" else 1.0 - (pt * 0.075 / 50)


def select(a, jet_pt):
    """Object and event selection for one jet pT version. Returns the selected jets as padded
    float64 matrices, their count, and the event masks of the cuts."""
    e_ok = ((a["Electron_pt"] > 30) & (abs(a["Electron_eta"]) < 2.1) & (a["Electron_cutBased"] == 4)
            & (a["Electron_sip3d"] < 4))
    m_ok = ((a["Muon_pt"] > 30) & (abs(a["Muon_eta"]) < 2.1) & a["Muon_tightId"] & (a["Muon_sip3d"] < 4)
            & (a["Muon_pfRelIso04_all"] < 0.15))
    j_ok = (jet_pt > 30) & (abs(a["Jet_eta"]) < 2.4) & ((a["Jet_jetId"] & 4) != 0)
    n_lep = ak.to_numpy(ak.sum(e_ok, axis=1) + ak.sum(m_ok, axis=1))
    n_jet = ak.to_numpy(ak.sum(j_ok, axis=1))
    n_b = ak.to_numpy(ak.sum(j_ok & (a["Jet_btagCSVV2"] > B_TAG_THRESHOLD), axis=1))
    width = max(int(n_jet.max()) if len(n_jet) else 0, 1)
    jets = {
        "pt": padded(jet_pt[j_ok], width, 0.0),
        "eta": padded(a["Jet_eta"][j_ok], width, 0.0),
        "phi": padded(a["Jet_phi"][j_ok], width, 0.0),
        "mass": padded(a["Jet_mass"][j_ok], width, 0.0),
        "btag": padded(a["Jet_btagCSVV2"][j_ok], width, -np.inf),
    }
    cuts = {"exactly_1l": n_lep == 1, "atleast_4j": n_jet >= 4, "exactly_1b": n_b == 1, "atleast_2b": n_b >= 2}
    regions = {"4j1b": cuts["exactly_1l"] & cuts["atleast_4j"] & cuts["exactly_1b"],
               "4j2b": cuts["exactly_1l"] & cuts["atleast_4j"] & cuts["atleast_2b"]}
    return jets, n_jet, cuts, regions


def process_file(path, tree, meta, fill, cutflow):
    """Run the selection on one file; `fill(region, variation, entries, observable, weight)`."""
    a = uproot.open(path)[tree].arrays(COLUMNS)
    # Every float32 column is widened to float64 before any arithmetic or comparison.
    for k in COLUMNS:
        if str(ak.type(a[k])).endswith("float32"):
            a[k] = ak.values_astype(a[k], np.float64)
    is_mc = meta["process"] != "data"
    w0 = xsec_weight(meta)
    two_point = meta["variation"] != "nominal"
    for jet_var in JET_VARIATIONS if (is_mc and not two_point) else ("nominal",):
        jet_pt = a["Jet_pt"] * PT_SCALE_UP if jet_var == "pt_scale_up" else a["Jet_pt"]
        jets, n_jet, cuts, regions = select(a, jet_pt)
        if jet_var == "nominal":
            c = cutflow
            c["all"] = c.get("all", 0) + len(n_jet)
            one_l = cuts["exactly_1l"]
            c["exactly_1l"] = c.get("exactly_1l", 0) + int(one_l.sum())
            c["atleast_4j"] = c.get("atleast_4j", 0) + int((one_l & cuts["atleast_4j"]).sum())
            for r in REGIONS:
                c[r] = c.get(r, 0) + int(regions[r].sum())
        for region in REGIONS:
            sel = regions[region]
            entries = np.nonzero(sel)[0]
            j = {k: v[sel] for k, v in jets.items()}
            n = n_jet[sel]
            if region == "4j1b":
                obs = ht(j["pt"], n)
            else:
                obs = trijet_mass(j["pt"], j["eta"], j["phi"], j["mass"], j["btag"], n)
            w = np.full(len(entries), w0)
            name = meta["variation"] if two_point else jet_var
            fill(region, name, entries, obs, w)
            if jet_var != "nominal" or not is_mc or two_point:
                continue
            # Event-weight variations: the nominal events and observable, reweighted.
            for i in range(4):
                for direction in ("up", "down"):
                    fill(region, f"btag_var_{i}_{direction}", entries, obs, w * btag_weight(j["pt"][:, i], direction))
            if meta["process"] == "wjets":
                for direction in ("up", "down"):
                    fill(region, f"scale_var_{direction}", entries, obs, w * SCALE_VAR[direction])


def run(fileset):
    """The AGC histogram over a coffea fileset; returns (hist, nevents, cutflow, dump)."""
    h = agc_hist()
    nevents, cutflow, dump = {}, {}, {}
    for dataset, spec in fileset.items():
        meta = spec["metadata"]
        files = spec["files"]
        cutflow[dataset] = {}
        nevents[dataset] = 0
        for index, (path, tree) in enumerate(files.items()):
            # One histogram per file, added to the total in file order: the sums of weights then
            # add up in the order of a per-file job merged afterwards (coffea's one chunk per file).
            hf = agc_hist()

            def fill(region, variation, entries, obs, w, index=index, hf=hf):
                # The AGC skips a 4j2b fill with no events (and an empty fill adds no category).
                if len(entries):
                    hf.fill(observable=obs, region=region, process=meta["process"], variation=variation, weight=w)
                key = f"{dataset}/{region}/{variation}"
                for field, v in (("file", np.full(len(entries), index, dtype=np.int32)),
                                 ("entry", entries.astype(np.int64)), ("obs_f64", obs), ("weight", w)):
                    dump.setdefault(f"{key}/{field}", []).append(v)
            process_file(path, tree if isinstance(tree, str) else tree["object_path"], meta, fill, cutflow[dataset])
            nevents[dataset] += uproot.open(path)[tree if isinstance(tree, str) else tree["object_path"]].num_entries
            h = h + hf
    dump = {k: np.concatenate(v) for k, v in dump.items()}
    return h, nevents, cutflow, dump


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("fileset")
    p.add_argument("output")
    p.add_argument("--dump-observables", metavar="FILE.npz")
    a = p.parse_args()
    try:
        with open(a.fileset) as f:
            fileset = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"agc_numpy.py: cannot read fileset {a.fileset}: {e}")
    h, nevents, cutflow, dump = run(fileset)
    tmp = a.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"agc": h, "nevents": nevents, "cutflow": cutflow}, f, default=uj.default)
    os.replace(tmp, a.output)
    if a.dump_observables:
        np.savez_compressed(a.dump_observables, **dump)
    print(json.dumps(cutflow))


if __name__ == "__main__":
    main()
