#!/usr/bin/env bash
# The Python package (python/): its build and test dependencies (python/requirements.txt, PyPI)
# in the project's own virtual environment .venv, which CMake then builds the extension for
# (make test runs it; make demo does not need it). Reinstalled only when the requirements
# change. Offline, the Python tests report Not Run.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/python/requirements.txt"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the Python packages of python/requirements.txt into $VENV (pip)" >&2
  [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
  if "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2; then
    echo "$want" > "$VENV/.requirements.sha256"
  else
    echo "setup: could not install python/requirements.txt (offline?); the Python tests will report Not Run" >&2
  fi
fi
