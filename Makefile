# AutoICE Kit. `make demo` and `make test` create .venv on first use and install everything.
# `make lab` opens the notebooks in JupyterLab (LAB_ARGS="--no-browser --port 8899" to pass options).
# `make docs` builds the documentation site into docs/_build/html, running the tutorial
# notebooks with their defaults (cached: a rebuild reruns only changed notebooks);
# `make docs-check` then opens it in headless Chromium (installs Debian's chromium).
PYTHON ?= python3
VENV   ?= .venv
LAB_ARGS ?=
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo lab test lint format clean bench docs docs-check

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,docs]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/autoice demo

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q

docs: $(STAMP)
	$(PY) -m sphinx -b html -W --keep-going docs docs/_build/html

docs-check: docs
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(PY) -m pip install --quiet "playwright>=1.40"
	$(PY) docs/check_site.py docs/_build/html --screenshots docs/_build/screenshots

lint: $(STAMP)
	$(VENV)/bin/ruff check kit scoring tests benchmarks docs/*.py
	$(VENV)/bin/ruff format --check kit scoring tests benchmarks docs/*.py

format: $(STAMP)
	$(VENV)/bin/ruff format kit scoring tests benchmarks docs/*.py
	$(VENV)/bin/ruff check --fix kit scoring tests benchmarks docs/*.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info docs/_build docs/api/generated docs/tutorials/*.ipynb
