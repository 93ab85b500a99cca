"""Reference side of casa-merge's tests: Python hist builds the same histograms from the same
fills, one per partial, adds them with sum(), loads casa-merge's histograms.json with
uhi.io.json, and compares every histogram.

stdin (JSON): {"histograms_json": PATH, "hists": [{"dataset", "name", "spec" (casa-hist's
declaration), "fills": [{"args": [[...] per axis], "weight": [...] | null,
"sample": [...] | null}, ...one per partial]}]}

Optional "views": {"sum": bool, "group_by": KEY, "groups": {dataset: value}}: casa's
`sum/<name>` and `by-KEY/<name>` views are compared with the sums of the per-dataset
histograms of the same file, added in Python. Every histogram is also added with `uhi add`'s
own code (uhi.io.ops.add: the parallel-variance formula for mean storages) where uhi can
(identical axes: uhi cannot add growth categories that differ).

stdout (JSON): {"checked": N, "in_file": M, "uhi_added": K, "views_checked": V,
"failures": ["dataset/name: what", ...]}
"""

import gzip
import json
import sys

import hist
import numpy as np
import uhi.io.json as uj
import uhi.io.ops


def make_axis(a):
    kw = {"name": a["name"], "label": a.get("label", "")}
    t = a["type"]
    if t == "regular":
        tr = a.get("transform", {"kind": "none"})["kind"]
        if tr == "log":
            return hist.axis.Regular(
                a["bins"], a["start"], a["stop"], transform=hist.axis.transform.log, **kw
            )
        if tr != "none":
            raise ValueError(f"transform {tr} not used by these tests")
        return hist.axis.Regular(
            a["bins"],
            a["start"],
            a["stop"],
            underflow=a.get("underflow", True),
            overflow=a.get("overflow", True),
            circular=a.get("circular", False),
            **kw,
        )
    if t == "variable":
        return hist.axis.Variable(
            a["edges"], underflow=a.get("underflow", True), overflow=a.get("overflow", True), **kw
        )
    if t == "integer":
        return hist.axis.Integer(
            a["start"],
            a["stop"],
            underflow=a.get("underflow", True),
            overflow=a.get("overflow", True),
            growth=a.get("growth", False),
            **kw,
        )
    if t == "str_category":
        return hist.axis.StrCategory(a["categories"], growth=a.get("growth", False), **kw)
    if t == "int_category":
        return hist.axis.IntCategory(a["categories"], growth=a.get("growth", False), **kw)
    if t == "boolean":
        return hist.axis.Boolean(**kw)
    raise ValueError(f"axis type {t}")


STORAGES = {
    "int64": hist.storage.Int64,
    "double": hist.storage.Double,
    "weight": hist.storage.Weight,
    "mean": hist.storage.Mean,
    "weighted_mean": hist.storage.WeightedMean,
}


def build(spec, fill):
    h = hist.Hist(
        *[make_axis(a) for a in spec["axes"]],
        storage=STORAGES[spec["storage"]](),
        label=spec.get("label") or None,
    )
    kw = {}
    if fill["weight"] is not None:
        kw["weight"] = np.asarray(fill["weight"], dtype=np.float64)
    if fill["sample"] is not None:
        kw["sample"] = np.asarray(fill["sample"], dtype=np.float64)
    args = []
    for a, v in zip(spec["axes"], fill["args"]):
        if a["type"] in ("regular", "variable"):
            args.append(np.asarray(v, dtype=np.float64))
        elif a["type"] in ("integer", "int_category"):
            args.append(np.asarray(v, dtype=np.int64))
        elif a["type"] == "boolean":
            args.append(np.asarray(v, dtype=bool))
        else:
            args.append(v)
    h.fill(*args, **kw)
    return h


def same(a, b, exact):
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    if exact:
        return bool(np.array_equal(a, b, equal_nan=True))
    # casa keeps exact sums; hist's sum() rounds at every step: equal to hist's own rounding.
    return bool(np.allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True))


def labels(ax):
    """The bins of an axis with its flow bins, by what they mean (not by index)."""
    if isinstance(ax, hist.axis.Boolean):
        return [False, True]
    if isinstance(ax, (hist.axis.StrCategory, hist.axis.IntCategory)):
        return list(ax) + (["<overflow>"] if ax.traits.overflow else [])
    under = ["<underflow>"] if ax.traits.underflow else []
    over = ["<overflow>"] if ax.traits.overflow else []
    return under + [float(e) for e in ax.edges[:-1]] + over


def additive(h):
    """The storage's additive fields with flow bins, as a list of arrays."""
    v = h.view(flow=True)
    st = h.storage_type
    if st in (hist.storage.Int64, hist.storage.Double):
        return [np.asarray(v, dtype=np.float64)]
    if st is hist.storage.Weight:
        return [v["value"], v["variance"]]
    if st is hist.storage.Mean:
        return [v["count"], v["count"] * v["value"]]
    return [v["sum_of_weights"], v["sum_of_weights_squared"], v["sum_of_weights"] * v["value"]]


def cells(h, fixed=()):
    """{(bin label per axis): [additive fields]} of the non-empty bins; `fixed` prefixes."""
    fields = additive(h)
    names = [labels(ax) for ax in h.axes]
    out = {}
    for idx in np.ndindex(fields[0].shape):
        vals = [float(f[idx]) for f in fields]
        if any(x != 0 for x in vals):
            out[tuple(fixed) + tuple(n[i] for n, i in zip(names, idx))] = vals
    return out


def add_cells(into, more):
    for k, v in more.items():
        into[k] = [a + b for a, b in zip(into.get(k, [0.0] * len(v)), v)]


def same_cells(a, b):
    if set(a) != set(b):
        return False
    return all(np.allclose(a[k], b[k], rtol=1e-12, atol=1e-12) for k in a)


def check_views(doc, views, failures):
    names = sorted({k.rsplit("/", 1)[1] for k in doc if "/" in k})
    datasets = sorted(views.get("groups", {}))
    checked = 0
    for name in names:
        per = {ds: hist.Hist(doc[f"{ds}/{name}"]) for ds in datasets if f"{ds}/{name}" in doc}
        if views.get("sum"):
            want = {}
            for h in per.values():
                add_cells(want, cells(h))
            got = hist.Hist(doc[f"sum/{name}"])
            checked += 1
            if not same_cells(cells(got), want):
                failures.append(f"sum/{name}: not the sum of the datasets' histograms")
        key = views.get("group_by")
        if key:
            want = {}
            for ds, h in per.items():
                add_cells(want, cells(h, fixed=(views["groups"][ds],)))
            got = hist.Hist(doc[f"by-{key}/{name}"])
            checked += 1
            if got.axes[0].name != key or list(got.axes[0]) != sorted(set(views["groups"][d] for d in per)):
                failures.append(f"by-{key}/{name}: first axis {got.axes[0]!r}")
            elif not same_cells(cells(got), want):
                failures.append(f"by-{key}/{name}: not the datasets' histograms by {key}")
    return checked


def main():
    req = json.load(sys.stdin)
    path = req["histograms_json"]
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        doc = json.load(f, object_hook=uj.object_hook)
    in_file = sum(1 for k in doc if not k.startswith(("sum/", "by-")))
    failures = []
    checked = 0
    uhi_added = 0
    for case in req["hists"]:
        where = f"{case['dataset']}/{case['name']}"
        parts = [build(case["spec"], f) for f in case["fills"]]
        ref = sum(parts[1:], start=parts[0])
        try:
            got = hist.Hist(doc[f"{case['dataset']}/{case['name']}"])
        except Exception as e:  # noqa: BLE001 - report any loading failure by name
            failures.append(f"{where}: not loadable: {e!r}")
            continue
        checked += 1
        if got.axes != ref.axes:
            failures.append(f"{where}: axes differ: {got.axes!r} vs {ref.axes!r}")
            continue
        if type(got.storage_type()) is not type(ref.storage_type()):
            failures.append(f"{where}: storage {got.storage_type()} vs {ref.storage_type()}")
        if (got.label or "") != (ref.label or ""):
            failures.append(f"{where}: label {got.label!r} vs {ref.label!r}")
        exact = case["spec"]["storage"] == "int64"
        if not same(got.values(flow=True), ref.values(flow=True), exact):
            failures.append(f"{where}: values differ")
        ref_var = ref.variances(flow=True)
        if ref_var is None and case["spec"]["storage"] == "int64":
            # boost-histogram forgets that counts are their own variances after h1 + h2.
            ref_var = ref.values(flow=True)
        if ref_var is None:
            # A Double storage filled with weights: the variances are unknown, and UHI's
            # double storage has no field to say so (hist returns the values on loading).
            pass
        elif not same(got.variances(flow=True), ref_var, exact):
            failures.append(f"{where}: variances differ")
        if case["spec"]["storage"] in ("mean", "weighted_mean"):
            if not same(got.counts(flow=True), ref.counts(flow=True), False):
                failures.append(f"{where}: counts differ")
        # uhi add: the same partials added by uhi's own operations.
        try:
            added = hist.Hist(uhi.io.ops.add(*parts))
        except ValueError:
            continue  # axes differ (growth categories): uhi add refuses, casa adds them
        uhi_added += 1
        if not same_cells(cells(added), cells(got)):
            failures.append(f"{where}: differs from uhi add")
    views_checked = check_views(doc, req["views"], failures) if req.get("views") else 0
    print(json.dumps({"checked": checked, "in_file": in_file, "uhi_added": uhi_added,
                      "views_checked": views_checked, "failures": failures}))


if __name__ == "__main__":
    main()
