"""Cost rows: a measured cell priced on this machine and projected onto every hardware profile.

Pure functions of the records, the manifest and the profiles; the figures carry their basis and inputs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.cost.formulas import (
    HOURS_PER_MONTH,
    amortized_usd_per_hour,
    api_usd_per_1000_tasks,
    break_even,
    energy_usd_per_hour,
    energy_usd_per_task,
    usd_per_1000_correct,
    usd_per_1000_tasks,
)
from bench.cost.profiles import ApiPrice, ApiPricing, HardwareProfile
from bench.cost.projection import (
    Device,
    ItemWork,
    ItemWorks,
    ModelShape,
    calibrate,
    device_for,
    memory_needed_gb,
    project_seconds,
)
from bench.metrics.columns import RecordColumns, as_columns
from bench.metrics.energy import estimate_cpu_energy_j
from bench.metrics.records import CellSegment, ItemRecord

ASSUMED_WATTS_PER_CORE = 10.0
THIS_MACHINE = "this-machine"


@dataclass(frozen=True)
class LocalMachine:
    """This machine's price and power: from its matched profile, or the suite's cost and an assumption."""

    profile_id: str
    usd_per_hour: float
    price_basis: str
    tdp_w: float
    tdp_basis: str
    cores: int
    memory_gb: float
    bandwidth_gb_s: float
    flops: float


@dataclass(frozen=True)
class CellFacts:
    cell_id: str
    model_id: str
    task_id: str
    quality: float | None
    p95_latency_s: float | None
    items: list[ItemWork] | ItemWorks
    wall_s: float
    cpu_s: float
    energy_j: float | None
    energy_source: str
    shape: ModelShape | None
    n_ctx: int
    prompt_tokens_mean: float
    completion_tokens_mean: float
    load: str = "latency"
    ok_share: float = 1.0
    """Share of the items (repetition 0) the server completed; quality counts the failed ones as wrong."""
    prompt_tokens_unknown: int = 0
    """Successful items whose prompt token count is unknown (no usage from the server, no tokenizer):
    prompt_tokens_mean is over the others."""
    training_s: float = 0.0
    """Wall seconds a trained model took to fit on this machine (once; 0 for language models)."""
    training_cpu_s: float = 0.0

    @property
    def tasks_per_s(self) -> float | None:
        """Successful items / measured wall time (failed work is never throughput); None when none succeeded."""
        return len(self.items) / self.wall_s if self.wall_s > 0 and self.items else None

    @property
    def correct_per_task(self) -> float | None:
        """Correct answers per successful task: quality (over all items) / the share that succeeded."""
        if self.quality is None or self.ok_share <= 0:
            return None
        return min(self.quality / self.ok_share, 1.0)


def cell_facts(cell: dict[str, Any], records: list[ItemRecord], segments: list[CellSegment],
               metrics: dict[str, float | None]) -> CellFacts:
    """What pricing needs from a cell: its successful items inside the measured segments, wall time, energy."""
    from bench.metrics.columns import from_records

    return cell_facts_columns(cell, from_records(records), segments, metrics)


def cell_facts_columns(cell: dict[str, Any], records: RecordColumns | list[ItemRecord], segments: list[CellSegment],
                       metrics: dict[str, float | None]) -> CellFacts:
    """cell_facts from the cell's record columns (bench.metrics.columns) or records."""
    cols = as_columns(records)
    ok = cols.take(np.isin(cols.segment, [s.segment for s in segments]) & cols.ok)
    first_ok = cols.ok[cols.repetition == 0]
    info = segments[-1].backend if segments else {}
    return CellFacts(
        cell_id=cell["cell_id"], model_id=cell["model_id"], task_id=cell["task_id"],
        quality=metrics.get("quality"), p95_latency_s=metrics.get("e2e_latency_s_p95"), items=item_works(ok),
        wall_s=sum(max(s.t_end - s.t_start, 0.0) for s in segments),
        cpu_s=sum(s.cpu_user_s + s.cpu_system_s for s in segments),
        energy_j=sum(s.energy_j for s in segments if s.energy_j is not None)
        if segments and all(s.energy_j is not None for s in segments) else None,
        energy_source=segments[-1].energy_source if segments else "none",
        shape=ModelShape.from_backend_info(info), n_ctx=int(info.get("settings", {}).get("n_ctx", 0)),
        prompt_tokens_mean=statistics.fmean(known.tolist()) if (known := ok.prompt_tokens[ok.prompt_tokens > 0]).size
        else 0.0,
        prompt_tokens_unknown=int((ok.prompt_tokens <= 0).sum()),  # 0 = unknown: every prompt has a token
        completion_tokens_mean=statistics.fmean(ok.completion_tokens.tolist()) if len(ok) else 0.0,
        load=str(cell.get("load", "latency")),
        training_s=max((float(s.training.get("train_s", 0.0)) for s in segments), default=0.0),
        training_cpu_s=max((float(s.training.get("train_cpu_s", 0.0)) for s in segments), default=0.0),
        ok_share=int(first_ok.sum()) / first_ok.size if first_ok.size else 0.0)


def item_works(ok: RecordColumns) -> ItemWorks:
    """Per successful item: prompt tokens evaluated, decode steps (ItemRecord.decode_steps), e2e and TTFT."""
    steps = np.where(np.isnan(ok.option_tokens), np.maximum(ok.completion_tokens - 1, 0),
                     np.nan_to_num(ok.option_tokens)).astype(np.int64)
    first = np.where(np.isnan(ok.t_first_token) | (ok.t_first_token == 0), ok.t_end, ok.t_first_token)
    return ItemWorks(ok.prompt_tokens - ok.cached_prompt_tokens, steps, ok.t_end - ok.t_start, first - ok.t_start)


def here_device(facts: CellFacts, local: LocalMachine) -> Device | None:
    """This machine calibrated on the cell's own median prefill and decode times."""
    if facts.shape is None or not len(facts.items):
        return None
    work = ItemWorks.of(facts.items)
    steps, tokens = work.decode_steps > 0, work.prefill_tokens != 0
    decode = ((work.measured_s[steps] - work.ttft_s[steps]) / work.decode_steps[steps]).tolist()
    prefill = (work.ttft_s[tokens] / work.prefill_tokens[tokens]).tolist()
    decode_s = statistics.median(decode) if decode else local_decode_guess(facts.shape, local)
    return calibrate(facts.shape, decode_s, statistics.median(prefill) if prefill else None,
                     local.bandwidth_gb_s, local.flops, local.memory_gb)


def local_decode_guess(shape: ModelShape, local: LocalMachine) -> float:
    return Device(local.bandwidth_gb_s, local.flops, 0.8, 0.3, 150e-6, local.memory_gb, "").decode_s(shape)


def profile_usd_per_hour(profile: HardwareProfile) -> tuple[float, str]:
    """Cloud on-demand price (energy included), else amortized purchase + energy at TDP."""
    price, energy = profile.price, profile.energy
    if price.cloud_usd_per_hour is not None:
        return price.cloud_usd_per_hour, f"cloud on-demand ({price.cloud_offer or 'see profile sources'})"
    assert price.purchase_usd is not None
    amortized = amortized_usd_per_hour(price.purchase_usd, price.lifetime_years, price.utilization)
    power = energy_usd_per_hour(profile.tdp_w, energy.usd_per_kwh, energy.pue)
    return amortized + power, (f"${price.purchase_usd:.0f} over {price.lifetime_years} y at "
                               f"{price.utilization:.0%} use + {profile.tdp_w:.0f} W at ${energy.usd_per_kwh}/kWh")


def measured_row(facts: CellFacts, local: LocalMachine) -> dict[str, Any]:
    tps = facts.tasks_per_s
    usd = usd_per_1000_tasks(tps, local.usd_per_hour) if tps and local.usd_per_hour > 0 else None
    n = len(facts.items)
    energy: float | None
    if facts.energy_j is not None and n:
        energy, energy_basis = facts.energy_j / n, f"measured ({facts.energy_source})"
    else:
        energy = estimate_cpu_energy_j(facts.cpu_s / n, local.tdp_w, local.cores) if n else None
        energy_basis = f"estimated: CPU s/task x {local.tdp_w:.0f} W / {local.cores} cores ({local.tdp_basis})"
    return _row(facts, local.profile_id, "measured", tps, usd, local.price_basis, energy, energy_basis,
                facts.p95_latency_s, (True, None), {"usd_per_hour": local.usd_per_hour})


def projected_row(facts: CellFacts, profile: HardwareProfile, here: Device | None) -> dict[str, Any]:
    usd_per_hour, basis = profile_usd_per_hour(profile)
    if facts.shape is None or here is None or facts.load != "latency":
        reason = ("the projection models one request at a time; measure other load modes on the hardware"
                  if facts.load != "latency" else "no successful item to project from" if not len(facts.items)
                  else "no model shape recorded for this cell")
        return _row(facts, profile.id, "projected", None, None, basis, None, "", None, (None, None),
                    {"reason": reason})
    needed = memory_needed_gb(facts.shape, facts.n_ctx)
    fits = needed <= profile.memory.capacity_gb
    there = device_for(profile, here)
    seconds = project_seconds(facts.items, here, there, facts.shape)
    if not fits or seconds is None or seconds <= 0:
        return _row(facts, profile.id, "projected", None, None, basis, None, "", None, (fits, needed),
                    {"reason": "does not fit" if not fits else "profile has no compute figure"})
    tps = len(facts.items) / seconds
    measured_s = sum(ItemWorks.of(facts.items).measured_s.tolist())
    p95 = facts.p95_latency_s * seconds / measured_s if facts.p95_latency_s and measured_s else None
    energy = profile.tdp_w * seconds / len(facts.items)
    inputs = {"usd_per_hour": usd_per_hour, "device": there.__dict__, "calibration_here": here.__dict__,
              "decode_s_per_token": there.decode_s(facts.shape), "prefill_s_per_token": there.prefill_s(facts.shape)}
    return _row(facts, profile.id, "projected", tps, usd_per_1000_tasks(tps, usd_per_hour), basis, energy,
                f"projected: {profile.tdp_w:.0f} W TDP x projected time", p95, (fits, needed), inputs)


def _row(facts: CellFacts, profile_id: str, basis: str, tps: float | None, usd: float | None, price_basis: str,
         energy: float | None, energy_basis: str, p95: float | None, fit: tuple[bool | None, float | None],
         inputs: dict[str, Any]) -> dict[str, Any]:
    share = facts.correct_per_task
    correct = usd_per_1000_correct(usd, share) if usd is not None and share else None
    return {"cell_id": facts.cell_id, "model_id": facts.model_id, "task_id": facts.task_id, "load": facts.load,
            "profile_id": profile_id, "basis": basis, "tasks_per_s": tps, "usd_per_1000_tasks": usd,
            "usd_per_1000_correct": correct if correct != float("inf") else None, "quality": facts.quality,
            "energy_j_per_task": energy, "energy_basis": energy_basis, "p95_latency_s": p95,
            "fits": fit[0], "memory_needed_gb": fit[1], "price_basis": price_basis, "inputs": inputs}


def with_monthly(rows: list[dict[str, Any]], facts: list[CellFacts], monthly_tasks: int) -> list[dict[str, Any]]:
    """Each row with its one-off training cost and a month's total at `monthly_tasks` tasks (USD):
    training_usd = training wall s / 3600 x the row's $/hour (measured rows: the fit ran on this machine; a
    projected row of a trained model: None, its training time there is not measured; 0 for a language model);
    monthly_usd = monthly_tasks / 1000 x usd_per_1000_tasks + training_usd (the first month: training is paid once)."""
    by_cell = {f.cell_id: f for f in facts}
    out = []
    for row in rows:
        cell = by_cell[row["cell_id"]]
        per_hour = row["inputs"].get("usd_per_hour")
        training = (0.0 if cell.training_s <= 0 else cell.training_s / 3600.0 * per_hour
                    if row["basis"] == "measured" and per_hour else None)
        usd = row["usd_per_1000_tasks"]
        monthly = monthly_tasks / 1000.0 * usd + training if usd is not None and training is not None else None
        inputs = row["inputs"] if cell.training_s <= 0 else \
            {**row["inputs"], "training_s": cell.training_s, "training_cpu_s": cell.training_cpu_s}
        out.append({**row, "training_usd": training, "monthly_usd": monthly, "inputs": inputs})
    return out


def cost_rows(facts: list[CellFacts], local: LocalMachine, profiles: dict[str, HardwareProfile],
              wanted: list[str]) -> list[dict[str, Any]]:
    rows = []
    for cell in facts:
        here = here_device(cell, local)
        rows.append(measured_row(cell, local))
        rows += [projected_row(cell, profiles[pid], here) for pid in wanted if pid != local.profile_id]
    return rows


def cheapest(rows: list[dict[str, Any]], task_id: str, min_quality: float,
             max_p95_s: float | None) -> dict[str, Any] | None:
    """The cheapest priced option for a task meeting the accuracy floor and the p95 latency limit."""
    ok = [r for r in rows if r["task_id"] == task_id and r["usd_per_1000_tasks"] is not None and r["fits"]
          and (r["quality"] or 0) >= min_quality and (max_p95_s is None or (r["p95_latency_s"] or 1e9) <= max_p95_s)]
    return min(ok, key=lambda r: r["usd_per_1000_tasks"]) if ok else None


ASSUMED_LABEL_TOKENS = 3
_UNKNOWN_PROMPTS = ("cannot be estimated: the prompt tokens of all {n} successful items are unknown (the endpoint "
                    "sent no usage; set tokenizer: in the backend to count them)")


def api_rows(facts: list[CellFacts], pricing: ApiPricing) -> list[dict[str, Any]]:
    """What each hosted model would charge for each task, from the mean token counts of a cell of the task with
    successful items (token counts of failed requests are no basis for a price: null without one)."""
    rows: list[dict[str, Any]] = []
    for task_id in sorted({f.task_id for f in facts}):
        cells = [f for f in facts if f.task_id == task_id and len(f.items)]
        cell = next((f for f in cells if f.prompt_tokens_unknown < len(f.items)), cells[0] if cells else None)
        rows += [_api_row(task_id, cell, price) for price in pricing.prices]
    return rows


def _api_row(task_id: str, cell: CellFacts | None, price: ApiPrice) -> dict[str, Any]:
    row: dict[str, Any] = {"task_id": task_id, "api_model": price.model, "provider": price.provider}
    if cell is None:
        return {**row, "usd_per_1000_tasks": None, "basis": "no successful item: no token counts to price"}
    n, unknown = len(cell.items), cell.prompt_tokens_unknown
    if unknown >= n:
        return {**row, "usd_per_1000_tasks": None, "basis": _UNKNOWN_PROMPTS.format(n=n)}
    completion = cell.completion_tokens_mean or ASSUMED_LABEL_TOKENS
    note = "" if cell.completion_tokens_mean else f" (a label answer, assumed {ASSUMED_LABEL_TOKENS} tokens)"
    note += f"; prompt tokens from the {n - unknown} of {n} items with known counts" if unknown else ""
    usd = api_usd_per_1000_tasks(cell.prompt_tokens_mean, completion, price.input_usd_per_mtok,
                                 price.output_usd_per_mtok)
    return {**row, "usd_per_1000_tasks": usd,
            "basis": f"estimated: {cell.prompt_tokens_mean:.0f} prompt + {completion:.0f} completion tokens per "
                     f"task{note}, counted by {cell.model_id}'s tokenizer, x list prices"}


def break_even_row(option: dict[str, Any], api: dict[str, Any], profile: HardwareProfile | None,
                   local: LocalMachine) -> dict[str, Any]:
    """Tasks per month above which the self-hosted option, kept as a dedicated machine, beats the API."""
    if profile is None or profile.price.cloud_usd_per_hour is not None:
        per_hour = local.usd_per_hour if profile is None else profile.price.cloud_usd_per_hour or 0.0
        fixed, marginal, how = per_hour * HOURS_PER_MONTH, 0.0, "dedicated instance, 730 h/month"
    else:
        assert profile.price.purchase_usd is not None
        fixed = profile.price.purchase_usd / (profile.price.lifetime_years * 12)
        marginal = energy_usd_per_task(option["energy_j_per_task"] or 0.0, profile.energy.usd_per_kwh,
                                       profile.energy.pue)
        how = "owned: purchase / lifetime months; energy per task"
    result = break_even(fixed, marginal, api["usd_per_1000_tasks"] / 1000, option["tasks_per_s"] or 0.0)
    return {"task_id": option["task_id"], "model_id": option["model_id"], "profile_id": option["profile_id"],
            "api_model": api["api_model"], "tasks_per_month": result.tasks_per_month,
            "capacity_per_month": result.capacity_per_month, "reason": result.reason,
            "inputs": {"fixed_usd_per_month": fixed, "self_usd_per_task": marginal,
                       "api_usd_per_task": api["usd_per_1000_tasks"] / 1000, "basis": how}}
