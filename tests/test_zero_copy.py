import gc
import sys

import numpy as np

import chute


def test_numpy_arrays_own_engine_buffers_after_everything_else_is_gone(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="float32")
    ds.x.extend([np.full((64, 64), i, np.float32) for i in range(16)])
    ds = chute.load(tmp_path / "ds", read_only=True)
    batch = ds.x[0:16].numpy()
    single = ds.x[3].numpy()
    assert not batch.flags.owndata and batch.base is not None
    expected = np.stack([np.full((64, 64), i, np.float32) for i in range(16)])
    owner = batch.base
    refs_before = sys.getrefcount(owner)
    del ds
    gc.collect()
    np.testing.assert_array_equal(batch, expected)
    np.testing.assert_array_equal(single, expected[3])
    assert sys.getrefcount(owner) == refs_before
    view = batch[5]
    del batch, owner
    gc.collect()
    np.testing.assert_array_equal(view, expected[5])  # the view keeps the engine buffer alive


def test_packed_ragged_batch_is_views_of_one_buffer_that_outlive_the_dataset(tmp_path):
    from chute._internal.handle import tensor_core

    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="int16")
    rows = [np.arange(k * 3, dtype=np.int16).reshape(k, 3) for k in (1, 4, 2, 7)]
    ds.x.extend(rows)
    got = tensor_core(ds.x).read_batch([3, 0, 2], 0, False, True)
    assert [a.shape for a in got] == [(7, 3), (1, 3), (2, 3)]
    assert len({id(a.base) for a in got}) == 1  # one buffer behind every array
    del ds
    gc.collect()
    for a, i in zip(got, [3, 0, 2]):
        np.testing.assert_array_equal(a, rows[i])
    first = got[0]
    del got
    gc.collect()
    np.testing.assert_array_equal(first, rows[3])
