"""Load modes: how a cell's requests reach the backend.

latency      one request at a time (MLPerf SingleStream): the backend's own loop
concurrency  N requests in flight; throughput: all of them at once (MLPerf Offline)
rate         Poisson arrivals at rate_rps (seeded); each result carries its intended arrival time so latency
             is measured from arrival (queueing included) and the generator's own send lag is reported

A backend says how many requests it can take at once with `max_parallel` (a hook of BackendBase, default 1),
so the driver never overloads an engine; concurrency beyond that queues. An in-process batching engine (vLLM,
llama.cpp with `parallel` sequences per llama_decode) overrides `generate_load(requests, parallel, arrivals)` and
runs the same shapes in its own step loop (a thread per request would not batch); the default returns None and
the driver schedules.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from bench.backends.base import Backend, Request, Result, now
from bench.registry import Registry
from bench.suite.spec import LoadSpec


class LoadMode:
    """A traffic shape: how many requests may be in flight, and when each arrives (None: all at once)."""

    def parallel(self, load: LoadSpec, n_requests: int) -> int:
        """Requests in flight at most (before the backend's own max_parallel caps it)."""
        return max(n_requests, 1)

    def arrivals(self, load: LoadSpec, n_requests: int) -> list[float] | None:
        """Seconds after the start at which each request arrives, or None when every request is ready at once."""
        return None


class OneAtATime(LoadMode):
    """latency: one request at a time (MLPerf SingleStream)."""

    def parallel(self, load: LoadSpec, n_requests: int) -> int:
        """1: one request in flight."""
        return 1


class Concurrency(LoadMode):
    """concurrency: N requests in flight."""

    def parallel(self, load: LoadSpec, n_requests: int) -> int:
        """The suite's load.concurrency (1 when unset)."""
        return load.concurrency or 1


class PoissonRate(LoadMode):
    """rate: Poisson arrivals at rate_rps (one rate per cell: the plan expands a sweep), seeded."""

    def arrivals(self, load: LoadSpec, n_requests: int) -> list[float] | None:
        """Seeded Poisson arrival times (s after the start) of `n_requests` at the cell's one rate_rps;
        ValueError unless the load carries exactly one rate (the plan expands a sweep into cells)."""
        (rate,) = load.rates()
        return arrival_offsets(n_requests, rate, load.seed)


LOAD_MODES: Registry[LoadMode] = Registry("load mode")
"""The modes LoadSpec.mode names (throughput: every request at once, MLPerf Offline)."""
LOAD_MODES.add("latency", OneAtATime())
LOAD_MODES.add("concurrency", Concurrency())
LOAD_MODES.add("throughput", LoadMode())
LOAD_MODES.add("rate", PoissonRate())


def wanted_parallel(load: LoadSpec, n_requests: int) -> int:
    """Requests in flight the load mode asks for (KeyError naming a close mode for an unknown one)."""
    return LOAD_MODES.get(load.mode).parallel(load, n_requests)


def arrival_offsets(n: int, rate_rps: float, seed: int) -> list[float]:
    """Seconds after the start at which each request arrives: a Poisson process (exponential gaps)."""
    rng = random.Random(seed)
    offsets, t = [], 0.0
    for _ in range(n):
        offsets.append(t)
        t += rng.expovariate(rate_rps)
    return offsets


def drive(backend: Backend, requests: Sequence[Request], load: LoadSpec) -> Iterator[Result]:
    """Results as they complete (order may differ from the requests')."""
    parallel = max(min(wanted_parallel(load, len(requests)), backend.max_parallel), 1)
    arrivals = _arrival_times(requests, load)
    in_engine = backend.generate_load(requests, parallel, arrivals)
    if in_engine is not None:  # an in-process batching engine (vLLM) takes the load shape into its own loop
        yield from in_engine
    elif arrivals is not None:
        yield from _pooled(backend, requests, arrivals, parallel)
    elif parallel <= 1:
        yield from backend.generate(requests)
    else:
        yield from _pooled(backend, requests, [None] * len(requests), parallel)


def _one(backend: Backend, request: Request, arrival: float | None) -> Result:
    result = next(iter(backend.generate([request])))
    if arrival is not None:
        result.extra["t_arrival"] = arrival
    return result


def _arrival_times(requests: Sequence[Request], load: LoadSpec) -> list[float] | None:
    """Epoch arrival time of each request when the load mode spaces them (rate), else None."""
    offsets = LOAD_MODES.get(load.mode).arrivals(load, len(requests))
    if offsets is None:
        return None
    start = now() + 0.01
    return [start + off for off in offsets]


def _pooled(backend: Backend, requests: Sequence[Request], arrivals: Sequence[float | None],
            parallel: int) -> Iterator[Result]:
    """A dispatcher submits each request at its arrival time (or at once); results stream back as they finish."""
    done: queue.Queue[Result | BaseException] = queue.Queue()
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="bench-load")

    def dispatch() -> None:
        for request, arrival in zip(requests, arrivals, strict=True):
            if arrival is not None:
                while not stop.is_set() and now() < arrival:
                    time.sleep(min(arrival - now(), 0.05))
            if stop.is_set():
                return
            future = pool.submit(_one, backend, request, arrival)
            future.add_done_callback(lambda f: done.put(f.exception() or f.result()))

    dispatcher = threading.Thread(target=dispatch, name="bench-dispatch", daemon=True)
    dispatcher.start()
    try:
        for _ in requests:
            item = done.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        dispatcher.join()
        pool.shutdown(wait=True, cancel_futures=True)
