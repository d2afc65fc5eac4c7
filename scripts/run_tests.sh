#!/usr/bin/env bash
# The whole suite: the C++ tests through ctest, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=$(dirname "$(ls -t build/*/CTestTestfile.cmake | head -1)")
echo "== C++ tests (ctest in $builddir)"
ctest --test-dir "$builddir" --output-on-failure -j2
echo "== Python tests (pytest)"
.venv/bin/python -m pytest -q "$@"
