"""Dump every numeric and jagged-numeric branch of every TTree in a ROOT file, as uproot reads
it, for the Rust tests to compare with bit for bit.

    python tests/python/reference_dump.py FILE.root OUTDIR

OUTDIR/manifest.json lists, per tree, the entries, uproot's common_entry_offsets, and per
branch: the dtype, whether it is jagged, the number of values per item, and the raw
little-endian files of its values (and int64 offsets). Branches uproot cannot read as numbers
are listed under "skipped" with uproot's interpretation, so the test can require that our
reader refuses them; branches uproot itself fails on are listed under "failed".

Double32_t/Float16_t values packed in a range ([min,max,nbits]) are the one place where uproot
is not the authority: it decodes them as raw*((max-min)/2**nbits)+min, while ROOT computes
raw/factor+min with factor=2**nbits/(max-min) (and 0xffffffff for 32 bits), which differs in
the last bit for about 10% of values and by a whole step for 32 bits. For those branches the
reference is ROOT itself (RDataFrame from the PyPI `root` wheel), marked "source": "ROOT".
"""

import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402


def numeric_interpretation(interp):
    base = interp
    jagged = False
    if isinstance(base, uproot.interpretation.jagged.AsJagged):
        jagged = True
        base = base.content
    if isinstance(base, uproot.interpretation.objects.AsStridedObjects):
        return None  # objects (TLorentzVector, ...): not a numeric column
    if isinstance(base, uproot.interpretation.objects.AsObjects):
        # std::vector<numeric> members of split objects (xAOD `*Aux.` stores): jagged numbers.
        model = base.model
        if isinstance(model, uproot.containers.AsVector) and isinstance(model.values, np.dtype):
            return True, uproot.interpretation.numerical.AsDtype(model.values)
        return None
    if isinstance(base, uproot.interpretation.numerical.Numerical):
        return jagged, base
    return None


def is_ranged(base):
    packed = (uproot.interpretation.numerical.AsDouble32, uproot.interpretation.numerical.AsFloat16)
    return isinstance(base, packed) and not base.is_truncated


def root_values(path, tree, branch, out):
    import ROOT

    name = branch.name
    parent = branch.parent
    column = f"{parent.name}.{name}" if isinstance(parent, uproot.behaviors.TBranch.TBranch) else name
    values = ROOT.RDataFrame(tree, path).AsNumpy([column])[column]
    values = np.ascontiguousarray(values).reshape(-1)
    dt = values.dtype.newbyteorder("<")
    fname = f"c{len(os.listdir(out))}.values"
    values.astype(dt).tofile(os.path.join(out, fname))
    return {"dtype": dt.name, "jagged": False, "inner": 1, "values": fname, "source": "ROOT"}


def dump(path, out):
    os.makedirs(out, exist_ok=True)
    f = uproot.open(path)
    manifest = {"file": path, "uuid": str(f.file.uuid), "trees": {}}
    for key, cls in f.classnames(cycle=False).items():
        if cls != "TTree":
            continue
        tree = f[key]
        tinfo = {"entries": int(tree.num_entries), "branches": {}, "skipped": {}}
        # Branches are keyed by their full path (`parent/child`): a bare name can be shared by
        # several branches (uproot-issue126a.root), and each must be compared with its own.
        leaves = [
            (bpath, b)
            for bpath, b in tree.iteritems(recursive=True, full_paths=True)
            if len(b.branches) == 0
        ]
        try:
            tinfo["common_entry_offsets"] = [int(x) for x in tree.common_entry_offsets()]
        except Exception as e:  # noqa: BLE001
            tinfo["common_entry_offsets_error"] = str(e)
        for bpath, b in leaves:
            try:
                interp = b.interpretation
            except Exception as e:  # noqa: BLE001
                tinfo["skipped"][bpath] = f"no interpretation: {e}"
                continue
            kind = numeric_interpretation(interp)
            if kind is None:
                tinfo["skipped"][bpath] = str(interp)
                continue
            jagged, base = kind
            if is_ranged(base):
                tinfo["branches"][bpath] = root_values(path, key, b, out)
                continue
            try:
                arr = b.array(library="ak")
            except Exception as e:  # noqa: BLE001
                tinfo.setdefault("failed", {})[bpath] = str(e).splitlines()[0]
                continue
            if jagged:
                items = ak.to_numpy(ak.flatten(arr, axis=1))
                counts = ak.to_numpy(ak.num(arr, axis=1))
                offsets = np.concatenate([[0], np.cumsum(counts)]).astype("<i8")
            else:
                items = ak.to_numpy(arr)
                offsets = None
            inner = int(np.prod(items.shape[1:])) if items.ndim > 1 else 1
            content = items
            content = np.ascontiguousarray(content).reshape(-1)
            dt = content.dtype.newbyteorder("<")
            safe = f"c{len(os.listdir(out))}"  # names can be long or contain '/'

            content.astype(dt).tofile(os.path.join(out, f"{safe}.values"))
            entry = {"dtype": dt.name, "jagged": jagged, "inner": inner, "values": f"{safe}.values"}
            if offsets is not None:
                offsets.tofile(os.path.join(out, f"{safe}.offsets"))
                entry["offsets"] = f"{safe}.offsets"
            tinfo["branches"][bpath] = entry
        manifest["trees"][key] = tinfo
    with open(os.path.join(out, "manifest.json"), "w") as fp:
        json.dump(manifest, fp, indent=1)


if __name__ == "__main__":
    dump(sys.argv[1], sys.argv[2])
