"""The HTML report in a real headless Chromium: it renders, logs no console errors, and injected markup is inert.

Skipped when Chromium is not installed (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from report_runs import make_report_run, report_suite

from bench.report.html import render_html


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (/usr/bin/chromium or on PATH); "
                                                           "Debian: apt-get install chromium")

PAYLOAD = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
ITEMS = [("a1", "the invoice total is wrong", "billing"), ("a2", "app crashes on start", "technical"),
         ("a3", "where is my parcel", "shipping")]
TIMEOUT_S = 90
WINDOW = (1400, 3000)


@dataclass(frozen=True)
class Browse:
    stdout: str
    stderr: str

    @property
    def console(self) -> list[str]:
        """Page console lines (console.* calls and uncaught exceptions) from Chromium's stderr log."""
        return [line for line in self.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def chromium(profile: Path, *args: str) -> Browse:
    command = [str(CHROMIUM), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return Browse(done.stdout, done.stderr)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-model run with a choices task and a text task whose every answer is PAYLOAD, as report.html."""
    root = tmp_path_factory.mktemp("browser")
    run = make_report_run(root, report_suite(root, "unit", ["fake-a", "fake-b"], answer_text=PAYLOAD, items=ITEMS))
    path = root / "report.html"
    path.write_text(render_html([run]), encoding="utf-8")
    return path


def _title(dom: str) -> str:
    match = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert match, "no <title> in the DOM"
    return match.group(1)


def test_control_page_shows_the_checks_can_fail(tmp_path: Path) -> None:
    """A page that does run a script: its title changes in the dumped DOM and its error reaches the log."""
    page = tmp_path / "control.html"
    page.write_text("<!DOCTYPE html><html><head><title>control</title></head><body><p>x</p>"
                    "<script>document.title='pwned'; undefinedFunction();</script></body></html>")
    result = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert _title(result.stdout) == "pwned"
    assert any("Uncaught" in line for line in result.console)


def test_dom_has_the_plots_and_tables_and_the_payload_stayed_inert(report: Path, tmp_path: Path) -> None:
    source_title = _title(report.read_text(encoding="utf-8"))
    result = chromium(tmp_path / "profile", "--dump-dom", report.as_uri())
    dom = result.stdout
    assert _title(dom) == source_title and "pwned" not in _title(dom)
    assert re.search(r'<figure id="pareto-plot">.*?<img src="data:image/svg\+xml;base64,', dom, re.S)
    assert '<table id="cost-table-triage">' in dom and '<table id="cost-table-notes">' in dom
    assert '<section id="procurement">' in dom
    # the payload is text in the samples table, not elements
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    assert "<script" not in dom.lower()
    assert re.search(r"<img[^>]*onerror", dom) is None
    assert result.console == []


def test_screenshot_renders_without_console_errors(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = chromium(tmp_path / "profile", f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                      report.as_uri())
    assert not [line for line in result.console if "Uncaught" in line or "ERROR:CONSOLE" in line]
    assert result.console == []
    assert shot.exists() and shot.stat().st_size > 50_000
    _assert_not_blank(shot)


def _assert_not_blank(shot: Path) -> None:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow ships with matplotlib
        import matplotlib.image

        pixels = matplotlib.image.imread(shot)
        assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
        assert pixels.reshape(-1, pixels.shape[-1]).std(axis=0).max() > 0.05
        return
    with Image.open(shot) as image:
        assert image.size == WINDOW
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 100  # text, tables and plots, not one flat colour
        white = sum(count for count, colour in colours if colour == (255, 255, 255))
        assert white < 0.95 * WINDOW[0] * WINDOW[1]
