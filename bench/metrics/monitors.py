"""Resource monitors as context managers, so measuring stays out of the business logic."""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psutil

from bench.metrics.energy import EnergyMeter, available_meters
from bench.metrics.gpu import GpuSampler


def system_busy_s() -> tuple[float, float]:
    """(busy, steal) CPU seconds since boot, summed over CPUs (psutil.cpu_times, i.e. /proc/stat on Linux).
    Busy is user + nice + system + irq + softirq (guest time is already inside user and nice); idle, iowait and
    steal are not busy."""
    t = psutil.cpu_times()
    busy = sum(float(getattr(t, name, 0.0)) for name in ("user", "nice", "system", "irq", "softirq"))
    return busy, float(getattr(t, "steal", 0.0))


def process_cpu_s() -> dict[int, tuple[str, float, float]]:
    """pid -> (name, create_time, user + system CPU seconds) of every process this user may read."""
    table: dict[int, tuple[str, float, float]] = {}
    for proc in psutil.process_iter(["name", "create_time", "cpu_times"]):
        info = proc.info
        times = info.get("cpu_times")
        if times is not None:
            table[proc.pid] = (str(info.get("name") or "?"), float(info.get("create_time") or 0.0),
                               float(times.user + times.system))
    return table


@dataclass
class Snapshot:
    t: float
    busy_s: float
    steal_s: float
    processes: dict[int, tuple[str, float, float]]

    @classmethod
    def take(cls) -> Snapshot:
        busy, steal = system_busy_s()
        return cls(time.monotonic(), busy, steal, process_cpu_s())


def cpu_since(start: Snapshot, end: Snapshot, pid: int) -> float:
    """CPU seconds a process used between two snapshots (all of it if it started in between)."""
    if pid not in end.processes:
        return 0.0
    _, created, cpu = end.processes[pid]
    before = start.processes.get(pid)
    return cpu - before[2] if before is not None and before[1] == created else cpu


class ContentionProbe:
    """Other processes' CPU time and steal between mark() and finish(own_cpu_s, own_pids).

    other = system-wide busy CPU time - this process tree's CPU time - the CPU time of local servers this
    process talked to over loopback TCP (e.g. a llama-server behind the openai backend: its work is the
    cell's work, not contention). Local servers are found by note_servers(), called from the sampler.
    """

    def __init__(self) -> None:
        self.start: Snapshot | None = None
        self.server_pids: set[int] = set()
        self._ports: set[int] = set()
        self.fields: dict[str, Any] = {}

    def mark(self) -> None:
        self.start = Snapshot.take()

    def note_servers(self, process: psutil.Process) -> None:
        """Add the processes listening on the loopback ports this process is connected to."""
        connections = _tcp_connections(process)
        own = {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}  # a server in this process
        ports = {c.raddr.port for c in connections if c.raddr and _loopback(c.raddr.ip)
                 and c.raddr.port not in own and c.laddr.port not in own} - self._ports
        if not ports:
            return
        self._ports |= ports
        try:
            listening = psutil.net_connections(kind="tcp")
        except (psutil.Error, OSError):
            return
        self.server_pids |= {c.pid for c in listening
                             if c.pid and c.status == psutil.CONN_LISTEN and getattr(c.laddr, "port", None) in ports}

    def finish(self, own_cpu_s: float, own_pids: set[int]) -> dict[str, Any]:
        """The CellSegment fields: contention_window_s, logical_cpus, other_cpu_s, steal_s, other_processes."""
        if self.start is None:
            return {}
        start, end = self.start, Snapshot.take()
        servers = self.server_pids - own_pids
        server_cpu = sum(cpu_since(start, end, pid) for pid in servers)
        others: dict[str, float] = {}
        for pid in set(end.processes) - own_pids - servers:
            name = end.processes[pid][0]
            others[name] = others.get(name, 0.0) + cpu_since(start, end, pid)
        top = {n: round(c, 3) for n, c in sorted(others.items(), key=lambda kv: -kv[1])[:3] if c >= 0.05}
        self.fields = {"contention_window_s": end.t - start.t, "logical_cpus": psutil.cpu_count() or 1,
                       "other_cpu_s": max(end.busy_s - start.busy_s - own_cpu_s - server_cpu, 0.0),
                       "steal_s": max(end.steal_s - start.steal_s, 0.0), "other_processes": top}
        return self.fields


def _tcp_connections(process: psutil.Process) -> list[Any]:
    try:
        method = getattr(process, "net_connections", None) or process.connections
        return list(method(kind="tcp"))
    except (psutil.Error, OSError):
        return []


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%")[0]).is_loopback
    except ValueError:
        return False


class ProcessMonitor:
    """Samples the memory of this process and its descendants (an engine's worker processes, e.g. vLLM's) in a
    background thread; records the peak and the CPU time the whole tree used.

    Memory is this process's RSS while it has no children; with children it is the sum of the tree's PSS
    (proportional set size), so pages that forked workers share are counted once, not once per process.

    with ProcessMonitor() as mon: ...   then mon.peak_rss_bytes, mon.cpu_user_s, mon.cpu_system_s, mon.energy_j
    Energy is measured by the readable counters (RAPL, NVML); energy_j is None when there are none.
    NVIDIA GPUs (when a driver is present) are sampled too: mon.gpu.stats.summary().
    A child's CPU time counts up to its last sample, so children that exit before the end still count.
    Contention over the same window (other processes' CPU time, steal): mon.contention_fields(), the optional
    CellSegment fields (see ContentionProbe and bench/metrics/contention.py).
    """

    CHILD_SCAN_S = 0.5
    """How often the process tree is listed (listing scans /proc; sampling the known processes is cheap)."""

    def __init__(self, interval_s: float = 0.02, meters: list[EnergyMeter] | None = None,
                 gpu: GpuSampler | None = None) -> None:
        self.interval_s = interval_s
        self._tree_at_scan = self._own_rss_at_scan = 0
        self.process = psutil.Process()
        self.rss_before_bytes = 0
        self.peak_rss_bytes = 0
        self.cpu_user_s = 0.0
        self.cpu_system_s = 0.0
        self.meters = available_meters() if meters is None else meters
        self.energy_j: float | None = None
        self.energy_source = "+".join(m.source for m in self.meters) or "none"
        self._energy_start: list[float] = []
        self.gpu = gpu if gpu is not None else GpuSampler()
        self._children: list[psutil.Process] = []
        self._next_scan = 0.0
        self._child_cpu: dict[int, tuple[float, float]] = {}
        self._child_cpu_start: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-rss-sampler", daemon=True)
        self.contention = ContentionProbe()

    def __enter__(self) -> ProcessMonitor:
        self._next_scan = 0.0  # the first sample lists the tree
        self.sample()
        self.rss_before_bytes = self.peak_rss_bytes
        self._cpu_start = self.process.cpu_times()
        self._child_cpu_start = dict(self._child_cpu)
        self._energy_start = [m.read_j() for m in self.meters]
        self.contention.mark()
        self._thread.start()
        return self

    def mark(self) -> None:
        """Start CPU-time and energy accounting from now (e.g. after model load and warm-up)."""
        with self._lock:
            self._scan()
            self._child_cpu_start = dict(self._child_cpu)
        self._cpu_start = self.process.cpu_times()
        self._energy_start = [m.read_j() for m in self.meters]
        self.contention.mark()

    def pause(self) -> None:
        """Stop sampling memory until resume() (work that is not the measured job, e.g. a file conversion)."""
        self._paused.set()

    def resume(self) -> None:
        with self._lock:
            self._children = []  # children of the paused work are not the job's
            self._next_scan = 0.0
            self._paused.clear()

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self._paused.is_set():
                self.sample()

    def sample(self) -> None:
        with self._lock:  # the sampler thread and the owner (enter, mark, exit) both sample
            now = time.monotonic()
            if now >= self._next_scan:
                self._scan()
                self._next_scan = now + self.CHILD_SCAN_S
            else:  # between scans: this process's RSS, plus (with children) the tree as of the last scan
                rss = self.process.memory_info().rss
                tree = self._tree_at_scan + rss - self._own_rss_at_scan if self._children else rss
                self.peak_rss_bytes = max(self.peak_rss_bytes, tree)
            if self.gpu.available:
                self.gpu.sample()

    def _scan(self) -> None:
        """List the tree, read its children's CPU times and the tree's memory (PSS summed when it has children)."""
        try:
            self._children = self.process.children(recursive=True)
        except psutil.Error:
            self._children = []
        self.contention.note_servers(self.process)
        if not self._children:
            self.peak_rss_bytes = max(self.peak_rss_bytes, self.process.memory_info().rss)
            return
        self._own_rss_at_scan = self.process.memory_info().rss
        total = self.process.memory_full_info().pss
        for child in self._children:
            try:
                total += child.memory_full_info().pss
                times = child.cpu_times()
            except psutil.Error:  # exited since it was listed
                continue
            self._child_cpu[child.pid] = (times.user, times.system)
        self._tree_at_scan = total
        self.peak_rss_bytes = max(self.peak_rss_bytes, total)

    def _children_cpu_since_start(self) -> tuple[float, float]:
        with self._lock:
            self._scan()  # the latest CPU times of children still alive
            user = sum(u - self._child_cpu_start.get(pid, (0.0, 0.0))[0] for pid, (u, _) in self._child_cpu.items())
            system = sum(s - self._child_cpu_start.get(pid, (0.0, 0.0))[1] for pid, (_, s) in self._child_cpu.items())
        return user, system

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        cpu = self.process.cpu_times()
        child_user, child_system = self._children_cpu_since_start()
        self.cpu_user_s = cpu.user - self._cpu_start.user + child_user
        self.cpu_system_s = cpu.system - self._cpu_start.system + child_system
        if self.meters:
            self.energy_j = sum(m.read_j() - s for m, s in zip(self.meters, self._energy_start, strict=True))
        own = {self.process.pid, *self._child_cpu, *(c.pid for c in self._children)}
        self.contention.finish(self.cpu_user_s + self.cpu_system_s, own)

    def contention_fields(self) -> dict[str, Any]:
        """The contention fields of the CellSegment (empty before the monitor exits):
        CellSegment(..., **monitor.contention_fields())."""
        return dict(self.contention.fields)
