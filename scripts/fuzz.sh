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
# GGUF seeds: a tiny model in every tensor type, and llama.cpp's small vocabulary files. The
# model has rows of 256 (d_model 256, head_dim 4 through llama.attention.key_length) so that
# every block type fits while it stays small: tiny256_f32.gguf, plus one file per quantized
# type with random blocks and valid fp16 scales (written here, no tool needed), plus every
# --dtype of `longctx convert` (quantized by the built tool when present; the fuzz build has no
# tools), and the llama2.c seed converted.
seed_gguf="$BUILD/fuzz/seeds-gguf_fuzz"
mkdir -p "$seed_gguf"
python3 - "$seed_gguf" <<'PY'
import random, struct, sys
out = sys.argv[1]
rng = random.Random(5)
# ggml type id, block elements, block bytes, byte offsets of the fp16 scale fields
TYPES = {"q4_0": (2, 32, 18, [0]), "q4_1": (3, 32, 20, [0, 2]), "q5_0": (6, 32, 22, [0]),
         "q5_1": (7, 32, 24, [0, 2]), "q8_0": (8, 32, 34, [0]), "q2_k": (10, 256, 84, [80, 82]),
         "q3_k": (11, 256, 110, [108]), "q4_k": (12, 256, 144, [0, 2]),
         "q5_k": (13, 256, 176, [0, 2]), "q6_k": (14, 256, 210, [208]),
         "iq4_nl": (20, 32, 18, [0]), "iq4_xs": (23, 256, 136, [0])}
D, HIDDEN, HEADS, KV, HD, VOCAB = 256, 8, 2, 1, 4, 8
SHAPES = [("token_embd.weight", [VOCAB, D]), ("blk.0.attn_norm.weight", [D]),
          ("blk.0.attn_q.weight", [HEADS * HD, D]), ("blk.0.attn_k.weight", [KV * HD, D]),
          ("blk.0.attn_v.weight", [KV * HD, D]), ("blk.0.attn_output.weight", [D, HEADS * HD]),
          ("blk.0.ffn_norm.weight", [D]), ("blk.0.ffn_gate.weight", [HIDDEN, D]),
          ("blk.0.ffn_up.weight", [HIDDEN, D]), ("blk.0.ffn_down.weight", [D, HIDDEN]),
          ("output_norm.weight", [D])]
def s(x): b = x.encode(); return struct.pack("<Q", len(b)) + b
def u32(k, v): return s(k) + struct.pack("<II", 4, v)
N_KV = 11
KV_DATA = (s("general.architecture") + struct.pack("<I", 8) + s("llama") +
           u32("llama.context_length", 16) + u32("llama.embedding_length", D) +
           u32("llama.block_count", 1) + u32("llama.feed_forward_length", HIDDEN) +
           u32("llama.attention.head_count", HEADS) + u32("llama.attention.head_count_kv", KV) +
           u32("llama.attention.key_length", HD) + u32("llama.attention.value_length", HD) +
           u32("llama.rope.dimension_count", HD) + s("llama.attention.layer_norm_rms_epsilon") +
           struct.pack("<If", 6, 1e-5))
def f16(x): return struct.pack("<e", x)
def tensor_bytes(shape, qtype):
    n = 1
    for d in shape: n *= d
    if len(shape) == 1: return 0, struct.pack("<%df" % n, *[1.0 + 0.01 * (i % 7) for i in range(n)])
    if qtype is None or shape[-1] % TYPES[qtype][1]:
        return 0, struct.pack("<%df" % n, *[rng.gauss(0, 0.05) for _ in range(n)])
    tid, block, size, scales = TYPES[qtype]
    data = bytearray()
    for _ in range(n // block):
        b = bytearray(rng.getrandbits(8) for _ in range(size))
        for off in scales:
            b[off:off + 2] = f16(rng.choice([rng.gauss(0, 0.01), 0.0, 6e-8, 65504.0, -1.5]))
        data += b
    return tid, bytes(data)
def write(path, qtype):
    infos, blobs, off = b"", b"", 0
    for name, shape in SHAPES:
        tid, data = tensor_bytes(shape, qtype)
        infos += s(name) + struct.pack("<I", len(shape)) + b"".join(
            struct.pack("<Q", d) for d in reversed(shape)) + struct.pack("<IQ", tid, off)
        pad = b"\0" * (-len(data) % 32)
        blobs += data + pad
        off += len(data) + len(pad)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(SHAPES), N_KV) + KV_DATA + infos
    head += b"\0" * (-len(head) % 32)
    open(path, "wb").write(head + blobs)
write(out + "/tiny256_f32.gguf", None)
for t in TYPES: write(out + "/tiny256_raw_%s.gguf" % t, t)
PY
for tool in build/longctx build-fmt/longctx; do
  if [ -x "$tool" ] && "$tool" convert --help >/dev/null 2>&1; then
    for d in f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k iq4_nl iq4_xs q4_k_m q5_k_m; do
      "$tool" convert "$seed_gguf/tiny256_f32.gguf" "$seed_gguf/tiny256_$d.gguf" --dtype "$d" \
        2>/dev/null || true
    done
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
# Pre-tokenizer seeds: the start of each corpus, and text with the characters the regexes care
# about (contractions, digits, white space kinds, marks, CJK, emoji, special-token strings).
seed_pre="$BUILD/fuzz/seeds-pretokenizer_fuzz"
mkdir -p "$seed_pre"
for f in "$ASSETS"/corpora/*.txt; do
  [ -f "$f" ] && head -c 4096 "$f" > "$seed_pre/$(basename "$f")"
done
printf "I'M sure it's 12345 \t\r\n\n  x!!\n caf\xc3\xa9 e\xcc\x81 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\xa6\x99 \xc2\xa0\xc2\x85 <|im_start|><s>\xff" \
  > "$seed_pre/mixed.txt"
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
# Chat-template seeds: the real templates and the per-construct templates of the parity fixture.
seed_chat="$BUILD/fuzz/seeds-chat_template_fuzz"
mkdir -p "$seed_chat"
python3 - "$seed_chat" "$(dirname "$0")/../tests/data/chat_templates.json" <<'PY'
import json, os, sys
out, fixture = sys.argv[1], sys.argv[2]
if os.path.exists(fixture):
    data = json.load(open(fixture, encoding="utf-8"))
    sources = [t["source"] for t in data["templates"].values()]
    sources += [c["source"] for c in data["cases"] if "source" in c]
    for i, s in enumerate(sources):
        open(os.path.join(out, "t%03d.jinja" % i), "w", encoding="utf-8").write(s)
PY
# Server request seeds: OpenAI bodies of both endpoints with every field.
seed_req="$BUILD/fuzz/seeds-server_request_fuzz"
mkdir -p "$seed_req"
printf '%s' '{"model":"m","prompt":"Hello","max_tokens":16,"temperature":0.7,"top_p":0.9,"top_k":40,"seed":1,"stop":["\n","END"],"stream":true,"stream_options":{"include_usage":true},"attention":"lambda:G=4"}' >"$seed_req/completion.json"
printf '%s' '{"prompt":[[1,2,3],[4,5]],"max_tokens":0,"echo":true,"logprobs":5,"n":1}' >"$seed_req/ids.json"
printf '%s' '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi"}]}],"logprobs":true,"top_logprobs":2,"max_completion_tokens":8,"timeout":3}' >"$seed_req/chat.json"
# The targets run FUZZ_JOBS at a time (default: one per CPU; libFuzzer is single-threaded), each
# into its own log; the summaries print afterwards in target order.
run_target() {
  local target=$1 name corpus seeds=()
  name=$(basename "$target")
  corpus="$BUILD/fuzz/corpus-$name"
  mkdir -p "$corpus"
  [ -d "$BUILD/fuzz/seeds-$name" ] && seeds+=("$BUILD/fuzz/seeds-$name")
  if "$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 "$corpus" "${seeds[@]}" >"$BUILD/fuzz/$name.log" 2>&1; then
    echo ok >"$BUILD/fuzz/$name.status"
  else
    echo failed >"$BUILD/fuzz/$name.status"
  fi
}
JOBS=${FUZZ_JOBS:-$(nproc)}
targets=()
for target in "$BUILD"/fuzz/*_fuzz; do
  [ -f "$target" ] && [ -x "$target" ] || continue
  targets+=("$target")
  rm -f "$BUILD/fuzz/$(basename "$target").status"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_target "$target" &
done
wait
for target in "${targets[@]}"; do
  name=$(basename "$target")
  echo "fuzz: $name for ${SECONDS_EACH}s"
  if [ "$(cat "$BUILD/fuzz/$name.status" 2>/dev/null)" != ok ]; then
    echo "fuzz: $name FAILED (see $BUILD/fuzz/$name.log)"
    tail -n 40 "$BUILD/fuzz/$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units" "$BUILD/fuzz/$name.log" || true
  fi
done
exit $status
