"""The `lm_eval` dataset kind: an lm-eval task (its YAML, prompts, filters, metrics) whose requests bench's
backends answer. Validation resolves the task in a child process (bench.tasks.lm_eval_probe); items, requests
and the fingerprint import lm-eval (bench.tasks.lm_eval_source) only when a run needs them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from bench.errors import Problem
from bench.suite.spec import GenerationSpec, LmEvalDataset, PromptSpec, TaskSpec
from bench.tasks.dataset_kinds import DatasetKind, Where
from bench.tasks.datasets import resolve_path
from bench.tasks.items import Item
from bench.tasks.lm_eval_probe import probe_task

if TYPE_CHECKING:
    from bench.backends.base import Request


class LmEvalKind(DatasetKind):
    """Documents of an lm-eval task, each with the requests lm-eval built (few-shot, templates, its seed)."""

    Params = LmEvalDataset
    builds_requests: ClassVar[bool] = True
    limit: ClassVar[Literal["sample", "first"]] = "first"

    def items(self, params: LmEvalDataset, base_dir: Path) -> list[Item]:
        from bench.tasks.lm_eval_source import lm_eval_items

        return lm_eval_items(params, base_dir)

    def check(self, task: TaskSpec, params: LmEvalDataset, where: Where) -> list[Problem]:
        task_at = Where(where.file, where.location.rpartition(".dataset")[0], where.base_dir)
        return check_lm_eval_task(task, params, task_at)

    def fingerprint(self, params: LmEvalDataset, base_dir: Path) -> dict[str, str]:
        from bench.tasks.lm_eval_source import lm_eval_fingerprint

        return {f"lm_eval:{params.task}": lm_eval_fingerprint(params, base_dir)}

    def request(self, item: Item, request_id: str, generation: GenerationSpec) -> Request:
        from bench.tasks.lm_eval_source import lm_eval_request

        return lm_eval_request(item, request_id, generation)


def check_lm_eval_task(task: TaskSpec, dataset: LmEvalDataset, at: Where) -> list[Problem]:
    """The lm-eval task loads, bench can run its output type, and the suite leaves prompts and scoring to it.
    `at.location` is the task's field path (tasks[i])."""
    where, file, base_dir = at.location, at.file, at.base_dir
    include_problem = _check_include_path(dataset, base_dir)
    if include_problem:  # before lm-eval is imported: it would read every YAML under the folder
        return [Problem(file, f"{where}.dataset.include_path", include_problem,
                        "point it at the folder that holds your task YAMLs")]
    problems = []
    if [ref.name for ref in task.scorers] != ["lm_eval"]:
        problems.append(Problem(file, f"{where}.scorers", "an lm_eval dataset is scored by lm-eval's own metrics",
                                "set scorers: [lm_eval]"))
    if task.few_shot is not None or task.prompt != PromptSpec():
        problems.append(Problem(file, where, "lm-eval builds the prompt and few-shot examples of its tasks",
                                "remove prompt/few_shot; use dataset.num_fewshot"))
    probe = probe_task(dataset, base_dir)  # in a child process: lm-eval never loads in this one
    if probe.problems:
        return problems + [_located(p, file, where) for p in probe.problems]
    if probe.output_type is None:
        return [*problems, Problem(file, f"{where}.dataset", probe.error or "lm-eval said nothing of the task")]
    wanted = {"multiple_choice": "choices", "generate_until": "text"}[probe.output_type]
    if task.answer.mode != wanted or (wanted == "choices" and task.answer.method != "loglik"):
        problems.append(Problem(file, f"{where}.answer", f"lm-eval task '{dataset.task}' is "
                                f"{probe.output_type}", f"set answer: {{mode: {wanted}}}"))
    return problems


MAX_INCLUDE_ENTRIES = 2000
"""lm-eval reads every YAML under include_path; a folder with more files than this (e.g. `/`) is refused."""


def _check_include_path(dataset: LmEvalDataset, base_dir: Path) -> str | None:
    """Why include_path cannot be used (not a folder, or a folder too large to scan), or None."""
    if dataset.include_path is None:
        return None
    folder = resolve_path(dataset.include_path, base_dir)
    try:
        if not folder.is_dir():
            return None  # lm_eval_source says what it expected there
        return None if _within_entries(folder, MAX_INCLUDE_ENTRIES) else (
            f"{folder} holds more than {MAX_INCLUDE_ENTRIES} files and folders; lm-eval would read them all")
    except (OSError, ValueError) as exc:
        return f"{folder} cannot be read: {getattr(exc, 'strerror', None) or exc}"


def _within_entries(folder: Path, limit: int) -> bool:
    """Whether the tree under `folder` has at most `limit` entries (stops counting at limit + 1)."""
    count = 0
    for _root, dirs, files in os.walk(folder):
        count += len(dirs) + len(files)
        if count > limit:
            return False
    return True


def _located(problem: Problem, file: str, where: str) -> Problem:
    """A problem lm-eval found: in a task YAML of include_path it names that file (and is referenced by the
    suite); in lm-eval's own tasks (no include_path) it is the suite's `dataset.task` that is wrong."""
    if problem.file != "lm-eval":
        hint = problem.hint or f"referenced by {file}: {where}"
        return Problem(problem.file, problem.location, problem.message, hint)
    hint = problem.hint
    if hint.startswith("check the task: key"):
        hint = "check the name (lm-eval's task list: lm-eval ls tasks), or set dataset.include_path to your task YAMLs"
    return Problem(file, f"{where}.dataset.task", problem.message, hint)
