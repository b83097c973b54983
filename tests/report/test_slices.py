"""`bench report RUN --by TAG` end to end on a fake-backend run whose items carry a tier tag: every format, the
flagged slice, the "(none)" slice, and an unknown tag (exit 2 naming the tags that exist)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from suite_factory import fake_suite

from bench.cli.main import main
from bench.metrics import stats
from bench.metrics.columns import load_columns
from bench.results.slices import slice_run
from bench.results.store import RunStore
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

# The fake model always answers "billing": gold items (billing) are right, free ones (technical) wrong.
TIERS = [("gold", "billing")] * 8 + [("free", "technical")] * 6 + [("", "billing"), (None, "shipping")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slices")
    rows = [{"id": f"t{i:02d}", "text": f"ticket {i}", "label": label, **({"tier": tier} if tier is not None else {})}
            for i, (tier, label) in enumerate(TIERS)]
    data = root / "items.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    suite = fake_suite(data)
    suite["tasks"][0]["dataset"]["fields"]["tags"] = ["tier"]
    suite["tasks"].append({**suite["tasks"][0], "id": "untagged",
                           "dataset": {"path": str(data), "fields": {"input": "text", "expected": "label"}}})
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
        return start_run(RunRequest(path, PlanOptions(), root / "results"), SilentProgress()).path


def test_slices_of_a_run(run_dir: Path) -> None:
    report = slice_run(RunStore(run_dir), "tier", load_columns(RunStore(run_dir)))
    found = {s.value: s for s in report.slices}
    assert {v: s.n for v, s in found.items()} == {"free": 6, "gold": 8, "(none)": 2}
    assert [v for v, s in found.items() if s.flagged] == ["free"]
    assert report.cells_without_tag == ["fake-a × untagged"]


def test_unknown_tag_is_bad_input_naming_the_tags(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir), "--by", "priority"]) == 2
    err = capsys.readouterr().err
    assert "no record has the tag 'priority'" in err and "tags in this run: tier" in err


def test_report_by_in_every_format(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run_dir), "--by", "tier", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    free = next(s for s in data["slices"]["slices"] if s["value"] == "free")
    assert free["flagged"] and free["test"]["method"] == "fisher_exact" and free["metrics"]["accuracy"]["value"] == 0
    assert data["metrics"]  # the summary is still there
    assert main(["report", str(run_dir), "--by", "tier", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["slice"], r["slice_n"]) for r in rows} == {("free", "6"), ("gold", "8"), ("(none)", "2")}
    assert {r["flagged"] for r in rows if r["slice"] == "free"} == {"True"}
    assert main(["report", str(run_dir), "--by", "tier", "--format", "md"]) == 0
    markdown = capsys.readouterr().out
    assert "## Slices by tier" in markdown and "⚠ below the rest (n=6)" in markdown
    assert main(["report", str(run_dir), "--by", "tier"]) == 0
    assert "by tier: fake-a × triage" in capsys.readouterr().out
    target = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--by", "tier", "--format", "html", "--out", str(target)]) == 0
    html = target.read_text()
    assert 'id="slices"' in html and 'class="flagged"' in html
