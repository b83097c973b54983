"""Pure cost arithmetic. Every function is a formula from ARCHITECTURE.md or issue #3, unit-tested by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass

HOURS_PER_YEAR = 8760.0
HOURS_PER_MONTH = 730.0


def usd_per_1000_tasks(tasks_per_s: float, usd_per_hour: float) -> float:
    """Self-hosted USD per 1000 tasks = 1000 / tasks_per_s / 3600 x usd_per_hour; inf when nothing completed
    (tasks_per_s <= 0). Source: ../shared/ARCHITECTURE.md "Metric definitions"."""
    if tasks_per_s <= 0:
        return math.inf
    return 1000.0 / tasks_per_s / 3600.0 * usd_per_hour


def amortized_usd_per_hour(purchase_usd: float, lifetime_years: float, utilization: float) -> float:
    """Purchase price spread over the hours the machine is expected to do useful work, USD per hour:
    purchase_usd / (lifetime_years x 8760 h x utilization) (issue #3, item 3; ARCHITECTURE.md "Metric definitions")."""
    return purchase_usd / (lifetime_years * HOURS_PER_YEAR * utilization)


def energy_usd_per_hour(watts: float, usd_per_kwh: float, pue: float = 1.0) -> float:
    """Electricity for one hour at `watts`, including the facility overhead (PUE), USD per hour:
    watts / 1000 x usd_per_kwh x pue (issue #3, item 3)."""
    return watts / 1000.0 * usd_per_kwh * pue


def energy_usd_per_task(joules_per_task: float, usd_per_kwh: float, pue: float = 1.0) -> float:
    """Electricity for one task: joules / 3.6e6 (J per kWh) x $/kWh x PUE, in USD (issue #3, items 3-4)."""
    return joules_per_task / 3.6e6 * usd_per_kwh * pue


def api_usd_per_1000_tasks(prompt_tokens: float, completion_tokens: float, input_usd_per_mtok: float,
                           output_usd_per_mtok: float) -> float:
    """Hosted API: mean tokens per task x the price per million tokens, for 1000 tasks (USD):
    1000 x (prompt_tokens x input_usd_per_mtok + completion_tokens x output_usd_per_mtok) / 1e6
    (ARCHITECTURE.md "Metric definitions": token counts x price table)."""
    return 1000.0 * (prompt_tokens * input_usd_per_mtok + completion_tokens * output_usd_per_mtok) / 1e6


def usd_per_1000_correct(usd_per_1000: float, accuracy: float) -> float:
    """Cost of 1000 *correct* answers: cost per task / correct answers per task (infinite when nothing is right);
    issue #3, item 3 ("cost divided by accuracy").

    Callers pass the cost per *successful* task and the correct share of the successful tasks (quality / the
    share of items that succeeded), so failed work is neither throughput nor a correct answer."""
    return usd_per_1000 / accuracy if accuracy > 0 else math.inf


@dataclass(frozen=True)
class BreakEven:
    """Tasks per month above which a dedicated self-hosted machine costs less than the API."""

    tasks_per_month: float | None
    capacity_per_month: float
    reason: str


def break_even(fixed_usd_per_month: float, self_usd_per_task: float, api_usd_per_task: float,
               tasks_per_s: float) -> BreakEven:
    """Solve fixed + n * self = n * api for n, within what one machine can do in a month (issue #3, item 3):
    n = fixed / (api - self) tasks per month, None when the API is cheaper per task or n exceeds the capacity
    tasks_per_s x 3600 x 730 h.

    fixed: the machine's monthly cost whether busy or idle (amortized purchase, or a cloud instance kept on);
    self: the marginal cost of one task on it (energy); api: the hosted price of one task.
    """
    capacity = tasks_per_s * 3600.0 * HOURS_PER_MONTH
    margin = api_usd_per_task - self_usd_per_task
    if margin <= 0:
        return BreakEven(None, capacity, "the API is cheaper per task even before the machine's fixed cost")
    n = fixed_usd_per_month / margin
    if n > capacity:
        return BreakEven(None, capacity, "break-even is above what one machine can do in a month")
    return BreakEven(n, capacity, "self-hosting is cheaper above this volume")
