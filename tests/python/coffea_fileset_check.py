"""Load a fileset written by casa-submit with coffea's own fileset model (pydantic
DataGroupSpec) and print, per dataset and file, the steps coffea sees.

    python tests/python/coffea_fileset_check.py FILESET.json[.gz]
"""

import gzip
import json
import sys
import warnings

warnings.filterwarnings("ignore")

from coffea.dataset_tools.filespec import DataGroupSpec  # noqa: E402


def main():
    path = sys.argv[1]
    raw = open(path, "rb").read()
    text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    spec = DataGroupSpec(json.loads(text))
    out = {}
    for name, ds in spec.root.items():
        out[name] = {str(p): [list(s) for s in f.steps] if f.steps is not None else None for p, f in ds.files.root.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
