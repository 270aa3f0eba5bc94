#!/usr/bin/env bash
# Installs everything the test suite needs, then runs it (extra arguments go to pytest):
#   - Debian's chromium and chromium-driver, for the dashboard's browser test;
#   - Debian's postgresql server binaries, for the storage tests (the tests start their own server);
#   - this package with its test extras (torch pinned to the CPU wheel these machines keep on disk).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
if ((${#missing[@]})); then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "scripts/test.sh: the tests need Debian's ${missing[*]}: install them (as root: apt-get install ${missing[*]})" >&2
    exit 2
  fi
fi

pip install torch==2.13.0 -e ".[test]"
ruff check .            # lint
ruff format --check .   # one formatting, ruff's
python -m pytest "$@"
