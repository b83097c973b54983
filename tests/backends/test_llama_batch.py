"""Batched llama.cpp decoding (several sequences per llama_decode) against single-stream decoding."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.backends.base import Request, Result
from bench.run.load_modes import drive
from bench.suite.spec import GenerationSpec, LoadSpec

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llama]')")

from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams

pytestmark = pytest.mark.model
TICKETS = ("I was charged twice for my order.", "The app crashes when I open settings.",
           "My parcel is two weeks late.", "I want to return these shoes.", "Great service, thanks!")
CHOICES = ("billing", "technical problem", "shipping", "returns and refunds", "feedback")


@pytest.fixture(scope="module")
def smollm() -> Iterator[LlamaCppBackend]:
    backend = LlamaCppBackend(LlamaCppParams(model="bundled:smollm2-135m-instruct", n_ctx=512, parallel=3))
    yield backend
    backend.close()


def requests(mode: str, **kw: object) -> list[Request]:
    system = {"role": "system", "content": f"Classify the support ticket: {', '.join(CHOICES)}."}
    return [Request(id=f"t{i}", messages=(system, {"role": "user", "content": f"Ticket: {text}\nCategory:"}),
                    completion=text, mode=mode, generation=GenerationSpec(max_tokens=12), **kw)  # type: ignore[arg-type]
            for i, text in enumerate(TICKETS)]


def by_id(results: Iterator[Result]) -> dict[str, Result]:
    return {r.request_id: r for r in results}


def test_batched_choice_scores_equal_single_stream_ones(smollm: LlamaCppBackend) -> None:
    batch = requests("choices", choices=CHOICES)
    smollm.reset_cache()
    single = by_id(smollm.generate(batch))
    smollm.reset_cache()
    batched = by_id(drive(smollm, batch, LoadSpec(mode="throughput")))
    for request in batch:
        one, many = single[request.id], batched[request.id]
        assert many.error is None and many.choice_index == one.choice_index
        assert many.choice_logprobs == one.choice_logprobs  # bit-identical: each sequence has its own KV stream


def test_batched_greedy_text_equals_single_stream_and_timings_are_per_sequence(smollm: LlamaCppBackend) -> None:
    batch = requests("text")
    smollm.reset_cache()
    single = by_id(smollm.generate(batch))
    smollm.reset_cache()
    batched = by_id(drive(smollm, batch, LoadSpec(mode="concurrency", concurrency=3)))
    assert {r: batched[r].text for r in batched} == {r: single[r].text for r in single}
    for result in batched.values():
        assert result.t_first_token is not None and result.t_start <= result.t_first_token <= result.t_end
        assert result.completion_tokens == single[result.request_id].completion_tokens
    admitted = sorted(r.t_start for r in batched.values())
    assert admitted[3] >= min(r.t_end for r in batched.values())  # at most 3 in flight: the 4th waits for a slot


def test_a_prompt_that_does_not_fit_fails_alone(smollm: LlamaCppBackend) -> None:
    batch = requests("text")
    long = Request(id="long", messages=({"role": "user", "content": "word " * 600},), completion="",
                   mode="text", generation=GenerationSpec(max_tokens=8))
    results = by_id(drive(smollm, [*batch[:2], long], LoadSpec(mode="throughput")))
    assert "does not fit n_ctx=512" in (results["long"].error or "")
    assert results["t0"].error is None and results["t1"].error is None


def test_sequences_admitted_together_evaluate_their_shared_prefix_once(smollm: LlamaCppBackend) -> None:
    """The first wave of a throughput run starts on empty slots: every sequence after the first copies the KV
    stream holding the shared system prompt instead of evaluating it again, with the same greedy texts and
    choice log-likelihoods as single-stream decoding."""
    from bench.backends.llama_batch import BORROW_MIN

    for mode, kw in (("text", {}), ("choices", {"choices": CHOICES})):
        batch = requests(mode, **kw)[:3]
        smollm.reset_cache()
        single = by_id(smollm.generate(batch))
        smollm.reset_cache()
        batched = by_id(drive(smollm, batch, LoadSpec(mode="throughput")))
        cached = sorted(r.cached_prompt_tokens for r in batched.values())
        assert cached[0] == 0 and cached[1] >= BORROW_MIN and cached[2] >= BORROW_MIN
        for request in batch:
            one, many = single[request.id], batched[request.id]
            assert many.error is None and many.text == one.text and many.choice_logprobs == one.choice_logprobs
            assert many.prompt_tokens == one.prompt_tokens and many.completion_tokens == one.completion_tokens
