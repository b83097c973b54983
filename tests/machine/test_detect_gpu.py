"""Tests for bench.machine.detect.detect_gpus (no driver here; a fake pynvml) and match_profile."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from bench.cost.profiles import load_profiles
from bench.machine.detect import detect_gpus, match_profile


class FakeNvmlError(Exception):
    pass


def fake_pynvml(names: list[Any], init_error: bool = False) -> types.ModuleType:
    """A pynvml stand-in: one handle per name, 80e9 bytes of memory and a 700,000 mW power limit each."""
    module = types.ModuleType("pynvml")
    calls: list[str] = []

    def init() -> None:
        calls.append("init")
        if init_error:
            raise FakeNvmlError("NVML Shared Library Not Found")

    module.NVMLError = FakeNvmlError  # type: ignore[attr-defined]
    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlShutdown = lambda: calls.append("shutdown")  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: len(names)  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: f"handle-{i}"  # type: ignore[attr-defined]
    module.nvmlDeviceGetName = lambda h: names[int(h.split("-")[1])]  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(  # type: ignore[attr-defined]
        total=80e9, free=80e9, used=0)
    module.nvmlDeviceGetPowerManagementLimit = lambda h: 700000  # type: ignore[attr-defined]
    module.calls = calls  # type: ignore[attr-defined]
    return module


@pytest.mark.skipif(bool(detect_gpus()[0]), reason="this machine has an NVIDIA GPU")
def test_detect_gpus_without_a_driver_returns_a_reason() -> None:
    gpus, reason = detect_gpus()  # this machine: no NVIDIA driver
    assert gpus == []
    assert reason
    assert "NVIDIA" in reason or "nvidia" in reason


def test_detect_gpus_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    assert detect_gpus() == ([], "nvidia-ml-py is not installed")


def test_detect_gpus_with_a_fake_h100(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_pynvml(["NVIDIA H100 80GB HBM3"])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    gpus, reason = detect_gpus()
    # 80e9 bytes = 80.0 GB; 700000 mW = 700 W
    assert gpus == [{"index": 0, "name": "NVIDIA H100 80GB HBM3", "memory_gb": 80.0, "power_limit_w": 700.0}]
    assert reason == ""
    assert fake.calls == ["init", "shutdown"]


def test_detect_gpus_decodes_byte_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([b"NVIDIA L4", b"NVIDIA L4"]))
    gpus, _ = detect_gpus()
    assert [(g["index"], g["name"]) for g in gpus] == [(0, "NVIDIA L4"), (1, "NVIDIA L4")]


def test_detect_gpus_with_a_driver_but_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_pynvml([])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    gpus, reason = detect_gpus()
    assert gpus == []
    assert "no GPU" in reason
    assert fake.calls == ["init", "shutdown"]


def test_detect_gpus_when_init_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(["x"], init_error=True))
    gpus, reason = detect_gpus()
    assert gpus == []
    assert reason.startswith("no NVIDIA driver") and "Library Not Found" in reason


@pytest.fixture(scope="module")
def profiles() -> dict[str, Any]:
    return load_profiles()


def test_match_profile_from_the_fake_gpu_name(profiles: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(["NVIDIA H100 80GB HBM3"]))
    gpus, _ = detect_gpus()
    assert match_profile(profiles, "AMD EPYC", [g["name"] for g in gpus]) == "nvidia-h100-sxm"


def test_match_profile_gpu_wins_over_cpu(profiles: dict[str, Any]) -> None:
    assert match_profile(profiles, "AMD Ryzen 9 9950X 16-Core Processor", ["NVIDIA L4"]) == "nvidia-l4"


@pytest.mark.parametrize(("cpu", "expected"), [
    ("AMD Ryzen 9 9950X 16-Core Processor", "amd-ryzen-9-9950x"),
    ("Intel(R) Core(TM) Ultra 7 155H", "intel-core-ultra-7-155h"),
    ("amd ryzen 7 8840u w/ radeon 780m graphics", "amd-ryzen-7-8840u"),  # case-insensitive
    ("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "gcp-c3-standard-4"),
    ("INTEL(R) XEON(R) PLATINUM 8573C", "gcp-c3-standard-4"),
    ("Intel(R) Xeon(R) Platinum 8473C", "gcp-c3-standard-4"),
    ("Intel(R) Xeon(R) Platinum 8488C", "aws-c7i-2xlarge"),  # not taken by the Sapphire Rapids class profile
    ("AMD EPYC 9B45 128-Core Processor", "gcp-c4d-standard-4"),
])
def test_match_profile_from_a_cpu_model(profiles: dict[str, Any], cpu: str, expected: str) -> None:
    assert match_profile(profiles, cpu, []) == expected


@pytest.mark.parametrize("cpu", ["AMD EPYC", "AMD EPYC 7763 64-Core Processor"])  # no profile claims every EPYC
def test_match_profile_unknown_cpu_is_none(profiles: dict[str, Any], cpu: str) -> None:
    assert match_profile(profiles, cpu, []) is None


def test_match_profile_does_not_match_a_gpu_profile_from_the_cpu_string(profiles: dict[str, Any]) -> None:
    # a CPU string never selects a GPU profile, even when it contains a GPU's match text
    assert match_profile(profiles, "Virtual CPU on an NVIDIA L4 host", []) is None
