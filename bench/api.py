"""Python API: load runs as plain data and pandas DataFrames (items, cells, costs).

    import bench
    run = bench.load_run("results/quickstart-20261122-141927")
    run.cells()          # one row per cell x metric, with CI, n, unit, direction
    run.items()          # one row per item record (predictions, scores, raw timings)
    run.costs()          # one row per cell x hardware profile (measured / projected)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.cost.section import CostOptions
from bench.metrics.aggregate import decode_tps, e2e_s, prefill_tps, tpot_s, ttft_s
from bench.metrics.columns import RecordColumns, from_records, load_columns
from bench.metrics.records import ItemRecord
from bench.results.schema import Manifest, Summary
from bench.results.store import RunStore, validate_records
from bench.results.summary import summarize_run


class RunData:
    """One run directory, with its summary recomputed from the records (nothing is written).

    The records are read column by column (bench.metrics.columns) for the summary; `records` (ItemRecords) are
    built on first use only, for callers that need objects (HTML samples, plots, `items()`)."""

    def __init__(self, path: Path, manifest: Manifest, summary: Summary,
                 records: list[ItemRecord] | None = None, columns: RecordColumns | None = None) -> None:
        self.path, self.manifest, self.summary = path, manifest, summary
        self._records, self._columns = records, columns

    @property
    def run_id(self) -> str:
        """The run's id (its manifest's run_id, e.g. "quickstart-20261122-141927")."""
        return self.manifest.run_id

    @property
    def records(self) -> list[ItemRecord]:
        """Each item's latest record, validated (built on first use)."""
        if self._records is None:
            self._records = validate_records(RunStore(self.path))
        return self._records

    @property
    def columns(self) -> RecordColumns:
        """Each item's latest record as columns (read on first use unless given)."""
        if self._columns is None:
            self._columns = from_records(self._records) if self._records is not None else \
                load_columns(RunStore(self.path))
        return self._columns

    def items(self) -> Any:
        """A pandas DataFrame, one row per item record: its fields, one `score.<name>` column per score, the router
        signals as `confidence.<name>` (docs/routing.md; absent for runs without them) and
        ttft_s, e2e_latency_s, tpot_s (s), decode_tps, prefill_tps (tokens/s) and run_id."""
        import pandas as pd

        rows = []
        for r in self.records:
            row = r.model_dump(exclude={"scores", "engine_extra", "choice_logprobs", "confidence"})
            row.update({f"score.{k}": v for k, v in r.scores.items()})
            signals = r.confidence.model_dump(exclude={"option_probs"}) if r.confidence is not None else {}
            row.update({f"confidence.{k}": v for k, v in signals.items()})
            row.update({"ttft_s": ttft_s(r), "e2e_latency_s": e2e_s(r), "tpot_s": tpot_s(r),
                        "decode_tps": decode_tps(r), "prefill_tps": prefill_tps(r), "run_id": self.run_id})
            rows.append(row)
        return pd.DataFrame(rows)

    def cells(self) -> Any:
        """A pandas DataFrame, one row per cell x metric of the summary (value, CI, n, unit, direction), with run_id."""
        import pandas as pd

        frame = pd.DataFrame([row.model_dump() for row in self.summary.metrics])
        frame["run_id"] = self.run_id
        return frame

    def costs(self) -> Any:
        """A pandas DataFrame, one row per cost row (cell x hardware profile, measured or projected; its inputs
        left out), with run_id."""
        import pandas as pd

        rows = [row.model_dump(exclude={"inputs"}) for row in self.summary.costs.rows]
        frame = pd.DataFrame(rows)
        frame["run_id"] = self.run_id
        return frame


def load_run(path: str | Path, cost_options: CostOptions | None = None) -> RunData:
    """A run directory's manifest and recomputed summary; RunError for a directory that is not a run."""
    store = RunStore(Path(path))
    manifest = store.read_manifest()
    columns = load_columns(store)
    return RunData(Path(path), manifest, summarize_run(store, cost_options, columns), columns=columns)


def load_runs(paths: Iterable[str | Path], cost_options: CostOptions | None = None) -> list[RunData]:
    """load_run for each path, in order (list of RunData); RunError at the first that is not a run."""
    return [load_run(p, cost_options) for p in paths]


def concat(runs: list[RunData], table: str) -> Any:
    """One DataFrame of `items`, `cells` or `costs` across several runs (with a run_id column)."""
    import pandas as pd

    return pd.concat([getattr(run, table)() for run in runs], ignore_index=True)
