"""The suite file: strict, frozen pydantic models (read and checked by bench.suite.load.load_suite)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)

SUITE_SCHEMA_VERSION = 1
SUITE_SCHEMA_VERSIONS = (1,)
"""The suite format versions this bench reads; another one is an input error (exit 2) naming these."""
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
MAX_ID_LENGTH = 100
"""Suite names and ids become parts of file names (run folders, plots); file systems allow 255 bytes."""


def supported_version(value: int, versions: tuple[int, ...], what: str) -> int:
    """`value` when it is one of `versions`; ValueError naming them otherwise (for a field validator)."""
    if value not in versions:
        raise ValueError(f"schema_version {value} is not supported: this bench reads {what} schema_version "
                         f"{', '.join(map(str, versions))}")
    return value


class Strict(BaseModel):
    """Base for every spec model: unknown keys are errors and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerationSpec(Strict):
    """Sampling parameters; greedy decoding by default so results are reproducible."""

    max_tokens: StrictInt = Field(128, ge=1, le=32768)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: StrictInt = 0
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
    """A model to run: its id, its backend block (kind + the kind's own params) and generation settings."""

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
    """A JSON Lines file (one object per line), path relative to the suite, with its field map."""

    kind: Literal["jsonl"] = "jsonl"
    path: str
    fields: FieldMap = FieldMap()


class CsvDataset(Strict):
    """A CSV file with a header row (one-character delimiter), path relative to the suite, with its field map."""

    kind: Literal["csv"] = "csv"
    path: str
    delimiter: str = Field(",", min_length=1, max_length=1)
    fields: FieldMap = FieldMap()


class GeneratorDataset(Strict):
    """Items made by a registered generator: `n` of them (1-5,000), seeded."""

    kind: Literal["generator"]
    name: str
    n: StrictInt = Field(100, ge=1, le=5_000)
    """At most 5,000: generating takes about 0.2 ms an item, and `bench validate` generates them all."""
    seed: StrictInt = 0


class LmEvalDataset(Strict):
    """An lm-eval task (its YAML, its prompts, its filters and metrics) whose requests bench's backends answer."""

    kind: Literal["lm_eval"]
    task: str = Field(min_length=1)
    include_path: str | None = None
    """Folder of task YAMLs, relative to the suite; relative data_files in them are relative to that folder."""
    num_fewshot: StrictInt | None = Field(None, ge=0, le=64)
    fewshot_seed: StrictInt = 1234
    """lm-eval's default fewshot_random_seed, so few-shot examples match its own run."""


class PluginDataset(BaseModel):
    """A dataset of a kind registered by a plugin (entry-point group `bench.datasets`): its keys are checked by
    the kind's own Params model when the suite is validated (bench.tasks.dataset_kinds)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str = Field(min_length=1)


FileDataset = JsonlDataset | CsvDataset
BUILT_IN_KINDS = ("jsonl", "csv", "generator", "lm_eval")


def dataset_kind(value: Any) -> str:
    """A dataset without `kind` is CSV when its path ends in .csv, else JSONL."""
    if isinstance(value, dict):
        path = value.get("path")
        default = "csv" if isinstance(path, str) and path.lower().endswith(".csv") else "jsonl"
        return str(value.get("kind", default))
    return str(getattr(value, "kind", "jsonl"))


def _dataset_tag(value: Any) -> str:
    """The union member for a dataset block: its built-in kind, else `plugin` (a kind checked by the registry)."""
    kind = dataset_kind(value)
    return kind if kind in BUILT_IN_KINDS else "plugin"


DatasetSpec = Annotated[
    Annotated[JsonlDataset, Tag("jsonl")] | Annotated[CsvDataset, Tag("csv")]
    | Annotated[GeneratorDataset, Tag("generator")] | Annotated[LmEvalDataset, Tag("lm_eval")]
    | Annotated[PluginDataset, Tag("plugin")],
    Discriminator(_dataset_tag),
]


class FewShotSpec(Strict):
    """k examples drawn (seeded) from a separate train split, shown before every item."""

    k: StrictInt = Field(3, ge=0, le=64)
    dataset: DatasetSpec
    seed: StrictInt = 1234
    balanced: StrictBool = True


class PromptSpec(Strict):
    """System and user parts; {input} (the input column), any dataset column by name and {choices}."""

    system: str = ""
    user: str = "{input}"
    format: Literal["auto", "chat", "completion"] = "auto"
    truncate: Literal["none", "left", "right", "middle"] = "none"
    """An input too long for the context window: none = the item is refused (an error, counted as over ctx);
    left / right / middle = that part of the input field is cut (by the backend's tokens) until the prompt +
    max_tokens fits; the tokens cut are recorded per item (bench/run/truncate.py)."""


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
    """A task: its dataset, optional few-shot examples, an optional train split, prompt, answer mode, scorers (at
    least one; a bare name is a ScorerRef), an optional limit (items) and how a limit samples."""

    id: str = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    version: str = "1"
    description: str = ""
    dataset: DatasetSpec
    few_shot: FewShotSpec | None = None
    train: DatasetSpec | None = None
    """The train split a trained model (backend kind `trained`) learns from, same shape as `dataset`; default:
    the few-shot source's dataset (bench.learn.pool.train_pool)."""
    prompt: PromptSpec = PromptSpec()
    answer: AnswerSpec
    scorers: tuple[ScorerRef, ...] = Field(min_length=1)
    limit: StrictInt | None = Field(None, ge=1)
    sample: Literal["balanced", "natural"] = "balanced"
    """How a limit draws `choices` items: balanced over the labels, or in the data's own label mix (natural).
    Text and json answers are always a seeded random sample."""

    @field_validator("scorers", mode="before")
    @classmethod
    def _names_to_refs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


NO_BASIS = "basis not given"
"""The cost basis of a suite that sets a price without saying where it comes from."""


class CostSpec(Strict):
    """What one hour of this machine costs, and dated price overrides for hardware profiles."""

    usd_per_hour: float = Field(0.0, ge=0.0)
    basis: str = NO_BASIS
    """Where the price comes from (a quote, a price list and its date), printed beside it: `× $1.0/h (basis)`."""
    profile: str | None = None
    """Price and power this machine as this hardware profile (when usd_per_hour is not set)."""
    prices: dict[str, float] = {}
    """Hardware profile id -> $/hour to use instead of the profile's own price."""
    monthly_tasks: StrictInt = Field(100_000, ge=1)
    """Tasks per month at which the cost section totals a month: inference at this volume plus, for a trained
    model, its one-off training (bench.cost.rows.with_monthly)."""

    @field_validator("basis")
    @classmethod
    def _legacy_basis(cls, value: str) -> str:
        """Runs written before the default was renamed say "not set", which read as if the price were unset."""
        return NO_BASIS if value == "not set" else value


class LoadSpec(Strict):
    """How requests are sent: one at a time (latency), N in flight (concurrency), all at once (throughput),
    or Poisson arrivals at a rate (rate)."""

    mode: Literal["latency", "concurrency", "throughput", "rate"] = "latency"
    concurrency: StrictInt | None = Field(None, ge=1, le=4096)
    rate_rps: float | tuple[float, ...] | None = None
    """Requests per second; a list is a sweep: one cell per rate, and the report draws the curve."""
    seed: StrictInt = 0

    @model_validator(mode="after")
    def _parameters_match_the_mode(self) -> LoadSpec:
        if self.mode == "concurrency" and self.concurrency is None:
            raise ValueError("mode concurrency needs concurrency: N")
        if self.mode == "rate" and self.rate_rps is None:
            raise ValueError("mode rate needs rate_rps: requests per second")
        if self.mode != "concurrency" and self.concurrency is not None:
            raise ValueError(f"concurrency applies to mode concurrency only (mode {self.mode} would ignore it): "
                             "remove it or set mode: concurrency")
        if self.mode != "rate" and self.rate_rps is not None:
            raise ValueError(f"rate_rps applies to mode rate only (mode {self.mode} would ignore it): "
                             "remove it or set mode: rate")
        if any(rate <= 0 for rate in self.rates()):
            raise ValueError("rate_rps must be positive")
        return self

    def rates(self) -> tuple[float, ...]:
        """The rates (requests/s) as a tuple: () without rate_rps, one entry for one rate, several for a sweep."""
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
        """The load's part of cell keys and labels: "latency", "throughput", "concurrency-N" or "rate-R1+R2rps"."""
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
    """A whole suite file: its schema_version (only SUITE_SCHEMA_VERSIONS; another is a SpecError, exit 2),
    name, warm-up items and repetitions, cost, requirements, load modes, SLOs, models and tasks."""

    schema_version: StrictInt = SUITE_SCHEMA_VERSION
    name: str = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    version: str = "1"
    description: str = ""
    warmup: StrictInt = Field(1, ge=0, le=100)
    repetitions: StrictInt = Field(1, ge=1, le=100)
    cost: CostSpec = CostSpec()
    requirements: Requirements = Requirements()
    load: tuple[LoadSpec, ...] = Field((LoadSpec(),), min_length=1)
    slo: SloSpec = SloSpec()
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    tasks: tuple[TaskSpec, ...] = Field(min_length=1)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        return supported_version(value, SUITE_SCHEMA_VERSIONS, "suite")


class LoadedSuite(BaseModel):
    """A validated suite plus where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    spec: SuiteSpec
    path: Path
    sha256: str
    text: str

    @property
    def base_dir(self) -> Path:
        """The suite file's folder: relative dataset and model paths start here."""
        return self.path.parent
