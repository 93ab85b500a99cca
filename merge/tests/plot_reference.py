"""Reference side of casa-merge's plot test: builds histograms with hist, writes them as a
UHI file in casa's form (`<dataset>/<name>` keys), draws each plot the test asks casa for
with hist + mplhep (kept next to casa's for a person to compare), and prints what each plot
must show, computed by hist itself (slices, projections, densities).

argv: OUTDIR. Writes OUTDIR/hists.json and OUTDIR/mplhep-<plot>.png.
stdout (JSON): {plot: {"series": [labels], "values": [[...] per series], "errors": [[...]]}}
"""

import json
import os
import sys

import hist
import matplotlib
import numpy as np
import uhi.io.json as uj

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

PROCESSES = ["ttbar", "single_top_s_chan", "single_top_t_chan", "single_top_tW", "wjets"] + [
    f"extra_{i}" for i in range(7)
]


def build():
    rng = np.random.default_rng(7)
    agc = hist.Hist(
        hist.axis.StrCategory(["4j1b", "4j2b"], name="region"),
        hist.axis.StrCategory([], name="process", growth=True),
        hist.axis.StrCategory(["nominal", "pt_scale_up"], name="variation"),
        hist.axis.Regular(25, 50, 550, name="observable", label=r"$m_{bjj}$ [GeV]"),
        storage=hist.storage.Weight(),
        label="Events",
    )
    for i, p in enumerate(PROCESSES):
        n = 3000 // (i + 1)
        for r in ("4j1b", "4j2b"):
            for v in ("nominal", "pt_scale_up"):
                agc.fill(region=r, process=p, variation=v,
                         observable=rng.normal(150 + 20 * i, 40, n), weight=rng.uniform(0.5, 1.5, n))
    pt = hist.Hist(hist.axis.Regular(40, 0, 200, name="pt", label=r"$p_{T}^{\mathrm{lead}}$ [GeV]"),
                   storage=hist.storage.Weight())
    pt.fill(rng.exponential(40, 5000), weight=rng.uniform(0.5, 1.5, 5000))
    xy = hist.Hist(hist.axis.Regular(20, -2.5, 2.5, name="eta", label=r"$\eta$"),
                   hist.axis.Regular(16, -3.2, 3.2, name="phi", label=r"$\phi$"))
    xy.fill(rng.normal(0, 1, 4000), rng.uniform(-3.2, 3.2, 4000))
    return agc, pt, xy


def series(h, axis=None):
    if axis is None:
        return {"series": [""], "values": [h.values().tolist()],
                "errors": [np.sqrt(h.variances()).tolist()]}
    cats = list(h.axes[axis])
    return {"series": cats,
            "values": [h[{axis: c}].values().tolist() for c in cats],
            "errors": [np.sqrt(h[{axis: c}].variances()).tolist() for c in cats]}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    agc, pt, xy = build()
    with open(os.path.join(out, "hists.json"), "w") as f:
        json.dump({"sum/agc": agc._to_uhi_(), "DY/pt": pt._to_uhi_(), "DY/eta_phi": xy._to_uhi_()},
                  f, default=uj.default)
    plt.style.use(mplhep.style.CMS)
    want = {}

    sliced = agc[{"region": "4j2b", "variation": "nominal"}]
    want["stack"] = series(sliced, "process")
    fig, ax = plt.subplots()
    mplhep.histplot([sliced[{"process": p}] for p in sliced.axes["process"]], stack=True,
                    histtype="fill", label=list(sliced.axes["process"]), ax=ax)
    ax.set_xlabel(sliced.axes["observable"].label)
    ax.legend(ncol=2, fontsize="x-small")
    fig.savefig(os.path.join(out, "mplhep-stack.png"))
    plt.close(fig)

    want["pt"] = series(pt)
    fig, ax = plt.subplots()
    pt.plot1d(ax=ax)
    fig.savefig(os.path.join(out, "mplhep-pt.png"))
    plt.close(fig)

    # Project: region and variation summed (flow bins included), as hist.project does.
    proj = agc.project("process", "observable")
    want["project"] = series(proj, "process")
    fig, ax = plt.subplots()
    proj.plot1d(overlay="process", ax=ax)
    ax.legend(fontsize="x-small")
    fig.savefig(os.path.join(out, "mplhep-project.png"))
    plt.close(fig)

    # Density of each process (unit area), overlaid.
    dens = {"series": list(sliced.axes["process"]), "values": []}
    for p in sliced.axes["process"]:
        one = sliced[{"process": p}]
        dens["values"].append(one.density().tolist())
    want["density"] = dens

    want["map"] = {"values": xy.values().tolist()}
    fig, ax = plt.subplots()
    xy.plot2d(ax=ax)
    fig.savefig(os.path.join(out, "mplhep-map.png"))
    plt.close(fig)
    print(json.dumps(want))


if __name__ == "__main__":
    main()
