# AutoICE Kit. `make demo` and `make test` create .venv on first use and install everything.
# `make lab` opens the notebooks in JupyterLab (LAB_ARGS="--no-browser --port 8899" to pass options).
PYTHON ?= python3
VENV   ?= .venv
LAB_ARGS ?=
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo lab test lint format clean bench

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/autoice demo

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(VENV)/bin/ruff check kit scoring tests benchmarks
	$(VENV)/bin/ruff format --check kit scoring tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format kit scoring tests benchmarks
	$(VENV)/bin/ruff check --fix kit scoring tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
