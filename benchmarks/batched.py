"""Batched llama.cpp (several sequences per llama_decode) vs one request at a time: tasks/s, paired.

Two workloads on SmolLM2-135M: ticket-triage (choices scored by label log-likelihood, the suite's own
prompts) and short generation (the same tickets, "summarise in one sentence", 32 new tokens, greedy). Each
repetition runs the items single-stream (`latency` mode) and in `throughput` mode (all at once, up to
`--parallel` sequences per llama_decode), in alternating order; tasks/s = items / wall seconds of the run,
prompt caches emptied before each run. Reports the paired speed-up (median and range over repetitions) and
whether predictions and texts equal single-stream ones. The machine may be shared: compare the ratios.

    python benchmarks/batched.py                   # writes benchmarks/results/batched.json
    python benchmarks/batched.py --items 32 --reps 5 --parallel 8
    python benchmarks/batched.py --workloads generation --threads 1 --items 16 --reps 5   # on a loaded machine
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from constrained import REPO, suite_requests

from bench.backends.base import Request, Result
from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams
from bench.machine.detect import detect_machine
from bench.run.load_modes import drive
from bench.suite.spec import GenerationSpec, LoadSpec

SUITE = REPO / "suites" / "ticket-triage.yaml"


def workloads(items: int) -> dict[str, list[Request]]:
    triage = suite_requests(SUITE, "smollm2-135m", items, "ticket-triage")
    gen = GenerationSpec(max_tokens=32)
    summaries = [dataclasses.replace(r, mode="text", choices=(), generation=gen,
                                     messages=({"role": "user", "content": "Summarise this support ticket in one "
                                                "sentence: " + r.messages[-1]["content"]},))
                 for r in triage]
    return {"ticket-triage (choices)": triage, "short generation (32 tokens)": summaries}


def run(backend: LlamaCppBackend, requests: list[Request], mode: str) -> tuple[float, float, dict[str, Result]]:
    """(tasks per wall second, tasks per CPU second of this process, results by request id)."""
    backend.reset_cache()
    start, cpu = time.perf_counter(), time.process_time()
    results = {r.request_id: r for r in drive(backend, requests, LoadSpec(mode=mode))}  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert all(r.error is None for r in results.values()), [r.error for r in results.values() if r.error]
    return len(requests) / wall, len(requests) / cpu, results


def same(a: dict[str, Result], b: dict[str, Result]) -> bool:
    return all(a[k].text == b[k].text and a[k].choice_logprobs == b[k].choice_logprobs for k in a)


def measure(name: str, backend: LlamaCppBackend, requests: list[Request], reps: int) -> dict[str, Any]:
    run(backend, requests[:2], "throughput")  # warm-up
    rows = []
    for rep in range(reps):
        order = ["latency", "throughput"] if rep % 2 == 0 else ["throughput", "latency"]
        out = {mode: run(backend, requests, mode) for mode in order}
        one, many = out["latency"], out["throughput"]
        rows.append({"single_tasks_per_s": one[0], "batched_tasks_per_s": many[0], "speedup": many[0] / one[0],
                     "single_tasks_per_cpu_s": one[1], "batched_tasks_per_cpu_s": many[1],
                     "cpu_speedup": many[1] / one[1], "load_average": os.getloadavg()[0],
                     "cached_prompt_tokens": sum(r.cached_prompt_tokens for r in many[2].values()),
                     "identical": same(one[2], many[2])})
    speedups, cpu = [r["speedup"] for r in rows], [r["cpu_speedup"] for r in rows]
    return {"workload": name, "items": len(requests), "rows": rows, "speedup_median": statistics.median(speedups),
            "speedup_min": min(speedups), "speedup_max": max(speedups),
            "cpu_speedup_median": statistics.median(cpu), "cpu_speedup_min": min(cpu), "cpu_speedup_max": max(cpu),
            "single_tasks_per_s_median": statistics.median(r["single_tasks_per_s"] for r in rows),
            "batched_tasks_per_s_median": statistics.median(r["batched_tasks_per_s"] for r in rows),
            "identical": all(r["identical"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None,
                        help="llama.cpp threads (default: bench's); 1 on a loaded machine, see docs/performance.md")
    parser.add_argument("--workloads", nargs="+", choices=["triage", "generation"], default=["triage", "generation"])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "batched.json")
    args = parser.parse_args()
    threads = {"n_threads": args.threads} if args.threads else {}
    backend = LlamaCppBackend(LlamaCppParams(model="bundled:smollm2-135m-instruct", n_ctx=2048,
                                             parallel=args.parallel, **threads))  # type: ignore[arg-type]
    chosen = {"triage": "ticket-triage (choices)", "generation": "short generation (32 tokens)"}
    wanted = {chosen[w] for w in args.workloads}
    try:
        results = [measure(name, backend, reqs, args.reps) for name, reqs in workloads(args.items).items()
                   if name in wanted]
        info = backend.info().model_dump()
    finally:
        backend.close()
    out = {"benchmark": "batched", "date": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": detect_machine(),
           "note": "2-core machine shared with other jobs while measured: see each row's load_average",
           "load_average": os.getloadavg(),
           "settings": {k: str(v) for k, v in vars(args).items()}, "info": info, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2, default=str) + "\n")
    for r in results:
        print(f"{r['workload']}: batched/single {r['speedup_median']:.2f}x (range {r['speedup_min']:.2f}-"
              f"{r['speedup_max']:.2f}); tasks/s single {r['single_tasks_per_s_median']:.2f}, batched "
              f"{r['batched_tasks_per_s_median']:.2f}; per CPU-second batched/single {r['cpu_speedup_median']:.2f}x "
              f"(range {r['cpu_speedup_min']:.2f}-{r['cpu_speedup_max']:.2f}); identical predictions: {r['identical']}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
