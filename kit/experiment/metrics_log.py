"""A training run's log: `metrics.csv` (one row per epoch) and TensorBoard scalars."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from kit.atomic import atomic_open
from kit.textio import read_text

#: The per-epoch table in a run's output folder.
METRICS_FILE = "metrics.csv"


class MetricsLog:
    """Writes each epoch's row to `metrics.csv` (rewritten whole and atomically, so a crash
    never leaves half a table) and to TensorBoard. Inactive on processes other than 0.

    A resumed run keeps the rows of earlier epochs and replaces those of the epochs it reruns.
    """

    def __init__(self, out_dir: Path, active: bool = True):
        self.out_dir, self.active, self.rows = Path(out_dir), active, []
        self.board = None
        if active:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            from torch.utils.tensorboard import SummaryWriter  # slow import, only when logging

            self.board = SummaryWriter(str(self.out_dir / "tensorboard"))

    def log(self, row: dict[str, Any]) -> None:
        """Add the row of one epoch (its key `epoch` counts from 1)."""
        if not self.active:
            return
        path = self.out_dir / METRICS_FILE
        self.rows = read_metrics(path, before_epoch=row["epoch"]) + [row]
        columns = list(dict.fromkeys(key for r in self.rows for key in r))
        with atomic_open(path, newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and not math.isnan(value):
                self.board.add_scalar(key, value, row["epoch"])
        self.board.flush()

    def close(self) -> None:
        """Close the TensorBoard writer."""
        if self.board is not None:
            self.board.close()


def read_metrics(path: Path, before_epoch: int | None = None) -> list[dict[str, Any]]:
    """Rows of a `metrics.csv` (as strings), only those of epochs before `before_epoch` if given;
    none if the file does not exist."""
    if not path.is_file():
        return []
    rows = csv.DictReader(io.StringIO(read_text(path), newline=""))
    return [r for r in rows if before_epoch is None or int(r["epoch"]) < before_epoch]
