#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine for propcheck: system packages, virtualenv,
# Python dependencies. Safe to run again: it only does what is missing.
#   scripts/setup.sh          what the service needs (libzbar0)
#   scripts/setup.sh --test   also what the tests need (Debian's chromium for the PWA tests)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

packages=()
# grep without -q reads all of ldconfig's output: with pipefail, an early exit would
# kill ldconfig with SIGPIPE and count as "missing".
ldconfig -p 2>/dev/null | grep 'libzbar\.so\.0' >/dev/null || packages+=(libzbar0)
if [ "$want_test" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || packages+=(chromium fonts-dejavu-core)
fi

pick_python() {
    for py in python3 python3.13 python3.12 python3.11; do
        if command -v "$py" >/dev/null 2>&1 &&
            "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$py"; return 0
        fi
    done
    return 1
}
PY=$(pick_python) || { echo "propcheck needs Python 3.11 or newer (python3)." >&2; exit 1; }
"$PY" -c 'import ensurepip, venv' 2>/dev/null || packages+=("python3-venv")

if [ "${#packages[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo"
    else
        echo "propcheck needs these system packages: ${packages[*]}" >&2
        echo "Install them, then run this again:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
        exit 1
    fi
    echo "installing system packages: ${packages[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.propcheck-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[test]'
    touch "$stamp"
fi
