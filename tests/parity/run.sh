#!/bin/bash
# Independent-implementation parity checks (make parity): longctx vs Hugging Face transformers
# (tests/parity/hf_parity.py; RoPE position scaling: rope_scaling_parity.py), longctx's GGUF writer vs the gguf PyPI reader
# (tests/parity/gguf_readback.py), BASED vs a PyTorch model written from the spec
# (tests/parity/based_parity.py), the block-quantized types vs gguf.quants and llama.cpp's
# quantizer (tests/parity/quant_parity.py), greedy decoding of longctx-written files of every
# type in llama.cpp vs longctx (tests/parity/greedy_parity.py), and the real SmolLM2 Q4_1 file
# and llama.cpp-written files of every type vs llama.cpp through llama-cpp-python
# (tests/parity/smollm2_parity.py, llamacpp_files_parity.py), the chat-template fixture
# against jinja2 (tests/parity/chat_template_parity.py --check), the tokenizers of
# llama.cpp's vocabulary files and SmolLM2 vs llama.cpp's over every corpus
# (tests/parity/tokenizer_parity.py; the files are fetched into LONGCTX_VOCAB_DIR, default
# ../vocab, by scripts/fetch_vocab.sh); Gemma 3 vs transformers' Gemma3ForCausalLM
# (gemma3_parity.py) and the real Gemma 3 270M Q4_K_M file vs llama.cpp
# (gemma3_llamacpp_parity.py). Installs its Python dependencies idempotently, llama-cpp-python
# included. Gemma 3 needs transformers >= 4.50, i.e. torch 2, which Debian's python3-torch 1.13
# is not: a venv OUTSIDE the repository (PARITY_VENV, default ../venv-gemma beside it) holds
# torch + transformers for that script alone. The Gemma 3 file (Gemma terms: never in the
# repository) is installed beside the repository by scripts/fetch_gemma3.sh unless
# LONGCTX_GEMMA3_GGUF names it.
# usage: tests/parity/run.sh LONGCTX ASSETS
set -euo pipefail
LONGCTX=$(realpath "$1")
ASSETS=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
# One interpreter throughout: Debian's python3 (its python3-torch package is built for it).
PY=${PARITY_PYTHON:-/usr/bin/python3}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SKYLAKEX} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "parity: installing python3-torch (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch >/dev/null
fi
if ! "$PY" -c "import llama_cpp" 2>/dev/null; then
  # llama.cpp through its PyPI binding (builds llama.cpp; never part of the repository). The
  # native build segfaults in decode on these VMs; this set of flags is the one that works.
  echo "parity: installing llama-cpp-python (pip; builds llama.cpp, several minutes)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AMX_INT8=OFF" \
    "$PY" -m pip install -q --break-system-packages "llama-cpp-python==0.3.36"
fi
if ! "$PY" -c "import numpy, safetensors, gguf, transformers" 2>/dev/null; then
  echo "parity: installing transformers, safetensors, gguf (pip)"
  # transformers 4.44 is the last line that supports Debian's torch 1.13.
  "$PY" -m pip install -q --break-system-packages "transformers>=4.40,<4.45" safetensors gguf
fi

# Debian's torch 1.13 is built against numpy 1.x; a pip install above may have pulled numpy 2.
if ! "$PY" -c "import numpy, torch; torch.from_numpy(numpy.zeros(1))" 2>/dev/null; then
  echo "parity: installing numpy<2 (pip; Debian's torch needs numpy 1.x)"
  "$PY" -m pip install -q --break-system-packages "numpy<2"
fi
if ! "$PY" -c "import jinja2" 2>/dev/null; then
  echo "parity: installing jinja2 (pip)"
  "$PY" -m pip install -q --break-system-packages jinja2
fi

export LONGCTX_VOCAB_DIR=${LONGCTX_VOCAB_DIR:-$(cd "$HERE/../.." && pwd)/../vocab}
"$HERE/../../scripts/fetch_vocab.sh" "$LONGCTX_VOCAB_DIR" ||
  echo "parity: could not fetch llama.cpp's vocabulary files (offline?); checking those present"

# transformers >= 4.50 for Gemma 3, in its own venv (created once; reused while it imports).
REPO=$(cd "$HERE/../.." && pwd)
VENV=${PARITY_VENV:-$(dirname "$REPO")/venv-gemma}
if ! "$VENV/bin/python" -c "import torch, transformers, safetensors, numpy
from transformers import Gemma3ForCausalLM" 2>/dev/null; then
  echo "parity: creating $VENV (torch 2 + transformers>=4.50 for Gemma 3; pip)"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch "transformers>=4.50" safetensors numpy
fi
if [ -z "${LONGCTX_GEMMA3_GGUF:-}" ]; then
  LONGCTX_GEMMA3_GGUF=$("$HERE/../../scripts/fetch_gemma3.sh" || true)
fi
export LONGCTX_GEMMA3_GGUF

WORK=$(mktemp -d /tmp/longctx-parity.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
status=0
"$PY" "$HERE/hf_parity.py" "$LONGCTX" "$ASSETS" "$WORK" || status=1
"$PY" "$HERE/rope_scaling_parity.py" "$LONGCTX" "$WORK" || status=1
"$VENV/bin/python" "$HERE/gemma3_parity.py" "$LONGCTX" "$WORK" || status=1
"$PY" "$HERE/gemma3_llamacpp_parity.py" "$LONGCTX" "$ASSETS" "$WORK" || status=1
"$PY" "$HERE/gguf_readback.py" "$LONGCTX" "$ASSETS" "$WORK" || status=1
"$PY" "$HERE/based_parity.py" "$LONGCTX" "$WORK" || status=1
"$PY" "$HERE/smollm2_parity.py" "$LONGCTX" "$ASSETS" "$WORK" || status=1
"$PY" "$HERE/llamacpp_files_parity.py" "$LONGCTX" "$ASSETS" "$WORK" || status=1
"$PY" "$HERE/quant_parity.py" "$LONGCTX" "$ASSETS" "$WORK" || status=1
"$PY" "$HERE/greedy_parity.py" "$LONGCTX" "$ASSETS" "$WORK" || status=1
# Chat templates: jinja2 (as transformers configures it) still renders the committed fixture
# that tests/chat_template_parity_test.cc holds longctx to.
"$PY" "$HERE/chat_template_parity.py" --check --assets "$ASSETS" || status=1
# Whole corpora by default (about 12 minutes on 2 busy cores); TOKENIZER_PARITY_MAX_BYTES=N cuts
# each to its first N bytes.
"$PY" "$HERE/tokenizer_parity.py" "$LONGCTX" "$ASSETS" "$WORK" \
  ${TOKENIZER_PARITY_MAX_BYTES:+--max-bytes "$TOKENIZER_PARITY_MAX_BYTES"} || status=1
echo "parity: $([ $status = 0 ] && echo 'ALL PASS' || echo 'FAILED')"
exit $status
