#!/usr/bin/env bash
# `make bench`: end-to-end prefill and decode throughput of the embedded default model
# (models/default, byte-level Llama) and its BASED twin (models/default-based), short runs:
# a 256-token prompt, then decode at a long context (random keys/values or recurrent state
# standing in for the first FILL positions), full attention vs LM-Infinite (lambda) vs BASED.
# Prints each `longctx bench` table and writes one JSON array of their results.
#   scripts/bench.sh [BIN [OUT_DIR]]    BIN: the longctx binary (default build/longctx);
#                                       OUT_DIR: default the directory of BIN + /bench-results
# Environment: THREADS (default 2), REPS (default 5), FILL (default 16384).
# Microbenchmarks of single kernels are separate: build/bench/ops_bench (Google Benchmark).
set -euo pipefail
BIN=${1:-build/longctx}
OUT=${2:-$(dirname "$BIN")/bench-results}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
FILL=${FILL:-16384}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=$ROOT/models/default
TWIN=$ROOT/models/default-based
if [ ! -x "$BIN" ]; then
  echo "bench.sh: $BIN is not an executable (build it first: make build)" >&2
  exit 2
fi
mkdir -p "$OUT"
names=()
run() {  # NAME TITLE ARGS...: one `longctx bench`, its JSON kept as OUT/NAME.json
  local name=$1 title=$2
  shift 2
  echo "== $title =="
  "$BIN" bench -t "$THREADS" --reps "$REPS" --seed 1 --json "$OUT/$name.json" "$@"
  echo
  names+=("$name")
}
run llama_prompt "default model (Llama), full attention: 256-token prompt, 128 decoded" \
  -m "$MODEL" --prompt 256 --gen 128
run llama_fill_full "default model, full attention: decode at context $FILL" \
  -m "$MODEL" --fill "$FILL" --prompt 1 --gen 64 --ctx $((FILL + 128)) --attn full
run llama_fill_lambda "default model, LM-Infinite (lambda): decode at context $FILL" \
  -m "$MODEL" --fill "$FILL" --prompt 1 --gen 64 --attn lambda
run based_prompt "BASED twin: 256-token prompt, 128 decoded" \
  -m "$TWIN" --prompt 256 --gen 128
run based_fill "BASED twin: decode at context $FILL (fixed-size recurrent state)" \
  -m "$TWIN" --fill "$FILL" --prompt 1 --gen 64

# One file for all runs: {"runs": {"NAME": <that run's --json object>, ...}}.
{
  printf '{"runs": {'
  sep=""
  for n in "${names[@]}"; do
    printf '%s\n"%s": ' "$sep" "$n"
    cat "$OUT/$n.json"
    sep=","
  done
  printf '}}\n'
} >"$OUT/bench.json"
echo "JSON: $OUT/bench.json (one file per run beside it)"
