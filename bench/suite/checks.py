"""Checks that need registries or data files; each returns Problems instead of stopping at the first."""

from __future__ import annotations

import csv
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
    LoadedSuite,
    ModelSpec,
    TaskSpec,
    dataset_kind,
)
from bench.tasks.dataset_kinds import DATASETS, DatasetKind, Where, dataset_params, kind_of
from bench.tasks.datasets import item_columns, kind_items, load_items, resolve_path
from bench.tasks.items import Item
from bench.tasks.prompts import document_key, expected_label, template_variables
from bench.tasks.scorers import SCORERS


class SemanticChecks:
    """The checks load_suite runs: on the spec when it is schema-valid, else on what can be read raw."""

    def raw(self, raw: dict[str, Any], file: Path) -> list[Problem]:
        """check_raw of a suite whose schema failed (relative paths from the suite's folder): list of Problems."""
        return check_raw(raw, str(file), file.resolve().parent)

    def full(self, suite: LoadedSuite) -> list[Problem]:
        """check_suite of a schema-valid suite: list of Problems, empty when it is sound."""
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
                              else None), (f"{where}.train", task.get("train"))):
            problems += _raw_dataset_file(dataset, loc, file, base_dir)
    return problems


def _raw_dataset_file(dataset: Any, where: str, file: str, base_dir: Path) -> list[Problem]:
    """An unknown kind, or a missing data file, of a dataset block in a suite whose schema failed."""
    if not isinstance(dataset, dict):
        return []
    name = dataset_kind(dataset)
    if name not in DATASETS:
        return [Problem(file, f"{where}.kind", f"unknown dataset kind '{name}'", DATASETS.hint(name))]
    try:  # the fields naming files, from a block that may be invalid elsewhere
        kind = DATASETS.get(name)()
        files = kind.data_files(DATASETS.params(name).model_construct(**{**dataset, "kind": name}))
    except Exception:  # a plugin's hook on an unvalidated block; its Params report the block's problems
        return []
    return _missing_files(files, where, file, base_dir)


def _missing_files(files: dict[str, Any], where: str, file: str, base_dir: Path) -> list[Problem]:
    problems = []
    for field, path in files.items():
        problem = file_problem(resolve_path(path, base_dir), "dataset file") if isinstance(path, str) else None
        if problem:
            problems.append(Problem(file, f"{where}.{field}", problem, "paths are relative to the suite file"))
    return problems


def check_suite(suite: LoadedSuite) -> list[Problem]:
    """Every semantic problem of a schema-valid suite."""
    file = str(suite.path)
    problems = _duplicate_ids("models", [m.id for m in suite.spec.models], file)
    problems += _duplicate_ids("tasks", [t.id for t in suite.spec.tasks], file)
    for index, model in enumerate(suite.spec.models):
        problems += check_model(model, f"models[{index}]", file, suite.base_dir)
    for index, task in enumerate(suite.spec.tasks):
        problems += check_task(task, f"tasks[{index}]", file, suite.base_dir)
    if not problems:  # refusals read the tasks' data: only once it is known to be readable
        problems += model_task_refusals(suite)
    return problems + _check_cost_profiles(suite, file) + check_references(suite)


def check_references(suite: LoadedSuite) -> list[Problem]:
    """Models whose backend runs other models of the suite (Params.model_refs, e.g. a cascade): each id must
    name another model that references none, then the block's own suite_problems (signals, thresholds)."""
    file, models = str(suite.path), {m.id: m for m in suite.spec.models}
    problems: list[Problem] = []
    for index, model in enumerate(suite.spec.models):
        where = f"models[{index}].backend"
        params = _valid_params(model)
        if params is None or not params.model_refs:
            continue
        found = [p for field in params.model_refs for p in _reference(model, field, getattr(params, field), models)]
        found += _repeated_refs(params)
        problems += [Problem(file, f"{where}.{field}", message, hint) for field, message, hint in found]
        if not found:
            problems += [Problem(file, f"{where}.{field}", message)
                         for field, message in params.suite_problems(models, suite.spec.tasks)]
    return problems


def _valid_params(model: ModelSpec) -> Any:
    """The model's backend Params, or None when the block is invalid (check_backend reports that)."""
    try:
        return plugin_params(BACKENDS, model.backend.kind).model_validate(model.backend.model_dump())
    except (KeyError, PluginError, ValidationError):
        return None


def _repeated_refs(params: Any) -> list[tuple[str, str, str]]:
    """(field, message, hint) for each reference naming the same model as an earlier one (a cascade of a model
    with itself has nothing to route)."""
    seen: dict[str, str] = {}
    problems = []
    for field in params.model_refs:
        ref = getattr(params, field)
        if ref in seen:
            problems.append((field, f"'{ref}' is already the {seen[ref]} model", "name two different models"))
        seen.setdefault(ref, field)
    return problems


def _reference(model: ModelSpec, field: str, ref: str, models: dict[str, ModelSpec]) -> list[tuple[str, str, str]]:
    """(field, message, hint) when `ref` is not another model of the suite that references none."""
    if ref == model.id:
        return [(field, f"'{ref}' is this model itself", "name another model of the suite")]
    if ref not in models:
        return [(field, f"no model with id '{ref}'", suggest(ref, [m for m in models if m != model.id]))]
    inner = _valid_params(models[ref])
    if inner is not None and inner.model_refs:
        return [(field, f"'{ref}' runs other models itself ({models[ref].backend.kind}): a {model.backend.kind} of "
                 f"a {models[ref].backend.kind} is not supported", "name a model that runs on its own backend")]
    return []


def model_task_refusals(suite: LoadedSuite) -> list[Problem]:
    """What each model's backend refuses of each task (BackendParamsBase.task_refusals, e.g. a trained model on
    a text task), once per distinct problem, located at the model's backend field or the task's field."""
    problems: list[Problem] = []
    for m_index, model in enumerate(suite.spec.models):
        try:
            params = plugin_params(BACKENDS, model.backend.kind).model_validate(model.backend.model_dump())
        except (PluginError, ValidationError):
            continue  # check_model reports it
        for t_index, task in enumerate(suite.spec.tasks):
            for refusal in params.task_refusals(task, suite.base_dir):
                where = f"models[{m_index}].backend" if refusal.on == "model" else f"tasks[{t_index}]"
                problems.append(Problem(str(suite.path), f"{where}.{refusal.field}", refusal.message, refusal.hint))
    return list(dict.fromkeys(problems))  # a task's refusal once, however many models refuse it


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
    """check_backend on the model's backend block (its Params model and model file): list of Problems."""
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
    """A task's scorers, its dataset (through the dataset's kind), prompt templates and answer settings."""
    problems = _check_scorers(task, where, file)
    at = Where(file, f"{where}.dataset", base_dir)
    kind, params, kind_problems = _kind(task.dataset, at)
    if kind is None:
        return problems + kind_problems
    if kind.builds_requests:  # the kind owns prompts and scoring (lm-eval): it checks the whole task
        return problems + kind.check(task, params, at)
    problems += _scorers_of_other_kinds(task, where, file)
    items, dataset_problems = _load(task, (kind, params), at)
    problems += dataset_problems
    shots: list[Item] = []
    if task.few_shot is not None:
        shots, shot_problems = _load_few_shot(task, task.few_shot.dataset, Where(file, f"{where}.few_shot.dataset",
                                                                                 base_dir))
        problems += shot_problems
    if task.train is not None:
        problems += _load_few_shot(task, task.train, Where(file, f"{where}.train", base_dir), "train")[1]
    problems += _check_templates(task, items + shots, where, file)
    problems += _check_answer(task, items + shots, where, file)
    return problems


def _scorers_of_other_kinds(task: TaskSpec, where: str, file: str) -> list[Problem]:
    """Scorers bound to one dataset kind (lm_eval) on a task of another kind."""
    problems = []
    for ref in task.scorers:
        try:
            kind = SCORERS.get(ref.name).dataset_kind if ref.name in SCORERS else None
        except PluginError:
            continue  # _check_scorers reports it
        if kind is not None and kind != task.dataset.kind:
            problems.append(Problem(file, f"{where}.scorers", f"the {ref.name} scorer scores {kind} datasets only",
                                    f"use dataset: {{kind: {kind}, ...}} or another scorer"))
    return problems


def _kind(spec: DatasetSpec, at: Where) -> tuple[DatasetKind | None, Any, list[Problem]]:
    """The dataset's kind and its params, or the problems: an unknown kind, a broken plugin, a plugin kind's
    keys that its Params refuse."""
    name = spec.kind
    if name not in DATASETS:
        return None, None, [Problem(at.file, f"{at.location}.kind", f"unknown dataset kind '{name}'",
                                    DATASETS.hint(name))]
    try:
        kind = kind_of(spec)
        return kind, dataset_params(spec), []
    except PluginError as exc:
        return None, None, [Problem(at.file, f"{at.location}.kind", str(exc))]
    except ValidationError as exc:
        allowed = list(DATASETS.params(name).model_fields)
        return None, None, _prefixed(_own_hints(pydantic_problems(exc, at.file), allowed), at.location)


def _load_few_shot(task: TaskSpec, spec: DatasetSpec, at: Where,
                   what: str = "few-shot") -> tuple[list[Item], list[Problem]]:
    kind, params, problems = _kind(spec, at)
    if kind is None:
        return [], problems
    if kind.builds_requests:
        return [], [Problem(at.file, f"{at.location}.kind",
                            f"{spec.kind} datasets cannot give {what} examples",
                            "its kind builds its own prompts; use a jsonl or csv train split")]
    return _load(task, (kind, params), at)


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


def _load(task: TaskSpec, kind_params: tuple[DatasetKind, Any], at: Where) -> tuple[list[Item], list[Problem]]:
    """The items of a dataset, or its problems (the kind's own checks, missing files, unreadable rows)."""
    (kind, params), where, file = kind_params, at.location, at.file
    problems = kind.check(task, params, at) or _missing_files(kind.data_files(params), where, file, at.base_dir)
    if problems:
        return [], problems
    data_file = str(resolve_path(next(iter(kind.data_files(params).values()), ""), at.base_dir))
    try:
        items = kind_items(kind, params, at.base_dir)
        return items, _too_deep(items, data_file, where, file)
    except SpecError as exc:
        return [], [Problem(p.file, p.location, p.message, p.hint or f"referenced by {file}: {where}")
                    for p in exc.problems]
    except (ValueError, RecursionError, TypeError, csv.Error) as exc:  # e.g. JSON nested 1000 deep, a 5000-digit
        # number, a CSV row with more fields than the header (a None column name)
        return [], [Problem(data_file, "", f"cannot read dataset: {_short_cause(exc)}",
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
        if kind_of(task.dataset).builds_requests:  # its kind checks prompts and labels
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
