"""Tests for bench.report.plots: the Pareto frontier, each figure's labels, and the PNG/SVG files."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure
from report_runs import ITEMS, make_report_run, report_suite

from bench.api import RunData
from bench.report import plots

MODELS = ["fake-a", "fake-b"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    root = tmp_path_factory.mktemp("plots")
    return make_report_run(root, report_suite(root, "unit", MODELS))


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


# --- the frontier ---------------------------------------------------------------------------------------------

def test_pareto_frontier_keeps_only_undominated_points() -> None:
    points = [(1.0, 50.0), (2.0, 40.0), (3.0, 70.0), (0.5, 30.0), (4.0, 70.0), (5.0, 90.0), (2.5, 60.0)]
    # (2, 40) is beaten by (1, 50); (4, 70) costs more than (3, 70) for the same quality
    assert plots.pareto_frontier(points) == [(0.5, 30.0), (1.0, 50.0), (2.5, 60.0), (3.0, 70.0), (5.0, 90.0)]


def test_pareto_frontier_same_cost_keeps_the_better_and_drops_duplicates() -> None:
    assert plots.pareto_frontier([(1.0, 10.0), (1.0, 20.0), (1.0, 20.0)]) == [(1.0, 20.0)]


def test_pareto_frontier_cheapest_is_best_gives_one_point() -> None:
    assert plots.pareto_frontier([(3.0, 10.0), (1.0, 90.0), (2.0, 50.0)]) == [(1.0, 90.0)]


def test_pareto_frontier_empty() -> None:
    assert plots.pareto_frontier([]) == []


def test_empirical_cdf() -> None:
    assert plots.empirical_cdf([0.3, 0.1, 0.2, 0.4]) == ([0.1, 0.2, 0.3, 0.4], [0.25, 0.5, 0.75, 1.0])


def test_tint_is_paler_and_opaque() -> None:
    r, g, b = plots.tint("#000000", white=0.6)
    assert (r, g, b) == pytest.approx((0.6, 0.6, 0.6))


# --- figures from a fake run ----------------------------------------------------------------------------------

def test_run_has_measured_and_priced_projected_rows(run: RunData) -> None:
    rows = run.summary.costs.rows
    assert {r.basis for r in rows} == {"measured", "projected"}
    assert all((r.usd_per_1000_tasks or 0) > 0 for r in rows if r.basis == "projected")


def test_pareto_figure_axes_points_and_frontier(run: RunData) -> None:
    fig = plots.pareto_figure([run])
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_title() == "triage"
    assert ax.get_xlabel() == plots.COST_LABEL and "$ per 1000 tasks" in ax.get_xlabel()
    assert ax.get_ylabel() == "accuracy (%)"
    assert ax.get_xscale() == "log"
    points, skipped = plots.cost_points([run], "triage", plots.series([run]))
    assert skipped == 0
    assert len(points) == len(run.summary.costs.rows)
    assert sum(p.measured for p in points) == 2
    # one scatter per point; measured ones filled, projected ones hollow
    faces = [c.get_facecolors() for c in ax.collections]
    assert len(faces) == len(points)
    assert sum(len(f) > 0 and f[0][3] > 0 for f in faces) == 2
    # the dashed step line follows the frontier of the plotted points
    (line,) = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    frontier = plots.pareto_frontier([(p.cost, p.quality) for p in points])
    assert list(line.get_xdata())[:len(frontier)] == [c for c, _ in frontier]
    assert list(line.get_ydata())[:len(frontier)] == [q for _, q in frontier]
    labels = legend_texts(fig)
    assert {"fake-a", "fake-b", "measured (filled)", "projected (hollow)"} <= set(labels)
    assert any("Pareto frontier" in t for t in labels)


def test_throughput_figure_bars_by_profile(run: RunData) -> None:
    fig = plots.throughput_figure([run])
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_xlabel() == "tasks/s (log scale)" and ax.get_xscale() == "log"
    assert titles(fig) == ["triage"]
    profiles = [t.get_text() for t in ax.get_yticklabels()]
    local = run.summary.costs.local_machine["profile_id"]
    assert profiles[0] == local  # measured first
    assert len(profiles) == len({r.profile_id for r in run.summary.costs.rows})
    bars = ax.patches
    assert len(bars) == len(run.summary.costs.rows)
    hatched = [b for b in bars if b.get_hatch()]
    assert len(hatched) == len(bars) - 2  # every projected bar is hatched, the 2 measured are not
    assert {"measured on this machine", "projected (roofline estimate)"} <= set(legend_texts(fig))


def test_latency_cdf_one_line_per_model(run: RunData) -> None:
    fig = plots.latency_cdf_figure([run])
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_xlabel().startswith("e2e latency (s)")
    assert "triage" in ax.get_title()
    lines = ax.get_lines()
    assert len(lines) == 2
    for line in lines:
        ys = list(line.get_ydata())
        assert ys == sorted(ys) and ys[-1] == pytest.approx(1.0) and len(ys) == len(ITEMS)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fake-a (n=4)", "fake-b (n=4)"]


def test_accuracy_heatmap_values_and_labels(run: RunData) -> None:
    fig = plots.accuracy_heatmap_figure([run])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "model"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fake-a", "fake-b"]
    assert fig.axes[1].get_ylabel() == "accuracy (%)"  # the colour bar
    tasks, matrix = plots.accuracy_matrix([run], plots.series([run]))
    # choice 0 ('billing') is right for 2 of 4 items, choice 1 ('technical') for 1 of 4
    assert tasks == ["triage"] and matrix == [[pytest.approx(50.0), pytest.approx(25.0)]]
    assert sorted(t.get_text() for t in ax.texts) == ["25.0%", "50.0%"]


def test_two_runs_label_series_by_run(run: RunData) -> None:
    other = RunData(path=run.path, manifest=run.manifest.model_copy(update={"run_id": "other-run"}),
                    summary=run.summary.model_copy(update={"run_id": "other-run"}), records=run.records)
    labels = [s.label for s in plots.series([run, other])]
    assert labels == [f"fake-a [{run.run_id}]", f"fake-b [{run.run_id}]", "fake-a [other-run]",
                      "fake-b [other-run]"]
    _, matrix = plots.accuracy_matrix([run, other], plots.series([run, other]))
    assert len(matrix[0]) == 4


def test_write_all_writes_png_and_svg(run: RunData, tmp_path: Path) -> None:
    written = plots.write_all([run], tmp_path / "plots")
    assert set(written) == {"pareto", "throughput", "latency_cdf", "accuracy_heatmap"}
    for name, paths in written.items():
        assert [p.name for p in paths] == [f"{name}.png", f"{name}.svg"]
        png, svg = paths
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        text = svg.read_text()
        assert "<svg" in text and "</svg>" in text and len(text) > 5000


def test_same_run_gives_the_same_svg(run: RunData, tmp_path: Path) -> None:
    first = plots.save(plots.pareto_figure([run]), tmp_path / "a", "p")[1].read_bytes()
    second = plots.save(plots.pareto_figure([run]), tmp_path / "b", "p")[1].read_bytes()
    assert b"<dc:date>" not in first
    assert first == second


def test_task_without_priced_rows_says_so(run: RunData) -> None:
    rows = [r.model_copy(update={"usd_per_1000_tasks": None}) for r in run.summary.costs.rows]
    costs = run.summary.costs.model_copy(update={"rows": rows})
    unpriced = RunData(path=run.path, manifest=run.manifest, records=run.records,
                       summary=run.summary.model_copy(update={"costs": costs}))
    fig = plots.pareto_figure([unpriced])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "no priced cost rows" in texts
    assert any(t.startswith(f"{len(rows)} rows without a price") for t in texts)
