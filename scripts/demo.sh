#!/usr/bin/env bash
# The README's first command: generation and a throughput benchmark on the default model.
set -euo pipefail
BIN=${1:-build/longctx}
ASSETS=${2:-../shared/assets}
MODEL="$ASSETS/llama2c/stories260K.bin"
TOK="$ASSETS/llama2c/tok512.bin"
if [ ! -f "$MODEL" ] || [ ! -f "$TOK" ]; then
  cat >&2 <<MSG
demo: the default model is not here ($MODEL).
The project does not embed a model yet; pass one explicitly, for example:
  $BIN run -m stories15M.bin -z tokenizer.bin -p "Once upon a time" -n 128
or point ASSETS at a folder with llama2c/stories260K.bin and llama2c/tok512.bin:
  make demo ASSETS=/path/to/assets
MSG
  exit 1
fi
echo "== longctx run: stories260K, greedy, 200 tokens =="
"$BIN" run -m "$MODEL" -z "$TOK" --temp 0 -n 200 --verbose
echo
echo "== longctx run: sampled continuation of a prompt =="
"$BIN" run -m "$MODEL" -z "$TOK" -p "Once upon a time, a little dog" --temp 0.8 --top-p 0.9 --seed 7 -n 120
echo
echo "== longctx ppl: reading 8x past the trained context (512): full attention vs LM-Infinite =="
CORPUS="$ASSETS/corpora/pride_and_prejudice.txt"
if [ -f "$CORPUS" ]; then
  "$BIN" ppl -m "$MODEL" -z "$TOK" -f "$CORPUS" --max-len 4096 --bin 512 --attn full,lambda
fi
echo
echo "== longctx bench: stories260K, 2 threads =="
"$BIN" bench -m "$MODEL" -t 2 --prompt 256 --gen 200 --reps 5
