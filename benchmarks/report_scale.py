"""Reports at scale: wall time and peak memory of `bench report`, `bench compare` and `bench.load_run` on runs of
100k / 300k / 1M records.

The runs are a real small run's records replicated with new item ids (`<item id>~<copy>`; every other field,
the manifest, the suite copy and the segments as they were), as issue 13 measured it. Each command runs in its
own subprocess, started from a small Python parent that reports the child's wall time, CPU time and peak RSS
(`resource.getrusage(RUSAGE_CHILDREN)`), so no measurement includes another.

    bench run suites/quickstart.yaml --limit 2          # a real small run (a few minutes)
    python benchmarks/report_scale.py --source results/quickstart-YYYYMMDD-HHMMSS
    python benchmarks/report_scale.py --source RUN --sizes 100000 --work /tmp/scale   # one size
    python benchmarks/report_scale.py --source RUN --commands "bench compare"          # one command

Writes benchmarks/results/report_scale.json. The runs are written under --work (about 0.9 KB per record, twice
for the largest size's copy is avoided with hard links).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine.detect import detect_machine
from bench.results.store import MANIFEST, RECORDS, SEGMENTS, RunStore

SIZES = (100_000, 300_000, 1_000_000)
TARGET_WALL_S, TARGET_RSS_GB = 15.0, 1.5
OUT = Path(__file__).parent / "results" / "report_scale.json"
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": done.returncode, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_gb": usage.ru_maxrss * 1024 / 1e9, "stderr_tail": done.stderr[-400:]}))
"""


def replicate(source: Path, target: Path, size: int) -> Path:
    """A run directory with `size` records: the source's latest records, copy after copy, with new item ids."""
    records = [r.model_dump(mode="json") for r in RunStore(source).records()]
    if not records:
        raise SystemExit(f"{source}: no records to replicate")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in (MANIFEST, SEGMENTS, "suite.yaml"):
        if (source / name).exists():
            shutil.copy(source / name, target / name)
    with (target / RECORDS).open("w", encoding="utf-8") as out:
        for n in range(size):
            copy, record = divmod(n, len(records))
            row = {**records[record], "item_id": f"{records[record]['item_id']}~{copy}"}
            out.write(json.dumps(row) + "\n")
    return target


def linked_copy(run: Path, target: Path) -> Path:
    """The same run under another directory, files hard-linked (compare's candidate)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for file in run.iterdir():
        if file.is_file():
            os.link(file, target / file.name)
    return target


def measure(command: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, env=env,
                          check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def commands(run: Path, copy: Path) -> dict[str, list[str]]:
    python = sys.executable
    return {"bench report": [python, "-m", "bench", "report", str(run), "--format", "json"],
            "bench compare": [python, "-m", "bench", "compare", str(run), str(copy), "--format", "json",
                              "--allow-contended"],
            "bench.load_run": [python, "-c", f"import bench; bench.load_run({str(run)!r})"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a real run directory to replicate")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-report-scale"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--commands", nargs="+", choices=list(commands(Path(), Path())), metavar="COMMAND",
                        help='measure only these ("bench report", "bench compare", "bench.load_run")')
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        run = replicate(args.source, args.work / f"run-{size}", size)
        copy = linked_copy(run, args.work / f"copy-{size}")
        for name, command in commands(run, copy).items():
            if args.commands and name not in args.commands:
                continue
            figures = {"records": size, "command": name, **measure(command)}
            print(json.dumps(figures), file=sys.stderr)
            results.append(figures)
        shutil.rmtree(copy)
        shutil.rmtree(run)
    machine = detect_machine()
    document = {"benchmark": "report_scale", "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "source_run": str(args.source), "source_records": len(RunStore(args.source).records()),
                "targets": {"wall_s": TARGET_WALL_S, "peak_rss_gb": TARGET_RSS_GB},
                "machine": {k: machine.get(k) for k in ("cpu_model", "logical_cpus", "ram_gb")},
                "note": "shared machine: other agents' processes ran at the same time; see load_average",
                "load_average": os.getloadavg(), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
