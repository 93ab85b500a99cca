"""What self-checkpointing costs and saves (casa-wrapper run --checkpoint-dir). Not a test.

    python bench/bench_checkpoint.py WRAPPER PLUGIN FILE... [--interval 300] [--repeat 3]

One job over every entry of the FILEs (tree Events; the same file under several names makes a
longer job), each way run --repeat times (the fastest kept):
  plain      no checkpointing;
  armed      --checkpoint-dir, no checkpoint due (the per-batch progress hint only);
  every      --checkpoint-every 0: a checkpoint, an exit and a resume after every batch;
  evicted    SIGTERM half-way through, then resumed, against starting over.
Prints a markdown table: time and bytes per checkpoint, the cost of one checkpoint + resume,
and the overhead at the default interval (one checkpoint per --interval seconds of job time).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import uproot


def job_spec(path, files, entries):
    spec = {
        "format": "casa-job",
        "version": "1.0",
        "run_id": "bench",
        "node": "leaf-000000",
        "chunks": [
            {
                "dataset": "ZZ",
                "file": os.path.abspath(f),
                "tree": "Events",
                "entry_start": 0,
                "entry_stop": n,
                "metadata": {"is_mc": True},
            }
            for f, n in zip(files, entries)
        ],
    }
    with open(path, "w") as f:
        json.dump(spec, f)


def run(args, d, extra, term_after=None):
    cmd = [args.wrapper, "run", "--job", f"{d}/job.json", "--plugin", args.plugin,
           "--out", f"{d}/p.partial", "--metrics", f"{d}/m.json", "-j", "1"] + extra
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    if term_after is not None:
        try:
            p.wait(timeout=term_after)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGTERM)
    _, err = p.communicate()
    wall = time.perf_counter() - t
    if p.returncode not in (0, 85):
        sys.exit(f"{cmd}: exit {p.returncode}: {err.decode()}")
    return p.returncode, wall


def metrics(d):
    with open(f"{d}/m.json") as f:
        return json.load(f)


def fresh():
    d = tempfile.mkdtemp(prefix="casa-bench-ckpt-")
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wrapper")
    ap.add_argument("plugin")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--interval", type=float, default=300.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    entries = [uproot.open(f)["Events"].num_entries for f in args.files]

    def one(extra):
        d = fresh()
        job_spec(f"{d}/job.json", args.files, entries)
        return d, run(args, d, extra)[1]

    plain = min(one([])[1] for _ in range(args.repeat))
    def armed_run():
        d = fresh()
        job_spec(f"{d}/job.json", args.files, entries)
        return run(args, d, ["--checkpoint-dir", f"{d}/ckpt", "--checkpoint-every", "1e9"])[1]

    armed = min(armed_run() for _ in range(args.repeat))

    # A checkpoint after every batch: runs until exit 0.
    best = None
    for _ in range(args.repeat):
        d = fresh()
        job_spec(f"{d}/job.json", args.files, entries)
        ck = ["--checkpoint-dir", f"{d}/ckpt", "--checkpoint-every", "0"]
        total, runs = 0.0, 0
        while True:
            code, wall = run(args, d, ck)
            total, runs = total + wall, runs + 1
            if code == 0:
                break
        m = metrics(d)["checkpoint"]
        if best is None or total < best[0]:
            best = (total, runs, m)
    total, runs, m = best
    n = m["written"]
    write_ms = 1e3 * m["write_s"] / n
    per_ckpt = (total - plain) / n  # write + exit + restart + resume
    overhead = per_ckpt / args.interval
    hint = (armed - plain) / plain

    # Evicted half-way: resume vs start over.
    d = fresh()
    job_spec(f"{d}/job.json", args.files, entries)
    ck = ["--checkpoint-dir", f"{d}/ckpt", "--checkpoint-every", "1e9"]
    code, first = run(args, d, ck, term_after=plain / 2)
    code2, rest = run(args, d, ck)
    assert code == 85 and code2 == 0, (code, code2)

    rows = [
        ("job (events)", f"{sum(entries):,}"),
        ("batches", f"{n} (a checkpoint after each)"),
        ("plain run, s", f"{plain:.2f}"),
        ("armed, no checkpoint due (progress hint per batch), s", f"{armed:.2f} ({100 * hint:+.2f} %)"),
        ("checkpoint size, bytes", f"{m['last_bytes']:,}"),
        ("checkpoint write (serialise + zstd + fsync + rename), ms", f"{write_ms:.1f}"),
        ("one checkpoint + exit + restart + resume, ms", f"{1e3 * per_ckpt:.0f}"),
        (f"overhead at one checkpoint per {args.interval:.0f} s", f"{100 * overhead:.3f} %"),
        ("evicted at half: first run + resumed run, s", f"{first:.2f} + {rest:.2f}"),
        ("work saved vs starting over, s", f"{plain - rest:.2f} ({100 * (plain - rest) / plain:.0f} % of the job)"),
    ]
    names = sorted({os.path.basename(os.path.realpath(f)) for f in args.files})
    print(f"casa-wrapper checkpointing, {os.path.basename(args.plugin)} on {len(args.files)} x {', '.join(names)}")
    print()
    print("| measure | value |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
