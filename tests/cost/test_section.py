"""Tests for bench.cost.section: this machine's price, profile selection and the whole cost section."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.cost.profiles import load_api_pricing, load_profiles
from bench.cost.rows import ASSUMED_WATTS_PER_CORE, THIS_MACHINE, profile_usd_per_hour
from bench.cost.section import CostOptions, cost_section, local_machine, selected_profiles
from bench.errors import SpecError
from bench.metrics import stats
from bench.metrics.energy import available_meters
from bench.metrics.records import CellSegment, ItemRecord
from bench.results.schema import Manifest
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions
from bench.suite.spec import CostSpec, Requirements

WriteSuite = Callable[[dict[str, Any] | str], Path]
CALIBRATION = {"bandwidth_gb_s": 30.0, "sgemm_gflops": 80.0, "bandwidth_threads": 2, "method": "test"}


@pytest.fixture(scope="module")
def profiles() -> dict[str, Any]:
    return load_profiles()


def manifest(cpu: str = "AMD EPYC", usd_per_hour: float = 0.0, gpus: list[str] | None = None,
             calibration: dict[str, Any] | None = None) -> Manifest:
    return Manifest.model_validate({
        "run_id": "r", "status": "complete", "suite": {"name": "s", "path": "/s.yaml", "sha256": "0" * 64},
        "options": {}, "tasks": {}, "cells": [],
        "machine": {"cpu_model": cpu, "physical_cores": 4, "ram_gb": 16.0, "gpus": [{"name": n} for n in gpus or []]},
        "cost": {"usd_per_hour": usd_per_hour, "basis": "suite" if usd_per_hour else "not set"},
        "calibration": CALIBRATION if calibration is None else calibration})


# --- this machine ---------------------------------------------------------------------------------------------

def test_local_machine_unknown_cpu_falls_back_to_assumed_watts(profiles: dict[str, Any]) -> None:
    local = local_machine(manifest(usd_per_hour=0.5), profiles)
    assert local.profile_id == THIS_MACHINE
    # 10 W per core x 4 physical cores = 40 W
    assert ASSUMED_WATTS_PER_CORE == 10.0
    assert local.tdp_w == pytest.approx(40.0)
    assert "assumed 10 W per physical core" in local.tdp_basis
    assert (local.usd_per_hour, local.price_basis) == (0.5, "suite")
    assert (local.cores, local.memory_gb) == (4, 16.0)
    # calibration: 30 GB/s; 80 GFLOPS = 8e10 FLOP/s
    assert local.bandwidth_gb_s == 30.0
    assert local.flops == pytest.approx(8e10)


def test_local_machine_unknown_cpu_without_a_price_is_free(profiles: dict[str, Any]) -> None:
    local = local_machine(manifest(), profiles)
    assert local.usd_per_hour == 0.0
    assert local.price_basis == "no price set: suite cost.usd_per_hour or --usd-per-hour"  # not "(not set)"


def test_local_machine_without_calibration_uses_defaults(profiles: dict[str, Any]) -> None:
    local = local_machine(manifest(calibration={}), profiles)
    assert local.bandwidth_gb_s == 25.0
    assert local.flops == pytest.approx(100e9)


def test_local_machine_matching_cpu_uses_its_profile(profiles: dict[str, Any]) -> None:
    local = local_machine(manifest(cpu="AMD Ryzen 9 9950X 16-Core Processor"), profiles)
    ryzen = profiles["amd-ryzen-9-9950x"]
    assert local.profile_id == "amd-ryzen-9-9950x"
    assert local.tdp_w == ryzen.tdp_w
    assert local.tdp_basis == "profile amd-ryzen-9-9950x"
    # no suite price: the profile's (amortized purchase + energy at TDP)
    assert (local.usd_per_hour, local.price_basis) == profile_usd_per_hour(ryzen)
    assert local.usd_per_hour > 0


def test_local_machine_suite_price_wins_over_the_profile(profiles: dict[str, Any]) -> None:
    local = local_machine(manifest(cpu="AMD Ryzen 9 9950X 16-Core Processor", usd_per_hour=2.0), profiles)
    assert local.profile_id == "amd-ryzen-9-9950x"
    assert (local.usd_per_hour, local.price_basis) == (2.0, "suite")


def test_local_machine_matching_gpu(profiles: dict[str, Any]) -> None:
    local = local_machine(manifest(gpus=["NVIDIA L4"]), profiles)
    assert local.profile_id == "nvidia-l4"
    assert local.tdp_w == profiles["nvidia-l4"].tdp_w


# --- profile selection ----------------------------------------------------------------------------------------

def test_selected_profiles_all(profiles: dict[str, Any]) -> None:
    assert selected_profiles(("all",), profiles) == sorted(profiles)
    assert selected_profiles((), profiles) == sorted(profiles)


def test_selected_profiles_some(profiles: dict[str, Any]) -> None:
    assert selected_profiles(("nvidia-t4", "nvidia-l4"), profiles) == ["nvidia-t4", "nvidia-l4"]


def test_selected_profiles_unknown_id_has_a_hint(profiles: dict[str, Any]) -> None:
    with pytest.raises(SpecError) as info:
        selected_profiles(("nvidia-l4", "nvdia-t4"), profiles)
    (problem,) = info.value.problems
    assert problem.file == "--profiles"
    assert problem.location == "nvdia-t4"
    assert "did you mean 'nvidia-t4'" in problem.hint


# --- the cost section from hand-made records ------------------------------------------------------------------

ARCH = {"n_layer": 22, "n_embd": 2048, "n_head": 32, "n_head_kv": 4, "head_dim": 64, "n_vocab": 32000}


def backend(n_ctx: int) -> dict[str, Any]:
    return {"engine": "llama.cpp (llama-cpp-python)", "model": "tiny.gguf",
            "settings": {"n_ctx": n_ctx, "model_params": 1_100_000_000, "model_size_bytes": 600_000_000,
                         "arch": ARCH}}


def cell_inputs(n_ctx: int = 4096, quality: float = 0.8, p95: float = 0.5) -> list[tuple[Any, ...]]:
    """4 items of 0.5 s (0.25 s for 10 prompt tokens, 0.25 s for 5 decode steps) in one 2 s segment."""
    records = [ItemRecord(cell_id="c1", model_id="tiny", task_id="triage", task_version="1", item_id=f"a{i}",
                          segment="s1", prompt_sha256="0" * 64, prompt_tokens=10, completion_tokens=6,
                          t_start=10.0 + i * 0.5, t_first_token=10.25 + i * 0.5, t_end=10.5 + i * 0.5)
               for i in range(4)]
    segment = CellSegment(cell_id="c1", model_id="tiny", task_id="triage", segment="s1", backend=backend(n_ctx),
                          load_time_s=0.1, warmup_items=0, items_done=4, t_start=10.0, t_end=12.0,
                          rss_before_bytes=0, peak_rss_bytes=0, cpu_user_s=3.0, cpu_system_s=1.0, completed=True)
    cell = {"cell_id": "c1", "model_id": "tiny", "task_id": "triage"}
    return [(cell, records, [segment], {"quality": quality, "e2e_latency_s_p95": p95})]


def test_cost_section_measured_and_every_profile_projected(profiles: dict[str, Any]) -> None:
    costs = cost_section(manifest(usd_per_hour=3.6), cell_inputs(), Requirements(), CostOptions())
    rows = costs["rows"]
    measured = [r for r in rows if r["basis"] == "measured"]
    assert len(measured) == 1
    # 4 items / 2 s = 2 tasks/s; 1000 / 2 / 3600 x 3.6 = $0.5 per 1000 tasks
    assert measured[0]["tasks_per_s"] == pytest.approx(2.0)
    assert measured[0]["usd_per_1000_tasks"] == pytest.approx(0.5)
    # no energy counters: 4 CPU-s / 4 tasks x 40 W / 4 cores = 10 J per task, estimated
    assert measured[0]["energy_j_per_task"] == pytest.approx(10.0)
    assert measured[0]["energy_basis"].startswith("estimated")
    projected = {r["profile_id"]: r for r in rows if r["basis"] == "projected"}
    assert set(projected) == set(profiles)
    for pid, row in projected.items():
        # a 0.6 GB model with a 4096 context (0.94 GB) fits everywhere and every profile has a compute figure
        assert row["fits"] is True, pid
        assert row["tasks_per_s"] > 0, pid
        assert row["usd_per_1000_tasks"] > 0, pid
    assert costs["local_machine"]["profile_id"] == THIS_MACHINE
    assert costs["requirements"] == {"min_accuracy": 0.0, "max_p95_latency_s": None}


def test_cost_section_selected_profiles_and_fit(profiles: dict[str, Any]) -> None:
    wanted = ("nvidia-l4", "nvidia-t4", "nvidia-h100-sxm")
    costs = cost_section(manifest(usd_per_hour=3.6), cell_inputs(n_ctx=1_000_000), Requirements(),
                         CostOptions(profiles=wanted))
    projected = {r["profile_id"]: r for r in costs["rows"] if r["basis"] == "projected"}
    assert set(projected) == set(wanted)
    # (6e8 + 22528 x 1e6) / 1e9 + 0.25 = 23.378 GB: fits 24 GB (L4) and 80 GB (H100), not 16 GB (T4)
    assert profiles["nvidia-t4"].memory.capacity_gb < 23.378 < profiles["nvidia-l4"].memory.capacity_gb
    assert projected["nvidia-t4"]["fits"] is False
    assert projected["nvidia-t4"]["usd_per_1000_tasks"] is None
    assert projected["nvidia-l4"]["fits"] is True and projected["nvidia-h100-sxm"]["fits"] is True
    assert all(r["memory_needed_gb"] == pytest.approx(23.378) for r in projected.values())
    # more bandwidth, more FLOPS: the H100 is projected faster than the L4
    assert projected["nvidia-h100-sxm"]["tasks_per_s"] > projected["nvidia-l4"]["tasks_per_s"]


def test_cost_section_api_rows_use_the_shipped_prices() -> None:
    costs = cost_section(manifest(usd_per_hour=3.6), cell_inputs(), Requirements(), CostOptions(profiles=()))
    pricing = load_api_pricing()
    assert len(costs["api"]) == len(pricing.prices)
    by_model = {a["api_model"]: a["usd_per_1000_tasks"] for a in costs["api"]}
    for price in pricing.prices:
        # 10 prompt + 6 completion tokens per task
        expected = 1000 * (10 * price.input_usd_per_mtok + 6 * price.output_usd_per_mtok) / 1e6
        assert by_model[price.model] == pytest.approx(expected)


def test_procurement_picks_the_cheapest_option_meeting_the_floor() -> None:
    costs = cost_section(manifest(usd_per_hour=3.6), cell_inputs(), Requirements(), CostOptions())
    (pick,) = costs["procurement"]
    priced = [r for r in costs["rows"] if r["usd_per_1000_tasks"] is not None and r["fits"]]
    assert pick["choice"]["usd_per_1000_tasks"] == min(r["usd_per_1000_tasks"] for r in priced)
    assert len(pick["break_even"]) == len(load_api_pricing().prices)
    assert {e["profile_id"] for e in pick["break_even"]} == {pick["choice"]["profile_id"]}


def test_procurement_min_accuracy_from_the_options_overrides_the_suite() -> None:
    options = CostOptions(profiles=("nvidia-l4",), min_accuracy=0.9)
    costs = cost_section(manifest(usd_per_hour=3.6), cell_inputs(quality=0.8), Requirements(min_accuracy=0.5),
                         options)
    assert costs["requirements"]["min_accuracy"] == 0.9
    assert costs["procurement"][0]["choice"] is None
    assert costs["procurement"][0]["break_even"] == []
    # the suite's floor applies without the option
    costs = cost_section(manifest(usd_per_hour=3.6), cell_inputs(quality=0.8), Requirements(min_accuracy=0.5),
                         CostOptions(profiles=("nvidia-l4",)))
    assert costs["requirements"]["min_accuracy"] == 0.5
    assert costs["procurement"][0]["choice"] is not None


def test_procurement_p95_limit_excludes_slow_options() -> None:
    # measured p95 is 10 s here; only the projections (scaled far below 10 s on an L4) meet a 1 s limit
    options = CostOptions(profiles=("nvidia-l4",), max_p95_latency_s=1.0)
    costs = cost_section(manifest(usd_per_hour=0.01), cell_inputs(p95=10.0), Requirements(), options)
    choice = costs["procurement"][0]["choice"]
    assert choice is not None
    assert choice["profile_id"] == "nvidia-l4"
    assert choice["p95_latency_s"] <= 1.0
    # without the limit this machine at $0.01/h is the cheapest
    costs = cost_section(manifest(usd_per_hour=0.01), cell_inputs(p95=10.0), Requirements(),
                         CostOptions(profiles=("nvidia-l4",)))
    assert costs["procurement"][0]["choice"]["profile_id"] == THIS_MACHINE


def test_cost_section_unknown_profile_is_an_error() -> None:
    with pytest.raises(SpecError, match="did you mean 'nvidia-l4'"):
        cost_section(manifest(), cell_inputs(), Requirements(), CostOptions(profiles=("nvidia-l5",)))


# --- end to end with the fake backend -------------------------------------------------------------------------

@pytest.fixture
def fake_run(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: dict(CALIBRATION))
    suite = write_suite(fake_suite(labels_jsonl, cost={"usd_per_hour": 3.6, "basis": "test price"}))
    store = start_run(RunRequest(suite, PlanOptions(), tmp_path / "results"), SilentProgress())
    return store.path


def test_fake_run_summary_costs(fake_run: Path, profiles: dict[str, Any]) -> None:
    summary = json.loads((fake_run / "summary.json").read_text())
    costs = summary["costs"]
    segments = [json.loads(line) for line in (fake_run / "segments.jsonl").read_text().splitlines()]
    wall = sum(s["t_end"] - s["t_start"] for s in segments)
    measured = [r for r in costs["rows"] if r["basis"] == "measured"]
    assert len(measured) == 1
    row = measured[0]
    # 6 items over the segments' wall time; $ per 1000 = 1000 / tps / 3600 x $3.6
    assert row["tasks_per_s"] == pytest.approx(6 / wall)
    assert row["usd_per_1000_tasks"] == pytest.approx(1000 / row["tasks_per_s"] / 3600 * 3.6)
    assert row["inputs"]["usd_per_hour"] == 3.6
    assert row["price_basis"] == "test price"
    assert row["quality"] == pytest.approx(2 / 6)  # choice 0 ('billing') is right for 2 of 6 items
    assert row["usd_per_1000_correct"] == pytest.approx(row["usd_per_1000_tasks"] * 3)
    # this machine has no readable energy counters: the energy is estimated from CPU time
    expected_basis = "estimated" if not available_meters() else "measured"
    assert row["energy_basis"].startswith(expected_basis)
    # the fake backend records no model shape: every profile has a projected row, honestly without figures
    projected = {r["profile_id"]: r for r in costs["rows"] if r["basis"] == "projected"}
    assert set(projected) == set(profiles) - {costs["local_machine"]["profile_id"]}
    for pid, proj in projected.items():
        assert proj["inputs"]["reason"] == "no model shape recorded for this cell", pid
        assert proj["tasks_per_s"] is None and proj["usd_per_1000_tasks"] is None, pid
        assert proj["fits"] is None, pid
    # only this machine is priced, but the model answers 'billing' throughout, which is just the majority baseline
    # (2 of 6; ties go to the first label in sorted order): issue #16, it is not recommended, and why
    [pick] = costs["procurement"]
    assert pick["choice"] is None
    assert pick["not_beating_baseline"] == [
        "fake-a does not beat baseline:majority significantly on accuracy (33.3% vs 33.3% on 6 items, mcnemar, p = 1)"]


def test_price_override_replaces_the_hourly_price(profiles: dict[str, Any]) -> None:
    from bench.cost.section import with_prices

    changed = with_prices(profiles, {"nvidia-h100-sxm": 2.99})
    usd, basis = profile_usd_per_hour(changed["nvidia-h100-sxm"])
    assert usd == 2.99 and "override" in basis
    assert profile_usd_per_hour(changed["nvidia-l4"]) == profile_usd_per_hour(profiles["nvidia-l4"])


def test_price_override_for_an_unknown_profile_is_an_input_error(profiles: dict[str, Any]) -> None:
    from bench.cost.section import with_prices

    with pytest.raises(SpecError, match=r"unknown hardware profile.*did you mean 'nvidia-h"):
        with_prices(profiles, {"nvidia-h100": 2.99})


def test_cost_profile_prices_this_machine_as_that_profile(profiles: dict[str, Any]) -> None:
    data = manifest().model_copy(update={"cost": CostSpec(profile="aws-m7g-large")})
    local = local_machine(data, profiles)
    assert local.profile_id == "aws-m7g-large"
    assert local.usd_per_hour == profiles["aws-m7g-large"].price.cloud_usd_per_hour
    assert local.tdp_w == profiles["aws-m7g-large"].tdp_w
