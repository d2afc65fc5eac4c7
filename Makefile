# The two commands (README): `make demo` runs chute's main job, `make test` runs every test.
# Each installs what it needs first (Debian packages, .venv, the build) and is idempotent.
.PHONY: demo test build wheel bench clean

build:
	bash scripts/bootstrap.sh

demo: build
	.venv/bin/python -m chute.demo

test: build
	bash scripts/run_tests.sh

# The sdist and a self-contained manylinux wheel (vendored native libraries) in dist/.
wheel:
	bash scripts/build_wheel.sh

bench:
	bash scripts/bench_env.sh
	.venv-bench/bin/python bench/run_all.py
	.venv-bench/bin/python bench/bench_loader.py
	.venv-bench/bin/python bench/bench_query.py
	.venv/bin/python bench/bench_transform.py
	.venv/bin/python bench/bench_ray.py
	.venv-bench/bin/python bench/bench_remote.py
	.venv/bin/python bench/bench_version.py
	.venv/bin/python bench/bench_wheel.py

clean:
	rm -rf build dist .venv .venv-wheel
