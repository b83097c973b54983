"""A suite is inert data: importing bench.suite and validating every shipped suite imports no engine, no heavy
library, no backend adapter, and changes neither the environment nor the working directory (issue #12)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITES = sorted((REPO / "suites").glob("*.yaml"))
HEAVY = ("llama_cpp", "vllm", "lm_eval", "torch", "ray", "httpx", "numpy", "psutil", "pandas", "pyarrow", "duckdb",
         "datasets", "transformers")
ADAPTERS = ("llama_cpp", "llama_batch", "llama_load", "llama_sampling", "llama_server", "openai_http",
            "openai_stream", "openai_usage", "http_retry", "vllm_offline", "hf_export", "fake")

PROBE = """
import json, os, sys
env, cwd = dict(os.environ), os.getcwd()
from bench.suite import load_suite
for path in json.loads(sys.argv[1]):
    load_suite(path)
print(json.dumps({"modules": sorted(sys.modules), "env_same": dict(os.environ) == env,
                  "env_added": sorted(set(os.environ) - set(env)), "cwd_same": os.getcwd() == cwd}))
"""


def test_validating_every_shipped_suite_imports_no_engine_and_changes_no_process_state() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps([str(p) for p in SUITES])], capture_output=True,
                          text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    modules = set(seen["modules"])
    heavy = sorted(name for name in modules if name.split(".")[0] in HEAVY)
    assert not heavy, f"heavy modules imported while loading suites: {heavy[:20]}"
    adapters = sorted(f"bench.backends.{name}" for name in ADAPTERS)
    assert not modules & set(adapters), sorted(modules & set(adapters))
    assert seen["env_same"], f"environment changed: {seen['env_added']}"
    assert seen["cwd_same"]


def test_the_probe_sees_an_engine_import() -> None:
    """The check above could fail: the same probe notices a backend adapter imported on purpose."""
    code = PROBE.replace("from bench.suite import load_suite", "from bench.suite import load_suite\n"
                         "import bench.backends.openai_http")
    done = subprocess.run([sys.executable, "-c", code, "[]"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "bench.backends.openai_http" in json.loads(done.stdout)["modules"]
