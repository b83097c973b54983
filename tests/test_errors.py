"""bench.errors: a problem is one line, whatever the key or value it quotes holds."""

from __future__ import annotations

import pytest

from bench.errors import Problem, SpecError


@pytest.mark.parametrize("brk", ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_a_problem_quoting_a_line_break_stays_one_line(brk: str) -> None:
    problem = Problem("suite.yaml", f"tasks[0].a{brk}b", f"unknown key{brk}(x)", f"did you mean 'ab'{brk}?")
    text = str(problem)
    assert len(text.splitlines()) == 1 and text.startswith("suite.yaml: tasks[0].a")
    assert len(str(SpecError([problem, problem])).splitlines()) == 2


def test_the_escape_shows_which_break_it_was() -> None:
    assert str(Problem("f", "a\nb", "m")) == "f: a\\nb: m"
    assert str(Problem("f", "", "x\u2028y")) == "f: x\\u2028y"
