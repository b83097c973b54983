"""End-to-end tests of `bench hardware ...` and the cost options of `bench report`, in process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.cli.main import main
from bench.cost.profiles import load_profiles
from bench.machine.detect import cpu_model, detect_gpus, match_profile
from bench.metrics import stats

WriteSuite = Callable[[dict[str, Any] | str], Path]
Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tmp_path so nothing lands in the repository; fast bootstrap and calibration."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 80.0})


def test_hardware_list_shows_every_profile(capsys: Capsys) -> None:
    assert main(["hardware", "list"]) == 0
    shown = capsys.readouterr().out
    for pid in load_profiles():
        assert pid in shown, pid


def test_hardware_list_json(capsys: Capsys) -> None:
    assert main(["hardware", "list", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == set(load_profiles())
    assert data["nvidia-h100-sxm"]["device_class"] == "datacenter_gpu"
    assert data["nvidia-h100-sxm"]["memory"]["capacity_gb"] > 0


def test_hardware_show_json(capsys: Capsys) -> None:
    assert main(["hardware", "show", "nvidia-h100-sxm", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    profile = load_profiles()["nvidia-h100-sxm"]
    assert data["id"] == "nvidia-h100-sxm"
    # a cloud price: the hourly price is the on-demand price itself
    assert data["usd_per_hour"] == profile.price.cloud_usd_per_hour
    assert data["usd_per_hour_basis"].startswith("cloud on-demand")
    assert len(data["sources"]) >= 1
    assert all(s["url"].startswith("http") and s["retrieved"] for s in data["sources"])


def test_hardware_show_table(capsys: Capsys) -> None:
    assert main(["hardware", "show", "nvidia-t4"]) == 0
    assert "usd_per_hour" in capsys.readouterr().out


def test_hardware_show_unknown_suggests(capsys: Capsys) -> None:
    assert main(["hardware", "show", "nvdia-h100"]) == 2
    captured = capsys.readouterr()
    assert "did you mean" in captured.err
    assert "unknown hardware profile 'nvdia-h100'" in captured.err
    assert captured.out == ""


def test_hardware_detect_here(capsys: Capsys) -> None:
    assert main(["hardware", "detect"]) == 0
    out = capsys.readouterr().out
    assert "CPU:" in out and "GPUs:" in out
    if match_profile(load_profiles(), cpu_model(), [g["name"] for g in detect_gpus()[0]]) is None:
        # this machine (AMD EPYC, no GPU) matches no profile: the message says what is assumed and how to add one
        assert "profile: none matches this machine" in out
        if any(ch.isdigit() for ch in cpu_model()):
            assert "10 W per core" in out and "hardware_profiles/" in out
        else:  # a masked model name ("AMD EPYC") must not be offered as a match string
            assert "no part number" in out and "cost.profile" in out and 'match: ["' not in out
        assert "ISA:" in out and "llama.cpp" in out


def test_hardware_detect_json(capsys: Capsys) -> None:
    assert main(["hardware", "detect", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"cpu_model", "physical_cores", "gpus", "gpu_note", "profile"} <= set(data)
    assert data["profile"] is None or data["profile"] in load_profiles()
    if not data["gpus"]:
        assert data["gpu_note"]


@pytest.fixture
def run_dir(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path, capsys: Capsys) -> Path:
    suite = write_suite(fake_suite(labels_jsonl, cost={"usd_per_hour": 3.6, "basis": "test price"}))
    assert main(["run", str(suite), "--out", str(tmp_path / "results"), "--format", "json"]) == 0
    capsys.readouterr()
    (path,) = [p for p in (tmp_path / "results").iterdir() if p.is_dir()]
    return path


def report_json(capsys: Capsys, run: Path, *options: str) -> dict[str, Any]:
    assert main(["report", str(run), "--format", "json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def test_report_profiles_option_limits_the_projections(run_dir: Path, capsys: Capsys) -> None:
    everything = report_json(capsys, run_dir)
    projected = {r["profile_id"] for r in everything["costs"]["rows"] if r["basis"] == "projected"}
    assert projected == set(load_profiles()) - {everything["costs"]["local_machine"]["profile_id"]}

    some = report_json(capsys, run_dir, "--profiles", "nvidia-l4,nvidia-t4")
    rows = some["costs"]["rows"]
    assert sorted(r["profile_id"] for r in rows if r["basis"] == "projected") == ["nvidia-l4", "nvidia-t4"]
    assert len([r for r in rows if r["basis"] == "measured"]) == 1
    # the recomputed summary.json on disk follows the last report's options
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert len(on_disk["costs"]["rows"]) == 3


@pytest.fixture
def good_run_dir(write_suite: WriteSuite, tmp_path: Path, capsys: Capsys) -> Path:
    """12 items, 4 per label; the fake model is right on 10 (83%), the majority baseline on 4 (33%): 6 discordant
    pairs all in the model's favour, McNemar p = 0.031, so it beats the baseline and may be picked."""
    labels = ["billing", "technical", "shipping"]
    items = [(f"g{k:02d}", labels[k % 3]) for k in range(12)]
    data = tmp_path / "good.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": f"ticket {i}", "label": lab}) + "\n" for i, lab in items))
    answers = {i: ("billing" if k in (1, 2) else lab) for k, (i, lab) in enumerate(items)}
    suite = fake_suite(data, cost={"usd_per_hour": 3.6, "basis": "test price"})
    suite["models"][0]["backend"]["answers"] = answers
    assert main(["run", str(write_suite(suite)), "--out", str(tmp_path / "results"), "--format", "json"]) == 0
    capsys.readouterr()
    (path,) = [p for p in (tmp_path / "results").iterdir() if p.is_dir()]
    return path


def test_report_min_accuracy_changes_the_pick(good_run_dir: Path, capsys: Capsys) -> None:
    default = report_json(capsys, good_run_dir, "--profiles", "nvidia-l4,nvidia-t4")
    (pick,) = default["costs"]["procurement"]
    assert default["costs"]["requirements"]["min_accuracy"] == 0.0
    assert pick["choice"] is not None and pick["choice"]["basis"] == "measured"
    assert pick["not_beating_baseline"] == []
    # the fake model is right on 10 of 12 items (83%): a 90% floor leaves no option
    strict = report_json(capsys, good_run_dir, "--profiles", "nvidia-l4,nvidia-t4", "--min-accuracy", "0.9")
    assert strict["costs"]["requirements"]["min_accuracy"] == 0.9
    (pick,) = strict["costs"]["procurement"]
    assert pick["choice"] is None
    assert pick["break_even"] == []


def test_report_table_prints_the_procurement_line(run_dir: Path, capsys: Capsys) -> None:
    assert main(["report", str(run_dir), "--profiles", "nvidia-l4", "--min-accuracy", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "no measured or projected option meets the requirements" in out
    assert "nvidia-l4" in out


def test_report_unknown_profile_is_bad_input(run_dir: Path, capsys: Capsys) -> None:
    assert main(["report", str(run_dir), "--profiles", "nvidia-l5"]) == 2
    assert "did you mean 'nvidia-l4'" in capsys.readouterr().err
