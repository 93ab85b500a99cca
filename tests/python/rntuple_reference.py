"""Dump every numeric field of every RNTuple in a ROOT file as uproot reads it, for the Rust
tests to compare with bit for bit.

    python tests/python/rntuple_reference.py FILE.root OUTDIR

OUTDIR/manifest.json lists, per RNTuple: the entries, the first entry of every cluster
(uproot's cluster summaries), and per field path (`Muon_pt`, `_collection0.Muon_pt`, and
`n<collection>` for collections of records, counted by awkward): the dtype, whether it is
jagged, values per item, and raw little-endian files of its values and int64 offsets.
Fields uproot does not read as numbers or lists of numbers are listed under "skipped".
Strings are lists of uint8 (as casa reads them), Real16 values float32 (exact), and
Real32Quant doubles come from ROOT's RDataFrame, marked "source": "ROOT" (uproot narrows them
to float32).
"""

import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")

import awkward as ak  # noqa: E402
import numpy as np  # noqa: E402
import uproot  # noqa: E402


def write(out, arr):
    fname = f"c{len(os.listdir(out))}.bin"
    arr = np.ascontiguousarray(arr)
    arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(out, fname))
    return fname


def walk(out, name, arr, fields, skipped, depth_list=False):
    """Flatten one awkward array into casa-shaped columns."""
    form = arr.layout.form
    if not isinstance(form, ak.forms.RecordForm):
        arr = ak.without_parameters(arr)  # std::string: a list of uint8, as casa reads it
    if isinstance(form, ak.forms.RecordForm):
        for f in form.fields:
            # std::pair / std::tuple members are ROOT's `_0`, `_1` (awkward's tuples say "0").
            member = f"_{f}" if form.is_tuple or f.isdigit() else f
            walk(out, f"{name}.{member}", arr[f], fields, skipped, depth_list)
        return
    t = arr.type.content
    if isinstance(t, ak.types.NumpyType):
        v = ak.to_numpy(arr)
        if v.dtype == np.float16:  # Real16 columns: casa hands them out as float32 (exact)
            v = v.astype(np.float32)
        fields[name] = {"dtype": v.dtype.name, "jagged": False, "inner": 1, "values": write(out, v)}
        return
    if isinstance(t, ak.types.RegularType) and isinstance(t.content, ak.types.NumpyType):
        v = ak.to_numpy(arr)
        fields[name] = {
            "dtype": v.dtype.name,
            "jagged": False,
            "inner": int(t.size),
            "values": write(out, v.reshape(-1)),
        }
        return
    if isinstance(t, ak.types.ListType):
        inner = t.content
        if isinstance(inner, ak.types.NumpyType):
            off = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(arr)))]).astype(np.int64)
            v = ak.to_numpy(ak.flatten(arr))
            fields[name] = {
                "dtype": v.dtype.name,
                "jagged": True,
                "inner": 1,
                "values": write(out, v),
                "offsets": write(out, off),
            }
            return
        if isinstance(inner, ak.types.RecordType):
            counts = ak.to_numpy(ak.num(arr)).astype(np.uint32)
            fields["n" + name] = {"dtype": "uint32", "jagged": False, "inner": 1, "values": write(out, counts)}
            for f in inner.fields:
                sub = arr[f]
                st = sub.type.content
                if isinstance(st, ak.types.ListType) and isinstance(st.content, ak.types.NumpyType):
                    off = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(sub)))]).astype(np.int64)
                    v = ak.to_numpy(ak.flatten(sub))
                    fields[f"{name}.{f}"] = {
                        "dtype": v.dtype.name,
                        "jagged": True,
                        "inner": 1,
                        "values": write(out, v),
                        "offsets": write(out, off),
                    }
                else:
                    skipped[f"{name}.{f}"] = str(st)
            return
    skipped[name] = str(t)


def dump(path, out):
    os.makedirs(out, exist_ok=True)
    f = uproot.open(path)
    manifest = {"file": path, "uuid": str(f.file.uuid), "ntuples": {}}
    for key, cls in f.classnames(cycle=False).items():
        if cls != "ROOT::RNTuple":
            continue
        r = f[key]
        info = {
            "entries": int(r.num_entries),
            "clusters": [int(c.num_first_entry) for c in r.cluster_summaries],
            "fields": {},
            "skipped": {},
        }
        arrays = r.arrays()
        # C++ `char` is signed on the platforms ROOT writes from (and a TTree's Char_t reads
        # as int8 in uproot too); uproot's RNTuple reader hands Char columns out as uint8.
        chars = {
            fr.field_name
            for i, fr in enumerate(r.field_records)
            if fr.parent_field_id == i and (fr.type_name == "char" or fr.type_name.endswith("<char>"))
        }
        for name in arrays.fields:
            try:
                got = {}
                walk(out, name, arrays[name], got, info["skipped"])
                for k, v in got.items():
                    if k in chars and v["dtype"] == "uint8":
                        v["dtype"] = "int8"  # same bytes, signed
                info["fields"].update(got)
            except Exception as e:  # noqa: BLE001
                info["skipped"][name] = f"{type(e).__name__}: {e}"
        # Real32Quant fields of doubles: uproot returns float32; ROOT itself (RDataFrame, the
        # writer's own reader) is the reference for their float64 values.
        fnames = {i: fr.field_name for i, fr in enumerate(r.field_records) if fr.parent_field_id == i}
        quant = [fnames[c.field_id] for c in r.column_records if c.type == 0x1D and c.field_id in fnames]
        if quant:
            import ROOT

            got = ROOT.RDataFrame(key, path).AsNumpy(quant)
            for q in quant:
                v = np.ascontiguousarray(got[q])
                info["fields"][q] = {
                    "dtype": v.dtype.name, "jagged": False, "inner": 1, "values": write(out, v), "source": "ROOT",
                }
        manifest["ntuples"][key] = info
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)


if __name__ == "__main__":
    dump(sys.argv[1], sys.argv[2])
