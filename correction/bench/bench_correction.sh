#!/usr/bin/env bash
# casa-correction's batch evaluation vs correctionlib's vectorised evaluate (numpy arrays),
# single thread, same inputs, outputs checked bit for bit. A benchmark, not a test: run it by
# hand (it takes about a minute) and copy the table into docs/corrections.md.
#
# Usage: correction/bench/bench_correction.sh [N=1000000] [REPEATS=5]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
REPEATS=${2:-5}
PY=${CASA_PYTHON:-.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release -p casa-correction --example bench_correction -j2 >&2
"$PY" correction/bench/bench_correction.py tests/data/corrections "$WORK" "$N" "$REPEATS"
target/release/examples/bench_correction "$WORK/manifest.json" "$REPEATS"
