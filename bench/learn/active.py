"""Pool-based active learning with small-text (Schröder et al., 2023): a seeded, stratified cold start, then query
rounds by uncertainty, or random sampling as the baseline, with any TextClassifier as the model.

small-text (1.4.1, checked with scikit-learn 1.9) drives the loop: PoolBasedActiveLearner, its query strategies
(LeastConfidence; BreakingTies = the margin between the two most likely classes; RandomSampling) and
random_initialization_stratified. Our classifiers take raw texts, so they are wrapped in a small-text Classifier.
small-text's TextDataset cannot be used with numpy 2: slicing it (`dataset[indices].x`, which the learner does on
every retrain) reads `np.lib.index_tricks`, private since numpy 2.0 (AttributeError). So the learner gets a
SklearnDataset whose one feature column is the pool index, and the wrapper looks the texts up by it.
small-text draws from numpy's global random state; every call into it runs inside `seeded(seed)`, which restores
the previous state afterwards."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.learn.classifiers import TextClassifier
from bench.optional import require

INSTALL = "pip install -e '.[trained]'"
STRATEGIES = ("random", "uncertainty")
QUERIES = ("least-confidence", "margin")

Factory = Callable[[], TextClassifier]
"""A fresh, unfitted classifier (the seed is bound by the caller)."""


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """numpy's global random state seeded with `seed` inside the block, restored after it."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _small_text() -> Any:
    return require("small_text", "active learning (bench learn-curve)", INSTALL)


def expand(proba: np.ndarray, have: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """`proba` with columns `have` (a classifier fit on a subset of labels) widened to `classes`, zeros elsewhere;
    shape (n, len(classes))."""
    out = np.zeros((proba.shape[0], len(classes)), dtype=np.float64)
    out[:, [list(classes).index(label) for label in have]] = proba
    return out


def adapter(factory: Factory, texts: Sequence[str], classes: Sequence[str]) -> Any:
    """A small-text classifier factory whose classifiers fit and predict through `factory()` on the `texts` that
    a dataset's rows (pool indices, shape (n, 1)) point at."""

    def rows(data_set: Any) -> list[str]:
        return [texts[int(i)] for i in np.asarray(data_set.x)[:, 0]]

    st = _small_text()

    classifier_base: Any = st.classifiers.Classifier
    factory_base: Any = st.classifiers.factories.AbstractClassifierFactory

    class Wrapped(classifier_base):  # type: ignore[misc]
        def __init__(self) -> None:
            self.model = factory()

        def fit(self, train_set: Any, validation_set: Any = None, weights: Any = None) -> Wrapped:
            self.model.fit(rows(train_set), [classes[int(i)] for i in train_set.y])
            return self

        def predict_proba(self, data_set: Any) -> np.ndarray:
            return expand(self.model.predict_proba(rows(data_set)), self.model.classes_, classes)

        def predict(self, data_set: Any, return_proba: bool = False) -> Any:
            proba = self.predict_proba(data_set)
            return (proba.argmax(axis=1), proba) if return_proba else proba.argmax(axis=1)

    class WrappedFactory(factory_base):  # type: ignore[misc]
        def new(self) -> Wrapped:
            return Wrapped()

    return WrappedFactory()


def query_strategy(strategy: str, query: str) -> Any:
    """The small-text query strategy: RandomSampling, LeastConfidence or BreakingTies (margin); ValueError else."""
    st = _small_text()
    if strategy == "random":
        return st.RandomSampling()
    if strategy == "uncertainty":
        return st.LeastConfidence() if query == "least-confidence" else st.BreakingTies()
    raise ValueError(f"unknown strategy '{strategy}': use {', '.join(STRATEGIES)}")


@dataclass(frozen=True)
class Pool:
    """The train pool: texts, their labels, and the task's label set (`classes`, every label is in it)."""

    texts: list[str]
    labels: list[str]
    classes: list[str]

    def y(self) -> np.ndarray:
        """Labels as indices into `classes`, shape (n,)."""
        return np.array([self.classes.index(label) for label in self.labels], dtype=np.int64)


def cold_start(pool: Pool, n: int, seed: int) -> np.ndarray:
    """n pool indices drawn at random, stratified by label (small-text), at least 2 labels when n >= 2."""
    with seeded(seed):
        chosen = np.asarray(_small_text().random_initialization_stratified(pool.y(), n_samples=n))
    if len({pool.labels[i] for i in chosen}) < 2 <= n:
        other = next(i for i in range(len(pool.labels)) if pool.labels[i] != pool.labels[chosen[0]])
        chosen[-1] = other
    return chosen


@dataclass(frozen=True)
class Round:
    """One point of an active-learning run: the labelled pool indices and the classifier fit on them."""

    indices: np.ndarray
    model: TextClassifier


def _quiet(seed: int, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call(*args, **kwargs)` with numpy seeded (`seed`) and small-text's deprecation warnings silenced (1.4.1
    warns about its own internal use of get_flattened_unique_labels on every retrain)."""
    with warnings.catch_warnings(), seeded(seed):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="small_text")
        return call(*args, **kwargs)


def rounds(pool: Pool, budgets: Sequence[int], factory: Factory, strategy: Any, seed: int) -> Iterator[Round]:
    """For each budget (ascending, the first is the cold start's size): the classifier fit on that many labels,
    the labels after the first chosen by `strategy` (a small-text query strategy) from the remaining pool.
    Round k's random draws are seeded with seed + k, so every strategy shares the cold start of a seed."""
    st = _small_text()
    y = pool.y()
    index = np.arange(len(pool.texts)).reshape(-1, 1)
    dataset = _quiet(seed, st.SklearnDataset, index, y, target_labels=np.arange(len(pool.classes)))
    learner = _quiet(seed, st.PoolBasedActiveLearner, adapter(factory, pool.texts, pool.classes), strategy, dataset)
    start = cold_start(pool, budgets[0], seed)
    _quiet(seed, learner.initialize_data, start, y[start])
    yield Round(np.array(learner.indices_labeled), learner.classifier.model)
    for k, budget in enumerate(budgets[1:], start=1):
        asked = _quiet(seed + k, learner.query, num_samples=budget - len(learner.indices_labeled))
        _quiet(seed + k, learner.update, y[asked])
        yield Round(np.array(learner.indices_labeled), learner.classifier.model)
