"""Stop strings applied to generated text, the same way for every backend."""

from __future__ import annotations

from collections.abc import Sequence


def cut_at_stops(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """(the text before the earliest stop string, whether one was found). The stop itself is not kept, as in
    OpenAI's API and llama.cpp; a server that ignored `stop` is cut here to the same answer."""
    found = [at for at in (text.find(stop) for stop in stops if stop) if at >= 0]
    return (text[: min(found)], True) if found else (text, False)
