"""The documentation: the README's links resolve, what the guide says matches the code, and
the site builds without a warning.

The full site (`make docs`) runs every notebook with its defaults, which takes far longer than
the test suite may; here the site is built with the notebooks left unexecuted
(`nb_execution_mode=off`) into a temporary folder, which checks every page, cross-reference,
image and API page. `make test` installs the `docs` extra, so the build runs in CI.
"""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from kit.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
API_PAGE = DOCS / "api" / "index.rst"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
TEXTS = [README, *PAGES]

LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```+|~~~+)([^\n]*)\n(.*?)^\1\s*$", re.S | re.M)
DOTTED = re.compile(r"`((?:kit|scoring)(?:\.\w+)+)")


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped (letters,
    digits, `_`, `-` and spaces kept), spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Anchors of a Markdown file's headings (outside code blocks), numbered as GitHub numbers
    repeated ones (`name`, `name-1`, ...)."""
    found: set[str] = set()
    text = FENCE.sub("", markdown)
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        anchor, n = github_anchor(heading), 1
        name = anchor
        while name in found:
            name, n = f"{anchor}-{n}", n + 1
        found.add(name)
    return found


def relative_links(markdown: str) -> list[str]:
    """The targets of a Markdown text's links and images (outside code blocks) that are not
    URLs."""
    text = FENCE.sub("", markdown)
    targets = [a or b for a, b in LINK.findall(text)]
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


def link_problem(source: Path, target: str) -> str | None:
    """Why `target`, linked from `source`, does not resolve; None when it does."""
    path, _, anchor = target.partition("#")
    file = (source.parent / path).resolve() if path else source
    if not file.exists():
        return f"{target}: {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file} does not exist"
    if anchor and file.suffix == ".md" and anchor not in anchors(file.read_text("utf-8")):
        return f"{target}: no heading gives the anchor #{anchor} in {file.name}"
    return None


def test_anchors_follow_github():
    text = "# A title\n\n## Scoring and statistics\n\n```bash\n# not a heading\n```\n\n## GPU\n\n## GPU\n"
    assert anchors(text) == {"a-title", "scoring-and-statistics", "gpu", "gpu-1"}
    assert github_anchor("The demo (`make demo`)") == "the-demo-make-demo"
    assert github_anchor("Statistics: `--ci --by service`") == "statistics---ci---by-service"


def test_link_checker_finds_broken_links(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n## Part one\n", encoding="utf-8")
    source = tmp_path / "README.md"
    text = "[a](page.md#part-one) [b](page.md#part-two) [c](missing.md) [d](https://x.org/y)\n"
    source.write_text(text, encoding="utf-8")
    problems = [link_problem(source, t) for t in relative_links(text)]
    assert problems[0] is None
    assert "no heading gives the anchor #part-two" in problems[1]
    assert "does not exist" in problems[2]
    assert len(problems) == 3  # the URL is not checked here


def test_readme_links_resolve():
    text = README.read_text(encoding="utf-8")
    links = relative_links(text)
    assert len(links) >= 20, links  # the guide table, notebooks, docs, CONTRIBUTING, picture
    problems = [p for p in (link_problem(README, t) for t in links) if p]
    assert not problems, "\n".join(problems)


def test_readme_is_short_and_shows_the_demo_panel():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 160
    assert "![" in text and "docs/_static/demo_panel.png" in text
    image = ROOT / "docs" / "_static" / "demo_panel.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.stat().st_size < 300_000


# --- the guide against the code ----------------------------------------------------------------


def command_lines(markdown: str) -> list[str]:
    """Every `autoice ...` command in a Markdown text's code blocks, continuation lines joined,
    a leading `$ ` or `.venv/bin/` dropped, spaces collapsed."""
    commands = []
    for _fence, _info, body in FENCE.findall(markdown):
        body = body.replace("\\\n", " ")
        for line in body.splitlines():
            line = re.sub(r"^\s*(\$\s+)?(\.venv/bin/)?", "", line)
            if line.startswith("autoice ") or line == "autoice":
                commands.append(" ".join(line.split()))
    return commands


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_problems(line: str, parser: argparse.ArgumentParser) -> list[str]:
    """What in one `autoice` command line the parser does not know: the command, a
    sub-action, or an option."""
    words = shlex.split(line, comments=True)[1:]
    problems = []
    while words and (choices := _subcommands(parser)):
        if words[0] in ("--help", "-h", "--version"):
            return []
        name = words.pop(0)
        if name not in choices:
            return [f"{line}: no command {name!r} (choices: {', '.join(choices)})"]
        parser = choices[name]
    for word in words:
        option = word.split("=", 1)[0]
        if option.startswith("--") and option not in parser._option_string_actions:
            problems.append(f"{line}: {parser.prog} has no option {option}")
    return problems


PARSER = build_parser()
COMMANDS = [(path, line) for path in TEXTS for line in command_lines(path.read_text("utf-8"))]


def test_command_checker():
    assert command_lines("```bash\nautoice score a.nc \\\n  --ci  # x\n$ autoice demo\n```\n") == [
        "autoice score a.nc --ci # x",
        "autoice demo",
    ]
    assert command_problems("autoice score a.nc --reference d --ci  # --nothing", PARSER) == []
    assert command_problems("autoice leaderboard show --db x --split=public", PARSER) == []
    assert "no option --cii" in command_problems("autoice score a.nc --cii", PARSER)[0]
    assert "no command 'scores'" in command_problems("autoice scores a.nc", PARSER)[0]
    assert "no command 'shw'" in command_problems("autoice leaderboard shw", PARSER)[0]


def test_the_guide_shows_commands():
    assert len(COMMANDS) >= 30
    assert {line.split()[1] for _, line in COMMANDS} >= {
        "synth", "manifest", "inspect", "train", "predict", "score", "compare", "leaderboard",
        "drift", "drift-eval", "drift-series", "batch",
    }  # fmt: skip


@pytest.mark.parametrize(
    "path, line", COMMANDS, ids=[f"{p.relative_to(ROOT)}:{line[:60]}" for p, line in COMMANDS]
)
def test_guide_commands_parse(path, line):
    assert not command_problems(line, PARSER)


def resolve_dotted(dotted: str) -> object:
    """The module or attribute a dotted name names (the longest importable module prefix,
    then attributes)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(dotted)


NAMES = sorted({n for path in TEXTS for n in DOTTED.findall(path.read_text("utf-8"))})


def test_the_guide_names_python():
    assert len(NAMES) >= 30, NAMES


@pytest.mark.parametrize("dotted", NAMES)
def test_guide_names_import(dotted):
    resolve_dotted(dotted)


def yaml_blocks(markdown: str, first_line: str) -> list[str]:
    """Bodies of the ```yaml blocks whose first line is `first_line`."""
    return [b for _f, info, b in FENCE.findall(markdown)
            if info.strip() == "yaml" and b.startswith(first_line + "\n")]  # fmt: skip


def test_guide_data_config_is_valid(tmp_path):
    from kit.data import DataConfig

    (block,) = yaml_blocks((DOCS / "guide" / "training-data.md").read_text("utf-8"), "# data.yaml")
    (tmp_path / "data.yaml").write_text(block, encoding="utf-8")
    config = DataConfig.from_yaml(tmp_path / "data.yaml", section="data")
    assert config.downscale == 10 and config.patch_size == 256


def test_guide_cluster_config_is_valid(tmp_path):
    from kit.cluster import load_cluster_config

    first = "# slurm.yaml: one job = one Dask worker = one run at a time"
    (block,) = yaml_blocks((DOCS / "guide" / "batch.md").read_text("utf-8"), first)
    (tmp_path / "slurm.yaml").write_text(block, encoding="utf-8")
    config = load_cluster_config(tmp_path / "slurm.yaml")
    assert config.cores == 8 and config.gpus == 1


# --- the site ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_site_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="the docs extra is not installed (`make install` does)")
    from tests.test_public_api import listed_names

    out = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
         "-D", "nb_execution_mode=off", "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert result.returncode == 0 and not warnings, result.stderr[-4000:]
    for name in listed_names():
        assert (out / "api" / "generated" / f"{name}.html").is_file(), f"no API page for {name}"
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert (out / "tutorials" / f"{notebook.stem}.html").is_file(), notebook.name
    benchmarks = (out / "benchmarks.html").read_text(encoding="utf-8")
    assert "Benchmark results" in benchmarks  # benchmarks/RESULTS.md, included
    for page in ["index", "getting-started", "guide/index", "api/index", "tutorials/index"]:
        assert (out / f"{page}.html").is_file(), page
