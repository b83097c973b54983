"""Machine facts used in provenance: present, plausible, and free of volatile identifiers."""

from __future__ import annotations

import json
import socket

import psutil

from bench.machine.detect import detect_machine, physical_cores


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


def test_isa_features_name_what_engines_dispatch_on() -> None:
    from bench.machine.detect import isa_features

    spr = frozenset(["fpu", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"])
    assert isa_features(spr) == ["AVX2", "FMA", "AVX-512F", "AVX-512-VNNI", "AVX-512-BF16", "AMX-TILE", "AMX-INT8",
                                 "AMX-BF16"]
    assert isa_features(frozenset({"fp", "asimd", "asimddp", "sve"})) == ["NEON", "NEON-DOTPROD", "SVE"]
    assert isa_features(frozenset()) == []


def test_machine_facts_carry_isa_and_the_llama_cpp_build() -> None:
    machine = detect_machine()
    assert isinstance(machine["isa"], list)
    build = machine["llama_cpp"]
    if build is not None:  # the llama extra is installed
        assert build["version"] and "REPACK" in build["system_info"]
