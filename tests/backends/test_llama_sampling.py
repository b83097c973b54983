"""The grammar checked on the sampled token only: same greedy output as filtering the whole vocabulary."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from bench.backends.base import Request, Result
from bench.suite.spec import GenerationSpec

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llama]')")

from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams
from bench.backends.llama_sampling import SamplingSettings, TokenSampler

pytestmark = pytest.mark.model
SCHEMA = {"type": "object", "required": ["vendor", "total", "currency"],
          "properties": {"vendor": {"type": "string"}, "total": {"type": "number"}, "currency": {"type": "string"}}}
INVOICES = ("INVOICE 2291\nFrom: Koala Cloud Pty Ltd\nDate: 2024-03-02\nTotal due: AUD 1,240.50",
            "Rechnung Nr. 77-A von Müller GmbH, 12.05.2023. Gesamtbetrag 89,90 EUR inkl. MwSt.",
            "Receipt - Joe's Diner - 2 coffees, 1 bagel. TOTAL $11.25 (tax $0.85)")
CHOICES = ("billing", "technical problem", "shipping")


@pytest.fixture(scope="module")
def smollm() -> Iterator[LlamaCppBackend]:
    # no prompt cache: a cached prefix leaves one prompt token to evaluate alone, whose logits differ slightly
    # from the whole prompt's (llama.cpp's one-token kernels), so both paths must see the same logits
    backend = LlamaCppBackend(LlamaCppParams(model="bundled:smollm2-135m-instruct", n_ctx=512, prefix_cache=False))
    yield backend
    backend.close()


def request(text: str, mode: str, **kw: object) -> Request:
    messages = ({"role": "system", "content": "Extract the invoice fields as JSON."}, {"role": "user", "content": text})
    return Request(id=text[:8], messages=messages, completion=text, mode=mode,  # type: ignore[arg-type]
                   generation=kw.pop("generation", GenerationSpec(max_tokens=48)), **kw)  # type: ignore[arg-type]


def both(backend: LlamaCppBackend, req: Request) -> tuple[Result, Result]:
    """(fast path, whole-vocabulary filter at every step) for one request."""
    backend.grammar_first = True
    try:
        full = next(iter(backend.generate([req])))
    finally:
        backend.grammar_first = False
    return next(iter(backend.generate([req]))), full


@pytest.mark.parametrize("text", INVOICES)
def test_greedy_json_output_is_identical_to_the_full_vocabulary_filter(smollm: LlamaCppBackend, text: str) -> None:
    fast, full = both(smollm, request(text, "json", json_schema=SCHEMA))
    assert fast.error is None and full.error is None
    assert fast.text == full.text and fast.completion_tokens == full.completion_tokens
    assert full.extra["grammar_rejections"] == 0  # the full path never samples outside the grammar


def test_greedy_grammar_choice_is_identical_and_a_label(smollm: LlamaCppBackend) -> None:
    fast, full = both(smollm, request("My parcel never arrived.\nCategory:", "choices", choices=CHOICES,
                                      choice_method="grammar"))
    assert fast.text == full.text and fast.text.strip() in CHOICES


def test_sampled_json_follows_the_schema_after_rejections(smollm: LlamaCppBackend) -> None:
    hot = GenerationSpec(max_tokens=64, temperature=1.5, seed=3)
    results = [next(iter(smollm.generate([request(t, "json", json_schema=SCHEMA, generation=hot)])))
               for t in INVOICES]
    assert sum(r.extra["grammar_rejections"] for r in results) > 0  # hot sampling leaves the grammar often
    for result in results:
        if result.completion_tokens < 64:  # a finished object parses and has the required fields
            assert set(json.loads(result.text)) == {"vendor", "total", "currency"}


def test_the_check_rejects_a_token_the_grammar_forbids(smollm: LlamaCppBackend) -> None:
    lib = smollm.llama_cpp
    sampler = TokenSampler(lib, smollm.vocab, SamplingSettings(grammar='root ::= "yes" | "no"'))
    try:
        yes, brace = (smollm.llm.tokenize(t.encode(), add_bos=False)[0] for t in ("yes", "{"))
        assert sampler.allows(yes) and not sampler.allows(brace)
    finally:
        sampler.close()


def test_an_unparsable_grammar_is_a_clear_error(smollm: LlamaCppBackend) -> None:
    with pytest.raises(ValueError, match="cannot parse the grammar"):
        TokenSampler(smollm.llama_cpp, smollm.vocab, SamplingSettings(grammar="root ::= ("))


PROMPTS = ("Write a short note to a customer whose parcel arrived damaged.",
           "The three largest cities of Australia are")


@pytest.mark.parametrize("model", ["bundled:smollm2-135m-instruct", "bundled:gemma3-270m"])
def test_greedy_argmax_is_llama_cpps_greedy_sampler_token_for_token(model: str) -> None:
    """Unconstrained greedy decoding picks the argmax of the logits row instead of running llama.cpp's sampler
    over the whole vocabulary: the same tokens as llama.cpp's greedy sampler (grammar_first keeps the chain)."""
    backend = LlamaCppBackend(LlamaCppParams(model=model, n_ctx=512, prefix_cache=False))
    try:
        for text in PROMPTS:
            req = Request(id="g", messages=({"role": "user", "content": text},), completion=text, mode="text",
                          generation=GenerationSpec(max_tokens=40))
            fast, chain = both(backend, req)
            assert fast.error is None and chain.error is None
            assert fast.completion_tokens == chain.completion_tokens > 5 and fast.text == chain.text
    finally:
        backend.close()


def test_token_logprob_matches_a_float64_log_softmax() -> None:
    """#15: the per-token log-probability (float32, reused buffer) against scipy's float64 log-softmax."""
    from scipy.special import log_softmax

    from bench.backends.llama_sampling import token_logprob

    row = (np.random.default_rng(3).normal(size=262_144) * 4).astype(np.float32)
    reference = log_softmax(row.astype(np.float64))
    scratch = np.empty(row.size, dtype=np.float32)
    for token in (0, int(np.argmax(row)), 12_345):
        assert token_logprob(row, token, scratch) == pytest.approx(reference[token], abs=1e-5)
    assert token_logprob(row, 7) == pytest.approx(reference[7], abs=1e-5)  # without a buffer
