"""Runs TQL queries with deeplake 4.x on a local Deep Lake 3 dataset; records the source rows each one selects.

Runs in the deeplake 4 virtualenv (tests/oracle/setup_venv4.sh), never in chute's:

    python dl4_query.py DATASET_PATH QUERIES_JSON OUT_JSON [--key TENSOR]

QUERIES_JSON holds a JSON list of query strings written without FROM (`SELECT * WHERE labels == 2 ...`, also
`(SELECT * WHERE a) UNION (SELECT * WHERE b)`). Each SELECT that has no FROM gets `FROM "<path>"` right after its
column list. OUT_JSON gets one entry per query, in input order:

    {"query": q, "tql": the query run, "rows": [source row indices, in result order], "order_keys": ...}
    {"query": q, "tql": ..., "error": "<ExceptionType>: message"}        (deeplake rejected it)

"order_keys" (only for a single SELECT with ORDER BY, else null) maps each row the query's WHERE keeps (str(row))
to its ORDER BY key, so that a caller can compare orders up to ties. It comes from a second query: the same one
with LIMIT/OFFSET removed and `<order expression> AS order_key_` added to the column list.

How the source row of each result row is found. deeplake 4 keeps no link back to the source row on a query result
(`view[i].row_id` is the position in the view, and `row_number()` in a SELECT list numbers the *result* rows), so each
result row is identified by its value of a key tensor (`--key`, default `emb`) whose values are distinct in every row
of the dataset; the dataset is read once in full (`SELECT * FROM "<path>"`) to map key values to row indices. A SELECT
with a column list that lacks the key gets the key appended (`SELECT labels, num` -> `SELECT labels, num, emb`), which
does not change which rows are selected. Every result row is then checked: each tensor the result shares with the
dataset must equal that tensor's value in the source row found, else the query is reported as an error ("oracle:
..."), so a wrong mapping cannot pass silently.

All queries run in one process (the deeplake import costs ~1 s).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys

os.environ.setdefault("BUGGER_OFF", "true")

CLAUSES = {"FROM", "WHERE", "ORDER", "LIMIT", "OFFSET", "GROUP", "UNGROUP", "SAMPLE", "EXPAND", "UNION", "INTERSECT",
           "EXCEPT"}
SET_OPS = {"UNION", "INTERSECT", "EXCEPT"}
ORDER_KEY = "order_key_"  # deeplake 4 identifiers cannot start with '_'
_TOKEN = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*|[0-9.]+|\s+|.""", re.S)


def _tokens(q: str) -> list[str]:
    """Quoted strings, identifiers, numbers and whitespace runs whole; other characters one by one."""
    return [m.group(0) for m in _TOKEN.finditer(q)]


def _word(t: str) -> str:
    return t.upper() if t[:1].isalpha() or t[:1] == "_" else ""


def _clause_end(toks: list[str], i: int, stop: set[str]) -> int:
    """The index of the first token from i on that is a `stop` word or a closing bracket at bracket depth 0."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t in "([":
            depth += 1
        elif t in ")]":
            if depth == 0:
                return j
            depth -= 1
        elif depth == 0 and _word(t) in stop:
            return j
    return len(toks)


def _top_level_items(toks: list[str]) -> list[str]:
    parts, depth, cur = [], 0, []
    for t in toks:
        if t in "([":
            depth += 1
        elif t in ")]":
            depth -= 1
        if t == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(t)
    parts.append("".join(cur).strip())
    return parts


def add_from(q: str, path: str, key: str | None, extra: str = "") -> str:
    """Inserts FROM "<path>" after the column list of every SELECT without one. Column lists that are not `*` and
    do not already select `key` get it appended; `extra` (", expr AS name") is appended to every column list."""
    toks = _tokens(q)
    out = []
    i = 0
    while i < len(toks):
        out.append(toks[i])
        if _word(toks[i]) != "SELECT":
            i += 1
            continue
        end = _clause_end(toks, i + 1, CLAUSES)
        cols = toks[i + 1:end]
        while cols and cols[-1].isspace():  # keep trailing whitespace after what we insert
            cols.pop()
        trailing = toks[i + 1 + len(cols):end]
        items = _top_level_items(cols)
        out.extend(cols)
        if not (end < len(toks) and _word(toks[end]) == "FROM"):
            if key and not any(c.startswith("*") for c in items) and key not in items:
                out.append(f", {key}")
            out.append(extra)
            out.append(f' FROM "{path}"')
        out.extend(trailing)
        i = end
    return "".join(out)


def order_by_parts(q: str):
    """For a single SELECT (no set operation) with ORDER BY: (the ORDER BY expression, the query without its
    LIMIT and OFFSET). Else None."""
    toks = _tokens(q)
    depth, order_at = 0, None
    for j, t in enumerate(toks):
        if t in "([":
            depth += 1
        elif t in ")]":
            depth -= 1
        elif depth == 0 and _word(t) in SET_OPS:
            return None
        elif depth == 0 and _word(t) == "ORDER":
            order_at = j
    if order_at is None:
        return None
    k = order_at + 1
    while k < len(toks) and toks[k].isspace():
        k += 1
    if k >= len(toks) or _word(toks[k]) != "BY":
        return None
    end = _clause_end(toks, k + 1, {"ASC", "DESC", "LIMIT", "OFFSET", "SAMPLE"})
    expr = "".join(toks[k + 1:end]).strip()
    kept, j, depth = [], 0, 0
    while j < len(toks):  # drop LIMIT n [PERCENT] and OFFSET n at depth 0
        depth += (toks[j] in "([") - (toks[j] in ")]")
        if depth == 0 and _word(toks[j]) in ("LIMIT", "OFFSET"):
            j += 1
            while j < len(toks) and toks[j].isspace():
                j += 1
            j += 1  # the number
            while j < len(toks) and toks[j].isspace():
                j += 1
            if j < len(toks) and _word(toks[j]) == "PERCENT":
                j += 1
            continue
        kept.append(toks[j])
        j += 1
    return expr, "".join(kept).rstrip()


def _column(view, name):
    """All values of one column of a query result, as a list."""
    if not len(view):
        return []
    col = view[name][:]
    if isinstance(col, list):
        return col
    return [col[i] for i in range(len(col))]


def _same(a, b) -> bool:
    import numpy as np

    if isinstance(a, str) or isinstance(b, str):
        return a == b
    try:
        a, b = np.asarray(a), np.asarray(b)
    except Exception:
        return True  # json Dicts and the like: not compared
    if a.dtype == object or b.dtype == object:
        return True
    return a.shape == b.shape and np.array_equal(a, b)


def _scalar(v):
    """An ORDER BY key as JSON: a number, a string or None."""
    import numpy as np

    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    a = np.asarray(v)
    if a.size != 1:
        raise RuntimeError(f"oracle: ORDER BY key {v!r} is not a single value")
    return a.reshape(()).item()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("queries")
    ap.add_argument("out")
    ap.add_argument("--key", default="emb", help="a tensor whose value is distinct in every row (default: emb)")
    args = ap.parse_args(argv[1:] if argv is not None else None)

    import deeplake
    import numpy as np

    path = os.path.abspath(args.path)
    with open(args.queries) as f:
        queries = json.load(f)

    full = deeplake.query(f'SELECT * FROM "{path}"')
    names = [c.name for c in full.schema.columns]
    source = {n: _column(full, n) for n in names}
    keys = {np.asarray(v).tobytes(): i for i, v in enumerate(source[args.key])}
    if len(keys) != len(full):
        raise SystemExit(f"dl4_query.py: tensor '{args.key}' has repeated values; it cannot identify rows")

    def run(tql: str):
        """(source rows in result order, the result's columns)."""
        view = deeplake.query(tql)
        cols = [c.name for c in view.schema.columns]
        if args.key not in cols:
            raise RuntimeError(f"oracle: the result has no '{args.key}' column to identify rows")
        got = {n: _column(view, n) for n in cols}
        rows = []
        for r, k in enumerate(got[args.key]):
            i = keys.get(np.asarray(k).tobytes())
            if i is None:
                raise RuntimeError(f"oracle: result row {r} matches no source row")
            for n, vals in got.items():
                if n in source and not _same(vals[r], source[n][i]):
                    raise RuntimeError(f"oracle: result row {r} ('{n}') differs from source row {i}")
            rows.append(i)
        return rows, got

    results = []
    for q in queries:
        tql = add_from(q, path, args.key)
        entry = {"query": q, "tql": tql}
        try:
            entry["rows"], _ = run(tql)
            entry["order_keys"] = None
            parts = order_by_parts(q)
            if parts is not None:
                expr, unlimited = parts
                ktql = add_from(unlimited, path, args.key, extra=f", {expr} AS {ORDER_KEY}")
                krows, kcols = run(ktql)
                entry["order_keys"] = {str(r): _scalar(k) for r, k in zip(krows, kcols[ORDER_KEY])}
                entry["order_keys_tql"] = ktql
                missing = [r for r in entry["rows"] if str(r) not in entry["order_keys"]]
                if missing:
                    raise RuntimeError(f"oracle: rows {missing} are not in the result without LIMIT/OFFSET")
        except Exception as e:  # deeplake rejected the query (or the oracle check failed): record why
            entry["error"] = f"{type(e).__name__}: {e}".strip()
        results.append(entry)

    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
