"""bench.learn.output: curve.csv columns and rows, records' cell ids."""

from __future__ import annotations

import csv
import io

from bench.learn.curve import ALL, CurveConfig, Fit
from bench.learn.output import CSV_COLUMNS, cell_id, curve_csv


def test_csv_has_one_row_per_point_and_metric() -> None:
    row = dict.fromkeys(CSV_COLUMNS, 1)
    text = curve_csv({"points": {"accuracy": [row, row], "macro_f1": [row]}})
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3 and list(rows[0]) == CSV_COLUMNS
    assert CSV_COLUMNS[:3] == ["strategy", "labels", "metric"] and "pct_mean" in CSV_COLUMNS


def test_cell_ids_name_strategy_labels_and_seed() -> None:
    config = CurveConfig("embed_logreg", (8,))
    assert cell_id(config, Fit("uncertainty", 8, 3, {}, [], [], 0.0, 0.0)) == "embed_logreg/uncertainty/8/seed3"
    assert cell_id(config, Fit(ALL, 350, 0, {}, [], [], 0.0, 0.0)) == "embed_logreg/all/all/seed0"
