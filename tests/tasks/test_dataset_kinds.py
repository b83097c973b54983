"""The dataset-kind registry: every built-in kind registered with the spec's model as its Params, and blocks of
other kinds validated by their plugin's Params."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.suite.spec import BUILT_IN_KINDS, GeneratorDataset, JsonlDataset, PluginDataset
from bench.tasks.dataset_kinds import DATASETS, dataset_params, kind_of


@pytest.mark.parametrize("name", BUILT_IN_KINDS)
def test_each_built_in_kind_is_registered_with_its_spec_model(name: str) -> None:
    assert DATASETS.params(name) is DATASETS.get(name).Params  # the lazy params target names the same model


def test_the_kind_says_which_files_it_reads_and_how_a_limit_picks() -> None:
    jsonl = JsonlDataset(path="data/x.jsonl")
    assert kind_of(jsonl).data_files(jsonl) == {"path": "data/x.jsonl"}
    generator = GeneratorDataset(kind="generator", name="invoices", n=2)
    assert kind_of(generator).data_files(generator) == {}
    assert [kind_of(s).limit for s in (jsonl, generator)] == ["sample", "sample"]
    assert DATASETS.get("lm_eval").limit == "first" and DATASETS.get("lm_eval").builds_requests


def test_generator_items_come_through_the_kind() -> None:
    generator = GeneratorDataset(kind="generator", name="invoices", n=3, seed=1)
    items = kind_of(generator).items(dataset_params(generator), Path("."))
    assert len(items) == 3 and len({item.id for item in items}) == 3


def test_a_block_of_an_unregistered_kind_names_close_ones() -> None:
    with pytest.raises(KeyError, match="unknown dataset kind 'jsnl' \\(did you mean 'jsonl'\\?\\)"):
        dataset_params(PluginDataset(kind="jsnl"))
