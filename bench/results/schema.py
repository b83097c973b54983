"""Typed, versioned results: the files of a run directory as pydantic models, one reader and one writer each.

| file                                   | model      | versions read | written |
|----------------------------------------|------------|---------------|---------|
| manifest.json                          | `Manifest` | 1, 2          | 2       |
| records.jsonl (one line each)          | `Record`   | 1             | 1       |
| segments.jsonl (v1 runs: cells.jsonl)  | `Segment`  | 1             | 1       |
| summary.json                           | `Summary`  | 1             | 1       |

`CostRow` and `MetricRow` are parts of `Summary` and share its version. Manifest v2 differs from v1 only in the run
directory's layout: a v1 run keeps its segments in `cells.jsonl`, a v2 run in `segments.jsonl`; the JSON is the
same, so the v1 reader is the v2 model keeping `schema_version: 1` (a resumed v1 run stays v1 and keeps appending
to `cells.jsonl`). A file with a version not listed, or with a key this bench does not know (written by a newer
bench), is refused with a RunError (exit 2) naming the file and the versions this bench reads; new optional fields
are added without a bump, a breaking change bumps the version and keeps a reader for the previous one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bench.errors import RunError
from bench.results.atomic import write_json_atomic
from bench.suite.spec import CostSpec

MANIFEST_VERSION: Literal[2] = 2
MANIFEST_VERSIONS = (1, 2)
RECORD_VERSION = 1
RECORD_VERSIONS = (1,)
SEGMENT_VERSION = 1
SEGMENT_VERSIONS = (1,)
SUMMARY_VERSION = 1
SUMMARY_VERSIONS = (1,)

SUMMARY = "summary.json"
SEGMENTS = "segments.jsonl"
OLD_SEGMENTS = "cells.jsonl"
"""Where runs with a v1 manifest (bench before #12) keep their segments."""

Model = TypeVar("Model", bound=BaseModel)


class Strict(BaseModel):
    """A results file: every key declared; one this bench does not know means a newer writer."""

    model_config = ConfigDict(extra="forbid")


class Free(BaseModel):
    """A block whose keys are facts of the moment (machine, calibration): kept as written."""

    model_config = ConfigDict(extra="allow")


# --- manifest.json ---------------------------------------------------------------------------------------------

class SuiteRef(Strict):
    """The suite a run was planned from: name, version, the path it was read from and its sha256 (hex)."""

    name: str
    version: str = "1"
    path: str
    sha256: str


class RunOptions(Strict):
    """What `bench run` narrowed the suite to (a resume plans the same cells): items per task, model and task ids."""

    limit: int | None = None
    models: list[str] = []
    tasks: list[str] = []


class ManifestCell(Strict):
    """One planned cell: model x task x load mode; `n_items` items (after `limit`), `rate_rps` in requests/s."""

    cell_id: str
    model_id: str
    task_id: str
    task_version: str = "1"
    load: str = "latency"
    rate_rps: float | None = None
    key: str | None = None
    limit: int | None = None
    sample: str | None = None
    n_items: int | None = None


class TaskRef(Strict):
    """A task's version and the sha256 (hex) of each data file it read, by path as written in the suite."""

    version: str
    datasets: dict[str, str]


class GitRef(Free):
    """The commit bench ran from (None outside a checkout) and whether the work tree had changes."""

    commit: str | None = None
    dirty: bool | None = None


class ModelArch(Free):
    """The model shape llama.cpp reported (what projections and KV-cache sizes need): counts, head_dim in elements."""

    n_layer: int
    n_embd: int
    n_vocab: int
    n_head_kv: int
    head_dim: int


class BackendSettings(Free):
    """A backend's recorded settings; engine-specific keys are kept as written, the ones cost reads are typed."""

    arch: ModelArch | None = None
    model_size_bytes: int | None = None
    """Bytes of the model file(s)."""
    model_params: int | None = None
    n_ctx: int | None = None


class BackendRecord(Free):
    """What a model's backend reported (engine, version, model file sha256, settings)."""

    settings: BackendSettings = BackendSettings()


class Manifest(Strict):
    """manifest.json: what a run is (suite, cells, machine, backends) and where it stands (`status`).

    Times are ISO 8601 UTC strings; `machine` and `calibration` (GB/s, GFLOPS) are as detected, without hostname.
    """

    schema_version: Literal[1, 2] = MANIFEST_VERSION
    run_id: str
    status: str
    """running | complete | incomplete | interrupted."""
    suite: SuiteRef
    options: RunOptions
    cost: CostSpec
    repetitions: int = 1
    warmup: int = 0
    tasks: dict[str, TaskRef]
    models: dict[str, dict[str, Any]] = {}
    """Model id -> the suite's model entry (credentials redacted)."""
    cells: list[ManifestCell]
    bench_version: str | None = None
    git: GitRef = GitRef()
    machine: dict[str, Any] = {}
    calibration: dict[str, Any] | None = None
    started_at: str | None = None
    ended_at: str | None = None
    backends: dict[str, dict[str, Any]] = {}
    """Model id -> what its backend reported (engine, version, model file sha256, settings)."""

    @field_validator("backends")
    @classmethod
    def _backends_readable(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Kept as written, but the parts cost reads must have their types (BackendRecord)."""
        for model_id, info in value.items():
            try:
                BackendRecord.model_validate(info)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(map(str, (model_id, *first["loc"])))
                raise ValueError(f"{where}: {first['msg']}") from None
        return value

    executor: str | None = None
    unfinished: list[dict[str, Any]] = []
    """Cells with items still to do: cell_id, cell, done, total, reason."""

    @property
    def segments_file(self) -> str:
        """The file of this run's segments: cells.jsonl for a v1 run (one writer per run: never split)."""
        return OLD_SEGMENTS if self.schema_version == 1 else SEGMENTS


# --- records.jsonl and segments.jsonl ---------------------------------------------------------------------------

class Confidence(Strict):
    """What a router can use, per item (docs/routing.md). A signal the backend did not give is None, never 0.

    Choices (from `Record.choice_logprobs`, the options' log-likelihoods or a classifier's log predict_proba):
    `option_probs` = softmax over them (the task's choice order), `max_prob` its largest value, `margin` the
    largest minus the second largest (0 with one option), `entropy` = -sum p ln p in nats (0 .. ln K).
    Generation (text, json, grammar-constrained choices): the log-probabilities in nats of the generated tokens
    under the model's unconstrained distribution at temperature 1 (before sampling settings and grammar),
    summarised as `token_logprob_mean` and `token_logprob_min` (both <= 0).
    `json_valid`: json answers only, whether the answer parsed as a JSON object that validates against the
    task's json_schema (jsonschema, Draft 2020-12)."""

    option_probs: list[float] | None = None
    max_prob: float | None = None
    margin: float | None = None
    entropy: float | None = None
    token_logprob_mean: float | None = None
    token_logprob_min: float | None = None
    json_valid: bool | None = None


class Record(Strict):
    """One line of records.jsonl: raw measurements for one item of one cell (one repetition), the source of truth
    every summary is derived from. Times `t_*` are seconds on the clock of bench.backends.base.now()."""

    schema_version: int = RECORD_VERSION
    cell_id: str
    model_id: str
    task_id: str
    task_version: str
    item_id: str
    repetition: int = 0
    segment: str
    prompt_sha256: str
    prediction: Any = None
    raw_output: str = ""
    reference: Any = None
    scores: dict[str, float] = {}
    status: Literal["ok", "error", "timeout"] = "ok"
    error: str | None = None
    parse_error: str | None = None
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    t_start: float
    t_first_token: float | None = None
    t_end: float
    t_arrival: float | None = None
    """Intended arrival time (rate mode): latencies are measured from it, so queueing is included."""
    choice_logprobs: list[float] | None = None
    confidence: Confidence | None = None
    """Router signals derived from the backend's log-probabilities (None in runs made before #15, or when the
    backend gave none)."""
    engine_extra: dict[str, Any] = {}
    tags: dict[str, str] = {}

    @property
    def decode_steps(self) -> int:
        """Single-token forward passes after the prompt: generated tokens after the first, or option tokens."""
        if "option_tokens_evaluated" in self.engine_extra:
            return int(self.engine_extra["option_tokens_evaluated"])
        return max(self.completion_tokens - 1, 0)

    @property
    def key(self) -> tuple[str, str, int]:
        """(cell_id, item_id, repetition): the identity of an item's work; a later record with it supersedes."""
        return (self.cell_id, self.item_id, self.repetition)


class Segment(Strict):
    """One line of segments.jsonl: one uninterrupted stretch of work on a cell. Load time (s) and peak RSS (bytes)
    cover the whole segment; CPU time (s), energy (J) and wall time (s) the measured items only, after warm-up."""

    schema_version: int = SEGMENT_VERSION
    cell_id: str
    model_id: str
    task_id: str
    segment: str
    backend: dict[str, Any]
    load_time_s: float
    warmup_items: int
    items_done: int
    t_start: float
    t_end: float
    rss_before_bytes: int
    peak_rss_bytes: int
    cpu_user_s: float
    cpu_system_s: float
    energy_j: float | None = None
    energy_source: str = "none"
    gpu: dict[str, float | None] = {}
    """GPU peak memory, mean power and utilisation over the segment (empty without an NVIDIA driver)."""
    completed: bool
    backend_reused: bool = False
    """The backend stayed loaded from the previous cell of the same model; load_time_s is that one load."""
    error: str | None = None
    """Why the cell did not run (its backend could not be created); its items stay pending for --resume."""
    contention_window_s: float | None = None
    """Wall time over which other_cpu_s and steal_s were measured (the measured items, after warm-up).
    None in runs made before contention was measured (then the cell is not judged for contention)."""
    logical_cpus: int | None = None
    other_cpu_s: float | None = None
    """CPU seconds used by processes outside this run's process tree (and outside local servers it talked to)
    during the window: system-wide busy time minus the tree's CPU time (bench/metrics/contention.py)."""
    steal_s: float | None = None
    """CPU seconds the hypervisor gave to other guests during the window (summed over CPUs; 0 on bare metal)."""
    other_processes: dict[str, float] = {}
    """The busiest other processes in the window: process name -> CPU seconds (at most 3)."""
    training: dict[str, Any] = {}
    """What the backend did to ready itself for the task before the cell (Backend.prepare_task): for a trained
    model its classifier, label budget, train_s (wall s), train_cpu_s, whether it came from the cache. Empty for
    language models. Not part of the cell's measured time, CPU or memory."""


# --- summary.json -------------------------------------------------------------------------------------------------

class MetricRow(BaseModel):
    """One figure for one cell, with its 95% interval (same unit), sample size, direction, unit and basis
    (`measured`, or what it was derived from)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cell_id: str
    model_id: str
    task_id: str
    metric: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    higher_is_better: bool
    unit: str
    group: str
    basis: str = "measured"


class CostRow(Strict):
    """One cell on one hardware profile: `measured` on this machine or `projected` (docs/projection.md).

    Units: tasks/s, USD per 1000 tasks (and per 1000 correct answers), J per task, s, GB. None where unknown.
    """

    cell_id: str
    model_id: str
    task_id: str
    load: str
    profile_id: str
    basis: Literal["measured", "projected"]
    tasks_per_s: float | None
    usd_per_1000_tasks: float | None
    usd_per_1000_correct: float | None
    quality: float | None
    energy_j_per_task: float | None
    energy_basis: str
    p95_latency_s: float | None
    fits: bool | None
    memory_needed_gb: float | None
    price_basis: str
    inputs: dict[str, Any]
    """What the figures were computed from (the hourly price; for a projection the devices and s/token)."""
    flags: str = ""
    training_usd: float | None = None
    """One-off training cost of a trained model on this profile (0 for a language model; None: not measured)."""
    monthly_usd: float | None = None
    """A month at CostSection.monthly_tasks: inference plus the one-off training (bench.cost.rows.with_monthly)."""


class CostSection(Strict):
    """The summary's cost section: this machine's price and power, every row, hosted-API prices (USD per 1000
    tasks) and the procurement pick per task with break-even volumes (tasks per month)."""

    local_machine: dict[str, Any]
    requirements: dict[str, float | None]
    monthly_tasks: int | None = None
    """The monthly volume CostRow.monthly_usd is computed at (the suite's cost.monthly_tasks)."""
    rows: list[CostRow]
    api: list[dict[str, Any]]
    procurement: list[dict[str, Any]]


class Summary(Strict):
    """summary.json: every figure of a run, derived from its records and segments (recomputable at any time)."""

    schema_version: int = SUMMARY_VERSION
    run_id: str
    suite: SuiteRef
    status: str
    cost: CostSpec
    cells: list[ManifestCell]
    primary_metrics: dict[str, str]
    """Task id -> its headline metric."""
    metrics: list[MetricRow]
    skipped: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    contention: list[dict[str, Any]] = []
    unfinished: list[dict[str, Any]] = []
    sweeps: list[dict[str, Any]] = []
    baselines: list[dict[str, Any]] = []
    """Per task, its trivial baseline (majority label, most common value per field, lead-N words) and its scores
    on the items the task's cells evaluated (bench/metrics/baselines.py)."""
    baseline_tests: list[dict[str, Any]] = []
    """Per cell, the paired test of the model against its task's baseline on the primary metric."""
    costs: CostSection


# --- readers and writers ------------------------------------------------------------------------------------------

def read_manifest(path: Path) -> Manifest:
    """manifest.json (v1 or v2); RunError (exit 2) for a missing, unreadable, damaged or newer file."""
    return _checked(Manifest, _read_object(path, "manifest"), str(path), MANIFEST_VERSIONS)


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Atomically (temp file + rename): a reader never sees half a manifest."""
    write_json_atomic(path, manifest.model_dump(mode="json"))


def read_summary(path: Path) -> Summary:
    """summary.json; RunError (exit 2) for a missing, unreadable, damaged or newer file."""
    return _checked(Summary, _read_object(path, "summary"), str(path), SUMMARY_VERSIONS)


def write_summary(path: Path, summary: Summary) -> None:
    """Write summary.json atomically (temp file + rename, secrets masked); WriteError when it cannot. Fields added
    to version 1 later (ADDED_IN_V1) are left out when the summary did not set them, so re-writing an older summary
    keeps its JSON as it was."""
    data = summary.model_dump(mode="json")
    _drop_unset_added(summary, data)
    write_json_atomic(path, data)


ADDED_IN_V1 = ("baselines", "baseline_tests")
"""Summary fields added without a version bump: readers default them to empty."""
ADDED_NESTED_IN_V1 = {"Summary": ADDED_IN_V1, "CostSection": ("monthly_tasks",),
                      "CostRow": ("training_usd", "monthly_usd"), "CostSpec": ("monthly_tasks",)}
"""Per model class, the fields added to version 1 later (#14: training cost and the monthly total)."""


def _drop_unset_added(model: BaseModel, data: dict[str, Any]) -> None:
    """Pop from `data` (model's dump) the later-added fields the model did not set, at every depth."""
    for name in ADDED_NESTED_IN_V1.get(type(model).__name__, ()):
        if name not in model.model_fields_set:
            data.pop(name, None)
    for name in type(model).model_fields:
        value, dumped = getattr(model, name), data.get(name)
        if isinstance(value, BaseModel) and isinstance(dumped, dict):
            _drop_unset_added(value, dumped)
        elif isinstance(value, list) and isinstance(dumped, list):
            for item, item_data in zip(value, dumped, strict=False):
                if isinstance(item, BaseModel) and isinstance(item_data, dict):
                    _drop_unset_added(item, item_data)


RECORD_INTS = ("schema_version", "repetition", "prompt_tokens", "cached_prompt_tokens", "completion_tokens")
"""Record fields that must be written as JSON integers: "1", 1.0 or true there mean an edited or damaged line."""
PROPORTION_SCORES = ("accuracy", "exact_match", "numeric_within_tol", "field_accuracy", "field_f1",
                     "all_fields_correct", "rouge_l")
"""Per-item scores of bench's own scorers that are proportions in [0, 1] (also every `field.NAME` of json_fields)."""


def read_record(row: Mapping[str, Any], where: str) -> Record:
    """One parsed line of records.jsonl; `where` ("FILE: line N") names it in the RunError. Stricter than the model:
    the RECORD_INTS are JSON integers and the PROPORTION_SCORES lie in [0, 1] (bench.metrics.columns refuses the
    same lines)."""
    for name in RECORD_INTS:
        if name in row and type(row[name]) is not int:
            raise RunError(f"{where}: {name}: {str(row[name])[:20]!r} is not a whole number "
                           "(does not match the schema: the file was edited or is damaged)")
    record = _checked(Record, row, where, RECORD_VERSIONS)
    for name, value in record.scores.items():
        if is_proportion(name) and not 0.0 <= value <= 1.0:
            raise RunError(f"{where}: scores.{name}: {value} is outside [0, 1] "
                           "(does not match the schema: the file was edited or is damaged)")
    return record


def is_proportion(score: str) -> bool:
    """Whether a per-item score of this name is a proportion in [0, 1] (PROPORTION_SCORES, `field.NAME`)."""
    return score in PROPORTION_SCORES or score.startswith("field.")


def read_segment(row: Mapping[str, Any], where: str) -> Segment:
    """One parsed line of segments.jsonl (or a v1 run's cells.jsonl); `where` names it in the RunError."""
    return _checked(Segment, row, where, SEGMENT_VERSIONS)


def json_line(item: Record | Segment) -> str:
    """The one line (no newline) a record or segment is appended as."""
    return item.model_dump_json()


def _read_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path.parent} is not a run directory (no {path.name})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise RunError(f"{path}: invalid JSON ({str(exc)[:120]})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: not a {what} (a JSON object is expected)")
    return data


def _checked(model: type[Model], data: Mapping[str, Any], where: str, versions: tuple[int, ...]) -> Model:
    """`data` as `model` when its schema_version is one of `versions`; RunError naming `where` otherwise."""
    reads = f"this bench reads schema_version {', '.join(map(str, versions))}"
    version = data.get("schema_version")
    if version not in versions or isinstance(version, bool):
        raise RunError(f"{where}: schema_version {str(version)[:20]} is not supported ({reads}); it was written by "
                       "another version of bench: report it with that version")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RunError(_validation_message(exc, where, reads)) from None


def _validation_message(exc: ValidationError, where: str, reads: str) -> str:
    first = exc.errors()[0]
    field = ".".join(map(str, first["loc"])) or "(top level)"
    if first["type"] == "extra_forbidden":
        return (f"{where}: unknown field '{field}' ({reads}): the file was written by a newer bench; "
                "report it with that version")
    return f"{where}: {field}: {first['msg']} (does not match the schema: the file was edited or is damaged)"
