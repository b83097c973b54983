"""Tests for bench.cost.formulas: every formula against a case computed by hand in the comments."""

from __future__ import annotations

import math

import pytest

from bench.cost.formulas import (
    HOURS_PER_MONTH,
    HOURS_PER_YEAR,
    BreakEven,
    amortized_usd_per_hour,
    api_usd_per_1000_tasks,
    break_even,
    energy_usd_per_hour,
    energy_usd_per_task,
    usd_per_1000_correct,
    usd_per_1000_tasks,
)


def test_calendar_constants() -> None:
    # 365 days x 24 h = 8760 h; 8760 / 12 = 730 h per month
    assert HOURS_PER_YEAR == 8760
    assert HOURS_PER_MONTH == 730


@pytest.mark.parametrize(("tasks_per_s", "usd_per_hour", "expected"), [
    (2.0, 3.6, 0.5),          # 1000 tasks take 500 s = 0.13889 h; x $3.6/h = $0.5
    (1.0, 3.6, 1.0),          # 1000 s = 0.27778 h x 3.6 = 1.0
    (10.0, 0.72, 0.02),       # 100 s = 0.027778 h x 0.72 = 0.02
    (0.5, 0.0, 0.0),          # a free machine costs nothing however slow
])
def test_usd_per_1000_tasks(tasks_per_s: float, usd_per_hour: float, expected: float) -> None:
    assert usd_per_1000_tasks(tasks_per_s, usd_per_hour) == pytest.approx(expected)


@pytest.mark.parametrize("tasks_per_s", [0.0, -1.0])
def test_usd_per_1000_tasks_without_throughput_is_infinite(tasks_per_s: float) -> None:
    assert usd_per_1000_tasks(tasks_per_s, 3.6) == math.inf


def test_amortized_usd_per_hour() -> None:
    # $1599 over 4 years at 50% use: 1599 / (4 x 8760 x 0.5) = 1599 / 17520 = 0.091267 $/h
    assert amortized_usd_per_hour(1599, 4, 0.5) == pytest.approx(0.0912671, rel=1e-6)
    # $30000 over 5 years at 60%: 30000 / (5 x 8760 x 0.6) = 30000 / 26280 = 1.141553 $/h
    assert amortized_usd_per_hour(30000, 5, 0.6) == pytest.approx(1.141553, rel=1e-6)


def test_amortized_cost_falls_with_utilization() -> None:
    # the same machine used twice as much costs half as much per useful hour
    assert amortized_usd_per_hour(1000, 4, 1.0) == pytest.approx(amortized_usd_per_hour(1000, 4, 0.5) / 2)


def test_energy_usd_per_hour() -> None:
    # 450 W = 0.45 kW; x $0.17/kWh = $0.0765/h
    assert energy_usd_per_hour(450, 0.17) == pytest.approx(0.0765)
    assert energy_usd_per_hour(450, 0.17, pue=1.0) == pytest.approx(0.0765)
    # 700 W at $0.09/kWh with PUE 1.5: 0.7 x 0.09 x 1.5 = 0.0945 $/h
    assert energy_usd_per_hour(700, 0.09, pue=1.5) == pytest.approx(0.0945)


def test_energy_usd_per_task() -> None:
    # 3.6e6 J = 1 kWh; at $0.17/kWh = $0.17
    assert energy_usd_per_task(3.6e6, 0.17) == pytest.approx(0.17)
    # 360 J = 1e-4 kWh; x 0.2 $/kWh x PUE 1.5 = 3e-5 $
    assert energy_usd_per_task(360, 0.2, pue=1.5) == pytest.approx(3e-5)
    assert energy_usd_per_task(0, 0.2) == 0


def test_api_usd_per_1000_tasks() -> None:
    # 500 prompt + 20 completion tokens at $2.50 / $10 per M tokens:
    # per task (500 x 2.5 + 20 x 10) / 1e6 = 1450 / 1e6 = 0.00145; x 1000 tasks = $1.45
    assert api_usd_per_1000_tasks(500, 20, 2.50, 10.0) == pytest.approx(1.45)
    # input-only pricing: 1000 x 100 x 0.15 / 1e6 = 0.015
    assert api_usd_per_1000_tasks(100, 0, 0.15, 0.60) == pytest.approx(0.015)
    # output tokens only: 1000 x 50 x 0.6 / 1e6 = 0.03
    assert api_usd_per_1000_tasks(0, 50, 0.15, 0.60) == pytest.approx(0.03)


def test_usd_per_1000_correct() -> None:
    # $1 per 1000 tasks, half right: 2000 tasks for 1000 correct answers = $2
    assert usd_per_1000_correct(1.0, 0.5) == pytest.approx(2.0)
    assert usd_per_1000_correct(1.0, 1.0) == pytest.approx(1.0)
    # 0.3 / 0.75 = 0.4
    assert usd_per_1000_correct(0.3, 0.75) == pytest.approx(0.4)


def test_usd_per_1000_correct_with_nothing_right_is_infinite() -> None:
    assert usd_per_1000_correct(1.0, 0.0) == math.inf


def test_break_even_reachable() -> None:
    # fixed $100/month; margin = 0.0011 - 0.0001 = 0.001 $/task; n = 100 / 0.001 = 100000 tasks/month
    # capacity at 1 task/s: 1 x 3600 x 730 = 2,628,000 tasks/month > 100000
    result = break_even(100.0, 0.0001, 0.0011, tasks_per_s=1.0)
    assert isinstance(result, BreakEven)
    assert result.tasks_per_month == pytest.approx(100_000)
    assert result.capacity_per_month == pytest.approx(2_628_000)
    assert "cheaper above" in result.reason


def test_break_even_api_cheaper_per_task() -> None:
    # the API's marginal price (0.0001) is below self-hosting's (0.0002): never worth it
    result = break_even(100.0, 0.0002, 0.0001, tasks_per_s=1.0)
    assert result.tasks_per_month is None
    assert result.capacity_per_month == pytest.approx(2_628_000)
    assert "API is cheaper" in result.reason


def test_break_even_equal_marginal_costs_is_never_reached() -> None:
    # margin 0: fixed cost is never paid back
    result = break_even(100.0, 0.001, 0.001, tasks_per_s=1.0)
    assert result.tasks_per_month is None


def test_break_even_above_capacity() -> None:
    # n = 100 / 0.001 = 100000 tasks/month, but 0.01 task/s gives 0.01 x 3600 x 730 = 26,280 tasks/month
    result = break_even(100.0, 0.0001, 0.0011, tasks_per_s=0.01)
    assert result.tasks_per_month is None
    assert result.capacity_per_month == pytest.approx(26_280)
    assert "above what one machine can do" in result.reason


def test_break_even_exactly_at_capacity_is_reachable() -> None:
    # n = 2628 / 0.001 = 2,628,000 = capacity at 1 task/s: still within what the machine can do
    result = break_even(2628.0, 0.0, 0.001, tasks_per_s=1.0)
    assert result.tasks_per_month == pytest.approx(2_628_000)
