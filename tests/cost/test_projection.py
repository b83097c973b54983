"""Tests for bench.cost.projection: the roofline model, its calibration and projection, checked by hand."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bench.cost.profiles import load_profiles
from bench.cost.projection import (
    CLASS_DEFAULTS,
    RUNTIME_OVERHEAD_GB,
    Device,
    ItemWork,
    ModelShape,
    calibrate,
    describe,
    device_for,
    memory_needed_gb,
    project_seconds,
)

# Shaped like LlamaCppBackend.info().model_dump(): a 1.1 B-parameter, 22-layer model quantized to 600 MB.
INFO: dict[str, Any] = {
    "engine": "llama.cpp (llama-cpp-python)", "engine_version": "0.3", "model": "tiny.gguf",
    "settings": {"n_threads": 2, "n_ctx": 4096, "n_batch": 512, "flash_attn": False, "prefix_cache": False,
                 "prompt_format": "chat", "model_params": 1_100_000_000, "model_size_bytes": 600_000_000,
                 "arch": {"n_layer": 22, "n_embd": 2048, "n_head": 32, "n_head_kv": 4, "head_dim": 64,
                          "n_vocab": 32000}},
}
SHAPE = ModelShape(size_bytes=600_000_000, n_params=1_100_000_000, n_layer=22, n_embd=2048, n_vocab=32000,
                   n_head_kv=4, head_dim=64)
# non-embedding params: 1.1e9 - 32000 x 2048 = 1.1e9 - 65,536,000 = 1,034,464,000
NON_EMBEDDING = 1_034_464_000
# KV cache per token: K and V x 22 layers x 4 kv heads x 64 dims x 2 bytes (f16) = 22,528 bytes
KV_PER_TOKEN = 22_528


def test_from_backend_info_reads_settings_and_arch() -> None:
    assert ModelShape.from_backend_info(INFO) == SHAPE


@pytest.mark.parametrize("settings", [
    {},                                                            # the fake backend: no shape at all
    {"model_params": 1, "model_size_bytes": 1},                    # no arch
    {"model_params": 1, "arch": INFO["settings"]["arch"]},         # no model size
])
def test_from_backend_info_without_shape_is_none(settings: dict[str, Any]) -> None:
    assert ModelShape.from_backend_info({"settings": settings}) is None


def test_from_backend_info_without_settings_is_none() -> None:
    assert ModelShape.from_backend_info({"engine": "fake"}) is None


def test_non_embedding_params() -> None:
    assert SHAPE.non_embedding_params == NON_EMBEDDING


def test_non_embedding_params_floor_is_a_tenth_of_the_params() -> None:
    # 1000 params but a 5000-entry embedding: 1000 - 5000 < 0, so the floor 1000 // 10 = 100 applies
    tiny = ModelShape(size_bytes=1, n_params=1000, n_layer=1, n_embd=50, n_vocab=100, n_head_kv=1, head_dim=1)
    assert tiny.non_embedding_params == 100


def test_kv_bytes_per_token() -> None:
    assert SHAPE.kv_bytes_per_token() == KV_PER_TOKEN


DEVICE = Device(bandwidth_gb_s=100, flops=1e12, bw_efficiency=0.5, fl_efficiency=0.25, overhead_s_per_layer=1e-4,
                memory_gb=16, basis="hand")


def test_decode_s() -> None:
    # 22 layers x 1e-4 s = 0.0022 s; 6e8 bytes / (100e9 x 0.5 B/s) = 0.012 s; total 0.0142 s
    assert DEVICE.decode_s(SHAPE) == pytest.approx(0.0142)


def test_decode_s_reads_the_kv_cache_too() -> None:
    # at 1000 tokens of context: (6e8 + 22528 x 1000) / 5e10 = 622,528,000 / 5e10 = 0.01245056; + 0.0022
    assert DEVICE.decode_s(SHAPE, context=1000) == pytest.approx(0.01465056)


def test_prefill_s() -> None:
    # 2 x 1,034,464,000 FLOP / (1e12 x 0.25 FLOP/s) = 2,068,928,000 / 2.5e11 = 0.008275712 s per token
    assert DEVICE.prefill_s(SHAPE) == pytest.approx(0.008275712)


def test_prefill_s_without_flops_is_none() -> None:
    assert replace(DEVICE, flops=None).prefill_s(SHAPE) is None


def calibrated() -> Device:
    # 50 GB/s measured, 200 GFLOPS measured, decode 0.02 s/token, prefill 0.05 s/token
    return calibrate(SHAPE, decode_s=0.02, prefill_s=0.05, bandwidth_gb_s=50, flops=2e11, memory_gb=32)


def test_calibrate_reproduces_the_measured_times() -> None:
    here = calibrated()
    assert here.decode_s(SHAPE) == pytest.approx(0.02)
    assert here.prefill_s(SHAPE) == pytest.approx(0.05)


def test_calibrate_by_hand() -> None:
    here = calibrated()
    # streaming at the CPU default efficiency: 6e8 / (50e9 x 0.8) = 0.015 s; overhead (0.02 - 0.015) / 22 layers
    assert CLASS_DEFAULTS["cpu"][0] == 0.8
    assert here.bw_efficiency == pytest.approx(0.8)
    assert here.overhead_s_per_layer == pytest.approx(0.005 / 22)
    # FLOPS efficiency: 2,068,928,000 / (2e11 x 0.05) = 2,068,928,000 / 1e10 = 0.2068928
    assert here.fl_efficiency == pytest.approx(0.2068928)
    assert (here.bandwidth_gb_s, here.flops, here.memory_gb) == (50, 2e11, 32)
    assert "calibrated" in here.basis


def test_calibrate_without_prefill_keeps_the_class_default_flops_efficiency() -> None:
    here = calibrate(SHAPE, decode_s=0.02, prefill_s=None, bandwidth_gb_s=50, flops=2e11, memory_gb=32)
    assert here.fl_efficiency == pytest.approx(CLASS_DEFAULTS["cpu"][1])


def test_calibrate_decode_faster_than_the_default_roofline_moves_the_bandwidth_efficiency() -> None:
    # 0.0125 s/token is below the 0.015 s the 0.8 default allows: no overhead is left, and the efficiency
    # that reproduces it is 6e8 / (50e9 x 0.0125) = 6e8 / 6.25e8 = 0.96
    here = calibrate(SHAPE, decode_s=0.0125, prefill_s=0.05, bandwidth_gb_s=50, flops=2e11, memory_gb=32)
    assert here.overhead_s_per_layer == 0.0
    assert here.bw_efficiency == pytest.approx(0.96)
    assert here.bw_efficiency != pytest.approx(CLASS_DEFAULTS["cpu"][0])
    assert here.decode_s(SHAPE) == pytest.approx(0.0125)


@pytest.fixture(scope="module")
def profiles() -> dict[str, Any]:
    return load_profiles()


def test_device_for_gpu_uses_class_defaults_and_fp16(profiles: dict[str, Any]) -> None:
    h100 = profiles["nvidia-h100-sxm"]
    there = device_for(h100, calibrated())  # a calibration here must not leak onto a GPU
    bw_eff, fl_eff, overhead = CLASS_DEFAULTS["gpu"]
    assert (there.bw_efficiency, there.fl_efficiency, there.overhead_s_per_layer) == (bw_eff, fl_eff, overhead)
    assert there.flops == pytest.approx(h100.compute.fp16_tflops * 1e12)
    assert there.bandwidth_gb_s == h100.memory.bandwidth_gb_s
    assert there.memory_gb == h100.memory.capacity_gb
    assert "GPU" in there.basis


def test_device_for_cpu_reuses_calibrated_efficiencies(profiles: dict[str, Any]) -> None:
    here = calibrated()
    ryzen = profiles["amd-ryzen-9-9950x"]
    there = device_for(ryzen, here)
    assert there.bw_efficiency == here.bw_efficiency
    assert there.fl_efficiency == here.fl_efficiency
    assert there.overhead_s_per_layer == here.overhead_s_per_layer
    assert there.flops == pytest.approx(ryzen.compute.fp32_tflops * 1e12)
    assert there.bandwidth_gb_s == ryzen.memory.bandwidth_gb_s
    assert "calibrated" in there.basis


def test_device_for_cpu_without_calibration_uses_cpu_defaults(profiles: dict[str, Any]) -> None:
    there = device_for(profiles["amd-ryzen-9-9950x"], None)
    assert (there.bw_efficiency, there.fl_efficiency, there.overhead_s_per_layer) == CLASS_DEFAULTS["cpu"]
    assert "CPU" in there.basis


def test_memory_needed_gb() -> None:
    # (6e8 + 22528 x 4096) / 1e9 + 0.25 = (6e8 + 92,274,688) / 1e9 + 0.25 = 0.942274688 GB
    assert RUNTIME_OVERHEAD_GB == 0.25
    assert memory_needed_gb(SHAPE, 4096) == pytest.approx(0.942274688)
    # no context: weights + overhead = 0.85 GB
    assert memory_needed_gb(SHAPE, 0) == pytest.approx(0.85)


ITEMS = [ItemWork(prefill_tokens=10, decode_steps=5, measured_s=1.0, ttft_s=0.5),
         ItemWork(prefill_tokens=20, decode_steps=3, measured_s=1.5, ttft_s=1.0)]


def test_project_onto_the_same_device_keeps_the_measured_total() -> None:
    # here: modeled 10 x 0.05 + 5 x 0.02 = 0.6 (residual 0.4) and 20 x 0.05 + 3 x 0.02 = 1.06 (residual 0.44)
    here = calibrated()
    assert project_seconds(ITEMS, here, here, SHAPE) == pytest.approx(2.5)


def test_project_onto_ten_times_the_bandwidth_is_faster() -> None:
    here = calibrated()
    there = replace(here, bandwidth_gb_s=500)
    # decode there: 22 x 0.005/22 + 6e8 / (500e9 x 0.8) = 0.005 + 0.0015 = 0.0065 s/token (vs 0.02 here)
    # 8 decode steps save 8 x 0.0135 = 0.108 s: 2.5 - 0.108 = 2.392 s
    projected = project_seconds(ITEMS, here, there, SHAPE)
    assert projected is not None
    assert projected < 2.5
    assert projected == pytest.approx(2.392)


def test_project_residual_is_never_negative() -> None:
    # measured faster than the model says here: residual clamps to 0, the projection is the model there
    here = calibrated()
    fast = [ItemWork(prefill_tokens=10, decode_steps=5, measured_s=0.1, ttft_s=0.05)]
    assert project_seconds(fast, here, here, SHAPE) == pytest.approx(0.6)


def test_project_without_flops_is_none() -> None:
    here = calibrated()
    assert project_seconds(ITEMS, here, replace(here, flops=None), SHAPE) is None


def test_describe_lists_every_input() -> None:
    assert set(describe(DEVICE)) == {"bandwidth_gb_s", "flops", "bw_efficiency", "fl_efficiency",
                                     "overhead_s_per_layer", "memory_gb", "basis"}
