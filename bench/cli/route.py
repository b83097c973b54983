"""`bench route`: replay routing policies over runs' records (docs/routing.md); parse, call, print."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

from bench.cli.arg_types import non_empty
from bench.cli.output import EXIT_OK, err, out, print_json
from bench.results.atomic import write_text_atomic

if TYPE_CHECKING:
    from bench.route.replay import Replay


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `route` subcommand and its options."""
    route = sub.add_parser("route", help="replay small-model-first routing over runs' records: accuracy, cost, "
                           "latency, RouteLLM metrics (no model is run)")
    route.add_argument("run_dir", type=Path, nargs="+", help="run directories holding both models' records")
    route.add_argument("--small", required=True, type=non_empty, help="model id of the small (weak, cheap) model")
    route.add_argument("--large", required=True, type=non_empty, help="model id of the large (strong) model")
    route.add_argument("--signal", type=non_empty, help="the small model's confidence signal to threshold: max_prob, "
                       "margin, entropy, token_logprob_mean, token_logprob_min, json_valid (default: the first of "
                       "max_prob, token_logprob_mean, json_valid the records carry)")
    route.add_argument("--task", type=non_empty, help="only this task (default: every task both models ran)")
    route.add_argument("--threshold", type=float, action="append", default=[],
                       help="also evaluate this fixed cut, in the signal's units (repeatable)")
    route.add_argument("--max-loss", type=float, default=1.0,
                       help="accuracy points the headline may lose vs always-large (default 1)")
    route.add_argument("--seed", type=int, default=0, help="seed of the 2-fold split and the random policy")
    route.add_argument("--bins", type=int, default=10, help="equal-width bins of the ECE (default 10)")
    route.add_argument("--out", type=Path, help="folder for route.json, route.csv and the plots")
    route.add_argument("--html", type=Path, help="write the HTML report of the runs with the routing section")
    route.add_argument("--format", choices=["table", "json"], default="table")


def route(args: argparse.Namespace) -> int:
    """Exit 0; BenchError (exit 2) for bad input: runs, model ids, task, signal or threshold."""
    from bench.api import load_runs
    from bench.errors import RunError
    from bench.report.routing import as_json
    from bench.route.pairs import pair_runs
    from bench.route.replay import RouteOptions, replay

    if not 0 <= args.max_loss <= 100 or not 2 <= args.bins <= 100:
        raise RunError("--max-loss must be 0-100 points and --bins 2-100")
    runs = load_runs(args.run_dir)
    options = RouteOptions(signal=args.signal, thresholds=tuple(args.threshold), seed=args.seed,
                           max_loss=args.max_loss / 100, bins=args.bins)
    results = [replay(pair, options) for pair in pair_runs(runs, args.small, args.large, args.task)]
    if args.format == "json":
        print_json([as_json(r) for r in results])
    else:
        _print_tables(results)
    if args.out is not None:
        _write_out(results, args.out)
    if args.html is not None:
        from bench.report.html import render_html
        from bench.report.routing import html_section

        write_text_atomic(args.html, render_html(runs, [html_section(results)]))
        err.print(f"route: HTML report {args.html}", markup=False)
    return EXIT_OK


def _print_tables(results: list[Replay]) -> None:
    from rich.table import Table

    from bench.report.routing import COST_OPTION_COLUMNS, TABLE_COLUMNS, cost_option_rows, headline_lines, table_rows

    for result in results:
        for columns, rows, title in ((TABLE_COLUMNS, table_rows(result), f"task: {result.pair.task_id} (signal "
                                      f"{result.signal.name}, $ on this machine)"),
                                     (COST_OPTION_COLUMNS, cost_option_rows(result), "$ per 1000 tasks at the "
                                      "headline share, per hardware profile / API")):
            table = Table(title=title, title_justify="left")
            for column in columns:
                table.add_column(column, justify="left" if column in ("policy", "cost option", "basis") else "right")
            for row in rows:
                table.add_row(*row)
            out.print(table)
        for line in headline_lines(result):
            out.print(line, markup=False, highlight=False)


def _write_out(results: list[Replay], folder: Path) -> None:
    from bench.report.plots import save
    from bench.report.routing import CSV_COLUMNS, as_json, csv_rows
    from bench.route.plot import figure

    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "route.json", json.dumps([as_json(r) for r in results], indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerows(csv_rows(result))
    write_text_atomic(folder / "route.csv", buffer.getvalue())
    for result in results:
        save(figure(result), folder, f"route-{result.pair.task_id}")
    err.print(f"route: {folder}/route.json, route.csv, route-<task>.png/.svg", markup=False)
