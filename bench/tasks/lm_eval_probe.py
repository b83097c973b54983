"""Resolving an lm-eval task in a child process, so validating a suite never imports lm-eval (nor `datasets`,
torch...), sets HF_*_OFFLINE or changes the working directory in bench's own process.

Parent side: `probe_task(spec, base_dir)` runs `python -m bench.tasks.lm_eval_probe REQUEST_JSON` and reads one
JSON line from its stdout: `{"output_type": "multiple_choice"}`, `{"problems": [[file, location, message, hint],
...]}` (the SpecError the task raised) or `{"error": "..."}` (lm-eval missing). One child per task and base
folder per process, run again when a file under include_path changes. Child side: `main()` loads the task with
bench.tasks.lm_eval_source.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.errors import Problem
from bench.suite.spec import LmEvalDataset

PROBE_TIMEOUT_S = 600.0
"""lm-eval indexes every task YAML it ships (tens of seconds on a slow machine) before loading one."""


@dataclass(frozen=True)
class TaskProbe:
    """What validation needs to know of an lm-eval task: its output type, or why it cannot be used."""

    output_type: str | None = None
    problems: tuple[Problem, ...] = ()
    """The task's own problems (no such task, a broken YAML, corpus-level metrics...), naming lm-eval's files."""
    error: str | None = None
    """lm-eval cannot run at all (not installed, the child crashed or timed out)."""


def probe_task(spec: LmEvalDataset, base_dir: Path) -> TaskProbe:
    """Load the lm-eval task `spec` names (include_path relative to base_dir) in a child process and report
    its output type or its problems. Never raises for a bad task. Cached in this process per spec, folder and
    the state (name, size, mtime) of the files under include_path, so an edited task YAML is read again."""
    base_dir = base_dir.resolve()
    return _probe(spec, base_dir, _folder_state(spec, base_dir))


def _folder_state(spec: LmEvalDataset, base_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime_ns) of every file under include_path (validation has bounded its size); () without."""
    if spec.include_path is None:
        return ()
    folder = Path(spec.include_path).expanduser()
    state = []
    for root, _dirs, files in os.walk(folder if folder.is_absolute() else base_dir / folder):
        for name in files:
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:
                continue
            state.append((os.path.join(root, name), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(state))


@functools.lru_cache(maxsize=64)
def _probe(spec: LmEvalDataset, base_dir: Path, folder_state: tuple[tuple[str, int, int], ...]) -> TaskProbe:
    request = json.dumps({"spec": spec.model_dump(), "base_dir": str(base_dir)})
    try:
        done = subprocess.run([sys.executable, "-m", "bench.tasks.lm_eval_probe", request], capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S, env=_child_env(), check=False)
    except subprocess.TimeoutExpired:
        return TaskProbe(error=f"lm-eval did not load task '{spec.task}' within {PROBE_TIMEOUT_S:g} s")
    except OSError as exc:
        return TaskProbe(error=f"cannot start the lm-eval task probe: {exc}")
    return _answer(done)


def _child_env() -> dict[str, str]:
    """This process's environment with this bench first on the path, so the child imports the same code."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, path]) if path else root}


def _answer(done: subprocess.CompletedProcess[str]) -> TaskProbe:
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if done.returncode != 0 or not isinstance(answer, dict):
        tail = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return TaskProbe(error=f"the lm-eval task probe failed: {tail[:300]}")
    problems = tuple(Problem(*map(str, p)) for p in answer.get("problems", []))
    return TaskProbe(output_type=answer.get("output_type"), problems=problems, error=answer.get("error"))


def resolve(spec: LmEvalDataset, base_dir: Path) -> dict[str, object]:
    """The child's answer for one task (see the module docstring); imports lm-eval and may set HF_*_OFFLINE
    and chdir while loading: call it only in a process of its own."""
    from bench.errors import BackendError, SpecError
    from bench.tasks.lm_eval_scorer import check_mean_aggregation
    from bench.tasks.lm_eval_source import load_task, output_type

    try:
        task = load_task(spec, base_dir)
        check_mean_aggregation(task)
    except SpecError as exc:
        return {"problems": [[p.file, p.location, p.message, p.hint] for p in exc.problems]}
    except BackendError as exc:
        return {"error": str(exc)}
    return {"output_type": output_type(task)}


def main(argv: list[str]) -> int:
    """Child entry point: argv[0] is {"spec": LmEvalDataset fields, "base_dir": folder}; one JSON line out."""
    import contextlib

    request = json.loads(argv[0])
    spec = LmEvalDataset.model_validate(request["spec"])
    with contextlib.redirect_stdout(sys.stderr):  # whatever lm-eval prints stays off the answer line
        answer = resolve(spec, Path(request["base_dir"]))
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
