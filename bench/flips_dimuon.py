"""How often a flipped bit in the baskets the dimuon job reads goes unnoticed: N copies of a
file, each with one random bit flipped (fixed seed) inside the compressed payload of a basket
of nMuon or Muon_{pt,eta,phi,mass,charge}, each run through casa-wrapper with the dimuon
plugin. Every run is classed as an error (the flip was caught: it must be exit 11 naming the
file), the same histogram as the clean file (the flip changed nothing the job uses), or exit 0
with a different histogram: silent wrong data. Basket positions come from uproot, not from
casa. Not a test: ZSTD frames as ROOT writes them carry no checksum, so the silent rate is
only lowered by casa's cross-checks, not driven to zero.

    python bench/flips_dimuon.py CASA_WRAPPER LIBDIMUON FILE.root [N [SEED]]

With CASA_FULL_BASKET_CHECKS=1 in the environment the jobs also check ZSTD baskets'
entry-offset tables; FLIPS_NO_HEADER=1 prints the table row alone.
"""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile

import uproot

BRANCHES = ["nMuon", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge"]


def payload_ranges(path):
    """(start, stop) file offsets of the compressed payload (after the key) of every basket of
    the branches the dimuon job reads."""
    raw = open(path, "rb").read()
    tree = uproot.open(path)["Events"]
    out = []
    for name in BRANCHES:
        b = tree[name]
        seeks, sizes = b.member("fBasketSeek"), b.member("fBasketBytes")
        for i in range(b.num_baskets):
            seek, n = int(seeks[i]), int(sizes[i])
            keylen = struct.unpack(">h", raw[seek + 14:seek + 16])[0]
            out.append((seek + keylen, seek + n))
    return raw, out


def entries_of(path):
    return uproot.open(path)["Events"].num_entries


def run(wrapper, plugin, path, entries, tmp):
    job = os.path.join(tmp, "job.json")
    with open(job, "w") as f:
        json.dump({"format": "casa-job", "version": "1.0", "run_id": "flips", "node": "leaf",
                   "chunks": [{"dataset": "flips", "file": path, "tree": "Events",
                               "entry_start": 0, "entry_stop": entries}]}, f)
    out = os.path.join(tmp, "p.partial")
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.run([wrapper, "run", "--job", job, "--plugin", plugin, "--out", out, "-j", "2"],
                       capture_output=True, text=True)
    payload = None
    if p.returncode == 0:
        data = open(out, "rb").read()
        h = struct.unpack("<I", data[12:16])[0]
        n = struct.unpack("<Q", data[16:24])[0]
        payload = data[24 + h:24 + h + n]
    return p.returncode, p.stderr, payload


def main():
    wrapper, plugin, path = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 300
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 16
    raw, ranges = payload_ranges(path)
    entries = entries_of(path)
    total = sum(z - a for a, z in ranges)
    rng = random.Random(seed)
    counts = {"caught": 0, "same": 0, "silent": 0}
    other = {}
    with tempfile.TemporaryDirectory() as tmp:
        code, err, clean = run(wrapper, plugin, path, entries, tmp)
        assert code == 0, err
        assert run(wrapper, plugin, path, entries, tmp)[2] == clean, "clean runs differ"
        mutant = os.path.join(tmp, "flipped.root")
        for _ in range(n):
            k = rng.randrange(total)
            for a, z in ranges:
                if k < z - a:
                    pos = a + k
                    break
                k -= z - a
            bit = rng.randrange(8)
            m = bytearray(raw)
            m[pos] ^= 1 << bit
            with open(mutant, "wb") as f:
                f.write(m)
            code, err, payload = run(wrapper, plugin, mutant, entries, tmp)
            if code == 0:
                counts["same" if payload == clean else "silent"] += 1
            elif code == 11 and "flipped.root" in err:
                counts["caught"] += 1
            else:
                other[code] = other.get(code, 0) + 1
                print(f"byte {pos} bit {bit}: exit {code}: {err.strip()[-300:]}", file=sys.stderr)
    checks = "full" if os.environ.get("CASA_FULL_BASKET_CHECKS", "") not in ("", "0", "false", "no") else "default"
    if not os.environ.get("FLIPS_NO_HEADER"):
        print("| file | checks | flips | caught (exit 11) | same histogram | silent (exit 0, other histogram) | silent rate | other exits |")
        print("|---|---|---|---|---|---|---|---|")
    print(f"| {os.path.basename(path)} | {checks} | {n} | {counts['caught']} | {counts['same']} | {counts['silent']} | "
          f"{100 * counts['silent'] / n:.1f} % | {other or '-'} |")


if __name__ == "__main__":
    main()
