#!/usr/bin/env bash
# Create (idempotently) the Deep Lake 4.x oracle virtualenv (latest 4.x at
# install time) used by chute's later TQL tests. Prints the venv's python path
# on stdout (last line); everything else goes to stderr.
#
#   CHUTE_ORACLE_DIR   base dir (default: $HOME/.cache/chute)
#   PYTHON             interpreter used to create the venv (default: python3.11)
#
# Offline: deeplake 4.x works on local datasets without network. We still
# export BUGGER_OFF=true (harmless; it is what disables the 3.x telemetry).
set -euo pipefail

BASE="${CHUTE_ORACLE_DIR:-$HOME/.cache/chute}"
VENV="$BASE/venv-dl4"
PY="${PYTHON:-python3.11}"
DL_SPEC="deeplake>=4,<5"

export BUGGER_OFF=true

have_deeplake() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - <<'PYEOF' >/dev/null 2>&1
import sys
import deeplake
sys.exit(0 if deeplake.__version__.split(".")[0] == "4" else 1)
PYEOF
}

if have_deeplake; then
    echo "$VENV/bin/python"
    exit 0
fi

mkdir -p "$BASE"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" >&2
fi
# pip's "Location ... is ignored" warnings (about this machine's local
# find-links mirrors) are harmless; keep them out of the log.
"$VENV/bin/python" -m pip install --quiet --upgrade pip 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; } >&2
"$VENV/bin/python" -m pip install --quiet "$DL_SPEC" "numpy" pillow 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; } >&2

if ! have_deeplake; then
    echo "setup_venv4.sh: deeplake 4.x not importable in $VENV" >&2
    exit 1
fi
echo "$VENV/bin/python"
