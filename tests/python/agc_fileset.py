"""Write the coffea fileset for the files make_agc_files.py wrote.

    python tests/python/agc_fileset.py OUTDIR [--output FILE]

One dataset per (process, variation), named `<process>__<variation>` as the AGC names them,
in coffea's un-preprocessed fileset form ({dataset: {"files": {path: "Events"}, "metadata":
{...}}}) with absolute paths. Metadata keys are the AGC's: `process`, `variation`, `xsec`
(pb; null for data), `nevts` (the dataset's total number of events, the normalisation
denominator), plus `is_mc`. Written to OUTDIR/fileset.json unless --output says otherwise.
"""

import argparse
import json
import os
import sys

MANIFEST = "agc-files.json"


def fileset(outdir):
    try:
        with open(os.path.join(outdir, MANIFEST)) as f:
            manifest = json.load(f)
    except FileNotFoundError:
        sys.exit(f"agc_fileset.py: {os.path.join(outdir, MANIFEST)} not found: run make_agc_files.py {outdir} first")
    out = {}
    for m in manifest["files"]:
        name = f"{m['process']}__{m['variation']}"
        ds = out.setdefault(name, {"files": {}, "metadata": {
            "process": m["process"], "variation": m["variation"], "xsec": m["xsec"], "nevts": 0,
            "is_mc": m["is_mc"]}})
        ds["files"][os.path.abspath(os.path.join(outdir, m["file"]))] = "Events"
        ds["metadata"]["nevts"] += m["entries"]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir")
    p.add_argument("--output", help="where to write the fileset (default OUTDIR/fileset.json)")
    a = p.parse_args()
    path = a.output or os.path.join(a.outdir, "fileset.json")
    fs = fileset(a.outdir)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(fs, f, indent=1)
    os.replace(tmp, path)
    print(f"{len(fs)} datasets written to {path}")


if __name__ == "__main__":
    main()
