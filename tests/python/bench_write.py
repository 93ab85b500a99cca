"""Write a benchmark input file (see make_fixtures.write_bench).

    python tests/python/bench_write.py OUT.root EVENTS ALGORITHM LEVEL
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from make_fixtures import write_bench  # noqa: E402

if __name__ == "__main__":
    write_bench(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
