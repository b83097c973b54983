"""Loading a GGUF through llama.cpp with its weight-repacking switch, and what the llama.cpp build supports.

llama.cpp's CPU backend may copy weights into "extra buffer types" at load time: repacked layouts for AVX2 /
AVX-512 / NEON kernels and, on CPUs with AMX, the AMX buffer. `llama-bench --repack 0` and llama.cpp's
`--no-repack` turn this off (`llama_model_params.use_extra_bufts = false`). On Intel CPUs with AMX,
`ggml_backend_amx_mul_mat` segfaults at the first decode of a repacked model (ggml-org/llama.cpp#20824,
ollama/ollama#17205, stanfordnlp/dspy#10079), so `repack: auto` turns repacking off where the CPU reports AMX.
llama-cpp-python 0.3.36 has no keyword for the field, so `load_llama` sets it on the params the constructor
takes from `llama_model_default_params()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.backends.params import RepackSetting

AMX_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16"})
AMX_ISSUE = "llama.cpp#20824"
_PATCH_LOCK = threading.Lock()


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The ISA flags of the first CPU in /proc/cpuinfo (`flags` on x86, `Features` on ARM); empty elsewhere."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in {"flags", "features"}:
            return frozenset(value.split())
    return frozenset()


def resolve_repack(setting: RepackSetting, flags: frozenset[str] | None = None) -> tuple[bool, str]:
    """(repack on?, the reason recorded in the manifest) for a `repack:` setting on this CPU.

    auto: off when the CPU reports AMX (`amx_tile`/`amx_int8`/`amx_bf16`), on otherwise.
    """
    if setting is not True and setting is not False:
        amx = sorted((cpu_flags() if flags is None else flags) & AMX_FLAGS)
        if amx:
            return False, f"auto: AMX present ({', '.join(amx)}), {AMX_ISSUE}"
        return True, "auto: no AMX"
    return setting, f"set: repack {'true' if setting else 'false'}"


def _with_repack(original: Callable[[], Any], repack: bool) -> Callable[[], Any]:
    def patched() -> Any:
        params = original()
        params.use_extra_bufts = repack
        return params

    return patched


@contextmanager
def _default_params(lib: Any, repack: bool) -> Iterator[None]:
    """While active, llama_model_default_params() returns params with use_extra_bufts = repack."""
    with _PATCH_LOCK:
        original: Callable[[], Any] = lib.llama_model_default_params
        lib.llama_model_default_params = _with_repack(original, repack)
        try:
            yield
        finally:
            lib.llama_model_default_params = original


def load_llama(llama_cpp: Any, repack: bool, **kwargs: Any) -> Any:
    """`llama_cpp.Llama(**kwargs)` with llama.cpp's extra buffer types (weight repacking) on or off.

    Raises whatever the constructor raises (ValueError for a missing or unreadable file).
    """
    with _default_params(llama_cpp.llama_cpp, repack):
        return llama_cpp.Llama(**kwargs)


def set_repack_globally(llama_cpp: Any, repack: bool) -> None:
    """For a process that only serves (the llama-cpp-python server wrapper): every later load uses `repack`."""
    lib = llama_cpp.llama_cpp
    lib.llama_model_default_params = _with_repack(lib.llama_model_default_params, repack)


def system_info(llama_cpp: Any) -> dict[str, str]:
    """llama.cpp's `llama_print_system_info()` as {feature: value}, e.g. {"AVX512": "1", "AMX_INT8": "1",
    "REPACK": "1", "OPENMP": "1"}: what this build was compiled with and detected at run time."""
    raw = llama_cpp.llama_print_system_info()
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    facts: dict[str, str] = {}
    for part in text.split("|"):
        key, sep, value = part.partition("=")
        key = key.strip().split(":")[-1].strip()
        if sep and key:
            facts[key] = value.strip()
    return facts
