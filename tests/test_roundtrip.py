"""Round trips through write, flush, reopen and read for every htype and compression."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chute

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

NUMERIC = ["uint8", "int16", "int32", "int64", "uint16", "uint32", "float32", "float64", "bool"]


def fresh(tmp_path_factory):
    return str(tmp_path_factory.mktemp("rt") / "ds")


def reopen(ds):
    ds.flush()
    return chute.load(ds.path, read_only=True)


@pytest.mark.filterwarnings("ignore:.*chute extension")
@pytest.mark.parametrize("compression", [None, "lz4", "chunk:lz4", "chunk:zstd"])
@SETTINGS
@given(data=st.data(), dtype=st.sampled_from(NUMERIC))
def test_generic_arrays_round_trip_exactly(tmp_path_factory, compression, data, dtype):
    arrays = data.draw(st.lists(hnp.arrays(dtype, hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=9)),
                                min_size=1, max_size=6))
    ds = chute.empty(fresh(tmp_path_factory))
    kw = {}
    if compression == "lz4":
        kw["sample_compression"] = "lz4"
    elif compression:
        kw["chunk_compression"] = compression.split(":")[1]
    ds.create_tensor("x", dtype=dtype, max_chunk_size=2000, **kw)
    with ds:
        ds.x.extend(arrays)
    out = reopen(ds).x.numpy(aslist=True)
    assert len(out) == len(arrays)
    for a, b in zip(arrays, out):
        assert b.dtype == np.dtype(dtype) and b.shape == a.shape
        np.testing.assert_array_equal(a, b)


@SETTINGS
@given(arrays=st.lists(hnp.arrays("uint8", st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4]))),
                       min_size=1, max_size=5))
def test_png_images_round_trip_exactly(tmp_path_factory, arrays):
    ds = chute.empty(fresh(tmp_path_factory))
    ds.create_tensor("images", htype="image", sample_compression="png")
    with ds:
        ds.images.extend(arrays)
    out = reopen(ds).images.numpy(aslist=True)
    for a, b in zip(arrays, out):
        np.testing.assert_array_equal(a, b)


@SETTINGS
@given(arrays=st.lists(hnp.arrays("uint8", st.tuples(st.integers(8, 48), st.integers(8, 48), st.sampled_from([1, 3]))),
                       min_size=1, max_size=4))
def test_jpeg_images_keep_shape_and_stay_close(tmp_path_factory, arrays):
    ds = chute.empty(fresh(tmp_path_factory))
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    with ds:
        ds.images.extend(arrays)
    again = reopen(ds)
    for i, a in enumerate(arrays):
        b = again.images[i].numpy()
        assert b.shape == a.shape
        # the stored JPEG decodes identically every time
        np.testing.assert_array_equal(b, chute.Sample(buffer=again.images[i].tobytes()).array)


@SETTINGS
@given(texts=st.lists(st.text(max_size=40), min_size=1, max_size=8))
def test_text_round_trips(tmp_path_factory, texts):
    ds = chute.empty(fresh(tmp_path_factory))
    ds.create_tensor("t", htype="text", chunk_compression="lz4")
    ds.t.extend(texts)
    assert reopen(ds).t.data()["value"] == texts


JSONS = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4), max_leaves=10)


@SETTINGS
@given(values=st.lists(st.dictionaries(st.text(max_size=6), JSONS, max_size=4), min_size=1, max_size=6),
       lists=st.lists(st.lists(st.text(max_size=5), max_size=4), min_size=1, max_size=6))
def test_json_and_list_round_trip(tmp_path_factory, values, lists):
    ds = chute.empty(fresh(tmp_path_factory))
    ds.create_tensor("j", htype="json")
    ds.create_tensor("l", htype="list")
    ds.j.extend(values)
    ds.l.extend(lists)
    again = reopen(ds)
    assert again.j.data()["value"] == values
    assert again.l.data()["value"] == lists


@SETTINGS
@given(labels=st.lists(st.one_of(st.integers(0, 5), st.sampled_from(["cat", "dog", "emu"]),
                                 st.lists(st.integers(0, 3), min_size=1, max_size=3)), min_size=1, max_size=10))
def test_class_labels_round_trip_with_names(tmp_path_factory, labels):
    ds = chute.empty(fresh(tmp_path_factory))
    ds.create_tensor("labels", htype="class_label", class_names=["zero"])
    with ds:
        ds.labels.extend(labels)
    again = reopen(ds).labels
    names = again.info.class_names
    for want, got in zip(labels, again.numpy(aslist=True)):
        if isinstance(want, str):
            assert names[int(got[0])] == want
        else:
            assert got.tolist() == (want if isinstance(want, list) else [want])


@SETTINGS
@given(boxes=st.lists(hnp.arrays("float32", st.tuples(st.integers(0, 5), st.just(4)), elements=st.floats(-1e3, 1e3, width=32)),
                      min_size=1, max_size=5),
       emb=hnp.arrays("float32", (3, 16), elements=st.floats(-1, 1, width=32)),
       masks=st.lists(hnp.arrays("bool", st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(2))), min_size=1, max_size=3))
def test_bbox_embedding_mask_round_trip(tmp_path_factory, boxes, emb, masks):
    ds = chute.empty(fresh(tmp_path_factory))
    ds.create_tensor("boxes", htype="bbox", chunk_compression="lz4")
    ds.create_tensor("emb", htype="embedding")
    ds.create_tensor("mask", htype="binary_mask", sample_compression="lz4")
    ds.boxes.extend(boxes)
    ds.emb.extend(list(emb))
    ds.mask.extend(masks)
    again = reopen(ds)
    for a, b in zip(boxes, again.boxes.numpy(aslist=True)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.emb.numpy(), emb)
    for a, b in zip(masks, again.mask.numpy(aslist=True)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("compression", [None, "png", "lz4"])
def test_tiled_samples_are_split_and_reassembled(tmp_path, compression):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("big", htype="image", sample_compression=compression, max_chunk_size=20_000, tiling_threshold=5_000)
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (90, 70, 3), dtype=np.uint8), np.zeros((5, 5, 3), np.uint8),
              rng.integers(0, 256, (33, 200, 3), dtype=np.uint8)]
    with ds:
        ds.big.extend(arrays)
    again = chute.load(tmp_path / "ds", read_only=True)
    assert again.big._core.num_chunks() > 3  # the big samples were tiled
    for a, b in zip(arrays, again.big.numpy(aslist=True)):
        np.testing.assert_array_equal(a, b)
