"""Constrained (JSON-schema grammar) vs unconstrained decode speed on the llama.cpp backend, paired.

For each model, the invoice-extraction suite's prompts are decoded greedily three ways, interleaved item by
item with the order rotating: `free` (no grammar), `fast` (bench's sampler: grammar checked on the sampled
token, the vocabulary filtered only on rejection) and `full` (the grammar filters the whole vocabulary at every
step, as llama-cpp-python's own sampler chain does: the "before"). Decode tok/s = (tokens - 1) / (t_end -
t_first_token) per request; ratios are paired per item and repetition (median, 95% bootstrap CI). The free run
is held to the fast run's token count so both decode the same number of tokens. The machine may be shared:
compare the ratios, not the absolute figures.

    python benchmarks/constrained.py                         # writes benchmarks/results/constrained.json
    python benchmarks/constrained.py --items 6 --reps 3 --models smollm2-135m
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.backends.base import Request
from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams
from bench.machine.detect import detect_machine
from bench.metrics.stats import bootstrap_interval
from bench.run.runner import build_request, prepare
from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "suites" / "invoice-extraction.yaml"
MODELS = {"smollm2-135m": "bundled:smollm2-135m-instruct", "gemma3-270m": "bundled:gemma3-270m"}


def suite_requests(path: Path, model_id: str, items: int, task: str | None = None) -> list[Request]:
    """The first `items` requests of a suite's first cell for `model_id`, built exactly as `bench run` does."""
    suite = load_suite(path)
    plan = build_plan(suite, PlanOptions(models=(model_id,), limit=items, tasks=(task,) if task else ()))
    work = prepare(plan.cells[0], suite, set())
    return [build_request(work, item, 0) for item in work.items[:items]]


def decode(backend: LlamaCppBackend, request: Request, way: str) -> dict[str, Any]:
    backend.grammar_first = way == "full"
    backend.reset_cache()
    result = next(iter(backend.generate([request])))
    assert result.error is None and result.t_first_token is not None, result.error
    span = result.t_end - result.t_first_token
    return {"decode_tps": (result.completion_tokens - 1) / span if span > 0 else float("nan"),
            "tokens": result.completion_tokens, "text": result.text,
            "rejections": result.extra.get("grammar_rejections", 0)}


def measure(model_id: str, items: int, reps: int) -> dict[str, Any]:
    backend = LlamaCppBackend(LlamaCppParams(model=MODELS[model_id], n_ctx=2048))
    try:
        requests = suite_requests(SUITE, model_id, items)
        decode(backend, requests[0], "fast")  # warm-up
        rows = []
        for rep in range(reps):
            for index, request in enumerate(requests):
                rows.append({"item": request.id, "rep": rep, **pair(backend, request, (rep + index) % 3)})
        return {"model": model_id, "info": backend.info().model_dump(), "rows": rows}
    finally:
        backend.close()


def pair(backend: LlamaCppBackend, request: Request, rotate: int) -> dict[str, Any]:
    """fast, full and free decodes of one request, in a rotating order."""
    ways = ["fast", "full", "free"]
    ways = ways[rotate:] + ways[:rotate]
    out: dict[str, Any] = {}
    for way in ways:
        if way == "free":
            budget = out["fast"]["tokens"] if "fast" in out else request.generation.max_tokens
            gen = request.generation.model_copy(update={"max_tokens": budget})
            free = dataclasses.replace(request, mode="text", json_schema=None, generation=gen)
            out[way] = decode(backend, free, way)
        else:
            out[way] = decode(backend, request, way)
    out["identical"] = out["fast"]["text"] == out["full"]["text"]
    return out


def ratio(rows: list[dict[str, Any]], num: str, den: str) -> dict[str, float | None]:
    """Paired ratios num/den of decode tok/s: median, bootstrap 95% CI of the median (None below
    bench.metrics.stats.MIN_N_BOOTSTRAP pairs), n."""
    values = [r[num]["decode_tps"] / r[den]["decode_tps"] for r in rows]
    interval = bootstrap_interval(values, np.median)
    low, high = (interval[0], interval[1]) if interval is not None else (None, None)
    return {"median": statistics.median(values), "ci_low": low, "ci_high": high, "n": len(values)}


def summary(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"]
    return {"model": data["model"], "fast_over_free": ratio(rows, "fast", "free"),
            "full_over_free": ratio(rows, "full", "free"), "fast_over_full": ratio(rows, "fast", "full"),
            **{f"{w}_decode_tps_median": statistics.median(r[w]["decode_tps"] for r in rows)
               for w in ("free", "fast", "full")},
            "outputs_identical": all(r["identical"] for r in rows),
            "rejections_per_item_median": statistics.median(r["fast"]["rejections"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "constrained.json")
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    for model in args.models:  # written after each model, so a long run keeps what it measured
        runs.append(measure(model, args.items, args.reps))
        result = {"benchmark": "constrained", "date": datetime.now(UTC).isoformat(timespec="seconds"),
                  "machine": detect_machine(), "load_average_1m_at_end": os.getloadavg()[0],
                  "settings": {k: str(v) for k, v in vars(args).items()},
                  "summary": [summary(run) for run in runs], "runs": runs}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    for s in result["summary"]:
        fast = s["fast_over_free"]
        ci = f"[{fast['ci_low']:.2f}-{fast['ci_high']:.2f}]" if fast["ci_low"] is not None else "[no CI: < 10 pairs]"
        print(f"{s['model']}: fast/free {fast['median']:.2f} {ci}, full/free "
              f"{s['full_over_free']['median']:.2f}; tok/s free {s['free_decode_tps_median']:.1f} fast "
              f"{s['fast_decode_tps_median']:.1f} full {s['full_decode_tps_median']:.1f}; "
              f"identical outputs: {s['outputs_identical']}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
