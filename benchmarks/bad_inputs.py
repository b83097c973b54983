"""How fast bad files are refused (issue 11: exit 2 and one clear line "within a second or two").

Each example of the issue is written to a temporary folder and checked with `bench validate`, twice: as a user
runs it (a fresh `python -m bench.cli.main` process, so interpreter start-up and imports count) and in process
(main() only). Reports exit code, seconds (best of --repeats) and the first error line.

    python benchmarks/bad_inputs.py                 # writes benchmarks/results/bad_inputs.json
    python benchmarks/bad_inputs.py --repeats 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.cli.main import main
from bench.machine.detect import detect_machine

LABELS = ["billing", "technical", "shipping"]


def valid(folder: Path) -> dict[str, Any]:
    rows = [{"id": f"i{n}", "text": f"text {n}", "label": LABELS[n % 3]} for n in range(6)]
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"name": "bad", "warmup": 0, "models": [{"id": "fake-a", "backend": {"kind": "fake"}}],
            "tasks": [{"id": "t", "dataset": {"path": "items.jsonl", "fields": {"input": "text", "expected": "label"}},
                       "answer": {"mode": "choices", "choices": LABELS}, "scorers": ["accuracy"]}]}


def bomb(indent: str = "") -> str:
    lines = [f'{indent}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{indent}{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi",
                                                                                        strict=True)]
    return "\n".join(lines) + "\n"


def with_suite(change: Callable[[dict[str, Any], Path], Any]) -> Callable[[Path], bytes]:
    def build(folder: Path) -> bytes:
        suite = valid(folder)
        result = change(suite, folder)
        return result if isinstance(result, bytes) else yaml.safe_dump(suite).encode()
    return build


def jsonl_line(line: str) -> Callable[[dict[str, Any], Path], None]:
    def change(suite: dict[str, Any], folder: Path) -> None:
        with (folder / "items.jsonl").open("a") as handle:
            handle.write(line + "\n")
    return change


def set_at(keys: list[Any], value: Any) -> Callable[[dict[str, Any], Path], None]:
    def change(suite: dict[str, Any], folder: Path) -> None:
        node: Any = suite
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def lm_eval(include_path: str) -> Callable[[dict[str, Any], Path], None]:
    return set_at(["tasks", 0, "dataset"], {"kind": "lm_eval", "task": "t", "include_path": include_path})


EXAMPLES: dict[str, Callable[[Path], bytes]] = {
    "yaml nested 600 levels": lambda f: b"name: x\ndescription: " + b"[" * 600 + b"]" * 600 + b"\n",
    "jsonl line nested 600 levels": with_suite(jsonl_line('{"id": "d", "text": "t", "label": "billing", "x": '
                                                          + "[" * 600 + "]" * 600 + "}")),
    "suite not utf-8": lambda f: b"name: caf\xe9\n",
    "NUL in yaml": lambda f: b"name: a\x00b\n",
    "control character in yaml": lambda f: b"name: a\x07b\n",
    "list as mapping key": lambda f: b"name: x\n? [a, b]\n: 1\n",
    "5000-digit integer": with_suite(lambda s, f: yaml.safe_dump(s).replace("warmup: 0", "warmup: " + "9" * 5000)
                                     .encode()),
    "[/] in a path in an error": with_suite(set_at(["tasks", 0, "dataset", "path"], "missing[/]x.jsonl")),
    "scorers as a string beside another error": with_suite(lambda s, f: (set_at(["tasks", 0, "scorers"], "accuracy")
                                                                         (s, f), s.update(warmup=-1))[-1]),
    "path over 255 bytes": with_suite(set_at(["tasks", 0, "dataset", "path"], "d" * 300 + ".jsonl")),
    "NUL in include_path": with_suite(lambda s, f: (lm_eval("x")(s, f), yaml.safe_dump(s).replace(
        "include_path: x", 'include_path: "a\\0b"').encode())[-1]),
    "700-byte alias bomb": lambda f: ("name: x\n" + bomb()).encode(),
    "alias bomb in json_output": with_suite(lambda s, f: (yaml.safe_dump({k: v for k, v in s.items() if k != "models"})
                                                          + "models:\n- id: b\n  backend:\n    kind: fake\n"
                                                          "    json_output:\n" + bomb("      ")).encode()),
    "include_path: /": with_suite(lm_eval("/")),
    "generator n: 100000": with_suite(set_at(["tasks", 0, "dataset"], {"kind": "generator", "name": "invoices",
                                                                          "n": 100_000})),
}


def in_process(path: Path) -> tuple[int, float, str]:
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    return code, time.perf_counter() - start, err.getvalue()


def as_user(path: Path) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.cli.main", "validate", str(path)], capture_output=True,
                          text=True,
                          env=env, timeout=120)
    return done.returncode, time.perf_counter() - start, done.stderr


def measure(name: str, build: Callable[[Path], bytes], repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "suite.yaml"
        path.write_bytes(build(folder))
        runs = [(as_user(path), in_process(path)) for _ in range(repeats)]
    (code, _, err), (code_in, _, _) = runs[0]
    errors = [line for line in err.splitlines() if line.strip()]
    return {"example": name, "exit_code": code, "exit_code_in_process": code_in, "traceback": "Traceback" in err,
            "error_lines": len(errors), "first_line": errors[0][:200] if errors else "",
            "process_s": round(min(r[0][1] for r in runs), 3), "in_process_s": round(min(r[1][1] for r in runs), 4)}


def main_cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bad_inputs.json")
    args = parser.parse_args()
    rows = [measure(name, build, args.repeats) for name, build in EXAMPLES.items()]
    for row in rows:
        print(f"{row['example']:42} exit {row['exit_code']}  {row['process_s']:6.2f} s as a process  "
              f"{row['in_process_s']:7.4f} s in process  {row['first_line'][:70]}")
    result = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "repeats": args.repeats,
              "machine": detect_machine().get("cpu_model"), "examples": rows,
              "max_process_s": max(r["process_s"] for r in rows),
              "max_in_process_s": max(r["in_process_s"] for r in rows)}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main_cli()
