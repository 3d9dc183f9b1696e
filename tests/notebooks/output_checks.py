"""What an executed tutorial notebook must not show: tracebacks, tqdm warnings, progress bars
that print a new output per update, or bare object reprs left by a cell's last expression."""

from __future__ import annotations

import re
from collections import Counter

#: A tqdm bar as text: `desc:  40%|████      | 4/10 [...]` (the description is optional).
PROGRESS_BAR = re.compile(r"(?:^|[\r\n])(?P<desc>[^\r\n|]*?):?\s*\d{1,3}%\|")
#: Reprs of objects nobody meant to show (a cell's last expression returning a matplotlib
#: artist, a path, ...).
BARE_REPR = re.compile(
    r"^\s*[\[(]?\s*(Text\(|PosixPath\(|WindowsPath\(|<matplotlib|<Figure|<Axes|"
    r"<mpl_toolkits|<IPython|Line2D\(|<AxesSubplot|\[<matplotlib)"
)


def _text(output) -> str:
    if output.get("output_type") == "stream":
        return output.get("text", "")
    return output.get("data", {}).get("text/plain", "")


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def cell_problems(index: int, cell) -> list[str]:
    """The problems of one executed code cell's outputs."""
    problems = []
    bars: Counter[str] = Counter()
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        text = _joined(_text(output))
        if kind == "error" or "Traceback (most recent call last)" in text:
            problems.append(f"cell {index}: traceback ({output.get('ename', 'in the output')})")
        if "TqdmWarning" in text or "IProgress not found" in text:
            problems.append(f"cell {index}: TqdmWarning")
        found = {m.group("desc").strip() for m in PROGRESS_BAR.finditer(text)}
        bars.update(found)
        if kind == "execute_result" and BARE_REPR.search(text):
            problems.append(f"cell {index}: bare object repr {text.strip()[:60]!r}")
    for desc, count in bars.items():
        if count > 1:
            problems.append(f"cell {index}: {count} outputs of the progress bar {desc!r}")
    return problems


def notebook_problems(nb) -> list[str]:
    """Every problem of an executed notebook (nbformat node or plain dict)."""
    problems = []
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") == "code":
            problems.extend(cell_problems(index, cell))
    return problems
