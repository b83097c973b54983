#!/usr/bin/env bash
# Build llama.cpp's reference benchmark `llama-bench` from the llama.cpp vendored in the pinned
# llama-cpp-python sdist, so that benchmarks/overhead.py --llama-bench compares bench with the very same
# llama.cpp code. Not part of CI (a from-source compile: ~10-20 min on 2 cores).
#
#   benchmarks/build_llama_bench.sh                 # -> ~/.cache/bench/llama-bench/<version>/bin/llama-bench
#   LLAMA_CPP_PYTHON_VERSION=0.3.36 JOBS=2 benchmarks/build_llama_bench.sh
#
# Steps: `pip download --no-deps --no-binary :all: llama-cpp-python==<version>` (the sdist), unpack it,
# configure its vendor/llama.cpp with cmake (Release, tests/examples/curl off; GGML_NATIVE left at its
# default ON, as llama-cpp-python's own build leaves it) and build the `llama-bench` target only.
# Extra cmake flags (e.g. the CMAKE_ARGS llama-cpp-python was built with) go in LLAMA_BENCH_CMAKE_ARGS.
# Prints the binary's path on stdout; progress on stderr. Exit 1 when a step fails.
set -euo pipefail

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
JOBS="${JOBS:-2}"
CACHE="${BENCH_CACHE:-$HOME/.cache/bench}/llama-bench/$VERSION"
PIP="${PIP:-python3 -m pip}"
BINARY="$CACHE/build/bin/llama-bench"

if [[ -x "$BINARY" ]]; then
    echo "already built: $BINARY" >&2
    echo "$BINARY"
    exit 0
fi
mkdir -p "$CACHE"
SRC="$CACHE/llama_cpp_python-$VERSION/vendor/llama.cpp"
if [[ ! -f "$SRC/CMakeLists.txt" ]]; then
    echo "downloading the llama-cpp-python $VERSION sdist" >&2
    $PIP download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$CACHE/sdist" >&2
    tar -xzf "$CACHE/sdist/llama_cpp_python-$VERSION.tar.gz" -C "$CACHE"
fi
echo "configuring $SRC" >&2
# shellcheck disable=SC2086  # LLAMA_BENCH_CMAKE_ARGS is a list of flags
cmake -S "$SRC" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF ${LLAMA_BENCH_CMAKE_ARGS:-} >&2
echo "building llama-bench with -j$JOBS" >&2
cmake --build "$CACHE/build" --target llama-bench -j"$JOBS" >&2
"$BINARY" --help >/dev/null
echo "$BINARY"
