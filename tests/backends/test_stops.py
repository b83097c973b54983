"""Stop strings cut the text at the earliest stop, the stop itself excluded."""

from __future__ import annotations

import pytest

from bench.backends.stops import cut_at_stops


@pytest.mark.parametrize(("text", "stops", "cut"), [
    ("Paris\nQuestion: what is 2+2?", ["\n", "###"], ("Paris", True)),
    ("Paris###\nmore", ["\n", "###"], ("Paris", True)),       # the earliest stop wins, whatever the list order
    ("Paris", ["\n", "###"], ("Paris", False)),
    ("\nParis", ["\n"], ("", True)),
    ("Paris", ["", "x"], ("Paris", False)),                 # an empty stop string stops nothing
    ("Paris", [], ("Paris", False))])
def test_cut_at_the_earliest_stop(text: str, stops: list[str], cut: tuple[str, bool]) -> None:
    assert cut_at_stops(text, stops) == cut
