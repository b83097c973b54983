"""Trained classifiers vs SmolLM2-135M prompted, on the same ticket-triage items, through `bench run`.

The shipped ticket-triage task (suites/ticket-triage.yaml: its test items, its train split) is run with three
models: tfidf_logreg and embed_logreg trained on the task's train split (all of it), and SmolLM2-135M prompted
exactly as the shipped suite prompts it (7-shot, label log-likelihood). Figures come from the run's own records
and summary: per-item latency = t_end - t_start of each measured item (median and the 10th-90th percentile
spread over items x repetitions), $/1000 tasks = the runner's measured cost row (1000 / tasks/s / 3600 x $/h,
at one $/h for every model, so the ratio is the tasks/s ratio), accuracy with its 95% CI. Targets (issue #14):
a trained classifier answers an item in <= 5 ms and is >= 100x cheaper per 1000 tasks than SmolLM2.

    nice -n 10 python benchmarks/trained.py                 # writes benchmarks/results/trained.json
    nice -n 10 python benchmarks/trained.py --items 70 --reps 3   # a quieter machine: more items, repeated
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SUITE = REPO / "suites" / "ticket-triage.yaml"
USD_PER_HOUR = 1.0
"""Any price: both sides are priced at the same $/h on the same machine, so the ratio does not depend on it."""


def bench_suite(items: int, reps: int) -> dict[str, Any]:
    """The shipped ticket-triage task (absolute data paths) with the three models, `items` items, `reps` reps."""
    spec = yaml.safe_load(SUITE.read_text())
    task = next(t for t in spec["tasks"] if t["id"] == "ticket-triage")
    for block in (task["dataset"], task["few_shot"]["dataset"]):
        block["path"] = str(SUITE.parent / block["path"])
    smollm = next(m for m in spec["models"] if m["id"] == "smollm2-135m")
    models = [{"id": "tfidf_logreg", "backend": {"kind": "trained", "model": "tfidf_logreg"}},
              {"id": "embed_logreg", "backend": {"kind": "trained", "model": "embed_logreg"}}, smollm]
    return {"name": "trained-bench", "warmup": 2, "repetitions": reps,
            "cost": {"usd_per_hour": USD_PER_HOUR, "basis": "benchmark price (ratios only)"},
            "models": models, "tasks": [task | {"limit": items}]}


def run(suite: dict[str, Any], folder: Path) -> Path:
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    subprocess.run([sys.executable, "-m", "bench", "run", str(path), "--out", str(folder / "runs")], check=True,
                   cwd=REPO, stdout=subprocess.DEVNULL)
    (run_dir,) = [p for p in (folder / "runs").iterdir() if p.is_dir()]
    return run_dir


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per model: latency median / p10 / p90 (ms), tasks/s, $/1000 tasks, accuracy [CI], training facts."""
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    summary = json.loads((run_dir / "summary.json").read_text())
    segments = [json.loads(line) for line in (run_dir / "segments.jsonl").read_text().splitlines()]
    out: dict[str, dict[str, Any]] = {}
    for model in sorted({r["model_id"] for r in records}):
        latency = [(r["t_end"] - r["t_start"]) * 1000 for r in records if r["model_id"] == model and
                   r["status"] == "ok"]
        cost = next(c for c in summary["costs"]["rows"] if c["model_id"] == model and c["basis"] == "measured")
        accuracy = next(m for m in summary["metrics"] if m["model_id"] == model and m["metric"] == "accuracy")
        training = next(s["training"] for s in segments if s["model_id"] == model)
        out[model] = {"items": len(latency), "latency_ms_median": statistics.median(latency),
                      "latency_ms_p10": percentile(latency, 0.1), "latency_ms_p90": percentile(latency, 0.9),
                      "tasks_per_s": cost["tasks_per_s"], "usd_per_1000_tasks": cost["usd_per_1000_tasks"],
                      "training_usd": cost["training_usd"], "accuracy": accuracy["value"],
                      "accuracy_ci": [accuracy["ci_low"], accuracy["ci_high"]], "flags": cost.get("flags", ""),
                      "training": {k: training.get(k) for k in ("labels_used", "train_s", "train_cpu_s", "cached")}}
    return out


def verdict(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    llm = models["smollm2-135m"]
    out: dict[str, Any] = {}
    for name in ("tfidf_logreg", "embed_logreg"):
        m = models[name]
        out[name] = {"latency_target_5ms_met": m["latency_ms_median"] <= 5.0,
                     "cheaper_than_smollm2_x": llm["usd_per_1000_tasks"] / m["usd_per_1000_tasks"],
                     "cheaper_target_100x_met": llm["usd_per_1000_tasks"] / m["usd_per_1000_tasks"] >= 100,
                     "accuracy_minus_smollm2": m["accuracy"] - llm["accuracy"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=28, help="test items (label-balanced sample, seeded)")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of every item")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "trained.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-trained-") as folder:
        models = figures(run(bench_suite(args.items, args.reps), Path(folder)))
    result = {"benchmark": "trained", "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "command": f"nice -n 10 python benchmarks/trained.py --items {args.items} --reps {args.reps}",
              "suite": "suites/ticket-triage.yaml (task ticket-triage, its train split via few_shot)",
              "usd_per_hour": USD_PER_HOUR, "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "cpu_count": os.cpu_count(), "models": models, "verdict": verdict(models)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"models": {k: {f: v[f] for f in ("latency_ms_median", "usd_per_1000_tasks", "accuracy")}
                                 for k, v in models.items()}, "verdict": result["verdict"],
                      "load_average": [load_before, result["load_average_after"]]}, indent=2))


if __name__ == "__main__":
    main()
