"""The params of each classifier kind (pydantic only: a suite is validated without importing scikit-learn or
torch)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError


class ClassifierParams(BaseModel):
    """Base of each kind's params: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LogRegParams(ClassifierParams):
    """Logistic regression (scikit-learn, lbfgs): inverse regularization C and class weighting."""

    C: float = Field(10.0, gt=0)
    class_weight: StrictBool = True
    """true: classes weighted inversely to their frequency (scikit-learn's class_weight="balanced")."""
    max_iter: StrictInt = Field(2000, ge=10)


class TfidfParams(LogRegParams):
    """TF-IDF features: word n-grams up to `ngram_max`, terms in at least `min_df` texts."""

    ngram_max: StrictInt = Field(2, ge=1, le=3)
    min_df: StrictInt = Field(1, ge=1)


class SetFitParams(ClassifierParams):
    """SetFit training: `num_iterations` text pairs drawn per example, body epochs, batch size, body learning rate."""

    num_iterations: StrictInt = Field(20, ge=1, le=100)
    num_epochs: StrictInt = Field(1, ge=1, le=10)
    batch_size: StrictInt = Field(16, ge=2, le=256)
    body_learning_rate: float = Field(2e-5, gt=0)


CLASSIFIER_KINDS: dict[str, type[ClassifierParams]] = {
    "tfidf_logreg": TfidfParams, "embed_logreg": LogRegParams, "setfit": SetFitParams}
"""kind -> its params model (the classifiers themselves: bench.learn.classifiers.CLASSIFIERS)."""


def classifier_params(kind: str, params: dict[str, Any]) -> ClassifierParams:
    """`params` checked by the kind's params model; ValueError naming the kinds (unknown kind) or the bad keys."""
    if kind not in CLASSIFIER_KINDS:
        raise ValueError(f"unknown classifier kind '{kind}': use one of {', '.join(CLASSIFIER_KINDS)}")
    model = CLASSIFIER_KINDS[kind]
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        bad = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{kind} params: {bad} (allowed: {', '.join(model.model_fields)})") from None
