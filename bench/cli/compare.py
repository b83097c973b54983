"""`bench compare`, `bench baseline save` and `bench export pytest-benchmark`: parse, call one function, print."""

from __future__ import annotations

import argparse
import sys

from bench.cli.output import err, out, print_json
from bench.compare import (
    CompareOptions,
    CompareResult,
    parse_rules,
)
from bench.compare import (
    compare as compare_runs,
)
from bench.report.compare import (
    format_change,
    result_json,
    result_markdown,
    rich_table,
    summary_line,
)


def compare(args: argparse.Namespace) -> int:
    """Exit 0 without regression, 1 when a rule fails: the --fail-on rules, or without them the default policy
    (bench.compare.DEFAULT_RULES). BenchError -> 2 (bad input, or contended cells without --allow-contended)."""
    from bench.compare.baseline import load_comparable

    rules = parse_rules(args.fail_on) if args.fail_on else None
    options = CompareOptions(alpha=args.alpha, allow_mismatch=args.allow_mismatch, rules=rules,
                             allow_contended=bool(getattr(args, "allow_contended", False)))
    result = compare_runs(load_comparable(args.baseline), load_comparable(args.candidate), options)
    print_result(result, args.format)
    return result.exit_code


def print_result(result: CompareResult, fmt: str) -> None:
    """Print a comparison: mismatch warnings and notes on stderr, then on stdout the result as `fmt`
    ("json", "md", else a rich table with the summary line and each failed rule or significantly worse row)."""
    from rich.markup import escape


    for problem in result.mismatches:
        err.print(f"[yellow]warning[/yellow]: compared despite a mismatch: {escape(str(problem))}", highlight=False)
    for note in result.notes:
        err.print(f"note: {note}", markup=False, highlight=False)
    if fmt == "json":
        print_json(result_json(result))
    elif fmt == "md":
        sys.stdout.write(result_markdown(result))
    else:
        out.print(rich_table(result))
        out.print(summary_line(result), highlight=False)
        for failure in result.failures:
            out.print(f"  {failure.rule}: {failure.row.cell} {failure.row.metric}", highlight=False)
        if not result.failures:
            for row in result.significantly_worse:
                out.print(f"  significantly worse: {row.cell} {row.metric} ({format_change(row)})", highlight=False)


def baseline(args: argparse.Namespace) -> int:
    """`bench baseline save RUN_DIR PATH`: write the run's baseline file, report its size (KiB) on stderr; exit 0.
    CompareError (exit 2) for a path that is not a run directory."""
    from bench.compare.baseline import save_baseline

    comparable = save_baseline(args.run_dir, args.path)
    size = args.path.stat().st_size
    err.print(f"wrote {args.path} ({len(comparable.cells)} cells, {size / 1024:.1f} KiB) from run "
              f"{comparable.run_id}", highlight=False, markup=False)
    return 0


def export(args: argparse.Namespace) -> int:
    """`bench export pytest-benchmark RUN_DIR PATH`: write the run's timings as pytest-benchmark JSON; exit 0.
    RunError (exit 2) for a directory that is not a run."""
    from bench.api import load_run
    from bench.results.export import export_pytest_benchmark

    document = export_pytest_benchmark(load_run(args.run_dir), args.path)
    err.print(f"wrote {args.path} ({len(document['benchmarks'])} benchmarks); view it with "
              f"`pytest-benchmark compare {args.path}`", highlight=False, markup=False)
    return 0
