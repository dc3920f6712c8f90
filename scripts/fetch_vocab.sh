#!/usr/bin/env bash
# Puts llama.cpp's vocabulary-only test files (models/ggml-vocab-*.gguf with their .inp/.out
# cases: llama-bpe, qwen2, starcoder, deepseek, ...) into DIR, default ../vocab beside the
# repository, where the tokenizer tests and tests/parity/tokenizer_parity.py look for them
# (LONGCTX_VOCAB_DIR). They come from the llama-cpp-python sdist of the version the parity
# checks run (pip download, nothing installed) and never enter the repository. Idempotent.
# usage: scripts/fetch_vocab.sh [DIR]
set -euo pipefail
DIR=${1:-$(cd "$(dirname "$0")/.." && pwd)/../vocab}
VERSION=0.3.36
if [ -f "$DIR/ggml-vocab-llama-bpe.gguf" ] && [ -f "$DIR/ggml-vocab-qwen2.gguf.out" ]; then
  exit 0
fi
tmp=$(mktemp -d /tmp/longctx-vocab.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "fetch_vocab: downloading the llama-cpp-python $VERSION sdist for its vocabulary files" >&2
python3 -m pip download -q --no-binary :all: --no-deps --no-build-isolation \
  "llama-cpp-python==$VERSION" -d "$tmp" 2>/dev/null ||
  python3 -m pip download -q --no-binary :all: --no-deps "llama-cpp-python==$VERSION" -d "$tmp"
tar -xzf "$tmp/llama_cpp_python-$VERSION.tar.gz" -C "$tmp" --wildcards \
  "llama_cpp_python-$VERSION/vendor/llama.cpp/models/ggml-vocab-*"
mkdir -p "$DIR"
cp "$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp/models/"ggml-vocab-* "$DIR/"
echo "fetch_vocab: $(ls "$DIR"/*.gguf | wc -l) vocabulary files in $DIR" >&2
