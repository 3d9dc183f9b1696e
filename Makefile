# AutoICE Kit. `make demo` and `make test` create .venv on first use and install everything.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format clean bench

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/autoice demo

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
