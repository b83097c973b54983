"""Runs written before typed results (#12) still report: the same summary, the old file names kept on resume.

tests/fixtures/runs/v1/golden is a run directory written by main at da04cbe (manifest schema_version 1, segments in
cells.jsonl); golden.summary.json.gz is what `bench report` computed for it with that code (see the README there).
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.cli.main import main
from bench.metrics.records import FAILURE_KINDS
from bench.results.schema import OLD_SEGMENTS, SEGMENTS, read_manifest, read_summary
from bench.results.store import MANIFEST, RunStore

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "v1"

MACHINE_DEPENDENT: tuple[str, ...] = ()
"""Summary fields that may differ when the same old run is reported on another machine or day: none. Every input of
the summary (records, segments, the machine facts and calibration, the price) is in the run directory, and the
hardware profiles and API price table are files of this repository; a change to those files changes the projected
rows and API rows, and this fixture's expected summary must then be recomputed with the old code."""


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run = tmp_path / "golden"
    shutil.copytree(V1 / "golden", run)
    return run


def expected_summary() -> dict[str, Any]:
    with gzip.open(V1 / "golden.summary.json.gz", "rt", encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def test_the_fixture_is_an_old_run() -> None:
    manifest = json.loads((V1 / "golden" / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["schema_version"] == 1
    assert (V1 / "golden" / OLD_SEGMENTS).is_file() and not (V1 / "golden" / SEGMENTS).exists()


ADDED_METRICS = set(FAILURE_KINDS)
"""Metric rows added after the fixture was written (#16, the failure columns): every other row must be unchanged."""
ADDED_ROW_FIELDS = {"training_usd", "monthly_usd"}
"""Cost-row fields added after the fixture was written (#14: a trained model's one-off training cost and a month's
total at the suite's cost.monthly_tasks, 100,000 by default): a language model's training costs 0."""
ADDED_FIELDS = {"baselines", "baseline_tests"}
"""Summary fields added after the fixture was written (#16, the trivial baselines and each model's test against
them); with them the procurement refuses a model that does not beat its baseline (here neither fake model does)."""


def test_bench_report_on_an_old_run_gives_the_same_summary(old_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(old_run), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((old_run / "summary.json").read_text(encoding="utf-8"))
    expected = expected_summary()
    for summary in (printed, written):
        for field in MACHINE_DEPENDENT:
            summary.pop(field, None)
        added = [row for row in summary["metrics"] if row["metric"] in ADDED_METRICS]
        assert [row for row in summary["metrics"] if row not in added] == expected["metrics"]  # every old row, CIs
        assert len(added) == 2 * len(ADDED_METRICS) and {row["value"] for row in added} == {0.0}
        assert summary["costs"].pop("monthly_tasks") == 100_000
        assert summary["cost"].pop("monthly_tasks", None) in (None, 100_000)  # the old manifest's cost lacks it
        for row in summary["costs"]["rows"]:
            added = {name: row.pop(name) for name in ADDED_ROW_FIELDS}
            usd = row["usd_per_1000_tasks"]
            assert added == {"training_usd": 0.0, "monthly_usd": None if usd is None else pytest.approx(100 * usd)}
        assert summary["costs"]["rows"] == expected["costs"]["rows"]  # measured + every profile projected
        assert {b["model_id"] for b in summary["baselines"]} == {"baseline:majority"}
        assert [t["beats"] for t in summary["baseline_tests"]] == [False, False]
        (pick,) = summary["costs"].pop("procurement")
        (old_pick,) = expected["costs"].pop("procurement")
        assert old_pick["choice"]["model_id"] == "fake-a" and pick["choice"] is None
        assert len(pick["not_beating_baseline"]) == 2
        rest = {k: v for k, v in summary.items() if k not in ADDED_FIELDS and k != "metrics"}
        assert rest == {k: v for k, v in expected.items() if k != "metrics"}  # flags, contention, API prices...
        expected["costs"]["procurement"] = [old_pick]
    assert len(expected["metrics"]) > 20 and len(expected["costs"]["rows"]) == 2 * 20


def test_the_old_run_figures_are_the_measured_ones(old_run: Path) -> None:
    """The example values: fake-a answers 'billing' (2 of 6 right), fake-b fails every 4th item (5/1)."""
    assert main(["report", str(old_run), "--format", "md", "--out", str(old_run / "r.md")]) == 0
    summary = read_summary(old_run / "summary.json")
    accuracy = {r.model_id: r.value for r in summary.metrics if r.metric == "accuracy"}
    errors = {r.model_id: r.value for r in summary.metrics if r.metric == "error_rate"}
    assert accuracy == {"fake-a": pytest.approx(2 / 6), "fake-b": pytest.approx(2 / 6)}
    assert errors == {"fake-a": 0.0, "fake-b": pytest.approx(1 / 6)}
    assert [f["flag"] for f in summary.flags] == ["failed_items"]
    assert "fake-b" in (old_run / "r.md").read_text(encoding="utf-8")


def test_an_old_run_reads_its_segments_from_cells_jsonl(old_run: Path) -> None:
    store = RunStore(old_run)
    assert read_manifest(old_run / MANIFEST).schema_version == 1
    assert store.segments_file == OLD_SEGMENTS
    assert [s.model_id for s in store.segments()] == ["fake-a", "fake-b"]


def test_an_old_run_keeps_appending_to_cells_jsonl(old_run: Path) -> None:
    """Resume of an old run: one writer, one file. New segments go where the old ones are, and the manifest stays v1
    when it is updated."""
    store = RunStore(old_run)
    first = store.segments()[0]
    store.append_segment(first.model_copy(update={"segment": "resumed"}))
    store.update_manifest(status="complete")
    store.close()
    assert not (old_run / SEGMENTS).exists()
    assert [s.segment for s in RunStore(old_run).segments()][-1] == "resumed"
    assert json.loads((old_run / MANIFEST).read_text(encoding="utf-8"))["schema_version"] == 1


def test_bench_run_resume_of_an_interrupted_old_run_appends_to_cells_jsonl(
        old_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The old run as a user has it, interrupted before fake-b's cell: `bench run --resume` measures that cell,
    appends its segment to cells.jsonl (no segments.jsonl appears), keeps the manifest at v1, and reports it."""
    for name in ("golden.yaml", "items.jsonl"):  # the suite's folder, where the user keeps it
        shutil.copy(V1 / name, old_run.parent / name)
    manifest = json.loads((old_run / MANIFEST).read_text(encoding="utf-8"))
    manifest["suite"]["path"] = str(old_run.parent / "golden.yaml")
    manifest["status"] = "interrupted"
    (old_run / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    fake_b = next(c["cell_id"] for c in manifest["cells"] if c["model_id"] == "fake-b")
    for name in ("records.jsonl", OLD_SEGMENTS):
        lines = (old_run / name).read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if json.loads(line)["cell_id"] != fake_b]
        assert len(kept) < len(lines)
        (old_run / name).write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    assert main(["run", "--resume", str(old_run), "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert not (old_run / SEGMENTS).exists()
    segments = [json.loads(line) for line in (old_run / OLD_SEGMENTS).read_text(encoding="utf-8").splitlines()]
    assert [s["model_id"] for s in segments] == ["fake-a", "fake-b"]
    resumed = json.loads((old_run / MANIFEST).read_text(encoding="utf-8"))
    assert resumed["schema_version"] == 1 and resumed["status"] == "complete"
    errors = {r["model_id"]: r["value"] for r in summary["metrics"] if r["metric"] == "error_rate"}
    assert errors == {"fake-a": 0.0, "fake-b": pytest.approx(1 / 6)}  # fake-b fails every 4th item again
    assert summary["status"] == "complete"


def test_bench_compare_reads_an_old_run(old_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An old run against itself: the same suite, machine and figures, so no regression (exit 0)."""
    twin = tmp_path / "twin"
    shutil.copytree(old_run, twin)
    assert main(["compare", str(old_run), str(twin), "--format", "json"]) == 0
    assert "fake-b" in capsys.readouterr().out


def test_a_v1_run_whose_cells_jsonl_was_renamed_says_so(old_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (old_run / OLD_SEGMENTS).rename(old_run / SEGMENTS)
    assert main(["report", str(old_run), "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"error: {old_run / SEGMENTS}: a run with a version 1 manifest keeps its segments in "
                           f"{OLD_SEGMENTS}; rename {SEGMENTS} back to {OLD_SEGMENTS}")
