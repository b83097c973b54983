"""The confidence signals a router can threshold on (Record.confidence fields): direction and range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bench.errors import RunError
from bench.results.schema import Confidence

if TYPE_CHECKING:  # numpy is imported where used: validating a suite with a cascade imports no heavy library
    import numpy as np


@dataclass(frozen=True)
class Signal:
    """A named signal: `higher_is_confident` (entropy: lower is), and its range [low, high] (may be infinite)."""

    name: str
    higher_is_confident: bool
    low: float
    high: float
    unit: str

    def check_threshold(self, threshold: float) -> None:
        """RunError (exit 2) for a threshold outside [low, high] or not finite."""
        if not math.isfinite(threshold) or not self.low <= threshold <= self.high:
            raise RunError(f"--threshold {threshold:g} is outside the range of signal '{self.name}' "
                           f"[{self.low:g}, {self.high:g}] ({self.unit})")

    def oriented(self, values: np.ndarray) -> np.ndarray:
        """Values turned so that higher means more confident (entropy negated); NaN (missing) stays NaN."""
        return values if self.higher_is_confident else -values


SIGNALS = {s.name: s for s in (
    Signal("max_prob", True, 0.0, 1.0, "probability of the chosen option"),
    Signal("margin", True, 0.0, 1.0, "top-1 minus top-2 option probability"),
    Signal("entropy", False, 0.0, math.inf, "nats over the options; lower is more confident"),
    Signal("token_logprob_mean", True, -math.inf, 0.0, "mean log-probability of the generated tokens, nats"),
    Signal("token_logprob_min", True, -math.inf, 0.0, "lowest log-probability of a generated token, nats"),
    Signal("json_valid", True, 0.0, 1.0, "1 when the JSON answer validates against the schema, else 0"),
)}
DEFAULT_ORDER = ("max_prob", "token_logprob_mean", "json_valid")
"""The signal used without --signal: the first of these the small model's records carry."""


def within_options(signal: Signal, option_counts: Sequence[int]) -> Signal:
    """The signal with entropy's real range: [0, ln K] nats for items of at most K options (other signals and
    items without options unchanged)."""
    counts = [k for k in option_counts if k > 0]
    if signal.name != "entropy" or not counts:
        return signal
    return replace(signal, high=math.log(max(counts)), unit=f"{signal.unit}; at most ln {max(counts)} here")


def values_of(confidences: Sequence[Confidence | None], name: str) -> np.ndarray:
    """One float per item (json_valid as 0/1), NaN where the item has no such signal."""
    import numpy as np

    out = np.full(len(confidences), np.nan)
    for i, conf in enumerate(confidences):
        value = getattr(conf, name) if conf is not None else None
        if value is not None:
            out[i] = float(value)
    return out


def pick_signal(confidences: Sequence[Confidence | None], name: str | None, model_id: str) -> Signal:
    """The signal `name` (or the default one present), RunError (exit 2) for an unknown name or one that none of
    the model's records carry."""
    import numpy as np

    if name is not None and name not in SIGNALS:
        raise RunError(f"--signal {name!r} is not a signal; choose one of {', '.join(SIGNALS)}")
    candidates = [name] if name is not None else list(DEFAULT_ORDER)
    for candidate in candidates:
        if not np.isnan(values_of(confidences, candidate)).all():
            return SIGNALS[candidate]
    present = [s for s in SIGNALS if not np.isnan(values_of(confidences, s)).all()]
    wanted = f"signal '{name}'" if name is not None else f"any of the signals {', '.join(DEFAULT_ORDER)}"
    have = f"they carry {', '.join(present)}" if present else "they carry no confidence signal (a run made before " \
        "bench recorded them, or a backend without log-probabilities)"
    raise RunError(f"the records of '{model_id}' have no {wanted}: {have}")
