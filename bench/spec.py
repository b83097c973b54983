"""The suite file: strict, frozen pydantic models and load_suite(), which reports every problem at once."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from bench.errors import Problem, SpecError
from bench.yaml_io import YamlLoadError, load_yaml_strict

SUITE_SCHEMA_VERSION = 1
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
MAX_ID_LENGTH = 100
"""Suite names and ids become parts of file names (run folders, plots); file systems allow 255 bytes."""


class Strict(BaseModel):
    """Base for every spec model: unknown keys are errors and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationSpec(Strict):
    """Sampling parameters; greedy decoding by default so results are reproducible."""

    max_tokens: int = Field(128, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int = 0
    stop: tuple[str, ...] = ()


class BackendParams(BaseModel):
    """A backend block as written; its keys are checked by the backend's own Params model."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str

    @model_validator(mode="after")
    def _env_fields_name_variables(self) -> BackendParams:
        """`*_env` fields name an environment variable; a value that cannot be one is likely the secret itself,
        so it is refused without being echoed."""
        from bench.redact import is_env_name

        for name, value in (self.model_extra or {}).items():
            if name.endswith("_env") and value is not None and not (isinstance(value, str) and is_env_name(value)):
                raise ValueError(f"{name} must be the NAME of an environment variable (like OPENAI_API_KEY), "
                                 "not the key itself; the value given is not shown")
        return self


class ModelSpec(Strict):
    id: str = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    backend: BackendParams
    generation: GenerationSpec = GenerationSpec()


class FieldMap(Strict):
    """Which dataset columns hold the input, the expected answer (one column or several), id and tags."""

    input: str = "input"
    expected: str | dict[str, str] = "expected"
    id: str | None = "id"
    tags: tuple[str, ...] = ()


class JsonlDataset(Strict):
    kind: Literal["jsonl"] = "jsonl"
    path: str
    fields: FieldMap = FieldMap()


class CsvDataset(Strict):
    kind: Literal["csv"] = "csv"
    path: str
    delimiter: str = Field(",", min_length=1, max_length=1)
    fields: FieldMap = FieldMap()


class GeneratorDataset(Strict):
    kind: Literal["generator"]
    name: str
    n: int = Field(100, ge=1, le=5_000)
    """At most 5,000: generating takes about 0.2 ms an item, and `bench validate` generates them all."""
    seed: int = 0


class LmEvalDataset(Strict):
    """An lm-eval task (its YAML, its prompts, its filters and metrics) whose requests bench's backends answer."""

    kind: Literal["lm_eval"]
    task: str = Field(min_length=1)
    include_path: str | None = None
    """Folder of task YAMLs, relative to the suite; relative data_files in them are relative to that folder."""
    num_fewshot: int | None = Field(None, ge=0, le=64)
    fewshot_seed: int = 1234
    """lm-eval's default fewshot_random_seed, so few-shot examples match its own run."""


FileDataset = JsonlDataset | CsvDataset
def _dataset_kind(value: Any) -> str:
    """A dataset without `kind` is CSV when its path ends in .csv, else JSONL."""
    if isinstance(value, dict):
        path = value.get("path")
        default = "csv" if isinstance(path, str) and path.lower().endswith(".csv") else "jsonl"
        return str(value.get("kind", default))
    return str(getattr(value, "kind", "jsonl"))


DatasetSpec = Annotated[
    Annotated[JsonlDataset, Tag("jsonl")] | Annotated[CsvDataset, Tag("csv")]
    | Annotated[GeneratorDataset, Tag("generator")] | Annotated[LmEvalDataset, Tag("lm_eval")],
    Discriminator(_dataset_kind, custom_error_type="dataset_kind",
                  custom_error_message="unknown dataset kind (use jsonl, csv, generator or lm_eval)"),
]


class FewShotSpec(Strict):
    """k examples drawn (seeded) from a separate train split, shown before every item."""

    k: int = Field(3, ge=0, le=64)
    dataset: DatasetSpec
    seed: int = 1234
    balanced: bool = True


class PromptSpec(Strict):
    """System and user parts; {input} (the input column), any dataset column by name and {choices}."""

    system: str = ""
    user: str = "{input}"
    format: Literal["auto", "chat", "completion"] = "auto"


class AnswerSpec(Strict):
    """How the answer is produced: pick a label, fill a JSON schema, or free text."""

    mode: Literal["choices", "json", "text"]
    choices: tuple[str, ...] | dict[str, str] | None = None
    method: Literal["loglik", "grammar"] = "loglik"
    json_schema: dict[str, Any] | None = None

    @field_validator("json_schema")
    @classmethod
    def _schema_is_object(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type") != "object":
            raise ValueError("json_schema must describe an object (type: object)")
        return value


class ScorerRef(BaseModel):
    """A scorer by name, with optional parameters checked by the scorer itself."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str


class TaskSpec(Strict):
    id: str = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    version: str = "1"
    description: str = ""
    dataset: DatasetSpec
    few_shot: FewShotSpec | None = None
    prompt: PromptSpec = PromptSpec()
    answer: AnswerSpec
    scorers: tuple[ScorerRef, ...] = Field(min_length=1)
    limit: int | None = Field(None, ge=1)
    sample: Literal["balanced", "natural"] = "balanced"
    """How a limit draws `choices` items: balanced over the labels, or in the data's own label mix (natural).
    Text and json answers are always a seeded random sample."""

    @field_validator("scorers", mode="before")
    @classmethod
    def _names_to_refs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


class CostSpec(Strict):
    """What one hour of this machine costs, and dated price overrides for hardware profiles."""

    usd_per_hour: float = Field(0.0, ge=0.0)
    basis: str = "not set"
    profile: str | None = None
    """Price and power this machine as this hardware profile (when usd_per_hour is not set)."""
    prices: dict[str, float] = {}
    """Hardware profile id -> $/hour to use instead of the profile's own price."""


class LoadSpec(Strict):
    """How requests are sent: one at a time (latency), N in flight (concurrency), all at once (throughput),
    or Poisson arrivals at a rate (rate)."""

    mode: Literal["latency", "concurrency", "throughput", "rate"] = "latency"
    concurrency: int | None = Field(None, ge=1, le=4096)
    rate_rps: float | tuple[float, ...] | None = None
    """Requests per second; a list is a sweep: one cell per rate, and the report draws the curve."""
    seed: int = 0

    @model_validator(mode="after")
    def _parameters_match_the_mode(self) -> LoadSpec:
        if self.mode == "concurrency" and self.concurrency is None:
            raise ValueError("mode concurrency needs concurrency: N")
        if self.mode == "rate" and self.rate_rps is None:
            raise ValueError("mode rate needs rate_rps: requests per second")
        if any(rate <= 0 for rate in self.rates()):
            raise ValueError("rate_rps must be positive")
        return self

    def rates(self) -> tuple[float, ...]:
        if self.rate_rps is None:
            return ()
        return self.rate_rps if isinstance(self.rate_rps, tuple) else (self.rate_rps,)

    def expand(self) -> list[LoadSpec]:
        """A rate sweep becomes one rate cell per rate; every other mode is itself."""
        if self.mode != "rate" or len(self.rates()) <= 1:
            return [self]
        return [self.model_copy(update={"rate_rps": rate}) for rate in self.rates()]

    @property
    def label(self) -> str:
        if self.mode == "concurrency":
            return f"concurrency-{self.concurrency}"
        if self.mode == "rate":
            return "rate-" + "+".join(f"{rate:g}" for rate in self.rates()) + "rps"
        return self.mode


class SloSpec(Strict):
    """Service-level objectives for goodput (vLLM's definitions): a request is good when it meets all set."""

    ttft_s: float | None = Field(None, gt=0)
    tpot_s: float | None = Field(None, gt=0)
    e2e_s: float | None = Field(None, gt=0)


class Requirements(Strict):
    """What a usable option must meet; the procurement summary picks the cheapest one that does."""

    min_accuracy: float = Field(0.0, ge=0.0, le=1.0)
    max_p95_latency_s: float | None = Field(None, gt=0)


class SuiteSpec(Strict):
    schema_version: int = SUITE_SCHEMA_VERSION
    name: str = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    version: str = "1"
    description: str = ""
    warmup: int = Field(1, ge=0, le=100)
    repetitions: int = Field(1, ge=1, le=100)
    cost: CostSpec = CostSpec()
    requirements: Requirements = Requirements()
    load: tuple[LoadSpec, ...] = Field((LoadSpec(),), min_length=1)
    slo: SloSpec = SloSpec()
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    tasks: tuple[TaskSpec, ...] = Field(min_length=1)


class LoadedSuite(BaseModel):
    """A validated suite plus where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    spec: SuiteSpec
    path: Path
    sha256: str
    text: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent


class SuiteChecks(Protocol):
    """Semantic checks beyond the schema: on the raw mapping (when the schema fails) and on the spec."""

    def raw(self, raw: dict[str, Any], file: Path) -> list[Problem]: ...

    def full(self, suite: LoadedSuite) -> list[Problem]: ...


class NoChecks:
    def raw(self, raw: dict[str, Any], file: Path) -> list[Problem]:
        return []

    def full(self, suite: LoadedSuite) -> list[Problem]:
        return []


MAX_SUITE_BYTES = 4 << 20
"""Suites are small; a larger file is refused before it is parsed."""


def load_suite(path: str | Path) -> LoadedSuite:
    """Parse and fully validate a suite; raise SpecError listing every problem found."""
    from bench.spec_checks import SemanticChecks

    file = Path(path)
    return parse_suite(read_text_file(file, "suite"), file, SemanticChecks())


def read_text_file(file: Path, what: str, max_bytes: int = MAX_SUITE_BYTES) -> str:
    """A small UTF-8 text file; SpecError names the file and the cause (missing, a folder, too large, not UTF-8)."""
    try:
        data = _read_bounded(file, max_bytes + 1)
    except TimeoutError:
        raise SpecError([Problem(str(file), "", f"cannot read {what}: nothing arrived in {PIPE_WAIT_S:g} s "
                                 "(a pipe with no writer?)")]) from None
    except OSError as exc:
        raise SpecError([Problem(str(file), "", f"cannot read {what}: {exc.strerror or exc}")]) from None
    if len(data) > max_bytes:
        raise SpecError([Problem(str(file), "", f"{what} is larger than {max_bytes >> 20} MiB")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError([Problem(str(file), f"line {line}", f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                                 "save the file as UTF-8")]) from None


PIPE_WAIT_S = 3.0
"""How long a pipe (`bench validate <(generate-suite)`, a FIFO) may stay silent before reading gives up."""


def _read_bounded(file: Path, limit: int) -> bytes:
    """Up to `limit` bytes; a pipe or device is opened without blocking and read with a timeout (TimeoutError),
    so a FIFO with no writer cannot hang bench."""
    import os
    import select
    import stat

    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.set_blocking(fd, True)
            with os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read(limit)
        chunks: list[bytes] = []
        while sum(map(len, chunks)) < limit:
            if not select.select([fd], [], [], PIPE_WAIT_S)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)[:limit]
    finally:
        os.close(fd)


def parse_suite(text: str, file: Path, checks: SuiteChecks) -> LoadedSuite:
    """Validate suite text: schema errors and semantic problems are reported together."""
    from bench.redact import register_config

    try:
        raw = load_yaml_strict(text)
    except YamlLoadError as exc:
        raise SpecError([Problem(str(file), f"line {exc.line}", exc.message)]) from None
    register_config(raw.get("models") if isinstance(raw, dict) else None)  # credentials live in backend blocks;
    # from here on they are masked in everything bench writes or prints
    if not isinstance(raw, dict):
        raise SpecError([Problem(str(file), "", "a suite must be a mapping with name, models and tasks")])
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc, str(file), raw) + checks.raw(raw, file)) from None
    loaded = LoadedSuite(spec=spec, path=file.resolve(), sha256=sha256_text(text), text=text)
    problems = checks.full(loaded)
    if problems:
        raise SpecError(problems)
    return loaded


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def format_location(loc: tuple[int | str, ...]) -> str:
    """('tasks', 2, 'scorer') -> 'tasks[2].scorer'; drops pydantic's union-tag segments."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in {"jsonl", "csv", "generator"} or "[" in part or part.startswith(("function-", "tagged-union")):
            continue
        else:
            out += f".{part}" if out else part
    return out


def pydantic_problems(exc: ValidationError, file: str, raw: Any = None, root: Any = None) -> list[Problem]:
    """Turn pydantic errors into one Problem each, with 'did you mean' hints for unknown keys."""
    problems = []
    errors = exc.errors()
    failed = [tuple(e["loc"]) for e in errors]
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(f[: len(loc)] == loc and f != loc for f in failed):
            continue  # an empty list because every entry failed: the entries' errors say why
        hint = _hint_for(err, loc, raw, root or SuiteSpec)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(file, format_location(loc), message, hint))
    return problems


def _hint_for(err: Any, loc: tuple[int | str, ...], raw: Any, root: Any) -> str:
    from bench.registry import suggest

    if err["type"] == "extra_forbidden" and isinstance(loc[-1], str):
        allowed = _allowed_keys(loc[:-1], raw, root)
        return suggest(loc[-1], allowed) if allowed else ""
    if err["type"].endswith("_type") or err["type"].endswith("_parsing"):
        return f"got {_short_repr(err.get('input'))}"
    return ""


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_keys(parent: tuple[int | str, ...], raw: Any, root: Any) -> list[str]:
    """Field names of the model found at the parent location (walking the spec classes from root)."""
    model: Any = root
    node: Any = raw
    for part in parent:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if part in {"jsonl", "csv", "generator"}:
            continue
        node = node.get(part) if isinstance(node, dict) else None
        model = _field_model(model, part, node)
        if model is None:
            return []
    return list(model.model_fields)


def _field_model(model: Any, name: str, node: Any) -> Any:
    field = model.model_fields.get(name)
    if field is None:
        return None
    candidates = _models_in(field.annotation)
    if len(candidates) > 1 and isinstance(node, dict):
        kind = _dataset_kind(node)
        candidates = [c for c in candidates if c.model_fields.get("kind") is None
                      or kind in str(c.model_fields["kind"].annotation)] or candidates
    return candidates[0] if candidates else None


def _models_in(annotation: Any) -> list[Any]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[Any] = []
    for arg in get_args(annotation):
        found.extend(_models_in(arg))
    return found
