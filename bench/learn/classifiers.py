"""Text classifiers a trained model (backend kind `trained`) and a learn curve fit on a few labels:

  tfidf_logreg  scikit-learn TF-IDF (word 1-2 grams, sublinear tf) + logistic regression
  embed_logreg  the bundled all-MiniLM-L6-v2's sentence embeddings (cached per text) + logistic regression
  setfit        SetFit (Tunstall et al. 2022): contrastive fine-tuning of the same MiniLM + a logistic head

Every classifier follows TextClassifier; make_classifier builds one by kind with its params checked."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

from bench.learn.embeddings import INSTALL, Embedder, minilm_path, quiet_transformers, shared_embedder
from bench.learn.params import CLASSIFIER_KINDS, LogRegParams, SetFitParams, TfidfParams, classifier_params
from bench.optional import require


class TextClassifier(Protocol):
    """A classifier of texts into labels. `classes_`: the labels in the column order of predict_proba."""

    classes_: list[str]

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TextClassifier:
        """Learn from `texts` and their `labels` (same length, at least 2 distinct labels); returns self."""
        ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (len(texts), len(classes_)), each row summing to 1."""
        ...


def _check_labels(texts: Sequence[str], labels: Sequence[str]) -> list[str]:
    """The sorted distinct labels; ValueError for mismatched lengths or fewer than 2 labels."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"a classifier needs examples of at least 2 labels, got {classes}")
    return classes


def _logreg(params: LogRegParams, seed: int) -> Any:
    linear = require("sklearn.linear_model", "the logistic-regression classifiers", INSTALL)
    return linear.LogisticRegression(C=params.C, max_iter=params.max_iter, random_state=seed,
                                     class_weight="balanced" if params.class_weight else None)


def _columns(proba: np.ndarray, have: Sequence[Any], want: Sequence[Any]) -> np.ndarray:
    """`proba` (columns in `have` order) re-ordered to `want`, as float64 rows renormalized to sum to 1."""
    index = {label: i for i, label in enumerate(have)}
    out: np.ndarray = np.asarray(proba, dtype=np.float64)[:, [index[label] for label in want]]
    normalized: np.ndarray = out / out.sum(axis=1, keepdims=True)
    return normalized


class TfidfLogReg:
    """TF-IDF + logistic regression (scikit-learn)."""

    kind: ClassVar[str] = "tfidf_logreg"

    def __init__(self, params: TfidfParams, seed: int) -> None:
        self.params, self.seed = params, seed
        self.classes_: list[str] = []
        self._pipeline: Any = None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TfidfLogReg:
        """Fit the vectorizer and the regression on `texts`; ValueError for fewer than 2 labels."""
        self.classes_ = _check_labels(texts, labels)
        text = require("sklearn.feature_extraction.text", "tfidf_logreg", INSTALL)
        pipeline = require("sklearn.pipeline", "tfidf_logreg", INSTALL)
        vectorizer = text.TfidfVectorizer(ngram_range=(1, self.params.ngram_max), min_df=self.params.min_df,
                                          sublinear_tf=True, strip_accents="unicode")
        self._pipeline = pipeline.make_pipeline(vectorizer, _logreg(self.params, self.seed))
        self._pipeline.fit(list(texts), list(labels))
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), len(classes_)), rows sum to 1."""
        return _columns(self._pipeline.predict_proba(list(texts)), list(self._pipeline.classes_), self.classes_)


class EmbedLogReg:
    """MiniLM sentence embeddings (cached per text, shared by every instance) + logistic regression."""

    kind: ClassVar[str] = "embed_logreg"

    def __init__(self, params: LogRegParams, seed: int, embedder: Embedder | None = None) -> None:
        self.params, self.seed = params, seed
        self.classes_: list[str] = []
        self._embedder = embedder
        self._model: Any = None
        self.cache_inputs = True
        """Whether predict_proba keeps its texts' embeddings (a learn curve) or embeds them afresh each time
        (a benchmarked model: every answered item pays for its embedding)."""

    @property
    def embedder(self) -> Embedder:
        """The Embedder given, else the process-wide one."""
        return self._embedder or shared_embedder()

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> EmbedLogReg:
        """Embed `texts` and fit the regression; ValueError for fewer than 2 labels."""
        self.classes_ = _check_labels(texts, labels)
        self._model = _logreg(self.params, self.seed).fit(self.embedder.encode(texts), list(labels))
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), len(classes_)), rows sum to 1."""
        vectors = self.embedder.encode(texts) if self.cache_inputs else self.embedder.embed(texts)
        return _columns(self._model.predict_proba(vectors), list(self._model.classes_), self.classes_)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the embedder (the bundled model is not part of a fitted classifier)."""
        return {**self.__dict__, "_embedder": None}


class SetFitClassifier:
    """SetFit on the bundled MiniLM: contrastive fine-tuning of the body on label pairs, then a logistic head."""

    kind: ClassVar[str] = "setfit"

    def __init__(self, params: SetFitParams, seed: int) -> None:
        self.params, self.seed = params, seed
        self.classes_: list[str] = []
        self._model: Any = None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> SetFitClassifier:
        """Fine-tune a fresh copy of the bundled MiniLM on `texts`; ValueError for fewer than 2 labels."""
        self.classes_ = _check_labels(texts, labels)
        minilm_path()  # BackendError naming the extra, before the heavier imports
        quiet_transformers()
        setfit = require("setfit", "the setfit classifier", INSTALL)
        setfit.logging.set_verbosity_error()  # its own handler: "***** Running training *****" and the like
        datasets = require("datasets", "the setfit classifier", INSTALL)
        self._model = setfit.SetFitModel.from_pretrained(str(minilm_path()), local_files_only=True, device="cpu")
        data = datasets.Dataset.from_dict({"text": list(texts), "label": [self.classes_.index(x) for x in labels]})
        with tempfile.TemporaryDirectory(prefix="bench-setfit-") as scratch:  # nothing written outside it
            args = setfit.TrainingArguments(
                output_dir=scratch, save_strategy="no", logging_strategy="no", logging_first_step=False,
                report_to="none",
                show_progress_bar=False, num_iterations=self.params.num_iterations, seed=self.seed,
                num_epochs=self.params.num_epochs, batch_size=self.params.batch_size,
                body_learning_rate=self.params.body_learning_rate)
            with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():  # it prints its loss logs
                warnings.filterwarnings("ignore", message=".*pin_memory.*")  # torch on a CPU-only machine
                setfit.Trainer(model=self._model, args=args, train_dataset=data).train()
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Shape (len(texts), len(classes_)), rows sum to 1."""
        proba = self._model.predict_proba(list(texts), as_numpy=True, show_progress_bar=False)
        have = [int(c) for c in self._model.model_head.classes_]
        return _columns(proba, have, list(range(len(self.classes_))))


CLASSIFIERS: dict[str, type[Any]] = {
    "tfidf_logreg": TfidfLogReg, "embed_logreg": EmbedLogReg, "setfit": SetFitClassifier}
"""kind -> classifier class (its params model: bench.learn.params.CLASSIFIER_KINDS)."""
assert set(CLASSIFIERS) == set(CLASSIFIER_KINDS)


def make_classifier(kind: str, seed: int, **params: Any) -> TextClassifier:
    """An unfitted classifier of `kind` (tfidf_logreg, embed_logreg, setfit) seeded with `seed`; ValueError for an
    unknown kind (naming the kinds) or params the kind does not take."""
    checked = classifier_params(kind, params)
    cls: Any = CLASSIFIERS[kind]
    classifier: TextClassifier = cls(checked, seed)
    return classifier
