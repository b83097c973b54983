"""A real llama-cpp-python OpenAI-compatible server with a bundled model on 127.0.0.1, for tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, extra_args: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1:port with SmolLM2, once it answers."""
    from bench.backends.model_files import resolve_model

    model = str(resolve_model("bundled:smollm2-135m-instruct"))
    command = [sys.executable, "-m", "bench.backends.llama_server", "--model", model,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "2",
               "--interrupt_requests", "False",  # queue concurrent requests instead of cutting the running one
               *extra_args]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            pytest.fail("the llama-cpp-python server exited while starting")
    proc.kill()
    pytest.fail("llama-cpp-python server did not become ready in 90 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)
