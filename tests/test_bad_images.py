"""Bad bytes and absurd sizes in images: headers that claim huge sizes, op sizes past the engine's
decoded-size cap, JPEGs that are a start marker and junk, CMYK JPEGs, Normalize with the wrong
number of channels. Each case whose failure could be a crash (std::bad_alloc on an engine thread,
an OOM kill while a decoder writes) runs in a subprocess: a signal shows as the exit status, and
a hang as the timeout."""
import io
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from PIL import Image

import chute
from chute import ops
from chute.errors import InvalidArgument

# Enough to run the engine, never enough to decode what the bad headers claim.
CHILD_ADDRESS_LIMIT = 6 << 30


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header says width x height RGB, with a token IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def jpeg_claiming(side: int) -> bytes:
    """A real 16x16 JPEG whose frame header is patched to say side x side."""
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(buf, "JPEG", quality=90)
    b = bytearray(buf.getvalue())
    sof = b.find(b"\xff\xc0")
    b[sof + 5:sof + 9] = struct.pack(">HH", side, side)
    return bytes(b)


def jpeg(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def run_child(code: str, tmp_path, timeout: float = 120) -> str:
    """Runs `code` in a fresh interpreter under an address-space limit; returns its stdout. Fails
    on a signal, a non-zero exit or a timeout, with the child's stderr."""
    prelude = textwrap.dedent(f"""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, ({CHILD_ADDRESS_LIMIT}, {CHILD_ADDRESS_LIMIT}))
        import sys
        sys.path.insert(0, {str(tmp_path)!r})
    """)
    r = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, cwd=tmp_path, check=False)
    assert r.returncode == 0, f"child exited with {r.returncode} (negative: a signal)\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout


# The body every huge-header case runs in its child: a good sample, the bad one, another good one;
# read each, read them together, iterate the loader strict and with ignore_errors.
HUGE_CASE = """
    import chute, numpy as np
    data = open("bad.bin", "rb").read()
    comp = {comp!r}
    ds = chute.empty("ds", overwrite=True)
    ds.create_tensor("images", htype="image", sample_compression=comp)
    ds.create_tensor("labels", htype="class_label")
    good = chute.read("good.bin")
    ds.extend({{"images": [good, chute.Sample(buffer=data), good], "labels": [0, 1, 2]}})
    print("stored", ds.images.shape if hasattr(ds.images, "shape") else None)

    def expect_error(what, fn, capped=True):
        try:
            fn()
        except chute.ChuteError as e:
            msg = str(e)
            assert not capped or ("{side}" in msg and "cap" in msg and isinstance(e, chute.ResourceError)), (what, msg)
            assert "index" in msg or what == "file", (what, msg)
            print("ok", what)
            return
        raise AssertionError(what + ": no error")

    assert ds.images[0].numpy().shape == (16, 16, 3)
    expect_error("t[1]", lambda: ds.images[1].numpy())
    expect_error("t[:]", lambda: ds.images.numpy(aslist=True))
    expect_error("t[1:2]", lambda: ds.images[1:2].numpy())
    expect_error("file", lambda: chute.read("bad.bin").array)
    for tensors in (["images"], ["images", "labels"]):
        for ops in (False, True):
            # with ops, the transform dict names the tensors
            transform = {{n: chute.ops.RandomHorizontalFlip() if n == "images" else None for n in tensors}}
            def make(ignore):
                dl = ds.dataloader(ignore_errors=ignore).batch(2)
                return dl.transform(transform).numpy() if ops else dl.numpy(tensors=tensors)
            expect_error("loader", lambda: list(make(False)))
            dl = make(True)
            rows = [b["images"].shape[0] if hasattr(b["images"], "shape") else len(b["images"]) for b in dl]
            assert sum(rows) == 2, rows
            assert dl.summary["skipped"] == 1 and "index 1" in dl.summary["errors"][0], dl.summary
            print("ok skipped")
    # Only bad samples, all of one (huge) shape: the loader would otherwise preallocate whole
    # batches of it. Each sample fails alone, and with ignore_errors every one is skipped.
    only = chute.empty("only", overwrite=True)
    only.create_tensor("images", htype="image", sample_compression=comp)
    only.images.extend([chute.Sample(buffer=data)] * 3)
    for transform in (None, chute.ops.Resize(8), chute.ops.Compose([chute.ops.RandomResizedCrop(8), chute.ops.ToCHW()])):
        def make(ignore):
            dl = only.dataloader(ignore_errors=ignore).batch(2)
            return dl.transform({{"images": transform}}).numpy() if transform else dl.numpy()
        # A random crop of the claimed image can be under the cap: then the decoder finds the
        # data missing, also a clear error.
        expect_error("loader", lambda: list(make(False)), capped=not isinstance(transform, chute.ops.Compose))
        dl = make(True)
        assert sum(len(b["images"]) for b in dl) == 0
        assert dl.summary["skipped"] == 3, dl.summary
        print("ok all skipped")
    print("done")
"""


@pytest.mark.parametrize("comp,side,data", [
    ("png", 200000, png_claiming(200000, 200000)),
    ("jpeg", 65000, jpeg_claiming(65000)),
], ids=["png-200000", "jpeg-65000"])
def test_a_header_claiming_a_huge_size_is_a_clear_error_everywhere(tmp_path, comp, side, data):
    (tmp_path / "bad.bin").write_bytes(data)
    good = np.full((16, 16, 3), 100, np.uint8)
    buf = io.BytesIO()
    Image.fromarray(good).save(buf, comp.upper())
    (tmp_path / "good.bin").write_bytes(buf.getvalue())
    out = run_child(HUGE_CASE.format(comp=comp, side=side), tmp_path)
    assert out.count("ok skipped") == 4 and out.count("ok all skipped") == 3 and out.strip().endswith("done"), out


def test_the_cap_is_configurable_and_named_in_the_message(tmp_path):
    code = """
        import chute, numpy as np
        ds = chute.empty("ds")
        ds.create_tensor("x", dtype="uint8", sample_compression="lz4")
        ds.x.append(np.zeros((300, 300), np.uint8))
        try:
            ds.x[0].numpy()
        except chute.ResourceError as e:
            assert "tensor 'x' index 0" in str(e) and "(300, 300)" in str(e) and "CHUTE_MAX_DECODED_BYTES" in str(e), str(e)
            print("capped")
    """
    import os
    env = dict(os.environ, CHUTE_MAX_DECODED_BYTES="50000")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path, env=env, check=False)
    assert r.returncode == 0 and "capped" in r.stdout, r.stderr


@pytest.mark.parametrize("op", ["Resize", "CenterCrop", "RandomResizedCrop"])
def test_op_sizes_past_the_cap_are_refused_when_the_loader_is_built(tmp_path, op):
    code = f"""
        import chute, numpy as np
        from chute import ops
        ds = chute.empty("ds")
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.images.extend([np.full((20, 30, 3), 9, np.uint8)] * 3)
        try:
            ops.{op}(100000)
            raise AssertionError("ops.{op}(100000) accepted")
        except ValueError as e:
            print("python refused", e)
        for ignore in (False, True):
            try:
                list(ds.dataloader(ignore_errors=ignore).batch(2).transform({{"images": ops.{op}(60000)}}).numpy())
                raise AssertionError("a 60000 x 60000 x 3 result accepted")
            except chute.ResourceError as e:
                assert "tensor 'images'" in str(e) and "cap" in str(e), str(e)
                print("engine refused", e)
    """
    out = run_child(code, tmp_path)
    assert out.count("engine refused") == 2, out


def test_a_jpeg_that_is_a_start_marker_and_junk_is_refused_on_append(tmp_path):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.append(np.full((8, 8, 3), 7, np.uint8))
    rng = np.random.default_rng(0)
    for junk in (b"\xff\xd8\xff" + rng.bytes(300), b"\xff\xd8\xff\xe0" + b"\0" * 50, b"\xff\xd8\xff\xd9"):
        (tmp_path / "junk.jpg").write_bytes(junk)
        with pytest.raises(chute.DecodeError, match="tensor 'images'.*JPEG"):
            ds.images.append(chute.read(tmp_path / "junk.jpg"))
        with pytest.raises(chute.DecodeError):
            ds.images.append(chute.Sample(buffer=junk))
    assert ds.images.num_samples == 1
    # The failures leave the thread's decoder usable for the next, valid file.
    ds.images.append(chute.Sample(buffer=jpeg(np.full((5, 6, 3), 200, np.uint8))))
    assert ds.images[1].numpy().shape == (5, 6, 3)
    assert [a.shape for a in ds.images.numpy(aslist=True)] == [(8, 8, 3), (5, 6, 3)]


def _cmyk_jpeg(size=(40, 30)) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(1)
    # Smooth colours, so the JPEG round trip stays close to what PIL decodes.
    base = rng.integers(0, 256, size=(4,))
    img = Image.new("CMYK", size, tuple(int(v) for v in base))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    return data, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("comp", ["jpeg", "png", None])
def test_a_cmyk_jpeg_is_converted_to_rgb_on_append(tmp_path, comp):
    data, want = _cmyk_jpeg()
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression=comp)
    ds.images.append(chute.Sample(buffer=data))
    ds.images.append(chute.Sample(buffer=data))
    got = ds.images[0].numpy()
    assert got.shape == want.shape == (30, 40, 3)
    # Stored as RGB: re-encoded at the tensor's quality when it is JPEG, so close, not equal.
    assert np.abs(got.astype(int) - want).max() <= (12 if comp == "jpeg" else 2)
    if comp == "jpeg":
        assert Image.open(io.BytesIO(ds.images[0].tobytes())).mode == "RGB"
    ds2 = chute.load(tmp_path / "ds", read_only=True)
    batch = next(iter(ds2.dataloader().batch(2).transform({"images": ops.Compose([ops.Resize(10), ops.ToCHW()])}).numpy()))
    assert batch["images"].shape == (2, 3, 10, 10)
    # Pixels of one colour stay that colour through the resize.
    assert np.abs(batch["images"][0].astype(int) - want[0, 0][:, None, None]).max() <= 14


def test_a_cmyk_jpeg_decodes_to_rgb_through_chute_read(tmp_path):
    data, want = _cmyk_jpeg()
    (tmp_path / "c.jpg").write_bytes(data)
    s = chute.read(tmp_path / "c.jpg")
    assert s.shape == (30, 40, 3)
    assert np.abs(s.array.astype(int) - want).max() <= 2


@pytest.mark.parametrize("n", [2, 4])
def test_normalize_with_the_wrong_number_of_channels_is_an_error(tmp_path, n):
    ds = chute.empty(tmp_path / "ds")
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.extend([np.full((12, 10, 3), 9, np.uint8)] * 4)
    norm = ops.Normalize([0.5] * n, [0.25] * n)
    for ignore in (False, True):
        with pytest.raises(InvalidArgument, match=rf"tensor 'images'.*{n} values.*3 channels"):
            list(ds.dataloader(ignore_errors=ignore).batch(2).transform({"images": ops.Compose([ops.Resize(8), norm])}).numpy())
    # Channels unknown from the meta (a 3-channel and a 1-channel sample in a generic tensor): the
    # first sample processed says which tensor and index.
    ds.create_tensor("mixed", dtype="uint8")
    ds.mixed.append(np.full((6, 6, 3), 1, np.uint8))
    ds.mixed.append(np.full((6, 6, 1), 1, np.uint8))
    with pytest.raises(InvalidArgument, match=r"tensor 'mixed' index \d.*Normalize"):
        list(ds.dataloader().batch(2).transform({"mixed": ops.Compose([ops.Resize(4), norm])}).numpy())
    # One value, or one per channel, still works.
    for values in ([0.5], [0.5, 0.4, 0.3]):
        good = ops.Normalize(values, [0.25] * len(values))
        b = next(iter(ds.dataloader().batch(4).transform({"images": ops.Compose([ops.Resize(8), good])}).numpy()))
        assert b["images"].shape == (4, 3, 8, 8) and b["images"].dtype == np.float32
