"""Pure helpers that bring extracted field values into a comparable canonical form.

Scorers call these on both the model's answer and the ground truth:

- ``normalize_date`` -> ``"YYYY-MM-DD"`` or None
- ``normalize_amount`` -> float or None
- ``normalize_currency`` -> ISO 4217 code or None
- ``normalize_text`` -> casefolded, whitespace-collapsed string
- ``normalize_label`` -> the one form labels are compared in (answer extraction, validation and scoring)
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from functools import partial

__all__ = ["normalize_amount", "normalize_currency", "normalize_date", "normalize_label", "normalize_text"]

# ---------------------------------------------------------------------------------------------- dates

_MONTH_NAMES: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar jänner janvier janv enero gennaio januari",
        "february feb februar février fevrier févr fevr febrero febbraio februari",
        "march mar märz maerz mär mars marzo maart",
        "april apr avril avr abril aprile",
        "may mai mayo maggio mei",
        "june jun juni juin junio giugno",
        "july jul juli juillet juil julio luglio",
        "august aug août aout agosto augustus",
        "september sep sept septembre septiembre settembre",
        "october oct oktober octobre okt octubre ottobre",
        "november nov novembre noviembre",
        "december dec dezember dez décembre decembre déc diciembre dicembre",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTH_NAMES[_name] = _number

_ISO_RE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_JA_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_NUMERIC_RE = re.compile(r"(?<![\d.,/-])(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?![\d/-])")
_DMY_TEXT_RE = re.compile(
    r"(?<!\d)(\d{1,2})(?:st|nd|rd|th|er|\.)?[\s\-/]*(?:of\s+|de\s+)?([^\W\d_]{3,})\.?[\s\-/,]*(?:de\s+)?(\d{4})(?!\d)"
)
_MDY_TEXT_RE = re.compile(r"\b([^\W\d_]{3,})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)")
_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _make_date(year: int, month: int, day: int) -> date | None:
    """A date, or None when the parts do not form a valid calendar day."""
    if year < 100:
        year += 2000 if year < 70 else 1900
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_iso(text: str) -> date | None:
    """Year-first dates: 2024-03-05, 2024/03/05, 2024.03.05, and ISO datetimes."""
    m = _ISO_RE.search(text)
    return _make_date(int(m[1]), int(m[2]), int(m[3])) if m else None


def _parse_japanese(text: str) -> date | None:
    """Japanese dates: 2024年3月5日."""
    m = _JA_RE.search(text)
    return _make_date(int(m[1]), int(m[2]), int(m[3])) if m else None


def _parse_numeric(text: str, dayfirst: bool | None = None) -> date | None:
    """Day-first or month-first as `dayfirst` says; when None, a.b.yyyy is day-first and a/b/yyyy and
    a-b-yyyy are month-first. Either way a reading that is not a calendar day gives way to the other one."""
    m = _NUMERIC_RE.search(text)
    if not m:
        return None
    a, sep, b, year = int(m[1]), m[2], int(m[3]), int(m[4])
    day_first = (sep == "." or a > 12) if dayfirst is None else dayfirst
    first = _make_date(year, b, a) if day_first else _make_date(year, a, b)
    return first or (_make_date(year, a, b) if day_first else _make_date(year, b, a))


def _parse_textual(text: str) -> date | None:
    """Dates with a month name: 5 March 2024, 5. März 2024, 05-Mar-2024, March 5th, 2024."""
    for m in _DMY_TEXT_RE.finditer(text):
        month = _MONTH_NAMES.get(m[2].casefold())
        if month:
            return _make_date(int(m[3]), month, int(m[1]))
    for m in _MDY_TEXT_RE.finditer(text):
        month = _MONTH_NAMES.get(m[1].casefold())
        if month:
            return _make_date(int(m[3]), month, int(m[2]))
    return None


def _parse_compact(text: str) -> date | None:
    """A bare 8-digit yyyymmdd string."""
    m = _COMPACT_RE.fullmatch(text)
    return _make_date(int(m[1]), int(m[2]), int(m[3])) if m else None


def normalize_date(value: object, dayfirst: bool | None = None) -> str | None:
    """Parse a date (string, date or datetime) into "YYYY-MM-DD"; None when unparseable.

    Year-first strings are read as ISO (a time or timezone suffix is ignored, no conversion);
    month names in English, German, French, Spanish, Italian and Dutch are understood.
    All-numeric a/b/yyyy, a-b-yyyy and a.b.yyyy (or yy) dates are read day-first when `dayfirst` is True
    (06/04/2018 -> 2018-04-06), month-first when False; when None (unknown locale), dotted dates are
    day-first and slashed or dashed ones month-first unless a > 12. The option is dateutil's `dayfirst`.
    """
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    parsers = (_parse_iso, _parse_japanese, _parse_textual, partial(_parse_numeric, dayfirst=dayfirst), _parse_compact)
    for parser in parsers:
        parsed = parser(text)
        if parsed is not None:
            return parsed.isoformat()
    return None


# -------------------------------------------------------------------------------------------- amounts

_NUMBER_CORE_RE = re.compile(r"[.,]?\d(?:[\d.,' ]*\d)?")
_CURRENCY_TOKEN = r"(?:[$€£¥₹円]|[A-Za-z]{1,3}\$|[A-Z]{3}|Rs\.?|Fr\.?)"
_NEG_PREFIX_RE = re.compile(rf"[-−–]\s*{_CURRENCY_TOKEN}?\s*$")
_NEG_SUFFIX_RE = re.compile(r"^\s*[-−]")
_PAREN_PREFIX_RE = re.compile(rf"\(\s*{_CURRENCY_TOKEN}?\s*$")
_PAREN_SUFFIX_RE = re.compile(rf"^\s*{_CURRENCY_TOKEN}?\s*\)")


def _decimal_separator(core: str) -> str | None:
    """The decimal mark of a number string, or None when it has none.

    With both "," and "." the last one is decimal; a repeated mark is a thousands separator;
    a lone "," followed by exactly three digits (and a non-zero integer part) is a thousands separator.
    """
    marks = [c for c in core if c in ".,"]
    if not marks:
        return None
    last = marks[-1]
    if marks.count(last) > 1:
        return None
    head, tail = core.rsplit(last, 1)
    if len(set(marks)) == 1 and last == "," and len(tail) == 3 and head.strip("0'") != "":
        return None
    return last


def _valid_groups(groups: list[str]) -> bool:
    """Thousands groups are 3 digits after a 1-3 digit head, or Indian style (2-digit groups, last 3)."""
    if not all(g.isdigit() for g in groups):
        return False
    if len(groups) == 1:
        return True
    head, rest = groups[0], groups[1:]
    if 1 <= len(head) <= 3 and all(len(g) == 3 for g in rest):
        return True
    return len(head) <= 2 and len(rest[-1]) == 3 and all(len(g) == 2 for g in rest[:-1])


def _parse_number(core: str) -> float | None:
    """Parse a number written with any thousands separators and a "." or "," decimal mark."""
    dec = _decimal_separator(core)
    int_part, frac = core.rsplit(dec, 1) if dec else (core, "")
    if frac and not frac.isdigit():
        return None
    if dec and int_part == "":
        int_part = "0"
    thousands = set(re.findall(r"[.,' ]", int_part))
    if len(thousands) > 1 or (dec is not None and dec in thousands):
        return None
    groups = re.split(r"[.,' ]", int_part)
    if not _valid_groups(groups):
        return None
    return float("".join(groups) + "." + (frac or "0"))


def _is_negative(prefix: str, suffix: str) -> bool:
    """A minus sign before (or right after) the number, or accounting parentheses around it."""
    if _NEG_PREFIX_RE.search(prefix) or _NEG_SUFFIX_RE.match(suffix):
        return True
    return bool(_PAREN_PREFIX_RE.search(prefix) and _PAREN_SUFFIX_RE.match(suffix))


def normalize_amount(value: object) -> float | None:
    """Parse a monetary amount ("$1,234.56", "1.234,56 €", "(12.50)", "1 234,56") into a float.

    Currency symbols, codes and surrounding words are ignored; a string holding more than one number,
    or none, gives None. "1,234" is 1234.0 but "12,5" is 12.5 and "1.234" is 1.234 (a lone "." is
    always decimal). Booleans, NaN and infinities give None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        as_float = float(value)
        return as_float if math.isfinite(as_float) else None
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).replace("’", "'").replace("\u2009", " ").strip()
    m = _NUMBER_CORE_RE.search(text)
    if m is None:
        return None
    prefix, suffix = text[: m.start()], text[m.end() :]
    if re.search(r"\d", prefix + suffix):
        return None
    number = _parse_number(re.sub(r"\s+", " ", m.group()))
    if number is None:
        return None
    return -number if _is_negative(prefix, suffix) else number


# ----------------------------------------------------------------------------------------- currencies

_CURRENCY_ALIASES: dict[str, str] = {
    "$": "USD", "us$": "USD", "u.s. dollars": "USD", "us dollar": "USD", "us dollars": "USD",
    "dollar": "USD", "dollars": "USD",
    "€": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "pound": "GBP", "pounds": "GBP", "pound sterling": "GBP", "pounds sterling": "GBP",
    "sterling": "GBP", "british pound": "GBP", "british pounds": "GBP",
    "¥": "JPY", "円": "JPY", "yen": "JPY", "japanese yen": "JPY",
    "fr.": "CHF", "sfr.": "CHF", "sfr": "CHF", "swiss franc": "CHF", "swiss francs": "CHF", "franken": "CHF",
    "c$": "CAD", "ca$": "CAD", "can$": "CAD", "canadian dollar": "CAD", "canadian dollars": "CAD",
    "a$": "AUD", "au$": "AUD", "australian dollar": "AUD", "australian dollars": "AUD",
    "₹": "INR", "rs.": "INR", "rs": "INR", "rupee": "INR", "rupees": "INR", "indian rupees": "INR",
    "nz$": "NZD", "hk$": "HKD", "s$": "SGD", "r$": "BRL", "₩": "KRW", "元": "CNY", "rmb": "CNY",
    "yuan": "CNY", "zł": "PLN",
}  # fmt: skip
_ISO_CODES = frozenset(
    ("USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "INR", "NZD", "HKD", "SGD", "CNY", "SEK", "NOK", "DKK",
     "PLN", "CZK", "HUF", "BRL", "MXN", "ZAR", "KRW", "TRY", "AED", "SAR", "ILS", "THB", "MYR", "IDR", "PHP",
     "TWD", "RUB")
)  # fmt: skip
_WEAK_ALIASES = frozenset({"$", "dollar", "dollars", "¥"})


def _alias_pattern(alias: str) -> str:
    """A regex for one alias; alphabetic aliases must not touch other letters."""
    escaped = re.escape(alias)
    return rf"(?<![^\W\d_]){escaped}(?![^\W\d_])" if alias[0].isalpha() else escaped


_ALL_ALIASES = {**_CURRENCY_ALIASES, **{code.casefold(): code for code in _ISO_CODES}}
_ALIAS_ORDER = sorted(_ALL_ALIASES, key=len, reverse=True)
_ALIAS_RE = re.compile("|".join(f"({_alias_pattern(a)})" for a in _ALIAS_ORDER))


def normalize_currency(value: object) -> str | None:
    """Map a currency symbol, name or code (any case, possibly with an amount) to its ISO 4217 code.

    "$" means USD and "¥" JPY unless a more specific marker (CAD, C$, CNY...) is present; conflicting
    markers ("USD or EUR") or none give None.
    """
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).casefold().strip()
    if text in _ALL_ALIASES:
        return _ALL_ALIASES[text]
    found = [_ALIAS_ORDER[m.lastindex - 1] for m in _ALIAS_RE.finditer(text) if m.lastindex]
    strong = {_ALL_ALIASES[a] for a in found if a not in _WEAK_ALIASES}
    codes = strong or {_ALL_ALIASES[a] for a in found}
    return codes.pop() if len(codes) == 1 else None


# ----------------------------------------------------------------------------------------------- text

_QUOTES = "\"'`“”‘’«»„"
_TRAILING_PUNCT = ".,;:!?。、"


def normalize_text(value: object) -> str:
    """Casefold, NFKC-normalize, collapse whitespace, drop surrounding quotes and markdown emphasis (`*`) and
    trailing punctuation, in any nesting: '"Shipping".', '**Shipping**' and 'Shipping.' are all "shipping"."""
    if value is None:
        return ""
    text, before = " ".join(unicodedata.normalize("NFKC", str(value)).casefold().split()), None
    while text != before:
        before, text = text, text.strip(_QUOTES + "* ").rstrip(_TRAILING_PUNCT + " ")
    return text


def normalize_label(value: object) -> str:
    """The form in which a label is compared everywhere: a model's answer against the choices, a dataset's
    expected value against the choices in `bench validate`, and prediction against reference in accuracy and
    macro-F1. It is normalize_text: "Shipping." and " shipping" are "shipping"."""
    return normalize_text(value)
