"""Tests for bench.results.schema: one reader and one writer per results file, and versions checked on read."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.cli.main import main
from bench.errors import RunError
from bench.results.schema import (
    MANIFEST_VERSION,
    MANIFEST_VERSIONS,
    OLD_SEGMENTS,
    SEGMENTS,
    CostRow,
    Manifest,
    Record,
    Segment,
    Summary,
    read_manifest,
    read_record,
    read_segment,
    read_summary,
    write_manifest,
    write_summary,
)

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "runs" / "v1"


def manifest_data(**fields: Any) -> dict[str, Any]:
    return {"schema_version": MANIFEST_VERSION, "run_id": "r1", "status": "running",
            "suite": {"name": "s", "path": "/s.yaml", "sha256": "0" * 64}, "options": {}, "cost": {},
            "tasks": {"t": {"version": "1", "datasets": {"d.jsonl": "ab" * 32}}},
            "cells": [{"cell_id": "c1", "model_id": "m", "task_id": "t"}], **fields}


def summary_data() -> dict[str, Any]:
    with gzip.open(V1 / "golden.summary.json.gz", "rt", encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


RECORD = {"schema_version": 1, "cell_id": "c1", "model_id": "m", "task_id": "t", "task_version": "1", "item_id": "i",
          "segment": "s", "prompt_sha256": "ab", "t_start": 1.0, "t_end": 2.0}
SEGMENT = {"schema_version": 1, "cell_id": "c1", "model_id": "m", "task_id": "t", "segment": "s", "backend": {},
           "load_time_s": 0.1, "warmup_items": 0, "items_done": 1, "t_start": 0.0, "t_end": 1.0,
           "rss_before_bytes": 1, "peak_rss_bytes": 2, "cpu_user_s": 0.0, "cpu_system_s": 0.0, "completed": True}


# --- round trips ----------------------------------------------------------------------------------------------

def test_manifest_round_trip(tmp_path: Path) -> None:
    manifest = Manifest.model_validate(manifest_data(machine={"cpu_model": "X", "ram_gb": 8.0}))
    write_manifest(tmp_path / "manifest.json", manifest)
    again = read_manifest(tmp_path / "manifest.json")
    assert again == manifest
    assert again.cells[0].cell_id == "c1" and again.tasks["t"].datasets == {"d.jsonl": "ab" * 32}
    assert again.segments_file == SEGMENTS


def test_summary_round_trip_keeps_the_json_as_it_was(tmp_path: Path) -> None:
    data = summary_data()
    summary = Summary.model_validate(data)
    write_summary(tmp_path / "summary.json", summary)
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8")) == data  # no field added or lost
    again = read_summary(tmp_path / "summary.json")
    assert again == summary
    row = again.costs.rows[0]
    assert isinstance(row, CostRow) and row.basis == "measured" and row.usd_per_1000_tasks is not None
    assert {m.metric for m in again.metrics} >= {"accuracy", "error_rate", "tasks_per_s"}


def test_record_and_segment_lines() -> None:
    assert read_record(RECORD, "records.jsonl: line 1") == Record.model_validate(RECORD)
    assert read_segment(SEGMENT, "segments.jsonl: line 1") == Segment.model_validate(SEGMENT)


def test_a_v1_manifest_is_read_and_points_at_cells_jsonl(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(manifest_data(schema_version=1)))
    manifest = read_manifest(tmp_path / "manifest.json")
    assert manifest.schema_version == 1 and manifest.segments_file == OLD_SEGMENTS


# --- versions and unknown keys ----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [0, 3, 99, "2", None, True])
def test_an_unsupported_manifest_version_names_the_file_and_the_versions(tmp_path: Path, version: Any) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(manifest_data(schema_version=version)))
    with pytest.raises(RunError) as info:
        read_manifest(tmp_path / "manifest.json")
    message = str(info.value)
    assert str(tmp_path / "manifest.json") in message
    assert f"schema_version {version} is not supported" in message
    assert "this bench reads schema_version 1, 2" in message


def test_a_newer_manifest_with_an_unknown_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(manifest_data(routing={"policy": "cascade"})))
    with pytest.raises(RunError, match=r"manifest.json: unknown field 'routing' \(this bench reads schema_version "
                                       r"1, 2\): the file was written by a newer bench"):
        read_manifest(tmp_path / "manifest.json")


@pytest.mark.parametrize("where", ["", "metrics.0.", "costs.rows.0."])
def test_a_newer_summary_with_an_unknown_key_is_refused(tmp_path: Path, where: str) -> None:
    data = summary_data()
    if where == "":
        data["labels"] = []
    elif where.startswith("metrics"):
        data["metrics"][0]["ece"] = 0.1
    else:
        data["costs"]["rows"][0]["carbon_g"] = 1.0
    (tmp_path / "summary.json").write_text(json.dumps(data))
    with pytest.raises(RunError, match=rf"summary.json: unknown field '{where.replace('.', '[.]')}\w+' \(this bench "
                                       r"reads schema_version 1\)"):
        read_summary(tmp_path / "summary.json")


def test_an_unsupported_summary_version(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({**summary_data(), "schema_version": 2}))
    with pytest.raises(RunError, match=r"summary.json: schema_version 2 is not supported \(this bench reads "
                                       r"schema_version 1\)"):
        read_summary(tmp_path / "summary.json")


@pytest.mark.parametrize(("reader", "row"), [(read_record, RECORD), (read_segment, SEGMENT)])
def test_lines_with_another_version_or_an_unknown_key_name_the_line(reader: Any, row: dict[str, Any]) -> None:
    with pytest.raises(RunError, match=r"^f.jsonl: line 7: schema_version 2 is not supported \(this bench reads "
                                       r"schema_version 1\)"):
        reader({**row, "schema_version": 2}, "f.jsonl: line 7")
    with pytest.raises(RunError, match=r"^f.jsonl: line 7: unknown field 'new'"):
        reader({**row, "new": 1}, "f.jsonl: line 7")


@pytest.mark.parametrize("text", ["", "[1]", "{", "\udcff"])
def test_a_damaged_manifest_file_is_a_run_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "manifest.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(RunError, match=r"manifest\.json"):
        read_manifest(tmp_path / "manifest.json")


def test_manifest_versions_are_listed_in_order() -> None:
    assert MANIFEST_VERSIONS == (1, 2) and max(MANIFEST_VERSIONS) == MANIFEST_VERSION


# --- through the CLI: exit 2, one clear line, no traceback ------------------------------------------------------

@pytest.mark.parametrize(("change", "said"), [
    ({"schema_version": 99}, "schema_version 99 is not supported (this bench reads schema_version 1, 2)"),
    ({"labels": {"curve": []}}, "unknown field 'labels' (this bench reads schema_version 1, 2)"),
])
def test_bench_report_on_a_run_of_a_newer_bench_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        change: dict[str, Any], said: str) -> None:
    run = tmp_path / "golden"
    shutil.copytree(V1 / "golden", run)
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    (run / "manifest.json").write_text(json.dumps({**manifest, **change}), encoding="utf-8")
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert str(run / "manifest.json") in err and said in err
    assert "Traceback" not in err
    assert not (run / "summary.json").exists()


@pytest.mark.parametrize(("settings", "where"), [
    ([1, 2], "settings"), ({"arch": [1, 2]}, "settings.arch"), ({"arch": {"n_layer": "many"}}, "settings.arch.n_layer"),
    ({"model_size_bytes": "big"}, "settings.model_size_bytes"),
])
def test_a_manifest_whose_backend_settings_cost_reads_are_damaged_is_refused_naming_them(
        tmp_path: Path, settings: Any, where: str) -> None:
    manifest = json.loads(next(V1.rglob("manifest.json")).read_text())
    model_id = next(iter(manifest["backends"]))
    manifest["backends"][model_id]["settings"] = settings
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunError, match=rf"backends: .*{model_id}\.{where}"):
        read_manifest(tmp_path / "manifest.json")
