#!/usr/bin/env bash
# Retrains the embedded default model (models/default, byte-level Llama) and its BASED twin
# (models/default-based) exactly as committed: same data, settings and seed, one thread each,
# the two runs side by side (about 20-60 minutes on a 2-vCPU machine). Training is deterministic
# for a fixed seed and thread count, so the same trainer code reproduces the same weights.
# Usage: scripts/train_default_models.sh [BIN] [ASSETS] [OUT_DIR]
set -euo pipefail
BIN=${1:-build/longctx}
ASSETS=${2:-../shared/assets}
OUT=${3:-models}
C=$ASSETS/corpora
for f in wikitext2_test.txt pride_and_prejudice.txt frankenstein.txt tinyshakespeare.txt; do
  [ -f "$C/$f" ] || { echo "train_default_models: missing $C/$f (pass ASSETS)" >&2; exit 1; }
done
DATA=(--data "$C/wikitext2_test.txt" --data "$C/pride_and_prejudice.txt"
      --data "$C/frankenstein.txt" --data "$C/tinyshakespeare.txt")
COMMON=(--seq-len 256 --batch 16 --steps 1000 --lr 2e-3 --warmup 50 --val-frac 0.02
        --eval-every 200 --val-batches 8 --log-every 25 --seed 1 -t 1)
mkdir -p "$OUT"
"$BIN" train --arch llama "${DATA[@]}" --dim 128 --layers 4 --heads 4 --hidden 384 \
  "${COMMON[@]}" --json "$OUT/default.train.json" -o "$OUT/default" 2> "$OUT/default.train.log" &
"$BIN" train --arch based "${DATA[@]}" --dim 128 --layers 4 --mixers clcw --linear-heads 4 \
  --feature-dim 16 --heads 4 --window 64 --hidden 352 \
  "${COMMON[@]}" --json "$OUT/default-based.train.json" -o "$OUT/default-based" \
  2> "$OUT/default-based.train.log" &
wait -n && wait -n
grep "val loss" "$OUT/default.train.log" "$OUT/default-based.train.log" | tail -n 2
