"""Facts about this machine, without volatile identifiers (no hostname, no PIDs)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import psutil

ISA_FEATURES: dict[str, str] = {
    "avx2": "AVX2", "fma": "FMA", "f16c": "F16C", "avx_vnni": "AVX-VNNI", "avx512f": "AVX-512F",
    "avx512bw": "AVX-512BW", "avx512vl": "AVX-512VL", "avx512_vnni": "AVX-512-VNNI", "avx512_bf16": "AVX-512-BF16",
    "avx512_fp16": "AVX-512-FP16", "amx_tile": "AMX-TILE", "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16",
    "asimd": "NEON", "asimddp": "NEON-DOTPROD", "i8mm": "I8MM", "sve": "SVE", "sve2": "SVE2",
}
"""/proc/cpuinfo flag -> name, for the ISA extensions that llama.cpp, vLLM and BLAS kernels dispatch on."""


def physical_cores() -> int:
    """Physical core count (llama.cpp's best thread count), falling back to logical CPUs."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or platform's best guess elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def isa_features(flags: frozenset[str] | None = None) -> list[str]:
    """The engine-relevant ISA extensions this CPU reports (names as in ISA_FEATURES), in that order."""
    from bench.backends.llama_load import cpu_flags

    present = cpu_flags() if flags is None else flags
    if "neon" in present:  # 32-bit ARM names it directly
        present = present | {"asimd"}
    return [name for flag, name in ISA_FEATURES.items() if flag in present]


def llama_cpp_build() -> dict[str, Any] | None:
    """llama-cpp-python's version and its llama.cpp build's `llama_print_system_info()` (None when absent)."""
    try:
        import llama_cpp
    except ImportError:
        return None
    from bench.backends.llama_load import system_info

    return {"version": str(llama_cpp.__version__), "system_info": system_info(llama_cpp)}


def detect_machine() -> dict[str, Any]:
    """CPU model, ISA features, cores, RAM, OS, GPUs and the llama.cpp build: provenance (comparisons use only
    the stable subset in bench.compare.baseline.HARDWARE_KEYS)."""
    gpus, _ = detect_gpus()
    return {
        "gpus": gpus,
        "cpu_model": cpu_model(),
        "isa": isa_features(),
        "llama_cpp": llama_cpp_build(),
        "physical_cores": physical_cores(),
        "logical_cpus": psutil.cpu_count(logical=True) or 1,
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def detect_gpus() -> tuple[list[dict[str, Any]], str]:
    """NVIDIA GPUs through NVML: name, memory, power limit. ([], reason) without a driver or a GPU."""
    try:
        import pynvml
    except ImportError:
        return [], "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:  # NVMLError_LibraryNotFound on machines without the driver
        return [], f"no NVIDIA driver ({exc})"
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            gpus.append({"index": index, "name": name.decode() if isinstance(name, bytes) else str(name),
                         "memory_gb": round(pynvml.nvmlDeviceGetMemoryInfo(handle).total / 1e9, 1),
                         "power_limit_w": pynvml.nvmlDeviceGetPowerManagementLimit(handle) / 1000})
        return gpus, "" if gpus else "the NVIDIA driver reports no GPU"
    finally:
        pynvml.nvmlShutdown()


def match_profile(profiles: dict[str, Any], cpu: str, gpu_names: list[str]) -> str | None:
    """The id of the profile whose `match` substrings name this machine's GPU (first) or CPU."""
    for names, classes in ((gpu_names, {"consumer_gpu", "datacenter_gpu"}), ([cpu], None)):
        for profile in profiles.values():
            if classes is not None and profile.device_class not in classes:
                continue
            if classes is None and profile.device_class in {"consumer_gpu", "datacenter_gpu"}:
                continue
            if any(m.casefold() in n.casefold() for m in profile.match for n in names):
                return str(profile.id)
    return None
