"""llama.cpp's weight-repacking switch: the auto rule (off on AMX CPUs, llama.cpp#20824), the value reaching
llama.cpp, the `repack:` field's validation, the server wrapper's flag and the build's system info."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bench.backends import llama_load
from bench.backends.llama_cpp import LlamaCppParams
from bench.backends.llama_load import cpu_flags, resolve_repack, system_info
from bench.backends.llama_server import split_repack

SAPPHIRE_RAPIDS = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n"
ZEN4 = "processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16\n"
GRAVITON = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 asimddp sve i8mm\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


def test_cpu_flags_reads_x86_flags_and_arm_features(tmp_path: Path) -> None:
    assert {"amx_tile", "amx_int8", "avx512f"} <= cpu_flags(write(tmp_path, SAPPHIRE_RAPIDS))
    assert {"asimd", "sve"} <= cpu_flags(write(tmp_path, GRAVITON))
    assert cpu_flags(tmp_path / "missing") == frozenset()


@pytest.mark.parametrize(("cpuinfo", "repack", "reason"), [
    (SAPPHIRE_RAPIDS, False, "auto: AMX present (amx_bf16, amx_int8, amx_tile), llama.cpp#20824"),
    (ZEN4, True, "auto: no AMX"),
    (GRAVITON, True, "auto: no AMX"),
])
def test_auto_turns_repacking_off_only_on_amx(tmp_path: Path, cpuinfo: str, repack: bool, reason: str) -> None:
    assert resolve_repack("auto", cpu_flags(write(tmp_path, cpuinfo))) == (repack, reason)


def test_an_explicit_setting_wins_over_the_cpu(tmp_path: Path) -> None:
    amx = cpu_flags(write(tmp_path, SAPPHIRE_RAPIDS))
    assert resolve_repack(True, amx) == (True, "set: repack true")
    assert resolve_repack(False, cpu_flags(write(tmp_path, ZEN4))) == (False, "set: repack false")


@pytest.mark.parametrize("value", ["auto", True, False])
def test_repack_accepts_auto_true_false(value: Any) -> None:
    assert LlamaCppParams(model="bundled:smollm2-135m-instruct", repack=value).repack == value


@pytest.mark.parametrize("value", ["maybe", 1, 0, "yes", None])
def test_repack_refuses_anything_else_naming_the_allowed_values(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        LlamaCppParams(model="bundled:smollm2-135m-instruct", repack=value)
    assert "use auto, true or false" in str(caught.value)


def test_the_server_wrapper_takes_its_flag_and_passes_the_rest() -> None:
    assert split_repack(["--model", "m.gguf", "--repack", "false", "--port", "1"]) == (False, [
        "--model", "m.gguf", "--port", "1"])
    assert split_repack(["--repack=TRUE"]) == (True, [])
    assert split_repack(["--port", "1"]) == ("auto", ["--port", "1"])
    with pytest.raises(SystemExit, match="use auto, true or false"):
        split_repack(["--repack", "maybe"])


def test_system_info_is_parsed_into_features() -> None:
    class Lib:
        @staticmethod
        def llama_print_system_info() -> bytes:
            return b"CPU : SSE3 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | "

    assert system_info(Lib) == {"SSE3": "1", "AVX512": "1", "AMX_INT8": "1", "REPACK": "1"}


@pytest.mark.model
@pytest.mark.parametrize("repack", [True, False])
def test_the_setting_reaches_llama_cpp(repack: bool, capfd: pytest.CaptureFixture[str]) -> None:
    """Gemma's Q4_K weights are repacked (q4_K_8x8) into a CPU_REPACK buffer only when repacking is on."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from bench.backends.model_files import resolve_model

    llm = llama_load.load_llama(llama_cpp, repack, model_path=str(resolve_model("bundled:gemma3-270m")), n_ctx=64,
                                verbose=True)
    llm.close()
    log = capfd.readouterr().err
    assert "CPU_Mapped model buffer size" in log
    assert ("CPU_REPACK model buffer size" in log) is repack
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts is True  # the patch is undone


@pytest.mark.model
def test_the_backend_loads_with_its_resolved_setting_and_records_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.backends.llama_cpp import LlamaCppBackend

    seen: list[bool] = []
    original = llama_load.load_llama

    def spy(lib: Any, repack: bool, **kwargs: Any) -> Any:
        seen.append(repack)
        return original(lib, repack, **kwargs)

    monkeypatch.setattr("bench.backends.llama_cpp.load_llama", spy)
    backend = LlamaCppBackend(LlamaCppParams(model="bundled:smollm2-135m-instruct", repack=False, n_ctx=256))
    try:
        settings = backend.info().settings
    finally:
        backend.close()
    assert seen == [False]
    assert (settings["repack"], settings["repack_reason"]) == (False, "set: repack false")
    assert settings["system_info"]["REPACK"] in {"0", "1"}
