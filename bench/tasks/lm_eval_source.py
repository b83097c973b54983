"""lm-eval tasks as a bench dataset.

lm-eval builds everything task-specific (its YAML, documents, prompt templates, few-shot examples, generation
settings); each document becomes one bench Item carrying its requests, which bench's backends answer under
any load mode while bench measures speed, memory and cost. lm-eval's own filters and process_results then
score each document (bench/tasks/lm_eval_scorer.py), so the metric is lm-eval's.

Mapping: a multiple-choice document (one context, one loglikelihood request per choice) becomes one `choices`
request scored by log-likelihood; a generate_until document one `text` request with the task's stop strings
and token budget. Prompts are plain completions, as lm-eval sends them without --apply_chat_template.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.backends.base import Request
from bench.errors import Problem, SpecError
from bench.optional import require
from bench.suite.spec import GenerationSpec, LmEvalDataset
from bench.tasks.items import Item

INSTALL = "pip install -e '.[lm-eval]'"
PAYLOAD = "_lm_eval"
"""Item.fields key holding a document's requests."""
SUPPORTED = ("multiple_choice", "generate_until")
DEFAULT_MAX_GEN_TOKS = 256  # lm-eval's default for HF and API models


@contextlib.contextmanager
def _working_dir(path: Path | None) -> Iterator[None]:
    """Relative data_files in a task YAML resolve from the working directory; make that the YAML folder."""
    if path is None:
        yield
        return
    saved = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(saved)


def _quiet() -> None:
    """No progress bars or INFO lines from lm-eval and datasets inside bench's own progress display."""
    import datasets

    datasets.disable_progress_bars()
    logging.getLogger("lm_eval").setLevel(logging.ERROR)


def include_dir(spec: LmEvalDataset, base_dir: Path) -> Path | None:
    if spec.include_path is None:
        return None
    path = Path(spec.include_path).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def load_task(spec: LmEvalDataset, base_dir: Path) -> Any:
    """The lm-eval Task with every request built (cached per process); SpecError names what is wrong."""
    return _load_task(spec, include_dir(spec, base_dir))


@functools.lru_cache(maxsize=16)
def _load_task(spec: LmEvalDataset, folder: Path | None) -> Any:
    require("lm_eval", "the lm_eval dataset kind", INSTALL)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no hub here: local data files only
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    _quiet()
    from lm_eval.tasks import TaskManager

    if folder is not None and not folder.is_dir():
        raise SpecError([Problem(str(folder), "include_path", "folder of lm-eval task YAMLs not found",
                                 "include_path is relative to the suite file")])
    with _working_dir(folder), contextlib.redirect_stderr(io.StringIO()):  # lm-eval's tqdm bars
        manager = TaskManager(include_path=str(folder) if folder else None, include_defaults=folder is None)
        if spec.task not in manager.all_tasks:
            raise SpecError([Problem(str(folder or "lm-eval"), "task", f"no lm-eval task named '{spec.task}'",
                                     "check the task: key of the YAML in include_path")])
        try:
            loaded = manager.load([spec.task])["tasks"]
        except Exception as exc:  # lm-eval raises whatever its YAML, template or dataset loading raised
            raise SpecError([Problem(str(folder or "lm-eval"), spec.task,
                                     f"lm-eval cannot load the task: {type(exc).__name__}: {exc}")]) from None
    if len(loaded) != 1:
        raise SpecError([Problem(str(folder or "lm-eval"), spec.task,
                                 f"'{spec.task}' is a group of {len(loaded)} tasks", "list each task in the suite")])
    (task,) = loaded.values()
    with contextlib.redirect_stderr(io.StringIO()):
        _configure(task, spec)
    return task


def _configure(task: Any, spec: LmEvalDataset) -> None:
    """Few-shot count and seed exactly as lm-eval's simple_evaluate sets them, then every request."""
    output_type = task.get_config("output_type")
    if output_type not in SUPPORTED:
        raise SpecError([Problem("lm-eval", spec.task, f"output_type {output_type} is not supported",
                                 f"bench runs {' and '.join(SUPPORTED)} tasks")])
    if spec.num_fewshot is not None and task.get_config("num_fewshot") != 0:
        task.set_config(key="num_fewshot", value=spec.num_fewshot)
    elif task.get_config("num_fewshot") is None:
        task.set_config(key="num_fewshot", value=0)
    task.set_fewshot_seed(seed=spec.fewshot_seed)
    task.build_all_requests(limit=None, rank=0, world_size=1)


def output_type(task: Any) -> str:
    return str(task.get_config("output_type"))


def instances_by_doc(task: Any) -> dict[int, list[Any]]:
    """A task's requests grouped by document, in lm-eval's order within each document."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for instance in task.instances:
        grouped[instance.doc_id].append(instance)
    return {doc_id: sorted(group, key=lambda i: i.idx) for doc_id, group in sorted(grouped.items())}


def lm_eval_items(spec: LmEvalDataset, base_dir: Path) -> list[Item]:
    """One Item per document, in lm-eval's document order (so `limit: N` takes lm-eval's first N)."""
    task = load_task(spec, base_dir)
    return [_item(task, doc_id, group) for doc_id, group in instances_by_doc(task).items()]


def _item(task: Any, doc_id: int, group: list[Any]) -> Item:
    first = group[0]
    context = first.args[0]
    if (first.repeats or 1) > 1:
        raise SpecError([Problem("lm-eval", task.config.task, f"the task samples each request {first.repeats} times",
                                 "bench answers each request once (set repeats: 1)")])
    if first.request_type == "loglikelihood":
        if any(inst.args[0] != context for inst in group):
            raise SpecError([Problem("lm-eval", task.config.task, f"document {doc_id} has one context per choice",
                                     "bench scores choices that share one context (not winogrande-style tasks)")])
        payload: dict[str, Any] = {"doc_id": doc_id, "type": "loglikelihood", "context": context,
                                   "continuations": [inst.args[1] for inst in group]}
        target = task.doc_to_target(first.doc)
        choices = payload["continuations"]
        expected = choices[target].strip() if isinstance(target, int) and 0 <= target < len(choices) else str(target)
    else:
        payload = {"doc_id": doc_id, "type": "generate_until", "context": context, "gen_kwargs": dict(first.args[1])}
        expected = str(task.doc_to_target(first.doc))
    return Item(id=f"doc-{doc_id}", input=context, expected=expected, fields={PAYLOAD: payload})


def is_lm_eval_item(item: Item) -> bool:
    return PAYLOAD in item.fields


def lm_eval_request(item: Item, request_id: str, generation: GenerationSpec) -> Request:
    """The bench Request for a document: choices by log-likelihood, or text with the task's generation settings."""
    payload = item.fields[PAYLOAD]
    context = payload["context"]
    messages = ({"role": "user", "content": context},)
    if payload["type"] == "loglikelihood":
        context, continuations = _move_trailing_space(context, payload["continuations"])
        return Request(id=request_id, messages=messages, completion=context, mode="choices", generation=generation,
                       choices=tuple(continuations), choice_method="loglik", prompt_format="completion",
                       continuation_delimiter="")
    return Request(id=request_id, messages=messages, completion=context, mode="text",
                   generation=generation_settings(payload["gen_kwargs"], generation.seed), prompt_format="completion")


def _move_trailing_space(context: str, continuations: list[str]) -> tuple[str, list[str]]:
    """lm-eval moves a context's trailing whitespace onto each continuation before tokenizing the pair."""
    n_spaces = len(context) - len(context.rstrip())
    if not n_spaces:
        return context, continuations
    return context[:-n_spaces], [context[-n_spaces:] + c for c in continuations]


def generation_settings(gen_kwargs: dict[str, Any], seed: int) -> GenerationSpec:
    """lm-eval's generation_kwargs (until, max_gen_toks, do_sample, temperature) as bench settings."""
    until = gen_kwargs.get("until") or []
    stop = (until,) if isinstance(until, str) else tuple(until)
    sample = bool(gen_kwargs.get("do_sample", False))
    temperature = float(gen_kwargs.get("temperature", 1.0)) if sample else 0.0  # HF's default when sampling
    return GenerationSpec(max_tokens=int(gen_kwargs.get("max_gen_toks", DEFAULT_MAX_GEN_TOKS)),
                          temperature=temperature, top_p=float(gen_kwargs.get("top_p", 1.0)), seed=seed, stop=stop)


def lm_eval_fingerprint(spec: LmEvalDataset, base_dir: Path) -> str:
    """sha256 of every document's requests and target: changes with the data, templates or few-shot examples."""
    items = lm_eval_items(spec, base_dir)
    payload = json.dumps([[item.fields[PAYLOAD], item.expected] for item in items], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
