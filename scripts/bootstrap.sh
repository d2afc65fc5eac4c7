#!/usr/bin/env bash
# Installs what chute needs on a Debian 12 machine and builds it into .venv. Idempotent:
# a second run only rebuilds what changed (persistent build dir + ccache).
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache hits across clones and build folders: paths relative to the project, not the folder hashed.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

bash scripts/apt_deps.sh

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  $PY -m venv .venv
fi
VPY=.venv/bin/python
EXTRAS=${CHUTE_EXTRAS:-test}
stamp=".venv/.deps-$(sha1sum pyproject.toml | cut -c1-12)-$EXTRAS"
if [ ! -f "$stamp" ]; then
  echo "== installing Python build and $EXTRAS dependencies"
  $VPY -m pip install -q --upgrade pip
  $VPY -m pip install -q "scikit-build-core>=0.10" "pybind11>=3" "numpy>=1.26" ninja
  # the project's runtime and extra dependencies, read from pyproject.toml
  deps=$($VPY - "$EXTRAS" <<'PYEOF'
import sys, tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = list(p["dependencies"])
for extra in sys.argv[1].split(","):
    if extra:
        deps += p["optional-dependencies"][extra]
print("\n".join(deps))
PYEOF
)
  echo "$deps" | tr '\n' '\0' | xargs -0 $VPY -m pip install -q
  touch "$stamp"
fi

echo "== building chute"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
$VPY -m pip install -q --no-build-isolation --no-deps \
  -Ccmake.define.CHUTE_BUILD_TESTS=ON -Ccmake.define.CHUTE_WERROR=ON -Ceditable.rebuild=false -e .
