"""Tests for bench.metrics.monitors.ProcessMonitor."""

from __future__ import annotations

import http.client
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.metrics import monitors
from bench.metrics.monitors import ProcessMonitor
from bench.metrics.records import CellSegment

MB = 1024 * 1024


def _touched_block(size: int) -> bytearray:
    """A block whose pages are really written (so they count in RSS)."""
    block = bytearray(size)
    for offset in range(0, size, 4096):
        block[offset] = 1
    return block


def test_peak_rss_rises_when_the_block_allocates() -> None:
    with ProcessMonitor(interval_s=0.01) as mon:
        block = _touched_block(200 * MB)
        time.sleep(0.1)
        del block
    assert mon.rss_before_bytes > 0
    assert mon.peak_rss_bytes - mon.rss_before_bytes >= 150 * MB


def test_peak_caught_by_sampler_after_memory_is_freed() -> None:
    with ProcessMonitor(interval_s=0.005) as mon:
        block = _touched_block(200 * MB)
        time.sleep(0.1)
        del block
        time.sleep(0.05)
        after_free = psutil.Process().memory_info().rss
    assert mon.peak_rss_bytes >= after_free
    assert mon.peak_rss_bytes - mon.rss_before_bytes >= 150 * MB


def test_peak_is_never_below_start() -> None:
    with ProcessMonitor() as mon:
        pass
    assert mon.peak_rss_bytes >= mon.rss_before_bytes > 0


def test_cpu_time_is_non_negative_and_counts_busy_work() -> None:
    with ProcessMonitor() as mon:
        deadline = time.process_time() + 0.2
        total = 0
        while time.process_time() < deadline:
            total += sum(range(1000))
    assert total > 0
    assert mon.cpu_user_s >= 0.0
    assert mon.cpu_system_s >= 0.0
    assert mon.cpu_user_s + mon.cpu_system_s >= 0.1


def test_sampler_thread_stops_on_exit() -> None:
    with ProcessMonitor(interval_s=0.01) as mon:
        assert mon._thread.is_alive()
    assert not mon._thread.is_alive()


def test_values_are_recorded_even_when_the_block_raises() -> None:
    mon = ProcessMonitor()
    try:
        with mon:
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert mon.peak_rss_bytes > 0
    assert not mon._thread.is_alive()
    assert mon.cpu_user_s >= 0.0


CHILD = """
import time
block = bytearray(300 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
end = time.process_time() + 0.6
while time.process_time() < end:
    pass
time.sleep(0.8)
"""


def test_a_child_process_memory_and_cpu_count_even_after_it_exits() -> None:
    """Engines such as vLLM run the model in worker processes: their RSS and CPU time are the run's."""
    with ProcessMonitor(meters=[]) as monitor:
        subprocess.run([sys.executable, "-c", CHILD], check=True)
    assert monitor.peak_rss_bytes - monitor.rss_before_bytes > 250 * 2**20
    assert monitor.cpu_user_s + monitor.cpu_system_s > 0.4


# --- contention: other processes' CPU time and steal (issue #10 class 9) --------------------------------------------

def detached(code: str) -> psutil.Process:
    """A Python process outside this process tree (its shell parent exits at once), bounded by its own code."""
    done = subprocess.run(["sh", "-c", f'{sys.executable} -c "{code}" >/dev/null 2>&1 & echo $!'],
                          capture_output=True, text=True, check=True, timeout=10)
    proc = psutil.Process(int(done.stdout.strip()))
    assert proc.pid not in {c.pid for c in psutil.Process().children(recursive=True)}
    return proc


def stop(proc: psutil.Process) -> None:
    try:
        proc.kill()
        proc.wait(timeout=5)
    except psutil.Error:
        pass


BUSY_2S = "import time\nend = time.time() + 2.0\nwhile time.time() < end: pass"


def test_a_busy_process_outside_the_tree_is_other_cpu_time() -> None:
    busy = detached(BUSY_2S)
    try:
        with ProcessMonitor(interval_s=0.05) as mon:
            time.sleep(1.5)
    finally:
        stop(busy)
    fields = mon.contention_fields()
    assert fields["contention_window_s"] >= 1.5 and fields["logical_cpus"] == psutil.cpu_count()
    assert fields["other_cpu_s"] >= 0.5  # one spinning process for 1.5 s, however busy the machine is otherwise
    assert fields["steal_s"] >= 0.0
    assert any(name.startswith("python") for name in fields["other_processes"])


def test_own_work_and_a_local_server_it_talks_to_are_not_contention(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    """The arithmetic on scripted counters: other = busy - own tree - local servers."""
    busy = iter([(100.0, 5.0), (112.0, 7.0)])
    tables = iter([{1: ("bench", 0.0, 1.0), 50: ("llama-server", 9.0, 10.0), 60: ("make", 9.0, 0.5)},
                   {1: ("bench", 0.0, 4.0), 50: ("llama-server", 9.0, 14.0), 60: ("make", 9.0, 2.5),
                    70: ("cc1", 11.0, 2.0)}])
    monkeypatch.setattr(monitors, "system_busy_s", lambda: next(busy))
    monkeypatch.setattr(monitors, "process_cpu_s", lambda: next(tables))
    probe = monitors.ContentionProbe()
    probe.mark()
    probe.server_pids = {50}
    fields = probe.finish(own_cpu_s=3.0, own_pids={1})
    assert fields["other_cpu_s"] == pytest.approx(12.0 - 3.0 - 4.0)
    assert fields["steal_s"] == pytest.approx(2.0)
    assert fields["other_processes"] == {"make": 2.0, "cc1": 2.0}


def test_a_local_server_reached_over_loopback_is_found() -> None:
    port_file = tmp_port_file()
    server = detached("import http.server, threading, time\n"
                      "http.server.SimpleHTTPRequestHandler.protocol_version = 'HTTP/1.1'\n"
                      "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
                      f"open('{port_file}', 'w').write(str(s.server_port))\n"
                      "threading.Thread(target=s.serve_forever, daemon=True).start()\ntime.sleep(20)")
    try:
        deadline = time.time() + 10
        while not port_file.exists() or not port_file.read_text():
            assert time.time() < deadline, "the test server did not start"
            time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", int(port_file.read_text()), timeout=5)
        conn.request("HEAD", "/")
        conn.getresponse().read()
        probe = monitors.ContentionProbe()
        probe.note_servers(psutil.Process())
        conn.close()
    finally:
        stop(server)
    assert server.pid in probe.server_pids


def tmp_port_file() -> Path:
    import tempfile

    return Path(tempfile.mkdtemp()) / "port"


def test_contention_fields_load_into_a_cell_segment_and_old_segments_still_load() -> None:
    with ProcessMonitor(interval_s=0.05) as mon:
        time.sleep(0.05)
    base = {"cell_id": "c", "model_id": "m", "task_id": "t", "segment": "s", "backend": {}, "load_time_s": 0.0,
            "warmup_items": 0, "items_done": 0, "t_start": 0.0, "t_end": 1.0, "rss_before_bytes": 0,
            "peak_rss_bytes": 0, "cpu_user_s": 0.0, "cpu_system_s": 0.0, "completed": True}
    segment = CellSegment(**base, **mon.contention_fields())
    assert segment.other_cpu_s is not None and segment.contention_window_s is not None
    old = CellSegment(**base)
    assert old.other_cpu_s is None and old.other_processes == {}


def test_a_run_beside_a_busy_process_is_flagged_contended(tmp_path: Path) -> None:
    """End to end (needs runner._segment to pass **monitor.contention_fields()): a cell measured for 1.5 s while
    another process spins on a core is flagged in the summary, and `bench compare` refuses to judge its speed."""
    from report_runs import make_report_run, report_suite

    from bench.cli.main import main

    suite = report_suite(tmp_path, "busy", ["m-a"], items=[(f"t{n}", f"ticket {n}", "billing") for n in range(6)])
    suite["models"][0]["backend"]["delay_s"] = 0.25
    spinners = [detached("import time\nend = time.time() + 8.0\nwhile time.time() < end: pass")
                for _ in range((psutil.cpu_count() or 1) // 4 + 1)]  # over a quarter of the CPUs, whatever the machine
    try:
        run = make_report_run(tmp_path, suite)
    finally:
        for busy in spinners:
            stop(busy)
    lines = (run.path / "segments.jsonl").read_text().splitlines()
    segments = [CellSegment.model_validate_json(line) for line in lines]
    assert all(s.other_cpu_s is not None and (s.contention_window_s or 0) >= 1.4 for s in segments)
    assert [f["flag"] for f in run.summary.flags] == ["contended"]
    assert run.summary.contention[0]["other_cpu_share"] > 0.1
    assert main(["compare", str(run.path), str(run.path)]) == 2


def test_a_server_inside_this_process_is_not_looked_up_as_another_process() -> None:
    import http.server
    import threading

    class KeepAlive(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        conn.request("HEAD", "/")
        conn.getresponse().read()
        probe = monitors.ContentionProbe()
        probe.note_servers(psutil.Process())
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
    assert probe.server_pids == set() and probe._ports == set()


def test_peak_rss_between_scans_counts_when_the_process_has_children() -> None:
    """With a child alive the tree is scanned every CHILD_SCAN_S; a spike between two scans still counts."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(10,), daemon=True)
    child.start()
    try:
        with ProcessMonitor(interval_s=0.01) as mon:
            block = _touched_block(200 * MB)
            time.sleep(0.1)
            del block
    finally:
        child.terminate()
        child.join()
    assert mon.peak_rss_bytes - mon.rss_before_bytes >= 150 * MB
