#!/usr/bin/env bash
# The merge benchmark of issue 5: N partials of one BINS-bin Weight-storage histogram each,
# merged by casa-merge (release build), summed by Python hist from the same histograms' UHI
# JSON, and added by `uhi add` (PyPI uhi's hadd, which loads every input first) from the same
# files, in the same run. Prints wall time, peak RSS and the ratios.
#
#   merge/bench/bench_merge.sh [N [BINS]]          (defaults 10000 10000)
#
# Environment: BENCH_DIR (default target/bench-merge; the inputs are kept there and reused),
# BENCH_MODES (default "unit weighted"): unit = 100k unit-weight entries per partial (every
# bin an integer-valued sum, as for data); weighted = 100k entries with weights in [0.5, 1.5)
# (every bin a non-integer sum carrying exact remainders: the worst case), JOBS (default 2).
# The page cache is warmed once before timing: this measures merging, not the disk.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-10000}
bins=${2:-10000}
jobs=${JOBS:-2}
base=${BENCH_DIR:-target/bench-merge}
py=${CASA_PYTHON:-.venv/bin/python}
cargo build -q --release -j1 -p casa-merge --bin casa-merge --example make_partials
bin=target/release/casa-merge

# Wall seconds and peak RSS (KiB) of a command; the RSS from /usr/bin/time -v when present.
measure() {
  local out=$1
  shift
  if [ -x /usr/bin/time ]; then
    local t0 t1 rss
    t0=$(date +%s.%N)
    /usr/bin/time -v "$@" 2>"$out.time" >"$out"
    t1=$(date +%s.%N)
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out.time")
    echo "$(awk "BEGIN {print $t1 - $t0}") $rss"
  else
    # Without GNU time: wall and the children's peak RSS (getrusage) via Python.
    "$py" - "$out" "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
with open(sys.argv[1], "w") as f:
    subprocess.run(sys.argv[2:], check=True, stdout=f)
w = time.perf_counter() - t
print(f"{w} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
  fi
}

rows=()
for mode in ${BENCH_MODES:-unit weighted}; do
  dir=$base/$mode-$n-$bins
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir"
    echo "writing $n partials of $bins bins ($mode) into $dir ..." >&2
    flag=()
    [ "$mode" = weighted ] && flag=(--weighted)
    target/release/examples/make_partials --dir "$dir" --n "$n" --bins "$bins" --uhi "${flag[@]}"
    touch "$dir/.complete"
  fi
  mkdir -p "$dir/out"
  size=$(du -sm --exclude=uhi --exclude=out "$dir" | cut -f1)
  "$bin" -o "$dir/out/warm.partial" "$dir" -j "$jobs"   # warm the page cache
  read -r c_wall c_rss < <(measure "$dir/out/casa.log" "$bin" -o "$dir/out/merged.partial" "$dir" -j "$jobs")
  "$bin" export "$dir/out/merged.partial" --uhi "$dir/out/merged.json"
  read -r p_wall p_rss < <(measure "$dir/out/python.json" "$py" merge/bench/hist_sum.py "$dir/uhi" "$dir/out/merged.json")
  py_line=$(cat "$dir/out/python.json")
  p_load=$("$py" -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["load_s"])' "$py_line")
  p_add=$("$py" -c 'import json,sys; print("%.2f" % json.loads(sys.argv[1])["add_s"])' "$py_line")
  p_diff=$("$py" -c 'import json,sys; print("%.1e" % json.loads(sys.argv[1])["max_rel_diff"])' "$py_line")
  ratio=$("$py" -c "print('%.1f' % ($p_wall / $c_wall))")
  rm -f "$dir/out/uhi-add.json"
  read -r u_wall u_rss < <(measure "$dir/out/uhi-add.log" "$py" -m uhi add "$dir/out/uhi-add.json" "$dir"/uhi/*.json)
  u_diff=$("$py" - "$dir/out/uhi-add.json" "$dir/out/merged.json" <<'PY'
import json, sys
import hist, numpy as np, uhi.io.json as uj
a = hist.Hist(json.load(open(sys.argv[1]), object_hook=uj.object_hook))
b = hist.Hist(json.load(open(sys.argv[2]), object_hook=uj.object_hook)["bench/x"])
d = max(float((np.abs(x - y) / np.maximum(np.abs(y), 1e-300)).max())
        for x, y in ((a.values(flow=True), b.values(flow=True)),
                     (a.variances(flow=True), b.variances(flow=True))))
print("%.1e" % d)
PY
)
  u_ratio=$("$py" -c "print('%.1f' % ($u_wall / $c_wall))")
  rows+=("| $mode | $n x $bins | $size MB | $(printf %.2f "$c_wall") s | $((c_rss / 1024)) MiB | $(printf %.2f "$p_wall") s (load $p_load s, add $p_add s) | $((p_rss / 1024)) MiB | $ratio | $p_diff | $(printf %.2f "$u_wall") s | $((u_rss / 1024)) MiB | $u_ratio | $u_diff |")
done

echo
echo "casa-merge -j $jobs vs Python hist (load UHI JSON + add, streaming) and uhi add, warm page cache, $(nproc) cores"
echo
echo "| histograms | partials x bins | partials on disk | casa-merge wall | casa-merge peak RSS | Python hist wall | Python peak RSS | Python / casa-merge | max rel. diff Python vs casa | uhi add wall | uhi add peak RSS | uhi add / casa-merge | max rel. diff uhi add vs casa |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
