"""One self-contained HTML report for one or more runs: no external URLs, no scripts, plots inlined.

Everything taken from a run (model outputs included) goes through `html.escape`, so an output holding
`<script>` stays inert text. Tables reuse the rows of bench.report.tables and bench.report.cost_tables;
with several runs each table gains a leading `run` column.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from bench.report.cost_tables import COST_COLUMNS, cost_table_rows, number, procurement_lines
from bench.report.tables import comparison_rows, flag_lines, headers
from bench.results.schema import Manifest, ManifestCell

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from bench.api import RunData
    from bench.metrics.records import ItemRecord
    from bench.results.slices import SliceReport

SAMPLES_PER_CELL = 3
MAX_OUTPUT_CHARS = 400
OUTPUT_COLUMNS = {"prediction", "reference", "settings"}
TEXT_COLUMNS = {"run", "model", "hardware", "basis", "flags", "API model", "provider", "item", "correct?", "engine",
                "engine version", "model file", "model sha256", "slice", "tested on", "flag"} | OUTPUT_COLUMNS
PLOTS = [  # (element id, plots.FIGURES name, heading, caption)
    ("pareto-plot", "pareto", "Quality vs cost",
     "Each point is a (model, hardware) cost row: filled = measured on this machine, hollow = projected. "
     "The dashed step line is the Pareto frontier (no other option is both cheaper and better)."),
    ("throughput-plot", "throughput", "Throughput by hardware",
     "Tasks per second on each hardware profile; solid bars are measured, hatched bars projected."),
    ("latency-plot", "latency_cdf", "Latency distribution",
     "Empirical CDF of end-to-end latency of the items that completed (status ok), measured on this machine."),
    ("accuracy-plot", "accuracy_heatmap", "Quality heat map",
     "Each task's primary metric (%) per model."),
]
CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 0;
       background: #f6f7f9; }
main { max-width: 1360px; margin: 0 auto; padding: 16px 28px 48px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 21px; margin: 32px 0 8px; border-bottom: 2px solid #dde1e6;
     padding-bottom: 4px; } h3 { font-size: 16px; margin: 20px 0 6px; }
.muted, figcaption, .note { color: #57606a; font-size: 13px; }
.scroll { overflow-x: auto; margin: 6px 0 12px; }
table { border-collapse: collapse; font-size: 13px; min-width: 40%; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; vertical-align: top; text-align: left; }
th { background: #eef1f4; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.measured td { background: #e9f5ec; font-weight: 600; } tr.nofit td { color: #8c959f; }
tr.flagged td { background: #fdecea; }
td.output { max-width: 520px; white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, monospace;
            font-size: 12px; }
figure { margin: 14px 0 28px; } figure img { width: 100%; height: auto; border: 1px solid #eaeef2; }
#accuracy-plot img { width: auto; max-width: 100%; }
#procurement { background: #f1f8ff; border: 1px solid #c8e1ff; border-radius: 6px; padding: 4px 18px 10px; }
#procurement h2 { border: none; margin-top: 12px; } #procurement li { margin: 4px 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px; }
dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
code { font-size: 12px; }
"""


# --- small builders -------------------------------------------------------------------------------------------

def slug(text: str) -> str:
    """A safe id fragment: letters, digits, '-' and '_' only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str | None = None,
          row_classes: Sequence[str] | None = None) -> str:
    """An escaped <table>; columns not in TEXT_COLUMNS are right-aligned numbers."""
    id_attr = f' id="{escape(table_id)}"' if table_id else ""
    head = "".join(f"<th scope=\"col\">{escape(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{escape(row_classes[i])}"' if row_classes and row_classes[i] else ""
        cells = "".join(_cell(column, value) for column, value in zip(columns, row, strict=True))
        body.append(f"<tr{css}>{cells}</tr>")
    return (f'<div class="scroll"><table{id_attr}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _cell(column: str, value: Any) -> str:
    if column in OUTPUT_COLUMNS:
        return f'<td class="output">{escape(_clip(_text(value)))}</td>'
    css = "" if column in TEXT_COLUMNS else ' class="num"'
    return f"<td{css}>{escape(_text(value))}</td>"


def _with_run(runs: Sequence[RunData], run: RunData, rows: list[list[str]]) -> list[list[str]]:
    return [[run.run_id, *row] for row in rows] if len(runs) > 1 else rows


def _run_columns(runs: Sequence[RunData], columns: list[str]) -> list[str]:
    return ["run", *columns] if len(runs) > 1 else columns


def _task_ids(runs: Sequence[RunData]) -> list[str]:
    """The tasks with a cell in some run, in suite order (a suite task a run left out gets no empty section)."""
    seen: dict[str, None] = {}
    for run in runs:
        measured = {cell.task_id for cell in run.summary.cells}
        seen.update(dict.fromkeys(t for t in run.summary.primary_metrics if t in measured))
    return list(seen)


# --- sections -------------------------------------------------------------------------------------------------

def procurement_section(runs: Sequence[RunData]) -> str:
    parts = ['<section id="procurement"><h2>Procurement summary</h2>']
    for run in runs:
        parts.append(f"<h3>Run {escape(run.run_id)}</h3>")
        first, *picks = procurement_lines(run.summary.costs)
        items = "".join(f"<li>{escape(line.removeprefix('- '))}</li>" for line in picks)
        parts.append(f"<p>{escape(first)}</p><ul>{items}</ul>")
    parts.append('<p class="note">Figures marked <em>projected</em> are roofline estimates from this run, not '
                 "measurements; their inputs are in summary.json.</p></section>")
    return "".join(parts)


def comparison_section(runs: Sequence[RunData]) -> str:
    parts = ['<section id="comparison"><h2>Model comparison per task</h2>']
    for task_id in _task_ids(runs):
        columns: list[str] = []
        rows: list[list[str]] = []
        for run in runs:
            task_rows = comparison_rows(run.summary).get(task_id, [])
            if task_rows:
                columns = _run_columns(runs, headers(run.summary, task_id))
                rows += _with_run(runs, run, task_rows)
        parts.append(f'<section id="comparison-{slug(task_id)}" class="task"><h3>{escape(task_id)}</h3>'
                     f"{table(columns, rows, f'comparison-table-{slug(task_id)}')}</section>")
    flagged = [escape(line) for run in runs for line in flag_lines(run.summary)]
    if flagged:
        parts.append('<ul class="flags">' + "".join(f"<li>{line}</li>" for line in flagged) + "</ul>")
    parts.append('<p class="note">Quality is the task\'s primary metric in % with its 95% confidence interval; '
                 "latency and tok/s are medians measured on this machine; $/1000 tasks uses this machine's "
                 "price per hour (see the cost tables).</p></section>")
    return "".join(parts)


def svg_data_uri(fig: Figure) -> str:
    from bench.report.plots import svg_bytes

    return "data:image/svg+xml;base64," + base64.b64encode(svg_bytes(fig)).decode("ascii")


def plots_section(runs: Sequence[RunData]) -> str:
    from bench.report.plots import FIGURES

    parts = ['<section id="plots"><h2>Plots</h2>']
    for element_id, name, heading, caption in PLOTS:
        uri = svg_data_uri(FIGURES[name](runs))
        parts.append(f'<figure id="{element_id}"><h3>{escape(heading)}</h3>'
                     f'<img src="{uri}" alt="{escape(heading)}"><figcaption>{escape(caption)}</figcaption></figure>')
    parts.append(_sweep_figure(runs))
    parts.append("</section>")
    return "".join(parts)


def _sweep_figure(runs: Sequence[RunData]) -> str:
    from bench.report.plots import sweep_figure

    fig = sweep_figure(runs)
    if fig is None:
        return ""
    notes = "".join(f"<li>{escape(c['model_id'])} × {escape(c['task_id'])}: max rate meeting p95 ≤ "
                    f"{escape(str(c['p95_limit_s']))} s: {escape(str(c['max_rate_meeting_p95_rps']))} req/s</li>"
                    for run in runs for c in run.summary.sweeps)
    return (f'<figure id="sweep-plot"><h3>Rate sweep</h3><img src="{svg_data_uri(fig)}" alt="rate sweep">'
            f"<figcaption><ul>{notes}</ul></figcaption></figure>")


def _local_note(run: RunData) -> str:
    local = run.summary.costs.local_machine
    return (f"<p class=\"note\">Run {escape(run.run_id)}: this machine ({escape(str(local['profile_id']))}) at "
            f"${escape(str(local['usd_per_hour']))}/h ({escape(str(local['price_basis']))}); power "
            f"{escape(str(local['tdp_w']))} W ({escape(str(local['tdp_basis']))}).</p>")


def _cost_rows(runs: Sequence[RunData], task_id: str) -> tuple[list[list[str]], list[str]]:
    rows: list[list[str]] = []
    for run in runs:
        rows += _with_run(runs, run, cost_table_rows(run.summary.costs, task_id))
    offset = 1 if len(runs) > 1 else 0
    basis, fits = offset + COST_COLUMNS.index("basis"), offset + COST_COLUMNS.index("fits")
    classes = ["measured" if r[basis] == "measured" else ("nofit" if r[fits] == "no" else "") for r in rows]
    return rows, classes


def _api_table(runs: Sequence[RunData], task_id: str) -> str:
    rows: list[list[str]] = []
    bases: dict[str, None] = {}
    for run in runs:
        apis = [a for a in run.summary.costs.api if a["task_id"] == task_id]
        rows += _with_run(runs, run, [[a["api_model"], a["provider"], number(a["usd_per_1000_tasks"], ".4f")]
                                      for a in apis])
        bases.update(dict.fromkeys(str(a["basis"]) for a in apis))
    if not rows:
        return ""
    note = "; ".join(bases)
    columns = _run_columns(runs, ["API model", "provider", "$/1000 tasks"])
    return (f'<h4>Hosted API prices</h4><p class="note">{escape(note)}; their accuracy is not measured here.</p>'
            f"{table(columns, rows, f'api-prices-{slug(task_id)}')}")


def costs_section(runs: Sequence[RunData]) -> str:
    priced = list(runs)
    parts = ['<section id="costs"><h2>Cost per 1000 tasks by hardware</h2>']
    parts += [_local_note(run) for run in priced]
    parts.append('<p class="note">Measured rows are highlighted; other hardware is projected with a roofline model '
                 "calibrated on this run. Rows that do not fit in memory are greyed.</p>")
    for task_id in _task_ids(priced):
        rows, classes = _cost_rows(priced, task_id)
        parts.append(f'<section id="cost-{slug(task_id)}" class="task"><h3>{escape(task_id)}</h3>'
                     f"{table(_run_columns(priced, COST_COLUMNS), rows, f'cost-table-{slug(task_id)}', classes)}"
                     f"{_api_table(priced, task_id)}</section>")
    parts.append("</section>")
    return "".join(parts)


def _verdict(record: ItemRecord, primary: str) -> str:
    if record.status != "ok":
        return f"{record.status}: {record.error or ''}".strip()
    score = record.scores.get(primary)
    if score is None:
        return "–"
    return {1.0: "yes", 0.0: "no"}.get(score, f"{score:.0%} ({primary})")


def _sample_rows(run: RunData, cell: ManifestCell) -> list[list[Any]]:
    primary = run.summary.primary_metrics[cell.task_id]
    records = [r for r in run.records if r.cell_id == cell.cell_id][:SAMPLES_PER_CELL]
    return [[r.item_id, r.prediction if r.prediction is not None else r.raw_output, r.reference,
             _verdict(r, primary)] for r in records]


def samples_section(runs: Sequence[RunData]) -> str:
    parts = [f'<section id="samples"><h2>Sample outputs (first {SAMPLES_PER_CELL} items per cell)</h2>']
    for run in runs:
        for cell in run.summary.cells:
            title = f"{cell.model_id} on {cell.task_id}" + (f" (run {run.run_id})" if len(runs) > 1 else "")
            rows = _sample_rows(run, cell)
            parts.append(f"<h3>{escape(title)}</h3>")
            parts.append(table(["item", "prediction", "reference", "correct?"], rows,
                               f"samples-{slug(run.run_id)}-{slug(cell.cell_id)}"))
    parts.append("</section>")
    return "".join(parts)


def _definitions(pairs: Sequence[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(_text(v))}</dd>" for k, v in pairs) + "</dl>"


def _backends_table(manifest: Manifest, run_id: str) -> str:
    rows = [[model_id, info.get("engine"), info.get("engine_version"), info.get("model"), info.get("model_sha256"),
             info.get("settings")] for model_id, info in manifest.backends.items()]
    columns = ["model", "engine", "engine version", "model file", "model sha256", "settings"]
    return table(columns, rows, f"backends-{slug(run_id)}")


def provenance_section(runs: Sequence[RunData]) -> str:
    parts = ['<footer id="provenance"><h2>Provenance</h2>']
    for run in runs:
        m = run.manifest
        facts = [("run", run.run_id), ("status", m.status), ("suite", m.suite.name),
                 ("suite sha256", m.suite.sha256), ("started", m.started_at),
                 ("ended", m.ended_at), ("bench version", m.bench_version),
                 ("git commit", f"{m.git.commit}{' (dirty)' if m.git.dirty else ''}"),
                 *[(f"machine {k}", v) for k, v in m.machine.items()],
                 ("calibration", m.calibration)]
        parts.append(f"<h3>Run {escape(run.run_id)}</h3>{_definitions(facts)}{_backends_table(m, run.run_id)}")
    parts.append("</footer>")
    return "".join(parts)


def slices_section(reports: Sequence[SliceReport]) -> str:
    """`--by TAG`: a table per cell of each run's slices (bench.report.slices' rows), flagged rows marked."""
    from bench.report.slices import NOTE, cell_tables, without_lines

    parts = [f'<section id="slices"><h2>Slices by {escape(reports[0].tag)}</h2>']
    for report in reports:
        for title, (columns, rows) in cell_tables(report).items():
            classes = ["flagged" if row[-1] else "" for row in rows]
            parts.append(f"<h3>{escape(title)}{escape(f' (run {report.run_id})' if len(reports) > 1 else '')}</h3>"
                         f"{table(columns, rows, f'slices-{slug(report.run_id)}-{slug(title)}', classes)}")
        parts += [f'<p class="note">{escape(line)}</p>' for line in without_lines(report)]
    parts.append(f'<p class="note">{escape(NOTE)}</p></section>')
    return "".join(parts)


LEARN_CURVE_FILE = "learn_curve.json"
"""A run written by `bench learn-curve --out` carries its curve; the report shows it as a section."""


def learn_curve_sections(runs: Sequence[RunData]) -> str:
    """The Label efficiency section of each run that carries a learn curve (LEARN_CURVE_FILE), else ""."""
    from bench.report.learn_curve import learn_curve_section

    files = [run.path / LEARN_CURVE_FILE for run in runs]
    return "".join(learn_curve_section(json.loads(f.read_text(encoding="utf-8"))) for f in files if f.is_file())


def render_learn_curve_html(documents: Sequence[dict[str, Any]]) -> str:
    """A self-contained page (inline CSS, SVG data URIs, no scripts) with one Label efficiency section per curve."""
    from bench.report.learn_curve import learn_curve_section

    body = "".join(learn_curve_section(d) for d in documents)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>bench learn-curve</title>"
            f"<style>{CSS}</style></head><body><main><h1>bench learn-curve</h1>{body}</main></body></html>\n")


def render_html(runs: list[RunData], sections: Sequence[str] = ()) -> str:
    """The whole report as one HTML document (inline CSS, plots as SVG data URIs, no scripts); `sections`: extra
    self-contained <section> elements (e.g. `bench route`'s) placed before the samples and provenance."""
    run_ids = ", ".join(run.run_id for run in runs)
    body = [f'<header id="report-header"><h1>bench report</h1><p class="muted">Runs: {escape(run_ids)}</p></header>',
            procurement_section(runs), comparison_section(runs), plots_section(runs), learn_curve_sections(runs),
            costs_section(runs),
            *sections, samples_section(runs), provenance_section(runs)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>bench report: {escape(run_ids)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
