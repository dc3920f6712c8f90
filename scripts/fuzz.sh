#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each, seeded from the shared assets
# when present. Fails if any target finds a crash, leak, timeout or sanitizer error.
set -euo pipefail
BUILD=$1
SECONDS_EACH=${2:-30}
ASSETS=${3:-../shared/assets}
shopt -s nullglob
status=0
# Seeds: a tiny valid llama2.c model (written here), and the real tokenizer files when present.
seed_model="$BUILD/fuzz/seeds-model_fuzz"
mkdir -p "$seed_model"
python3 - "$seed_model/tiny.bin" <<'PY'
import struct, sys
dim, hidden, layers, heads, kv, vocab, seq = 8, 12, 1, 2, 1, 16, 4
hd = dim // heads
n = vocab*dim + layers*dim + layers*dim*dim + 2*layers*kv*hd*dim + layers*dim*dim + layers*dim \
    + 3*layers*hidden*dim + dim + seq*hd
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq))
    f.write(struct.pack("<%df" % n, *[((i * 37) % 11 - 5) * 0.05 for i in range(n)]))
PY
seed_tok="$BUILD/fuzz/seeds-tokenizer_fuzz"
mkdir -p "$seed_tok"
for f in tok512.bin tok512.model; do
  [ -f "$ASSETS/llama2c/$f" ] && cp "$ASSETS/llama2c/$f" "$seed_tok/"
done
# GGUF seeds: a tiny model in every tensor type, converted from the llama2.c seed by the built
# tool when present (the fuzz build has no tools), and llama.cpp's small vocabulary files.
seed_gguf="$BUILD/fuzz/seeds-gguf_fuzz"
mkdir -p "$seed_gguf"
for tool in build/longctx build-fmt/longctx; do
  if [ -x "$tool" ] && "$tool" convert --help >/dev/null 2>&1; then
    for d in f32 f16 bf16 q8_0; do
      "$tool" convert "$seed_model/tiny.bin" "$seed_gguf/tiny_$d.gguf" --dtype "$d" 2>/dev/null || true
    done
    break
  fi
done
[ -f "$ASSETS/llamacpp_vocab/ggml-vocab-llama-spm.gguf" ] && \
  cp "$ASSETS/llamacpp_vocab/ggml-vocab-llama-spm.gguf" "$seed_gguf/"
# safetensors seeds: a small valid file and a JSON document.
seed_st="$BUILD/fuzz/seeds-safetensors_fuzz"
mkdir -p "$seed_st"
python3 - "$seed_st/tiny.safetensors" <<'PY'
import json, struct, sys
h = json.dumps({"__metadata__": {"format": "pt"},
                "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                "b": {"dtype": "BF16", "shape": [4], "data_offsets": [16, 24]}}).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + bytes(24))
PY
printf '{"a": [1, 2.5e-3, "x\\u00e9", {"b": null}], "c": true}' > "$seed_st/doc.json"
# --attn seeds ("VALUE\nLIST": VALUE for each shared flag, LIST an --attn list): the help's
# examples and every policy.
seed_attn="$BUILD/fuzz/seeds-attention_parse_fuzz"
mkdir -p "$seed_attn"
i=0
for s in '\nlambda:G=10:L=512:D=none,trams:M=400:R=150:m=200:score=code' \
         '16\nfull,window:W=256,streaming:S=4:W=32,lambda:D=none' \
         'none\nlambda:G=10:L=512:K=5:H=4:P=1024:score=code,full:D=8' \
         'paper\ntrams:M=40:R=5:m=20:dist=compacted,window:L=8' \
         '8\nlambda:S=2:W=6:D=6:K=2:H=0:P=3'; do
  printf "$s" > "$seed_attn/seed$i.txt"
  i=$((i + 1))
done
for target in "$BUILD"/fuzz/*_fuzz; do
  [ -f "$target" ] && [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus="$BUILD/fuzz/corpus-$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "$BUILD/fuzz/seeds-$name" ] && seeds+=("$BUILD/fuzz/seeds-$name")
  echo "fuzz: $name for ${SECONDS_EACH}s"
  if ! "$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 "$corpus" "${seeds[@]}" >"$BUILD/fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED (see $BUILD/fuzz/$name.log)"
    tail -n 40 "$BUILD/fuzz/$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units" "$BUILD/fuzz/$name.log" || true
  fi
done
exit $status
