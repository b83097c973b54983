"""Tests for bench.backends.context_size: the default n_ctx from the GGUF header and the memory available."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.backends.context_size import ContextFacts, choose_n_ctx, read_context_facts
from bench.backends.model_files import resolve_model
from bench.errors import BackendError

SMOLLM = ContextFacts(context_length=8192, n_layer=30, n_head_kv=3, key_length=64, value_length=64)
GEMMA = ContextFacts(context_length=32768, n_layer=18, n_head_kv=1, key_length=256, value_length=256)


def bundled(ref: str) -> Path:
    try:
        return resolve_model(ref)
    except BackendError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize(("ref", "facts"), [("bundled:smollm2-135m-instruct", SMOLLM),
                                            ("bundled:gemma3-270m", GEMMA)])
def test_the_bundled_models_headers(ref: str, facts: ContextFacts) -> None:
    """Issue #16 class 7: SmolLM2 supports 8,192 tokens, Gemma-3-270M 32,768 (not the old default 4,096)."""
    assert read_context_facts(bundled(ref)) == facts


def test_kv_bytes_per_token_is_layers_kv_heads_key_and_value_width_f16() -> None:
    assert SMOLLM.kv_bytes_per_token == 30 * 3 * (64 + 64) * 2 == 23_040
    assert GEMMA.kv_bytes_per_token == 18 * 1 * (256 + 256) * 2 == 18_432


def test_n_ctx_is_what_the_model_supports_when_memory_allows() -> None:
    n_ctx, why = choose_n_ctx(SMOLLM, 16 * 10**9)
    assert n_ctx == 8192
    assert why.startswith("auto: the model supports 8192; 50% of 16.0 GB available holds 347222 tokens")
    assert choose_n_ctx(GEMMA, 16 * 10**9)[0] == 32768


def test_n_ctx_is_capped_by_memory_rounded_to_the_kv_padding() -> None:
    assert choose_n_ctx(SMOLLM, 100 * 10**6)[0] == 2048  # 0.5 × 1e8 / 23040 = 2170 tokens -> 2048
    assert choose_n_ctx(GEMMA, 10**6)[0] == 512  # never below MIN_N_CTX


def test_a_model_without_context_length_gets_the_fallback() -> None:
    facts = ContextFacts(context_length=None, n_layer=2, n_head_kv=2, key_length=8, value_length=8)
    n_ctx, why = choose_n_ctx(facts, 10**9)
    assert n_ctx == 4096 and "no context_length (fallback 4096)" in why


def test_a_file_that_is_not_gguf_falls_back_with_the_reason(tmp_path: Path) -> None:
    from bench.backends.llama_cpp import default_n_ctx

    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"not a gguf file at all")
    n_ctx, why = default_n_ctx(bad)
    assert n_ctx == 4096 and why.startswith("auto: fallback 4096, the GGUF header could not be read")
