"""Tests for bench.results.store: run directories, atomic manifest, durable appends, torn and corrupt lines."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from bench.errors import RunError
from bench.metrics.records import CellSegment, ItemRecord
from bench.results.schema import RECORD_VERSION, Manifest
from bench.results.store import (
    MANIFEST,
    RECORDS,
    SCHEMA_VERSION,
    SEGMENTS,
    RunStore,
    WriteError,
    new_run_dir,
    repair_torn_tail,
    validate_records,
    write_json_atomic,
)


def make_record(item_id: str, **overrides: Any) -> ItemRecord:
    fields: dict[str, Any] = {"cell_id": "c1", "model_id": "m", "task_id": "t", "task_version": "1",
                              "item_id": item_id, "segment": "s", "prompt_sha256": "ab", "t_start": 1.0,
                              "t_end": 2.0, "prediction": "billing", "reference": "billing"}
    fields.update(overrides)
    return ItemRecord(**fields)


def make_segment(**overrides: Any) -> CellSegment:
    fields: dict[str, Any] = {"cell_id": "c1", "model_id": "m", "task_id": "t", "segment": "s",
                              "backend": {"engine": "fake"}, "load_time_s": 0.1, "warmup_items": 0,
                              "items_done": 2, "t_start": 0.0, "t_end": 1.0, "rss_before_bytes": 1,
                              "peak_rss_bytes": 2, "cpu_user_s": 0.0, "cpu_system_s": 0.0, "completed": True}
    fields.update(overrides)
    return CellSegment(**fields)


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    run = tmp_path / "run"
    run.mkdir()
    write_json_atomic(run / MANIFEST, minimal_manifest())
    return RunStore(run)


def minimal_manifest() -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "run_id": "run", "status": "running",
            "suite": {"name": "s", "path": "/s.yaml", "sha256": "0" * 64},
            "options": {"limit": None, "models": [], "tasks": []}, "cost": {},
            "tasks": {}, "cells": []}


@pytest.mark.parametrize(("change", "named"), [({"cells": [{"cell_id": 3}]}, "cells.0.cell_id"),
                                               ({"cost": {"usd_per_hour": "cheap"}}, "cost.usd_per_hour"),
                                               ({"suite": None}, "suite")])
def test_a_damaged_manifest_is_a_run_error_naming_the_field(store: RunStore, change: dict[str, Any],
                                                            named: str) -> None:
    write_json_atomic(store.path / MANIFEST, {**minimal_manifest(), **change})
    with pytest.raises(RunError, match=f"manifest.json: {re.escape(named)}: .*edited or is damaged"):
        store.read_manifest()


def test_manifest_round_trip_and_update(store: RunStore) -> None:
    assert store.read_manifest().status == "running"
    store.update_manifest(status="complete", ended_at="now")
    manifest = json.loads((store.path / MANIFEST).read_text())
    assert manifest == {**Manifest.model_validate(minimal_manifest()).model_dump(mode="json"), "status": "complete",
                        "ended_at": "now"}
    assert [p.name for p in store.path.iterdir()] == [MANIFEST]  # no temporary file left behind


def test_manifest_write_is_atomic(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (store.path / MANIFEST).read_text()

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk full at the worst moment")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(WriteError, match=r"manifest\.json: disk full at the worst moment"):
        store.update_manifest(status="complete")
    assert (store.path / MANIFEST).read_text() == before
    assert not [p for p in store.path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind
    assert store.read_manifest().status == "running"


def test_write_json_atomic_writes_valid_json(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    write_json_atomic(target, {"b": [1, 2], "a": "é"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"b": [1, 2], "a": "é"}
    write_json_atomic(target, {"c": 1})
    assert json.loads(target.read_text(encoding="utf-8")) == {"c": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_append_and_read_back(store: RunStore) -> None:
    records = [make_record("a"), make_record("b", status="error", error="boom"), make_record("a", repetition=1)]
    for r in records:
        store.append_record(r)
    store.append_segment(make_segment())
    # readable while the handles are still open (each line is flushed)
    assert store.records() == records
    store.close()
    reopened = RunStore(store.path)
    assert reopened.records() == records
    assert reopened.segments() == [make_segment()]
    lines = (store.path / RECORDS).read_text().splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["schema_version"] == RECORD_VERSION for line in lines)


def test_missing_files_read_as_empty(store: RunStore) -> None:
    assert store.records() == []
    assert store.segments() == []


def test_torn_last_line_is_ignored_on_read(store: RunStore, capsys: pytest.CaptureFixture[str]) -> None:
    store.append_record(make_record("a"))
    store.append_record(make_record("b"))
    store.close()
    with (store.path / RECORDS).open("a", encoding="utf-8") as handle:
        handle.write(make_record("c").model_dump_json()[:40])
    assert [r.item_id for r in RunStore(store.path).records()] == ["a", "b"]
    assert "incomplete last line" in capsys.readouterr().err


def test_torn_last_line_is_repaired_before_the_next_append(store: RunStore) -> None:
    store.append_record(make_record("a"))
    store.close()
    with (store.path / RECORDS).open("a", encoding="utf-8") as handle:
        handle.write('{"cell_id": "c1", "item_')
    fresh = RunStore(store.path)
    fresh.append_record(make_record("b"))
    fresh.close()
    text = (store.path / RECORDS).read_text()
    assert text.endswith("\n")
    assert '"item_\n' not in text and '{"cell_id": "c1", "item_' not in text
    lines = text.splitlines()
    assert len(lines) == 2
    assert [json.loads(line)["item_id"] for line in lines] == ["a", "b"]
    assert [r.item_id for r in RunStore(store.path).records()] == ["a", "b"]


def test_read_and_repair_agree_on_an_unterminated_complete_line(store: RunStore) -> None:
    """A last line that is whole JSON but lacks its newline: whatever a reader (and so resume's
    'already done' set) saw must still be there after the next append."""
    (store.path / RECORDS).write_text(make_record("a").model_dump_json() + "\n" + make_record("b").model_dump_json())
    before = RunStore(store.path).records()
    fresh = RunStore(store.path)
    fresh.append_record(make_record("c"))
    fresh.close()
    after = RunStore(store.path).records()
    assert [r.item_id for r in after[: len(before)]] == [r.item_id for r in before]
    assert after[-1].item_id == "c"


def test_repair_torn_tail_cases(tmp_path: Path) -> None:
    clean = tmp_path / "clean.jsonl"
    clean.write_text('{"a": 1}\n')
    repair_torn_tail(clean)
    assert clean.read_text() == '{"a": 1}\n'
    only_torn = tmp_path / "torn.jsonl"
    only_torn.write_text('{"a": ')
    repair_torn_tail(only_torn)
    assert only_torn.read_text() == ""
    repair_torn_tail(tmp_path / "absent.jsonl")
    assert not (tmp_path / "absent.jsonl").exists()


def test_corrupt_middle_line_is_an_error_naming_the_line(store: RunStore) -> None:
    good = make_record("a").model_dump_json()
    (store.path / RECORDS).write_text(f"{good}\nnot json at all\n{good}\n")
    with pytest.raises(RunError, match=r"line 2\b"):
        store.records()


def test_corrupt_middle_line_in_cells_is_an_error(store: RunStore) -> None:
    good = make_segment().model_dump_json()
    (store.path / SEGMENTS).write_text(f"{good}\n{{broken\n{good}\n")
    with pytest.raises(RunError, match=r"line 2\b"):
        store.segments()


def test_manifest_schema_version_mismatch(store: RunStore) -> None:
    write_json_atomic(store.path / MANIFEST, {"schema_version": SCHEMA_VERSION + 1, "run_id": "run"})
    with pytest.raises(RunError, match="schema_version"):
        store.read_manifest()


def test_record_schema_version_mismatch(store: RunStore) -> None:
    row = make_record("a").model_dump()
    row["schema_version"] = 99
    (store.path / RECORDS).write_text(make_record("z").model_dump_json() + "\n" + json.dumps(row) + "\n")
    with pytest.raises(RunError, match="schema_version 99"):
        store.records()


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a run directory"):
        RunStore(tmp_path).read_manifest()


def test_invalid_manifest_json(store: RunStore) -> None:
    (store.path / MANIFEST).write_text("{ nope")
    with pytest.raises(RunError, match="invalid JSON"):
        store.read_manifest()


def test_validate_records_names_schema_problem(store: RunStore) -> None:
    row = make_record("a").model_dump()
    row["unexpected"] = True
    (store.path / RECORDS).write_text(json.dumps(row) + "\n")
    with pytest.raises(RunError, match=r"records.jsonl: line 1: unknown field 'unexpected' \(this bench reads "
                                       r"schema_version 1\): the file was written by a newer bench"):
        validate_records(store)


def test_new_run_dir_is_unique(tmp_path: Path) -> None:
    root = tmp_path / "results"
    dirs = [new_run_dir(root, "unit") for _ in range(5)]
    assert len(set(dirs)) == 5
    for path in dirs:
        assert path.is_dir()
        assert path.parent == root
        assert path.name.startswith("unit-")
    other = new_run_dir(root, "other")
    assert other.name.startswith("other-")
