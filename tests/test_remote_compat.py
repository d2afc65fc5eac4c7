"""Deep Lake 3.9.52 and chute on the same S3-compatible server: a dataset deeplake writes there
(its creds with endpoint_url) reads identically in chute, and one chute writes there reads
identically in deeplake. deeplake runs in its own virtualenv (tests/oracle/), as in
test_compat_deeplake3.py, whose datasets and comparisons these tests reuse."""
import json
from types import SimpleNamespace

import pytest
from test_compat_deeplake3 import (  # noqa: F401  (oracle_python is a fixture)
    CHUTE_META,
    CHUTE_TENSORS,
    DL3_TENSORS,
    OBJECT_HTYPES,
    assert_arrays_equal,
    assert_values_equal,
    check_oracle,
    dl3_expected_values,
    load_pickle,
    oracle_python,
    run_oracle,
    write_chute_dataset,
)

import chute

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def buckets(s3):
    return SimpleNamespace(name=s3.bucket())


@pytest.fixture(scope="module")
def both_ways(oracle_python, s3, buckets, tmp_path_factory):  # noqa: F811
    """deeplake writes s3://.../by-deeplake; chute writes s3://.../by-chute and deeplake reads it back
    (one oracle process for both)."""
    d = tmp_path_factory.mktemp("remote_compat")
    by_chute = f"s3://{buckets.name}/by-chute"
    written = write_chute_dataset(by_chute, creds=s3.creds())
    creds = json.dumps({k: v for k, v in s3.creds().items() if k != "aws_region"})
    by_dl3 = f"s3://{buckets.name}/by-deeplake"
    errors = run_oracle(oracle_python, ("dl3_s3", "write", by_dl3, d / "expected.pkl", creds),
                        ("dl3_s3", "read", by_chute, d / "read.pkl", creds))
    return SimpleNamespace(errors=errors, dir=d, by_dl3=by_dl3, expected=written.expected, jpg=written.jpg_decoded)


def test_deeplake_writes_to_s3_and_chute_reads_it(s3, both_ways):
    check_oracle(both_ways.errors[0], "dl3_s3.py write")
    expected = load_pickle(both_ways.dir / "expected.pkl")
    ds = chute.load(both_ways.by_dl3, read_only=True, creds=s3.creds())
    assert list(ds.tensors) == DL3_TENSORS
    for name in DL3_TENSORS:
        t = ds[name]
        want = dl3_expected_values(expected, name)
        if t.htype in OBJECT_HTYPES:
            assert t.data()["value"] == want, name
        else:
            assert_arrays_equal(t.numpy(aslist=True), want, name)
            for i, w in enumerate(want):
                assert_arrays_equal([t[i].numpy()], [w], f"{name}[{i}]")


def test_chute_writes_to_s3_and_deeplake_reads_it(both_ways):
    check_oracle(both_ways.errors[1], "dl3_s3.py read of the chute-written dataset")
    r = load_pickle(both_ways.dir / "read.pkl")
    assert sorted(r["tensors"]) == sorted(CHUTE_TENSORS)
    for name in CHUTE_TENSORS:
        got = r["tensors"][name]["values"]
        want = both_ways.expected[name]
        if want is None:
            want = both_ways.jpg
        assert_values_equal(CHUTE_META[name][0], got, want, name)
