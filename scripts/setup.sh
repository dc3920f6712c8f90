#!/usr/bin/env bash
# Installs every build and test dependency from Debian packages (sudo when not root).
# Idempotent and quick when everything is already installed.
set -euo pipefail

PACKAGES=(build-essential cmake git googletest libgtest-dev libbenchmark-dev clang
          libclang-rt-14-dev clang-format python3 zlib1g-dev nlohmann-json3-dev libssl-dev libcli11-dev
          libpcre2-dev pkg-config libcpp-httplib-dev python3-pip python3-venv python3-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python packages of the tests (PyPI), into Debian's python3 that CTest runs: the official
# OpenAI client for the server tests. Offline, those tests skip saying why.
if ! /usr/bin/python3 -c "import openai" 2>/dev/null; then
  echo "setup: installing the openai Python package (pip)" >&2
  /usr/bin/python3 -m pip install -q --break-system-packages openai >&2 ||
    echo "setup: could not install openai (offline?); the server tests will skip" >&2
fi
