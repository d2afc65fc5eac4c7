#!/usr/bin/env bash
# Create (idempotently) the Deep Lake 3.9.52 oracle virtualenv used by chute's
# compatibility tests. Prints the venv's python path on stdout (last line);
# everything else goes to stderr.
#
#   CHUTE_ORACLE_DIR   base dir (default: $HOME/.cache/chute)
#   PYTHON             interpreter used to create the venv (default: python3.11)
#
# Offline safety of `import deeplake` (3.9.52):
#  * BUGGER_OFF=true disables humbug telemetry (crash/feature reports).
#    Export it in every process that imports deeplake (the oracle scripts set
#    it themselves).
#  * The PyPI version check (deeplake/util/check_latest_version.py, run at
#    import time) has NO env-var switch. It skips the network when
#    ~/.activeloop/pypi_version.json holds [version, saved_time] with
#    now - saved_time < 1 day. We seed that file with a far-future saved_time,
#    which disables the check for good. (Without the seed an offline import
#    still works: the request has timeout=2 and all errors are swallowed.)
set -euo pipefail

BASE="${CHUTE_ORACLE_DIR:-$HOME/.cache/chute}"
VENV="$BASE/venv-dl3"
PY="${PYTHON:-python3.11}"
DL_VERSION="3.9.52"

export BUGGER_OFF=true

seed_version_cache() {
    "$VENV/bin/python" - "$DL_VERSION" <<'PYEOF' >&2
import json, os, sys, time
p = os.path.expanduser("~/.activeloop/pypi_version.json")
try:
    with open(p) as f:
        if json.load(f)[1] > time.time() + 86400:
            sys.exit(0)  # already seeded
except Exception:
    pass
os.makedirs(os.path.dirname(p), exist_ok=True)
with open(p, "w") as f:
    json.dump([sys.argv[1], time.time() + 100 * 365 * 86400], f)
PYEOF
}

have_deeplake() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$DL_VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
import deeplake
sys.exit(0 if deeplake.__version__ == sys.argv[1] else 1)
PYEOF
}

if [ -x "$VENV/bin/python" ]; then
    seed_version_cache
fi
if have_deeplake; then
    echo "$VENV/bin/python"
    exit 0
fi

mkdir -p "$BASE"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" >&2
fi
seed_version_cache
# pip's "Location ... is ignored" warnings (about this machine's local
# find-links mirrors) are harmless; keep them out of the log.
"$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; } >&2
"$VENV/bin/python" -m pip install --quiet \
    "deeplake==$DL_VERSION" "numpy<2" pillow lz4 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; } >&2

if ! have_deeplake; then
    echo "setup_venv.sh: deeplake $DL_VERSION not importable in $VENV" >&2
    exit 1
fi
echo "$VENV/bin/python"
