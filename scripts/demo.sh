#!/usr/bin/env bash
# The README's first command: generation, LM-Infinite length extrapolation and a benchmark on the
# embedded default model (models/default: a byte-level Llama trained by `longctx train`, see
# models/README.md) and its BASED twin. Needs nothing outside the repository; with ../shared/assets
# present it also runs the real stories260K checkpoint.
set -euo pipefail
BIN=${1:-build/longctx}
ASSETS=${2:-../shared/assets}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=$ROOT/models/default
TWIN=$ROOT/models/default-based
# Long input for the extrapolation demo: this repository's own documentation (English prose),
# 32x the models' trained context of 256 bytes.
TEXT=(-f "$ROOT/README.md" -f "$ROOT/docs/design.md")

echo "== longctx run: the default model (byte-level Llama, 0.9M parameters, trained context 256),"
echo "   generating 600 bytes with LM-Infinite attention (past the trained context, constant memory) =="
"$BIN" run -m "$MODEL" -p "It was a dark and stormy night" --temp 0.7 --top-p 0.9 --seed 7 -n 600 --attn lambda --verbose
echo
echo "== longctx run: its BASED twin (same size, fixed-size recurrent state) =="
"$BIN" run -m "$TWIN" -p "It was a dark and stormy night" --temp 0.7 --top-p 0.9 --seed 7 -n 400
echo
echo "== longctx ppl: reading 32x past the trained context: full attention vs LM-Infinite (lambda) =="
echo "   (full attention degrades past position 256; lambda stays flat with a constant-size cache)"
"$BIN" ppl -m "$MODEL" "${TEXT[@]}" --max-len 8192 --bin 1024 --attn full,lambda,window
echo
echo "== the same documents, BASED twin (no attention policy: its state never grows) =="
"$BIN" ppl -m "$TWIN" "${TEXT[@]}" --max-len 8192 --bin 1024
echo
echo "== longctx bench: decode at a 32K-token context, full attention vs lambda vs BASED =="
"$BIN" bench -m "$MODEL" -t 2 --fill 32768 --prompt 1 --gen 64 --reps 3 --ctx 32900 --attn full
"$BIN" bench -m "$MODEL" -t 2 --fill 32768 --prompt 1 --gen 64 --reps 3 --attn lambda
"$BIN" bench -m "$TWIN" -t 2 --fill 32768 --prompt 1 --gen 64 --reps 3

MODEL260=$ASSETS/llama2c/stories260K.bin
if [ -f "$MODEL260" ] && [ -f "$ASSETS/llama2c/tok512.bin" ]; then
  echo
  echo "== a real checkpoint from ../shared/assets: stories260K (llama2.c), greedy =="
  "$BIN" run -m "$MODEL260" -z "$ASSETS/llama2c/tok512.bin" --temp 0 -n 200 --verbose
fi
