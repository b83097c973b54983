# Fresh machine: `make demo` sets up and runs the quickstart suite; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup browser demo test lint bench-overhead bench-projection bench-ci-gate bench-engines bench-bad-inputs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[llama,dev,vllm]'
	$(PY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $@

# Headless Chromium (Debian's package) for the HTML report's browser test; needs root (CI is root).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium not installed (not root?): the browser test will be skipped"

demo: setup
	$(VENV)/bin/bench run suites/quickstart.yaml

lint: setup
	$(VENV)/bin/ruff check bench tests benchmarks
	$(VENV)/bin/mypy

test: lint browser
	$(PY) -m pytest

bench-overhead: setup
	$(PY) benchmarks/overhead.py

bench-projection: setup
	$(PY) benchmarks/projection.py

bench-ci-gate: setup
	$(PY) benchmarks/ci_gate.py

bench-engines: setup
	$(PY) benchmarks/engines.py

bench-bad-inputs: setup
	$(PY) benchmarks/bad_inputs.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
