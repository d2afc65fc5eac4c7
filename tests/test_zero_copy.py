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
