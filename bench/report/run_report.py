"""A run's report files, written once per run end (and by `bench report`): summary.json and report.md."""

from __future__ import annotations

from bench.cost.section import CostOptions
from bench.report.tables import comparison_markdown
from bench.results.atomic import write_text_atomic
from bench.results.schema import SUMMARY, Summary, write_summary
from bench.results.store import RunStore
from bench.results.summary import summarize_run


def write_report(store: RunStore, cost_options: CostOptions | None = None) -> Summary:
    """Compute the run's summary from its records (once), write summary.json and the rendered report.md next to
    them, and return the summary. WriteError when the run folder cannot be written."""
    summary = summarize_run(store, cost_options)
    write_summary(store.path / SUMMARY, summary)
    write_text_atomic(store.path / "report.md", comparison_markdown(summary, store.read_manifest()))
    return summary
