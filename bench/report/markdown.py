"""Outside text (suites, data files, servers, the machine) placed inline in a Markdown report, shown as written."""

from __future__ import annotations

import re

MARKDOWN_SPECIALS = re.compile(r"([\\`*~\[\]|])")
LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def md_text(value: object) -> str:
    """Text from a suite, a data file or a server, as inline Markdown that shows as written: one line (a line break
    would start a heading or a list), and every character that opens a link, image, code span, emphasis or table
    cell backslash-escaped (CommonMark escapes any ASCII punctuation so); `_` is left as it is (snake_case names
    are everywhere, and an underscore inside a word emphasises nothing). <, > and & are left to escape_html."""
    return MARKDOWN_SPECIALS.sub(r"\\\1", LINE_BREAKS.sub(" ", str(value)))
