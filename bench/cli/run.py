"""One function per CLI command; each returns an exit code."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.cli.output import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, err, out, print_json
from bench.cost.section import CostOptions
from bench.errors import BenchError
from bench.metrics.flags import NO_SUCCESS
from bench.redact import mask
from bench.report.cost_tables import print_costs
from bench.report.run_report import write_report
from bench.report.slices import print_slices, slices_csv, slices_markdown
from bench.report.tables import comparison_markdown, escape_html, print_comparison
from bench.results.atomic import WriteError, write_text_atomic
from bench.results.schema import SUMMARY, Manifest, Summary, read_summary
from bench.results.slices import SliceReport, slice_run
from bench.results.store import RunStore
from bench.run.lifecycle import RunRequest, resume_run, start_run
from bench.run.progress import RichProgress
from bench.suite.load import load_suite
from bench.suite.plan import Plan, PlanOptions, build_plan
from bench.tasks.datasets import reads_once


def _cost_options(args: argparse.Namespace) -> CostOptions:
    return CostOptions(profiles=args.profiles, min_accuracy=args.min_accuracy,
                       max_p95_latency_s=args.max_p95_latency, prices=tuple(args.price))


def _options(args: argparse.Namespace) -> PlanOptions:
    return PlanOptions(limit=args.limit, models=args.models, tasks=args.tasks)


@reads_once
def validate(args: argparse.Namespace) -> int:
    """`bench validate SUITE`: load and check the suite, print its warnings and "ok (N models, M tasks)" on
    stderr; exit 0. SpecError (exit 2) with every problem found."""
    from bench.suite.checks import suite_notes

    suite = load_suite(args.suite)
    for level, note in suite_notes(suite):
        err.print(f"{level}: {note}", markup=False, highlight=False)
    err.print(f"{args.suite}: ok ({len(suite.spec.models)} models, {len(suite.spec.tasks)} tasks)", markup=False)
    return EXIT_OK


@reads_once
def plan(args: argparse.Namespace) -> int:
    """`bench plan SUITE`: print the cells the suite would run (cell, model, backend, task, items, repetitions)
    as a table or JSON; exit 0. SpecError (exit 2) for an invalid suite."""
    built = build_plan(load_suite(args.suite), _options(args))
    _print_plan(built, args.format)
    return EXIT_OK


def _print_plan(built: Plan, fmt: str) -> None:
    from bench.run.runner import cell_items

    rows = [{"cell_id": c.id, "model": c.model.id, "backend": c.model.backend.kind, "task": c.task.id,
             "task_version": c.task.version, "mode": c.task.answer.mode, "items": len(cell_items(c, built.suite)),
             "repetitions": built.suite.spec.repetitions} for c in built.cells]
    if fmt == "json":
        print_json({"suite": built.suite.spec.name, "cells": rows})
        return
    table = Table(title=f"plan: {built.suite.spec.name} ({len(rows)} cells)", title_justify="left")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    out.print(table)


def run(args: argparse.Namespace) -> int:
    """`bench run SUITE` or `bench run --resume RUN_DIR`: run (or finish) it, print the summary and costs; exit 0
    when complete with a successful item in every cell, else 1. BenchError (exit 2) for a suite and --resume
    together, or --resume with --limit/--models/--tasks/--usd-per-hour; SpecError/RunError as loading raises.
    --dry-run prints the plan only."""
    if (args.suite is None) == (args.resume is None):
        raise BenchError("give a suite file, or --resume RUN_DIR (not both)")
    if args.dry_run:
        if args.resume:
            raise BenchError("--dry-run prints a suite's plan; a run being resumed has its plan already: see its "
                             "manifest.json, or leave out --dry-run to finish it")
        return plan(args)
    progress = RichProgress(err)
    if args.resume and (args.limit or args.models or args.tasks or args.usd_per_hour is not None):
        raise BenchError("--resume finishes a run with its own options: leave out --limit, --models, --tasks and "
                         "--usd-per-hour (start a new run to change them)")
    if args.resume:
        store = resume_run(args.resume, progress, args.executor, _cost_options(args))
    else:
        store = start_run(RunRequest(args.suite, _options(args), args.out, args.usd_per_hour, args.executor,
                                     _cost_options(args)), progress)
    summary = read_summary(store.path / SUMMARY)  # computed once, when the run ended
    if args.format == "json":
        print_json(summary.model_dump(mode="json"))
    else:
        print_comparison(summary, out)
        print_costs(summary.costs, list(summary.primary_metrics), out, tables=False)
    err.print(f"results: {store.path}", markup=False)
    return _run_status(store, summary)


def _run_status(store: RunStore, summary: Summary) -> int:
    """EXIT_OK for a complete run in which every cell had a successful item; otherwise one line per unfinished or
    wholly failed cell and exit 1 (a failure found)."""
    manifest = store.read_manifest()
    failed = [f for f in summary.flags if f["flag"] == NO_SUCCESS]
    for flag in failed:
        err.print(f"failed: {flag['model_id']} × {flag['task_id']}: {flag['detail']}", markup=False, highlight=False)
    if manifest.status == "complete":
        return EXIT_FAILURE if failed else EXIT_OK
    for cell in manifest.unfinished:
        err.print(f"unfinished: {cell['cell']}: {cell['done']}/{cell['total']} items: {cell['reason']}",
                  markup=False, highlight=False)
    err.print(f"run {manifest.status}: finish it with bench run --resume {store.path}", markup=False,
              highlight=False)
    return EXIT_FAILURE


def report(args: argparse.Namespace) -> int:
    """One run: recompute and write summary.json + report.md. Several: one combined report.

    A run folder that cannot be written (read-only) still gets its report where --out or stdout says, with a
    warning; the run folder's own summary.json and report.md are then left as they were.
    """
    stores = [RunStore(Path(p)) for p in args.run_dir]
    slices = [slice_run(store, args.by) for store in stores] if args.by else []  # an unknown tag: exit 2 first
    summaries = [_summary(store, _cost_options(args)) for store in stores]
    if args.format == "html":
        return _write_html(stores, summaries, args, slices)
    if args.format == "table" and args.out is None:
        _print_tables(summaries, slices, out)
        return EXIT_OK
    if args.format == "table":
        text = _table_text(summaries, slices)
    else:
        text = _render(args.format, summaries, [store.read_manifest() for store in stores], slices)
    if args.out is None:
        sys.stdout.write(mask(text))
    else:
        write_text_atomic(args.out, text)
        err.print(f"report: {args.out}", markup=False)
    return EXIT_OK


def _print_tables(summaries: list[Summary], slices: list[SliceReport], console: Console) -> None:
    for summary in summaries:
        print_comparison(summary, console)
        print_costs(summary.costs, list(summary.primary_metrics), console, tables=True)
    print_slices(slices, console)


def _table_text(summaries: list[Summary], slices: list[SliceReport]) -> str:
    """The table report as plain text (no colour codes, 160 columns), for --format table --out FILE."""
    buffer = io.StringIO()
    _print_tables(summaries, slices, Console(file=buffer, width=160, color_system=None))
    return buffer.getvalue()


def _summary(store: RunStore, options: CostOptions) -> Summary:
    """write_report, or (the run folder not writable) the same summary computed without writing it."""
    from bench.results.summary import summarize_run

    try:
        return write_report(store, options)
    except WriteError as exc:
        if exc.path.parent != store.path:
            raise
        err.print(f"warning: {exc}; the report goes to its destination only", markup=False)
        return summarize_run(store, options)


def _render(fmt: str, summaries: list[Summary], manifests: list[Manifest], slices: list[SliceReport]) -> str:
    """The report as json (with `slices`: each summary gains a "slices" key), csv (with `slices`: the slice rows)
    or markdown (the slice sections after the runs')."""
    if fmt == "json":
        data = [summary.model_dump(mode="json") for summary in summaries]
        for entry, found in zip(data, slices, strict=False):
            entry["slices"] = found.as_dict()
        return json.dumps(data[0] if len(data) == 1 else data, indent=2, default=str) + "\n"
    if fmt == "csv":
        from bench.report.tables import metrics_csv

        return slices_csv(slices) if slices else metrics_csv(summaries)
    text = "\n".join(comparison_markdown(s, m) for s, m in zip(summaries, manifests, strict=True))
    return text + (escape_html(slices_markdown(slices)) if slices else "")


def _write_html(stores: list[RunStore], summaries: list[Summary], args: argparse.Namespace,
                slices: list[SliceReport]) -> int:
    """report.html (self-contained) and the plots as PNG + SVG in plots/ beside it (summaries not recomputed)."""
    from bench.api import RunData
    from bench.report.html import render_html, slices_section
    from bench.report.plots import write_all
    from bench.results.store import validate_records

    runs = [RunData(store.path, store.read_manifest(), summary, validate_records(store))
            for store, summary in zip(stores, summaries, strict=True)]
    target: Path = args.out or stores[0].path / "report.html"
    write_text_atomic(target, render_html(runs, [slices_section(slices)] if slices else []))
    try:
        written = write_all(runs, target.parent / "plots")
    except OSError as exc:
        raise WriteError(Path(exc.filename or target.parent / "plots"), exc) from None
    err.print(f"report: {target}; plots: {sum(len(v) for v in written.values())} files in {target.parent / 'plots'}",
              markup=False)
    return EXIT_OK


def models_list(args: argparse.Namespace) -> int:
    """`bench models list`: parameters, quantization, size (MB), context and sha256 of each bundled model; exit 0,
    or 2 when none can be read (each unreadable one is named on stderr)."""
    from bench.backends.model_info import bundled_refs, read_model_info

    infos, missing = [], []
    for ref in bundled_refs():
        try:
            infos.append(read_model_info(ref).as_dict())
        except BenchError as exc:
            missing.append(f"{ref}: {exc}")
    if args.format == "json":
        print_json({"models": infos, "unavailable": missing})
    else:
        _print_models(infos)
    for line in missing:
        err.print(f"[yellow]unavailable[/yellow]: {escape(line)}")
    return EXIT_OK if infos or not missing else EXIT_BAD_INPUT


def _print_models(infos: list[dict[str, object]]) -> None:
    table = Table(title="bundled models", title_justify="left")
    for column in ("model", "architecture", "parameters", "quantization", "size", "context", "sha256"):
        table.add_column(column)
    for info in infos:
        table.add_row(str(info["ref"]), str(info["architecture"]), f"{int(str(info['parameters'])) / 1e6:.1f} M",
                      str(info["quantization"]), f"{int(str(info['file_size_bytes'])) / 1e6:.1f} MB",
                      str(info["context_length"]), str(info["sha256"]))
    out.print(table)
