"""Python API: load runs as plain data and pandas DataFrames (items, cells, costs).

    import bench
    run = bench.load_run("results/quickstart-20261122-141927")
    run.cells()          # one row per cell x metric, with CI, n, unit, direction
    run.items()          # one row per item record (predictions, scores, raw timings)
    run.costs()          # one row per cell x hardware profile (measured / projected)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cost_report import CostOptions
from bench.metrics.aggregate import decode_tps, e2e_s, prefill_tps, tpot_s, ttft_s
from bench.metrics.records import ItemRecord
from bench.store import RunStore, validate_records
from bench.summary import summarize_run


@dataclass(frozen=True)
class RunData:
    """One run directory, with its summary recomputed from the records (nothing is written)."""

    path: Path
    manifest: dict[str, Any]
    summary: dict[str, Any]
    records: list[ItemRecord]

    @property
    def run_id(self) -> str:
        return str(self.manifest["run_id"])

    def items(self) -> Any:
        import pandas as pd

        rows = []
        for r in self.records:
            row = r.model_dump(exclude={"scores", "engine_extra", "choice_logprobs"})
            row.update({f"score.{k}": v for k, v in r.scores.items()})
            row.update({"ttft_s": ttft_s(r), "e2e_latency_s": e2e_s(r), "tpot_s": tpot_s(r),
                        "decode_tps": decode_tps(r), "prefill_tps": prefill_tps(r), "run_id": self.run_id})
            rows.append(row)
        return pd.DataFrame(rows)

    def cells(self) -> Any:
        import pandas as pd

        frame = pd.DataFrame(self.summary["metrics"])
        frame["run_id"] = self.run_id
        return frame

    def costs(self) -> Any:
        import pandas as pd

        rows = [{k: v for k, v in row.items() if k != "inputs"} for row in self.summary["costs"]["rows"]]
        frame = pd.DataFrame(rows)
        frame["run_id"] = self.run_id
        return frame


def load_run(path: str | Path, cost_options: CostOptions | None = None) -> RunData:
    store = RunStore(Path(path))
    manifest = store.read_manifest()
    return RunData(path=Path(path), manifest=manifest, summary=summarize_run(store, cost_options),
                   records=validate_records(store))


def load_runs(paths: Iterable[str | Path], cost_options: CostOptions | None = None) -> list[RunData]:
    return [load_run(p, cost_options) for p in paths]


def concat(runs: list[RunData], table: str) -> Any:
    """One DataFrame of `items`, `cells` or `costs` across several runs (with a run_id column)."""
    import pandas as pd

    return pd.concat([getattr(run, table)() for run in runs], ignore_index=True)
