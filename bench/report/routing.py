"""`bench route` rendered: JSON, CSV rows, the console table and headline lines, and the HTML report section."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from bench.cost.rows import THIS_MACHINE
from bench.report.html import svg_data_uri, table
from bench.route.plot import figure
from bench.route.replay import Point, Replay, cost_options, usd_per_1000

CSV_COLUMNS = ("task_id", "small", "large", "signal", "policy", "target_share", "cuts", "share_large", "accuracy",
               "ci_low", "ci_high", "cascade_p50_s", "cascade_p95_s", "router_p50_s", "router_p95_s", "cost_option",
               "basis", "cascade_usd_per_1000_tasks", "router_usd_per_1000_tasks")
TABLE_COLUMNS = ("policy", "target", "cut(s)", "to large", "accuracy [95% CI]", "random", "oracle", "cascade $/1000",
                 "router $/1000", "cascade p50 / p95")


def as_json(result: Replay) -> dict[str, Any]:
    """Every figure of one task's replay as plain data (the --out JSON and --format json); non-finite numbers are
    null (an infinite cut: share 0 keeps every item with a signal, share 1 escalates all)."""
    pair = result.pair
    data: dict[str, Any] = finite({
            "task_id": pair.task_id, "task_version": pair.task_version, "metric": pair.metric, "n": pair.n,
            "small": {"model_id": pair.small.model_id, "run_id": pair.small.run_id, "cell_id": pair.small.cell_id},
            "large": {"model_id": pair.large.model_id, "run_id": pair.large.run_id, "cell_id": pair.large.cell_id},
            "signal": {"name": result.signal.name, "higher_is_confident": result.signal.higher_is_confident,
                       "unit": result.signal.unit, "coverage": result.coverage},
            "selection": {"folds": 2, "seed": result.options.seed, "random_draws": result.options.draws},
            "headline": result.headline, "routellm": result.routellm, "calibration": result.calibration,
            "cost_bases": result.cost_bases, "points": [p.as_dict() for p in result.points]})
    return data


def finite(value: Any) -> Any:
    """`value` with every non-finite float (inf, nan) replaced by None, recursively: strict JSON has neither."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def csv_rows(result: Replay) -> list[dict[str, Any]]:
    """One row per point x cost option (CSV_COLUMNS)."""
    pair = result.pair
    rows = []
    for point in result.points:
        base = {"task_id": pair.task_id, "small": pair.small.model_id, "large": pair.large.model_id,
                "signal": result.signal.name, "policy": point.policy, "target_share": point.target_share,
                "cuts": " ".join(f"{c:g}" for c in point.cuts),
                **{k: v for k, v in point.as_dict().items() if k in CSV_COLUMNS and k not in ("cuts",)}}
        for option, usd in point.usd_per_1000_tasks.items():
            rows.append({**base, "cost_option": option, "basis": _basis(result, option),
                         "cascade_usd_per_1000_tasks": usd["cascade"], "router_usd_per_1000_tasks": usd["router"]})
    return rows


def _basis(result: Replay, option: str) -> str:
    if option.startswith("api:"):
        return "small measured here + large at API list prices"
    return result.cost_bases.get(option, "measured" if option == THIS_MACHINE else "projected")


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.{digits}f}%"


def _usd(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _cuts(point: Point) -> str:
    return " / ".join(f"{c:.3g}" for c in point.cuts) or "–"


def table_rows(result: Replay) -> list[list[str]]:
    """Console/HTML rows: the baselines, each cross-fitted threshold point with random and oracle at its rate, and
    each fixed threshold."""
    rows = []
    points = result.points
    for i, point in enumerate(points):
        if point.policy in ("random", "oracle-at-rate"):
            continue
        paired = points[i + 1:i + 3] if point.policy in ("threshold", "fixed-threshold") else []
        rand = next((p.outcome.accuracy for p in paired if p.policy == "random"), None)
        best = next((p.outcome.accuracy for p in paired if p.policy == "oracle-at-rate"), None)
        here = point.usd_per_1000_tasks.get(THIS_MACHINE, {})
        o = point.outcome
        rows.append([point.policy, _pct(point.target_share, 0), _cuts(point), _pct(o.share_large, 0),
                     f"{_pct(o.accuracy)} [{100 * o.ci_low:.0f}–{100 * o.ci_high:.0f}]", _pct(rand), _pct(best),
                     _usd(here.get("cascade")), _usd(here.get("router")),
                     f"{o.cascade_p50_s:.3f} / {o.cascade_p95_s:.3f} s"])
    return rows


def headline_lines(result: Replay) -> list[str]:
    """The answer in sentences: share kept at <= max_loss, the saving, RouteLLM's figures, calibration."""
    h, r, pair = result.headline, result.routellm, result.pair
    saved = h["usd_saved_per_1000_tasks"]
    lines = [f"{pair.task_id}: {pair.small.model_id} keeps {_pct(h['share_kept_small'], 0)} of the {pair.n} items at "
             f"<= {100 * h['max_loss']:g} point loss vs always-{pair.large.model_id} (thresholds fitted on one half, "
             f"reported on the other): {_pct(h['accuracy'])} [{100 * h['ci_low']:.0f}–{100 * h['ci_high']:.0f}] vs "
             f"{_pct(h['always_large_accuracy'])}, loss {100 * h['loss']:.1f} points"
             + ("" if h["within_max_loss"] else " (over the limit on the held-out halves)"),
             f"  saved per 1000 tasks on this machine: cascade ${_usd(saved['cascade'])}, router "
             f"${_usd(saved['router'])} (negative: the hybrid costs more than always-large)"]
    if r.get("note"):
        lines.append(f"  RouteLLM metrics: none, {r['note']}")
    else:
        lines.append(f"  RouteLLM: APGR {_num(r['apgr'])}, calls to the large model for 50% of the gap recovered "
                     f"(CPT 50%) {_pct(r['cpt_50'], 0)}, for 80% {_pct(r['cpt_80'], 0)}")
    cal = result.calibration
    lines.append("  calibration: no option probabilities (generation signals), no ECE" if cal is None else
                 f"  calibration of {pair.small.model_id}'s max option probability: ECE {cal['ece']:.3f} "
                 f"({cal['bins']} equal-width bins, {cal['n']} items)")
    return lines


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def cost_option_rows(result: Replay) -> list[list[str]]:
    """At the headline share: per cost option, always-small, always-large, cascade and router USD per 1000 tasks
    (options where neither model has a figure left out; the JSON keeps them as null)."""
    share = 1 - result.headline["share_kept_small"]
    by_policy = {p.policy: p for p in result.points if p.target_share is None}
    rows = []
    hybrid = usd_per_1000(share, cost_options(result.pair))
    for option, usd in hybrid.items():
        if usd["router"] is None and by_policy["always-small"].usd_per_1000_tasks[option]["router"] is None:
            continue  # neither model has a figure there (a profile it does not fit, no projection possible)
        rows.append([option, _basis(result, option),
                     _usd(by_policy["always-small"].usd_per_1000_tasks[option]["router"]),
                     _usd(by_policy["always-large"].usd_per_1000_tasks[option]["router"]),
                     _usd(usd["cascade"]), _usd(usd["router"])])
    return rows


COST_OPTION_COLUMNS = ("cost option", "basis", "always-small", "always-large", "cascade", "router")


# --- HTML ---------------------------------------------------------------------------------------------------------

def html_section(results: Sequence[Replay]) -> str:
    """A self-contained <section id="routing"> for the HTML report: per task the headline, the policy table, the
    cost per option at the headline share and the figure (SVG data URI)."""
    parts = ['<section id="routing"><h2>Routing: small model first, large model when unsure</h2>',
             '<p class="note">Offline replay of the recorded answers (docs/routing.md). Thresholds are fitted on one '
             "half of the items and reported on the other (2-fold, seeded); random routing has the same number of "
             "large-model calls; the oracle sends an item to the large model only where it scores higher.</p>"]
    for result in results:
        lines = headline_lines(result)
        parts.append(f"<h3>{escape(lines[0].split(':')[0])}</h3><ul>"
                     + "".join(f"<li>{escape(line.strip())}</li>" for line in lines) + "</ul>")
        parts.append(table(TABLE_COLUMNS, table_rows(result)))
        parts.append(table(COST_OPTION_COLUMNS, cost_option_rows(result)))
        parts.append(f'<figure><img src="{svg_data_uri(figure(result))}" alt="routing quality vs cost">'
                     "<figcaption>Left: each policy's quality against the cascade's cost on this machine (or the "
                     "share of large-model calls when the run has no cost figure), with the Pareto frontier of the "
                     "policies a deployment can run (thresholds, always-small, always-large). Right: "
                     "reliability diagram of the small model's confidence.</figcaption></figure>")
    parts.append("</section>")
    return "".join(parts)
