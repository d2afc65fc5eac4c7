"""Imported first by the deeplake 3.9.52 oracle scripts: makes `import deeplake` do no network I/O."""
import json
import os
import time


def make_offline() -> None:
    os.environ.setdefault("BUGGER_OFF", "true")  # humbug telemetry off
    # The PyPI version check has no env switch; it trusts a cache file whose
    # timestamp is < 1 day old. A far-future timestamp disables it.
    p = os.path.expanduser("~/.activeloop/pypi_version.json")
    try:
        with open(p) as f:
            if json.load(f)[1] > time.time() + 86400:
                return
    except Exception:
        pass
    try:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            json.dump(["3.9.52", time.time() + 100 * 365 * 86400], f)
    except OSError:
        pass  # offline import still works; the check just fails after <=2 s


make_offline()
