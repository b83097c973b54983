"""Label-efficiency curves (issue 14): time of the 6 x 2 x 5 curve on ticket triage, and the curves behind
docs/label-efficiency.md.

Each curve runs as a user runs it: a fresh `python -m bench learn-curve` process (imports, suite checks, MiniLM load
and embedding all count), BLAS on one thread as the command sets it. Wall and CPU seconds and the load average
before and after are recorded next to each curve.

    nice -n 10 python benchmarks/learn_curve.py                  # ticket triage, tfidf_logreg + embed_logreg (timed)
    nice -n 10 python benchmarks/learn_curve.py --part shipped   # + ticket priority and email routing
    nice -n 10 python benchmarks/learn_curve.py --part shared    # ../shared/datasets (skipped when absent;
                                                                 # --shared DIR elsewhere)
    python benchmarks/learn_curve.py --markdown                  # the table of docs/label-efficiency.md
    python benchmarks/learn_curve.py --figures                   # redraw docs/figures from the results

Writes benchmarks/results/learn_curve.json (the timings) and benchmarks/results/learn_curve_<name>_<kind>.json
(each curve's curve.json) plus docs/figures/learn_curve_<name>_<kind>.png. Shared datasets are read from
--shared (default ../shared/datasets) and converted into a temporary folder (never copied into the project).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
FIGURES = REPO / "docs" / "figures"
SHARED_DEFAULT = REPO.parent / "shared" / "datasets"
LABELS = "8,16,32,64,128,all"


@dataclass(frozen=True)
class Curve:
    """One curve to measure: a name, the suite and task, the classifier kind and its label budgets."""

    name: str
    suite: Path
    task: str
    kind: str
    labels: str = LABELS


def run_curve(curve: Curve, seeds: int, scratch: Path) -> dict[str, Any]:
    """Run `bench learn-curve` in a fresh process; the curve document plus wall/CPU seconds and load averages."""
    out = scratch / f"{curve.name}_{curve.kind}"
    argv = [sys.executable, "-m", "bench", "learn-curve", str(curve.suite), "--task", curve.task, "--model",
            curve.kind, "--labels", curve.labels, "--seeds", str(seeds), "--out", str(out), "--format", "json"]
    load_before, start = os.getloadavg(), time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{curve.name} {curve.kind}: exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    document = json.loads(done.stdout)
    FIGURES.mkdir(parents=True, exist_ok=True)
    shutil.copy(out / "curve.png", FIGURES / f"learn_curve_{curve.name}_{curve.kind}.png")
    cpu = (after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime)
    timing = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
    return {**document, "process": timing}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _write(folder: Path, name: str, rows: list[dict[str, Any]]) -> str:
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _pool_without_eval(pool: list[dict[str, Any]], evaluation: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pool rows whose id and normalised text are not in the evaluation rows."""
    ids, texts = {r["id"] for r in evaluation}, {_norm(r["input"]) for r in evaluation}
    return [r for r in pool if r["id"] not in ids and _norm(r["input"]) not in texts]


def _tsv(path: Path, prefix: str, label_first: bool, names: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        parts = line.split("\t")
        if len(parts) == 2:
            label, text = (parts[0], parts[1]) if label_first else (parts[1], parts[0])
            rows.append({"id": f"{prefix}-{i:04d}", "input": text.strip(), "expected": names.get(label.strip(), label)})
    return rows


def shared_pools(shared: Path) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """name -> (train pool, test rows) for sms_spam, sentiment_reviews and banking77: test = eval.jsonl, pool = the
    rest of the original files (minus any text also in eval)."""
    sms_eval = _rows(shared / "sms_spam" / "eval.jsonl")
    sms = _tsv(shared / "sms_spam" / "SMSSpamCollection", "sms_spam", True, {})
    senti_eval = _rows(shared / "sentiment_reviews" / "eval.jsonl")
    names = {"0": "negative", "1": "positive"}
    senti = [*_tsv(shared / "sentiment_reviews" / "amazon_cells_labelled.txt", "amazon", False, names),
             *_tsv(shared / "sentiment_reviews" / "yelp_labelled.txt", "yelp", False, names)]
    bank_eval = _rows(shared / "banking77" / "eval.jsonl")
    with (shared / "banking77" / "train.csv").open(encoding="utf-8") as handle:
        bank = [{"id": f"banking77-train-{i:05d}", "input": r["text"], "expected": r["category"]}
                for i, r in enumerate(csv.DictReader(handle))]
    return {"sms_spam": (_pool_without_eval(sms, sms_eval), sms_eval),
            "sentiment_reviews": (_pool_without_eval(senti, senti_eval), senti_eval),
            "banking77": (_pool_without_eval(bank, bank_eval), bank_eval)}


def shared_suite(folder: Path, name: str, pool: list[dict[str, Any]], test: list[dict[str, Any]]) -> Path:
    """A suite with one choices task over the converted pool and test files in `folder`."""
    fields = {"input": "input", "expected": "expected"}
    labels = sorted({r["expected"] for r in pool} | {r["expected"] for r in test})
    task = {"id": name.replace("_", "-"), "dataset": {"path": _write(folder, f"{name}_test", test), "fields": fields},
            "train": {"path": _write(folder, f"{name}_pool", pool), "fields": fields},
            "answer": {"mode": "choices", "choices": labels}, "scorers": ["accuracy", "macro_f1"]}
    suite = {"name": name.replace("_", "-"), "models": [{"id": "none", "backend": {"kind": "fake"}}], "tasks": [task]}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def curves(part: str, scratch: Path, shared: Path) -> list[Curve]:
    """The curves of `part`: timed (ticket triage x 2 kinds), shipped (+ priority, email routing), shared."""
    triage = REPO / "suites" / "ticket-triage.yaml"
    out = [Curve("ticket-triage", triage, "ticket-triage", kind) for kind in ("tfidf_logreg", "embed_logreg")]
    if part in ("shipped", "all"):
        emails = REPO / "suites" / "email-routing.yaml"
        out += [Curve("ticket-priority", triage, "ticket-priority", kind) for kind in ("tfidf_logreg", "embed_logreg")]
        out += [Curve("email-routing", emails, "email-routing", kind) for kind in ("tfidf_logreg", "embed_logreg")]
    if part == "shipped":
        out = out[2:]
    if part in ("shared", "all"):
        if not shared.is_dir():
            print(f"skipping the shared datasets: {shared} is absent (pass --shared DIR)", file=sys.stderr)
            return [] if part == "shared" else out
        pools = {name: shared_suite(scratch, name, *pair) for name, pair in shared_pools(shared).items()}
        shared = [Curve(name, path, name.replace("_", "-"), "tfidf_logreg") for name, path in pools.items()]
        shared += [Curve(n, pools[n], n.replace("_", "-"), "embed_logreg") for n in ("sms_spam", "sentiment_reviews")]
        # 77 intents: budgets up to 128 stay below 2 labels per class, so this one also runs wider
        shared.append(Curve("banking77-wide", pools["banking77"], "banking77", "tfidf_logreg", "8,32,128,512,2048,all"))
        out = shared if part == "shared" else out + shared
    return out


CLAIM = {8: 62, 16: 80, 32: 90}


def _name(path: Path, document: dict[str, Any]) -> str:
    """The curve's name from its file name learn_curve_<name>_<kind>.json."""
    return path.stem.removeprefix("learn_curve_").removesuffix(f"_{document['kind']}")


def _pct(document: dict[str, Any], metric: str, strategy: str, labels: int) -> str:
    point = next((p for p in document["points"][metric] if (p["strategy"], p["labels"]) == (strategy, labels)), None)
    if point is None:
        return "–"
    ci = f" ({point['pct_low']:.0f}–{point['pct_high']:.0f})" if point["pct_low"] is not None else ""
    return f"{point['pct_mean']:.0f}{ci}"


def markdown(metric: str) -> str:
    """The docs table from the result files: % of optimum (`metric`) at 8/16/32 labels, per curve and strategy."""
    lines = [f"% of optimum in {metric} (mean over seeds, 95% t-interval):", "",
             "| curve | classifier | optimum (all) | strategy | 8 | 16 | 32 | labels to 80 / 90 / 95% |",
             "|---|---|---|---|---|---|---|---|"]
    for path in sorted(RESULTS.glob("learn_curve_*_*.json")):
        doc = json.loads(path.read_text())
        full = next(p for p in doc["points"][metric] if p["strategy"] == "all")
        for strategy in doc["strategies"]:
            reach = doc["labels_to_reach"][metric][strategy]
            needed = " / ".join("not reached" if v is None else str(v) for v in reach.values())
            cells = " | ".join(_pct(doc, metric, strategy, n) for n in CLAIM)
            lines.append(f"| {_name(path, doc)} (pool {doc['pool_size']}, test {doc['test_size']}) | {doc['kind']} | "
                         f"{full['mean']:.3f} | {strategy} | {cells} | {needed} |")
    lines.append("| claim (active learning) | | | | 62 | 80 | 90 | |")
    return "\n".join(lines)


def _gap(points: dict[tuple[str, int], dict[str, Any]], n: int) -> str:
    """uncertainty - random in points of % of optimum at n labels; * when their 95% intervals do not overlap."""
    r, u = points.get(("random", n)), points.get(("uncertainty", n))
    if r is None or u is None:
        return "–"
    apart = u["pct_low"] is not None and (u["pct_low"] > r["pct_high"] or u["pct_high"] < r["pct_low"])
    return f"{u['pct_mean'] - r['pct_mean']:+.0f}{'*' if apart else ''}"


def comparison() -> str:
    """Active learning minus random, per curve and metric, at 16/32/64/128 labels (from the result files)."""
    lines = ["uncertainty - random, points of % of optimum (* = the 95% intervals do not overlap):", "",
             "| curve | classifier | metric | 16 | 32 | 64 | 128 |", "|---|---|---|---|---|---|---|"]
    for path in sorted(RESULTS.glob("learn_curve_*_*.json")):
        doc = json.loads(path.read_text())
        for metric, pts in doc["points"].items():
            by_key = {(p["strategy"], p["labels"]): p for p in pts}
            cells = " | ".join(_gap(by_key, n) for n in (16, 32, 64, 128))
            lines.append(f"| {_name(path, doc)} | {doc['kind']} | {metric} | {cells} |")
    return "\n".join(lines)


def redraw() -> None:
    """docs/figures/learn_curve_<name>_<kind>.png from each benchmarks/results/learn_curve_<name>_<kind>.json."""
    from bench.report.learn_curve import curve_figure

    for path in sorted(RESULTS.glob("learn_curve_*_*.json")):
        curve_figure(json.loads(path.read_text())).savefig(FIGURES / f"{path.stem}.png", dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["timed", "shipped", "shared", "all"], default="timed")
    parser.add_argument("--only", help="run only the curves whose name is this (e.g. banking77-wide)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--shared", type=Path, default=SHARED_DEFAULT,
                        help="the shared datasets folder (default: ../shared/datasets next to the checkout)")
    parser.add_argument("--figures", action="store_true", help="redraw docs/figures from the results and exit")
    parser.add_argument("--markdown", action="store_true", help="print the docs table from the results and exit")
    args = parser.parse_args()
    if args.markdown:
        print(markdown("accuracy") + "\n\n" + markdown("macro_f1") + "\n\n" + comparison())
        return 0
    if args.figures:
        redraw()
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary_file = RESULTS / "learn_curve.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {"curves": {}}
    with tempfile.TemporaryDirectory(prefix="learn-curve-") as scratch:
        for curve in curves(args.part, Path(scratch), args.shared):
            if args.only and curve.name != args.only:
                continue
            print(f"{curve.name} {curve.kind} ...", file=sys.stderr, flush=True)
            document = run_curve(curve, args.seeds, Path(scratch))
            (RESULTS / f"learn_curve_{curve.name}_{curve.kind}.json").write_text(json.dumps(document, indent=2) + "\n")
            summary["curves"][f"{curve.name}/{curve.kind}"] = {
                **document["process"], "seeds": args.seeds, "labels": curve.labels, "pool": document["pool_size"],
                "test": document["test_size"], "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
            print(f"  {document['process']}", file=sys.stderr, flush=True)
    summary["machine"] = {"cpu_count": os.cpu_count(), "note": "2 cores shared with other jobs; see loadavg"}
    summary_file.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
