"""chute works with no network at all (Deep Lake 3 stalls ~11 s on import where DNS never answers)."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

unshare = shutil.which("unshare")


@pytest.mark.skipif(unshare is None or os.geteuid() != 0, reason="needs root and unshare to drop the network")
def test_import_write_read_and_load_in_a_network_namespace_without_network(tmp_path):
    code = textwrap.dedent(f"""
        import time
        t0 = time.perf_counter()
        import numpy as np, chute
        imported = time.perf_counter() - t0
        ds = chute.empty({str(tmp_path / "ds")!r})
        ds.create_tensor("x", dtype="int32")
        ds.x.extend([np.arange(3, dtype=np.int32)] * 10)
        n = sum(len(b["index"]) for b in ds.dataloader().batch(4).numpy())
        assert n == 10
        print(f"{{imported:.2f}}")
    """)
    r = subprocess.run([unshare, "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.strip()) < 5.0
