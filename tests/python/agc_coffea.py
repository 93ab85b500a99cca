"""The AGC ttbar analysis (CMS open data, NanoAOD, without the ML part) as a coffea processor,
run with processor.Runner and the IterativeExecutor, as the AGC runs it (NanoAODSchema).

    python tests/python/agc_coffea.py FILESET OUT.json [--corrections FILE] [--chunksize N]
                                      [--seed S] [--dump-observables FILE.npz]

Re-implements the physics of iris-hep/analysis-grand-challenge,
analyses/cms-open-data-ttbar/ttbar_analysis_pipeline.py (TtbarAnalysis.process); docs/agc.md
describes it step by step. The output JSON holds {"agc": <UHI histogram>, "nevents":
{dataset: N}, "cutflow": {dataset: {cut: N}}}; the histogram has the axes observable
Regular(25, 50, 550), region StrCategory [4j1b, 4j2b], process and variation StrCategory with
growth, Weight storage.

coffea computes with the columns' float32 where the AGC's code does (HT and the trijet four-
vectors of the nominal jets); --dump-observables writes, per dataset/region/variation, the
file index, entry number, the observable as coffea filled it (float32 or float64, see
docs/agc.md) and the same observable recomputed in float64 from the same selected jets, so a
test can explain every bin difference from a float64 port. The jet resolution variation
(`pt_res_up`) smears with numpy's global generator as the AGC does: with --seed and the
IterativeExecutor (chunks drawn in file order) a run is repeatable, but the draws follow the
order chunks are processed in (any parallel executor or retry changes them) and no other
program reproduces them; compare it in total only.
"""

import argparse
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import correctionlib  # noqa: E402
import numpy as np  # noqa: E402
import uhi.io.json as uj  # noqa: E402
from coffea import processor  # noqa: E402
from coffea.analysis_tools import PackedSelection  # noqa: E402
from coffea.nanoevents import NanoAODSchema  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agc_numpy  # noqa: E402  (the histogram definition and the float64 observables of the dump)

CORRECTIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "agc", "corrections.json")
LUMI = 3378  # /pb
B_TAG_THRESHOLD = 0.5


class AgcProcessor(processor.ProcessorABC):
    def __init__(self, corrections=CORRECTIONS, dump=False):
        self.cset = correctionlib.CorrectionSet.from_file(corrections)
        self.dump = dump

    def process(self, events):
        h = agc_numpy.agc_hist()
        meta = events.metadata
        dataset, process, variation = meta["dataset"], meta["process"], meta["variation"]
        is_mc = process != "data"
        weight = meta["xsec"] * LUMI / meta["nevts"] if is_mc else 1.0
        out = {"agc": h, "nevents": {dataset: len(events)}, "cutflow": {dataset: {}}}
        dump = {}
        first_entry = meta["entrystart"]

        # Per-jet pT factors of the jet variations, attached per event as the AGC does: a
        # float64 factor, so the varied pT (and all that follows from it) is float64.
        n_jets = ak.num(events.Jet)
        factors = {
            "pt_scale_up": np.full(len(events), 1.03),
            # The AGC's resolution smearing: a N(1, 0.05) factor per jet, from numpy's global
            # generator (not reproducible across chunkings or programs).
            "pt_res_up": ak.unflatten(np.random.normal(np.ones(int(ak.sum(n_jets))), 0.05), n_jets),
        }
        jet_systs = list(factors)
        weight_systs = [f"btag_var_{i}" for i in range(4)] + (["scale_var"] if process == "wjets" else [])
        # Systematics only for the nominal samples (the AGC), and only for simulation (the AGC
        # never runs on data; we do, with the nominal selection alone).
        variations = ["nominal"] + (jet_systs + weight_systs if variation == "nominal" and is_mc else [])

        for syst in variations:
            electrons, muons, jets = events.Electron, events.Muon, events.Jet
            if syst in factors:
                jets = ak.with_field(jets, jets.pt * factors[syst], "pt")
            electrons = electrons[(electrons.pt > 30) & (np.abs(electrons.eta) < 2.1)
                                  & (electrons.cutBased == 4) & (electrons.sip3d < 4)]
            muons = muons[(muons.pt > 30) & (np.abs(muons.eta) < 2.1) & muons.tightId & (muons.sip3d < 4)
                          & (muons.pfRelIso04_all < 0.15)]
            jets = jets[(jets.pt > 30) & (np.abs(jets.eta) < 2.4) & jets.isTightLeptonVeto]

            cuts = PackedSelection(dtype="uint64")
            n_b = ak.sum(jets.btagCSVV2 > B_TAG_THRESHOLD, axis=1)
            cuts.add("exactly_1l", (ak.num(electrons) + ak.num(muons)) == 1)
            cuts.add("atleast_4j", ak.num(jets) >= 4)
            cuts.add("exactly_1b", n_b == 1)
            cuts.add("atleast_2b", n_b >= 2)
            cuts.add("4j1b", cuts.all("exactly_1l", "atleast_4j", "exactly_1b"))
            cuts.add("4j2b", cuts.all("exactly_1l", "atleast_4j", "atleast_2b"))
            if syst == "nominal":
                c = out["cutflow"][dataset]
                c["all"] = len(events)
                c["exactly_1l"] = int(ak.sum(cuts.all("exactly_1l")))
                c["atleast_4j"] = int(ak.sum(cuts.all("exactly_1l", "atleast_4j")))
                for r in agc_numpy.REGIONS:
                    c[r] = int(ak.sum(cuts.all(r)))

            for region in agc_numpy.REGIONS:
                mask = ak.to_numpy(cuts.all(region))
                region_jets = jets[mask]
                if region == "4j1b":
                    observable = ak.sum(region_jets.pt, axis=-1)
                else:
                    trijet = ak.combinations(region_jets, 3, fields=["j1", "j2", "j3"])
                    p4 = trijet.j1 + trijet.j2 + trijet.j3
                    tagged = np.maximum(trijet.j1.btagCSVV2, np.maximum(trijet.j2.btagCSVV2, trijet.j3.btagCSVV2))
                    p4 = p4[tagged > B_TAG_THRESHOLD]
                    observable = ak.flatten(p4[ak.argmax(p4.pt, axis=1, keepdims=True)].mass)
                    if np.count_nonzero(mask) == 0:
                        continue  # the AGC fills no empty 4j2b
                weights = np.full(np.count_nonzero(mask), weight)
                fills = []
                if syst in weight_systs:
                    for direction in ("up", "down"):
                        if syst == "scale_var":
                            # the pT only gives the output its shape
                            factor = self.cset["event_systematics"].evaluate("scale_var", direction, region_jets.pt[:, 0])
                        else:
                            jet = int(syst.rsplit("_", 1)[-1])
                            factor = self.cset["event_systematics"].evaluate("btag_var", direction, region_jets.pt[:, jet])
                        fills.append((f"{syst}_{direction}", weights * factor))
                else:
                    fills.append((variation if variation != "nominal" else syst, weights))
                for name, w in fills:
                    h.fill(observable=observable, region=region, process=process, variation=name, weight=w)
                    if self.dump:
                        self._dump(dump, dataset, region, name, syst, meta, first_entry, mask, region_jets,
                                   observable, w)
        if self.dump:
            out["dump"] = {k: processor.column_accumulator(v) for k, v in dump.items()}
        return out

    @staticmethod
    def _dump(dump, dataset, region, name, syst, meta, first_entry, mask, jets, observable, w):
        """The filled events: file, entry, coffea's observable, its float64 recomputation."""
        n = ak.to_numpy(ak.num(jets))
        width = max(int(n.max()) if len(n) else 0, 1)
        pad = {k: agc_numpy.padded(getattr(jets, k), width, 0.0) for k in ("pt", "eta", "phi", "mass")}
        if region == "4j1b":
            obs64 = agc_numpy.ht(pad["pt"], n)
        else:
            btag = agc_numpy.padded(jets.btagCSVV2, width, -np.inf)
            obs64 = agc_numpy.trijet_mass(pad["pt"], pad["eta"], pad["phi"], pad["mass"], btag, n)
        key = f"{dataset}/{region}/{name}"
        obs = ak.to_numpy(observable)
        cols = {
            "file": np.full(len(obs), meta["filename"]),
            "entry": first_entry + np.nonzero(mask)[0].astype(np.int64),
            # in the dtype coffea computed it in: float32 for the nominal jets, float64 for varied pT
            "obs_coffea": obs,
            "obs_f64": obs64,
            "weight": np.asarray(w, dtype=np.float64),
        }
        for field, v in cols.items():
            k = f"{key}/{field}"
            dump[k] = np.concatenate([dump[k], v]) if k in dump else v

    def postprocess(self, accumulator):
        return accumulator


def run(fileset, corrections=CORRECTIONS, chunksize=200_000, dump=False):
    """coffea's Runner with the IterativeExecutor, in this process (the AGC's CHUNKSIZE)."""
    NanoAODSchema.warn_missing_crossrefs = False
    runner = processor.Runner(
        executor=processor.IterativeExecutor(compression=None),
        schema=NanoAODSchema,
        chunksize=chunksize,
    )
    return runner(fileset, treename="Events", processor_instance=AgcProcessor(corrections, dump))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("fileset")
    p.add_argument("output")
    p.add_argument("--corrections", default=CORRECTIONS, help="the AGC's corrections.json (default tests/data/agc)")
    p.add_argument("--chunksize", type=int, default=200_000)
    p.add_argument("--seed", type=int, help="seed numpy's global generator (pt_res_up) for a repeatable run")
    p.add_argument("--dump-observables", metavar="FILE.npz")
    a = p.parse_args()
    try:
        with open(a.fileset) as f:
            fileset = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"agc_coffea.py: cannot read fileset {a.fileset}: {e}")
    if a.seed is not None:
        np.random.seed(a.seed)
    out = run(fileset, a.corrections, a.chunksize, dump=a.dump_observables is not None)
    tmp = a.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"agc": out["agc"], "nevents": out["nevents"], "cutflow": out["cutflow"]}, f, default=uj.default)
    os.replace(tmp, a.output)
    if a.dump_observables:
        np.savez_compressed(a.dump_observables, **{k: v.value for k, v in out.get("dump", {}).items()})
    print(json.dumps(out["cutflow"]))


if __name__ == "__main__":
    main()
