"""chute's version: the one place it is written. pyproject.toml (scikit-build-core's regex provider),
CMakeLists.txt (the engine's `chute._core.__version__` and `chute-bench --version`) and conanfile.py
read it from here."""
__version__ = "0.1.0"
