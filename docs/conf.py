"""Sphinx configuration of the AutoICE Kit documentation (`make docs`).

The site is built offline: every extension comes from the package registry (the `docs`
extra of pyproject.toml), no inventory or asset is fetched at build time, and the pages load
nothing from the network. The tutorials are the notebooks of `notebooks/`, copied into
`docs/tutorials/` at build time and executed with their default parameters through
myst-nb's jupyter-cache, so a rebuild reruns only the notebooks that changed. A quick build
without running them: `sphinx-build -D nb_execution_mode=off docs OUT` (the smoke test in
tests/test_docs.py does that).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the kit of this checkout, also for the notebooks' kernel
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)
# Progress bars are noise on a web page (and tqdm.auto's widgets would need JavaScript
# from the network): the notebooks run without them here.
os.environ["TQDM_DISABLE"] = "1"


def copy_notebooks() -> None:
    """Copy every notebooks/*.ipynb into docs/tutorials/ (git ignores the copies), so a new
    notebook becomes a tutorial page by itself; copies of removed notebooks go. A copy is
    rewritten only when its notebook changed, so Sphinx rereads only those."""
    target = DOCS / "tutorials"
    notebooks = {p.name: p for p in (ROOT / "notebooks").glob("*.ipynb")}
    for copy in target.glob("*.ipynb"):
        if copy.name not in notebooks or copy.is_symlink():
            copy.unlink()
    for name, source in notebooks.items():
        copy = target / name
        if not copy.is_file() or copy.read_bytes() != source.read_bytes():
            shutil.copy2(source, copy)


copy_notebooks()

import kit  # noqa: E402  (after sys.path is set)

project = "AutoICE Kit"
author = "AutoICE Kit contributors"
copyright = "AutoICE Kit contributors"
release = version = kit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinx_design",
    "sphinx_copybutton",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "_raw", "**.ipynb_checkpoints", "jupyter_execute"]
templates_path = ["_templates"]

# --- API reference -------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- Markdown and notebooks (myst-nb) --------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 3
nb_execution_mode = "cache"  # "off" for a quick build: -D nb_execution_mode=off
nb_execution_timeout = 3600  # seconds per cell; notebook 03 trains for minutes in one cell
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
nb_ipywidgets_js = {}  # no widget JavaScript from a CDN

# --- HTML ----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "AutoICE Kit"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_context = {"default_mode": "light"}
# pages without sub-pages: no empty section navigation on the left
html_sidebars = {"index": [], "getting-started": [], "benchmarks": []}
html_show_sourcelink = False
html_copy_source = False
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True
