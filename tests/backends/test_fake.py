"""The scripted fake backend used by fast tests."""

from __future__ import annotations

import json

from bench.backends.base import BACKENDS, Request
from bench.backends.fake import FakeBackend, FakeParams
from bench.suite.spec import GenerationSpec


def request(mode: str = "text", choices: tuple[str, ...] = ()) -> Request:
    return Request(id="r", messages=(), completion="a b c", mode=mode,  # type: ignore[arg-type]
                   generation=GenerationSpec(), choices=choices)


def test_registered_under_fake() -> None:
    assert BACKENDS.get("fake") is FakeBackend


def test_answers_by_choice_json_or_text_with_ordered_timings() -> None:
    backend = FakeBackend(FakeParams(choice_index=1, json_output={"a": 1}, text="hi"))
    picked, as_json, text = (next(iter(backend.generate([r]))) for r in
                             (request("choices", ("x", "y")), request("json"), request()))
    assert (picked.choice_index, picked.text) == (1, "y")
    assert json.loads(as_json.text) == {"a": 1}
    assert text.text == "hi" and text.prompt_tokens == 3
    assert text.t_start <= (text.t_first_token or 0) <= text.t_end


def test_every_nth_request_fails() -> None:
    backend = FakeBackend(FakeParams(fail_every=2))
    results = list(backend.generate([request() for _ in range(4)]))
    assert [r.error is not None for r in results] == [False, True, False, True]
