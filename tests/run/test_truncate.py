"""Tests for bench.run.truncate: an over-long input cut left, right or in the middle to fit the context."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bench.backends.base import BackendBase, Request
from bench.backends.fake import FakeBackend, FakeParams
from bench.run.truncate import TruncateMode, cut, fit_input
from bench.suite.spec import GenerationSpec
from bench.tasks.items import Item

WORDS = [f"w{k}" for k in range(10)]


@pytest.mark.parametrize(("mode", "kept"), [
    ("none", WORDS), ("left", WORDS[4:]), ("right", WORDS[:6]), ("middle", [*WORDS[:3], *WORDS[7:]])])
def test_cut_drops_four_tokens_where_the_mode_says(mode: TruncateMode, kept: list[str]) -> None:
    assert cut(WORDS, 4, mode) == kept


def test_cut_keeps_the_longer_half_at_the_start_and_can_empty() -> None:
    assert cut(WORDS, 5, "middle") == [*WORDS[:3], *WORDS[8:]]
    assert cut(WORDS, 10, "left") == [] and cut(WORDS, 12, "right") == [] and cut(WORDS, 9, "middle") == ["w0"]


def build(item: Item) -> Request:
    text = f"Summarize: {item.input}"
    return Request(id=f"{item.id}#0", messages=({"role": "user", "content": text},), completion=text, mode="text",
                   generation=GenerationSpec(max_tokens=5))


@pytest.mark.parametrize(("mode", "start", "end"), [("left", "w6", "w19"), ("right", "w0", "w13"),
                                                    ("middle", "w0", "w19")])
def test_fit_input_cuts_just_enough_tokens(mode: TruncateMode, start: str, end: str) -> None:
    """20 input words + 'Summarize:' + 5 answer tokens = 26 against a window of 20: 6 input tokens go."""
    item = Item(id="long", input=" ".join(f"w{k}" for k in range(20)), expected="x")
    request, removed = fit_input(FakeBackend(FakeParams(n_ctx=20)), item, build, mode)
    words = request.completion.split()[1:]
    assert removed == 6 and len(words) == 14 and words[0] == start and words[-1] == end


def test_fit_input_leaves_what_fits_or_cannot_fit_alone() -> None:
    backend = FakeBackend(FakeParams(n_ctx=20))
    short = Item(id="s", input="a b c", expected="x")
    assert fit_input(backend, short, build, "left") == (build(short), 0)
    long = Item(id="l", input=" ".join(WORDS * 3), expected="x")
    assert fit_input(backend, long, build, "none") == (build(long), 0)
    assert fit_input(FakeBackend(FakeParams(n_ctx=5)), long, build, "middle") == (build(long), 0)  # template > 0
    assert fit_input(NoCounting(FakeParams(n_ctx=5)), long, build, "right") == (build(long), 0)  # cannot count



class NoCounting(FakeBackend):
    """A backend with BackendBase's default token_counter: it cannot count its tokens."""

    def token_counter(self) -> None:
        return BackendBase.token_counter(self)


@pytest.mark.parametrize("mode", ["none", "left", "right", "middle"])
def test_a_run_records_and_reports_truncated_or_refused_items(tmp_path: Path, mode: str) -> None:
    """Issue #16 class 7: an over-long item is refused under `none` (an error, counted over ctx) and cut to fit
    under left / right / middle (recorded per item, counted truncated)."""
    from bench.run.lifecycle import RunRequest, start_run
    from bench.run.progress import SilentProgress
    from bench.suite.plan import PlanOptions

    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": t, "label": "x"}) + "\n"
                            for i, t in [("short", "a b c"), ("long", " ".join(f"w{k}" for k in range(40)))]))
    suite = {"name": "long", "warmup": 0,
             "models": [{"id": "m", "backend": {"kind": "fake", "text": "x", "n_ctx": 30},
                         "generation": {"max_tokens": 5}}],
             "tasks": [{"id": "notes", "dataset": {"path": str(data), "fields": {"input": "text", "expected": "label"}},
                        "prompt": {"user": "Summarize: {input}", "truncate": mode}, "answer": {"mode": "text"},
                        "scorers": ["exact_match"]}]}
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(suite))
    run = start_run(RunRequest(path, PlanOptions(), tmp_path / "results"), SilentProgress()).path
    records = {r["item_id"]: r for r in map(json.loads, (run / "records.jsonl").read_text().splitlines())}
    assert records["short"]["status"] == "ok" and "input_truncated_tokens" not in records["short"]["engine_extra"]
    report = (run / "report.md").read_text()
    if mode == "none":
        assert records["long"]["status"] == "error" and records["long"]["engine_extra"] == {"over_context": True}
        assert "over ctx 1" in report
    else:
        assert records["long"]["status"] == "ok" and records["long"]["prompt_tokens"] == 25  # 30 - 5 answer tokens
        assert records["long"]["engine_extra"]["input_truncated_tokens"] == 16
        assert records["long"]["engine_extra"]["truncate"] == mode
        assert "truncated 1" in report
