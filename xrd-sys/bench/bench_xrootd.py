"""The dimuon job over loopback XRootD vs the local file (see bench-xrootd, which runs this
inside a private network namespace as root). Scenarios are interleaved round by round, so a
busy machine slows them alike; prints a Markdown table with the best and the median wall time
of each (from the job's metrics) and its ratio to the local file with the same threads.

    python3 bench_xrootd.py WORKSPACE FILE RUNS
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ws, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
wrapper = os.path.join(ws, "target/release/casa-wrapper")
plugin = os.path.join(ws, "target/release/libdimuon.so")
PORTS = {"origin": 11094, "xcache": 11095}

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
base = tempfile.mkdtemp(prefix="casa-xrd-bench-")
os.chmod(base, 0o755)
for d in ["export/store/bench", "run", "cache", "jobs"]:
    os.makedirs(os.path.join(base, d), exist_ok=True)
for d in ["run", "cache"]:
    shutil.chown(os.path.join(base, d), "xrootd", "xrootd")
shutil.copy(path, os.path.join(base, "export/store/bench/nano.root"))
os.chmod(os.path.join(base, "export/store/bench/nano.root"), 0o644)
for name in PORTS:
    with open(os.path.join(ws, "tests/xrootd", name + ".cfg")) as f:
        text = f.read()
    text = text.replace("@BASE@", base).replace("@NAME@", name)
    text = text.replace("@ORIGIN@", "127.0.0.1:%d" % PORTS["origin"])
    with open(os.path.join(base, name + ".cfg"), "w") as f:
        f.write(text)

procs = {}


def start(name):
    # `-l -`: with a log file of its own xrootd 5.5.3 now and then crashes at start
    # (tests/xrootd/harness.rs).
    log = open(os.path.join(base, "run", name + ".log"), "a")
    procs[name] = subprocess.Popen(
        ["xrootd", "-R", "xrootd", "-n", name, "-c", os.path.join(base, name + ".cfg"),
         "-l", "-", "-p", str(PORTS[name])],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    t = time.monotonic()
    while time.monotonic() - t < 10:
        try:
            socket.create_connection(("127.0.0.1", PORTS[name]), timeout=0.2).close()
            return
        except OSError:
            if procs[name].poll() is not None:
                break
            time.sleep(0.01)
    sys.exit("%s did not start: %s" % (name, open(log.name).read()))


def stop(name):
    p = procs.pop(name)
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def entries():
    out = subprocess.run([wrapper, "inspect", path, "--tree", "Events", "--json"],
                         check=True, capture_output=True).stdout
    return json.loads(out)["trees"][0]["entries"]


N = entries()


def run(url, args):
    job = os.path.join(base, "jobs", "job.json")
    with open(job, "w") as f:
        json.dump({"format": "casa-job", "version": "1.0", "run_id": "bench", "node": "leaf-0",
                   "chunks": [{"dataset": "bench", "file": url, "tree": "Events",
                               "entry_start": 0, "entry_stop": N,
                               "metadata": {"is_mc": True}}]}, f)
    m = os.path.join(base, "m.json")
    subprocess.run([wrapper, "run", "--job", job, "--plugin", plugin,
                    "--out", os.path.join(base, "p.partial"), "--metrics", m] + args,
                   check=True, stdout=subprocess.DEVNULL)
    with open(m) as f:
        return json.load(f)


origin = "root://127.0.0.1:%d//store/bench/nano.root" % PORTS["origin"]
xcache = ["--xcache", "root://127.0.0.1:%d" % PORTS["xcache"]]
SCENARIOS = []
for t in ["2", "1"]:
    j = ["-j", t]
    SCENARIOS += [
        ("local file", t, path, j, None),
        ("root:// data server, vector reads", t, origin, j, None),
        ("root:// data server, one read per basket", t, origin, j + ["--no-vector-reads"], None),
        ("root:// via XCache, cold", t, origin, j + xcache, "cold"),
        ("root:// via XCache, warm", t, origin, j + xcache, None),
    ]

try:
    start("origin")
    start("xcache")
    walls = {i: [] for i in range(len(SCENARIOS))}
    last = {}
    for _ in range(runs):
        for i, (label, t, url, args, cold) in enumerate(SCENARIOS):
            if cold:
                # An empty cache: stop it, wipe its files, start it again.
                stop("xcache")
                for e in os.listdir(os.path.join(base, "cache")):
                    shutil.rmtree(os.path.join(base, "cache", e))
                start("xcache")
            m = run(url, args)
            walls[i].append(m["wall_s"])
            last[i] = m
    print("file: %s (%d events), %d interleaved rounds, %s, load average %s"
          % (path, N, runs, time.strftime("%Y-%m-%d"), os.getloadavg()[0]))
    print()
    print("| input | threads | best wall (ms) | median (ms) | M events/s (best) | vs local file "
          "(best / median) | read requests | MB read |")
    print("|---|---|---|---|---|---|---|---|")
    local = {}
    for i, (label, t, *_rest) in enumerate(SCENARIOS):
        best, med = min(walls[i]), statistics.median(walls[i])
        if label == "local file":
            local[t] = (best, med)
        lb, lm = local[t]
        m = last[i]
        print("| %s | %s | %.0f | %.0f | %.1f | %.0f%% / %.0f%% | %d | %.1f |"
              % (label, t, best * 1e3, med * 1e3, N / best / 1e6, lb / best * 100,
                 lm / med * 100, m["read_requests"], m["bytes_read"] / 1e6))
finally:
    for name in list(procs):
        stop(name)
    shutil.rmtree(base, ignore_errors=True)
