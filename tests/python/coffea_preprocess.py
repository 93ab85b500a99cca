"""coffea's own preprocess of a fileset, for the tests to compare casa-submit's with.

    python tests/python/coffea_preprocess.py FILESET.json STEP_SIZE ALIGN(0|1)

Prints coffea's *available* fileset (legacy dict shape) as JSON.
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

from coffea.dataset_tools import preprocess  # noqa: E402


def main():
    fileset = json.load(open(sys.argv[1]))
    step, align = int(sys.argv[2]), sys.argv[3] == "1"
    available, _updated = preprocess(fileset, step_size=step, align_clusters=align, skip_bad_files=True, save_form=False)
    print(json.dumps(available, default=lambda o: o.model_dump() if hasattr(o, "model_dump") else str(o)))


if __name__ == "__main__":
    main()
