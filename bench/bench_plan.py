"""Plan a synthetic preprocessed fileset of 10,000 files x 100 steps (1 million chunks) and
report wall time, peak RSS and the size of the run directory (run by ci/bench).

    python bench/bench_plan.py CASA_SUBMIT PLUGIN WRAPPER [EVENTS_PER_JOB]
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def main():
    submit, plugin, wrapper = sys.argv[1:4]
    epj = sys.argv[4] if len(sys.argv) > 4 else "1000000"
    with tempfile.TemporaryDirectory() as tmp:
        fs = {}
        for d in range(10):
            files = {}
            for f in range(1000):
                steps = [[i * 10_000, (i + 1) * 10_000] for i in range(100)]
                files[f"root://xrootd.example.org:1094//store/mc/ds{d}/file{f:05d}.root"] = {
                    "object_path": "Events", "steps": steps, "num_entries": 1_000_000,
                    "uuid": f"00000000-0000-0000-{d:04d}-{f:012d}"}
            fs[f"/Dataset{d}/Run3Summer22/NANOAODSIM"] = {"files": files, "metadata": {"is_mc": True}}
        path = os.path.join(tmp, "fileset.json")
        json.dump(fs, open(path, "w"))
        run = os.path.join(tmp, "run")
        t0 = time.perf_counter()
        p = subprocess.run([submit, "plan", path, "--plugin", plugin, "--wrapper", wrapper, "-o", run,
                            "--events-per-job", epj, "--json",
                            # Its root:// URLs are made up: there are no files to check columns in.
                            "--no-column-check"], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(p.stderr)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads(p.stdout)
        size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs_ in os.walk(run) for f in fs_ if "bin" not in dp)
        dag = os.path.getsize(os.path.join(run, "casa.dag"))
        print(f"| chunks | jobs | merge nodes | wall (s) | peak RSS (MB) | casa.dag (MB) | run dir without bin/ (MB) |")
        print(f"|---|---|---|---|---|---|---|")
        print(f"| {summary['chunks']:,} | {summary['jobs']:,} | {summary['merge_nodes']:,} | {wall:.2f} | {rss:.0f} | {dag / 1e6:.1f} | {size / 1e6:.0f} |")
        shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    main()
