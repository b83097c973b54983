"""`bench learn-curve`: scores versus number of labels for random sampling and active learning; parse, call
bench.learn.measure, print the table (stdout) or JSON, and write curve.json/csv, records.jsonl, plot and HTML."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cli.output import EXIT_OK, err, out
from bench.errors import Problem, SpecError

if TYPE_CHECKING:  # numpy, scikit-learn and matplotlib load when the command runs, not for `bench --help`
    from bench.learn.curve import CurveConfig, Fit

ALL = "all"


def add_parser(sub: Any) -> None:
    """Register `learn-curve` and its options on the subcommand parsers `sub`."""
    p = sub.add_parser("learn-curve", help="score versus number of labels: random sampling vs active learning")
    p.add_argument("suite", type=Path, help="suite YAML file")
    p.add_argument("--task", required=True, help="task id (a choices task, or JSON with a label field)")
    p.add_argument("--model", default="tfidf_logreg", help="classifier kind: tfidf_logreg, embed_logreg, setfit")
    p.add_argument("--labels", default="8,16,32,64,128,all",
                   help="label budgets, ascending; 'all' = the whole pool (alone: the optimum only)")
    p.add_argument("--strategy", default="random,uncertainty", help="comma-separated: random, uncertainty")
    p.add_argument("--query", default="margin", help="uncertainty measure: margin (default) or least-confidence")
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    p.add_argument("--out", type=Path, help="folder for curve.json, curve.csv, records.jsonl, curve.png, curve.html "
                   "and run/ (a run directory of the all / largest-budget models)")
    p.add_argument("--format", choices=["table", "json"], default="table")


def parse_budgets(text: str) -> tuple[int, ...]:
    """The integer budgets of `--labels` (ascending, distinct; `all` dropped: it is always measured)."""
    budgets = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == ALL:
            continue
        if not part.isdigit():
            raise SpecError([Problem("bench learn-curve", "--labels", f"'{part}' is not a whole number or 'all'",
                                     "e.g. --labels 8,16,32,all")])
        budgets.append(int(part))
    if not budgets and ALL not in (p.strip() for p in text.split(",")):
        raise SpecError([Problem("bench learn-curve", "--labels", "no label count given", "e.g. --labels 8,16,all")])
    return tuple(sorted(set(budgets)))


def config_of(args: argparse.Namespace) -> CurveConfig:
    """The CurveConfig the options describe (kind and budgets checked; strategies are checked with the pool)."""
    if args.seeds < 1:
        raise SpecError([Problem("bench learn-curve", "--seeds", f"{args.seeds} seeds", "use at least 1")])
    from bench.learn.curve import CurveConfig
    from bench.learn.measure import checked_kind

    strategies = tuple(s.strip() for s in args.strategy.split(",") if s.strip())
    return CurveConfig(checked_kind(args.model), parse_budgets(args.labels), strategies, args.seeds, args.query)


def check_out(path: Path) -> None:
    """Create `path` (a folder) and write a probe file in it, so a folder that cannot hold the outputs is refused
    before the curve is measured: SpecError (one line, the path and the system's words for the cause)."""
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise SpecError([Problem("bench learn-curve", "--out", f"cannot write to {path}: {exc.strerror or exc}",
                                 "give a folder you can create and write")]) from None


def _progress(fit: Fit) -> None:
    err.print(f"seed {fit.seed} {fit.strategy:<11} {fit.labels:>5} labels: "
              + ", ".join(f"{k} {v:.3f}" for k, v in fit.scores.items()) + f" ({fit.fit_s:.2f} s)",
              markup=False, highlight=False)


def print_tables(document: dict[str, Any]) -> None:
    """The points and labels-to-reach of every metric, as rich tables on stdout."""
    from rich.table import Table

    from bench.report.learn_curve import COLUMNS, curve_rows, reach_rows

    for metric in document["points"]:
        table = Table(title=f"{document['task_id']} · {document['kind']} · {metric}")
        for column in COLUMNS:
            table.add_column(column, justify="left" if column == "strategy" else "right")
        for row in curve_rows(document, metric):
            table.add_row(*row)
        out.print(table)
        reach = Table(title=f"labels to reach % of optimum ({metric})")
        for column in ("strategy", "80%", "90%", "95%"):
            reach.add_column(column)
        for row in reach_rows(document, metric):
            reach.add_row(*row)
        out.print(reach)


def write_all(out_dir: Path, document: dict[str, Any], records: list[Any]) -> list[Path]:
    """curve.json, curve.csv, records.jsonl, curve.png (Agg) and curve.html under `out_dir`."""
    from bench.learn.output import write_outputs
    from bench.report.html import render_learn_curve_html
    from bench.report.learn_curve import curve_figure

    paths = write_outputs(out_dir, document, records)
    curve_figure(document).savefig(out_dir / "curve.png", dpi=120)
    (out_dir / "curve.html").write_text(render_learn_curve_html([document]), encoding="utf-8")
    return [*paths, out_dir / "curve.png", out_dir / "curve.html"]


def learn_curve(args: argparse.Namespace) -> int:
    """Exit 0 with the curve measured; SpecError (exit 2, one line) for bad input."""
    from bench.learn.measure import measure, prepare
    from bench.learn.run_dir import write_run

    config = config_of(args)
    suite, task = prepare(args.suite, args.task, config)
    if args.out is not None:
        check_out(args.out)
    measured = measure(task, config, _progress)
    if args.out is not None:
        for path in write_all(args.out, measured.document, measured.records):
            err.print(f"wrote {path}", markup=False, highlight=False)
        run = write_run(args.out / "run", suite, task, measured.fits, measured.document)
        err.print(f"wrote {run} (a run directory: bench report / bench compare)", markup=False, highlight=False)
    if args.format == "json":
        sys.stdout.write(json.dumps(measured.document, indent=2) + "\n")
    else:
        print_tables(measured.document)
    return EXIT_OK
