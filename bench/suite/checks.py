"""Checks that need registries or data files; each returns Problems instead of stopping at the first."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from bench.backends.base import BACKENDS
from bench.backends.model_files import BUNDLED, BUNDLED_PREFIX
from bench.errors import Problem, SpecError, file_problem
from bench.registry import PluginError, Registry, suggest
from bench.suite.problems import pydantic_problems
from bench.suite.spec import (
    DatasetSpec,
    FileDataset,
    GeneratorDataset,
    LmEvalDataset,
    LoadedSuite,
    ModelSpec,
    PromptSpec,
    TaskSpec,
)
from bench.tasks.datasets import item_columns, load_items, resolve_path
from bench.tasks.generators import GENERATORS
from bench.tasks.items import Item
from bench.tasks.prompts import document_key, expected_label, template_variables
from bench.tasks.scorers import SCORERS


class SemanticChecks:
    """The checks load_suite runs: on the spec when it is schema-valid, else on what can be read raw."""

    def raw(self, raw: dict[str, Any], file: Path) -> list[Problem]:
        return check_raw(raw, str(file), file.resolve().parent)

    def full(self, suite: LoadedSuite) -> list[Problem]:
        return check_suite(suite)


def check_raw(raw: dict[str, Any], file: str, base_dir: Path) -> list[Problem]:
    """Scorer names and data files of a suite whose schema failed, so every problem is reported at once."""
    problems: list[Problem] = []
    models = raw.get("models")
    for index, model in enumerate(models if isinstance(models, list) else []):
        if isinstance(model, dict) and isinstance(model.get("backend"), dict) and "kind" in model["backend"]:
            problems += check_backend(model["backend"], f"models[{index}].backend", file, base_dir)
    tasks = raw.get("tasks")
    for index, task in enumerate(tasks if isinstance(tasks, list) else []):
        if not isinstance(task, dict):
            continue
        where = f"tasks[{index}]"
        scorers = task.get("scorers")
        for s_index, ref in enumerate(scorers if isinstance(scorers, list) else []):
            name = ref if isinstance(ref, str) else ref.get("name") if isinstance(ref, dict) else None
            if isinstance(name, str) and name not in SCORERS:
                problems.append(Problem(file, f"{where}.scorers[{s_index}].name", f"unknown scorer '{name}'",
                                        SCORERS.hint(name)))
        few_shot = task.get("few_shot")
        for loc, dataset in ((f"{where}.dataset", task.get("dataset")),
                             (f"{where}.few_shot.dataset", few_shot.get("dataset") if isinstance(few_shot, dict)
                              else None)):
            problems += _raw_dataset_file(dataset, loc, file, base_dir)
    return problems


def _raw_dataset_file(dataset: Any, where: str, file: str, base_dir: Path) -> list[Problem]:
    if not isinstance(dataset, dict) or not isinstance(dataset.get("path"), str):
        return []
    if dataset.get("kind", "jsonl") not in {"jsonl", "csv"}:
        return []
    problem = file_problem(resolve_path(dataset["path"], base_dir), "dataset file")
    return [Problem(file, f"{where}.path", problem, "paths are relative to the suite file")] if problem else []


def check_suite(suite: LoadedSuite) -> list[Problem]:
    """Every semantic problem of a schema-valid suite."""
    file = str(suite.path)
    problems = _duplicate_ids("models", [m.id for m in suite.spec.models], file)
    problems += _duplicate_ids("tasks", [t.id for t in suite.spec.tasks], file)
    for index, model in enumerate(suite.spec.models):
        problems += check_model(model, f"models[{index}]", file, suite.base_dir)
    for index, task in enumerate(suite.spec.tasks):
        problems += check_task(task, f"tasks[{index}]", file, suite.base_dir)
    return problems + _check_cost_profiles(suite, file)


def _check_cost_profiles(suite: LoadedSuite, file: str) -> list[Problem]:
    """cost.profile and cost.prices must name shipped hardware profiles."""
    cost = suite.spec.cost
    named = ([("cost.profile", cost.profile)] if cost.profile else []) + [(f"cost.prices.{p}", p) for p in cost.prices]
    if not named:
        return []
    from bench.cost.profiles import load_profiles

    known = list(load_profiles())
    return [Problem(file, where, f"unknown hardware profile '{pid}'", suggest(pid, known))
            for where, pid in named if pid not in known]


def _duplicate_ids(section: str, ids: list[str], file: str) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, ident in enumerate(ids):
        if ident in seen:
            problems.append(Problem(file, f"{section}[{index}].id", f"duplicate id '{ident}'", "ids must be unique"))
        seen.add(ident)
    return problems


def check_model(model: ModelSpec, where: str, file: str, base_dir: Path) -> list[Problem]:
    return check_backend(model.backend.model_dump(), f"{where}.backend", file, base_dir)


def check_backend(backend: dict[str, Any], where: str, file: str, base_dir: Path) -> list[Problem]:
    """The backend block against its kind's own Params model, and the model file it names."""
    kind = str(backend.get("kind"))
    if kind not in BACKENDS:
        return [Problem(file, f"{where}.kind", f"unknown backend kind '{kind}'", BACKENDS.hint(kind))]
    try:
        params_cls = plugin_params(BACKENDS, kind)
    except PluginError as exc:
        return [Problem(file, f"{where}.kind", str(exc))]
    try:
        params = params_cls.model_validate(backend)
    except ValidationError as exc:
        return _prefixed(_own_hints(pydantic_problems(exc, file), list(params_cls.model_fields)), where)
    field = params_cls.model_file_field
    return _check_model_file(getattr(params, field), f"{where}.{field}", file, base_dir) if field else []


def plugin_params(registry: Registry[Any], name: str) -> Any:
    """The Params model of a registered implementation, without importing a bundled one (Registry.params);
    PluginError when a plugin cannot load or declares none."""
    return registry.params(name)


def _check_model_file(ref: str | None, where: str, file: str, base_dir: Path) -> list[Problem]:
    if ref is None:
        return []
    if ref.startswith(BUNDLED_PREFIX):
        name = ref[len(BUNDLED_PREFIX):]
        return [] if name in BUNDLED else [
            Problem(file, where, f"unknown bundled model '{name}'", suggest(name, list(BUNDLED)))]
    problem = file_problem(resolve_path(ref, base_dir), "model file")
    return [Problem(file, where, problem, "give a GGUF path relative to the suite, or bundled:NAME")] if problem else []


def _own_hints(problems: list[Problem], allowed: list[str]) -> list[Problem]:
    """'did you mean' for unknown keys, among the fields of the model that rejected them."""
    return [replace(p, hint=suggest(p.location, allowed)) if p.message == "unknown key" else p for p in problems]


def _prefixed(problems: Iterable[Problem], prefix: str) -> list[Problem]:
    return [Problem(p.file, f"{prefix}.{p.location}" if p.location else prefix, p.message, p.hint)
            for p in problems]


def check_task(task: TaskSpec, where: str, file: str, base_dir: Path) -> list[Problem]:
    problems = _check_scorers(task, where, file)
    if isinstance(task.dataset, LmEvalDataset):
        return problems + _check_lm_eval_task(task, task.dataset, where, file, base_dir)
    if any(ref.name == "lm_eval" for ref in task.scorers):
        problems.append(Problem(file, f"{where}.scorers", "the lm_eval scorer scores lm_eval datasets only",
                                "use dataset: {kind: lm_eval, task: ...} or another scorer"))
    items, dataset_problems = _load(task.dataset, f"{where}.dataset", file, base_dir)
    problems += dataset_problems
    shots: list[Item] = []
    if task.few_shot is not None:
        shots, shot_problems = _load(task.few_shot.dataset, f"{where}.few_shot.dataset", file, base_dir)
        problems += shot_problems
    problems += _check_templates(task, items + shots, where, file)
    problems += _check_answer(task, items + shots, where, file)
    return problems


def _check_lm_eval_task(task: TaskSpec, dataset: LmEvalDataset, where: str, file: str,
                        base_dir: Path) -> list[Problem]:
    """The lm-eval task loads, bench can run its output type, and the suite leaves prompts and scoring to it."""
    include_problem = _check_include_path(dataset, base_dir)
    if include_problem:  # before lm-eval is imported: it would read every YAML under the folder
        return [Problem(file, f"{where}.dataset.include_path", include_problem,
                        "point it at the folder that holds your task YAMLs")]
    from bench.tasks.lm_eval_probe import probe_task

    problems = []
    if [ref.name for ref in task.scorers] != ["lm_eval"]:
        problems.append(Problem(file, f"{where}.scorers", "an lm_eval dataset is scored by lm-eval's own metrics",
                                "set scorers: [lm_eval]"))
    if task.few_shot is not None or task.prompt != PromptSpec():
        problems.append(Problem(file, where, "lm-eval builds the prompt and few-shot examples of its tasks",
                                "remove prompt/few_shot; use dataset.num_fewshot"))
    probe = probe_task(dataset, base_dir)  # in a child process: lm-eval never loads in this one
    if probe.problems:
        return problems + [Problem(p.file, p.location, p.message, p.hint or f"referenced by {file}: {where}")
                           for p in probe.problems]
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


def _check_scorers(task: TaskSpec, where: str, file: str) -> list[Problem]:
    problems = []
    for index, ref in enumerate(task.scorers):
        loc = f"{where}.scorers[{index}]"
        if ref.name not in SCORERS:
            problems.append(Problem(file, f"{loc}.name", f"unknown scorer '{ref.name}'", SCORERS.hint(ref.name)))
            continue
        try:
            params_cls = plugin_params(SCORERS, ref.name)
        except PluginError as exc:
            problems.append(Problem(file, f"{loc}.name", str(exc)))
            continue
        try:
            params_cls.model_validate(ref.model_dump())
        except ValidationError as exc:
            problems += _prefixed(_own_hints(pydantic_problems(exc, file), list(params_cls.model_fields)), loc)
    return problems


def _load(spec: DatasetSpec, where: str, file: str, base_dir: Path) -> tuple[list[Item], list[Problem]]:
    if isinstance(spec, GeneratorDataset) and spec.name not in GENERATORS:
        return [], [Problem(file, f"{where}.name", f"unknown generator '{spec.name}'", GENERATORS.hint(spec.name))]
    missing = _raw_dataset_file(spec.model_dump(), where, file, base_dir)
    if missing:
        return [], missing
    try:
        items = load_items(spec, base_dir)
        return items, _too_deep(items, str(resolve_path(getattr(spec, "path", ""), base_dir)), where, file)
    except SpecError as exc:
        return [], [Problem(p.file, p.location, p.message, p.hint or f"referenced by {file}: {where}")
                    for p in exc.problems]
    except (ValueError, RecursionError, TypeError, csv.Error) as exc:  # e.g. JSON nested 1000 deep, a 5000-digit
        # number, a CSV row with more fields than the header (a None column name)
        path = resolve_path(getattr(spec, "path", ""), base_dir)
        return [], [Problem(str(path), "", f"cannot read dataset: {_short_cause(exc)}",
                            f"referenced by {file}: {where}")]


MAX_VALUE_DEPTH = 64


def _too_deep(items: list[Item], data_file: str, where: str, file: str) -> list[Problem]:
    """A value nested deeper than MAX_VALUE_DEPTH (it could not be stored or scored): one problem, the first."""
    for item in items:
        stack: list[tuple[Any, int]] = [(item.fields, 0)]
        while stack:
            value, depth = stack.pop()
            if depth > MAX_VALUE_DEPTH:
                return [Problem(data_file, f"item {item.id}", f"a value is nested more than {MAX_VALUE_DEPTH} levels "
                                "deep", f"referenced by {file}: {where}")]
            children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
            stack.extend((child, depth + 1) for child in children)
    return []


def _short_cause(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "a value is nested too deeply"
    text = str(exc).split(";")[0]
    return text if len(text) <= 120 else text[:117] + "..."


def _check_templates(task: TaskSpec, items: list[Item], where: str, file: str) -> list[Problem]:
    available = item_columns(items) | {"choices"}
    problems = []
    for part in ("system", "user"):
        template = getattr(task.prompt, part)
        try:
            names = template_variables(template)
        except ValueError as exc:
            problems.append(Problem(file, f"{where}.prompt.{part}", f"bad template: {exc}"))
            continue
        for name in names:
            if items and name not in available:
                problems.append(Problem(file, f"{where}.prompt.{part}", f"unknown template variable '{{{name}}}'",
                                        suggest(name, sorted(available))))
    return problems


def _check_answer(task: TaskSpec, items: list[Item], where: str, file: str) -> list[Problem]:
    answer = task.answer
    if answer.mode == "json" and answer.json_schema is None:
        return [Problem(file, f"{where}.answer.json_schema", "json mode needs a json_schema")]
    if answer.mode != "choices":
        return []
    if answer.choices is None:
        return [Problem(file, f"{where}.answer.choices", "choices mode needs the list of labels")]
    stray = sorted({str(item.expected) for item in items if expected_label(item.expected, answer) is None})
    if stray:
        return [Problem(file, f"{where}.answer.choices", f"expected label(s) not among choices: {', '.join(stray[:5])}",
                        "add them to choices or fix the dataset")]
    return []


Note = tuple[Literal["note", "warning"], Problem]


def suite_notes(suite: LoadedSuite) -> list[Note]:
    """What `bench validate` says without refusing a valid suite: expected labels that match a choice only
    after normalization (as the scorer compares them), and few-shot examples drawn from the evaluated data."""
    notes: list[Note] = []
    for index, task in enumerate(suite.spec.tasks):
        if isinstance(task.dataset, LmEvalDataset):
            continue
        items = load_items(task.dataset, suite.base_dir)
        shots = load_items(task.few_shot.dataset, suite.base_dir) if task.few_shot else []
        where, file = f"tasks[{index}]", str(suite.path)
        notes += [("note", p) for p in _normalized_labels(task, items + shots, where, file)]
        notes += [("warning", p) for p in _few_shot_overlap(task, (items, shots), suite.base_dir, (where, file))]
    return notes


def _normalized_labels(task: TaskSpec, items: list[Item], where: str, file: str) -> list[Problem]:
    if task.answer.mode != "choices" or task.answer.choices is None:
        return []
    read = {str(item.expected): expected_label(item.expected, task.answer) for item in items}
    changed = sorted(f"{value!r} as {label!r}" for value, label in read.items() if label not in (None, value))
    if not changed:
        return []
    return [Problem(file, f"{where}.dataset", f"expected value(s) read as labels after normalization (case, "
                    f"spaces, quotes, trailing punctuation): {', '.join(changed[:5])}"
                    + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""))]


def _few_shot_overlap(task: TaskSpec, data: tuple[list[Item], list[Item]], base_dir: Path,
                      at: tuple[str, str]) -> list[Problem]:
    """The few-shot source is the test file, or shares items (same input) with it."""
    (items, shots), (where, file) = data, at
    if task.few_shot is None:
        return []
    fix = "give few_shot a separate file (a train split); items are never shown as their own example"
    if isinstance(task.dataset, FileDataset) and isinstance(task.few_shot.dataset, FileDataset) and (
            resolve_path(task.dataset.path, base_dir).resolve()
            == resolve_path(task.few_shot.dataset.path, base_dir).resolve()):
        return [Problem(file, f"{where}.few_shot.dataset", "few-shot examples are drawn from the test file "
                        "itself", fix)]
    keys = {document_key(item) for item in items}
    shared = sum(document_key(shot) in keys for shot in shots)
    if not shared:
        return []
    return [Problem(file, f"{where}.few_shot.dataset", f"{shared} few-shot example(s) are also test items "
                    "(same input)", fix)]
