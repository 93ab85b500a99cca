"""Run the seed's dimuon processor with coffea itself (processor.Runner + IterativeExecutor,
BaseSchema, virtual mode), and explain where it differs from a float64 computation.

    python tests/python/coffea_dimuon.py DATASET FILE TREE [CHUNKSIZE]

coffea builds the dimuon four-vectors from float32 columns and computes the mass in float32;
casa (and the float64 reference) compute in float64. Prints JSON:
  values        coffea's histogram (sign x mass, with flow bins)
  entries       coffea's entry count
  migration     per-bin (float32 bin count - float64 bin count) over the same events: the
                difference coffea - float64 must equal this exactly
  migrated      number of events whose float32 and float64 masses fall in different bins
  selected      number of events filled
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import hist  # noqa: E402
import numpy as np  # noqa: E402
from coffea import processor  # noqa: E402
from coffea.nanoevents import BaseSchema  # noqa: E402
from coffea.nanoevents.methods import candidate  # noqa: E402


def mass_hist():
    return hist.Hist.new.StrCat(["opposite", "same"], name="sign").Log(1000, 0.2, 200.0, name="mass").Int64()


class MyProcessor(processor.ProcessorABC):
    """The seed's processor (002_*.txt), eager/virtual mode, as written there."""

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
        h_mass = mass_hist()
        cut = (ak.num(muons) == 2) & (ak.sum(muons.charge, axis=1) == 0)
        dimuon = muons[cut][:, 0] + muons[cut][:, 1]
        h_mass.fill(sign="opposite", mass=dimuon.mass)
        cut = (ak.num(muons) == 2) & (ak.sum(muons.charge, axis=1) != 0)
        dimuon = muons[cut][:, 0] + muons[cut][:, 1]
        h_mass.fill(sign="same", mass=dimuon.mass)
        return {dataset: {"entries": len(events), "mass": h_mass}}

    def postprocess(self, accumulator):
        return accumulator


class ExplainingProcessor(MyProcessor):
    """The seed's processor, plus the masses of the events it filled, in float32 as coffea
    computed them and in float64 as casa does, so every bin difference can be explained."""

    def process(self, events):
        out = super().process(events)
        dataset = events.metadata["dataset"]
        muons = ak.zip(
            {k: getattr(events, f"Muon_{k}") for k in ("pt", "eta", "phi", "mass", "charge")},
            with_name="PtEtaPhiMCandidate",
            behavior=candidate.behavior,
        )
        for sign, keep in (("opposite", lambda q: q == 0), ("same", lambda q: q != 0)):
            cut = (ak.num(muons) == 2) & keep(ak.sum(muons.charge, axis=1))
            mu = muons[cut]
            m32 = (mu[:, 0] + mu[:, 1]).mass
            f64 = {k: ak.to_numpy(getattr(mu, k)).astype(np.float64).reshape(-1, 2) for k in ("pt", "eta", "phi", "mass")}
            px, py = f64["pt"] * np.cos(f64["phi"]), f64["pt"] * np.sin(f64["phi"])
            pz = f64["pt"] * np.sinh(f64["eta"])
            e = np.sqrt(px * px + py * py + pz * pz + f64["mass"] * f64["mass"])
            spx, spy, spz, se = px.sum(axis=1), py.sum(axis=1), pz.sum(axis=1), e.sum(axis=1)
            m2 = se * se - (spx * spx + spy * spy + spz * spz)
            m64 = np.where(m2 >= 0, np.sqrt(np.abs(m2)), -np.sqrt(np.abs(m2)))
            out[dataset][f"m32_{sign}"] = processor.column_accumulator(ak.to_numpy(m32))
            out[dataset][f"m64_{sign}"] = processor.column_accumulator(m64)
        return out


def run(fileset, processor_instance, chunksize=100_000):
    """coffea's Runner with the IterativeExecutor, in this process."""
    runner = processor.Runner(
        executor=processor.IterativeExecutor(compression=None),
        schema=BaseSchema,
        chunksize=chunksize,
    )
    return runner(fileset, processor_instance=processor_instance)


def explain(out):
    """An ExplainingProcessor's output for one dataset: per-bin (float32 count - float64 count)
    over the same events, the number of events whose bin differs, and the events filled."""
    axis = mass_hist().axes["mass"]
    migration = np.zeros_like(out["mass"].values(flow=True))
    migrated = selected = 0
    for row, sign in enumerate(("opposite", "same")):
        # hist's index: -1 underflow, bins overflow; +1 for the flow layout.
        b32 = axis.index(out[f"m32_{sign}"].value) + 1
        b64 = axis.index(out[f"m64_{sign}"].value) + 1
        np.add.at(migration[row], b32, 1)
        np.add.at(migration[row], b64, -1)
        migrated += int(np.count_nonzero(b32 != b64))
        selected += len(b32)
    return migration, migrated, selected


def main():
    dataset, path, tree = sys.argv[1], sys.argv[2], sys.argv[3]
    chunksize = int(sys.argv[4]) if len(sys.argv) > 4 else 100_000
    fileset = {dataset: {"files": {path: tree}, "metadata": {"is_mc": True}}}
    out = run(fileset, ExplainingProcessor(), chunksize)[dataset]
    h = out["mass"]
    migration, migrated, selected = explain(out)
    print(json.dumps({
        "values": h.values(flow=True).tolist(),
        "entries": int(out["entries"]),
        "migration": migration.tolist(),
        "migrated": migrated,
        "selected": selected,
    }))


if __name__ == "__main__":
    main()
