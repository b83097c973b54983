"""Issue 11, class 6: the Markdown report carries no raw HTML from suite text (cost basis, backend settings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.report.tables import escape_html
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

INJECTIONS = ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>", "<a href='javascript:alert(3)'>x</a>",
              "&lt;b&gt;entity&lt;/b&gt;"]


def test_escape_html_leaves_no_tag() -> None:
    for text in INJECTIONS:
        assert "<" not in escape_html(text) and ">" not in escape_html(text)
    assert escape_html("a & b < c") == "a &amp; b &lt; c"


def test_suite_text_reaches_report_md_as_text(tmp_path: Path, labels_jsonl: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 100.0})
    suite = fake_suite(labels_jsonl, cost={"usd_per_hour": 1.0, "basis": INJECTIONS[0] + INJECTIONS[3]})
    suite["models"][0]["backend"]["text"] = INJECTIONS[1] + INJECTIONS[2]
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    store = start_run(RunRequest(path, PlanOptions(), tmp_path / "out"), SilentProgress())
    report = (store.path / "report.md").read_text()
    assert not re.search(r"<\s*(script|img|a)\b", report, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report  # shown as written, once rendered
    assert "&lt;img src=x onerror=alert(2)&gt;" in report
    assert "&amp;lt;b&amp;gt;" in report  # an entity in the suite stays text, it does not become a tag


MARKDOWN_INJECTION = "x | y\n# Heading\n[click](javascript:alert(1)) ![img](http://evil.example/x.png) `code` *em* [/]"


def test_suite_text_cannot_inject_markdown_or_rich_markup(tmp_path: Path, labels_jsonl: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A cost basis or backend setting with a line break, a heading, a link, an image, a code span or a table
    pipe shows as text in report.md, and `[/]` (rich markup) does not break the terminal table."""
    from bench.cli.main import main

    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 100.0})
    suite = fake_suite(labels_jsonl, cost={"usd_per_hour": 1.0, "basis": MARKDOWN_INJECTION})
    suite["models"][0]["backend"]["text"] = MARKDOWN_INJECTION
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) in (0, 1)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "[click](javascript:alert(1))" in captured.out and "*em* [/]" in captured.out  # the terminal: as written
    report = next((tmp_path / "out").iterdir()).joinpath("report.md").read_text()
    assert not re.search(r"^#+ Heading", report, re.MULTILINE)
    assert not re.search(r"(?<!\\)\[click(?<!\\)\]\(", report) and "![img]" not in report
    assert "\\[click\\](javascript:alert(1)) !\\[img\\](http://evil.example/x.png) \\`code\\` \\*em\\*" in report
    assert "x \\| y # Heading" in report
