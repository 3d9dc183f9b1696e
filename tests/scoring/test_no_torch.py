"""`scoring` imports and scores with torch unavailable (organisers' scoring machines)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.scoring.builders import make_dataset, submission_arrays, write_submission

BLOCK_TORCH = """
import sys
class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
        return None
sys.meta_path.insert(0, BlockTorch())
"""


def test_scoring_works_without_torch(tmp_path):
    _, preds = make_dataset(tmp_path / "data", "dtu", n_scenes=1, shape=(4, 4))
    sub = write_submission(tmp_path / "sub.nc", submission_arrays(preds))
    script = BLOCK_TORCH + textwrap.dedent(
        f"""
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit("torch was not blocked")
        import scoring
        from scoring.cli import register
        report = scoring.score_submission({str(sub)!r}, {str(tmp_path / "data")!r})
        assert 0 <= report.charts["SOD"] <= 100
        assert "torch" not in sys.modules
        assert "matplotlib" not in sys.modules  # only scoring.plots (--png) draws
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
