"""Dataset kinds as a registry: what shared code (checks, runner, manifest) needs of a dataset, behind its `kind`.

A kind is a DatasetKind subclass with a pydantic `Params` model (the dataset block of the suite, `kind`
included) and `items()`; the other hooks have defaults. Built-in kinds (jsonl, csv, generator, lm_eval) are
typed models of the suite schema (bench/suite/spec.py); any other `kind` is parsed as a PluginDataset (free
keys) and validated by the kind's own Params when the suite is checked. Third-party kinds register through
the entry-point group `bench.datasets`:

    [project.entry-points."bench.datasets"]
    my_kind = "my_package.data:MyKind"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from bench.errors import Problem
from bench.registry import Registry
from bench.suite.spec import GenerationSpec, PluginDataset, TaskSpec
from bench.tasks.items import Item

if TYPE_CHECKING:
    from bench.backends.base import Request


@dataclass(frozen=True)
class Where:
    """Where a dataset block sits: the suite file, its field path (e.g. tasks[0].dataset) and the suite folder."""

    file: str
    location: str
    base_dir: Path


class DatasetKind:
    """What bench needs of a dataset kind. Subclasses set `Params` and implement `items`."""

    Params: ClassVar[type[BaseModel]]
    builds_requests: ClassVar[bool] = False
    """Items carry the kind's own requests (lm-eval): `request()` builds them, the prediction is the answer's
    text and the task's prompt, few-shot and answer parsing do not apply (the kind's `check` says so)."""
    limit: ClassVar[Literal["sample", "first"]] = "sample"
    """How `limit: N` picks items: a seeded sample (bench.tasks.sampling), or the first N (lm-eval's --limit)."""

    def items(self, params: Any, base_dir: Path) -> list[Item]:
        """Every item, in the data's order; SpecError names the file and line of a bad one."""
        raise NotImplementedError

    def data_files(self, params: Any) -> dict[str, str]:
        """The files the kind reads, by the field that names them (e.g. {"path": "data/test.jsonl"}, relative to
        the suite folder as written): validation checks they exist, and the manifest holds their sha256 (a
        resumed run refuses changed data)."""
        return {}

    def check(self, task: TaskSpec, params: Any, where: Where) -> list[Problem]:
        """Problems of this kind in `task` before its items are read (an unknown generator, an lm-eval task
        that cannot load...). When any is returned the items are not read."""
        return []

    def fingerprint(self, params: Any, base_dir: Path) -> dict[str, str]:
        """Manifest entries identifying data that is not a file (name -> sha256 or description)."""
        return {}

    def request(self, item: Item, request_id: str, generation: GenerationSpec) -> Request:
        """The kind's own request for an item (only kinds with builds_requests)."""
        raise NotImplementedError(f"{type(self).__name__} builds no requests")


DATASETS: Registry[type[DatasetKind]] = Registry("dataset kind", "bench.datasets")
DATASETS.add("jsonl", "bench.tasks.datasets:JsonlKind", "bench.suite.spec:JsonlDataset")
DATASETS.add("csv", "bench.tasks.datasets:CsvKind", "bench.suite.spec:CsvDataset")
DATASETS.add("generator", "bench.tasks.datasets:GeneratorKind", "bench.suite.spec:GeneratorDataset")
DATASETS.add("lm_eval", "bench.tasks.lm_eval_kind:LmEvalKind", "bench.suite.spec:LmEvalDataset")


def kind_of(spec: BaseModel) -> DatasetKind:
    """The DatasetKind for a dataset block (KeyError for an unknown kind, PluginError for a broken plugin)."""
    return DATASETS.get(str(getattr(spec, "kind", "")))()


def dataset_params(spec: BaseModel) -> Any:
    """The dataset block as its kind's Params: built-in kinds are typed already; a plugin's free keys are
    validated by its Params (pydantic ValidationError when they do not fit)."""
    if isinstance(spec, PluginDataset):
        return DATASETS.params(spec.kind).model_validate(spec.model_dump())
    return spec
