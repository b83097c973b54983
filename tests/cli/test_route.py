"""`bench route` end to end on real runs of the scripted fake backend: outputs, and every bad input (exit 2)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cli.main import main
from bench.metrics import stats

LABELS = ["billing", "technical", "shipping"]
# item -> (label, small model's option probabilities): the small model is sure (0.9) and right on the six billing
# items, unsure on the other six, where it picks the first option (billing) and is right only on i06
UNSURE_LABELS = ["billing", "technical", "shipping", "technical", "shipping", "technical"]
ITEMS = {**{f"i{k:02d}": ("billing", [0.9, 0.05, 0.05]) for k in range(6)},
         **{f"i{k + 6:02d}": (label, [0.4, 0.35, 0.25]) for k, label in enumerate(UNSURE_LABELS)}}
Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _quick(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
    monkeypatch.chdir(tmp_path)


def suite(tmp_path: Path, name: str, items: dict[str, Any], version: str = "1",
          models: tuple[str, ...] = ("small", "large")) -> Path:
    data = tmp_path / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"id": k, "text": f"ticket {k}", "label": v[0]}) + "\n"
                            for k, v in items.items()))
    small = {"kind": "fake", "choice_logprobs": {k: [math.log(p) for p in v[1]] for k, v in items.items()}}
    large = {"kind": "fake", "answers": {k: v[0] for k, v in list(items.items())[:-1]}, "choice_index": 2}
    backends = {"small": small, "large": large}
    spec = {"name": name, "warmup": 0, "cost": {"usd_per_hour": 3.6},
            "models": [{"id": m, "backend": backends[m]} for m in models],
            "tasks": [{"id": "triage", "version": version,
                       "dataset": {"path": str(data), "fields": {"input": "text", "expected": "label"}},
                       "prompt": {"system": "Classify.", "user": "Text: {input}\nLabel:"},
                       "answer": {"mode": "choices", "choices": LABELS}, "scorers": ["accuracy"]}]}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run(path: Path, out: Path) -> Path:
    assert main(["run", str(path), "--out", str(out), "--executor", "local", "--format", "json",
                 "--profiles", "nvidia-l4"]) == 0
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One run of both models, and runs of the large model alone on other items and on another task version."""
    root = tmp_path_factory.mktemp("route")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
        patch.chdir(root)
        fewer = dict(list(ITEMS.items())[:10])
        return {"both": run(suite(root, "both", ITEMS), root / "both"),
                "other_items": run(suite(root, "other", fewer, models=("large",)), root / "other"),
                "v2": run(suite(root, "v2", ITEMS, version="2", models=("large",)), root / "v2"),
                "small_only": run(suite(root, "small", ITEMS, models=("small",)), root / "small")}


def test_records_carry_the_option_probabilities(runs: dict[str, Path]) -> None:
    rows = [json.loads(line) for line in (runs["both"] / "records.jsonl").read_text().splitlines()]
    small = {r["item_id"]: r["confidence"] for r in rows if r["model_id"] == "small"}
    assert small["i00"]["max_prob"] == pytest.approx(0.9) and small["i00"]["margin"] == pytest.approx(0.85)
    assert all(r["confidence"] is None for r in rows if r["model_id"] == "large")  # no log-likelihoods: missing
    from bench.api import load_run

    frame = load_run(runs["both"]).items()
    assert frame.loc[frame["model_id"] == "small", "confidence.max_prob"].tolist()[:2] == pytest.approx([0.9, 0.9])


def test_route_prints_headline_and_writes_json_csv_plot_html(runs: dict[str, Path], tmp_path: Path,
                                                             capsys: Capsys) -> None:
    out, html = tmp_path / "route", tmp_path / "report.html"
    code = main(["route", str(runs["both"]), "--small", "small", "--large", "large", "--out", str(out),
                 "--html", str(html), "--threshold", "0.8"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "small keeps" in printed and "APGR" in printed and "ECE" in printed
    text = (out / "route.json").read_text()
    assert "Infinity" not in text and "NaN" not in text  # strict JSON: infinite cuts are null
    (result,) = json.loads(text)
    assert result["signal"]["name"] == "max_prob" and result["n"] == 12
    assert result["routellm"]["weak"] == pytest.approx(7 / 12)
    assert result["routellm"]["strong"] == pytest.approx(11 / 12)  # scripted right except on the last item
    fixed = next(p for p in result["points"] if p["policy"] == "fixed-threshold")
    assert fixed["share_large"] == pytest.approx(0.5)  # the six unsure items go to the large model
    assert fixed["accuracy"] == pytest.approx(11 / 12)
    assert {"this-machine", "nvidia-l4"} <= set(fixed["usd_per_1000_tasks"])
    header = (out / "route.csv").read_text().splitlines()[0]
    assert header.startswith("task_id,small,large,signal,policy")
    assert (out / "route-triage.png").stat().st_size > 1000
    page = html.read_text()
    assert '<section id="routing">' in page and "data:image/svg+xml;base64," in page


def test_models_in_two_runs_are_paired(runs: dict[str, Path], capsys: Capsys) -> None:
    code = main(["route", str(runs["small_only"]), str(runs["v2"]), "--small", "small", "--large", "large"])
    assert code == 2 and "has version 1 in run" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--small", "tiny", "--large", "large"], "model 'tiny' is in none of the runs (models: large, small)"),
    (["--small", "small", "--large", "large", "--signal", "token_logprob_mean"],
     "have no signal 'token_logprob_mean': they carry max_prob, margin, entropy"),
    (["--small", "small", "--large", "large", "--signal", "confidence"], "not a signal"),
    (["--small", "small", "--large", "large", "--threshold", "1.5"],
     "--threshold 1.5 is outside the range of signal 'max_prob' [0, 1]"),
    (["--small", "small", "--large", "large", "--task", "email"], "--task 'email': not run by both"),
    (["--small", "small", "--large", "small"], "both 'small'"),
    (["--small", "small", "--large", "large", "--signal", "entropy", "--threshold", "1000"],  # 3 options: ln 3
     "--threshold 1000 is outside the range of signal 'entropy' [0, 1.09861]"),
])
def test_bad_input_is_one_line_and_exit_2(runs: dict[str, Path], capsys: Capsys, args: list[str],
                                         message: str) -> None:
    assert main(["route", str(runs["both"]), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_different_items_are_refused_naming_the_counts(runs: dict[str, Path], capsys: Capsys) -> None:
    assert main(["route", str(runs["small_only"]), str(runs["other_items"]), "--small", "small",
                 "--large", "large"]) == 2
    assert "did not answer the same items (2 only for 'small'" in capsys.readouterr().err


def test_a_model_in_two_runs_is_refused(runs: dict[str, Path], capsys: Capsys) -> None:
    assert main(["route", str(runs["both"]), str(runs["small_only"]), "--small", "small", "--large", "large"]) == 2
    assert "ran task 'triage' in several runs" in capsys.readouterr().err


def test_not_a_run_directory(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["route", str(tmp_path), "--small", "a", "--large", "b"]) == 2
    assert "is not a run directory" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--signal", "--task", "--small"])
def test_an_empty_option_is_refused_not_read_as_not_given(option: str, tmp_path: Path, capsys: Capsys) -> None:
    # `--task ""` meant "every task" and `--signal ""` the default signal, silently
    argv = {"--small": "small", "--large": "large", option: ""}
    with pytest.raises(SystemExit) as caught:
        main(["route", str(tmp_path), *[x for pair in argv.items() for x in pair]])
    assert caught.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"bench route: error: argument {option}: empty value: give one, or leave the option out")
