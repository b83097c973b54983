"""Rendering a learn curve (the curve.json document of bench.learn.output): the table, the plot (% of optimum
versus labels, 95% t-interval bands, one line per strategy) and the HTML section (bench.report.html puts it in
a run's report and in the standalone curve.html)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from bench.report.plots import svg_bytes

COLORS = {"random": "#8c959f", "uncertainty": "#0969da", "all": "#1a7f37"}
CLAIM = {8: 62.0, 16: 80.0, 32: 90.0}
"""The claim under test (issue #14): with active learning, 8/16/32 labels reach about 62/80/90% of optimum."""
COLUMNS = ["strategy", "labels", "mean", "95% CI", "% of optimum", "% CI", "seeds"]


def _ci(low: float | None, high: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "" if low is None or high is None else f"{low * scale:.{digits}f}–{high * scale:.{digits}f}"


def curve_rows(document: dict[str, Any], metric: str) -> list[list[str]]:
    """One row per point of `metric`: strategy, labels, mean, CI, % of optimum, its CI, seeds (formatted)."""
    return [[p["strategy"], str(p["labels"]), f"{p['mean']:.3f}", _ci(p["ci_low"], p["ci_high"]),
             f"{p['pct_mean']:.1f}", _ci(p["pct_low"], p["pct_high"], digits=1), str(p["n"])]
            for p in document["points"][metric]]


def reach_rows(document: dict[str, Any], metric: str) -> list[list[str]]:
    """One row per strategy: labels needed to reach 80/90/95% of optimum ("not reached" when never)."""
    table_ = document["labels_to_reach"][metric]
    return [[s, *("not reached" if v is None else str(v) for v in table_[s].values())] for s in table_]


def primary(document: dict[str, Any]) -> str:
    """The metric shown first: the task's first label scorer's metric."""
    return str(next(iter(document["points"])))


def curve_figure(document: dict[str, Any], metric: str | None = None) -> Figure:
    """% of optimum (y) versus labels (x, log2), a line and a 95% band per strategy, the claim as markers."""
    metric = metric or primary(document)
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    pts = document["points"][metric]
    full = [p for p in pts if p["strategy"] == "all"]
    for strategy in document["strategies"]:
        line = sorted([p for p in pts if p["strategy"] == strategy] + full, key=lambda p: p["labels"])
        xs = [p["labels"] for p in line]
        ax.plot(xs, [p["pct_mean"] for p in line], marker="o", color=COLORS.get(strategy), label=strategy)
        if all(p["pct_low"] is not None for p in line):
            ax.fill_between(xs, [p["pct_low"] for p in line], [p["pct_high"] for p in line],
                            color=COLORS.get(strategy), alpha=0.18, linewidth=0)
    ax.scatter(list(CLAIM), list(CLAIM.values()), marker="x", color="#cf222e", zorder=3, label="claim (62/80/90%)")
    ax.axhline(100, color="#1a7f37", linewidth=0.8, linestyle="--")
    ax.set_xscale("log", base=2)
    ticks = sorted({p["labels"] for p in pts})
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("labels (log scale)")
    ax.set_ylabel(f"% of optimum ({metric})")
    ax.set_title(f"{document['task_id']}: {document['kind']}, {document['seeds']} seeds")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _td(index: int, value: str) -> str:
    css = ' class="num"' if index else ""
    return f"<td{css}>{escape(value)}</td>"


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An escaped <table> (the first column text, the others right-aligned numbers, as bench's HTML report)."""
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(_td(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def svg_data_uri(fig: Figure) -> str:
    """The figure as a base64 SVG data URI (byte-for-byte reproducible, bench.report.plots.svg_bytes)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg_bytes(fig)).decode("ascii")


def _tables(document: dict[str, Any], metric: str) -> str:
    reach = table(["strategy", "80%", "90%", "95%"], reach_rows(document, metric))
    return (f"<h3>{escape(metric)}</h3>{table(COLUMNS, curve_rows(document, metric))}"
            f"<p class=\"note\">Labels needed to reach a share of the optimum (mean over seeds):</p>{reach}")


def learn_curve_section(document: dict[str, Any]) -> str:
    """The HTML section of one learn curve: the plot (SVG data URI), and per metric the points and labels-to-reach."""
    uri = svg_data_uri(curve_figure(document))
    head = (f"{escape(document['task_id'])}: {escape(document['kind'])}, pool {document['pool_size']}, "
            f"test {document['test_size']}, {document['seeds']} seeds, query {escape(document['query'])}")
    tables = "".join(_tables(document, m) for m in document["points"])
    return (f'<section id="learn-curve"><h2>Label efficiency</h2><p class="muted">{head}</p>'
            f'<figure><img src="{uri}" alt="learn curve"><figcaption>% of optimum = score / the same seed\'s score '
            "with all labels; bands: 95% Student-t intervals over seeds; crosses: the claim under test."
            f"</figcaption></figure>{tables}</section>")

