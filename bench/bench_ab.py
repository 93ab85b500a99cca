"""A/B timing of two casa-wrapper builds on the dimuon job: runs A and B alternately (so a
busy machine slows both alike), N times each on every file, and prints the best wall and CPU
(user + system) time of each and the ratio B/A. Used to show what a reader change costs,
e.g. the basket integrity checks (docs/benchmarks.md).

    python bench/bench_ab.py WRAPPER_A WRAPPER_B LIBDIMUON FILE... [--repeat N] [--threads T]
"""

import argparse
import json
import os
import resource
import subprocess
import tempfile

import uproot


def once(wrapper, plugin, path, entries, threads, tmp):
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump({"format": "casa-job", "version": "1.0", "run_id": "ab", "node": "leaf",
                   "chunks": [{"dataset": "ab", "file": path, "tree": "Events",
                               "entry_start": 0, "entry_stop": entries}]}, f)
    metrics = os.path.join(tmp, "m.json")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([wrapper, "run", "--job", job, "--plugin", plugin, "--out", os.path.join(tmp, "p.partial"),
                    "--metrics", metrics, "-j", str(threads)], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.load(open(metrics))["wall_s"], cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("plugin")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print("| file | events | A wall (s) | B wall (s) | B/A wall | A cpu (s) | B cpu (s) | B/A cpu |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.files:
            n = uproot.open(path)["Events"].num_entries
            runs = {"a": [], "b": []}
            once(args.a, args.plugin, path, n, args.threads, tmp)  # page cache
            for _ in range(args.repeat):
                for k in ("a", "b"):
                    runs[k].append(once(getattr(args, k), args.plugin, path, n, args.threads, tmp))
            wa, wb = min(r[0] for r in runs["a"]), min(r[0] for r in runs["b"])
            ca, cb = min(r[1] for r in runs["a"]), min(r[1] for r in runs["b"])
            print(f"| {os.path.basename(path)} | {n:,} | {wa:.3f} | {wb:.3f} | {wb / wa:.3f} | "
                  f"{ca:.3f} | {cb:.3f} | {cb / ca:.3f} |")


if __name__ == "__main__":
    main()
