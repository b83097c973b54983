"""Does the CI gate catch real regressions and stay quiet on noise? Measured on the real model.

    python benchmarks/ci_gate.py            # ~7 runs of suites/ci-gate.yaml; writes benchmarks/results/ci_gate.json

1 baseline run; 5 identical re-runs (must all exit 0); the same suite with n_threads 2 -> 1 (slower, must
exit 1 naming a speed metric); the same suite with a deliberately worse prompt (must exit 1 naming accuracy).
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
SUITE = REPO / "suites" / "ci-gate.yaml"
RULES = ["accuracy:-2pp", "latency:+40%", "usd_per_1000:+40%"]


def variant(tmp: Path, name: str, change: Any) -> Path:
    """A copy of the gate suite with one planted change; data paths made absolute."""
    spec = yaml.safe_load(SUITE.read_text())
    for task in spec["tasks"]:
        for holder in (task, task.get("few_shot") or {}):
            if "dataset" in holder and "path" in holder["dataset"]:
                holder["dataset"]["path"] = str(SUITE.parent / holder["dataset"]["path"])
    change(spec)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def slower(spec: dict[str, Any]) -> None:
    spec["models"][0]["backend"]["n_threads"] = 1


def worse_prompt(spec: dict[str, Any]) -> None:
    """No examples, no instructions, and label words that say nothing about the categories."""
    task = spec["tasks"][0]
    task.pop("few_shot", None)
    task["prompt"] = {"system": "", "user": "{input}"}
    words = ["apple", "river", "violet", "marble", "copper", "lantern", "meadow"]
    task["answer"]["choices"] = dict(zip(task["answer"]["choices"], words, strict=True))


def run(suite: Path, out: Path) -> Path:
    before = set(out.glob("*/"))
    subprocess.run([sys.executable, "-m", "bench", "run", str(suite), "--out", str(out), "--profiles", "nvidia-l4"],
                   check=True, capture_output=True, text=True)
    (new,) = set(out.glob("*/")) - before
    return new


def compare(baseline: Path, candidate: Path) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench", "compare", str(baseline), str(candidate),
            "--format", "json"] + [f"--fail-on={rule}" for rule in RULES]
    done = subprocess.run(args, capture_output=True, text=True)
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"stderr": done.stderr}
    keys = {"accuracy", "field_accuracy", "e2e_latency_s_p50", "usd_per_1000_tasks"}
    rows = [{k: row.get(k) for k in ("task_id", "metric", "baseline", "candidate", "rel_change", "p_value",
                                     "significant")} for row in report.get("rows", []) if row.get("metric") in keys]
    return {"exit_code": done.returncode, "failures": report.get("failures", []), "rows": rows,
            "stderr": done.stderr[-500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "ci_gate.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base_suite = variant(tmp, "ci-gate", lambda spec: None)
        baseline = run(base_suite, tmp / "runs")
        results: dict[str, Any] = {"reruns": [compare(baseline, run(base_suite, tmp / "runs"))
                                              for _ in range(args.reruns)]}
        results["threads_2_to_1"] = compare(baseline, run(variant(tmp, "slower", slower), tmp / "runs"))
        results["worse_prompt"] = compare(baseline, run(variant(tmp, "worse", worse_prompt), tmp / "runs"))
    summary = {"benchmark": "ci_gate", "date": datetime.now(UTC).isoformat(timespec="seconds"), "rules": RULES,
               "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print("re-runs exit codes:", [r["exit_code"] for r in results["reruns"]])
    for name in ("threads_2_to_1", "worse_prompt"):
        r = results[name]
        print(f"{name}: exit {r['exit_code']}, failing: {[f.get('metric') for f in r['failures']]}")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
