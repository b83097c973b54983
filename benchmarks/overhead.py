"""Overhead of bench's llama.cpp backend versus a bare llama-cpp-python streaming loop.

Same model instance, prompt, threads and greedy settings; the two are interleaved pair by pair (order
alternating) so machine noise hits both alike. Reports paired ratios bench/bare (median, 95% bootstrap CI).

    python benchmarks/overhead.py                      # writes benchmarks/results/overhead.json
    python benchmarks/overhead.py --pairs 20 --max-tokens 128 --model bundled:gemma3-270m
    python benchmarks/overhead.py --worker              # bench's side in a worker process, as `bench run` does

With --worker, bench's side runs in a forked child process that loads its own copy of the model, as the
process executor's workers do; the bare loop stays in this process. Each process is idle while the other runs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.backends.base import Request, now
from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams
from bench.hardware import detect_machine
from bench.metrics.stats import bootstrap_interval
from bench.spec import GenerationSpec

PROMPT = ("Below is a detailed customer-support policy for a mid-sized online shop. It explains how refunds, "
          "returns, exchanges, shipping delays, damaged parcels and warranty claims are handled, step by step, "
          "with examples for each case.\n\nSection 1. Refunds.\n")


def timings(t_start: float, t_first: float, t_end: float, prompt_tokens: int, out_tokens: int) -> dict[str, float]:
    """The metric definitions of ARCHITECTURE.md."""
    return {"prefill_tps": prompt_tokens / (t_first - t_start),
            "decode_tps": (out_tokens - 1) / (t_end - t_first), "out_tokens": out_tokens}


def bare(backend: LlamaCppBackend, max_tokens: int) -> dict[str, float]:
    """The plain llama-cpp-python way: create_completion(stream=True) on a reset model."""
    llm = backend.llm
    llm.reset()
    prompt_tokens = len(llm.tokenize(PROMPT.encode()))
    start, first, count = now(), 0.0, 0
    for chunk in llm.create_completion(PROMPT, max_tokens=max_tokens, temperature=0.0, top_k=0, top_p=1.0,
                                       min_p=0.0, repeat_penalty=1.0, stream=True):
        first = first or now()
        count += chunk["choices"][0]["finish_reason"] is None  # the closing chunk carries no token
    return timings(start, first, now(), prompt_tokens, count)


def through_bench(backend: LlamaCppBackend, max_tokens: int) -> dict[str, float]:
    request = Request(id="x", messages=(), completion=PROMPT, mode="text", prompt_format="completion",
                      generation=GenerationSpec(max_tokens=max_tokens))
    result = next(iter(backend.generate([request])))
    assert result.error is None and result.t_first_token is not None, result.error
    # bench counts an end-of-generation token as generated (like vLLM); the bare loop never yields it
    return timings(result.t_start, result.t_first_token, result.t_end, result.prompt_tokens,
                   result.completion_tokens)


def _serve(conn: Any, model: str) -> None:
    """Worker side of --worker: load the model, then answer each max_tokens with through_bench's timings."""
    backend = LlamaCppBackend(LlamaCppParams(model=model, prefix_cache=False, n_ctx=2048))
    while (max_tokens := conn.recv()) is not None:
        conn.send(through_bench(backend, max_tokens))
    backend.close()


class InWorker:
    """through_bench in a forked child process with its own backend (the process executor's situation)."""

    def __init__(self, model: str) -> None:
        context: Any = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, model), daemon=True)
        self.process.start()

    def __call__(self, backend: LlamaCppBackend, max_tokens: int) -> dict[str, float]:
        self.conn.send(max_tokens)
        return dict(self.conn.recv())

    def close(self) -> None:
        self.conn.send(None)
        self.process.join(30)


def measure(model: str, pairs: int, warmup: int, max_tokens: int, worker: bool = False) -> dict[str, Any]:
    bench_side = InWorker(model) if worker else None
    backend = LlamaCppBackend(LlamaCppParams(model=model, prefix_cache=False, n_ctx=2048))
    side = bench_side or through_bench
    try:
        for _ in range(warmup):
            bare(backend, max_tokens), side(backend, max_tokens)
        rows = []
        for index in range(pairs):
            first, second = (bare, side) if index % 2 == 0 else (side, bare)
            a, b = first(backend, max_tokens), second(backend, max_tokens)
            rows.append({"bare": a if first is bare else b, "bench": b if first is bare else a})
        return {"model": model, "info": backend.info().model_dump(), "pairs": rows}
    finally:
        backend.close()
        if bench_side is not None:
            bench_side.close()


def ratios(rows: list[dict[str, Any]], metric: str) -> dict[str, float]:
    values = [row["bench"][metric] / row["bare"][metric] for row in rows]
    low, high = bootstrap_interval(values) or (float("nan"), float("nan"))  # None below its minimum n
    return {"median_ratio": statistics.median(values), "ci_low": low, "ci_high": high,
            "bare_median": statistics.median(r["bare"][metric] for r in rows),
            "bench_median": statistics.median(r["bench"][metric] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:smollm2-135m-instruct")
    parser.add_argument("--pairs", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--worker", action="store_true", help="bench's side in a worker process (process executor)")
    parser.add_argument("--out", type=Path, default=None, help="default: results/overhead[-worker].json")
    args = parser.parse_args()
    args.out = args.out or Path(__file__).parent / "results" / f"overhead{'-worker' if args.worker else ''}.json"
    data = measure(args.model, args.pairs, args.warmup, args.max_tokens, args.worker)
    result = {"benchmark": "overhead", "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": detect_machine(), "settings": vars(args) | {"out": str(args.out)},
              "decode_tps": ratios(data["pairs"], "decode_tps"), "prefill_tps": ratios(data["pairs"], "prefill_tps"),
              **data}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    for metric in ("decode_tps", "prefill_tps"):
        r = result[metric]
        print(f"{metric}: bench/bare = {r['median_ratio']:.3f} [95% CI {r['ci_low']:.3f}–{r['ci_high']:.3f}] "
              f"(bare {r['bare_median']:.1f} tok/s, bench {r['bench_median']:.1f} tok/s)")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
