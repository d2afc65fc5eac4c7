#!/usr/bin/env bash
# The whole suite: lint (ruff, clang-format), the C++ tests through ctest (release build, then under ASan+UBSan and under
# ThreadSanitizer), then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache hits across clones and build folders: paths relative to the project, not the folder hashed.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
echo "== lint (ruff, clang-format)"
.venv/bin/ruff check python tests bench
git ls-files 'cpp/*.cpp' 'cpp/*.h' | xargs clang-format --dry-run --Werror
builddir=$(dirname "$(ls -t build/cp*/CTestTestfile.cmake | head -1)")
echo "== C++ tests (ctest in $builddir)"
ctest --test-dir "$builddir" --output-on-failure -j2
echo "== C++ tests under ASan + UBSan (preset asan)"
PATH="$PWD/.venv/bin:$PATH" cmake --preset asan >/dev/null
PATH="$PWD/.venv/bin:$PATH" cmake --build --preset asan -j"$(nproc)" >/dev/null
ctest --preset asan -j2
echo "== C++ tests under ThreadSanitizer (preset tsan)"
PATH="$PWD/.venv/bin:$PATH" cmake --preset tsan >/dev/null
PATH="$PWD/.venv/bin:$PATH" cmake --build --preset tsan -j"$(nproc)" >/dev/null
ctest --preset tsan -j2
echo "== Python tests (pytest)"
.venv/bin/python -m pytest -q "$@"
