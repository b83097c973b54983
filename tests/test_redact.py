"""Issue 11, class 5: a key never leaves the environment. Unit tests of bench.redact, then whole runs against a
hostile 127.0.0.1 server (it answers 401 quoting the key, the URL and the body) and an unreachable port, with
the key put where users put it: every file of the run and everything printed is searched for the key."""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

import bench.run.lifecycle
from bench.cli.main import main
from bench.redact import REDACTED, is_env_name, looks_secret, mask, redact_config, register, register_config

CANARY = "sk-canary-7Qx93LmZ0pT4"
Capsys = pytest.CaptureFixture[str]


def test_secret_looking_names() -> None:
    assert all(looks_secret(n) for n in ["api_key", "apiKey", "x-api-key", "token", "access_token", "password",
                                         "Authorization", "client_secret", "auth", "key"])
    assert not any(looks_secret(n) for n in ["api_key_env", "max_tokens", "base_url", "model", "keys", "monkey"])


def test_env_names_and_keys() -> None:
    assert is_env_name("OPENAI_API_KEY") and is_env_name("BENCH_HOSTED_KEY")
    assert not is_env_name(CANARY) and not is_env_name("sk_live_4eC39HqLyjWDarjtT1zdp7dc")


def test_credentials_in_urls_are_redacted_in_any_text() -> None:
    assert mask("GET https://user:pw-123456@api.example.com/v1?x=1") == f"GET https://{REDACTED}@api.example.com/v1?x=1"
    assert mask("http://h/v1?key=abc&model=m&access_token=zzz") == f"http://h/v1?key={REDACTED}&model=m" \
        f"&access_token={REDACTED}"


def test_config_redaction_keeps_variable_names_and_plain_settings() -> None:
    config = {"base_url": "https://u:p4ssword@h/v1?api_key=k1", "api_key_env": "MY_KEY", "max_tokens": 5,
              "extra_body": {"auth": {"bearer": "abc"}, "temperature": 0.1}, "token": ""}
    assert redact_config(config) == {"base_url": f"https://{REDACTED}@h/v1?api_key={REDACTED}",
                                     "api_key_env": "MY_KEY", "max_tokens": 5,
                                     "extra_body": {"auth": REDACTED, "temperature": 0.1}, "token": ""}


def test_known_values_are_masked_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_TEST_SECRET_VAR", "from-the-environment-42")
    register_config([{"backend": {"api_key_env": "BENCH_TEST_SECRET_VAR", "extra_body": {"x_api_key": "inline-77"}}}])
    assert mask('{"error": "bad key from-the-environment-42 / inline-77"}') == \
        f'{{"error": "bad key {REDACTED} / {REDACTED}"}}'


def test_short_values_are_not_hunted_in_all_text() -> None:
    register("abc")
    assert mask("abcdef") == "abcdef"


# ------------------------------------------------------------------------------------------ whole runs


class Hostile(BaseHTTPRequestHandler):
    """Lists one model; answers every completion with 401 quoting the Authorization header, URL and body."""

    def log_message(self, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._send(200, {"data": [{"id": "m"}]})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        quoted = f"invalid credentials: {self.headers.get('Authorization')} {self._decoded_basic()} for " \
                 f"{self.path} ({urllib.parse.unquote(self.path)}) with {body} and {dict(self.headers)}"
        if self.path.startswith("/sse"):  # 200, then an error event in the stream quoting the same
            data = f"data: {json.dumps({'error': {'message': quoted}})}\n\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self._send(401, {"error": {"message": quoted}})

    def _decoded_basic(self) -> str:
        """What a careless server would print: the user:password of a Basic Authorization header, decoded."""
        value = self.headers.get("Authorization") or ""
        return base64.b64decode(value[6:]).decode(errors="replace") if value.startswith("Basic ") else ""

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine",
                        lambda: {"bandwidth_gb_s": 30.0, "sgemm_gflops": 100.0})
    monkeypatch.chdir(tmp_path)


def suite_with(tmp_path: Path, backend: dict[str, Any]) -> Path:
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"id": f"i{n}", "text": f"t{n}", "label": "x"}) + "\n" for n in range(3)))
    suite = {"name": "leak", "warmup": 0, "cost": {"usd_per_hour": 1.0},
             "models": [{"id": "local", "backend": {"kind": "fake", "text": "x"}},
                        {"id": "hosted", "backend": {"kind": "openai", "model": "m", "max_retries": 0, **backend}}],
             "tasks": [{"id": "t", "dataset": {"path": str(data), "fields": {"input": "text", "expected": "label"}},
                        "answer": {"mode": "text"}, "scorers": ["exact_match"]}]}
    path = tmp_path / "leak.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def everything_written(root: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*") if p.is_file())


def run_and_report(suite: Path, tmp_path: Path, capsys: Capsys) -> tuple[int, str]:
    """bench run (json and table), bench report (md to stdout, html); the exit code of the run and all output."""
    code = main(["run", str(suite), "--out", str(tmp_path / "out"), "--format", "json"])
    run_dir = next((tmp_path / "out").iterdir())
    assert main(["report", str(run_dir), "--format", "md"]) == 0
    assert main(["report", str(run_dir), "--format", "html"]) == 0
    assert main(["report", str(run_dir)]) == 0
    captured = capsys.readouterr()
    return code, captured.out + captured.err + everything_written(tmp_path / "out")


ENCODED = "".join(f"%{ord(c):02X}" for c in CANARY)
"""The canary percent-encoded character by character (a URL may carry a key so)."""
BASIC = base64.b64encode(f"user:{CANARY}".encode()).decode()
"""The Basic Authorization credential a client sends for http://user:CANARY@host."""


@pytest.mark.parametrize("where", ["query", "userinfo", "extra_body", "extra_body_nested", "auth_header_401",
                                   "x_api_key_in_extra_body", "percent_encoded", "sse_error_event"])
def test_the_key_is_nowhere_in_a_run_or_its_output(where: str, hostile: str, tmp_path: Path, capsys: Capsys,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The server quotes the Authorization header (and the user:password of a Basic one, decoded), the path
    (and its percent-decoded form), the body and every header."""
    monkeypatch.setenv("BENCH_CANARY_KEY", CANARY)
    backend = {"query": {"base_url": f"http://{hostile}/v1?key={CANARY}"},
               "userinfo": {"base_url": f"http://user:{CANARY}@{hostile}/v1"},
               "extra_body": {"base_url": f"http://{hostile}/v1", "extra_body": {"api_key": CANARY}},
               "extra_body_nested": {"base_url": f"http://{hostile}/v1", "extra_body": {"auth": {"value": CANARY}}},
               "auth_header_401": {"base_url": f"http://{hostile}/v1", "api_key_env": "BENCH_CANARY_KEY"},
               "x_api_key_in_extra_body": {"base_url": f"http://{hostile}/v1", "extra_body": {"X-Api-Key": CANARY}},
               "percent_encoded": {"base_url": f"http://user:{ENCODED}@{hostile}/v1?api_key={ENCODED}"},
               "sse_error_event": {"base_url": f"http://{hostile}/sse/v1", "api_key_env": "BENCH_CANARY_KEY"}}[where]
    code, written = run_and_report(suite_with(tmp_path, backend), tmp_path, capsys)
    assert code == 1  # every item of the hosted cell failed: a failure found
    assert "invalid credentials" in written  # the server's answer is kept, with the key masked
    assert REDACTED in written
    for secret in (CANARY, ENCODED, BASIC):
        assert secret not in written, secret


def test_the_key_is_nowhere_when_the_server_is_unreachable(tmp_path: Path, capsys: Capsys) -> None:
    backend = {"base_url": f"http://user:{CANARY}@127.0.0.1:9/v1?api_key={CANARY}", "timeout_s": 2}
    code, written = run_and_report(suite_with(tmp_path, backend), tmp_path, capsys)
    assert code in (0, 1)
    assert CANARY not in written


def test_api_key_env_holding_the_key_itself_is_refused_without_echoing_it(tmp_path: Path, capsys: Capsys) -> None:
    suite = suite_with(tmp_path, {"base_url": "http://127.0.0.1:9/v1", "api_key_env": CANARY})
    assert main(["run", str(suite), "--out", str(tmp_path / "out")]) == 2
    assert main(["validate", str(suite)]) == 2
    captured = capsys.readouterr()
    assert "api_key_env must be the NAME of an environment variable" in captured.err
    assert CANARY not in captured.out + captured.err
    assert not (tmp_path / "out").exists() or CANARY not in everything_written(tmp_path / "out")


def test_a_key_like_variable_name_is_refused_too(tmp_path: Path, capsys: Capsys) -> None:
    key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    assert main(["validate", str(suite_with(tmp_path, {"base_url": "http://h/v1", "api_key_env": key}))]) == 2
    assert key not in capsys.readouterr().err


def test_resume_uses_the_unredacted_original_while_it_is_unchanged(hostile: str, tmp_path: Path, capsys: Capsys,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite copy has the key redacted; resume reads the original (same sha256), so the cells still match."""
    from bench.backends.fake import FakeBackend

    suite = suite_with(tmp_path, {"base_url": f"http://{hostile}/v1?key={CANARY}"})
    original, calls = FakeBackend._answer, {"n": 0}

    def answer(self: FakeBackend, request: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt
        return original(self, request)

    with monkeypatch.context() as patch:
        patch.setattr(FakeBackend, "_answer", answer)
        assert main(["run", str(suite), "--out", str(tmp_path / "out"), "--executor", "local"]) == 130
    run_dir = next((tmp_path / "out").iterdir())
    assert CANARY not in (run_dir / "suite.yaml").read_text()
    assert main(["run", "--resume", str(run_dir)]) == 1  # resumed; the hosted cell's items all got 401
    assert CANARY not in capsys.readouterr().err + everything_written(run_dir)


def test_resume_without_the_original_says_to_restore_it(hostile: str, tmp_path: Path, capsys: Capsys,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.backends.fake import FakeBackend

    suite = suite_with(tmp_path, {"base_url": f"http://{hostile}/v1?key={CANARY}"})
    monkeypatch.setattr(FakeBackend, "_answer", lambda self, request: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["run", str(suite), "--out", str(tmp_path / "out"), "--executor", "local"]) == 130
    suite.unlink()
    assert main(["run", "--resume", str(next((tmp_path / "out").iterdir()))]) == 2
    err = capsys.readouterr().err
    assert "restore the original suite file to resume" in err and CANARY not in err


def test_the_masking_console_writes_past_richs_live_redirect(monkeypatch: pytest.MonkeyPatch) -> None:
    """A live progress display on a terminal redirects sys.stderr to the console itself; the console's masking
    stream must write to the stream behind that proxy, not back into it (an endless loop)."""
    import io
    import sys

    from rich.console import Console
    from rich.file_proxy import FileProxy

    from bench.redact import MaskingStream

    sink = io.StringIO()
    console = Console(file=MaskingStream(lambda: sys.stderr))  # type: ignore[arg-type]
    monkeypatch.setattr(sys, "stderr", FileProxy(console, sink))
    register("terminal-secret-99")
    console.print("hello terminal-secret-99")
    assert sink.getvalue().strip() == f"hello {REDACTED}"


def test_a_run_on_a_terminal_ends(tmp_path: Path) -> None:
    """bench run with its progress bars on a pseudo-terminal finishes (it looped when the live display
    redirected the masked stream into itself)."""
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    suite = suite_with(tmp_path, {"base_url": "http://127.0.0.1:9/v1"})
    suite.write_text(yaml.safe_dump({**yaml.safe_load(suite.read_text()), "models": [
        {"id": "local", "backend": {"kind": "fake", "text": "x", "delay_s": 0.05}}]}))
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--out", str(tmp_path / "out")],
                               stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    output, deadline = b"", time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if select.select([leader], [], [], 0.5)[0]:
                try:
                    output += os.read(leader, 1 << 16)
                except OSError:  # the terminal closed: the process ended
                    break
            elif process.poll() is not None:
                break
    finally:
        process.kill()
        os.close(leader)
    assert process.wait(timeout=10) == 0, output[-2000:]
    assert b"results:" in output


@pytest.mark.parametrize(("where", "backend", "dataset"), [
    ("headers", {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "headers": {"X-Api-Key": CANARY}}, None),
    ("vllm hf_token", {"kind": "vllm", "model": "m", "hf_token": CANARY}, None),
    ("vllm innocent name", {"kind": "vllm", "model": "m", "download_dir": CANARY}, None),
    ("llama_cpp model URL", {"kind": "llama_cpp", "model": f"https://user:{CANARY}@h/m.gguf"}, None),
    ("lm-eval token", {"kind": "fake"}, {"kind": "lm_eval", "task": "x", "token": CANARY})])
def test_a_key_in_a_field_bench_refuses_is_never_echoed(where: str, backend: dict[str, Any],
                                                        dataset: dict[str, Any] | None, tmp_path: Path,
                                                        capsys: Capsys) -> None:
    """Unknown keys (headers:, an engine's hf_token, an lm-eval dataset's token) and paths that hold credentials are
    refused (exit 2) naming the field; the value is not printed and no run folder holds it."""
    suite = yaml.safe_load(suite_with(tmp_path, {"base_url": "http://127.0.0.1:9/v1"}).read_text())
    suite["models"] = [{"id": "m", "backend": backend}]
    if dataset is not None:
        suite["tasks"][0]["dataset"] = dataset
    path = tmp_path / "leak.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["validate", str(path)]) == 2
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "error: " in captured.err and "Traceback" not in captured.err
    assert CANARY not in captured.out + captured.err
    assert not (tmp_path / "out").exists() or CANARY not in everything_written(tmp_path / "out")
