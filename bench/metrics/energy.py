"""Energy counters: Intel/AMD RAPL through sysfs powercap, and NVIDIA GPUs through NVML.

Each meter reads a cumulative counter; a monitor takes the difference over a cell. Where no counter is
readable (this machine: no powercap, no GPU), energy is estimated later from CPU time and labelled so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

POWERCAP = Path("/sys/class/powercap")


class EnergyMeter(Protocol):
    source: str

    def read_j(self) -> float: ...


class RaplMeter:
    """Package-level RAPL domains (intel-rapl:N, not their subzones), summed; wraparound handled."""

    source = "rapl"

    def __init__(self, root: Path = POWERCAP) -> None:
        self.zones = [z for z in sorted(root.glob("intel-rapl:*")) if z.name.count(":") == 1]
        self._last: dict[Path, int] = {}
        self._total_uj = 0.0

    def available(self) -> bool:
        try:
            return bool(self.zones) and all(int((z / "energy_uj").read_text()) >= 0 for z in self.zones)
        except (OSError, ValueError):
            return False

    def read_j(self) -> float:
        for zone in self.zones:
            value = int((zone / "energy_uj").read_text())
            previous = self._last.get(zone)
            if previous is not None:
                delta = value - previous
                if delta < 0:  # the counter wrapped at max_energy_range_uj
                    delta += int((zone / "max_energy_range_uj").read_text())
                self._total_uj += delta
            self._last[zone] = value
        return self._total_uj / 1e6


class NvmlMeter:
    """Total energy of every NVIDIA GPU since driver load (nvmlDeviceGetTotalEnergyConsumption, mJ)."""

    source = "nvml"

    def __init__(self) -> None:
        self.handles: list[Any] = []
        self.pynvml: Any = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.pynvml = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # no package, no driver (NVMLError_LibraryNotFound), no device: GPU energy unavailable
            self.handles = []

    def available(self) -> bool:
        if not self.handles:
            return False
        try:
            self.read_j()
            return True
        except Exception:
            return False

    def read_j(self) -> float:
        return float(sum(self.pynvml.nvmlDeviceGetTotalEnergyConsumption(h) for h in self.handles)) / 1e3


def available_meters(root: Path = POWERCAP) -> list[EnergyMeter]:
    """The meters that can be read on this machine (possibly none)."""
    meters: list[EnergyMeter] = []
    rapl = RaplMeter(root)
    if rapl.available():
        meters.append(rapl)
    nvml = NvmlMeter()
    if nvml.available():
        meters.append(nvml)
    return meters


def estimate_cpu_energy_j(cpu_seconds: float, tdp_w: float, cores: int) -> float:
    """Estimated: the package TDP shared per core, times the core-seconds the work used."""
    return cpu_seconds * tdp_w / max(cores, 1)
