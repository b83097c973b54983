"""Decode overhead of recording each generated token's log-probability (llama.cpp backend), paired.

Each item of the invoice-extraction suite is decoded greedily as free text (no grammar, a fixed token budget)
twice, with and without `record_logprobs` (bench/backends/llama_sampling.py: one max, exp and sum over the
logits row per token), in an order that alternates per item and repetition. Decode tok/s = (tokens - 1) /
(t_end - t_first_token); the ratio with/without is paired per item and repetition (median, 95% bootstrap CI).
It also times `token_logprob` alone on a logits row of the model's vocabulary (median of 200 calls), and, the
figure that holds on a shared machine, the time spent inside `token_logprob` during each recorded decode as a share
of that decode's time (t_end - t_first_token): both under the same load, so other processes' bursts cancel out,
whereas the paired tok/s ratio swings with them.

    python benchmarks/token_logprobs.py          # writes benchmarks/results/token_logprobs.json
    python benchmarks/token_logprobs.py --models smollm2-135m --items 4 --reps 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import bench.backends.llama_sampling as sampling
from bench.backends.base import Request
from bench.backends.llama_cpp import LlamaCppBackend
from bench.backends.params import LlamaCppParams
from bench.machine.detect import detect_machine
from bench.metrics.stats import bootstrap_interval
from bench.run.runner import build_request, prepare
from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "suites" / "invoice-extraction.yaml"
MODELS = {"smollm2-135m": "bundled:smollm2-135m-instruct", "gemma3-270m": "bundled:gemma3-270m"}


def requests_for(model_id: str, items: int, max_tokens: int) -> list[Request]:
    """The suite's first `items` requests as `bench run` builds them, turned into free text of `max_tokens`."""
    suite = load_suite(SUITE)
    plan = build_plan(suite, PlanOptions(models=(model_id,), limit=items))
    work = prepare(plan.cells[0], suite, set())
    out = []
    for item in work.items[:items]:
        request = build_request(work, item, 0)
        gen = request.generation.model_copy(update={"max_tokens": max_tokens, "stop": []})
        out.append(dataclasses.replace(request, mode="text", json_schema=None, generation=gen))
    return out


SPENT = [0.0]
"""Seconds spent inside token_logprob since the last reset (the timing wrapper below)."""


def timed_token_logprob(logits: np.ndarray, token: int, scratch: np.ndarray | None = None) -> float:
    t0 = time.perf_counter()
    try:
        return ORIGINAL(logits, token, scratch)
    finally:
        SPENT[0] += time.perf_counter() - t0


ORIGINAL = sampling.token_logprob


def decode(backend: LlamaCppBackend, request: Request, record: bool) -> dict[str, Any]:
    backend.record_logprobs = record
    backend.reset_cache()
    SPENT[0] = 0.0
    result = next(iter(backend.generate([request])))
    assert result.error is None and result.t_first_token is not None, result.error
    span = result.t_end - result.t_first_token
    return {"decode_tps": (result.completion_tokens - 1) / span if span > 0 else float("nan"),
            "tokens": result.completion_tokens, "text": result.text,
            "logprobs": len(result.token_logprobs or []), "logprob_share": SPENT[0] / span if span > 0 else None}


def row_cost_s(n_vocab: int) -> float:
    """Median seconds of one token_logprob call on a random float32 row of `n_vocab` logits."""
    row = np.random.default_rng(0).normal(size=n_vocab).astype(np.float32)
    scratch = np.empty(n_vocab, dtype=np.float32)
    times = []
    for _ in range(200):
        t0 = time.perf_counter()
        ORIGINAL(row, 7, scratch)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(model_id: str, items: int, reps: int, max_tokens: int) -> dict[str, Any]:
    backend = LlamaCppBackend(LlamaCppParams(model=MODELS[model_id], n_ctx=2048))
    try:
        requests = requests_for(model_id, items, max_tokens)
        decode(backend, requests[0], True)  # warm-up
        rows = []
        for rep in range(reps):
            for index, request in enumerate(requests):
                order = [True, False] if (rep + index) % 2 == 0 else [False, True]
                got = {("on" if rec else "off"): decode(backend, request, rec) for rec in order}
                same = got["on"]["text"] == got["off"]["text"]
                rows.append({"item": request.id, "rep": rep, **got, "identical": same})
        n_vocab = backend.architecture()["n_vocab"]
        return {"model": model_id, "n_vocab": n_vocab, "row_cost_s": row_cost_s(n_vocab), "rows": rows}
    finally:
        backend.close()


def summary(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"]
    values = [r["on"]["decode_tps"] / r["off"]["decode_tps"] for r in rows]
    interval = bootstrap_interval(values, np.median)
    off = statistics.median(r["off"]["decode_tps"] for r in rows)
    shares = [r["on"]["logprob_share"] for r in rows if r["on"]["logprob_share"] is not None]
    return {"model": data["model"], "logprob_share_of_decode_median": statistics.median(shares),
            "logprob_share_of_decode_max": max(shares), "on_over_off_median": statistics.median(values),
            "ci": list(interval) if interval is not None else None, "n": len(values),
            "off_decode_tps_median": off,
            "on_decode_tps_median": statistics.median(r["on"]["decode_tps"] for r in rows),
            "row_cost_ms": data["row_cost_s"] * 1000, "row_cost_share_of_a_token": data["row_cost_s"] * off,
            "outputs_identical": all(r["identical"] for r in rows)}


def main() -> None:
    sampling.token_logprob = timed_token_logprob  # counts the time spent inside
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "token_logprobs.json")
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    for model in args.models:  # written after each model, so a long run keeps what it measured
        runs.append(measure(model, args.items, args.reps, args.max_tokens))
        result = {"benchmark": "token_logprobs", "date": datetime.now(UTC).isoformat(timespec="seconds"),
                  "machine": detect_machine(), "load_average_1m_at_end": os.getloadavg()[0],
                  "settings": {k: str(v) for k, v in vars(args).items()},
                  "summary": [summary(run) for run in runs], "runs": runs}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    for s in result["summary"]:
        print(f"{s['model']}: time in token_logprob {100 * s['logprob_share_of_decode_median']:.2f}% of decode "
              f"(median; max {100 * s['logprob_share_of_decode_max']:.2f}%); "
              f"decode tok/s with/without token logprobs {s['on_over_off_median']:.3f} "
              f"(CI {s['ci']}, n={s['n']}); one row {s['row_cost_ms']:.3f} ms = "
              f"{100 * s['row_cost_share_of_a_token']:.2f}% of a token; identical outputs {s['outputs_identical']}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
