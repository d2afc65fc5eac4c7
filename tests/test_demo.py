"""The main job (`make demo`) end to end on a small scale, so it cannot rot."""
import subprocess
import sys

from PIL import Image


def test_demo_runs_end_to_end(tmp_path):
    r = subprocess.run([sys.executable, "-m", "chute.demo", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"),
                        "--num-images", "80", "--steps", "6"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    for step in ("== 1.", "== 2.", "== 3.", "== 4.", "== 5."):
        assert step in out
    assert "Ingested 80 images, skipped 0" in out
    assert "chute / DataLoader" in out
    sheet = Image.open(tmp_path / "out" / "contact_sheet.png")
    chart = Image.open(tmp_path / "out" / "loader_chart.png")
    assert sheet.size[0] > 500 and chart.size[0] > 500
