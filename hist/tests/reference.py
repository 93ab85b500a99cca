"""Reference side of casa-hist's tests: hist 2.12 / boost-histogram / uhi read the cases on
stdin (JSON), build and fill the same histograms, and answer on stdout (JSON, with Python's
NaN/Infinity tokens).

For each case it returns:
  ref     what hist gives: values/variances/counts with flow, and hist's own UHI JSON
  exact   the same quantities computed exactly with fractions.Fraction from the fill data
          (bins found with hist's own axis.index), each rounded once to a double
  loaded  casa's UHI JSON, checked against the UHI schema and loaded with hist.Hist(...):
          its values/variances/counts, and whether its axes equal hist's
"""

import json
import math
import sys
from fractions import Fraction

import hist
import numpy as np
import uhi.io.json as uj

try:  # uhi.schema needs fastjsonschema, which the test venv may not have.
    import fastjsonschema  # noqa: F401
    import uhi.schema

    def validate(doc):
        uhi.schema.validate_histogram(doc)

    VALIDATOR = "uhi.schema (fastjsonschema)"
except ImportError:
    import importlib.resources

    SCHEMA = json.loads(
        importlib.resources.files("uhi.resources").joinpath("histogram.schema.json").read_text()
    )

    def _check(doc, schema, path):
        """The draft-07 subset uhi's histogram schema uses, nothing more."""
        if "$ref" in schema:
            ref = schema["$ref"]
            assert ref.startswith("#/$defs/"), ref
            return _check(doc, SCHEMA["$defs"][ref[len("#/$defs/"):]], path)
        if "const" in schema and doc != schema["const"]:
            raise ValueError(f"{path}: {doc!r} is not {schema['const']!r}")
        t = schema.get("type")
        kinds = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        }
        if t is not None and not kinds[t](doc):
            raise ValueError(f"{path}: {doc!r} is not of type {t}")
        if "minimum" in schema and doc < schema["minimum"]:
            raise ValueError(f"{path}: {doc} < {schema['minimum']}")
        if isinstance(doc, dict):
            for key in schema.get("required", []):
                if key not in doc:
                    raise ValueError(f"{path}: missing {key}")
            if "maxProperties" in schema and len(doc) > schema["maxProperties"]:
                raise ValueError(f"{path}: too many properties")
            props = schema.get("properties", {})
            pattern = schema.get("patternProperties", {}).get(".+")
            for key, value in doc.items():
                if key in props:
                    _check(value, props[key], f"{path}/{key}")
                elif pattern is not None:
                    _check(value, pattern, f"{path}/{key}")
                elif schema.get("additionalProperties") is False:
                    raise ValueError(f"{path}: unexpected key {key}")
        if isinstance(doc, list):
            if "minItems" in schema and len(doc) < schema["minItems"]:
                raise ValueError(f"{path}: fewer than {schema['minItems']} items")
            if schema.get("uniqueItems") and len({json.dumps(x) for x in doc}) != len(doc):
                raise ValueError(f"{path}: items not unique")
            if "items" in schema:
                for i, x in enumerate(doc):
                    _check(x, schema["items"], f"{path}/{i}")
        if "oneOf" in schema:
            ok = 0
            for sub in schema["oneOf"]:
                try:
                    _check(doc, sub, path)
                    ok += 1
                except ValueError:
                    pass
            if ok != 1:
                raise ValueError(f"{path}: matches {ok} of the oneOf alternatives")
        if "not" in schema:
            try:
                _check(doc, schema["not"], path)
            except ValueError:
                pass
            else:
                raise ValueError(f"{path}: matches a 'not' schema")

    def validate(doc):
        _check(doc, SCHEMA, "")

    VALIDATOR = "built-in draft-07 subset (pip install fastjsonschema for uhi.schema)"


def floats(xs):
    return np.array([float(x) for x in xs], dtype=np.float64)


def make_axis(a):
    kw = {"name": a["name"], "label": a.get("label", "")}
    t = a["type"]
    if t == "regular":
        tr = a.get("transform", {"kind": "none"})["kind"]
        if tr != "none":
            kw["transform"] = {
                "log": hist.axis.transform.log,
                "sqrt": hist.axis.transform.sqrt,
                "pow": None,
            }[tr] or hist.axis.transform.Pow(a["transform"]["power"])
        else:
            kw.update(
                underflow=a.get("underflow", True),
                overflow=a.get("overflow", True),
                circular=a.get("circular", False),
            )
        return hist.axis.Regular(a["bins"], a["start"], a["stop"], **kw)
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
    raise ValueError(t)


STORAGES = {
    "int64": hist.storage.Int64,
    "double": hist.storage.Double,
    "weight": hist.storage.Weight,
    "mean": hist.storage.Mean,
    "weighted_mean": hist.storage.WeightedMean,
}


def column(c, n):
    """A fill argument: (its n values as numpy holds them, what hist.fill is given)."""
    kind = c["kind"]
    if "one" in c:
        one = {"f64": float, "i64": int, "bool": bool, "str": str}[kind](c["one"])
        return [one] * n, one
    values = c["values"]
    if kind == "f64":
        arr = floats(values)
    elif kind == "f32":
        arr = floats(values).astype(np.float32)
    elif kind == "i64":
        arr = np.array(values, dtype=np.int64)
    elif kind == "bool":
        arr = np.array(values, dtype=np.bool_)
    else:
        arr = list(values)
    return arr, arr


def local_indices(h, cols):
    """Each entry's bin in the flow layout (or None when it is not counted), with hist's
    own axis.index for continuous axes and the axis' categories for category axes."""
    n = len(cols[0])
    flat = np.zeros(n, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    for ax, col in zip(h.axes, cols):
        size = ax.size
        under, over = ax.traits.underflow, ax.traits.overflow
        if isinstance(ax, (hist.axis.StrCategory, hist.axis.IntCategory)):
            pos = {c: i for i, c in enumerate(ax)}
            vals = col if isinstance(ax, hist.axis.StrCategory) else [int(v) for v in col]
            idx = np.array([pos.get(v, size) for v in vals], dtype=np.int64)
        elif isinstance(ax, hist.axis.Boolean):
            idx = np.asarray(col).astype(bool).astype(np.int64)
        elif isinstance(ax, hist.axis.Integer):
            idx = np.asarray(ax.index(np.asarray(col, dtype=np.int64)), dtype=np.int64)
        else:
            idx = np.asarray(ax.index(np.asarray(col, dtype=np.float64)), dtype=np.int64)
        keep &= ((idx >= 0) | under) & ((idx < size) | over)
        local = idx + (1 if under else 0)
        ext = size + (1 if under else 0) + (1 if over else 0)
        flat = flat * ext + np.clip(local, 0, ext - 1)
    return flat, keep


def exact_refs(h, storage, cols, weights, sample):
    shape = h.values(flow=True).shape
    nbins = int(np.prod(shape))
    flat, keep = local_indices(h, cols)
    sums = [[Fraction(0)] * nbins for _ in range(5)]
    special = [False] * nbins
    for j in range(len(flat)):
        if not keep[j]:
            continue
        b = int(flat[j])
        w = 1.0 if weights is None else float(weights[j])
        x = 0.0 if sample is None else float(sample[j])
        if not (math.isfinite(w) and math.isfinite(x)):
            special[b] = True
            continue
        fw, fx = Fraction(w), Fraction(x)
        for k, v in enumerate((fw, fw * fw, fw * fx, fw * fx * fx, Fraction(1))):
            sums[k][b] += v
    values, variances, counts = [], [], []
    for b in range(nbins):
        sw, sw2, swx, swxx, n = (s[b] for s in sums)
        if special[b]:
            values.append(None), variances.append(None), counts.append(None)
            continue
        if storage in ("int64", "double", "weight"):
            values.append(float(sw))
            variances.append(float(sw2) if storage == "weight" else float(sw))
            counts.append(float(sw))
        elif storage == "mean":
            value = float(swx / n) if n else 0.0
            var = float((n * swxx - swx * swx) / (n * (n - 1))) if n > 1 else math.nan
            values.append(value)
            variances.append(var / float(n) if n > 1 else math.nan)
            counts.append(float(n))
        else:
            value = float(swx / sw) if sw else 0.0
            den = sw * sw - sw2
            var = float((sw * swxx - swx * swx) / den) if den else math.nan
            fw, fw2 = float(sw), float(sw2)
            values.append(value)
            variances.append(var / fw if fw * fw > fw2 else math.nan)
            counts.append(fw * fw / fw2 if fw2 != 0 else 0.0)
    return {"values": values, "variances": variances, "counts": counts}


def listify(a):
    return None if a is None else np.asarray(a, dtype=np.float64).ravel().tolist()


def run_case(case):
    spec = case["spec"]
    axes = [make_axis(a) for a in spec["axes"]]
    label = spec.get("label", "")
    h = hist.Hist(*axes, storage=STORAGES[spec["storage"]](), **({"label": label} if label else {}))
    n = case["n"]
    arrays, args = [], []
    for c in case["columns"]:
        arr, arg = column(c, n)
        arrays.append(arr)
        args.append(arg)
    kw = {}
    weights = None
    if case.get("weight") is not None:
        w = case["weight"]
        if "one" in w:
            kw["weight"] = float(w["one"])
            weights = [float(w["one"])] * n
        else:
            kw["weight"] = floats(w["each"])
            weights = kw["weight"]
    sample = None
    if case.get("sample") is not None:
        sample = floats(case["sample"])
        kw["sample"] = sample
    h.fill(*args, **kw)

    ref_uhi = json.loads(json.dumps(h, default=uj.default))
    out = {
        "ref": {
            "values": listify(h.values(flow=True)),
            "variances": listify(h.variances(flow=True)),
            "counts": listify(h.counts(flow=True)),
            "uhi": ref_uhi,
        },
        "exact": exact_refs(h, spec["storage"], arrays, weights, sample),
    }

    ours = json.loads(case["ours_uhi"])
    validate(ours)
    loaded = hist.Hist(json.loads(case["ours_uhi"], object_hook=uj.object_hook))
    same_axes = []
    for a, b in zip(loaded.axes, h.axes):
        same_axes.append(
            type(a).__name__ == type(b).__name__
            and a.traits == b.traits
            and a.name == b.name
            and a.label == b.label
            and (
                list(a) == list(b)
                if isinstance(a, (hist.axis.StrCategory, hist.axis.IntCategory))
                else np.allclose(a.edges, b.edges, rtol=1e-15, atol=0)
            )
        )
    out["loaded"] = {
        "storage": loaded.storage_type.__name__,
        "ref_storage": h.storage_type.__name__,
        "same_axes": same_axes,
        "values": listify(loaded.values(flow=True)),
        "variances": listify(loaded.variances(flow=True)),
        "counts": listify(loaded.counts(flow=True)),
    }
    return out


def main():
    req = json.load(sys.stdin)
    results = [run_case(c) for c in req["cases"]]
    json.dump({"validator": VALIDATOR, "results": results}, sys.stdout)


main()
