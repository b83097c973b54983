"""bench compare: significance tests on per-item records, --fail-on rules, exit codes, renderers (end to end
through bench.cli.main.main with the fake backend; regressions are planted in the backend, not in the suite)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats as scipy_stats
from suite_factory import fake_suite

from bench.backends.base import Request, Result
from bench.backends.fake import FakeBackend
from bench.cli.main import main
from bench.compare import (
    CellData,
    Comparable,
    CompareError,
    CompareOptions,
    MetricValue,
    compare,
    corpus_bootstrap,
    mcnemar,
    paired_bootstrap,
    parse_rule,
    ratio_interval,
    ratio_test,
)
from bench.metrics import stats
from bench.report.compare import (
    result_markdown,
    summary_line,
)
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

MOSTLY_BILLING = ["billing"] * 36 + ["technical"] * 2 + ["shipping"] * 2


pytestmark = pytest.mark.usefixtures("fast_and_fixed")


# --- helpers: runs with the fake backend ---------------------------------------------------------------------------

def write_suite(folder: Path, labels: list[str], name: str = "unit") -> Path:
    dataset = folder / f"{name}-items.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"i{n:02d}", "text": f"ticket {n}", "label": label}) + "\n"
                               for n, label in enumerate(labels)))
    models = [{"id": "fake-a", "backend": {"kind": "fake", "choice_index": 0, "delay_s": 0.002}}]
    suite = fake_suite(dataset, name=name, models=models, cost={"usd_per_hour": 3.6, "basis": "test price"})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def plant(monkeypatch: pytest.MonkeyPatch, **params: Any) -> None:
    """A 'code regression': the backend behaves differently while the suite (and its sha256) stays the same."""
    original = FakeBackend._answer

    def answer(self: FakeBackend, request: Request) -> Result:
        self.params = self.params.model_copy(update=params)
        return original(self, request)

    monkeypatch.setattr(FakeBackend, "_answer", answer)


def make_run(suite: Path, out: Path, monkeypatch: pytest.MonkeyPatch, **planted: Any) -> Path:
    with monkeypatch.context() as patch:
        if planted:
            plant(patch, **planted)
        return start_run(RunRequest(suite, PlanOptions(), out), SilentProgress()).path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows_by_metric(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["metric"]: row for row in document["rows"]}


@pytest.fixture
def thirty(tmp_path: Path) -> Path:
    return write_suite(tmp_path, MOSTLY_BILLING[:27] + ["technical"] * 3)


@pytest.fixture
def base_run(thirty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return make_run(thirty, tmp_path / "results", monkeypatch)


# --- end to end -----------------------------------------------------------------------------------------------------

def test_a_run_against_itself_has_nothing_significant(base_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "compare", base_run, base_run, "--fail-on", "latency:+0%",
                           "--fail-on", "accuracy:-0pp", "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["exit_code"] == 0 and document["failures"] == []
    rows = rows_by_metric(document)
    assert {"accuracy", "macro_f1", "e2e_latency_s_p50", "decode_tps_p50", "tasks_per_s",
            "usd_per_1000_tasks", "peak_rss_gb"} <= set(rows)
    assert not any(row["significant"] for row in document["rows"])
    assert all(row["direction"] == "same" for row in document["rows"])
    assert rows["e2e_latency_s_p50"]["ci_low"] <= 1 <= rows["e2e_latency_s_p50"]["ci_high"]


def test_identical_quality_in_two_runs_is_not_a_regression(thirty: Path, base_run: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    again = make_run(thirty, tmp_path / "results", monkeypatch)
    code, out, _ = run_cli(capsys, "compare", base_run, again, "--fail-on", "accuracy:-2pp", "--format", "json")
    rows = rows_by_metric(json.loads(out))
    assert code == 0
    assert rows["accuracy"]["p_value"] == 1.0 and rows["accuracy"]["test"] == "mcnemar"
    assert rows["accuracy"]["direction"] == "same"


def test_planted_slowdown_fails_the_latency_rule(thirty: Path, base_run: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    slow = make_run(thirty, tmp_path / "results", monkeypatch, delay_s=0.02)
    code, out, _ = run_cli(capsys, "compare", base_run, slow, "--fail-on", "latency:+10%")
    assert code == 1
    assert "e2e_latency_s_p50" in out and "1 regression" in out and "FAIL" in out
    code, out, _ = run_cli(capsys, "compare", base_run, slow, "--fail-on", "latency:+10%", "--format", "json")
    document = json.loads(out)
    assert document["failures"] == [{"rule": "latency:+10%", "cell": "fake-a/triage", "metric": "e2e_latency_s_p50"}]
    rows = rows_by_metric(document)
    assert rows["e2e_latency_s_p50"]["ci_low"] > 2  # ~10x slower when quiet, >3x on a busy machine: far from 1
    assert rows["tasks_per_s"]["significant"] and rows["tasks_per_s"]["direction"] == "worse"
    assert rows["usd_per_1000_tasks"]["ci_low"] > 1 and rows["usd_per_1000_tasks"]["test"] == "bootstrap (throughput)"
    assert rows["tasks_per_s"]["ci_high"] < 1
    for metric in ("tasks_per_s", "usd_per_1000_tasks"):  # one estimate, one interval, from the same data
        row = rows[metric]
        assert row["ci_low"] <= row["candidate"] / row["baseline"] <= row["ci_high"]
    # the same slowdown read the other way round is an improvement: no failure
    assert run_cli(capsys, "compare", slow, base_run, "--fail-on", "latency:+10%")[0] == 0


def test_planted_accuracy_drop_fails_the_accuracy_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, MOSTLY_BILLING)
    good = make_run(suite, tmp_path / "results", monkeypatch)
    bad = make_run(suite, tmp_path / "results", monkeypatch, choice_index=1)  # 'technical' for every item
    code, out, _ = run_cli(capsys, "compare", good, bad, "--fail-on", "accuracy:-2pp", "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert [f["metric"] for f in document["failures"]] == ["accuracy"]
    rows = rows_by_metric(document)
    assert rows["accuracy"]["baseline"] == pytest.approx(0.9) and rows["accuracy"]["candidate"] == pytest.approx(0.05)
    assert rows["accuracy"]["p_value"] == pytest.approx(scipy_stats.binomtest(36, 38).pvalue)
    assert rows["macro_f1"]["test"] == "paired bootstrap (corpus)" and rows["macro_f1"]["significant"]
    assert rows["macro_f1"]["ci_high"] < 0


def test_a_tiny_accuracy_change_on_few_items_is_not_significant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    suite = write_suite(tmp_path, ["billing"] * 3 + ["technical"] * 2 + ["shipping"])
    base = make_run(suite, tmp_path / "results", monkeypatch)
    cand = make_run(suite, tmp_path / "results", monkeypatch, choice_index=1)
    code, out, _ = run_cli(capsys, "compare", base, cand, "--fail-on", "accuracy:-2pp", "--format", "json")
    accuracy = rows_by_metric(json.loads(out))["accuracy"]
    assert code == 0
    assert accuracy["abs_change"] == pytest.approx(-1 / 6, rel=1e-5)  # far beyond 2pp ...
    assert accuracy["direction"] == "worse" and accuracy["significant"] is False  # ... but 3 vs 2 discordant items


def test_mismatched_suites_are_refused_unless_allowed(base_run: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    other = make_run(write_suite(tmp_path, MOSTLY_BILLING[:30], name="other"), tmp_path / "results", monkeypatch)
    code, _, err = run_cli(capsys, "compare", base_run, other)
    assert code == 2
    assert "suite name: 'unit' (baseline) vs 'other' (candidate)" in err
    assert "--allow-mismatch" in err
    code, out, err = run_cli(capsys, "compare", base_run, other, "--allow-mismatch", "--fail-on", "accuracy:-2pp",
                             "--format", "json")
    assert code == 0 and "warning" in err
    assert any("suite name" in problem for problem in json.loads(out)["mismatches"])


def test_an_edited_suite_under_the_same_name_is_compared_with_a_note(base_run: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    original = Path(json.loads((base_run / "manifest.json").read_text())["suite"]["path"])
    suite = tmp_path / "edited.yaml"
    suite.write_text(original.read_text() + "description: a reworded prompt would change the file like this\n")
    edited = make_run(suite, tmp_path / "results", monkeypatch)
    code, _, err = run_cli(capsys, "compare", base_run, edited, "--fail-on", "accuracy:-2pp")
    assert code == 0
    assert "note: the suite file changed" in err


@pytest.mark.parametrize(("rule", "message"), [
    ("latency+10%", "invalid --fail-on rule"),
    ("latency:10%", "invalid --fail-on rule"),
    ("latency:+10", "invalid --fail-on rule"),
    ("latncy:+10%", "no metric 'latncy'"),
    ("latency:+10pp", "pp (percentage points) is for ratios"),
])
def test_bad_rules_exit_2_with_a_hint(base_run: Path, rule: str, message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "compare", base_run, base_run, "--fail-on", rule)
    assert code == 2 and out == ""
    assert message in err


def test_bad_alpha_and_missing_paths_exit_2(base_run: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "compare", base_run, base_run, "--alpha", "1.5")[0] == 2
    code, _, err = run_cli(capsys, "compare", tmp_path / "nope", base_run)
    assert code == 2 and "no such run directory or baseline file" in err


def test_markdown_for_a_pull_request(thirty: Path, base_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    slow = make_run(thirty, tmp_path / "results", monkeypatch, delay_s=0.02)
    code, out, _ = run_cli(capsys, "compare", base_run, slow, "--fail-on", "latency:+10%", "--format", "md")
    assert code == 1
    assert out.startswith("### bench compare: ❌ 1 regression\n")
    failing_table, details = out.split("<details>")
    assert "| `latency:+10%` | fake-a/triage | e2e_latency_s_p50 |" in failing_table
    assert "All 16 comparisons" in details and details.rstrip().endswith("</details>")  # + 4 failure kinds
    assert details.count("| fake-a/triage |") == 16
    code, out, _ = run_cli(capsys, "compare", base_run, base_run, "--format", "md")
    assert code == 0 and out.startswith("### bench compare: ✅ no regression") and "| rule |" not in out


# --- statistics on hand-made data -------------------------------------------------------------------------------------

def test_mcnemar_uses_only_the_discordant_pairs() -> None:
    base = [1.0] * 20 + [0.0] * 5
    all_worse = mcnemar(base, [0.0] * 10 + [1.0] * 10 + [0.0] * 5, alpha=0.05)
    assert all_worse.p_value == pytest.approx(2 * 0.5**10) and all_worse.significant
    balanced = mcnemar(base, [0.0] * 5 + [1.0] * 15 + [1.0] * 5, alpha=0.05)
    assert balanced.p_value == pytest.approx(1.0) and not balanced.significant
    assert mcnemar(base, base, alpha=0.05).p_value == 1.0
    few = mcnemar([1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], alpha=0.05)  # 3 of 3 discordant: p = 0.25
    assert few.p_value == pytest.approx(0.25) and not few.significant


def test_ratio_of_medians_interval_and_test() -> None:
    rng = np.random.default_rng(1)
    base = list(1.0 + rng.uniform(-0.1, 0.1, size=40))
    doubled = [2 * v for v in base]
    low, high = ratio_interval(base, doubled)
    assert low <= 2.0 <= high and low > 1.5
    assert ratio_interval(base, doubled) == (low, high)  # seeded
    assert ratio_test(base, doubled, alpha=0.05).significant
    same = ratio_test(base, list(base), alpha=0.05)
    assert same.p_value == pytest.approx(1.0) and same.ci_low is not None and same.ci_low <= 1 <= (same.ci_high or 0)
    assert not same.significant
    assert ratio_test([1.0], [2.0], alpha=0.05).significant is False  # one sample: nothing can be concluded


def test_paired_bootstrap_of_continuous_scores() -> None:
    base = [0.5, 0.6, 0.7, 0.8, 0.9, 0.55, 0.65, 0.75, 0.85, 0.95] * 3
    worse = [v - 0.2 + 0.01 * (i % 3) for i, v in enumerate(base)]
    outcome = paired_bootstrap(base, worse, alpha=0.05)
    assert outcome.significant and outcome.ci_high is not None and outcome.ci_high < 0
    noisy = [v + (0.05 if i % 2 else -0.05) for i, v in enumerate(base)]
    assert not paired_bootstrap(base, noisy, alpha=0.05).significant


def _cell(items: dict[str, dict[str, float]], latency: list[float], accuracy: float) -> CellData:
    return CellData(model_id="m", task_id="t", items=items, samples={"e2e_latency_s": latency},
                    metrics={"field_accuracy": MetricValue(value=accuracy, higher_is_better=True, unit="ratio",
                                                           group="quality"),
                             "e2e_latency_s_p50": MetricValue(value=float(np.median(latency)), higher_is_better=False,
                                                              unit="s", group="performance")})


def _side(cell: CellData, cpu: str = "cpu") -> Comparable:
    return Comparable(run_id="r", status="complete", primary_metrics={"t": "field_accuracy"}, cells={"m/t": cell},
                      identity={"suite": {"name": "s", "sha256": "x"}, "tasks": {"t": "1"},
                                "hardware": {"cpu_model": cpu}})


def test_accuracy_alias_is_the_tasks_primary_metric_and_continuous_scores_are_bootstrapped() -> None:
    items = {f"i{n}": {"field_accuracy": 0.8 + 0.01 * (n % 5)} for n in range(30)}
    worse = {key: {"field_accuracy": value["field_accuracy"] - 0.3} for key, value in items.items()}
    base, cand = _side(_cell(items, [1.0, 1.1, 1.2], 0.82)), _side(_cell(worse, [1.0, 1.1, 1.2], 0.52))
    result = compare(base, cand, CompareOptions(rules=(parse_rule("accuracy:-2pp"),)))
    assert result.exit_code == 1 and result.failures[0].row.metric == "field_accuracy"
    assert result.failures[0].row.significance.test == "paired bootstrap"


def test_hardware_mismatch_names_the_field() -> None:
    cell = _cell({"i": {"field_accuracy": 1.0}}, [1.0, 1.1], 1.0)
    with pytest.raises(CompareError, match="hardware cpu_model: 'cpu' \\(baseline\\) vs 'other' \\(candidate\\)"):
        compare(_side(cell), _side(cell, cpu="other"))
    assert compare(_side(cell), _side(cell, cpu="other"), CompareOptions(allow_mismatch=True)).mismatches


@pytest.mark.parametrize(("text", "sign", "amount", "unit"), [
    ("accuracy:-2pp", -1, 2.0, "pp"), (" decode_tps : -10% ", -1, 10.0, "%"), ("usd_per_1000:+12.5%", 1, 12.5, "%"),
    ("field.total:-0pp", -1, 0.0, "pp"),
])
def test_parse_rule(text: str, sign: int, amount: float, unit: str) -> None:
    rule = parse_rule(text)
    assert (rule.sign, rule.amount, rule.unit) == (sign, amount, unit)



# --- issue #10 class 10: compare says what it saw ---------------------------------------------------------------------

def slowed_copy(run: Path, target: Path, factor: float) -> Path:
    """A copy of a run whose item latencies (first token and end, from the start) are `factor` times longer;
    its segments (wall time) are left as they were."""
    shutil.copytree(run, target)
    lines = []
    for line in (run / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        start = record["t_start"]
        record["t_end"] = start + (record["t_end"] - start) * factor
        if record.get("t_first_token") is not None:
            record["t_first_token"] = start + (record["t_first_token"] - start) * factor
        lines.append(json.dumps(record))
    (target / "records.jsonl").write_text("\n".join(lines) + "\n")
    return target


def test_a_copy_with_latencies_1_6x_longer_fails_the_default_policy(base_run: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Used to print '✅ no regression' and exit 0 above rows reading +60% worse (significant)."""
    slow = slowed_copy(base_run, tmp_path / "slow-copy", 1.6)
    code, out, _ = run_cli(capsys, "compare", base_run, slow)
    assert code == 1
    assert "no regression" not in out and "❌" in out and "default policy" in out
    code, out, _ = run_cli(capsys, "compare", base_run, slow, "--format", "json")
    document = json.loads(out)
    assert code == 1 and document["policy"] == "default"
    failed = {f["metric"] for f in document["failures"]}
    assert "e2e_latency_s_p50" in failed
    rows = rows_by_metric(document)
    assert rows["e2e_latency_s_p50"]["rel_change"] == pytest.approx(0.6, rel=1e-3)
    # the wall time did not change, so neither did tasks/s: its interval is centred on that same estimate
    for metric in ("tasks_per_s", "usd_per_1000_tasks"):
        row = rows[metric]
        assert row["direction"] == "same" and row["significant"] is False
        assert row["ci_low"] <= 1.0 <= row["ci_high"]


def test_never_no_regression_above_significantly_worse_rows() -> None:
    rng = np.random.default_rng(5)
    base = list(1.0 + rng.uniform(-0.01, 0.01, size=40))
    items = {f"i{n}": {"field_accuracy": 1.0} for n in range(40)}
    result = compare(_side(_cell(items, base, 1.0)), _side(_cell(items, [1.05 * v for v in base], 1.0)))
    assert result.exit_code == 0 and result.failures == []  # +5%: within the default 10%
    assert [row.metric for row in result.significantly_worse] == ["e2e_latency_s_p50"]
    assert summary_line(result).startswith("⚠️ no rule failed, but 1 change is significantly worse")
    assert "no regression" not in result_markdown(result).splitlines()[0]


def test_default_policy_fails_a_significant_quality_drop_of_more_than_2_points() -> None:
    items = {f"i{n}": {"field_accuracy": 1.0} for n in range(30)}
    worse = {key: {"field_accuracy": 0.0 if n < 8 else 1.0} for n, key in enumerate(items)}
    latency = [1.0 + 0.01 * n for n in range(12)]
    result = compare(_side(_cell(items, latency, 1.0)), _side(_cell(worse, latency, 22 / 30)))
    assert result.exit_code == 1 and result.policy == "default"
    assert [(f.rule, f.row.metric) for f in result.failures] == [("accuracy:-2pp", "field_accuracy")]


def test_explicit_rules_replace_the_default_policy() -> None:
    rng = np.random.default_rng(5)
    base = list(1.0 + rng.uniform(-0.01, 0.01, size=40))
    items = {f"i{n}": {"field_accuracy": 1.0} for n in range(40)}
    slow = _side(_cell(items, [1.6 * v for v in base], 1.0))
    assert compare(_side(_cell(items, base, 1.0)), slow).exit_code == 1
    only_quality = CompareOptions(rules=(parse_rule("accuracy:-2pp"),))
    result = compare(_side(_cell(items, base, 1.0)), slow, only_quality)
    assert result.exit_code == 0 and result.policy == "--fail-on"
    assert "significantly worse" in summary_line(result)


# --- issue #10 class 5: tests that hold at tiny n ----------------------------------------------------------------

def test_two_items_are_never_a_significant_regression() -> None:
    """Two items that both got worse by the same amount used to be 'significant' (a zero-width bootstrap)."""
    two = paired_bootstrap([0.9, 0.8], [0.1, 0.0], alpha=0.05)
    assert two.test == "exact sign-flip" and two.p_value == pytest.approx(0.5) and not two.significant
    assert two.ci_low is None  # no interval below MIN_N_BOOTSTRAP items
    six = paired_bootstrap([0.9] * 6, [0.5] * 6, alpha=0.05)  # every sign pattern: p = 2 / 2**6
    assert six.p_value == pytest.approx(2 / 64) and six.significant


def test_exact_sign_flip_matches_the_permutation_distribution_by_hand() -> None:
    diffs = [-0.3, -0.1, 0.05, -0.2, -0.25]
    outcome = paired_bootstrap([0.0] * 5, diffs, alpha=0.05)
    observed = abs(np.mean(diffs))
    flips = [abs(np.mean([d * (1 if (mask >> i) & 1 else -1) for i, d in enumerate(diffs)])) for mask in range(32)]
    assert outcome.p_value == pytest.approx(sum(f >= observed - 1e-12 for f in flips) / 32)


def test_corpus_metric_on_few_items_uses_the_exact_permutation_test() -> None:
    def share_right(pairs: list[list[Any]]) -> float:
        return sum(p == r for p, r in pairs) / len(pairs)

    base = [["a", "a"], ["b", "b"], ["c", "c"]]
    cand = [["x", "a"], ["x", "b"], ["x", "c"]]
    outcome = corpus_bootstrap(share_right, base, cand, alpha=0.05)
    assert outcome.test == "exact permutation (corpus)" and outcome.p_value == pytest.approx(0.25)
    assert not outcome.significant


def test_timings_below_five_a_side_are_not_tested() -> None:
    assert ratio_test([1.0, 1.1, 1.2, 1.3], [9.0, 9.1, 9.2, 9.3], alpha=0.05).test == "insufficient data"
    five = ratio_test([1.0, 1.1, 1.2, 1.3, 1.4], [9.0, 9.1, 9.2, 9.3, 9.4], alpha=0.05)
    assert five.test == "mann-whitney" and five.significant and five.ci_low is None  # exact U, no bootstrap CI
    assert five.p_value == pytest.approx(2 / 252)


def test_the_ratio_interval_ignores_the_order_of_samples() -> None:
    rng = np.random.default_rng(2)
    base, cand = list(rng.uniform(1, 2, size=30)), list(rng.uniform(1.5, 2.5, size=30))
    assert ratio_interval(base, cand) == ratio_interval(base[::-1], sorted(cand))


def test_every_row_of_compare_and_report_ignores_the_order_of_the_records(
        thirty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Two runs whose records.jsonl hold the same lines in another order (a concurrency cell, a resume) give the same
    compare rows (values, intervals, p-values) and the same summary, interval for interval."""
    import random

    base = make_run(thirty, tmp_path / "results", monkeypatch, delay_s=0.001)
    cand = make_run(thirty, tmp_path / "results", monkeypatch, choice_index=1)
    shuffled = {}
    for name, run in (("base", base), ("cand", cand)):
        copy = tmp_path / f"{name}-shuffled"
        shutil.copytree(run, copy)
        lines = (run / "records.jsonl").read_text().splitlines()
        random.Random(7).shuffle(lines)
        (copy / "records.jsonl").write_text("\n".join(lines) + "\n")
        shuffled[name] = copy
    documents = []
    for pair in ((base, cand), (shuffled["base"], shuffled["cand"])):
        code, out, _ = run_cli(capsys, "compare", *pair, "--format", "json")
        documents.append((code, rows_by_metric(json.loads(out))))
    assert documents[0] == documents[1]
    assert documents[0][1]["macro_f1"]["p_value"] is not None and documents[0][1]["tasks_per_s"]["ci_low"] is not None
    summaries = []
    for run in (cand, shuffled["cand"]):
        (run / "summary.json").unlink()  # recomputed from the records, not copied
        code, out, _ = run_cli(capsys, "report", run, "--format", "json")
        summaries.append((code, json.loads(out)["metrics"]))
    assert summaries[0] == summaries[1] and summaries[0][0] == 0
    assert any(m["metric"] == "macro_f1" and m["ci_low"] is not None for m in summaries[0][1])


# --- issue #10 class 9: contended cells are not judged silently --------------------------------------------------

def contended_copy(run: Path, target: Path, other_cpu_share: float) -> Path:
    """A copy of a run whose segments say other processes used this share of the CPU over a 10 s window."""
    shutil.copytree(run, target)
    lines = []
    for line in (run / "segments.jsonl").read_text().splitlines():
        segment = json.loads(line)
        segment.update(contention_window_s=10.0, logical_cpus=2, other_cpu_s=20.0 * other_cpu_share, steal_s=0.0,
                       other_processes={"llama-server": 20.0 * other_cpu_share})
        lines.append(json.dumps(segment))
    (target / "segments.jsonl").write_text("\n".join(lines) + "\n")
    return target


def test_contended_cells_exit_2_unless_allowed(base_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    busy = contended_copy(base_run, tmp_path / "busy", 0.95)
    code, out, err = run_cli(capsys, "compare", base_run, busy)
    assert code == 2 and out == ""
    assert "cannot judge speed or cost" in err and "fake-a/triage" in err and "candidate" in err
    assert "--allow-contended" in err and "95%" in err and "llama-server" in err
    code, out, err = run_cli(capsys, "compare", base_run, busy, "--allow-contended", "--format", "json")
    document = json.loads(out)
    assert code == 0 and any("despite contention" in note for note in document["notes"])
    rows = rows_by_metric(document)
    assert rows["e2e_latency_s_p50"]["contended"] and not rows["accuracy"]["contended"]
    code, out, _ = run_cli(capsys, "compare", base_run, busy, "--allow-contended", "--format", "md")
    assert "same [contended]" in out and "> note: speed and cost judged despite contention" in out


def test_a_contended_baseline_is_refused_too_naming_its_side(base_run: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    busy = contended_copy(base_run, tmp_path / "busy", 0.5)
    code, out, err = run_cli(capsys, "compare", busy, base_run)
    assert code == 2 and out == "" and "baseline" in err and "50%" in err and "--allow-contended" in err


def test_a_candidate_failing_half_its_items_is_judged_on_errors_and_successful_throughput(
        thirty: Path, base_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Failed work is not throughput in compare either: half the items failing halves the successful tasks/s
    (a significant, beyond-10% drop), raises error_rate by 50 points, and the default policy fails it."""
    flaky = make_run(thirty, tmp_path / "results", monkeypatch, fail_every=2)
    code, out, _ = run_cli(capsys, "compare", base_run, flaky, "--format", "json")
    document = json.loads(out)
    rows = rows_by_metric(document)
    assert code == 1 and rows["error_rate"]["direction"] == "worse" and rows["error_rate"]["significant"]
    assert rows["error_rate"]["candidate"] == pytest.approx(0.5) and rows["error_rate"]["test"] == "mcnemar"
    assert rows["tasks_per_s"]["direction"] == "worse" and rows["tasks_per_s"]["rel_change"] < -0.3
    assert {f["metric"] for f in document["failures"]} >= {"error_rate"}


def test_a_quiet_machine_and_old_runs_are_compared_as_before(base_run: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    quiet = contended_copy(base_run, tmp_path / "quiet", 0.02)
    assert run_cli(capsys, "compare", base_run, quiet, "--fail-on", "accuracy:-2pp")[0] == 0
    old = tmp_path / "old"  # a run made before contention was measured: no such fields in its segments
    shutil.copytree(base_run, old)
    segments = [json.loads(line) for line in (old / "segments.jsonl").read_text().splitlines()]
    for segment in segments:
        for key in ("contention_window_s", "logical_cpus", "other_cpu_s", "steal_s", "other_processes"):
            segment.pop(key, None)
    (old / "segments.jsonl").write_text("".join(json.dumps(s) + "\n" for s in segments))
    assert run_cli(capsys, "compare", old, base_run, "--fail-on", "accuracy:-2pp")[0] == 0


def test_worse_rows_that_cannot_be_tested_are_inconclusive_not_no_regression(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Two items, three times slower: every speed row is worse but untestable; the verdict says so."""
    base = make_run(write_suite(tmp_path, ["billing", "billing"]), tmp_path / "results", monkeypatch)
    slow = slowed_copy(base, tmp_path / "slow", 3.0)
    code, out, _ = run_cli(capsys, "compare", base, slow, "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["summary"].startswith("⚠️ inconclusive:")
    assert "no regression shown" in document["summary"] and "✅" not in document["summary"]


# --- macro-F1's paired bootstrap from confusion counts ------------------------------------------------------------

def _label_pairs(n: int, seed: int) -> tuple[list[list[Any]], list[list[Any]]]:
    rng = np.random.default_rng(seed)
    labels = ["billing", "Technical", "shipping", None]
    refs = rng.choice(3, size=n)
    base = [[labels[int(p)], labels[int(r)]] for p, r in zip(rng.choice(4, size=n), refs, strict=True)]
    cand = [[labels[int(p)], labels[int(r)]] for p, r in zip(rng.choice(4, size=n), refs, strict=True)]
    return base, cand


def test_macro_f1_bootstrap_equals_the_scorer_on_every_resample() -> None:
    from bench.compare.significance import corpus_bootstrap, macro_f1_bootstrap
    from bench.tasks.scorers import build_scorer

    scorer = build_scorer({"name": "macro_f1"})
    base, cand = _label_pairs(60, 3)

    def metric(pairs: list[list[Any]]) -> float:
        return scorer.corpus([p[0] for p in pairs], [p[1] for p in pairs])["macro_f1"]

    assert macro_f1_bootstrap(None, base, cand, 0.05) == corpus_bootstrap(metric, base, cand, 0.05)


def test_macro_f1_bootstrap_from_counts_agrees_with_index_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.compare.significance import macro_f1_bootstrap

    base, cand = _label_pairs(25_000, 4)
    counted = macro_f1_bootstrap(None, base, cand, 0.05)
    monkeypatch.setattr(stats, "COUNTS_FROM_N", 10**9)
    drawn = macro_f1_bootstrap(None, base, cand, 0.05)
    assert counted.ci_low is not None and drawn.ci_low is not None and drawn.ci_high is not None
    half = (drawn.ci_high - drawn.ci_low) / 2
    assert counted.ci_low == pytest.approx(drawn.ci_low, abs=0.15 * half)
    assert counted.ci_high == pytest.approx(drawn.ci_high, abs=0.15 * half)


# --- a side that lacks items is not compared silently --------------------------------------------------------------

def without_items(run: Path, target: Path, keep: int) -> Path:
    """A copy of a run whose records keep only the first `keep` items (a partial or filtered run)."""
    shutil.copytree(run, target)
    lines = (run / "records.jsonl").read_text().splitlines()
    ids = sorted({json.loads(line)["item_id"] for line in lines})[:keep]
    (target / "records.jsonl").write_text("".join(line + "\n" for line in lines if json.loads(line)["item_id"] in ids))
    (target / "summary.json").unlink(missing_ok=True)
    return target


def test_a_candidate_lacking_items_is_refused_naming_the_cell_unless_allowed(
        base_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    partial = without_items(base_run, tmp_path / "partial", keep=12)
    code, _, err = run_cli(capsys, "compare", base_run, partial)
    assert code == 2
    assert "18 of the baseline's 30 items are missing from the candidate and 0 of the candidate's 12" in err
    code, out, err = run_cli(capsys, "compare", partial, base_run, "--allow-mismatch", "--format", "json")
    assert code in (0, 1) and "compared despite a mismatch" in err
    assert any("0 of the baseline's 12 items are missing" in m for m in json.loads(out)["mismatches"])
