"""ds.dataloader().tensorflow() with tensorflow-cpu (in a subprocess: TensorFlow's threads stay out of
the other tests' thread counts)."""
import os
import subprocess
import sys
import textwrap

import numpy as np

import chute

HERE = os.path.dirname(os.path.abspath(__file__))


def test_tensorflow_batches(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("x", dtype="float32")
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("caption", htype="text")
    with ds:
        for i in range(10):
            ds.append({"x": np.full((3, 2), i, np.float32), "labels": i % 2, "caption": f"c{i}"})
    code = f"""
        import os
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import numpy as np, tensorflow as tf, chute
        ds = chute.load({str(tmp_path / "ds")!r}, read_only=True)
        batches = list(ds.dataloader().batch(4).tensorflow())
        b = batches[0]
        assert isinstance(b["x"], tf.Tensor) and b["x"].shape == (4, 3, 2) and b["x"].dtype == tf.float32
        assert b["labels"].numpy()[:, 0].tolist() == [0, 1, 0, 1]
        assert b["caption"] == ["c0", "c1", "c2", "c3"]
        assert [int(x.shape[0]) for x in (bb["x"] for bb in batches)] == [4, 4, 2]
        def tf_collate(samples):
            return {{"sum": tf.constant([float(s["x"].sum()) for s in samples])}}
        c = next(iter(ds.dataloader().batch(5).tensorflow(collate_fn=tf_collate, tensors=["x"])))
        assert c["sum"].numpy().tolist() == [0.0, 6.0, 12.0, 18.0, 24.0]
        print("ok")
    """
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip().endswith("ok")
