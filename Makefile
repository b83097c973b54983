# Fresh machine: `make demo` sets up and runs the quickstart suite; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-demo browser demo test lint bench-overhead bench-projection bench-ci-gate bench-engines \
	bench-bad-inputs bench-trained bench-learn-curve bench-llama-bench clean

# llama-cpp-python compiles llama.cpp from source; bench never uses its multimodal (mtmd/llava) library, so it is
# not built (about a third of the compile). Override with `make CMAKE_ARGS=... setup`.
CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
export CMAKE_ARGS

# The demo needs only the llama extra (the quickstart's embedded engine); tests and CI need everything.
setup-demo: $(VENV)/.installed-llama

$(VENV)/.installed-llama: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[llama]'
	touch $@

setup: $(VENV)/.installed

$(VENV)/.installed: $(VENV)/.installed-llama
	$(PY) -m pip install --quiet -e '.[llama,dev,vllm,trained]'
	$(PY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $@

# Headless Chromium (Debian's package) for the HTML report's browser test; needs root (CI is root).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium not installed (not root?): the browser test will be skipped"

demo: setup-demo
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

bench-trained: setup
	nice -n 10 $(PY) benchmarks/trained.py

# label-efficiency curves (docs/label-efficiency.md): the timed ticket-triage curve, the shipped tasks, ../shared
bench-learn-curve: setup
	nice -n 10 $(PY) benchmarks/learn_curve.py --part all

# bench against llama.cpp's own llama-bench, built once from the pinned llama-cpp-python sdist into
# ~/.cache/bench/llama-bench/<version>/ (a from-source compile; not part of CI). See docs/performance.md.
bench-llama-bench: setup
	PIP="$(PY) -m pip" LLAMA_CPP_PYTHON_VERSION=$$($(PY) -c "import llama_cpp; print(llama_cpp.__version__)") \
		benchmarks/build_llama_bench.sh
	$(PY) benchmarks/overhead.py --against llama-bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
