"""TQL's two evaluation paths give the same answers: the column-at-a-time compiler against the
row-by-row evaluator (`row_by_row=True`, which defines the semantics), on queries from the bench's
TQL grammar over data with every kind the grammar reaches (bench/fuzz_tql_differential.py runs
100,000; this runs 34,000)."""
import sys
from pathlib import Path

import numpy as np
import pytest

import chute

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from fuzz_tql_differential import TEXTS, make_datasets, run  # noqa: E402


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    return make_datasets(str(tmp_path_factory.mktemp("tql_diff")))


def both(core, q, rows):
    a = core.query(q, rows, 0).tolist()
    b = core.query(q, rows, 0, row_by_row=True).tolist()
    assert a == b, q
    return a


def test_generated_queries_agree_on_both_paths(targets):
    messages = []
    ran, agreed, gave_rows, mismatches = run(30_000, 8, targets, report=messages.append)
    assert not mismatches, "\n".join(messages[:20])
    assert ran == agreed == 30_000
    assert gave_rows > 5000  # the grammar reaches the evaluators, not only the parser's errors


def test_generated_queries_agree_over_many_blocks_and_parts(tmp_path):
    """5,000 rows: the compiler runs several 2,048-row blocks in parts on the pool, the row path
    several parts, each with its own evaluator; the answers still agree."""
    messages = []
    ran, agreed, gave_rows, mismatches = run(4000, 9, make_datasets(str(tmp_path), 5000), report=messages.append)
    assert not mismatches, "\n".join(messages[:20])
    assert gave_rows > 650


def test_empty_contains_pattern_keeps_every_row_with_text(targets):
    """contains(text, '') is true for every text, the empty one too (Deep Lake 3 and 4); rows
    without a text (past a shorter tensor's end) stay out. The compiled substring scan used to
    miss the empty texts."""
    _, core, sets = targets[0]
    n_text = 300 - 40  # the "mixed" dataset's text tensor is 40 rows short
    assert both(core, "SELECT * WHERE contains(text, '')", n_text) == list(range(n_text))
    assert both(core, "SELECT * WHERE contains(text, '')", 300) == list(range(n_text))
    assert both(core, "SELECT * WHERE NOT contains(text, '')", n_text) == []
    assert both(core, "SELECT * WHERE contains(text, '') AND text == ''", n_text) == [
        i for i in range(n_text) if TEXTS[i % len(TEXTS)] == ""]
    view = np.array([3, 0, 14, 299, 28], np.uint64)  # row 299 has no text
    assert both(core, "SELECT * WHERE contains(text, '')", view) == [3, 0, 14, 28]
    assert both(core, "SELECT * WHERE contains(labels, '')", 10) == list(range(10))  # every class name


def test_static_errors_do_not_depend_on_the_rows(targets):
    """An unknown tensor or class name is an error on both paths, whatever rows the query sees
    (the compiler met them at compile time, the row path only in rows it evaluated)."""
    _, core, _ = targets[0]
    empty = np.array([], np.uint64)
    for q in ("SELECT * WHERE FALSE AND nosuch == 1", "SELECT * WHERE labels == 'zebra'",
              "SELECT * WHERE FALSE AND labels IN ('a', 'zebra')", "SELECT * ORDER BY nosuch",
              "SELECT * WHERE num > 1 OR 'zebra' == labels"):
        for rows in (empty, 10):
            for rbr in (False, True):
                with pytest.raises(chute.QueryError):
                    core.query(q, rows, 0, row_by_row=rbr)


def test_order_by_nan_and_mixed_keys_is_a_total_order(targets):
    """ORDER BY puts NaN after every number (ASC; first DESC) and, for json keys mixing kinds,
    nulls < numbers < text; the same on both paths."""
    _, core, _ = targets[1]  # "other": num has NaN and +-inf
    asc = both(core, "SELECT * ORDER BY num", 300)
    desc = both(core, "SELECT * ORDER BY num DESC", 300)
    nan_rows = both(core, "SELECT * WHERE NOT (num == num)", 300)
    assert len(nan_rows) == 18 and asc[-18:] == nan_rows and desc[:18] == nan_rows
    finite = both(core, "SELECT * WHERE num == num ORDER BY num", 300)
    assert asc[:-18] == finite and desc[18:] == both(core, "SELECT * WHERE num == num ORDER BY num DESC", 300)
    _, mixed, _ = targets[0]
    for q in ("SELECT * ORDER BY js['k']", "SELECT * ORDER BY js['k'] DESC"):
        assert sorted(both(mixed, q, 300)) == list(range(300))
