"""Library plotting must leave a notebook's matplotlib backend alone (inline figures keep
showing after the kit draws a panel, a leaderboard chart or a drift quiver plot)."""

import subprocess
import sys

SCRIPT = """
import matplotlib
matplotlib.use("svg")  # stands in for a notebook's inline backend
import numpy as np
from kit.experiment.panels import draw_chart, save_scene_panel
from scoring.leaderboard.export import bar_chart_png
from scoring.leaderboard import Standing
rng = np.random.default_rng(0)
maps = {c: rng.integers(0, 6, (20, 30)).astype(np.uint8) for c in ("SIC", "SOD", "FLOE")}
save_scene_panel(r"{png}", "20180124T194759_dmi", rng.normal(size=(20, 30)), maps, maps)
scores = {"SIC": 50.0, "SOD": 60.0, "FLOE": 70.0, "combined": 58.0}
assert bar_chart_png([Standing(1, "team", 1, "f.nc", "now", scores, 1)], "public")
from kit.drift.plot import quiver_plot
from kit.drift.synthetic import make_pair
from kit.drift.track import track
pair = make_pair(shape=(96, 96), seed=0)
quiver_plot(pair.image1, track(pair.image1, pair.image2, "pm", grid_step=24), r"{quiver}")
print(matplotlib.get_backend())
"""


def test_library_plotting_keeps_the_backend(tmp_path):
    png = tmp_path / "panel.png"
    quiver = tmp_path / "quiver.png"
    code = SCRIPT.replace("{png}", str(png)).replace("{quiver}", str(quiver))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "svg"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert quiver.read_bytes().startswith(b"\x89PNG")
