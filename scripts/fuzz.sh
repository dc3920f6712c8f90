#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/fuzz for SECONDS each, seeded from the shared assets
# when present. Fails if any target finds a crash, leak, timeout or sanitizer error.
set -euo pipefail
BUILD=$1
SECONDS_EACH=${2:-30}
ASSETS=${3:-../shared/assets}
shopt -s nullglob
status=0
for target in "$BUILD"/fuzz/*_fuzz; do
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
