"""Was a cell measured on a contended machine? Other processes' CPU time and steal time over its segments.

Measured by ProcessMonitor (system-wide busy CPU time from /proc/stat via psutil.cpu_times, minus this run's
process tree and the local servers it talked to; steal from the same counters). A cell is *contended* when, over
at least MIN_WINDOW_S of measured work, other processes used more than MAX_OTHER_CPU_SHARE of the machine's CPU
capacity (window x logical CPUs) or the hypervisor stole more than MAX_STEAL_SHARE of it. Its speed and cost
figures are then marked in every report, and `bench compare` refuses to judge them without --allow-contended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.metrics.records import CellSegment

MAX_OTHER_CPU_SHARE = 0.10
"""Other processes busy on more than 10% of the machine's CPU capacity (e.g. 0.2 of 2 cores) contend."""
MAX_STEAL_SHARE = 0.05
"""More than 5% of the CPU capacity stolen by the hypervisor contends."""
MIN_WINDOW_S = 1.0
"""Shorter measured windows are not judged: /proc/stat counts in 10 ms ticks, too coarse for a verdict."""


@dataclass(frozen=True)
class Contention:
    """Other processes' CPU use and steal over a cell's measured windows. Shares are of window x logical CPUs."""

    window_s: float
    capacity_cpu_s: float
    other_cpu_s: float
    steal_s: float
    other_processes: dict[str, float] = field(default_factory=dict)

    @property
    def other_cpu_share(self) -> float:
        return self.other_cpu_s / self.capacity_cpu_s if self.capacity_cpu_s > 0 else 0.0

    @property
    def steal_share(self) -> float:
        return self.steal_s / self.capacity_cpu_s if self.capacity_cpu_s > 0 else 0.0

    @property
    def judged(self) -> bool:
        return self.window_s >= MIN_WINDOW_S

    @property
    def contended(self) -> bool:
        return self.judged and (self.other_cpu_share > MAX_OTHER_CPU_SHARE or self.steal_share > MAX_STEAL_SHARE)

    def detail(self) -> str:
        """One line: what was measured, against which thresholds, and the busiest other processes."""
        busiest = ", ".join(f"{name} {cpu_s:.1f} s" for name, cpu_s in self.other_processes.items())
        return (f"other processes used {self.other_cpu_share:.0%} of the CPU capacity (limit "
                f"{MAX_OTHER_CPU_SHARE:.0%}), steal {self.steal_share:.0%} (limit {MAX_STEAL_SHARE:.0%}) over "
                f"{self.window_s:.1f} s" + (f"; busiest: {busiest}" if busiest else ""))

    def as_dict(self) -> dict[str, Any]:
        return {"window_s": self.window_s, "other_cpu_s": self.other_cpu_s, "steal_s": self.steal_s,
                "other_cpu_share": self.other_cpu_share, "steal_share": self.steal_share,
                "other_processes": self.other_processes, "judged": self.judged, "contended": self.contended,
                "detail": self.detail()}


def cell_contention(segments: Sequence[CellSegment]) -> Contention | None:
    """Contention summed over the segments that measured it; None when none did (runs before it was measured)."""
    measured = [s for s in segments if s.other_cpu_s is not None and s.contention_window_s is not None]
    if not measured:
        return None
    busiest: dict[str, float] = {}
    for segment in measured:
        for name, cpu_s in segment.other_processes.items():
            busiest[name] = busiest.get(name, 0.0) + cpu_s
    top = dict(sorted(busiest.items(), key=lambda kv: -kv[1])[:3])
    return Contention(window_s=sum(s.contention_window_s or 0.0 for s in measured),
                      capacity_cpu_s=sum((s.contention_window_s or 0.0) * (s.logical_cpus or 1) for s in measured),
                      other_cpu_s=sum(s.other_cpu_s or 0.0 for s in measured),
                      steal_s=sum(s.steal_s or 0.0 for s in measured), other_processes=top)
