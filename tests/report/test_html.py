"""Tests for bench.report.html: one self-contained document, every section, all runs, outputs escaped."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_runs import make_report_run, report_suite

from bench.api import RunData
from bench.report.cost_tables import procurement_lines
from bench.report.html import render_html, slug
from bench.results.schema import Summary

PAYLOAD = "<script>alert(1)</script>"
NOTES_TASK = {"id": "notes", "prompt": {"user": "Summarize: {input}"}, "answer": {"mode": "text"},
              "scorers": ["exact_match"]}
IDS = ["report-header", "procurement", "comparison", "plots", "pareto-plot", "throughput-plot", "latency-plot",
       "accuracy-plot", "costs", "cost-table-triage", "cost-table-notes", "api-prices-triage", "samples",
       "provenance", "comparison-table-triage", "comparison-table-notes"]


def make_run(root: Path, name: str, models: list[str]) -> RunData:
    return make_report_run(root, report_suite(root, name, models, answer_text=PAYLOAD))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[RunData]:
    root = tmp_path_factory.mktemp("html")
    return [make_run(root, "alpha", ["fake-a", "fake-b"]), make_run(root, "beta", ["fake-c"])]


@pytest.fixture(scope="module")
def single(runs: list[RunData]) -> str:
    return render_html(runs[:1])


@pytest.fixture(scope="module")
def both(runs: list[RunData]) -> str:
    return render_html(runs)


class Elements(HTMLParser):
    """Every start tag with its attributes, and the ids in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    @property
    def ids(self) -> list[str]:
        return [str(a["id"]) for _, a in self.tags if a.get("id")]


def parse(document: str) -> Elements:
    parser = Elements()
    parser.feed(document)
    parser.close()
    return parser


def element(document: str, tag: str, element_id: str) -> str:
    match = re.search(rf'<{tag} id="{re.escape(element_id)}".*?</{tag}>', document, re.S)
    assert match, f"no <{tag} id={element_id}>"
    return match.group(0)


def cells(table_html: str) -> list[list[str]]:
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S) for row in re.findall(r"<tr.*?</tr>", table_html, re.S)]


# --- structure ------------------------------------------------------------------------------------------------

def test_every_section_and_id_is_present_once(single: str) -> None:
    ids = parse(single).ids
    for wanted in IDS:
        assert ids.count(wanted) == 1, wanted
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert single.startswith("<!DOCTYPE html>")


def test_sections_in_reading_order(single: str) -> None:
    ids = parse(single).ids
    order = ["procurement", "comparison", "plots", "costs", "samples", "provenance"]
    assert [ids.index(i) for i in order] == sorted(ids.index(i) for i in order)


def test_self_contained_no_scripts_no_external_urls(single: str) -> None:
    tags = parse(single).tags
    assert "script" not in {t for t, _ in tags}
    assert "link" not in {t for t, _ in tags}
    for tag, attrs in tags:
        for key in ("src", "href"):
            if attrs.get(key) is not None:
                assert str(attrs[key]).startswith("data:"), (tag, attrs[key])
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    assert "http://" not in single and "https://" not in single


def test_plots_are_inline_svg_images(single: str) -> None:
    for plot_id in ("pareto-plot", "throughput-plot", "latency-plot", "accuracy-plot"):
        figure = element(single, "figure", plot_id)
        (uri,) = re.findall(r'<img src="([^"]+)"', figure)
        prefix = "data:image/svg+xml;base64,"
        assert uri.startswith(prefix)
        svg = base64.b64decode(uri[len(prefix):]).decode()
        assert "<svg" in svg and "</svg>" in svg and "<script" not in svg
        assert "<figcaption>" in figure


def test_comparison_and_cost_tables_name_the_models(single: str, runs: list[RunData]) -> None:
    for task in ("triage", "notes"):
        comparison = cells(element(single, "table", f"comparison-table-{task}"))
        assert comparison[0][0] == "model"
        assert [row[0] for row in comparison[1:]] == ["fake-a", "fake-b", "baseline:majority"]  # issue #16
        cost = cells(element(single, "table", f"cost-table-{task}"))
        assert cost[0][:3] == ["model", "hardware", "basis"]
        expected = len([r for r in runs[0].summary.costs.rows if r.task_id == task])
        assert len(cost) - 1 == expected
        assert {row[0] for row in cost[1:]} == {"fake-a", "fake-b"}
        assert {row[2] for row in cost[1:]} == {"measured", "projected"}


def test_measured_cost_rows_are_highlighted(single: str) -> None:
    table = element(single, "table", "cost-table-triage")
    measured = re.findall(r'<tr class="measured">(.*?)</tr>', table, re.S)
    assert len(measured) == 2 and all("measured" in row for row in measured)


def test_procurement_lines_are_reused(single: str, runs: list[RunData]) -> None:
    section = element(single, "section", "procurement")
    first, *picks = procurement_lines(runs[0].summary.costs)
    assert first in section
    assert len(picks) == 2
    for line in picks:
        assert f"<li>{line.removeprefix('- ')}</li>" in section


def test_api_prices_per_task(single: str, runs: list[RunData]) -> None:
    table = cells(element(single, "table", "api-prices-triage"))
    apis = [a for a in runs[0].summary.costs.api if a["task_id"] == "triage"]
    assert apis and len(table) - 1 == len(apis)
    assert table[1][0] == apis[0]["api_model"]


def test_samples_show_three_items_per_cell(single: str, runs: list[RunData]) -> None:
    for cell in runs[0].summary.cells:
        table = cells(element(single, "table", f"samples-{slug(runs[0].run_id)}-{cell.cell_id}"))
        assert table[0] == ["item", "prediction", "reference", "correct?"]
        assert [row[0] for row in table[1:]] == ["a1", "a2", "a3"]
    triage = next(c for c in runs[0].summary.cells if c.model_id == "fake-a" and c.task_id == "triage")
    rows = cells(element(single, "table", f"samples-{slug(runs[0].run_id)}-{triage.cell_id}"))
    # fake-a always answers 'billing': right for a1, wrong for a2 and a3
    assert [row[1:] for row in rows[1:]] == [["billing", "billing", "yes"], ["billing", "technical", "no"],
                                            ["billing", "shipping", "no"]]


def test_provenance_has_machine_version_commit_and_sha(single: str, runs: list[RunData]) -> None:
    footer = element(single, "footer", "provenance")
    manifest = runs[0].manifest
    assert manifest.bench_version and manifest.bench_version in footer
    assert str(manifest.git.commit) in footer
    assert manifest.machine["cpu_model"] in footer
    assert "ab" * 32 in footer
    assert manifest.suite.sha256 in footer


# --- escaping -------------------------------------------------------------------------------------------------

def test_model_output_with_a_script_tag_is_escaped(single: str) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in single
    assert PAYLOAD not in single
    assert "<script" not in single.lower()


def test_run_ids_and_model_ids_are_escaped(runs: list[RunData]) -> None:
    run = runs[0]
    summary = Summary.model_validate_json(run.summary.model_dump_json().replace("fake-a", "<b>evil</b>"))
    records = [r.model_copy(update={"model_id": "<b>evil</b>"}) for r in run.records]
    hostile = RunData(path=run.path, manifest=run.manifest.model_copy(update={"run_id": "<i>run</i>"}),
                      summary=summary.model_copy(update={"run_id": "<i>run</i>"}), records=records)
    document = render_html([hostile])
    assert "<b>evil</b>" not in document and "&lt;b&gt;evil&lt;/b&gt;" in document
    assert "<i>run</i>" not in document and "&lt;i&gt;run&lt;/i&gt;" in document


# --- several runs ---------------------------------------------------------------------------------------------

def test_several_runs_all_appear(both: str, runs: list[RunData]) -> None:
    ids = parse(both).ids
    assert len(ids) == len(set(ids)), "duplicate ids"
    for run in runs:
        assert run.run_id in element(both, "section", "procurement")
        assert run.run_id in element(both, "footer", "provenance")
    for task in ("triage", "notes"):
        table = cells(element(both, "table", f"cost-table-{task}"))
        assert table[0][:2] == ["run", "model"]
        assert {row[0] for row in table[1:]} == {r.run_id for r in runs}
        assert {row[1] for row in table[1:]} == {"fake-a", "fake-b", "fake-c"}
        comparison = cells(element(both, "table", f"comparison-table-{task}"))
        assert [row[:2] for row in comparison[1:]] == [
            [runs[0].run_id, "fake-a"], [runs[0].run_id, "fake-b"], [runs[0].run_id, "baseline:majority"],
            [runs[1].run_id, "fake-c"], [runs[1].run_id, "baseline:majority"]]
    for run in runs:
        for cell in run.summary.cells:
            assert f'id="samples-{slug(run.run_id)}-{cell.cell_id}"' in both


def test_single_run_tables_have_no_run_column(single: str) -> None:
    assert cells(element(single, "table", "cost-table-triage"))[0][0] == "model"


def test_slug() -> None:
    assert slug("ticket-triage") == "ticket-triage"
    assert slug('a b"<c>') == "a-b-c"
    assert slug("") == "x"
