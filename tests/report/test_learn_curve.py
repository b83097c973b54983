"""bench.report.learn_curve: table rows, labels-to-reach rows, the plot and the self-contained HTML page."""

from __future__ import annotations

from typing import Any

from bench.report.html import render_learn_curve_html
from bench.report.learn_curve import curve_figure, curve_rows, reach_rows


def point(strategy: str, labels: int, mean: float, pct: float, n: int = 3) -> dict[str, Any]:
    return {"strategy": strategy, "labels": labels, "metric": "accuracy", "mean": mean, "ci_low": mean - 0.1,
            "ci_high": mean + 0.1, "pct_mean": pct, "pct_low": pct - 5, "pct_high": pct + 5, "n": n}


def document() -> dict[str, Any]:
    points = [point("random", 8, 0.3, 40.0), point("uncertainty", 8, 0.3, 40.0), point("random", 16, 0.5, 66.7),
              point("uncertainty", 16, 0.6, 80.0), point("all", 100, 0.75, 100.0)]
    return {"task_id": "triage", "kind": "tfidf_logreg", "seeds": 3, "pool_size": 100, "test_size": 50,
            "query": "margin", "strategies": ["random", "uncertainty"], "points": {"accuracy": points},
            "labels_to_reach": {"accuracy": {"random": {"80": 100, "90": 100, "95": None},
                                             "uncertainty": {"80": 16, "90": 100, "95": 100}}}}


def test_rows() -> None:
    rows = curve_rows(document(), "accuracy")
    assert rows[3] == ["uncertainty", "16", "0.600", "0.500–0.700", "80.0", "75.0–85.0", "3"]
    assert reach_rows(document(), "accuracy") == [["random", "100", "100", "not reached"],
                                                  ["uncertainty", "16", "100", "100"]]


def test_figure_has_a_line_per_strategy_ending_at_all() -> None:
    ax = curve_figure(document()).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert set(lines) == {"random", "uncertainty"}
    assert list(lines["uncertainty"].get_xdata()) == [8, 16, 100]
    assert list(lines["uncertainty"].get_ydata()) == [40.0, 80.0, 100.0]


def test_html_page_is_self_contained() -> None:
    html = render_learn_curve_html([document()])
    assert html.startswith("<!DOCTYPE html>") and 'id="learn-curve"' in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "not reached" in html and "data:image/svg+xml;base64," in html
