"""Tests for bench.metrics.energy (RAPL on a fake sysfs tree, NVML without a driver) and the monitor's energy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.machine.detect import detect_gpus
from bench.metrics.energy import NvmlMeter, RaplMeter, available_meters, estimate_cpu_energy_j
from bench.metrics.monitors import ProcessMonitor

MAX_RANGE_UJ = 262_143_328_850


def zone(root: Path, name: str, energy_uj: int | str, max_uj: int = MAX_RANGE_UJ) -> Path:
    path = root / name
    path.mkdir(exist_ok=True)
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return path


@pytest.fixture
def powercap(tmp_path: Path) -> Path:
    """Two packages and one subzone (core domain of package 0, already counted in the package)."""
    root = tmp_path / "powercap"
    root.mkdir()
    zone(root, "intel-rapl:0", 1_000_000)
    zone(root, "intel-rapl:1", 5_000_000)
    zone(root, "intel-rapl:0:0", 400_000)
    return root


def set_energy(root: Path, name: str, energy_uj: int) -> None:
    (root / name / "energy_uj").write_text(f"{energy_uj}\n")


def test_rapl_keeps_packages_and_ignores_subzones(powercap: Path) -> None:
    meter = RaplMeter(powercap)
    assert [z.name for z in meter.zones] == ["intel-rapl:0", "intel-rapl:1"]
    assert meter.available()
    assert meter.source == "rapl"


def test_rapl_counts_deltas_summed_over_packages(powercap: Path) -> None:
    meter = RaplMeter(powercap)
    assert meter.read_j() == 0.0  # the first read is the baseline
    set_energy(powercap, "intel-rapl:0", 3_000_000)      # +2,000,000 uJ
    set_energy(powercap, "intel-rapl:1", 6_000_000)      # +1,000,000 uJ
    set_energy(powercap, "intel-rapl:0:0", 100_400_000)  # +100 J in the subzone: must not count
    # (2e6 + 1e6) uJ = 3 J
    assert meter.read_j() == pytest.approx(3.0)
    set_energy(powercap, "intel-rapl:1", 6_500_000)      # +0.5 J more
    assert meter.read_j() == pytest.approx(3.5)


def test_rapl_unchanged_counters_add_nothing(powercap: Path) -> None:
    meter = RaplMeter(powercap)
    meter.read_j()
    assert meter.read_j() == 0.0


def test_rapl_handles_wraparound(tmp_path: Path) -> None:
    zone(tmp_path, "intel-rapl:0", 9_000_000, max_uj=10_000_000)
    meter = RaplMeter(tmp_path)
    meter.read_j()
    set_energy(tmp_path, "intel-rapl:0", 500_000)
    # wrapped at 10,000,000: 500,000 - 9,000,000 + 10,000,000 = 1,500,000 uJ = 1.5 J
    assert meter.read_j() == pytest.approx(1.5)


def test_rapl_unavailable_on_an_empty_tree(tmp_path: Path) -> None:
    meter = RaplMeter(tmp_path)
    assert meter.zones == []
    assert meter.available() is False


def test_rapl_unavailable_on_a_missing_folder(tmp_path: Path) -> None:
    assert RaplMeter(tmp_path / "absent").available() is False


def test_rapl_unavailable_when_a_value_is_not_a_number(tmp_path: Path) -> None:
    zone(tmp_path, "intel-rapl:0", 1000)
    zone(tmp_path, "intel-rapl:1", "not-a-number")
    assert RaplMeter(tmp_path).available() is False


def test_rapl_unavailable_when_the_counter_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "intel-rapl:0").mkdir()  # a zone without energy_uj (as when permission is denied)
    assert RaplMeter(tmp_path).available() is False


@pytest.mark.skipif(bool(detect_gpus()[0]), reason="this machine has an NVIDIA GPU")
def test_nvml_without_a_driver_is_unavailable_and_quiet() -> None:
    meter = NvmlMeter()  # this machine has no NVIDIA driver: must not raise
    assert meter.source == "nvml"
    assert meter.handles == []
    assert meter.available() is False


def test_available_meters_on_an_empty_tree_has_no_rapl(tmp_path: Path) -> None:
    meters = available_meters(tmp_path)
    assert not any(isinstance(m, RaplMeter) for m in meters)
    assert not any(isinstance(m, NvmlMeter) for m in meters)  # no driver here


def test_available_meters_finds_a_readable_rapl_tree(powercap: Path) -> None:
    meters = available_meters(powercap)
    assert [m.source for m in meters if isinstance(m, RaplMeter)] == ["rapl"]


def test_estimate_cpu_energy_j() -> None:
    # 2 CPU-seconds x 65 W TDP / 8 cores = 16.25 J
    assert estimate_cpu_energy_j(2.0, 65.0, 8) == pytest.approx(16.25)
    # 1 s x 20 W / 2 cores = 10 J
    assert estimate_cpu_energy_j(1.0, 20.0, 2) == pytest.approx(10.0)
    # zero cores is treated as one: 3 s x 10 W = 30 J
    assert estimate_cpu_energy_j(3.0, 10.0, 0) == pytest.approx(30.0)


class FakeMeter:
    """A cumulative counter that returns the next scripted value on every read."""

    def __init__(self, source: str, values: list[float]) -> None:
        self.source = source
        self._values: Iterator[float] = iter(values)
        self.reads = 0

    def read_j(self) -> float:
        self.reads += 1
        return next(self._values)


def test_monitor_reports_the_energy_difference() -> None:
    meter = FakeMeter("fake", [100.0, 130.0])
    with ProcessMonitor(interval_s=0.01, meters=[meter]) as mon:
        pass
    # 130 - 100 = 30 J
    assert mon.energy_j == pytest.approx(30.0)
    assert mon.energy_source == "fake"
    assert meter.reads == 2


def test_monitor_sums_meters_and_joins_their_sources() -> None:
    cpu, gpu = FakeMeter("rapl", [10.0, 15.0]), FakeMeter("nvml", [1000.0, 1200.0])
    with ProcessMonitor(interval_s=0.01, meters=[cpu, gpu]) as mon:
        pass
    # (15 - 10) + (1200 - 1000) = 205 J
    assert mon.energy_j == pytest.approx(205.0)
    assert mon.energy_source == "rapl+nvml"


def test_mark_restarts_energy_accounting() -> None:
    meter = FakeMeter("fake", [100.0, 110.0, 130.0])
    with ProcessMonitor(interval_s=0.01, meters=[meter]) as mon:
        mon.mark()  # reads 110: what came before (model load, warm-up) is not counted
    # 130 - 110 = 20 J, not 130 - 100 = 30 J
    assert mon.energy_j == pytest.approx(20.0)


def test_monitor_without_meters_has_no_energy() -> None:
    with ProcessMonitor(interval_s=0.01, meters=[]) as mon:
        pass
    assert mon.energy_j is None
    assert mon.energy_source == "none"
