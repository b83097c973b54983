"""Issue 11, class 1, as a property: any suite or data file, however broken, ends `bench validate` with exit 0
or 2, no traceback (an exception escaping main fails the test and hypothesis shrinks it) and no hang.

Three families, 1,100 generated cases in all (derandomized, so CI runs the same ones): a valid suite with a
value replaced, deleted or added anywhere; a valid suite's text with YAML tokens, control characters and bytes
spliced in; a valid suite whose JSONL or CSV data file is mutated the same ways. In process, through main().
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bench.redact
from bench.cli.main import main

Capsys = pytest.CaptureFixture[str]
CASE_LIMIT_S = 5.0
"""Longer than this for one case is a hang (cases take milliseconds)."""
REPORT_LIMIT_S = 30.0
"""A report recomputes bootstrap intervals: about a second, several on a loaded machine; longer is a hang."""
LABELS = ["billing", "technical", "shipping"]
ROWS = [{"id": f"i{n}", "text": f"text {n}", "label": LABELS[n % 3]} for n in range(6)]
TOKENS = ["[", "]", "{", "}", ": ", "- ", "&a ", "*a", "*b", "1e400", "\ufeff\ufeff", "? ", "? [a, b]\n: 1\n",
          "!!binary ",
          "!!python/name:os.system ", "!!set ", "<<: *a\n", "\x00", "\x07", "\x1b", "\t", "\n  ", "\n", "'", '"',
          "\\", "%YAML 1.1\n", "---\n", "...\n", "~", "\ufeff", "\x85", "\u2028", "9" * 5000, "[" * 300,
          "{a: " * 100, "1e999", ".nan", "-.inf", "0x7f", "0o17", "2001-12-14t21:59:43.10-05:00", "[/]", "[red]",
          "%", "@", "`", "|\n  x\n", ">-\n  y\n", "a" * 300, "/" * 3, "\\0", '"\\0"', "\r\n", "#"]


def cases(n: int) -> settings:
    return settings(max_examples=n, derandomize=True, database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

leaves = (st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.integers(min_value=10**50)
          | st.floats(allow_nan=True) | st.text(max_size=12) | st.sampled_from(["", "jsonl", "csv", "generator",
                                                                                 "lm_eval", "fake", "accuracy",
                                                                                 "choices", "json", "text", "/"]))
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)


def valid_suite(data: str = "items.jsonl", kind: str = "jsonl") -> dict[str, Any]:
    dataset: dict[str, Any] = {"path": data, "fields": {"input": "text", "expected": "label"}}
    if kind == "csv":
        dataset["kind"] = "csv"
    return {"name": "fuzz", "warmup": 0, "cost": {"usd_per_hour": 1.0, "basis": "test"},
            "load": [{"mode": "latency"}],
            "models": [{"id": "fake-a", "backend": {"kind": "fake", "choice_index": 0}}],
            "tasks": [{"id": "triage", "dataset": dataset, "prompt": {"system": "Classify.", "user": "{input}"},
                       "answer": {"mode": "choices", "choices": list(LABELS)}, "scorers": ["accuracy", "macro_f1"]}]}


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every location in a suite (mapping keys and list indexes)."""
    yield prefix
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield from paths(child, (*prefix, key))


VALID_PATHS = list(paths(valid_suite()))[1:]


def mutate(suite: dict[str, Any], path: tuple[Any, ...], action: str, value: Any) -> dict[str, Any]:
    parent: Any = suite
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[f"{path[-1]}_x"] = value
    else:
        parent[path[-1]] = value
    return suite


def splice(text: str, edits: list[tuple[int, str]], cut: tuple[int, int]) -> str:
    for position, piece in sorted(edits, reverse=True):
        position = min(position, len(text))
        text = text[:position] + piece + text[position:]
    start, length = cut
    return text[:start] + text[start + length:]


text_edits = st.lists(st.tuples(st.integers(0, 2000), st.sampled_from(TOKENS) | st.text(max_size=4)), max_size=4)
cuts = st.tuples(st.integers(0, 2000), st.integers(0, 40))


@pytest.fixture
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@pytest.fixture(autouse=True)
def _forget_fuzzed_secrets() -> Iterator[None]:
    """Values under secret-looking fuzzed keys are registered for masking; forget them after the test."""
    known = set(bench.redact._known)
    yield
    bench.redact._known.clear()
    bench.redact._known.update(known)


def write_data(folder: Path, jsonl: str | bytes | None = None, csv: str | bytes | None = None) -> None:
    default_jsonl = "".join(json.dumps(row) + "\n" for row in ROWS)
    default_csv = "id,text,label\n" + "".join(f"{r['id']},{r['text']},{r['label']}\n" for r in ROWS)
    for name, content in (("items.jsonl", jsonl or default_jsonl), ("items.csv", csv or default_csv)):
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))


def validate(folder: Path, suite_text: str | bytes, capsys: Capsys) -> None:
    """The property: exit 0 or 2, no traceback, error lines only on failure, within CASE_LIMIT_S."""
    path = folder / "suite.yaml"
    path.write_bytes(suite_text if isinstance(suite_text, bytes) else suite_text.encode("utf-8", "surrogatepass"))
    start = time.perf_counter()
    code = main(["validate", str(path)])
    elapsed = time.perf_counter() - start
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    assert elapsed < CASE_LIMIT_S
    assert "Traceback" not in captured.err + captured.out
    if code == 2:
        assert all(line.startswith("error: ") for line in captured.err.splitlines() if line.strip()), captured.err


@cases(400)
@given(data=st.data())
def test_suites_with_any_value_anywhere(data: st.DataObject, folder: Path, capsys: Capsys) -> None:
    write_data(folder)
    path = data.draw(st.sampled_from(VALID_PATHS))
    suite = mutate(valid_suite(), path, data.draw(st.sampled_from(["replace", "delete", "add"])), data.draw(values))
    validate(folder, yaml.safe_dump(suite, sort_keys=False, allow_unicode=True), capsys)


@cases(400)
@given(edits=text_edits, cut=cuts, raw=st.binary(max_size=3), at=st.integers(0, 2000))
def test_suite_texts_with_anything_spliced_in(edits: list[tuple[int, str]], cut: tuple[int, int], raw: bytes, at: int,
                                              folder: Path, capsys: Capsys) -> None:
    write_data(folder)
    text = splice(yaml.safe_dump(valid_suite(), sort_keys=False), edits, cut).encode("utf-8", "surrogatepass")
    validate(folder, text[:at] + raw + text[at:], capsys)


@cases(300)
@given(kind=st.sampled_from(["jsonl", "csv"]), edits=text_edits, cut=cuts, row=values, raw=st.binary(max_size=3),
       at=st.integers(0, 400))
def test_data_files_with_anything_in_them(kind: str, edits: list[tuple[int, str]], cut: tuple[int, int], row: Any,
                                          raw: bytes, at: int, folder: Path, capsys: Capsys) -> None:
    lines = [json.dumps(r) for r in ROWS] + [json.dumps(row, allow_nan=True)]
    text = splice("\n".join(lines) + "\n", edits, cut) if kind == "jsonl" else splice(
        "id,text,label\n" + "".join(f"{r['id']},{r['text']},{r['label']}\n" for r in ROWS), edits, cut)
    content = text.encode("utf-8", "surrogatepass")
    content = content[:at] + raw + content[at:]
    write_data(folder, **({"jsonl": content} if kind == "jsonl" else {"csv": content}))
    suite = valid_suite(f"items.{kind}", kind)
    validate(folder, yaml.safe_dump(suite, sort_keys=False), capsys)


# ------------------------------------------------------------------------------------------ run folders


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small complete run (fake backend) to mutate."""
    import bench.run.lifecycle
    from bench.metrics import stats
    from bench.run.lifecycle import RunRequest, start_run
    from bench.run.progress import SilentProgress
    from bench.suite.plan import PlanOptions

    folder = tmp_path_factory.mktemp("run")
    write_data(folder)
    (folder / "suite.yaml").write_text(yaml.safe_dump(valid_suite(), sort_keys=False))
    patch = pytest.MonkeyPatch()
    patch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0, "sgemm_gflops": 100.0})
    patch.setattr(stats, "BOOTSTRAP_RESAMPLES", 50)
    store = start_run(RunRequest(folder / "suite.yaml", PlanOptions(), folder / "out"), SilentProgress())
    yield store.path
    patch.undo()


def mutate_json_text(text: str, data: st.DataObject, document: bool) -> str:
    """Replace one value of one JSON line (or of the whole document) with any value, or splice text in."""
    lines = [text] if document else text.splitlines() or [""]
    index = data.draw(st.integers(0, len(lines) - 1))
    if data.draw(st.booleans()):
        lines[index] = splice(lines[index], data.draw(text_edits), data.draw(cuts))
    else:
        try:
            node = json.loads(lines[index])
        except ValueError:
            node = {}
        where = data.draw(st.sampled_from(list(paths(node))[1:] or [()])) if isinstance(node, dict) else ()
        node = mutate(node, where, data.draw(st.sampled_from(["replace", "delete", "add"])), data.draw(values)) \
            if where else data.draw(values)
        lines[index] = json.dumps(node, allow_nan=True)
    return "\n".join(lines) + "\n"


@cases(int(os.environ.get("BENCH_FUZZ_RUN_CASES", "150")))
@given(data=st.data(), name=st.sampled_from(["records.jsonl", "segments.jsonl", "manifest.json"]),
       command=st.sampled_from(["report", "resume"]))
def test_run_folders_with_anything_in_them(data: st.DataObject, name: str, command: str, finished_run: Path,
                                           folder: Path, capsys: Capsys) -> None:
    import shutil

    run = folder / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(finished_run, run)
    text = mutate_json_text((run / name).read_text(), data, name.endswith(".json"))
    (run / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    start = time.perf_counter()
    code = main(["report", str(run), "--format", "json"] if command == "report" else ["run", "--resume", str(run)])
    captured = capsys.readouterr()
    assert code in (0, 2), captured.err
    assert time.perf_counter() - start < REPORT_LIMIT_S
    assert "Traceback" not in captured.err
