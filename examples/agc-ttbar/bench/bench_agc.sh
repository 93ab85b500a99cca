#!/usr/bin/env bash
# The AGC ttbar analysis, casa vs coffea, on one core and the same files:
#   casa:   casa-wrapper run -j 1 (one thread, no read-ahead) with examples/agc-ttbar, one job
#           over every file, then casa-merge;
#   coffea: tests/python/agc_coffea.py (processor.Runner, IterativeExecutor, NanoAODSchema).
# CPU time (user + system) and peak RSS from /usr/bin/time -v, and lines of analysis code.
# The files are written once under target/bench/agc (make_agc_files.py --events N, N = 200000
# by default: 9 files, 1.3 M events); results in target/bench/agc/results.md.
#
#   examples/agc-ttbar/bench/bench_agc.sh [EVENTS]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
EVENTS=${1:-200000}
PY=${CASA_PYTHON:-$ROOT/.venv/bin/python}
OUT=$ROOT/target/bench/agc
DATA=$OUT/data-$EVENTS
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

cd "$ROOT"
cargo build --release -q -j2 -p agc-ttbar -p casa-wrapper -p casa-merge
REL=$ROOT/target/release

if [ ! -f "$DATA/fileset.json" ]; then
  mkdir -p "$DATA"
  "$PY" tests/python/make_agc_files.py "$DATA" --events "$EVENTS"
  "$PY" tests/python/agc_fileset.py "$DATA"
fi

RUN=$OUT/run-$EVENTS
rm -rf "$RUN" && mkdir -p "$RUN"
cp tests/data/agc/corrections.json "$RUN/"
# One job spec over every file (with the run's config and the shipped corrections.json).
"$PY" - "$DATA" "$RUN/job.json" <<'PYEOF'
import json, os, sys
data, out = sys.argv[1:]
fs = json.load(open(os.path.join(data, "fileset.json")))
entries = {m["file"]: m["entries"] for m in json.load(open(os.path.join(data, "agc-files.json")))["files"]}
chunks = [{"dataset": ds, "file": f, "tree": "Events", "entry_start": 0,
           "entry_stop": entries[os.path.basename(f)], "metadata": spec["metadata"]}
          for ds, spec in fs.items() for f in spec["files"]]
json.dump({"format": "casa-job", "version": "1.0", "run_id": "bench-agc", "node": "leaf-000",
           "chunks": chunks, "config": {"lumi": 3378.0}, "inputs": ["corrections.json"]},
          open(out, "w"), indent=1)
PYEOF

# "user sys maxrss_kb wall" of a /usr/bin/time -v log.
measure() {
  awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} /Maximum resident/ {r=$2}
              /Elapsed \(wall/ {w=$2} END {print u, s, r, w}' "$1"
}

/usr/bin/time -v "$REL/casa-wrapper" run -j 1 --job "$RUN/job.json" --plugin "$REL/libagc_ttbar.so" \
  --out "$RUN/casa.partial" 2> "$RUN/casa.time"
/usr/bin/time -v "$REL/casa-merge" -o "$RUN/merged.partial" "$RUN/casa.partial" 2> "$RUN/merge.time" > /dev/null
/usr/bin/time -v "$PY" tests/python/agc_coffea.py "$DATA/fileset.json" "$RUN/coffea.json" --seed 1 \
  2> "$RUN/coffea.time" > /dev/null

read -r cu cs cr cw < <(measure "$RUN/casa.time")
read -r mu ms mr mw < <(measure "$RUN/merge.time")
read -r pu ps pr pw < <(measure "$RUN/coffea.time")
events=$("$PY" -c "import json; print(sum(json.load(open('$RUN/coffea.json'))['nevents'].values()))")

# Lines of analysis code: non-blank, non-comment lines of the Rust plugin, and of the coffea
# processor's class without its dump-only code (the _dump method and `if self.dump` blocks).
rust_loc=$(grep -cvE '^\s*(//|$)' examples/agc-ttbar/src/lib.rs)
coffea_loc=$("$PY" - <<'PYEOF'
import re
src = open("tests/python/agc_coffea.py").read().splitlines()
start = next(i for i, l in enumerate(src) if l.startswith("class AgcProcessor"))
end = next(i for i, l in enumerate(src) if l.startswith("def run("))
n, skip = 0, None
for l in src[start:end]:
    s = l.strip()
    ind = len(l) - len(l.lstrip())
    if skip is not None:
        if s and ind <= skip:
            skip = None
        else:
            continue
    if s.startswith("@staticmethod"):
        continue
    if s.startswith("def _dump") or s.startswith("if self.dump"):
        skip = ind
        continue
    if not s or s.startswith("#") or "self.dump = dump" in s:
        continue
    n += 1
print(n)
PYEOF
)

"$PY" - "$cu" "$cs" "$cr" "$cw" "$mu" "$ms" "$mr" "$pu" "$ps" "$pr" "$pw" "$events" "$rust_loc" "$coffea_loc" "$EVENTS" > "$OUT/results.md" <<'PYEOF'
import sys
cu, cs, cr, cw, mu, ms, mr, pu, ps, pr, pw, events, rloc, ploc, per_file = sys.argv[1:]
def wall(s):
    parts = [float(p) for p in s.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
casa_cpu = float(cu) + float(cs)
merge_cpu = float(mu) + float(ms)
coffea_cpu = float(pu) + float(ps)
ev = int(events)
print(f"AGC ttbar, {ev:,} events in 9 files (make_agc_files.py --events {int(per_file):,}), one core\n")
print("| | CPU s | wall s | peak RSS MB | events/s (CPU) | lines of analysis code |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
print(f"| casa-wrapper -j 1 + agc-ttbar | {casa_cpu:.2f} | {wall(cw):.2f} | {int(cr)/1024:.0f} | {ev/casa_cpu:,.0f} | {rloc} (Rust) |")
print(f"| casa-merge of the partial | {merge_cpu:.2f} | | {int(mr)/1024:.0f} | | |")
print(f"| coffea Runner (IterativeExecutor) | {coffea_cpu:.2f} | {wall(pw):.2f} | {int(pr)/1024:.0f} | {ev/coffea_cpu:,.0f} | {ploc} (Python) |")
print(f"\ncoffea / casa CPU: **{coffea_cpu / casa_cpu:.1f}x** (wrapper alone), "
      f"{coffea_cpu / (casa_cpu + merge_cpu):.1f}x (wrapper + merge); peak RSS ratio {int(pr)/int(cr):.1f}x.")
PYEOF
cat "$OUT/results.md"
