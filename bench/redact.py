"""Keeping credentials out of everything bench writes or prints: the one redaction module.

Three rules:
1. In configuration (backend blocks, backend settings), a value under a key whose name looks secret
   (`api_key`, `token`, `password`, `Authorization`, ...) becomes `<redacted>`; so does a `*_env` value that is
   not an environment variable's name.
2. Credentials in URLs (`https://user:KEY@host`, `?key=KEY`, `&access_token=KEY`) become `<redacted>`; their
   percent-decoded forms and the Basic credential (base64 of user:KEY) are known secrets (rule 3).
3. Every value known to be secret is masked wherever it appears in text. Values become known when a suite is
   parsed (`register_config`): the values of rules 1 and 2, and the environment values that `*_env` keys name
   (an API key read by a backend), so a server's error body that quotes the key is masked too.

`mask` is applied to every file a run writes (manifest, records, cells, summary, reports, the suite copy,
see bench.results.store) and to the console (bench.cli.main). Known values are kept for the life of the process.
"""

from __future__ import annotations

import base64
import json
import os
import re
from typing import Any, TextIO
from urllib.parse import unquote, unquote_plus

REDACTED = "<redacted>"
SECRET_NAME = re.compile(
    r"(?:^|[_-])(?:api[_-]?key|apikey|key|secret|client[_-]?secret|password|passwd|pwd|token|access[_-]?token|"
    r"auth|authorization|credentials?|signature|sig|x[_-]api[_-]key)$", re.IGNORECASE)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/@\"'<>?#]+)@")
_QUERY_PARAM = re.compile(r"(?P<lead>[?&;](?P<name>[A-Za-z0-9_.-]+)=)(?P<value>[^&#\s\"'<>]+)")
MIN_KNOWN_LENGTH = 6
"""Shorter values are redacted where they stand (rules 1, 2) but not hunted for in all text."""

_known: set[str] = set()


def looks_secret(name: str) -> bool:
    """Whether a key's name says its value is a credential (`*_env` keys hold variable names, not secrets)."""
    return bool(SECRET_NAME.search(name)) and not name.lower().endswith("_env")


def is_env_name(value: str) -> bool:
    """Whether a string can be an environment variable's name (letters, digits, underscores) and does not look
    like a key itself (16+ characters mixing lower case and digits, as `sk_live_4eC39HqLyjWD...`)."""
    looks_like_key = len(value) >= 16 and any(c.isdigit() for c in value) and any(c.islower() for c in value)
    return bool(ENV_NAME.match(value)) and not looks_like_key


def register(value: str) -> None:
    """Mask `value` (and its JSON-escaped form) in all text from now on."""
    if len(value) < MIN_KNOWN_LENGTH or value == REDACTED:
        return
    _known.add(value)
    _known.add(json.dumps(value, ensure_ascii=False)[1:-1])
    _known.add(json.dumps(value)[1:-1])


def register_config(value: Any, key: str = "") -> None:
    """Remember every secret in a parsed suite (or any configuration): see the module's rule 3."""
    if isinstance(value, dict):  # under a secret-looking key, every string inside is a secret too
        for name, item in value.items():
            register_config(item, key if looks_secret(key) else str(name))
    elif isinstance(value, list):
        for item in value:
            register_config(item, key)
    elif isinstance(value, str):
        _register_string(value, key)


def _register_string(value: str, key: str) -> None:
    if looks_secret(key):
        register(value)
    if key.lower().endswith("_env"):
        if not is_env_name(value):
            register(value)  # the key itself given where a variable's name belongs
        elif os.environ.get(value):
            register(os.environ[value])
    for match in _URL_USERINFO.finditer(value):
        _register_userinfo(match.group("userinfo"))
    for match in _QUERY_PARAM.finditer(value):
        if looks_secret(match.group("name")):
            for form in {match.group("value"), unquote(match.group("value")), unquote_plus(match.group("value"))}:
                register(form)


def _register_userinfo(userinfo: str) -> None:
    """The user and password of a URL as written and percent-decoded, and the Basic Authorization credential an
    HTTP client makes of them (base64 of user:password, RFC 7617), which a server may quote back."""
    user, _, password = userinfo.partition(":")
    for part in (user, password):
        register(part)
        register(unquote(part))
    register(base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode())


def mask_known(text: str) -> str:
    """`text` with every known secret value replaced by <redacted> (longest first)."""
    if not _known or not text:
        return text
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def mask(text: str) -> str:
    """`text` with known secrets and credentials in URLs (user:password@, secret query parameters) redacted."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _QUERY_PARAM.sub(lambda m: f"{m.group('lead')}{REDACTED}" if looks_secret(m.group("name"))
                            else m.group(0), text)
    return mask_known(text)


def redact_config(value: Any, key: str = "") -> Any:
    """A copy of a configuration (dicts, lists, strings) with rules 1-3 applied; other values unchanged."""
    if looks_secret(key) and isinstance(value, (str, dict, list, tuple)) and value:
        return REDACTED
    if isinstance(value, dict):
        return {name: redact_config(item, str(name)) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_config(item, key) for item in value]
    if isinstance(value, str):
        return REDACTED if key.lower().endswith("_env") and not is_env_name(value) else mask(value)
    return value


class MaskingStream:
    """A text stream that masks secrets on the way to the stream `target()` returns (looked up at each write,
    so pytest's capture and redirections keep working)."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def _stream(self) -> TextIO:
        """The target, or the stream behind rich's FileProxy (a live progress display redirects sys.stdout and
        sys.stderr to the console itself; writing there again would loop)."""
        stream = self._target()
        while hasattr(stream, "rich_proxied_file"):
            stream = stream.rich_proxied_file
        return stream  # type: ignore[no-any-return]

    def write(self, text: str) -> int:
        """Write `text` with secrets masked; returns len(text) (the characters given, as TextIO does)."""
        self._stream().write(mask(text))
        return len(text)

    def flush(self) -> None:
        """Flush the target stream."""
        self._stream().flush()

    def isatty(self) -> bool:
        """Whether the target stream is a terminal."""
        return bool(self._stream().isatty())

    def fileno(self) -> int:
        """The target stream's file descriptor (OSError/UnsupportedOperation as the stream raises it)."""
        return int(self._stream().fileno())

    @property
    def encoding(self) -> str:
        """The target stream's encoding, "utf-8" when it has none."""
        return str(getattr(self._stream(), "encoding", "utf-8") or "utf-8")
