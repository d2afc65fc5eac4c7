import io

import numpy as np
import pytest
from PIL import Image


def _photos():
    from skimage import data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        out.append(np.ascontiguousarray(getattr(data, name)()))
    return out


@pytest.fixture(scope="session")
def photos():
    """Real photographs shipped inside scikit-image (RGB uint8)."""
    return _photos()


def jpeg_bytes(arr: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def image_folder(tmp_path, photos):
    """A small class-per-folder tree of real JPEG crops: 3 classes x 6 images."""
    root = tmp_path / "src"
    rng = np.random.default_rng(0)
    for c, cls in enumerate(["cat", "dog", "fish"]):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            p = photos[(c + i) % len(photos)]
            h, w = rng.integers(60, 120, size=2)
            y, x = rng.integers(0, p.shape[0] - h), rng.integers(0, p.shape[1] - w)
            (root / cls / f"{i}.jpg").write_bytes(jpeg_bytes(p[y:y + h, x:x + w]))
    return root


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray instance (2 CPUs, no dashboard, no usage stats) shared by every test that needs
    Ray; shut down at the end of the session. Skips only when Ray is not installed (the test extras
    install it, so `make test` runs these tests)."""
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def s3():
    """One S3-compatible server (moto, IAM signatures checked) for the whole session. moto comes with
    the test extras: a missing moto is an error, not a skip."""
    from s3_server import MotoServer

    server = MotoServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def s3_proxy(s3):
    """A fault-injecting proxy in front of the session's S3 server; faults are reset after each use."""
    from s3_server import FaultProxy

    proxy = FaultProxy(s3.port)
    yield proxy
    proxy.close()
