#!/usr/bin/env bash
# The benchmark environment: .venv-bench with torch 2.14.1 + torchvision 0.29.1 (pip takes both
# from this machine's disk) and chute built into it (its own build dir, ccache makes it quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh >/dev/null   # Debian packages and the main build
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
fi
if [ ! -f .venv-bench/.deps-ok2 ]; then
  .venv-bench/bin/pip install -q torch==2.14.1 torchvision==0.29.1
  .venv-bench/bin/pip install -q scikit-build-core "pybind11>=3" ninja numpy pillow scikit-image matplotlib psutil tqdm duckdb
  # bench_remote.py: an S3 server (moto) and the s3fs baseline, resolved together (s3fs pins botocore)
  .venv-bench/bin/pip install -q "moto[server]" s3fs boto3
  touch .venv-bench/.deps-ok2
fi
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) .venv-bench/bin/pip install -q --no-build-isolation --no-deps -Cbuild-dir=build/bench -e .
