"""The cost section of a summary: this machine measured, every selected profile projected, API prices,
break-even volumes and the procurement pick per task."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from bench.cost.profiles import HardwareProfile, load_api_pricing, load_profiles
from bench.cost.rows import (
    ASSUMED_WATTS_PER_CORE,
    THIS_MACHINE,
    CellFacts,
    LocalMachine,
    api_rows,
    break_even_row,
    cell_facts_columns,
    cheapest,
    cost_rows,
    profile_usd_per_hour,
    with_monthly,
)
from bench.errors import Problem, RunError, SpecError
from bench.machine.detect import match_profile
from bench.metrics.columns import RecordColumns
from bench.metrics.records import CellSegment, ItemRecord
from bench.registry import suggest
from bench.results.schema import Manifest
from bench.suite.spec import NO_BASIS, Requirements


@dataclass(frozen=True)
class CostOptions:
    profiles: tuple[str, ...] = ("all",)
    min_accuracy: float | None = None
    max_p95_latency_s: float | None = None
    prices: tuple[tuple[str, float], ...] = ()
    """(profile id, $/hour) overrides from the command line; they win over the suite's cost.prices."""


def with_prices(profiles: dict[str, HardwareProfile], prices: dict[str, float]) -> dict[str, HardwareProfile]:
    """Profiles with their hourly price replaced where the user gave one (prices are dated facts)."""
    unknown = [pid for pid in prices if pid not in profiles]
    if unknown:
        raise SpecError([Problem("price override", pid, "unknown hardware profile", suggest(pid, list(profiles)))
                         for pid in unknown])
    return {pid: p.model_copy(update={"price": p.price.model_copy(update={
        "cloud_usd_per_hour": prices[pid], "cloud_offer": "price override"})}) if pid in prices else p
        for pid, p in profiles.items()}


NO_PRICE = "no price set: suite cost.usd_per_hour or --usd-per-hour"
"""The price basis of this machine when neither the suite nor a matching hardware profile prices it."""


def local_machine(manifest: Manifest, profiles: dict[str, HardwareProfile]) -> LocalMachine:
    """This machine's price and power: its matching profile if any, the suite's price when it sets one."""
    machine, cost, calibration = manifest.machine, manifest.cost, manifest.calibration or {}
    cores = int(_number(machine, "physical_cores", psutil.cpu_count(logical=False) or 1))
    gpus = [str(g.get("name")) for g in machine.get("gpus") or [] if isinstance(g, dict)]
    matched = cost.profile or match_profile(profiles, str(machine.get("cpu_model", "")), gpus)
    if matched is not None and matched not in profiles:
        raise SpecError([Problem("cost.profile", matched, "unknown hardware profile",
                                 suggest(matched, list(profiles)))])
    profile = profiles.get(matched) if matched else None
    unpriced = (0.0, NO_PRICE if cost.basis == NO_BASIS else cost.basis)
    usd, basis = (cost.usd_per_hour, cost.basis) if cost.usd_per_hour > 0 else \
        profile_usd_per_hour(profile) if profile is not None else unpriced
    tdp, tdp_basis = ((profile.tdp_w, f"profile {profile.id}") if profile else
                      (ASSUMED_WATTS_PER_CORE * cores, f"assumed {ASSUMED_WATTS_PER_CORE:.0f} W per physical core: "
                       "no hardware profile matches this CPU"))
    return LocalMachine(profile_id=matched or THIS_MACHINE, usd_per_hour=usd, price_basis=basis, tdp_w=tdp,
                        tdp_basis=tdp_basis, cores=cores, memory_gb=_number(machine, "ram_gb", 0.0),
                        bandwidth_gb_s=_number(calibration, "bandwidth_gb_s", 25.0),
                        flops=_number(calibration, "sgemm_gflops", 100.0) * 1e9)


def _number(block: dict[str, Any], key: str, default: float) -> float:
    """A finite positive number from the manifest, the default when absent; RunError when it is not a number."""
    value = block.get(key)
    if value in (None, 0):
        return float(default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise RunError(f"manifest.json: {key} must be a number ≥ 0, not {str(value)[:40]!r}; the run is corrupt")
    return float(value)


def selected_profiles(wanted: tuple[str, ...], profiles: dict[str, HardwareProfile]) -> list[str]:
    if wanted in (("all",), ()):
        return sorted(profiles)
    unknown = [p for p in wanted if p not in profiles]
    if unknown:
        raise SpecError([Problem("--profiles", p, "unknown hardware profile", suggest(p, list(profiles)))
                         for p in unknown])
    return list(wanted)


CellInput = tuple[dict[str, Any], RecordColumns | list[ItemRecord], list[CellSegment], dict[str, float | None]]
"""A cell, its records (columns or ItemRecords), its segments and its metric values."""


def cost_section(manifest: Manifest, cells: Sequence[CellInput], requirements: Requirements,
                 options: CostOptions, verdicts: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The `costs` section of summary.json as plain data (validated as bench.results.schema.CostSection): this
    machine, one row per cell x profile (USD per 1000 tasks, tasks/s, J/task), API prices and the procurement pick
    per task. `verdicts` (cell id -> its test against the task's trivial baseline,
    bench.metrics.baselines.Verdict.as_dict) keep a model that does not beat the baseline significantly out of
    the pick."""
    profiles = with_prices(load_profiles(), {**manifest.cost.prices, **dict(options.prices)})
    local = local_machine(manifest, profiles)
    facts = [cell_facts_columns(cell, records, segments, metrics) for cell, records, segments, metrics in cells]
    rows = with_monthly(cost_rows(facts, local, profiles, selected_profiles(options.profiles, profiles)), facts,
                        manifest.cost.monthly_tasks)
    floor = options.min_accuracy if options.min_accuracy is not None else requirements.min_accuracy
    limit = options.max_p95_latency_s if options.max_p95_latency_s is not None else requirements.max_p95_latency_s
    apis = api_rows(facts, load_api_pricing())
    return {"local_machine": local.__dict__, "requirements": {"min_accuracy": floor, "max_p95_latency_s": limit},
            "monthly_tasks": manifest.cost.monthly_tasks,
            "rows": rows, "api": apis,
            "procurement": _procurement(facts, rows, apis, (profiles, local), (floor, limit), verdicts or {})}


def _procurement(facts: list[CellFacts], rows: list[dict[str, Any]], apis: list[dict[str, Any]],
                 machines: tuple[dict[str, HardwareProfile], LocalMachine], limits: tuple[float, float | None],
                 verdicts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task: the cheapest option meeting the limits among models that beat the baseline (a cell without a
    verdict is not held back), the models refused for not beating it and why, and the break-even volumes."""
    profiles, local = machines
    refused = {cell for cell, v in verdicts.items() if not v["beats"]}
    eligible = [r for r in rows if r["cell_id"] not in refused]
    picks = []
    for task_id in sorted({f.task_id for f in facts}):
        best = cheapest(eligible, task_id, *limits)
        task_apis = [a for a in apis if a["task_id"] == task_id and a["usd_per_1000_tasks"] is not None]
        evens = [break_even_row(best, api, profiles.get(best["profile_id"]), local) for api in task_apis] if best \
            else []
        picks.append({"task_id": task_id, "choice": best, "break_even": evens,
                      "not_beating_baseline": [verdicts[f.cell_id]["reason"] for f in facts
                                               if f.task_id == task_id and f.cell_id in refused]})
    return picks
