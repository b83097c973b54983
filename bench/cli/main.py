"""The `bench` command: parse options, call one function, map errors to exit codes.

Exit codes: 0 ok, 1 failure found, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.cli.arg_types import non_empty
from bench.cli.output import EXIT_BAD_INPUT, EXIT_INTERRUPTED, describe_os_error, err, print_error
from bench.errors import RUN_DIR_NOTE, BenchError, SpecError


def _csv(value: str) -> tuple[str, ...]:
    """Comma-separated ids; an empty list is refused (it would silently mean "all" or "none")."""
    parts = tuple(part.strip() for part in value.split(",") if part.strip())
    if not parts:
        raise argparse.ArgumentTypeError(f"no id given in '{value}': give one or more, comma-separated")
    return parts


def _price(value: str) -> tuple[str, float]:
    profile, _, price = value.partition("=")
    try:
        return profile.strip(), _non_negative(price)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected PROFILE=USD_PER_HOUR with a finite price ≥ 0, got '{value}'"
                                         ) from None


def _non_negative(value: str) -> float:
    """A finite number ≥ 0 (prices, latencies): not nan, inf or negative."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{value}'") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0, got '{value}'")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: '{value}'") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _add_plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=_positive_int,
                        help="at most N items per task: a seeded random sample (choices tasks: label-balanced, or the "
                        "data's own label mix with the task's sample: natural)")
    parser.add_argument("--models", type=_csv, default=(), help="comma-separated model ids to run")
    parser.add_argument("--tasks", type=_csv, default=(), help="comma-separated task ids to run")


def _add_cost_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profiles", type=_csv, default=("all",),
                        help="hardware profiles to price the run on: all (default) or ids, comma-separated")
    parser.add_argument("--min-accuracy", type=_non_negative, help="quality floor (0-1) for the procurement summary")
    parser.add_argument("--max-p95-latency", type=_non_negative,
                        help="p95 latency limit (s) for the procurement summary")
    parser.add_argument("--price", action="append", default=[], type=_price, metavar="PROFILE=USD_PER_HOUR",
                        help="override a hardware profile's hourly price (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of every `bench` subcommand and its options."""
    parser = argparse.ArgumentParser(prog="bench", description="Benchmark language models on your own tasks: "
                                     "accuracy, latency, tokens/s, memory and cost per 1000 tasks.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a suite (or --resume an interrupted run)")
    run.add_argument("suite", nargs="?", type=Path, help="suite YAML file")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR", help="finish an interrupted run")
    run.add_argument("--out", type=Path, default=Path("results"), help="folder for run directories")
    run.add_argument("--usd-per-hour", type=_non_negative, help="price of this machine per hour, for $/1000 tasks")
    run.add_argument("--dry-run", action="store_true", help="print the plan and run nothing")
    run.add_argument("--executor", default="process", metavar="process|local|ray[:ADDRESS]",
                     help="where cells run: a worker process per model, so an engine crash costs only its cell "
                     "(default); this process (local, for debugging); or Ray tasks (a local instance or a cluster)")
    run.add_argument("--format", choices=["table", "json"], default="table")
    _add_plan_options(run)
    _add_cost_options(run)
    validate = sub.add_parser("validate", help="check a suite and report every problem at once")
    validate.add_argument("suite", type=Path)
    plan = sub.add_parser("plan", help="print the cells a suite would run")
    plan.add_argument("suite", type=Path)
    plan.add_argument("--format", choices=["table", "json"], default="table")
    _add_plan_options(plan)
    report = sub.add_parser("report", help="recompute summary.json and report.md from runs' records")
    report.add_argument("run_dir", type=Path, nargs="+", help="one or more run directories (combined in one report)")
    report.add_argument("--format", choices=["table", "md", "csv", "json", "html"], default="table")
    report.add_argument("--out", type=Path, help="write the report here instead of stdout (table: as plain "
                        "text; html: default report.html in the first run directory)")
    report.add_argument("--by", metavar="TAG", type=non_empty, help="also metrics per value of this item tag (the "
                        "datasets' tags, e.g. priority), each slice tested against the rest "
                        "(csv: the slice rows only)")
    _add_cost_options(report)
    compare = sub.add_parser("compare", help="baseline vs candidate with significance tests; exit 1 on regression")
    compare.add_argument("baseline", type=Path, help="a run directory or a saved baseline file")
    compare.add_argument("candidate", type=Path, help="a run directory or a saved baseline file")
    compare.add_argument("--fail-on", action="append", default=[], metavar="RULE",
                         help='e.g. "accuracy:-2pp", "decode_tps:-10%%", "usd_per_1000:+10%%" (repeatable); '
                              "without it, a significant change beyond -2pp quality or 10%% speed/cost fails")
    compare.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    compare.add_argument("--allow-mismatch", action="store_true",
                         help="compare different suites, task versions or hardware anyway")
    compare.add_argument("--allow-contended", action="store_true",
                         help="judge speed and cost of cells measured under CPU contention anyway (marked)")
    compare.add_argument("--format", choices=["table", "json", "md"], default="table")
    baseline = sub.add_parser("baseline", help="baselines for CI")
    baseline_sub = baseline.add_subparsers(dest="baseline_command", required=True)
    save = baseline_sub.add_parser("save", help="write a small, reviewable baseline file from a run")
    save.add_argument("run_dir", type=Path)
    save.add_argument("path", type=Path)
    export = sub.add_parser("export", help="export a run's figures for other tools")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    pytest_benchmark = export_sub.add_parser("pytest-benchmark", help="pytest-benchmark's JSON format")
    pytest_benchmark.add_argument("run_dir", type=Path)
    pytest_benchmark.add_argument("path", type=Path)
    hardware = sub.add_parser("hardware", help="hardware profiles and this machine")
    hardware_sub = hardware.add_subparsers(dest="hardware_command", required=True)
    for name, text in (("list", "every profile with its specs and $/hour"), ("detect", "this machine and its profile")):
        hw = hardware_sub.add_parser(name, help=text)
        hw.add_argument("--format", choices=["table", "json"], default="table")
    show = hardware_sub.add_parser("show", help="one profile in full, with its sources")
    show.add_argument("id")
    show.add_argument("--format", choices=["table", "json"], default="table")
    from bench.cli.route import add_parser as add_route

    add_route(sub)
    models = sub.add_parser("models", help="bundled models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    listing = models_sub.add_parser("list", help="parameters, quantization, size and sha256 of each model")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    from bench.cli.learn_curve import add_parser as add_learn_curve

    add_learn_curve(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default sys.argv[1:]), run the command, return its exit code: SpecError -> 2 with one line
    per problem, BenchError -> its exit_code, OSError -> 2, Ctrl-C -> 130 naming the run to resume.
    argparse exits 2 itself (SystemExit) on unknown options."""
    args = build_parser().parse_args(argv)
    from bench.cli import compare, hardware, learn_curve, route, run

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": run.run, "validate": run.validate, "plan": run.plan, "report": run.report,
        "models": run.models_list, "hardware": hardware.hardware, "compare": compare.compare,
        "baseline": compare.baseline, "export": compare.export, "route": route.route,
        "learn-curve": learn_curve.learn_curve,
    }
    _ignore_file_size_signal()
    try:
        return handlers[args.command](args)
    except SpecError as exc:
        for problem in exc.problems:
            print_error(str(problem))
        return EXIT_BAD_INPUT
    except BenchError as exc:
        print_error(str(exc))
        return exc.exit_code
    except OSError as exc:  # a disk or permission fault outside the places that name their own file
        print_error(describe_os_error(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        notes = [n.removeprefix(RUN_DIR_NOTE) for n in getattr(exc, "__notes__", []) if n.startswith(RUN_DIR_NOTE)]
        where = notes[0] if notes else "RUN_DIR"
        err.print(f"interrupted: the run is saved; finish it with bench run --resume {where}", markup=False,
                  highlight=False)
        return EXIT_INTERRUPTED


def _ignore_file_size_signal() -> None:
    """A file-size limit (ulimit -f) then fails the write with EFBIG, which ends the run cleanly, instead of
    killing the process with SIGXFSZ before it can mark the run interrupted."""
    import contextlib
    import signal

    if hasattr(signal, "SIGXFSZ"):
        with contextlib.suppress(ValueError):  # not the main thread (main() called from a library)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


if __name__ == "__main__":
    raise SystemExit(main())
