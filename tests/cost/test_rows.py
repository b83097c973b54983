"""Tests for bench.cost.rows: measured and projected cost rows, the cheapest pick, API rows and break-even.

Cells are built by hand (CellFacts, or ItemRecords and CellSegments) so every figure can be checked by hand.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from bench.cost.profiles import ApiPrice, ApiPricing, HardwareProfile
from bench.cost.projection import ItemWork, ModelShape
from bench.cost.rows import (
    THIS_MACHINE,
    CellFacts,
    LocalMachine,
    api_rows,
    break_even_row,
    cell_facts,
    cheapest,
    cost_rows,
    here_device,
    measured_row,
    profile_usd_per_hour,
    projected_row,
    with_monthly,
)
from bench.metrics.records import CellSegment, ItemRecord

ARCH = {"n_layer": 22, "n_embd": 2048, "n_head": 32, "n_head_kv": 4, "head_dim": 64, "n_vocab": 32000}
BACKEND_INFO: dict[str, Any] = {"engine": "llama.cpp (llama-cpp-python)", "model": "tiny.gguf",
                                "settings": {"n_ctx": 4096, "model_params": 1_100_000_000,
                                             "model_size_bytes": 600_000_000, "arch": ARCH}}
SHAPE = ModelShape(size_bytes=600_000_000, n_params=1_100_000_000, n_layer=22, n_embd=2048, n_vocab=32000,
                   n_head_kv=4, head_dim=64)
# each item: 10 prompt tokens in 0.25 s (0.025 s/token), then 5 decode steps in 0.25 s (0.05 s/token);
# 4 items one after the other: 2 s of wall time
ITEMS = [ItemWork(prefill_tokens=10, decode_steps=5, measured_s=0.5, ttft_s=0.25) for _ in range(4)]

LOCAL = LocalMachine(profile_id=THIS_MACHINE, usd_per_hour=3.6, price_basis="suite cost", tdp_w=20.0,
                     tdp_basis="assumed 10 W per physical core", cores=2, memory_gb=32.0, bandwidth_gb_s=50.0,
                     flops=2e11)


def facts(**changes: Any) -> CellFacts:
    """4 items in 2 s of wall time (2 tasks/s), 4 CPU-seconds, quality 0.8, 500 + 20 tokens per task."""
    base = CellFacts(cell_id="c1", model_id="tiny", task_id="triage", quality=0.8, p95_latency_s=0.5,
                     items=list(ITEMS), wall_s=2.0, cpu_s=4.0, energy_j=None, energy_source="none", shape=SHAPE,
                     n_ctx=4096, prompt_tokens_mean=500.0, completion_tokens_mean=20.0)
    return replace(base, **changes)


SOURCE = {"url": "https://example.com/spec", "retrieved": "2026-01-01"}


def hand_profile(pid: str, device_class: str, memory: dict[str, float], compute: dict[str, float],
                 tdp_w: float, price: dict[str, Any], energy: dict[str, float] | None = None) -> HardwareProfile:
    fields = ["memory.capacity_gb", "memory.bandwidth_gb_s", "tdp_w", *(f"compute.{k}" for k in compute),
              *(f"price.{k}" for k in ("cloud_usd_per_hour", "purchase_usd") if k in price)]
    data = {"id": pid, "name": pid, "device_class": device_class, "memory": memory, "compute": compute,
            "tdp_w": tdp_w, "price": price, "sources": [{"fields": fields, **SOURCE}]}
    if energy:
        data["energy"] = energy
    return HardwareProfile.model_validate(copy.deepcopy(data))


GPU = hand_profile("test-gpu", "datacenter_gpu", {"capacity_gb": 16, "bandwidth_gb_s": 1000},
                   {"fp32_tflops": 10, "fp16_tflops": 100}, 300, {"cloud_usd_per_hour": 1.0, "cloud_offer": "X"})
CPU = hand_profile("test-cpu", "desktop_cpu", {"capacity_gb": 64, "bandwidth_gb_s": 100}, {"fp32_tflops": 2.0},
                   450, {"purchase_usd": 1599, "lifetime_years": 4, "utilization": 0.5},
                   {"usd_per_kwh": 0.17, "pue": 1.0})
GPU_FP32_ONLY = hand_profile("gpu-fp32-only", "consumer_gpu", {"capacity_gb": 16, "bandwidth_gb_s": 500},
                             {"fp32_tflops": 10}, 200, {"cloud_usd_per_hour": 0.5})
GPU_NO_COMPUTE = hand_profile("gpu-no-compute", "consumer_gpu", {"capacity_gb": 16, "bandwidth_gb_s": 500},
                              {}, 200, {"cloud_usd_per_hour": 0.5})


# --- prices of a profile ---------------------------------------------------------------------------------------

def test_profile_usd_per_hour_cloud() -> None:
    usd, basis = profile_usd_per_hour(GPU)
    assert usd == 1.0
    assert basis == "cloud on-demand (X)"


def test_profile_usd_per_hour_purchase_plus_energy() -> None:
    # 1599 / (4 x 8760 x 0.5) = 0.0912671 $/h amortized + 450 W x $0.17/kWh = 0.0765 $/h -> 0.1677671 $/h
    usd, basis = profile_usd_per_hour(CPU)
    assert usd == pytest.approx(0.1677671, rel=1e-6)
    assert "$1599" in basis and "450 W" in basis


# --- cell facts from records ----------------------------------------------------------------------------------

def record(item: str, status: str = "ok") -> ItemRecord:
    return ItemRecord(cell_id="c1", model_id="tiny", task_id="triage", task_version="1", item_id=item, segment="s1",
                      prompt_sha256="0" * 64, status=status, prompt_tokens=12, cached_prompt_tokens=2,
                      completion_tokens=6, t_start=100.0, t_first_token=100.5, t_end=101.0)


def segment(t_start: float, energy_j: float | None, backend: dict[str, Any]) -> CellSegment:
    return CellSegment(cell_id="c1", model_id="tiny", task_id="triage", segment="s1", backend=backend,
                       load_time_s=0.1, warmup_items=0, items_done=2, t_start=t_start, t_end=t_start + 1.0,
                       rss_before_bytes=0, peak_rss_bytes=0, cpu_user_s=1.5, cpu_system_s=0.5, energy_j=energy_j,
                       energy_source="rapl" if energy_j is not None else "none", completed=True)


CELL = {"cell_id": "c1", "model_id": "tiny", "task_id": "triage"}


def test_cell_facts_from_records_and_segments() -> None:
    records = [record("a1"), record("a2"), record("a3", status="error")]
    segments = [segment(0.0, 10.0, BACKEND_INFO), segment(5.0, 20.0, BACKEND_INFO)]
    got = cell_facts(CELL, records, segments, {"quality": 0.8, "e2e_latency_s_p95": 1.0})
    # errored items are not work done: 2 items, each 12 - 2 cached = 10 prefill tokens, 6 - 1 = 5 decode steps
    assert list(got.items) == [ItemWork(10, 5, 1.0, 0.5)] * 2
    assert got.wall_s == pytest.approx(2.0)    # two 1 s segments
    assert got.cpu_s == pytest.approx(4.0)     # 2 x (1.5 + 0.5)
    assert got.energy_j == pytest.approx(30.0)  # 10 + 20
    assert got.energy_source == "rapl"
    assert got.shape == SHAPE
    assert got.n_ctx == 4096
    assert (got.quality, got.p95_latency_s) == (0.8, 1.0)
    assert (got.prompt_tokens_mean, got.completion_tokens_mean) == (12.0, 6.0)
    assert got.tasks_per_s == pytest.approx(1.0)  # 2 items / 2 s


def test_cell_facts_energy_is_none_when_any_segment_lacks_it() -> None:
    segments = [segment(0.0, 10.0, BACKEND_INFO), segment(5.0, None, BACKEND_INFO)]
    got = cell_facts(CELL, [record("a1")], segments, {})
    assert got.energy_j is None
    assert got.quality is None


def test_cell_facts_of_a_fake_backend_has_no_shape() -> None:
    got = cell_facts(CELL, [record("a1")], [segment(0.0, None, {"engine": "fake", "settings": {"text": "ok"}})], {})
    assert got.shape is None
    assert got.n_ctx == 0


def test_tasks_per_s_without_wall_time_or_items_is_none() -> None:
    assert facts(wall_s=0.0).tasks_per_s is None
    assert facts(items=[]).tasks_per_s is None


# --- the measured row -----------------------------------------------------------------------------------------

def test_measured_row_uses_this_machines_price() -> None:
    row = measured_row(facts(), LOCAL)
    # 4 items / 2 s = 2 tasks/s; 1000 / 2 / 3600 x $3.6 = $0.5 per 1000 tasks; / 0.8 quality = $0.625
    assert row["basis"] == "measured"
    assert row["profile_id"] == THIS_MACHINE
    assert row["tasks_per_s"] == pytest.approx(2.0)
    assert row["usd_per_1000_tasks"] == pytest.approx(1000 / 2.0 / 3600 * 3.6) == 0.5
    assert row["usd_per_1000_correct"] == pytest.approx(0.625)
    assert row["inputs"]["usd_per_hour"] == 3.6
    assert row["p95_latency_s"] == 0.5
    assert row["fits"] is True


def test_measured_energy_is_estimated_without_counters() -> None:
    row = measured_row(facts(), LOCAL)
    # 4 CPU-s / 4 tasks = 1 CPU-s per task; x 20 W / 2 cores = 10 J per task
    assert row["energy_j_per_task"] == pytest.approx(10.0)
    assert row["energy_basis"].startswith("estimated")
    assert "20 W / 2 cores" in row["energy_basis"]


def test_measured_energy_from_counters() -> None:
    row = measured_row(facts(energy_j=40.0, energy_source="rapl"), LOCAL)
    # 40 J / 4 tasks = 10 J per task, measured
    assert row["energy_j_per_task"] == pytest.approx(10.0)
    assert row["energy_basis"] == "measured (rapl)"


def test_measured_row_without_a_price_has_no_cost() -> None:
    row = measured_row(facts(), replace(LOCAL, usd_per_hour=0.0))
    assert row["usd_per_1000_tasks"] is None
    assert row["usd_per_1000_correct"] is None
    assert row["tasks_per_s"] == pytest.approx(2.0)


def test_measured_row_with_zero_quality_has_no_cost_per_correct() -> None:
    row = measured_row(facts(quality=0.0), LOCAL)
    assert row["usd_per_1000_tasks"] == pytest.approx(0.5)
    assert row["usd_per_1000_correct"] is None


# --- projected rows -------------------------------------------------------------------------------------------

def test_projected_row_without_a_model_shape_is_honest() -> None:
    cell = facts(shape=None)
    row = projected_row(cell, GPU, here_device(cell, LOCAL))
    assert row["basis"] == "projected"
    assert row["profile_id"] == "test-gpu"
    assert row["tasks_per_s"] is None and row["usd_per_1000_tasks"] is None and row["energy_j_per_task"] is None
    assert row["fits"] is None
    assert row["inputs"]["reason"] == "no model shape recorded for this cell"
    assert row["price_basis"].startswith("cloud on-demand")


def test_here_device_is_calibrated_on_the_cells_own_times() -> None:
    here = here_device(facts(), LOCAL)
    assert here is not None
    # median decode 0.05 s/token and prefill 0.025 s/token are reproduced
    assert here.decode_s(SHAPE) == pytest.approx(0.05)
    assert here.prefill_s(SHAPE) == pytest.approx(0.025)
    assert here_device(facts(shape=None), LOCAL) is None
    assert here_device(facts(items=[]), LOCAL) is None


def test_projected_row_on_a_gpu_by_hand() -> None:
    cell = facts()
    row = projected_row(cell, GPU, here_device(cell, LOCAL))
    # here each item is fully explained by the roofline (10 x 0.025 + 5 x 0.05 = 0.5 s): no residual.
    # there: prefill 2 x 1,034,464,000 / (100e12 x 0.35) = 5.91122e-5 s/token;
    #        decode 22 x 20e-6 + 6e8 / (1000e9 x 0.7) = 0.00044 + 0.000857143 = 0.001297143 s/token
    # per item 10 x 5.91122e-5 + 5 x 0.001297143 = 0.007076837 s; 4 items = 0.028307346 s -> 141.306 tasks/s
    assert row["basis"] == "projected"
    assert row["fits"] is True
    assert row["memory_needed_gb"] == pytest.approx(0.942274688)  # (6e8 + 22528 x 4096) / 1e9 + 0.25
    assert row["tasks_per_s"] == pytest.approx(141.306, rel=1e-4)
    # 1000 / 141.306 / 3600 x $1.0 = $0.00196579
    assert row["usd_per_1000_tasks"] == pytest.approx(0.00196579, rel=1e-4)
    assert row["usd_per_1000_correct"] == pytest.approx(0.00196579 / 0.8, rel=1e-4)
    # 300 W x 0.028307346 s / 4 = 2.12305 J per task
    assert row["energy_j_per_task"] == pytest.approx(2.12305, rel=1e-4)
    # p95 scaled by projected / measured time: 0.5 x 0.028307346 / 2.0 = 0.00707684 s
    assert row["p95_latency_s"] == pytest.approx(0.00707684, rel=1e-4)
    assert row["energy_basis"].startswith("projected")
    inputs = row["inputs"]
    assert inputs["usd_per_hour"] == 1.0
    assert inputs["decode_s_per_token"] == pytest.approx(0.001297143, rel=1e-5)
    assert inputs["prefill_s_per_token"] == pytest.approx(5.91122e-5, rel=1e-5)
    assert inputs["device"]["flops"] == pytest.approx(100e12)


def test_projected_row_on_a_faster_cpu_is_faster_than_measured() -> None:
    cell = facts()
    row = projected_row(cell, CPU, here_device(cell, LOCAL))
    # here: overhead (0.05 - 6e8 / (50e9 x 0.8)) / 22 = 0.035 / 22 s per layer;
    #       FLOPS efficiency 2,068,928,000 / (2e11 x 0.025) = 0.4137856
    # there (100 GB/s, 2 TFLOPS, same efficiencies): decode 0.035 + 6e8 / (100e9 x 0.8) = 0.0425 s/token,
    #       prefill 2,068,928,000 / (2e12 x 0.4137856) = 0.0025 s/token
    # per item 10 x 0.0025 + 5 x 0.0425 = 0.2375 s; 4 items 0.95 s -> 4.2105 tasks/s (measured: 2)
    assert row["fits"] is True
    assert row["tasks_per_s"] == pytest.approx(4 / 0.95)
    assert row["usd_per_1000_tasks"] > 0
    assert "calibrated" in row["inputs"]["device"]["basis"]


def test_projected_row_does_not_fit_a_huge_context() -> None:
    cell = facts(n_ctx=1_000_000)
    row = projected_row(cell, GPU, here_device(cell, LOCAL))
    # (6e8 + 22528 x 1e6) / 1e9 + 0.25 = 23.378 GB > 16 GB
    assert row["fits"] is False
    assert row["memory_needed_gb"] == pytest.approx(23.378)
    assert row["tasks_per_s"] is None and row["usd_per_1000_tasks"] is None
    assert row["inputs"]["reason"] == "does not fit"


def test_projected_row_on_a_gpu_with_only_fp32_uses_it() -> None:
    cell = facts()
    row = projected_row(cell, GPU_FP32_ONLY, here_device(cell, LOCAL))
    assert row["inputs"]["device"]["flops"] == pytest.approx(10e12)
    assert row["tasks_per_s"] > 0


def test_projected_row_on_a_profile_without_compute_has_a_reason() -> None:
    cell = facts()
    row = projected_row(cell, GPU_NO_COMPUTE, here_device(cell, LOCAL))
    assert row["tasks_per_s"] is None and row["usd_per_1000_tasks"] is None
    assert row["fits"] is True
    assert row["inputs"]["reason"] == "profile has no compute figure"


def test_cost_rows_has_a_measured_row_and_one_per_profile() -> None:
    profiles = {"test-gpu": GPU, "test-cpu": CPU}
    rows = cost_rows([facts(), facts(cell_id="c2", shape=None)], LOCAL, profiles, ["test-cpu", "test-gpu"])
    assert [(r["cell_id"], r["profile_id"], r["basis"]) for r in rows] == [
        ("c1", THIS_MACHINE, "measured"), ("c1", "test-cpu", "projected"), ("c1", "test-gpu", "projected"),
        ("c2", THIS_MACHINE, "measured"), ("c2", "test-cpu", "projected"), ("c2", "test-gpu", "projected")]
    assert all(r["tasks_per_s"] > 0 for r in rows[:3])
    assert all(r["tasks_per_s"] is None for r in rows[4:])


def test_cost_rows_skips_the_profile_this_machine_is() -> None:
    local = replace(LOCAL, profile_id="test-cpu")
    rows = cost_rows([facts()], local, {"test-gpu": GPU, "test-cpu": CPU}, ["test-cpu", "test-gpu"])
    assert [(r["profile_id"], r["basis"]) for r in rows] == [("test-cpu", "measured"), ("test-gpu", "projected")]


# --- the cheapest option --------------------------------------------------------------------------------------

def option(profile_id: str, usd: float | None, quality: float | None, p95: float | None, fits: bool | None = True,
           task_id: str = "triage") -> dict[str, Any]:
    return {"task_id": task_id, "model_id": "m", "profile_id": profile_id, "usd_per_1000_tasks": usd,
            "quality": quality, "p95_latency_s": p95, "fits": fits}


ROWS = [option("cheap-bad", 0.1, 0.5, 0.2), option("mid-slow", 0.2, 0.9, 5.0), option("dear-fast", 0.5, 0.95, 0.3),
        option("unpriced", None, 1.0, 0.1), option("too-small", 0.01, 1.0, 0.1, fits=False),
        option("unknown-fit", 0.01, 1.0, 0.1, fits=None), option("other-task", 0.001, 1.0, 0.1, task_id="other")]


def test_cheapest_without_requirements() -> None:
    assert cheapest(ROWS, "triage", 0.0, None)["profile_id"] == "cheap-bad"


def test_cheapest_respects_min_quality() -> None:
    assert cheapest(ROWS, "triage", 0.8, None)["profile_id"] == "mid-slow"


def test_cheapest_respects_p95_limit() -> None:
    assert cheapest(ROWS, "triage", 0.8, 1.0)["profile_id"] == "dear-fast"


def test_cheapest_none_when_nothing_qualifies() -> None:
    assert cheapest(ROWS, "triage", 0.99, None) is None
    assert cheapest(ROWS, "no-such-task", 0.0, None) is None


def test_cheapest_without_p95_fails_a_latency_limit() -> None:
    rows = [option("no-latency", 0.1, 0.9, None)]
    assert cheapest(rows, "triage", 0.0, None)["profile_id"] == "no-latency"
    assert cheapest(rows, "triage", 0.0, 10.0) is None


# --- hosted APIs and break-even -------------------------------------------------------------------------------

PRICING = ApiPricing(prices=(
    ApiPrice(model="big", provider="p", input_usd_per_mtok=2.5, output_usd_per_mtok=10.0, as_of=date(2026, 3, 1),
             source="https://example.com/prices"),
    ApiPrice(model="small", provider="p", input_usd_per_mtok=0.15, output_usd_per_mtok=0.6,
             as_of=date(2026, 3, 1), source="https://example.com/prices")))


def test_api_rows_by_hand() -> None:
    rows = api_rows([facts(), facts(cell_id="c2", task_id="other", prompt_tokens_mean=100.0,
                                    completion_tokens_mean=0.0)], PRICING)
    got = {(r["task_id"], r["api_model"]): r["usd_per_1000_tasks"] for r in rows}
    assert got == {
        # no completion tokens counted (a label answer): 3 are assumed
        ("other", "big"): pytest.approx(0.28),      # 1000 x (100 x 2.5 + 3 x 10) / 1e6
        ("other", "small"): pytest.approx(0.0168),  # 1000 x (100 x 0.15 + 3 x 0.6) / 1e6
        ("triage", "big"): pytest.approx(1.45),     # 1000 x (500 x 2.5 + 20 x 10) / 1e6
        ("triage", "small"): pytest.approx(0.087),  # 1000 x (500 x 0.15 + 20 x 0.6) / 1e6 = 1000 x 87e-6
    }
    triage = next(r for r in rows if r["task_id"] == "triage")
    assert triage["basis"].startswith("estimated") and "500 prompt + 20 completion" in triage["basis"]
    other = next(r for r in rows if r["task_id"] == "other")
    assert "assumed 3" in other["basis"]


API_BIG = {"api_model": "big", "usd_per_1000_tasks": 1.45}


def test_break_even_on_this_machine() -> None:
    best = option(THIS_MACHINE, 1.0, 0.9, 0.5) | {"tasks_per_s": 1.0, "energy_j_per_task": 10.0}
    row = break_even_row(best, API_BIG, None, LOCAL)
    # kept on 730 h/month at $3.6/h = $2628/month; API $0.00145/task; n = 2628 / 0.00145 = 1,812,413.8
    # capacity at 1 task/s = 3600 x 730 = 2,628,000: reachable
    assert row["inputs"]["fixed_usd_per_month"] == pytest.approx(2628.0)
    assert row["inputs"]["self_usd_per_task"] == 0.0
    assert row["inputs"]["api_usd_per_task"] == pytest.approx(0.00145)
    assert row["tasks_per_month"] == pytest.approx(1_812_413.8, rel=1e-6)
    assert row["capacity_per_month"] == pytest.approx(2_628_000)
    assert (row["profile_id"], row["api_model"], row["task_id"]) == (THIS_MACHINE, "big", "triage")


def test_break_even_on_an_owned_profile() -> None:
    best = option("test-cpu", 1.0, 0.9, 0.5) | {"tasks_per_s": 1.0, "energy_j_per_task": 100.0}
    row = break_even_row(best, API_BIG, CPU, LOCAL)
    # fixed: $1599 / (4 y x 12) = $33.3125/month; energy: 100 J / 3.6e6 x $0.17 = $4.7222e-6 per task
    # n = 33.3125 / (0.00145 - 4.7222e-6) = 33.3125 / 0.00144528 = 23,049.5 tasks/month
    assert row["inputs"]["fixed_usd_per_month"] == pytest.approx(33.3125)
    assert row["inputs"]["self_usd_per_task"] == pytest.approx(4.7222e-6, rel=1e-4)
    assert row["tasks_per_month"] == pytest.approx(33.3125 / (0.00145 - 100 / 3.6e6 * 0.17))
    assert row["tasks_per_month"] == pytest.approx(23_049.5, rel=1e-4)
    assert row["inputs"]["basis"].startswith("owned")


def test_break_even_on_a_cloud_profile() -> None:
    best = option("test-gpu", 0.002, 0.9, 0.5) | {"tasks_per_s": 100.0, "energy_j_per_task": 2.0}
    row = break_even_row(best, API_BIG, GPU, LOCAL)
    # $1/h x 730 h = $730/month, no marginal cost; n = 730 / 0.00145 = 503,448.3; capacity 100 x 3600 x 730
    assert row["inputs"]["fixed_usd_per_month"] == pytest.approx(730.0)
    assert row["tasks_per_month"] == pytest.approx(503_448.3, rel=1e-6)
    assert row["capacity_per_month"] == pytest.approx(262_800_000)


def test_break_even_above_capacity_has_no_volume() -> None:
    best = option(THIS_MACHINE, 1.0, 0.9, 0.5) | {"tasks_per_s": 0.1, "energy_j_per_task": 10.0}
    row = break_even_row(best, API_BIG, None, LOCAL)
    # 1,812,413.8 tasks/month needed but 0.1 x 3600 x 730 = 262,800 possible
    assert row["tasks_per_month"] is None
    assert "above what one machine can do" in row["reason"]


def test_break_even_without_throughput_is_never_reached() -> None:
    best = option(THIS_MACHINE, 1.0, 0.9, 0.5) | {"tasks_per_s": None, "energy_j_per_task": None}
    row = break_even_row(best, API_BIG, None, LOCAL)
    assert row["tasks_per_month"] is None
    assert row["capacity_per_month"] == 0.0
    assert not math.isnan(row["capacity_per_month"])


# --- issue #10 class 4: failed work is not throughput, nor priced ------------------------------------------------

def test_cost_per_correct_counts_failed_items_neither_as_work_nor_as_correct() -> None:
    """8 items: 4 failed, 4 succeeded in 2 s, 3.2 right on average (quality over all 8 = 0.4): the 2 s at $3.6/h
    cost $0.002, i.e. $0.625 per 1000 correct answers (not 0.5 / 0.4 = $1.25)."""
    row = measured_row(facts(quality=0.4, ok_share=0.5), LOCAL)
    assert row["tasks_per_s"] == pytest.approx(2.0)
    assert row["usd_per_1000_correct"] == pytest.approx(2.0 * 3.6 / 3600 / 3.2 * 1000) == pytest.approx(0.625)


def test_a_cell_without_a_successful_item_has_no_throughput_cost_projection_or_api_price() -> None:
    nothing = facts(items=[], quality=0.0, ok_share=0.0, prompt_tokens_mean=0.0, completion_tokens_mean=0.0)
    row = measured_row(nothing, LOCAL)
    assert row["tasks_per_s"] is None and row["usd_per_1000_tasks"] is None and row["usd_per_1000_correct"] is None
    projected = projected_row(nothing, GPU, here_device(nothing, LOCAL))
    assert projected["usd_per_1000_tasks"] is None
    assert projected["inputs"]["reason"] == "no successful item to project from"
    apis = api_rows([nothing], PRICING)
    assert [a["usd_per_1000_tasks"] for a in apis] == [None, None]
    assert all("no successful item" in a["basis"] for a in apis)
    # another cell of the same task that did succeed is priced from its own token counts
    assert api_rows([nothing, facts(cell_id="c2")], PRICING)[0]["usd_per_1000_tasks"] == pytest.approx(1.45)


def test_cell_facts_throughput_counts_successful_items_only() -> None:
    records = [record("a1"), record("a2", status="error"), record("a3", status="error"), record("a4", status="error")]
    got = cell_facts(CELL, records, [segment(0.0, None, BACKEND_INFO)], {"quality": 0.25})
    assert got.tasks_per_s == pytest.approx(1.0)  # 1 successful item in the 1 s segment, not 4
    assert got.ok_share == pytest.approx(0.25) and got.correct_per_task == pytest.approx(1.0)


# --- prompt tokens that are unknown are not priced as 0 (issue #10, class 1/4) ------------------------------------

def unknown_prompt(item: str) -> ItemRecord:
    """An item from an endpoint that sent no usage, with no tokenizer configured: prompt_tokens 0 means unknown."""
    return record(item).model_copy(update={"prompt_tokens": 0, "cached_prompt_tokens": 0, "completion_tokens": 1,
                                           "engine_extra": {"prompt_tokens_unknown": True}})


def test_cell_facts_average_only_the_known_prompt_counts() -> None:
    records = [record("a1"), record("a2"), unknown_prompt("a3"),
               record("a4").model_copy(update={"prompt_tokens": 0, "cached_prompt_tokens": 0})]  # an older 0
    got = cell_facts(CELL, records, [segment(0.0, None, BACKEND_INFO)], {"quality": 1.0})
    assert got.prompt_tokens_mean == pytest.approx(12.0) and got.prompt_tokens_unknown == 2


def test_an_api_price_from_unknown_prompt_tokens_cannot_be_estimated() -> None:
    records = [unknown_prompt("a1"), unknown_prompt("a2")]
    cell = cell_facts(CELL, records, [segment(0.0, None, BACKEND_INFO)], {"quality": 1.0})
    rows = api_rows([cell], PRICING)
    assert [r["usd_per_1000_tasks"] for r in rows] == [None, None]
    assert all(r["basis"].startswith("cannot be estimated: the prompt tokens of all 2 successful items are unknown")
               for r in rows)
    assert not any("0 prompt + 1 completion" in r["basis"] for r in rows)


def test_an_api_price_uses_the_items_with_known_prompt_tokens_and_says_how_many() -> None:
    rows = api_rows([facts(prompt_tokens_unknown=1)], PRICING)
    big = next(r for r in rows if r["api_model"] == "big")
    assert big["usd_per_1000_tasks"] == pytest.approx(1.45)  # the 3 known items' 500 + 20 tokens
    assert "prompt tokens from the 3 of 4 items with known counts" in big["basis"]


def test_an_api_price_prefers_a_cell_of_the_task_with_known_prompt_tokens() -> None:
    unknown = facts(prompt_tokens_mean=0.0, prompt_tokens_unknown=4)
    rows = api_rows([unknown, facts(cell_id="c2", prompt_tokens_mean=100.0, completion_tokens_mean=0.0)], PRICING)
    assert next(r for r in rows if r["api_model"] == "big")["usd_per_1000_tasks"] == pytest.approx(0.28)


def test_a_month_totals_inference_at_the_volume_and_the_one_off_training() -> None:
    """A trained model fitted in 36 s on this machine at $3.6/h: training $0.036; 2 tasks/s at $3.6/h is $0.5 per
    1000 tasks, so 100,000 tasks a month cost $50 + $0.036. Projected: its training there is not measured."""
    trained = facts(cell_id="t", training_s=36.0, training_cpu_s=30.0)
    rows = [measured_row(trained, LOCAL), measured_row(facts(), LOCAL)]
    projected = {**rows[0], "basis": "projected", "inputs": {"usd_per_hour": 2.0}}
    out = with_monthly([*rows, projected], [trained, facts()], 100_000)
    assert out[0]["usd_per_1000_tasks"] == pytest.approx(0.5)
    assert out[0]["training_usd"] == pytest.approx(0.036) and out[0]["monthly_usd"] == pytest.approx(50.036)
    assert out[0]["inputs"]["training_s"] == 36.0 and out[0]["inputs"]["training_cpu_s"] == 30.0
    assert (out[1]["training_usd"], out[1]["monthly_usd"]) == (0.0, pytest.approx(50.0))  # a language model
    assert "training_s" not in out[1]["inputs"]
    assert (out[2]["training_usd"], out[2]["monthly_usd"]) == (None, None)
