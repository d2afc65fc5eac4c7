"""TQL in the engine: semantics, errors, a parser fuzz, and weighted sampling statistics."""
import fnmatch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import chute
from chute._internal.handle import dataset_handle


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    ds = chute.empty(str(tmp_path_factory.mktemp("tql") / "ds"))
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog", "bird"])
    ds.create_tensor("text", htype="text")
    ds.create_tensor("num", dtype="int32")
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("js", htype="json")
    ds.create_tensor("emb", htype="embedding")
    ds.create_tensor("images", htype="image", sample_compression="png")
    words = ["a red cat", "blue dog", "bird", "bled", "rd"]
    with ds:
        for i in range(30):
            ds.append({"labels": i % 3, "text": words[i % 5], "num": np.array([i], np.int32),
                       "boxes": np.full((i % 3, 4), i, np.float32), "js": {"w": i, "tag": "x" if i % 2 else "y"},
                       "emb": np.array([i, 1, 0, -i], np.float32), "images": np.zeros((4 + i % 4, 5, 3), np.uint8)})
    return chute.load(ds.path, read_only=True)


def rows(ds, q, **kw):
    return ds.query(q, **kw).sample_indices


def test_filters_by_class_name_number_and_text(ds):
    assert rows(ds, "SELECT * WHERE labels == 'dog'") == list(range(1, 30, 3))
    assert rows(ds, "select * where labels = 2 and num >= 20") == [20, 23, 26, 29]
    assert rows(ds, "SELECT * WHERE text == 'bird' OR NOT num < 28") == [2, 7, 12, 17, 22, 27, 28, 29]
    assert rows(ds, "SELECT * WHERE num IN (3, 5, 99) OR num BETWEEN 10 AND 11") == [3, 5, 10, 11]
    assert rows(ds, "SELECT * WHERE num NOT BETWEEN 1 AND 28") == [0, 29]
    assert rows(ds, "SELECT * WHERE (num + 1) * 2 % 7 == 0") == [i for i in range(30) if (i + 1) * 2 % 7 == 0]


def test_functions_arrays_and_json(ds):
    assert rows(ds, "SELECT * WHERE shape(boxes)[0] == 2") == list(range(2, 30, 3))
    assert rows(ds, "SELECT * WHERE shape(images)[0] == 7") == list(range(3, 30, 4))  # from chunk headers
    assert rows(ds, "SELECT * WHERE any(boxes[:, 3] > 25)") == [26, 28, 29]
    assert rows(ds, "SELECT * WHERE all(boxes[:, 0] > 25)") == [i for i in range(30) if i % 3 == 0 or i > 25]
    assert rows(ds, "SELECT * WHERE all_strict(boxes[:, 0] > 25)") == [26, 28, 29]
    assert rows(ds, "SELECT * WHERE js['w'] > 26 AND js['tag'] == 'x'") == [27, 29]
    assert rows(ds, "SELECT * WHERE emb[0] == 4") == [4]
    assert rows(ds, "SELECT * WHERE sum(emb) == 1 AND amax(emb) >= 28") == [28, 29]
    assert rows(ds, "SELECT * WHERE abs(emb[3]) < 2 OR sqrt(num) == 5") == [0, 1, 25]


def test_order_limit_offset_and_vector_search(ds):
    assert rows(ds, "SELECT * WHERE labels == 0 ORDER BY num DESC LIMIT 3") == [27, 24, 21]
    assert rows(ds, "SELECT * ORDER BY num LIMIT 10 PERCENT") == [0, 1, 2]
    assert rows(ds, "SELECT * ORDER BY num DESC LIMIT 2 OFFSET 1") == [28, 27]
    assert rows(ds, "SELECT * ORDER BY l2_norm(emb - ARRAY[7, 1, 0, -7]) LIMIT 3")[0] == 7
    assert rows(ds, "SELECT * ORDER BY cosine_similarity(emb, ARRAY[0, 1, 0, 0]) DESC LIMIT 1") == [0]
    assert rows(ds, "SELECT * ORDER BY dot(emb, ARRAY[1, 0, 0, 0]) DESC LIMIT 2") == [29, 28]
    assert rows(ds, "SELECT * ORDER BY js['tag'] LIMIT 2") == [1, 3]  # ties keep row order


def test_set_operations(ds):
    assert rows(ds, "(SELECT * WHERE num < 5) UNION (SELECT * WHERE num > 26)") == [0, 1, 2, 3, 4, 27, 28, 29]
    assert rows(ds, "(SELECT * WHERE num < 10) INTERSECT (SELECT * WHERE labels == 1)") == [1, 4, 7]
    assert rows(ds, "(SELECT * WHERE num < 6) EXCEPT (SELECT * WHERE labels == 0)") == [1, 2, 4, 5]


def test_contains_with_deeplake3_wildcards(ds):
    texts = ds.text.data()["value"]
    for pattern in ("red", "r*d", "bl?e", "b*d", "?d"):
        want = [i for i, t in enumerate(texts) if fnmatch.fnmatchcase(t, f"*{pattern}*")]
        assert rows(ds, f"SELECT * WHERE contains(text, '{pattern}')") == want, pattern


def test_query_on_a_view_and_in_the_loader(ds):
    view = ds[10:20].query("SELECT * WHERE labels == 0")
    assert view.sample_indices == [12, 15, 18]
    assert view.num.numpy().ravel().tolist() == [12, 15, 18]
    dl = ds.dataloader().query("SELECT * WHERE labels == 1").query("SELECT * WHERE num > 20").batch(10)
    assert next(iter(dl.numpy(tensors=["num"])))["index"].tolist() == [22, 25, 28]


def test_errors_name_the_problem(ds):
    with pytest.raises(chute.QueryError) as e:
        ds.query("SELECT * WHERE labels == ")
    assert (e.value.line, e.value.column) == (1, 26) and "^" in str(e.value)
    with pytest.raises(chute.QueryError) as e:
        ds.query("SELECT *\nWHERE num >> 3")
    assert e.value.line == 2
    with pytest.raises(chute.QueryError, match="unknown tensor 'nope'.*labels"):
        ds.query("SELECT * WHERE nope == 1")
    with pytest.raises(chute.QueryError, match="type mismatch"):
        ds.query("SELECT * WHERE text > 3")
    with pytest.raises(chute.QueryError, match="unknown function 'frob'.*cosine_similarity"):
        ds.query("SELECT * WHERE frob(num) > 1")
    with pytest.raises(ValueError):  # QueryError is a ValueError for ordinary except clauses
        ds.query("SELEC *")


TOKENS = ["SELECT", "*", "WHERE", "labels", "num", "text", "==", "=", "!=", "<", ">=", "AND", "OR", "NOT", "IN", "(",
          ")", ",", "BETWEEN", "ORDER", "BY", "DESC", "LIMIT", "OFFSET", "PERCENT", "UNION", "3", "'cat'", "[", "]", ":",
          "shape", "contains", "ARRAY", "SAMPLE", "max_weight", "+", "-", "%", "'", '"', "js", "1e", ".5", "\n"]


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join), st.text(max_size=40)))
def test_the_parser_never_crashes(ds, text):
    try:
        ds.query(text)
    except chute.QueryError:
        pass


def test_grammar_generated_queries_run_or_fail_cleanly(ds, big):
    """The bench's TQL grammar fuzzer (4,000 queries here, 100,000 in the bench) over both
    datasets: every query gives rows or a QueryError, on the whole dataset and on a view."""
    import random
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_query import fuzz_query

    r = random.Random(1)
    ran = 0
    n = len(big[0])
    for k in range(4000):
        target = [ds, big[0], ds[[5, 3, 9]], big[0][100:20000:3]][k % 4]
        try:
            out = np.asarray(target.query(fuzz_query(r)).sample_indices)
            assert out.size == 0 or (out.min() >= 0 and out.max() < n)
            ran += 1
        except chute.QueryError:
            pass
    assert ran > 400  # the generator reaches the evaluator, not just the parser


def test_sample_by_frequencies_match_the_weights(ds):
    # with replacement: labels weights 1:4:0 -> dog rows 80% , cat 20%, bird never
    n = 6000
    picked = np.array(ds.sample_by("max_weight(labels == 0: 1, labels == 1: 4)", size=n, seed=3).sample_indices)
    lab = np.array(picked) % 3
    counts = np.array([(lab == 0).sum(), (lab == 1).sum()])
    assert (lab == 2).sum() == 0
    assert stats.chisquare(counts, n * np.array([0.2, 0.8])).pvalue > 0.001
    # sum_weight adds the weights of every true condition
    picked = np.array(ds.sample_by("sum_weight(num < 15: 1, labels == 0: 2)", size=n, seed=4).sample_indices)
    w = np.array([(i < 15) * 1 + (i % 3 == 0) * 2 for i in range(30)], float)
    observed = np.bincount(picked, minlength=30)
    mask = w > 0
    assert observed[~mask].sum() == 0
    assert stats.chisquare(observed[mask], n * w[mask] / w.sum()).pvalue > 0.001
    # without replacement: the first draws favour heavy rows; zero weights come last; a permutation
    firsts = []
    for s in range(400):
        perm = ds.sample_by("max_weight(num < 3: 9, num >= 3 AND num < 6: 1)", replace=False, seed=s).sample_indices
        assert sorted(perm) == list(range(30)) and set(perm[6:]) == set(range(6, 30))
        firsts.append(perm[0])
    heavy = sum(f < 3 for f in firsts)
    assert stats.binomtest(heavy, 400, 27 / 30).pvalue > 0.001
    # explicit weights and determinism for a seed
    w = np.zeros(30)
    w[[5, 9]] = [1, 3]
    a = ds.sample_by(w, size=4000, seed=8).sample_indices
    assert a == ds.sample_by(w, size=4000, seed=8).sample_indices
    assert stats.chisquare([a.count(5), a.count(9)], [1000, 3000]).pvalue > 0.001


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Enough rows for many blocks and chunks, so the column-at-a-time path splits work over threads."""
    n = 50_000
    rng = np.random.default_rng(5)
    words = ["xre", "dog", "red", "blue", "rreed", "", "Red"]
    text = [words[i % len(words)] + ("" if i % 11 else " red") for i in range(n)]
    labels = rng.integers(0, 4, n).astype(np.uint32)
    vals = rng.normal(size=n).astype(np.float32)
    nbox = rng.integers(0, 3, n)
    ds = chute.empty(str(tmp_path_factory.mktemp("tql_big") / "ds"))
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog", "bird", "catfish"], max_chunk_size=64 * 1024)
    ds.create_tensor("text", htype="text", max_chunk_size=64 * 1024)
    ds.create_tensor("val", dtype="float32", max_chunk_size=64 * 1024)
    ds.create_tensor("boxes", htype="bbox")
    ds.create_tensor("emb", htype="embedding", dtype="float32")
    emb = rng.normal(size=(n, 8)).astype(np.float32)
    with ds:
        ds.emb.extend(emb)
        ds.labels.extend(labels[:, None])
        ds.text.extend(text)
        ds.val.extend(vals[:, None])
        ds.boxes.extend([np.zeros((k, 4), np.float32) for k in nbox])
    return chute.load(ds.path, read_only=True), labels, text, vals, nbox, emb


def test_column_at_a_time_matches_python_on_many_blocks(big):
    ds, labels, text, vals, nbox, _ = big
    n = len(labels)
    where = lambda mask: list(np.flatnonzero(mask))  # noqa: E731
    assert rows(ds, "SELECT * WHERE labels == 'bird'") == where(labels == 2)
    assert rows(ds, "SELECT * WHERE val * 2 > 1 AND NOT labels IN ('cat', 'dog')") == where((vals * 2 > 1) & (labels >= 2))
    assert rows(ds, "SELECT * WHERE val BETWEEN -0.5 AND 0.25 OR row_number() < 3") == where(
        ((vals >= -0.5) & (vals <= 0.25)) | (np.arange(n) < 3))
    # Matches never span two rows' bytes ("xre" then "dog" holds "redog" only across rows).
    assert rows(ds, "SELECT * WHERE contains(text, 'red')") == [i for i in range(n) if "red" in text[i]]
    assert rows(ds, "SELECT * WHERE contains(text, 'redo')") == []
    assert rows(ds, "SELECT * WHERE contains(text, 'r?e*d')") == [i for i in range(n) if fnmatch.fnmatchcase(text[i], "*r?e*d*")]
    assert rows(ds, "SELECT * WHERE text == 'dog' OR text > 'rr'") == [i for i in range(n) if text[i] == "dog" or text[i] > "rr"]
    assert rows(ds, "SELECT * WHERE contains(labels, 'cat')") == where((labels == 0) | (labels == 3))
    assert rows(ds, "SELECT * WHERE shape(boxes)[0] >= 2 AND shape(boxes)[-1] == 4") == where(nbox >= 2)
    got = rows(ds, "SELECT * WHERE labels == 1 ORDER BY val DESC LIMIT 100")
    want = np.flatnonzero(labels == 1)
    assert got == list(want[np.argsort(-vals[want], kind="stable")][:100])


def test_vector_functions_over_an_embedding_column(big):
    ds, labels, _, vals, _, emb = big
    e = emb.astype(np.float64)
    q = np.array([0.5, -1, 0, 2, 0, 0, 1, -0.25])
    qs = ", ".join(str(x) for x in q)
    l2 = np.sqrt(((e - q) ** 2).sum(1))
    assert rows(ds, f"SELECT * ORDER BY l2_norm(emb - ARRAY[{qs}]) LIMIT 10") == list(np.argsort(l2, kind="stable")[:10])
    cos = (e @ q) / np.sqrt((e * e).sum(1) * (q @ q))
    assert rows(ds, f"SELECT * ORDER BY cosine_similarity(emb, ARRAY[{qs}]) DESC LIMIT 5") == list(np.argsort(-cos, kind="stable")[:5])
    assert rows(ds, f"SELECT * WHERE dot(ARRAY[{qs}], emb) > 3 AND labels == 'dog'") == list(np.flatnonzero((e @ q > 3) & (labels == 1)))
    assert rows(ds, "SELECT * WHERE emb[2] > 1.5 OR emb[-1] < -2.5") == list(np.flatnonzero((e[:, 2] > 1.5) | (e[:, -1] < -2.5)))
    assert rows(ds, "SELECT * WHERE amax(emb * 2 + 1) > 6 AND l1_norm(-emb) < 9") == list(
        np.flatnonzero(((e * 2 + 1).max(1) > 6) & (np.abs(e).sum(1) < 9)))
    assert rows(ds, "SELECT * WHERE avg(emb) > 0.5 OR linf_norm(emb) > 3.2") == list(
        np.flatnonzero((e.mean(1) > 0.5) | (np.abs(e).max(1) > 3.2)))
    with pytest.raises(chute.QueryError, match="same length"):
        ds.query("SELECT * ORDER BY dot(emb, ARRAY[1, 2])")
    with pytest.raises(chute.QueryError, match="different sizes"):
        ds.query("SELECT * WHERE sum(emb - ARRAY[1, 2]) > 0")


def test_order_by_after_sample_by_orders_the_drawn_rows(big):
    ds, labels, _, vals, _, _ = big
    got = rows(ds, "SELECT * SAMPLE BY max_weight(labels == 'bird': 1) REPLACE TRUE ORDER BY val DESC")
    assert len(got) == len(labels) and all(labels[r] == 2 for r in got)
    assert all(vals[a] >= vals[b] for a, b in zip(got, got[1:]))


def test_column_at_a_time_on_a_view(big):
    ds, labels, text, vals, _, _ = big
    picked = list(range(40_000, 100, -7))  # explicit rows, out of order
    view = ds[picked]
    assert rows(view, "SELECT * WHERE labels == 'dog' AND contains(text, 'red')") == [
        r for r in picked if labels[r] == 1 and "red" in text[r]]
    assert rows(view, "SELECT * WHERE val > 1 ORDER BY val") == sorted((r for r in picked if vals[r] > 1), key=lambda r: vals[r])


def test_queries_see_rows_appended_after_an_earlier_query(tmp_path):
    ds = chute.empty(str(tmp_path / "grow"))
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("text", htype="text")
    ds.create_tensor("boxes", htype="bbox")
    with ds:
        ds.extend({"labels": [0, 1, 1], "text": ["x", "y", "red"], "boxes": [np.zeros((1, 4), np.float32)] * 3})
    q = "SELECT * WHERE labels == 'b' AND (contains(text, 'red') OR shape(boxes)[0] == 2)"
    assert rows(ds, q) == [2]
    with ds:
        ds.extend({"labels": [1, 1], "text": ["no", "red"], "boxes": [np.zeros((2, 4), np.float32), np.zeros((0, 4), np.float32)]})
    assert rows(ds, q) == [2, 3, 4]
    ds.extend({"labels": [1], "text": ["bored"], "boxes": [np.zeros((1, 4), np.float32)]})  # not flushed yet
    assert rows(ds, q) == [2, 3, 4, 5]


def test_weighted_draws_never_pick_zero_weights_and_are_deterministic(big):
    ds = big[0]
    n = len(ds)
    w = np.zeros(n)
    w[::1000] = np.arange(1, n // 1000 + 1)
    a = ds.sample_by(w, size=20_000, seed=3).sample_indices
    assert set(a) <= set(range(0, n, 1000)) and a == ds.sample_by(w, size=20_000, seed=3).sample_indices
    perm = ds.sample_by(w, replace=False, seed=4).sample_indices
    assert sorted(perm) == list(range(n)) and set(perm[: n // 1000]) == set(range(0, n, 1000))
    tql = ds.sample_by("max_weight(labels == 'cat': 0, labels != 'cat': 1)", size=5000, seed=1).sample_indices
    assert all(big[1][r] != 0 for r in tql)


def test_bool_and_float_columns(tmp_path):
    ds = chute.empty(str(tmp_path / "flags"))
    ds.create_tensor("flag", dtype="bool")
    ds.create_tensor("x", dtype="float64")
    flags = np.arange(5000) % 3 == 0
    xs = np.linspace(-2, 2, 5000)
    with ds:
        ds.flag.extend(flags[:, None])
        ds.x.extend(xs[:, None])
    assert rows(ds, "SELECT * WHERE flag") == list(np.flatnonzero(flags))
    assert rows(ds, "SELECT * WHERE NOT flag AND x > 1.5") == list(np.flatnonzero(~flags & (xs > 1.5)))
    assert rows(ds, "SELECT * WHERE flag == TRUE AND x IN (-2, 2)") == \
        list(np.flatnonzero(flags & np.isin(xs, [-2.0, 2.0])))
    assert rows(ds, "SELECT * ORDER BY x DESC LIMIT 3") == [4999, 4998, 4997]


def test_row_by_row_queries_run_in_parts_and_fail_cleanly(tmp_path):
    """json and ragged rows run row by row on the engine's threads: the same rows as one ordered
    pass, and an error in one row (any part) is a QueryError, not a crash or a hang."""
    ds = chute.empty(str(tmp_path / "js"))
    ds.create_tensor("js", htype="json")
    ds.create_tensor("boxes", htype="bbox")
    n = 6000
    docs = [{"w": i % 50, "tag": "x" if i % 2 else "y"} for i in range(n)]
    with ds:
        ds.js.extend(docs)
        ds.boxes.extend([np.full((i % 4, 4), i % 30, np.float32) for i in range(n)])
    assert rows(ds, "SELECT * WHERE js['w'] > 26 AND js['tag'] == 'x'") == [
        i for i, d in enumerate(docs) if d["w"] > 26 and d["tag"] == "x"]
    assert rows(ds, "SELECT * WHERE any(boxes[:, 3] > 25)") == [i for i in range(n) if i % 4 and i % 30 > 25]
    got = rows(ds, "SELECT * WHERE js['w'] < 3 ORDER BY js['w'] DESC LIMIT 5")
    assert got == [i for i in range(n) if docs[i]["w"] == 2][:5]
    picked = ds.sample_by("max_weight(js['tag'] == 'x': 1)", size=2000, seed=2).sample_indices
    assert all(i % 2 for i in picked)
    with ds:
        ds.js.append({"w": "text", "tag": "x"})
        ds.boxes.append(np.zeros((1, 4), np.float32))
    with pytest.raises(chute.QueryError, match="type mismatch"):
        ds.query("SELECT * WHERE js['w'] > 1")
    with pytest.raises(chute.QueryError, match="ORDER BY needs one number or text"):
        ds.query("SELECT * ORDER BY boxes")


def test_rows_a_shorter_tensor_lacks_are_nulls_on_every_path(tmp_path):
    ds = chute.empty(str(tmp_path / "ragged_len"))
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("text", htype="text")
    ds.create_tensor("n", dtype="int32")
    with ds:
        ds.labels.extend([0, 1, 0, 1, 0, 1])
        ds.n.extend(np.arange(6, dtype=np.int32)[:, None])
        ds.text.extend(["x", "y", "xx"])  # rows 3..5 have no text
    view = ds[[5, 2, 4, 0]]
    assert rows(view, "SELECT * WHERE contains(text, 'x') OR n == 5") == [5, 2, 0]
    assert rows(view, "SELECT * WHERE NOT contains(text, 'x') AND labels == 'a'") == [4]
    assert rows(view, "SELECT * WHERE n >= 2 ORDER BY n DESC") == [5, 4, 2]


# ---- queries that used to crash the process (stack overflow) or give silent wrong counts ----

_DEEP_SCRIPT = r"""
import json, sys
import numpy as np
import chute
from chute._internal.handle import dataset_handle
ds = chute.empty(sys.argv[1], overwrite=True)
ds.create_tensor("num", dtype="int32")
ds.create_tensor("emb", htype="embedding", dtype="float32")
with ds:
    ds.num.extend(np.arange(40, dtype=np.int32)[:, None])
    ds.emb.extend(np.ones((40, 2), np.float32))
q = sys.stdin.read()
out = {}
for rbr in (False, True):
    try:
        out[str(rbr)] = ["rows", dataset_handle(ds).core.query(q, len(ds), 0, row_by_row=rbr).tolist()]
    except chute.QueryError as e:
        out[str(rbr)] = ["QueryError", str(e)[:300], e.line, e.column]
print(json.dumps(out))
"""


def _run_isolated(tmp_path, query):
    """Runs the query on both paths in a fresh interpreter: a stack overflow kills only that one."""
    import json
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", _DEEP_SCRIPT, str(tmp_path / "deep")], input=query, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, f"exit {p.returncode} (a negative code is a signal): {p.stderr[-2000:]}"
    out = json.loads(p.stdout)
    assert out["False"][:2] == out["True"][:2] or out["False"][0] == out["True"][0] == "QueryError"
    return out["False"]


W = "SELECT * WHERE "  # 15 characters


@pytest.mark.parametrize("name, query, column", [
    ("parentheses", W + "(" * 10_000 + "num" + ")" * 10_000 + " > 1", 15 + 257),
    ("NOT", W + "NOT " * 10_000 + "num > 1", 15 + 4 * 255 + 1),
    ("abs(", W + "abs(" * 10_000 + "num" + ")" * 10_000 + " > 1", 15 + 4 * 256 + 1),
    ("unary minus", W + "- " * 10_000 + "num > 1", 15 + 2 * 255 + 1),
    ("indexing", W + "emb" + "[0]" * 10_000 + " > 1", 15 + 3 + 3 * 255 + 1),
    ("ARRAY[", W + "ARRAY[" * 10_000 + "1" + "]" * 10_000 + " > 1", None),
    ("nested queries", "(" * 10_000 + "SELECT *" + ")" * 10_000, 257),
    ("1 + 1 + ... chain", W + " + ".join(["1"] * 30_000) + " > 0", 15 + 1 + 4 * 255 + 2),
    ("* chain", W + "num" + " * 1" * 30_000 + " > 0", None),
    ("UNION chain", " UNION ".join(["(SELECT * WHERE num == 1)"] * 30_000), None),
])
def test_deep_queries_are_clean_query_errors(tmp_path, name, query, column):
    out = _run_isolated(tmp_path, query)
    assert out[0] == "QueryError", (name, out)
    assert "nests more than 256 levels" in out[1] and out[2] == 1, (name, out)
    if column is not None:
        assert out[3] == column, (name, out)


def test_long_and_or_chains_and_lists_run(tmp_path):
    """30,000-term AND / OR chains are balanced trees (log2 deep), so they evaluate and compile
    without deep recursion; long IN lists and nesting just inside the limit work too."""
    assert _run_isolated(tmp_path, W + " OR ".join(f"num == {i}" for i in range(0, 90_000, 3))) == \
        ["rows", list(range(0, 40, 3))]
    assert _run_isolated(tmp_path, W + " AND ".join(f"num != {i}" for i in range(1, 30_000))) == ["rows", [0]]
    assert _run_isolated(tmp_path, W + "num IN (" + ", ".join(str(i) for i in range(5, 30_000, 5)) + ")") == \
        ["rows", list(range(5, 40, 5))]
    assert _run_isolated(tmp_path, W + "(" * 200 + "num < 3" + ")" * 200 + " AND " + "NOT " * 201 + "FALSE") == \
        ["rows", [0, 1, 2]]
    assert _run_isolated(tmp_path, W + "abs(" * 200 + "num - 5" + ")" * 200 + " < 2") == ["rows", [4, 5, 6]]


def test_limit_and_offset_are_exact_row_counts(ds):
    n = len(ds)
    big = 2**64 - 1
    core = dataset_handle(ds).core
    for rbr in (False, True):
        q = lambda t, rbr=rbr: core.query(t, n, 0, row_by_row=rbr).tolist()  # noqa: E731
        assert q(f"SELECT * LIMIT {big}") == list(range(n))  # more than the table: every row
        assert q(f"SELECT * OFFSET {big}") == []  # past the end: none
        assert q(f"SELECT * WHERE num > 3 LIMIT {big} OFFSET 25") == [29]
        assert q(f"SELECT * ORDER BY num DESC LIMIT 2 OFFSET {big}") == []
        assert q("SELECT * LIMIT 12.5 PERCENT") == [0, 1, 2]  # floor(30 * 12.5%)
        assert sorted(q(f"SELECT * SAMPLE BY num + 1 REPLACE FALSE LIMIT {big}")) == list(range(n))  # a permutation
        for bad, what in [(f"LIMIT {big + 1}", "does not fit in 64 bits"), (f"OFFSET {2**70}", "does not fit in 64 bits"),
                          ("LIMIT 5.5", "whole number"), ("OFFSET 2.0", "whole number"), ("LIMIT 1e3", "whole number"),
                          ("LIMIT -1", "cannot be negative"), ("OFFSET -3", "cannot be negative"),
                          ("LIMIT 150 PERCENT", "from 0 to 100")]:
            with pytest.raises(chute.QueryError, match=what):
                q(f"SELECT * {bad}")
        with pytest.raises(chute.QueryError, match="more draws than a result can hold"):
            q(f"SELECT * SAMPLE BY num LIMIT {big}")
    with pytest.raises(chute.QueryError, match="cannot be negative"):
        ds.sample_by("num", size=-2)


def test_json_nested_deeper_than_the_limit_is_a_query_error(tmp_path):
    """A json sample nested 200,000 deep (written here by swapping the encoder's output, as a
    hostile or corrupt dataset would hold it) is refused by the query, not a stack overflow."""
    import subprocess
    import sys

    script = r"""
import sys, chute, chute.dataset.tensor as T
ds = chute.empty(sys.argv[1])
ds.create_tensor("js", htype="json")
encode = T._to_json
T._to_json = lambda name, htype, value, k: (b"[" * 200000 + b"]" * 200000) if value == "DEEP" else encode(name, htype, value, k)
ds.js.extend([[1], [2], "DEEP"])
ds.flush()
ds = chute.load(sys.argv[1], read_only=True)
print(ds[:2].query("SELECT * WHERE js[0] == 1").sample_indices)
try:
    ds.query("SELECT * WHERE js[0] == 1")
except chute.QueryError as e:
    print(str(e).splitlines()[0])
"""
    p = subprocess.run([sys.executable, "-c", script, str(tmp_path / "deep_json")], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr[-2000:]}"
    lines = p.stdout.splitlines()
    assert lines[0] == "[0]"
    assert "tensor 'js' row 2 holds json nested more than 512 levels deep" in lines[1]


def test_wildcard_contains_on_long_texts_is_linear_and_flat(tmp_path):
    """contains() globs used to recurse once per character of the text (a 2 MB text overflowed the
    stack) and backtrack exponentially on many stars; now both finish at once, on both paths."""
    import subprocess
    import sys

    script = r"""
import sys, time, chute
from chute._internal.handle import dataset_handle
ds = chute.empty(sys.argv[1])
ds.create_tensor("text", htype="text")
ds.text.extend(["a" * 2_000_000 + "b", "a" * 3000, "xyz"])
t = time.perf_counter()
for rbr in (False, True):
    for pat in ("a*b", "*a*a*a*a*a*a*a*a*a*a*b", "?" * 2999, "x?z*"):
        print(pat[:12], dataset_handle(ds).core.query(f"SELECT * WHERE contains(text, '{pat}')", 3, 0, row_by_row=rbr).tolist())
print("seconds", time.perf_counter() - t)
"""
    p = subprocess.run([sys.executable, "-c", script, str(tmp_path / "globs")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr[-2000:]}"
    lines = p.stdout.splitlines()
    want = ["a*b [0]", "*a*a*a*a*a*a [0]", "???????????? [0, 1]", "x?z* [2]"]
    assert lines[:4] == want and lines[4:8] == want
    assert float(lines[8].split()[1]) < 20
