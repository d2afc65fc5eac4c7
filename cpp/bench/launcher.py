#!python
"""chute-bench: starts the C++ harness that ships inside the chute package (chute/_bin/chute-bench).

Installed as the `chute-bench` command. It finds the package without importing it (so the harness starts
at once) wherever pip put it: a virtual environment, `--user`, `--target` or an editable install."""
import importlib.util
import os
import sys


def main() -> None:
    spec = importlib.util.find_spec("chute")
    places = list(spec.submodule_search_locations or []) if spec else []
    places += [os.path.join(p or os.curdir, "chute") for p in sys.path]
    for place in places:
        exe = os.path.join(place, "_bin", "chute-bench")
        if os.access(exe, os.X_OK):
            os.execv(exe, ["chute-bench", *sys.argv[1:]])
    sys.exit("chute-bench: the harness (chute/_bin/chute-bench) is not installed beside the chute package "
             f"(searched {', '.join(dict.fromkeys(places))})")


if __name__ == "__main__":
    main()
