#!/usr/bin/env bash
# Install the project with its test extra (and DCMTK when root), then run lint, types and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s dcmtk >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dcmtk >/dev/null
fi
python -m pip install -q -e '.[test]'
python -m ruff check dicomnet_pdu dicomnet tests benchmarks examples
python -m mypy
python -m pytest -q -p no:cacheprovider
