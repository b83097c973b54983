"""bench's accuracy on lm-eval tasks equals lm-eval's own run on the same model and settings.

The same GGUF (SmolLM2) answers both sides: bench runs it in process through llama.cpp; lm-eval's own run
sends its requests to llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (multiple choice through
lm-eval's `gguf` model, which reads echoed prompt log-probabilities; generation through `local-completions`,
since `gguf` sends no max_tokens). Both sides add a BOS token (the server needs it for log-probabilities, so
both set tokenizer.ggml.add_bos_token) and decode greedily without a repetition penalty.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from llama_server import free_port, start_server, stop

from bench.cli.main import main
from bench.suite.spec import LmEvalDataset
from bench.tasks.lm_eval_source import lm_eval_items

pytestmark = pytest.mark.model
TASKS = Path(__file__).resolve().parents[2] / "suites" / "lm_eval_tasks"
MC, GEN = "bench_ticket_priority_mc", "bench_ticket_category_gen"
N_DOCS, SHOTS = 5, 2


@pytest.fixture(scope="module")
def bos_server() -> Iterator[str]:
    pytest.importorskip("lm_eval", reason="install the lm-eval extra (the dev extra has it)")
    pytest.importorskip("llama_cpp.server.app", reason="install llama-cpp-python[server] (the dev extra has it)")
    port = free_port()
    proc = start_server(port, ["--kv_overrides", "tokenizer.ggml.add_bos_token=bool:true"])
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture(scope="module")
def bench_records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """bench run on both tasks; records by task id, in document order."""
    folder = tmp_path_factory.mktemp("lm_eval_suite")
    suite = {"name": "lm-eval-agreement", "warmup": 0,
             "models": [{"id": "smollm2", "backend": {
                 "kind": "llama_cpp", "model": "bundled:smollm2-135m-instruct",
                 "kv_overrides": {"tokenizer.ggml.add_bos_token": True}}}],
             "tasks": [{"id": task, "dataset": {"kind": "lm_eval", "task": task, "include_path": str(TASKS),
                                                "num_fewshot": SHOTS},
                        "answer": {"mode": mode}, "scorers": ["lm_eval"], "limit": N_DOCS}
                       for task, mode in ((MC, "choices"), (GEN, "text"))]}
    (folder / "suite.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    assert main(["run", str(folder / "suite.yaml"), "--out", str(folder / "runs")]) == 0
    (run,) = (folder / "runs").iterdir()
    records = [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]
    return {task: sorted((r for r in records if r["task_id"] == task), key=lambda r: int(r["item_id"][4:]))
            for task in (MC, GEN)}


def lm_eval_samples(task: str, model: str, model_args: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                    gen_kwargs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """lm-eval's own evaluation of `task` (first N_DOCS documents): its logged samples, in document order."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.chdir(TASKS)  # the task YAMLs' data_files are relative to their folder
    results = simple_evaluate(model=model, model_args=model_args, tasks=[task], limit=N_DOCS, num_fewshot=SHOTS,
                              task_manager=TaskManager(include_path=str(TASKS), include_defaults=False),
                              log_samples=True, gen_kwargs=gen_kwargs, bootstrap_iters=0)
    assert results is not None
    return sorted(results["samples"][task], key=lambda s: s["doc_id"])


def bench_contexts(task: str) -> list[str]:
    spec = LmEvalDataset(kind="lm_eval", task=task, include_path=str(TASKS), num_fewshot=SHOTS)
    return [item.input for item in lm_eval_items(spec, TASKS)[:N_DOCS]]


def test_multiple_choice_accuracy_equals_lm_evals_own_run(
        bos_server: str, bench_records: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    theirs = lm_eval_samples(MC, "gguf", {"base_url": bos_server}, monkeypatch)
    ours = bench_records[MC]
    assert len(ours) == len(theirs) == N_DOCS
    assert [s["arguments"][0][0] for s in theirs] == bench_contexts(MC)  # the same few-shot prompts
    their_ll = [[resp[0][0] for resp in s["resps"]] for s in theirs]
    for record, lls in zip(ours, their_ll, strict=True):
        # one batched prompt+choice evaluation (server) vs prompt then choice tokens (bench): llama.cpp's
        # kernels depend on the batch size, so log-likelihoods agree closely but not bit for bit
        assert record["choice_logprobs"] == pytest.approx(lls, abs=0.2)
    for metric in ("acc", "acc_norm"):
        assert [r["scores"][metric] for r in ours] == [s[metric] for s in theirs], metric


def test_generation_exact_match_equals_lm_evals_own_run(
        bos_server: str, bench_records: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    args = {"base_url": f"{bos_server}/v1/completions", "model": "smollm2", "tokenizer_backend": None,
            "tokenized_requests": False, "num_concurrent": 1, "max_retries": 1}
    theirs = lm_eval_samples(GEN, "local-completions", args, monkeypatch, gen_kwargs={"repeat_penalty": 1.0})
    ours = bench_records[GEN]
    assert [s["arguments"][0][0] for s in theirs] == bench_contexts(GEN)
    assert sum(bool(r["raw_output"].strip()) for r in ours) >= 2  # real text is compared, not just empties
    assert [r["raw_output"] for r in ours] == [s["resps"][0][0] for s in theirs]
    key = "exact_match,label"
    assert [r["scores"][key] for r in ours] == [s["exact_match"] for s in theirs]
