#!/usr/bin/env python3
"""Reference evaluations of correctionlib files, for casa-correction's comparison test.

For every correction and compound correction of every file given, draws random inputs from
the correction's own structure (bin edges exactly, just beside them, inside, outside, far
outside, +-inf, NaN where correctionlib's behaviour is defined; every category key plus an
unknown one; integers around the keys and at the 64-bit extremes), evaluates them with
correctionlib (its C++ evaluator, through the Python package) and writes one JSON line per
evaluation: the inputs, and the output as the 64-bit pattern of the double (so nothing is
lost) or the error message. Wrong input counts and types are included. A second part writes
small documents (formulas at the edges of the grammar, files correctionlib refuses) with
their load error or evaluations.

Usage: correction_reference.py OUT.jsonl FILE...
"""

import gzip
import json
import math
import random
import struct
import sys

import correctionlib

SAMPLES = 400


def bits(x):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return json.loads(raw)


class Info:
    """What a correction's tree says about each input: bin edges, category keys."""

    def __init__(self):
        self.edges = {}  # name -> set of finite edges
        self.uniform = set()  # names binned by a uniform binning (NaN there is undefined)
        self.keys = {}  # name -> set of category keys

    def walk(self, node):
        if not isinstance(node, dict):
            return
        t = node.get("nodetype")
        if t in ("binning", "multibinning"):
            names = [node["input"]] if t == "binning" else node["inputs"]
            axes = [node["edges"]] if t == "binning" else node["edges"]
            for name, e in zip(names, axes):
                s = self.edges.setdefault(name, set())
                if isinstance(e, dict):
                    self.uniform.add(name)
                    n, lo, hi = e["n"], e["low"], e["high"]
                    s.update(lo + (hi - lo) * i / n for i in range(n + 1))
                    s.update((lo, hi))
                else:
                    s.update(float(x) for x in e if not isinstance(x, str))
            for c in node["content"]:
                self.walk(c)
            self.walk(node["flow"])
        elif t == "category":
            self.keys.setdefault(node["input"], set()).update(i["key"] for i in node["content"])
            for i in node["content"]:
                self.walk(i["value"])
            self.walk(node.get("default"))
        elif t == "transform":
            self.walk(node["rule"])
            self.walk(node["content"])


def real_value(rng, name, info):
    edges = sorted(info.edges.get(name, ()))
    if not edges:
        edges = [-3.0, 0.0, 1.0, 300.0]
    lo, hi = edges[0], edges[-1]
    span = hi - lo if hi > lo else 1.0
    r = rng.random()
    if r < 0.25:
        return rng.choice(edges)
    if r < 0.35:
        return math.nextafter(rng.choice(edges), rng.choice((-math.inf, math.inf)))
    if r < 0.75:
        return rng.uniform(lo - 0.2 * span, hi + 0.2 * span)
    if r < 0.85:
        return rng.uniform(-1.2, 1.2)
    if r < 0.9:
        return rng.choice((-1.0, 1.0)) * (span + 1.0) * 10 ** rng.uniform(1, 8)
    if r < 0.93:
        return rng.choice((-math.inf, math.inf))
    if r < 0.95:
        return math.nan
    return rng.uniform(-5.0, 5.0)


def int_value(rng, name, info):
    keys = [k for k in info.keys.get(name, ()) if isinstance(k, int)]
    r = rng.random()
    if keys and r < 0.6:
        return rng.choice(keys)
    if r < 0.9:
        return rng.randint(-3, 40)
    if r < 0.95:
        return rng.choice((2**31, -(2**63), 2**63 - 1))
    return rng.getrandbits(64) - 2**63


def str_value(rng, name, info):
    keys = [k for k in info.keys.get(name, ()) if isinstance(k, str)]
    if keys and rng.random() < 0.93:
        return rng.choice(keys)
    return rng.choice(("casa-unknown", ""))


def draw(rng, inputs, info):
    out = []
    for v in inputs:
        if v["type"] == "real":
            out.append(real_value(rng, v["name"], info))
        elif v["type"] == "int":
            out.append(int_value(rng, v["name"], info))
        else:
            out.append(str_value(rng, v["name"], info))
    return out


def encode(args):
    enc = []
    for a in args:
        if isinstance(a, str):
            enc.append(["s", a])
        elif isinstance(a, int):
            enc.append(["i", str(a)])
        else:
            enc.append(["r", bits(a)])
    return enc


def evaluate(corr, args):
    try:
        return {"out": bits(corr.evaluate(*args)), "err": None}
    except Exception as e:  # correctionlib raises RuntimeError, ValueError, IndexError...
        return {"out": None, "err": f"{type(e).__name__}: {e}"}


def wrong(rng, args, inputs):
    """Inputs correctionlib must refuse: one fewer, one more, each one of the wrong type."""
    cases = [args[:-1], args + [1.0]] if args else [[1.0]]
    for k, v in enumerate(inputs):
        bad = {"real": ["1.0", 1], "int": [1.5, "1"], "string": [1.0, 2]}[v["type"]]
        cases.append(args[:k] + [rng.choice(bad)] + args[k + 1 :])
    return cases


def correction_lines(rng, path, doc):
    cset = correctionlib.CorrectionSet.from_file(path)
    infos = {}
    for c in doc["corrections"]:
        info = Info()
        info.walk(c["data"])
        infos[c["name"]] = info
        corr = cset[c["name"]]
        for _ in range(SAMPLES):
            args = draw(rng, c["inputs"], info)
            yield {"file": path, "compound": False, "name": c["name"], "inputs": encode(args), **evaluate(corr, args)}
        for args in wrong(rng, draw(rng, c["inputs"], info), c["inputs"]):
            yield {"file": path, "compound": False, "name": c["name"], "inputs": encode(args), **evaluate(corr, args)}
    for c in doc.get("compound_corrections") or []:
        info = Info()
        for s in c["stack"]:
            for k, v in vars(infos[s]).items():
                for name, vals in v.items() if isinstance(v, dict) else []:
                    getattr(info, k).setdefault(name, set()).update(vals)
            info.uniform |= infos[s].uniform
        corr = cset.compound[c["name"]]
        for _ in range(SAMPLES):
            args = draw(rng, c["inputs"], info)
            yield {"file": path, "compound": True, "name": c["name"], "inputs": encode(args), **evaluate(corr, args)}
        for args in wrong(rng, draw(rng, c["inputs"], info), c["inputs"]):
            yield {"file": path, "compound": True, "name": c["name"], "inputs": encode(args), **evaluate(corr, args)}


FORMULAS = [
    "x", "-x", "- x", "--x", "-(x)", "-2^2", "-x^2", "2^3^2", "2^-1", "x^-y", "8-2-1", "8/4/2",
    "x*-y", "x--1", "x - -1", "1-2", "1 -2", "1.", "1.e3", ".5", "1e5", "1E5", "1e+5", "1e-5",
    "x>=y", "x> =y", "x=>y", "x==y", "x=y", "x!=y", "!x", "x&&y||z", "x||y&&z", "x&y", "x|y",
    "x<y<z", "x>y==z<t", "(x+y)*(z-t)", "((x))", "(x", "x)", "", " ", "\tx\t+ y ",
    "log(x)", "log (x)", "log10(x)", "LOG(x)", "exp(x)", "erf(x)", "sqrt(x)", "abs(x)",
    "cos(x)", "sin(x)", "tan(x)", "acos(x)", "asin(x)", "atan(x)", "cosh(x)", "sinh(x)",
    "tanh(x)", "acosh(x)", "asinh(x)", "atanh(x)", "atan2(y,x)", "atan2(y)", "pow(x,y)",
    "pow(x, y)", "max(x,y)", "min(x,y)", "max(x,y,z)", "max(x)", "fabs(x)", "TMath::Exp(x)",
    "x[0]+x[1]*x[2]-x[3]", "x[4]", "x[ 0]", "t", "xy", "x y", "2x", "x2", "[0]", "[ 0 ]",
    "[0]*x+[1]", "[2]", "pi", "e", "1e", "1.5e-3*x", "-1.5e-3*x", "0.30000000000000004*x",
    "123456789012345678901234567890*x", "1e308*10", "1e-320", "-0", "-0.0*x",
    "x^0.5", "x^y^z", "-x^-y", "sqrt(-x)", "log(0)", "x/0", "max(x,0/0)", "min(0/0,x)",
    "atan2(0,-1)", "exp(1000)", "cosh(x*100)", "atanh(1)", "acosh(0.5)", "erf(x/2)",
]

FORMULA_POINTS = [
    (0.5, 2.0, -1.25, 3.0),
    (-0.75, 0.0, 0.3, -0.0),
    (3.0, -2.0, 1.0, 1.0),
    (1.0, 1.0, 1.0, 1.0),
    (1e-300, 1e300, -1e-5, 7.0),
    (math.nan, 1.0, math.inf, -math.inf),
]


def formula_doc(expr):
    return json.dumps({
        "schema_version": 2,
        "corrections": [{
            "name": "f", "version": 1,
            "inputs": [{"name": n, "type": "real"} for n in "xyzt"],
            "output": {"name": "out", "type": "real"},
            "data": {"nodetype": "formula", "expression": expr, "parser": "TFormula",
                     "variables": ["x", "y", "z", "t"], "parameters": [1.5, -0.25]},
        }],
    })


def simple(data, inputs=(("x", "real"),), **extra):
    c = {"name": "c", "version": 1, "inputs": [{"name": n, "type": t} for n, t in inputs],
         "output": {"name": "out", "type": "real"}, "data": data}
    c.update(extra)
    return {"schema_version": 2, "corrections": [c]}


def binning(edges, flow="clamp", content=None, inp="x"):
    n = edges["n"] if isinstance(edges, dict) else len(edges) - 1
    return {"nodetype": "binning", "input": inp, "edges": edges,
            "content": content if content is not None else [float(i) for i in range(n)], "flow": flow}


BAD_DOCS = [
    simple(binning([0, 1, 2])),  # integer edges: correctionlib requires reals
    simple(binning([0.0, 1, 2.0])),
    simple(binning({"n": 2, "low": 0, "high": 1.0})),
    simple(binning({"n": 2, "low": 0.0, "high": 1.0})),
    simple(binning({"n": 0, "low": 0.0, "high": 1.0}, content=[])),
    simple(binning([0.0, 2.0, 1.0])),
    simple(binning([0.0, 1.0, 1.0])),
    simple(binning([0.0, 1.0, 2.0], content=[1.0])),
    simple(binning([0.0, 1.0, 2.0], inp="y")),
    simple(binning([0.0, 1.0, 2.0], inp="s"), inputs=(("s", "string"),)),
    simple(binning(["-inf", 0.0, "+inf"], flow="error")),
    simple(binning(["-Infinity", 0.0, "inf"])),
    simple(binning([0.0, 1.0], flow="nonsense")),
    simple({"nodetype": "category", "input": "x", "content": [{"key": 1, "value": 1.0}]}, inputs=(("x", "string"),)),
    simple({"nodetype": "category", "input": "x", "content": [{"key": "a", "value": 1.0}]}, inputs=(("x", "int"),)),
    simple({"nodetype": "category", "input": "x", "content": [{"key": 4294967296, "value": 1.0}]}, inputs=(("x", "int"),)),
    simple({"nodetype": "category", "input": "x", "content": [{"key": 1.0, "value": 1.0}]}, inputs=(("x", "int"),)),
    simple({"nodetype": "category", "input": "x", "content": [], "default": 2.5}, inputs=(("x", "int"),)),
    simple({"nodetype": "formula", "expression": "x", "parser": "TFormula", "variables": ["x"]}, inputs=(("x", "int"),)),
    simple({"nodetype": "formula", "expression": "x", "parser": "numexpr", "variables": ["x"]}),
    simple({"nodetype": "formula", "expression": "y", "parser": "TFormula", "variables": ["x"]}),
    simple({"nodetype": "formula", "expression": "[1]", "parser": "TFormula", "variables": ["x"], "parameters": [1.0]}),
    simple({"nodetype": "formularef", "index": 1, "parameters": [1.0]},
           generic_formulas=[{"nodetype": "formula", "expression": "[0]*x", "parser": "TFormula", "variables": ["x"]}]),
    simple({"nodetype": "formularef", "index": 0, "parameters": [2.0, 3]},
           generic_formulas=[{"nodetype": "formula", "expression": "[0]*x+[1]", "parser": "TFormula", "variables": ["x"]}]),
    simple({"nodetype": "transform", "input": "s", "rule": 1.0, "content": 1.0}, inputs=(("s", "string"),)),
    simple({"nodetype": "hashprng", "inputs": ["s"], "distribution": "normal"}, inputs=(("s", "string"),)),
    simple({"nodetype": "hashprng", "inputs": ["x"], "distribution": "poisson"}),
    simple({"nodetype": "nonsense"}),
    simple({"content": 1.0}),
    simple("1.0"),
    simple(1),
    simple(1.0, inputs=(("x", "complex"),)),
    {"schema_version": 1, "corrections": []},
    {"schema_version": 3, "corrections": []},
    {"schema_version": 2},
    {"schema_version": 2, "corrections": [simple(1.0)["corrections"][0], simple(2.0)["corrections"][0]]},
    {"schema_version": 2, "corrections": [], "compound_corrections": [
        {"name": "k", "inputs": [], "output": {"name": "o", "type": "real"}, "inputs_update": [],
         "input_op": "*", "output_op": "*", "stack": ["missing"]}]},
    {"schema_version": 2, "corrections": [simple(1.0)["corrections"][0]], "compound_corrections": [
        {"name": "k", "inputs": [{"name": "x", "type": "real"}], "output": {"name": "o", "type": "real"},
         "inputs_update": ["x"], "input_op": "last", "output_op": "*", "stack": ["c"]}]},
    {"schema_version": 2, "corrections": [simple(1.0)["corrections"][0]], "compound_corrections": [
        {"name": "k", "inputs": [{"name": "y", "type": "real"}], "output": {"name": "o", "type": "real"},
         "inputs_update": [], "input_op": "*", "output_op": "*", "stack": ["c"]}]},
    {"schema_version": 2, "corrections": [simple(1.0, inputs=(("x", "int"),))["corrections"][0]], "compound_corrections": [
        {"name": "k", "inputs": [{"name": "x", "type": "int"}], "output": {"name": "o", "type": "real"},
         "inputs_update": ["x"], "input_op": "*", "output_op": "*", "stack": ["c"]}]},
]

RAW_DOCS = [
    "{",
    "[]",
    '{"schema_version": 2, "corrections": [],}',
    '{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [], '
    '"output": {"name": "o", "type": "real"}, "data": NaN}]}',
    '{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [], '
    '"output": {"name": "o", "type": "real"}, "data": -Infinity}]}',
    '{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [], '
    '"output": {"name": "o", "type": "real"}, "data": 1e400}]}',
    '{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [], '
    '"output": {"name": "o", "type": "real"}, "data": 2.2250738585072011e-308}]}',
    '{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [], '
    '"output": {"name": "o", "type": "real"}, "data": 1e-400}]}',
    '{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [], '
    '"output": {"name": "o", "type": "int"}, "data": 1.0}]}',
]


def doc_lines(rng):
    docs = [formula_doc(e) for e in FORMULAS] + [json.dumps(d) for d in BAD_DOCS] + RAW_DOCS
    # Numbers rapidjson's normal-precision reading may round differently from the nearest
    # double: 17 significant digits, long integers, tiny and huge exponents.
    for _ in range(300):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(15, 22)))
        text = f"{rng.choice(['', '-'])}{digits[0]}.{digits[1:]}e{rng.randint(-320, 300)}"
        docs.append('{"schema_version": 2, "corrections": [{"name": "c", "version": 1, "inputs": [], '
                    f'"output": {{"name": "o", "type": "real"}}, "data": {text}}}]}}')
    for text in docs:
        try:
            cset = correctionlib.CorrectionSet.from_string(text)
        except Exception as e:
            yield {"doc": text, "load_error": f"{type(e).__name__}: {e}", "evals": []}
            continue
        evals = []
        corr = cset["c"] if "c" in list(cset) else cset["f"]
        ninputs = len(corr.inputs)
        points = FORMULA_POINTS if ninputs == 4 else [(p[0],) for p in FORMULA_POINTS] if ninputs == 1 else [()]
        for p in points:
            args = [int(v) if corr.inputs[k].type == "int" and math.isfinite(v) else v for k, v in enumerate(p)]
            if any(isinstance(a, float) and corr.inputs[k].type == "int" for k, a in enumerate(args)):
                continue
            evals.append({"inputs": encode(args), **evaluate(corr, args)})
        if "k" in list(cset.compound):
            k = cset.compound["k"]
            for p in points:
                args = [int(v) if k.inputs[i].type == "int" and math.isfinite(v) else v for i, v in enumerate(p)]
                evals.append({"compound": True, "inputs": encode(args), **evaluate(k, args)})
        yield {"doc": text, "load_error": None, "evals": evals}


def main():
    out_path, files = sys.argv[1], sys.argv[2:]
    rng = random.Random(20261203)
    n = 0
    with open(out_path, "w") as out:
        for path in files:
            for line in correction_lines(rng, path, load(path)):
                out.write(json.dumps(line) + "\n")
                n += 1
        for line in doc_lines(rng):
            out.write(json.dumps(line) + "\n")
            n += 1
    print(f"{n} reference lines written to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
