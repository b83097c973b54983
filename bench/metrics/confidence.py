"""Router signals of one item (Record.confidence) from what a backend gave: option log-likelihoods, generated
tokens' log-probabilities, and the JSON answer checked against the task's schema. Pure functions; a signal that
cannot be derived is None, never 0 (docs/routing.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.results.schema import Confidence


def option_signals(choice_logprobs: Sequence[float] | None) -> dict[str, Any]:
    """Softmax over the options' log-likelihoods (nats) and its max, top-2 margin and entropy (nats).

    Options with -inf log-likelihood get probability 0; all -inf, NaN or no options: no signal ({}).
    """
    if not choice_logprobs or any(math.isnan(x) or x == math.inf for x in choice_logprobs):
        return {}
    top = max(choice_logprobs)
    if top == -math.inf:
        return {}
    weights = [math.exp(x - top) for x in choice_logprobs]
    total = math.fsum(weights)
    probs = [w / total for w in weights]
    ranked = sorted(probs, reverse=True)
    entropy = -math.fsum(p * math.log(p) for p in probs if p > 0)
    return {"option_probs": probs, "max_prob": ranked[0],
            "margin": ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0), "entropy": max(entropy, 0.0)}


def token_signals(token_logprobs: Sequence[float] | None) -> dict[str, Any]:
    """Mean and minimum of the generated tokens' log-probabilities (nats); no tokens or a NaN: no signal ({})."""
    if not token_logprobs or any(math.isnan(x) for x in token_logprobs):
        return {}
    return {"token_logprob_mean": math.fsum(token_logprobs) / len(token_logprobs),
            "token_logprob_min": min(token_logprobs)}


def json_valid(prediction: Any, schema: Mapping[str, Any] | None) -> bool:
    """Whether `prediction` is a JSON object (dict) that validates against `schema` (Draft 2020-12, the
    jsonschema library; no schema: any object is valid)."""
    if not isinstance(prediction, dict):
        return False
    if schema is None:
        return True
    from jsonschema import Draft202012Validator

    return bool(Draft202012Validator(dict(schema)).is_valid(prediction))


def confidence(choice_logprobs: Sequence[float] | None, token_logprobs: Sequence[float] | None,
               valid: bool | None = None) -> Confidence | None:
    """The Confidence of one item, or None when there is no signal at all (an errored item, a backend without
    log-probabilities on a text task)."""
    fields = {**option_signals(choice_logprobs), **token_signals(token_logprobs)}
    if valid is not None:
        fields["json_valid"] = valid
    return Confidence(**fields) if fields else None
