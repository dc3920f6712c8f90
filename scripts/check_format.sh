#!/usr/bin/env bash
# Checks that every C++ file under src/ tools/ tests/ bench/ fuzz/ python/ is formatted as the repo
# root's .clang-format says: runs clang-format --dry-run --Werror on each, lists the files it
# would change, and exits 1 if there are any (0 when all are formatted, 2 on a usage error).
#   scripts/check_format.sh [ROOT]      ROOT defaults to the repository holding this script
# CLANG_FORMAT overrides the binary (default: clang-format on PATH; Debian's is version 14,
# and other versions may format some constructs differently). Fix a file with
#   clang-format -i FILE
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null; then
  echo "check_format: $CLANG_FORMAT not found (Debian: apt-get install clang-format)" >&2
  exit 2
fi
if [ ! -f "$ROOT/.clang-format" ]; then
  echo "check_format: $ROOT/.clang-format not found" >&2
  exit 2
fi
cd "$ROOT" || exit 2
dirs=()
for d in src tools tests bench fuzz python; do [ -d "$d" ] && dirs+=("$d"); done
mapfile -t files < <(find "${dirs[@]}" -type f \
  \( -name '*.cc' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \) | LC_ALL=C sort)
bad=()
for f in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not formatted" \
    "($("$CLANG_FORMAT" --version | head -n1); fix with clang-format -i FILE):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check_format: all ${#files[@]} files are formatted"
