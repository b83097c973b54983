"""Validate the roofline projection here: calibrate on one bundled model, predict the other's speed.

    python benchmarks/projection.py            # writes benchmarks/results/projection.json

Both models are measured on the same prompt (completion format, no prefix cache) with warm-up and
repetitions; the machine's bandwidth (STREAM add) and float32 matmul throughput are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.backends.base import Request
from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams
from bench.cost.projection import ModelShape, calibrate, describe
from bench.machine.calibrate import calibrate_machine
from bench.machine.detect import detect_machine
from bench.suite.spec import GenerationSpec

MODELS = ("bundled:smollm2-135m-instruct", "bundled:gemma3-270m")
PROMPT = ("Quarterly operations report. The support team handled tickets about billing, shipping delays, "
          "account access and product questions; the figures below summarise volumes, response times and "
          "customer satisfaction by region and channel. ") * 4


def measure_model(model: str, repeats: int, max_tokens: int) -> dict[str, Any]:
    backend = LlamaCppBackend(LlamaCppParams(model=model, prefix_cache=False, n_ctx=2048))
    request = Request(id="p", messages=(), completion=PROMPT, mode="text", prompt_format="completion",
                      generation=GenerationSpec(max_tokens=max_tokens, stop=()))
    try:
        next(iter(backend.generate([request])))  # warm-up
        runs = [next(iter(backend.generate([request]))) for _ in range(repeats)]
        info = backend.info().model_dump()
    finally:
        backend.close()
    prefill = [(r.t_first_token - r.t_start) / r.prompt_tokens for r in runs if r.t_first_token]
    decode = [(r.t_end - r.t_first_token) / (r.completion_tokens - 1) for r in runs
              if r.t_first_token and r.completion_tokens > 1]
    return {"model": model, "info": info, "prompt_tokens": runs[0].prompt_tokens,
            "completion_tokens": [r.completion_tokens for r in runs],
            "prefill_s_per_token": statistics.median(prefill), "decode_s_per_token": statistics.median(decode),
            "prefill_spread": [min(prefill), max(prefill)], "decode_spread": [min(decode), max(decode)]}


def predict(source: dict[str, Any], target: dict[str, Any], machine: dict[str, Any]) -> dict[str, Any]:
    shape_a = ModelShape.from_backend_info(source["info"])
    shape_b = ModelShape.from_backend_info(target["info"])
    assert shape_a and shape_b
    here = calibrate(shape_a, source["decode_s_per_token"], source["prefill_s_per_token"],
                     machine["bandwidth_gb_s"], machine["sgemm_gflops"] * 1e9, psutil.virtual_memory().total / 1e9)
    decode_pred, prefill_pred = 1 / here.decode_s(shape_b), 1 / (here.prefill_s(shape_b) or float("inf"))
    decode_meas, prefill_meas = 1 / target["decode_s_per_token"], 1 / target["prefill_s_per_token"]
    return {"calibrated_on": source["model"], "predicted_for": target["model"], "device": describe(here),
            "decode_tps": {"predicted": decode_pred, "measured": decode_meas,
                           "error": decode_pred / decode_meas - 1},
            "prefill_tps": {"predicted": prefill_pred, "measured": prefill_meas,
                            "error": prefill_pred / prefill_meas - 1}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "projection.json")
    args = parser.parse_args()
    machine = calibrate_machine()
    measured = [measure_model(m, args.repeats, args.max_tokens) for m in MODELS]
    predictions = [predict(measured[0], measured[1], machine), predict(measured[1], measured[0], machine)]
    result = {"benchmark": "projection", "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": detect_machine() | {"calibration": machine}, "settings": vars(args) | {"out": str(args.out)},
              "measured": measured, "predictions": predictions}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"machine: {machine['bandwidth_gb_s']} GB/s (STREAM add, {machine['bandwidth_threads']} threads), "
          f"{machine['sgemm_gflops']} GFLOP/s (sgemm)")
    for p in predictions:
        for metric in ("decode_tps", "prefill_tps"):
            v = p[metric]
            print(f"calibrated on {p['calibrated_on']} -> {p['predicted_for']}: {metric} predicted "
                  f"{v['predicted']:.1f}, measured {v['measured']:.1f}, error {v['error']:+.1%}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
