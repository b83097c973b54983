# Fresh machine: `make demo` sets up and runs the quickstart suite; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench-overhead clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[llama,dev]'
	touch $@

demo: setup
	$(VENV)/bin/bench run suites/quickstart.yaml

lint: setup
	$(VENV)/bin/ruff check bench tests benchmarks
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest

bench-overhead: setup
	$(PY) benchmarks/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
