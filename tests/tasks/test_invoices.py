"""Tests for the invoice generator: determinism, ground truth, arithmetic parsed back from the text."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta

import pytest

from bench.tasks.generators.invoices import (
    CURRENCY_NAMES,
    DATE_STYLES,
    LAYOUTS,
    LOCALES,
    MONEY_PATTERNS,
    NUMBER_STYLES,
    SUMMARY_LABELS,
    VENDORS,
    build_invoice,
    decimals,
    format_date,
    format_money,
    generate_invoices,
    style_allowed,
)
from bench.tasks.items import Item
from bench.tasks.normalize import normalize_amount, normalize_currency, normalize_date

CURRENCIES = {"USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "INR"}
KEYS = {"vendor", "invoice_number", "date", "currency", "total", "tax"}
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s?%")
_LABELS = sorted(((k, lab) for k, labs in SUMMARY_LABELS.items() for lab in labs), key=lambda kl: -len(kl[1]))


@pytest.fixture(scope="module")
def items() -> list[Item]:
    return generate_invoices(200, 0)


def _fields(item: Item) -> dict[str, object]:
    assert isinstance(item.expected, dict)
    return item.expected


def _segments(text: str) -> list[str]:
    """Lines and ' | '-separated parts, whitespace collapsed (OCR may double spaces)."""
    return [" ".join(seg.split()) for line in text.splitlines() for seg in line.split(" | ")]


def _summary(text: str) -> dict[str, list[float]]:
    """Amounts of the summary block (first subtotal row to the first total row); unlabelled rows are taxes."""
    found: dict[str, list[float]] = {k: [] for k in ("subtotal", "discount", "shipping", "tax", "total")}
    inside = False
    for seg in _segments(text):
        kind, rest = next(
            ((k, seg[len(lab) :]) for k, lab in _LABELS if seg.casefold().startswith(lab.casefold())),
            (None, seg),
        )
        inside = inside or kind == "subtotal"
        amount = normalize_amount(_PERCENT.sub("", rest)) if inside else None
        if amount is not None:
            found[kind or "tax"].append(amount)
            if kind == "total":
                break
    return found


def test_deterministic_for_a_seed() -> None:
    assert generate_invoices(40, 3) == generate_invoices(40, 3)
    assert generate_invoices(10, 3) == generate_invoices(40, 3)[:10]


def test_different_seeds_differ() -> None:
    a, b = generate_invoices(20, 1), generate_invoices(20, 2)
    assert [x.input for x in a] != [x.input for x in b]
    assert len({x.input for x in a} & {x.input for x in b}) == 0


def test_does_not_touch_global_random() -> None:
    random.seed(123)
    before = random.random()
    random.seed(123)
    generate_invoices(5, 9)
    assert random.random() == before


def test_zero_items() -> None:
    assert generate_invoices(0, 5) == []


def test_ids_and_tags(items: list[Item]) -> None:
    assert [it.id for it in items] == [f"inv-0-{i:04d}" for i in range(200)]
    for it in items:
        assert set(it.tags) == {"layout", "currency"}
        assert it.tags["layout"] in LAYOUTS
        assert it.tags["currency"] == _fields(it)["currency"]


def test_expected_fields_and_types(items: list[Item]) -> None:
    for it in items:
        f = _fields(it)
        assert set(f) == KEYS
        assert isinstance(f["vendor"], str) and f["vendor"]
        assert isinstance(f["invoice_number"], str) and f["invoice_number"]
        assert isinstance(f["date"], str) and date.fromisoformat(f["date"]).isoformat() == f["date"]
        assert f["currency"] in CURRENCIES
        total, tax = f["total"], f["tax"]
        assert isinstance(total, float) and isinstance(tax, float)
        dec = decimals(str(f["currency"]))
        assert round(total, dec) == total and round(tax, dec) == tax
        assert 0 <= tax < total


def test_all_layouts_and_currencies_appear(items: list[Item]) -> None:
    assert {it.tags["layout"] for it in items} == set(LAYOUTS)
    assert {it.tags["currency"] for it in items} == CURRENCIES
    assert len({_fields(it)["vendor"] for it in items}) >= 20


def test_vendor_pool_is_varied() -> None:
    assert len({name for name, _, _ in VENDORS}) >= 25
    assert len({loc for _, loc, _ in VENDORS}) >= 10


def test_layouts_match_their_locales(items: list[Item]) -> None:
    for it in items:
        if it.tags["layout"] == "japanese":
            assert it.tags["currency"] == "JPY" and "請求書" in it.input
        if it.tags["layout"] == "european":
            assert it.tags["currency"] in ("EUR", "CHF")


def test_vendor_and_number_are_printed(items: list[Item]) -> None:
    for it in items:
        f = _fields(it)
        assert str(f["vendor"]) in it.input
        assert str(f["invoice_number"]) in it.input


def test_issue_date_is_printed_and_parses_back(items: list[Item]) -> None:
    for it in items:
        d = date.fromisoformat(str(_fields(it)["date"]))
        printed = [
            format_date(d, s) for s in DATE_STYLES if style_allowed(s, d) and format_date(d, s) in it.input
        ]
        assert printed, it.input
        assert all(normalize_date(p) == d.isoformat() for p in printed)


def test_total_and_currency_are_recoverable(items: list[Item]) -> None:
    for it in items:
        f = _fields(it)
        cur = str(f["currency"])
        minor = round(float(str(f["total"])) * 10 ** decimals(cur))
        shown = {(p, format_money(minor, cur, s, p)) for s in NUMBER_STYLES for p in MONEY_PATTERNS[cur]}
        shown = {(p, m) for p, m in shown if m in it.input}
        assert shown, it.input
        marked = any(p != "{n}" and normalize_currency(m) == cur for p, m in shown)
        names = "|".join(re.escape(n) for n in (*CURRENCY_NAMES[cur], cur))
        named = re.search(rf"(?::\s*|\bin\s+)(?:{names})\b", " ".join(it.input.split())) is not None
        assert marked or named, it.input


def test_arithmetic_parsed_from_text_is_consistent(items: list[Item]) -> None:
    for it in items:
        f = _fields(it)
        s = _summary(it.input)
        assert len(s["subtotal"]) == 1 and len(s["total"]) == 1, it.input
        assert len(s["tax"]) in (1, 2), it.input
        recomputed = (
            s["subtotal"][0] - sum(abs(x) for x in s["discount"]) + sum(s["shipping"]) + sum(s["tax"])
        )
        assert recomputed == pytest.approx(s["total"][0], abs=1e-6), it.input
        assert s["total"][0] == pytest.approx(f["total"], abs=1e-9)
        assert sum(s["tax"]) == pytest.approx(f["tax"], abs=1e-6)


def test_line_items_sum_to_subtotal() -> None:
    rng = random.Random(11)
    for layout in LAYOUTS * 30:
        inv = build_invoice(layout, rng)
        assert 1 <= len(inv.lines) <= 6
        assert all(line.qty > 0 and line.unit > 0 for line in inv.lines)
        assert inv.subtotal == sum(line.qty * line.unit for line in inv.lines)
        assert inv.total == inv.subtotal - inv.discount + inv.shipping + inv.tax
        assert inv.due > inv.issued


def test_exempt_invoices_have_zero_tax() -> None:
    taxes = [_fields(it)["tax"] for it in generate_invoices(400, 4)]
    assert 0.0 in taxes
    assert sum(1 for t in taxes if t == 0.0) < len(taxes) / 4


def test_some_invoices_have_discount_and_shipping(items: list[Item]) -> None:
    parsed = [_summary(it.input) for it in items]
    assert any(p["discount"] for p in parsed)
    assert any(p["shipping"] for p in parsed)
    assert any(len(p["tax"]) == 2 for p in parsed)


def test_ocr_noise_only_in_distractors(items: list[Item]) -> None:
    texts = "\n".join(it.input for it in items)
    assert re.search(r"PO-\d*l\d*\b|C-\d*[lO]\d*\b", texts)
    for it in items:
        f = _fields(it)
        assert "l" not in str(f["invoice_number"]).replace("INV", "")


def test_every_date_style_round_trips() -> None:
    d = date(2022, 1, 1)
    while d < date(2027, 1, 1):
        for style in DATE_STYLES:
            if style_allowed(style, d):
                assert normalize_date(format_date(d, style)) == d.isoformat(), (style, d)
        d += timedelta(days=1)


def test_day_first_slash_styles_only_for_unambiguous_days() -> None:
    assert not style_allowed("dmy_slash", date(2024, 3, 5))
    assert style_allowed("dmy_slash", date(2024, 3, 13))
    assert style_allowed("us_slash", date(2024, 3, 5))


def test_every_money_format_round_trips() -> None:
    rng = random.Random(5)
    for loc in LOCALES.values():
        cur = loc.currency
        for style in loc.number_styles:
            for pattern in MONEY_PATTERNS[cur]:
                for minor in [rng.randint(1, 10**9) for _ in range(30)] + [5, 100, 123456]:
                    text = format_money(minor, cur, style, pattern)
                    assert normalize_amount(text) == pytest.approx(minor / 10 ** decimals(cur)), text
                    assert normalize_amount(format_money(-minor, cur, style, pattern)) == pytest.approx(
                        -minor / 10 ** decimals(cur)
                    )
                    if pattern != "{n}":
                        assert normalize_currency(text) == cur, text
