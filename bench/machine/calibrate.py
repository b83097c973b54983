"""Measure this machine's sustained memory bandwidth and matrix throughput (inputs of the roofline projection)."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from bench.machine.detect import physical_cores


def stream_add_gb_s(threads: int, n_bytes: int = 64 << 20, repeats: int = 10) -> float:
    """STREAM 'add' (a = b + c) over 3 arrays of n_bytes each, split across threads; best of `repeats`.

    numpy releases the GIL inside large ufunc loops, so threads run the chunks in parallel.
    Bytes moved per pass = 3 x n_bytes (STREAM's convention: write-allocate traffic not counted).
    """
    n = n_bytes // 8
    a, b, c = np.empty(n), np.ones(n), np.ones(n)
    bounds = np.linspace(0, n, threads + 1, dtype=int)
    chunks = list(itertools.pairwise(bounds))

    def add(span: tuple[int, int]) -> None:
        np.add(b[span[0]:span[1]], c[span[0]:span[1]], out=a[span[0]:span[1]])

    best = float("inf")
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in range(repeats):
            start = time.perf_counter()
            list(pool.map(add, chunks))
            best = min(best, time.perf_counter() - start)
    return 3 * n * 8 / best / 1e9


def sgemm_gflops(size: int = 1536, repeats: int = 3) -> float:
    """float32 matrix multiply throughput through numpy's BLAS (all its threads); best of `repeats`."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((size, size), dtype=np.float32)
    y = rng.standard_normal((size, size), dtype=np.float32)
    np.matmul(x, y)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(x, y)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def calibrate_machine(threads: int | None = None) -> dict[str, Any]:
    """The figures the projection calibrates against, measured now on this machine."""
    threads = threads or physical_cores()
    return {"bandwidth_gb_s": round(stream_add_gb_s(threads), 2), "bandwidth_threads": threads,
            "sgemm_gflops": round(sgemm_gflops(), 1), "method": "numpy STREAM-add (64 MiB arrays, best of 10); "
            "numpy float32 matmul 1536^3 (best of 3)"}
