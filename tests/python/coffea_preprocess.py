"""coffea's own preprocess of a fileset, for the tests to compare casa-submit's with.

    python tests/python/coffea_preprocess.py FILESET.json STEP_SIZE ALIGN(0|1)

Prints coffea's *available* fileset (legacy dict shape) as JSON.
"""

import json
import sys
import warnings

warnings.filterwarnings("ignore")

import uproot  # noqa: E402
from coffea.dataset_tools import preprocess  # noqa: E402

# coffea's align_clusters asks for `common_entry_offsets`, which uproot's RNTuple model lacks
# (coffea fails on RNTuples with align_clusters). Give it the RNTuple's cluster starts as
# uproot reads them, and its end, so coffea's own step rule runs on them.
_RNTuple = uproot.models.RNTuple.Model_ROOT_3a3a_RNTuple
if not hasattr(_RNTuple, "common_entry_offsets"):
    _RNTuple.common_entry_offsets = lambda self: [int(c.num_first_entry) for c in self.cluster_summaries] + [
        int(self.num_entries)
    ]


def main():
    fileset = json.load(open(sys.argv[1]))
    step, align = int(sys.argv[2]), sys.argv[3] == "1"
    available, _updated = preprocess(fileset, step_size=step, align_clusters=align, skip_bad_files=True, save_form=False)
    print(json.dumps(available, default=lambda o: o.model_dump() if hasattr(o, "model_dump") else str(o)))


if __name__ == "__main__":
    main()
