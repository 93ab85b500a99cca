"""The seed's processor, run by coffea's Runner with the IterativeExecutor in one process (for
bench_dimuon.py)."""

import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import hist  # noqa: E402
from coffea import processor  # noqa: E402
from coffea.nanoevents import BaseSchema  # noqa: E402
from coffea.nanoevents.methods import candidate  # noqa: E402


class MyProcessor(processor.ProcessorABC):
    def process(self, events):
        dataset = events.metadata["dataset"]
        muons = ak.zip(
            {
                "pt": events.Muon_pt,
                "eta": events.Muon_eta,
                "phi": events.Muon_phi,
                "mass": events.Muon_mass,
                "charge": events.Muon_charge,
            },
            with_name="PtEtaPhiMCandidate",
            behavior=candidate.behavior,
        )
        h_mass = hist.Hist.new.StrCat(["opposite", "same"], name="sign").Log(1000, 0.2, 200.0, name="mass").Int64()
        cut = (ak.num(muons) == 2) & (ak.sum(muons.charge, axis=1) == 0)
        dimuon = muons[cut][:, 0] + muons[cut][:, 1]
        h_mass.fill(sign="opposite", mass=dimuon.mass)
        cut = (ak.num(muons) == 2) & (ak.sum(muons.charge, axis=1) != 0)
        dimuon = muons[cut][:, 0] + muons[cut][:, 1]
        h_mass.fill(sign="same", mass=dimuon.mass)
        return {dataset: {"entries": len(events), "mass": h_mass}}

    def postprocess(self, accumulator):
        pass


def run(path):
    fileset = {"bench": {"files": {path: "Events"}, "metadata": {"is_mc": True}}}
    runner = processor.Runner(executor=processor.IterativeExecutor(compression=None), schema=BaseSchema,
                              chunksize=100_000)
    out = runner(fileset, processor_instance=MyProcessor())
    return float(out["bench"]["mass"].sum(flow=True))
