"""Machine facts used in provenance: present, plausible, and free of volatile identifiers."""

from __future__ import annotations

import json
import socket

import psutil

from bench.hardware import detect_machine, physical_cores


def test_detect_machine_reports_cpu_cores_ram_and_os() -> None:
    facts = detect_machine()
    assert facts["cpu_model"]
    assert 1 <= facts["physical_cores"] <= facts["logical_cpus"]
    assert abs(facts["ram_gb"] - psutil.virtual_memory().total / 1e9) < 0.1
    assert facts["os"]


def test_no_hostname_in_machine_facts() -> None:
    assert socket.gethostname() not in json.dumps(detect_machine())


def test_physical_cores_is_positive() -> None:
    assert physical_cores() >= 1
