"""llama.cpp vs vLLM on this CPU, same model (SmolLM2-135M), same prompts, paired in one bench run.

    python benchmarks/engines.py            # ~4 min; writes benchmarks/results/engines.json

16 ticket prompts x 32 new tokens, greedy, one warm-up item. Latency mode (one request at a time) gives
single-stream prefill and decode speeds (per-request medians with bootstrap 95% CIs); throughput mode (all 16
at once) gives the aggregate output-token rate, where vLLM's batching counts. vLLM runs compiled (not eager)
with float32 weights de-quantized from the GGUF; llama.cpp runs the Q4_1 GGUF itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "suites" / "data" / "ticket_triage" / "test.jsonl"
MODEL = "bundled:smollm2-135m-instruct"
METRICS = ["prefill_tps_p50", "decode_tps_p50", "ttft_s_p50", "e2e_latency_s_p50", "output_tokens_per_s",
           "tasks_per_s", "load_time_s", "peak_rss_gb", "cpu_s_per_task"]


def suite(items: int, max_tokens: int) -> dict[str, Any]:
    return {
        "name": "engines-cpu", "warmup": 1,
        "load": [{"mode": "latency"}, {"mode": "throughput"}],
        "models": [
            {"id": "llama.cpp", "backend": {"kind": "llama_cpp", "model": MODEL, "prefix_cache": False},
             "generation": {"max_tokens": max_tokens}},
            {"id": "vllm", "backend": {"kind": "vllm", "model": MODEL, "device": "cpu", "dtype": "float32",
                                       "kv_cache_gib": 1, "max_model_len": 1024},
             "generation": {"max_tokens": max_tokens}}],
        "tasks": [{"id": "summary", "limit": items, "scorers": ["exact_match"], "answer": {"mode": "text"},
                   "dataset": {"path": str(DATA), "fields": {"input": "text", "expected": "category"}},
                   "prompt": {"user": "Summarise this support ticket in one sentence: {input}"}}]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "engines.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "suite.yaml"
        path.write_text(yaml.safe_dump(suite(args.items, args.max_tokens)))
        subprocess.run([sys.executable, "-m", "bench", "run", str(path), "--out", tmp, "--profiles", "nvidia-l4"],
                       check=True, capture_output=True, text=True)
        (run,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        summary = json.loads((run / "summary.json").read_text())
    loads = {c["cell_id"]: c.get("load", "latency") for c in summary["cells"]}
    rows = [{"model": m["model_id"], "load": loads[m["cell_id"]], "metric": m["metric"], "value": m["value"],
             "ci_low": m.get("ci_low"), "ci_high": m.get("ci_high"), "n": m["n"]}
            for m in summary["metrics"] if m["metric"] in METRICS]
    result = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "command": "python benchmarks/engines.py",
              "items": args.items, "max_tokens": args.max_tokens, "rows": rows}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for row in rows:
        ci = f" [{row['ci_low']:.1f}-{row['ci_high']:.1f}]" if row["ci_low"] is not None else ""
        print(f"{row['model']:10} {row['load']:10} {row['metric']:20} {row['value']:.3f}{ci}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
