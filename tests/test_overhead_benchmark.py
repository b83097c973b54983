"""benchmarks/overhead.py's comparison with llama-bench: command lines, exact prompt lengths, cached depth, ratios."""

from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "overhead.py"
SMOLLM = "bundled:smollm2-135m-instruct"


@pytest.fixture(scope="module")
def overhead() -> ModuleType:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llama]')")
    spec = importlib.util.spec_from_file_location("overhead_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_backend(**params: Any) -> Any:
    defaults = {"n_batch": 512, "flash_attn": False} | params
    return SimpleNamespace(path=Path("/m.gguf"), n_threads=3, repack=False, params=SimpleNamespace(**defaults))


def flags(command: list[str]) -> dict[str, str]:
    return dict(zip(command[1::2], command[2::2], strict=True))


def test_llama_bench_gets_the_backends_threads_batch_flash_attn_and_repack(overhead: ModuleType) -> None:
    command = overhead.llama_bench_command(Path("/bin/llama-bench"), fake_backend(flash_attn=True, n_batch=256),
                                           256, 0, 128)
    assert command[0] == "/bin/llama-bench"
    assert flags(command) == {"-m": "/m.gguf", "-t": "3", "-b": "256", "-ub": "256", "-fa": "1", "--repack": "0",
                              "-p": "256", "-n": "0", "-d": "128", "-r": "1", "-o": "json"}


def test_generation_is_measured_at_the_depth_bench_decodes_at(overhead: ModuleType) -> None:
    prompt, generation = overhead.LlamaBench(Path("/lb"), fake_backend(), (256, 64, 512)).commands
    assert (flags(prompt)["-p"], flags(prompt)["-n"], flags(prompt)["-d"]) == ("256", "0", "512")
    assert (flags(generation)["-p"], flags(generation)["-n"], flags(generation)["-d"]) == ("0", "64", "768")


def test_ratios_are_medians_of_paired_ratios_with_a_ci_from_ten_pairs(overhead: ModuleType) -> None:
    rows = [{"bench": {"decode_tps": 90.0 + i}, "llama_bench": {"decode_tps": 100.0}} for i in range(9)]
    few = overhead.ratios(rows, "decode_tps", "llama_bench")
    assert few["median_ratio"] == pytest.approx(0.94) and math.isnan(few["ci_low"]) and few["pairs"] == 9
    rows.append({"bench": {"decode_tps": 200.0}, "llama_bench": {"decode_tps": 100.0}})
    ten = overhead.ratios(rows, "decode_tps", "llama_bench")
    assert ten["median_ratio"] == pytest.approx(0.945)
    assert ten["ci_low"] <= ten["median_ratio"] <= ten["ci_high"] < 1.5  # of the median, not the outlier-led mean


@pytest.mark.parametrize(("given", "wrong"), [({"depths": "0,x"}, "--depths '0,x'"), ({"n_gen": 1}, "--n-gen >= 2"),
                                              ({"depths": "-5"}, "--depths must be >= 0"), ({"pairs": 0}, "--pairs")])
def test_bad_command_lines_are_named(overhead: ModuleType, given: dict[str, Any], wrong: str) -> None:
    good = {"depths": "0,256", "n_prompt": 256, "n_gen": 64, "pairs": None, "warmup": None}
    assert overhead.check_args(argparse.Namespace(**good)) is None
    assert wrong in overhead.check_args(argparse.Namespace(**(good | given)))


def test_a_missing_llama_bench_exits_2_and_says_how_to_build_it(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    done = subprocess.run([sys.executable, str(SCRIPT), "--against", "llama-bench", "--llama-bench",
                           str(tmp_path / "nope"), "--out", str(tmp_path / "o.json")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "build_llama_bench.sh" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o.json").exists()


@pytest.mark.model
def test_prompts_have_exactly_n_tokens_and_depth_is_cached(overhead: ModuleType) -> None:
    from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams

    backend = LlamaCppBackend(LlamaCppParams(model=SMOLLM, prefix_cache=True, n_ctx=256, n_threads=1))
    try:
        for n in (1, 7, 100, 160):
            text = overhead.exact_prompt(backend, n)
            assert len(backend.prompt_tokens(overhead.completion_request(text, 1))) == n
        prompt = overhead.exact_prompt(backend, 160)
        for depth in (0, 96):  # through_bench asserts bench found exactly `depth` tokens cached
            assert overhead.through_bench(backend, 16, prompt=prompt, depth=depth)["out_tokens"] == 16
    finally:
        backend.close()
