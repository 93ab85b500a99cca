"""`casa-submit status` on a large synthetic run directory: N nodes with a state file each
(run by ci/bench). Prints the wall time.

    python bench/bench_status.py CASA_SUBMIT [NODES]
"""

import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    submit = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as run:
        os.makedirs(os.path.join(run, "state"))
        with open(os.path.join(run, "casa.dag"), "w") as dag:
            for i in range(n):
                dag.write(f"JOB leaf-{i:07d} leaf.sub\n")
        json.dump({"totals": {"leaf_ranges": [{"dataset": "DY", "first": 0, "count": n // 2, "events": 10**6 * (n // 2)},
                                              {"dataset": "ZZ", "first": n // 2, "count": n - n // 2, "events": 10**6 * (n - n // 2)}]}},
                  open(os.path.join(run, "manifest.json"), "w"))
        t = time.time()
        for i in range(n):
            status = "done" if i % 10 else "failed"
            s = {"format": "casa-state", "version": "1.0", "node": f"leaf-{i:07d}", "status": status,
                 "attempts": [{"started_unix": t + i, "ended_unix": t + i + 60, "host": "worker", "exit_code": 0 if i % 10 else 10,
                               "exit_class": "success" if i % 10 else "retryable_input", "post_exit": 0 if i % 10 else 1,
                               "message": "ok"}],
                 "message": "", "events_expected": 10**6, "events_done": 10**6 if i % 10 else 0}
            with open(os.path.join(run, "state", f"leaf-{i:07d}.json"), "w") as f:
                json.dump(s, f)
        subprocess.run(["sync"])
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([submit, "status", run, "--json"], check=True, capture_output=True)
            w = time.perf_counter() - t0
            best = w if best is None else min(best, w)
        print(f"status on {n:,} nodes: {best:.2f} s (best of 3, page cache warm)")


if __name__ == "__main__":
    main()
