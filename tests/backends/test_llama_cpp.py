"""The llama.cpp backend on the real bundled SmolLM2 model (and Gemma where the prompt format matters)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from bench.backends.base import Request, Result
from bench.suite.spec import GenerationSpec

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llama]')")

from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams  # noqa: E402

pytestmark = pytest.mark.model
SMOLLM = "bundled:smollm2-135m-instruct"
MESSAGES = ({"role": "system", "content": "You classify support tickets."},
            {"role": "user", "content": "My card was charged twice for order 1234.\nCategory:"})
COMPLETION = "You classify support tickets.\n\nMy card was charged twice for order 1234.\nCategory:"
CHOICES = ("billing", "technical problem", "shipping", "returns and refunds")


@pytest.fixture(scope="module")
def smollm() -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend(LlamaCppParams(model=SMOLLM, n_ctx=1024))
    yield backend
    backend.close()


def ask(backend: LlamaCppBackend, mode: str, **kw: object) -> Result:
    gen = kw.pop("generation", GenerationSpec(max_tokens=24))
    request = Request(id="r", messages=MESSAGES, completion=COMPLETION, mode=mode,  # type: ignore[arg-type]
                      generation=gen, **kw)  # type: ignore[arg-type]
    return next(iter(backend.generate([request])))


def reference_logprob(path: str, prompt: list[int], option: list[int], stepwise: bool) -> float:
    """Independent check from a fresh model with logits kept for every position.

    stepwise=False evaluates prompt+option in one batch; True feeds the option one token at a time as the
    backend does. llama.cpp's kernels differ slightly by batch size, so only the stepwise one is bit-exact.
    """
    llm = llama_cpp.Llama(model_path=path, n_ctx=1024, logits_all=True, verbose=False)
    try:
        if stepwise:
            llm.eval(prompt)
            for token in option[:-1]:
                llm.eval([token])
        else:
            llm.eval(prompt + option)
        rows = np.asarray(llm.scores[len(prompt) - 1: len(prompt) + len(option) - 1], dtype=np.float64)
    finally:
        llm.close()
    logprobs = rows - rows.max(axis=1, keepdims=True)
    logprobs -= np.log(np.exp(logprobs).sum(axis=1, keepdims=True))
    return float(sum(logprobs[i, tok] for i, tok in enumerate(option)))


def test_info_records_engine_model_hash_and_settings(smollm: LlamaCppBackend) -> None:
    info = smollm.info()
    assert info.engine_version == llama_cpp.__version__
    assert len(info.model_sha256 or "") == 64
    assert info.settings["flash_attn"] is False
    assert info.settings["n_threads"] >= 1
    assert info.settings["prompt_format"] == "chat"


def test_chat_template_is_applied_for_the_instruct_model(smollm: LlamaCppBackend) -> None:
    request = Request(id="r", messages=MESSAGES, completion=COMPLETION, mode="text", generation=GenerationSpec())
    text, _ = smollm.prompt_text(request)
    assert "<|im_start|>user" in text and text.endswith("<|im_start|>assistant\n")


def test_loglik_choice_matches_an_independent_full_evaluation(smollm: LlamaCppBackend) -> None:
    result = ask(smollm, "choices", choices=CHOICES)
    assert result.error is None and result.choice_logprobs is not None
    request = Request(id="r", messages=MESSAGES, completion=COMPLETION, mode="choices", generation=GenerationSpec(),
                      choices=CHOICES)
    prompt = smollm.prompt_tokens(request)
    for option, got in zip(CHOICES, result.choice_logprobs, strict=True):
        tokens = smollm._continuation_tokens(request, prompt, option)
        assert got == pytest.approx(reference_logprob(str(smollm.path), prompt, tokens, stepwise=True), abs=1e-6)
        assert got == pytest.approx(reference_logprob(str(smollm.path), prompt, tokens, stepwise=False), abs=0.3)
    assert result.choice_index == int(np.argmax(result.choice_logprobs))
    assert result.text == CHOICES[result.choice_index]


def test_prefix_cache_gives_the_same_scores_as_a_cold_prompt(smollm: LlamaCppBackend) -> None:
    warm = ask(smollm, "choices", choices=CHOICES)
    again = ask(smollm, "choices", choices=CHOICES)
    assert again.cached_prompt_tokens == again.prompt_tokens - 1
    cold = LlamaCppBackend(LlamaCppParams(model=SMOLLM, n_ctx=1024, prefix_cache=False))
    try:
        fresh = ask(cold, "choices", choices=CHOICES)
    finally:
        cold.close()
    assert fresh.cached_prompt_tokens == 0
    assert fresh.choice_logprobs == pytest.approx(warm.choice_logprobs, abs=1e-3)
    assert again.choice_logprobs == pytest.approx(warm.choice_logprobs, abs=1e-3)


def test_json_mode_output_follows_the_schema(smollm: LlamaCppBackend) -> None:
    schema = {"type": "object", "required": ["category", "urgent"],
              "properties": {"category": {"type": "string", "enum": ["billing", "technical"]},
                             "urgent": {"type": "boolean"}}}
    result = ask(smollm, "json", json_schema=schema, generation=GenerationSpec(max_tokens=40))
    data = json.loads(result.text)
    assert data["category"] in {"billing", "technical"} and isinstance(data["urgent"], bool)


def test_grammar_choice_returns_one_of_the_labels(smollm: LlamaCppBackend) -> None:
    result = ask(smollm, "choices", choices=CHOICES, choice_method="grammar")
    assert result.error is None
    assert result.text.strip() in CHOICES and result.choice_index == CHOICES.index(result.text.strip())


def test_streamed_text_has_ordered_raw_timestamps_and_token_counts(smollm: LlamaCppBackend) -> None:
    result = ask(smollm, "text", generation=GenerationSpec(max_tokens=12))
    assert result.error is None and result.text
    assert result.t_first_token is not None
    assert result.t_start <= result.t_first_token <= result.t_end
    assert 1 <= result.completion_tokens <= 12
    assert result.prompt_tokens > 10


def test_greedy_decoding_is_deterministic(smollm: LlamaCppBackend) -> None:
    first = ask(smollm, "text", generation=GenerationSpec(max_tokens=16))
    second = ask(smollm, "text", generation=GenerationSpec(max_tokens=16))
    assert first.text == second.text


def test_stop_strings_cut_the_output(smollm: LlamaCppBackend) -> None:
    free = ask(smollm, "text", generation=GenerationSpec(max_tokens=24))
    assert len(free.text) > 3
    stop = free.text[2:4]
    cut = ask(smollm, "text", generation=GenerationSpec(max_tokens=24, stop=(stop,)))
    assert stop not in cut.text and free.text.startswith(cut.text)


def test_too_long_prompt_is_a_recorded_error_not_a_crash() -> None:
    backend = LlamaCppBackend(LlamaCppParams(model=SMOLLM, n_ctx=64))
    try:
        result = ask(backend, "text", generation=GenerationSpec(max_tokens=60))
    finally:
        backend.close()
    assert result.error is not None and "does not fit n_ctx" in result.error


def test_default_n_ctx_is_what_the_model_supports_and_longer_prompts_are_flagged() -> None:
    """Issue #16 class 7: no n_ctx in the suite -> SmolLM2's own 8,192 (not 4,096), chosen and explained in the
    backend settings; an 11,678-token prompt is still refused, flagged over_context; an answer stopped by
    max_tokens says finish_reason length."""
    backend = LlamaCppBackend(LlamaCppParams(model=SMOLLM, parallel=1))
    try:
        assert backend.params.n_ctx == 8192
        assert str(backend.info().settings["n_ctx_reason"]).startswith("auto: the model supports 8192; 50% of ")
        words = " ".join(["ticket"] * 11_678)
        request = Request(id="long", messages=({"role": "user", "content": words},), completion=words, mode="text",
                          generation=GenerationSpec(max_tokens=8))
        long = next(iter(backend.generate([request])))
        cut = ask(backend, "text", generation=GenerationSpec(max_tokens=2))
    finally:
        backend.close()
    assert long.prompt_tokens > 11_678 and "does not fit n_ctx=8192" in str(long.error)
    assert long.extra == {"over_context": True}
    assert cut.error is None and cut.completion_tokens == 2 and cut.extra["finish_reason"] == "length"


def test_base_model_uses_plain_completion_and_a_space_before_the_label() -> None:
    backend = LlamaCppBackend(LlamaCppParams(model="bundled:gemma3-270m", n_ctx=512))
    try:
        assert backend.default_format() == "completion"
        request = Request(id="r", messages=MESSAGES, completion=COMPLETION, mode="choices",
                          generation=GenerationSpec(), choices=CHOICES)
        assert backend.prompt_text(request) == (COMPLETION, False)
        prompt = backend.prompt_tokens(request)
        spaced = backend._continuation_tokens(request, prompt, "billing")
        assert backend._detok(spaced).startswith(" billing")
    finally:
        backend.close()


def test_router_signals_for_choices_and_generation(smollm: LlamaCppBackend) -> None:
    """#15: option probabilities from the log-likelihoods; each generated token's log-probability, checked against
    a fresh model's logits (llama-cpp-python, logits_all) and equal on the batched path."""
    from bench.metrics.confidence import confidence

    picked = ask(smollm, "choices", choices=CHOICES)
    signals = confidence(picked.choice_logprobs, None)
    assert signals is not None and signals.option_probs is not None
    assert sum(signals.option_probs) == pytest.approx(1.0)
    assert signals.option_probs.index(signals.max_prob) == picked.choice_index
    assert 0 < signals.margin <= signals.max_prob and signals.token_logprob_mean is None  # type: ignore[operator]

    request = Request(id="g", messages=MESSAGES, completion=COMPLETION, mode="text",
                      generation=GenerationSpec(max_tokens=6))
    smollm.reset_cache()
    result = next(iter(smollm.generate([request])))
    logprobs = result.token_logprobs
    assert logprobs is not None and len(logprobs) == result.completion_tokens >= 3
    assert all(-50 < lp <= 0 for lp in logprobs)
    prompt = smollm.prompt_tokens(request)
    out = list(smollm.llm.input_ids[len(prompt): smollm.llm.n_tokens])  # every generated token but the last
    assert len(out) == len(logprobs) - 1
    assert sum(logprobs[:-1]) == pytest.approx(reference_logprob(str(smollm.path), prompt, out, stepwise=True),
                                               abs=1e-3)
    batched = list(smollm.generate_load([request, Request(id="h", messages=MESSAGES[:1], completion="Hi",
                                                          mode="text", generation=GenerationSpec(max_tokens=4))],
                                        parallel=2, arrivals=None))
    same = next(r for r in batched if r.request_id == "g")
    assert same.text == result.text and same.token_logprobs == pytest.approx(logprobs, abs=1e-4)
