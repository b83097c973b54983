"""Tests for bench.tasks.normalize."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from bench.tasks.normalize import (
    normalize_amount,
    normalize_currency,
    normalize_date,
    normalize_label,
    normalize_text,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05", "2024-03-05"),
        ("2024/03/05", "2024-03-05"),
        ("2024-03-05T23:10:00Z", "2024-03-05"),
        ("2024-03-05 08:00:00+02:00", "2024-03-05"),
        ("05.03.2024", "2024-03-05"),  # dotted: day-first
        ("5.3.2024", "2024-03-05"),
        ("03/05/2024", "2024-03-05"),  # slashed: month-first...
        ("13/03/2024", "2024-03-13"),  # ...unless the first part is > 12
        ("03-15-2024", "2024-03-15"),
        ("03/05/24", "2024-03-05"),
        ("March 5, 2024", "2024-03-05"),
        ("Mar 5, 2024", "2024-03-05"),
        ("Mar 5th, 2024", "2024-03-05"),
        ("Tuesday, March 5, 2024", "2024-03-05"),
        ("5 March 2024", "2024-03-05"),
        ("5 Mar 2024", "2024-03-05"),
        ("5th March 2024", "2024-03-05"),
        ("05-Mar-2024", "2024-03-05"),
        ("5. März 2024", "2024-03-05"),
        ("1 août 2024", "2024-08-01"),
        ("5 de marzo de 2024", "2024-03-05"),
        ("Sept 3, 2023", "2023-09-03"),
        ("2024年3月5日", "2024-03-05"),
        ("２０２４年３月５日", "2024-03-05"),  # full-width digits
        ("Invoice date: 17.12.2025", "2025-12-17"),
        ("20240305", "2024-03-05"),
        (date(2024, 3, 5), "2024-03-05"),
        (datetime(2024, 3, 5, 23, 59), "2024-03-05"),
    ],
)
def test_normalize_date_parses(value: object, expected: str) -> None:
    assert normalize_date(value) == expected


@pytest.mark.parametrize(("value", "dayfirst", "expected"), [
    ("06/04/2018", True, "2018-04-06"), ("06/04/2018", False, "2018-06-04"), ("06/04/2018", None, "2018-06-04"),
    ("06-04-2018", True, "2018-04-06"), ("06.04.2018", True, "2018-04-06"), ("06.04.2018", False, "2018-06-04"),
    ("6/4/18", True, "2018-04-06"), ("25/12/2019", True, "2019-12-25"),
    ("12/25/2019", True, "2019-12-25"),  # not a calendar day day-first: the other reading
    ("2018-04-06", True, "2018-04-06"), ("6 April 2018", True, "2018-04-06"), ("April 6, 2018", False, "2018-04-06"),
    ("2018年4月6日", True, "2018-04-06"),
])
def test_normalize_date_dayfirst(value: str, dayfirst: bool | None, expected: str) -> None:
    """#16 class 4: numeric dates in a day-first locale; year-first and named-month dates are unaffected."""
    assert normalize_date(value, dayfirst=dayfirst) == expected


@pytest.mark.parametrize(
    "value", ["", "garbage", "02/30/2024", "31.02.2024", "2024-13-01", "Foo 5, 2024", None, 20240305, 3.5]
)
def test_normalize_date_rejects(value: object) -> None:
    assert normalize_date(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.234,56", 1234.56),
        ("1,234.56", 1234.56),
        ("1,234", 1234.0),
        ("12,5", 12.5),
        ("12,50 €", 12.5),
        ("0,125", 0.125),
        ("1.234", 1.234),  # a lone dot is always decimal
        ("1 234,56", 1234.56),
        ("1\u00a0234,56\u00a0€", 1234.56),
        ("1\u202f234,56 €", 1234.56),
        ("$1,234.56", 1234.56),
        ("1234.56 EUR", 1234.56),
        ("¥12,340", 12340.0),
        ("12,340円", 12340.0),
        ("CHF 1'234.50", 1234.5),
        ("Fr. 1’234.50", 1234.5),
        ("₹1,23,456.78", 123456.78),
        ("Rs. 1,234.00", 1234.0),
        ("1.234.567,89", 1234567.89),
        ("3,000,000", 3000000.0),
        ("-$5", -5.0),
        ("$-5.00", -5.0),
        ("-12,00 €", -12.0),
        ("−12.00", -12.0),
        ("(12.50)", -12.5),
        ("€ (1.234,56)", -1234.56),
        ("12.50-", -12.5),
        ("Sous-total : 1 234,56 €", 1234.56),
        ("Total: USD 99.90", 99.9),
        (".5", 0.5),
        (42, 42.0),
        (19.99, 19.99),
        (Decimal("7.25"), 7.25),
    ],
)
def test_normalize_amount_parses(value: object, expected: float) -> None:
    assert normalize_amount(value) == pytest.approx(expected)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "N/A",
        "12 34",
        "1,2,3",
        "1,234.567.89",
        "Total 2 items 30.00",
        "1e5",
        None,
        True,
        float("nan"),
        float("inf"),
        [12],
    ],
)
def test_normalize_amount_rejects(value: object) -> None:
    assert normalize_amount(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$", "USD"),
        ("usd", "USD"),
        ("US$", "USD"),
        ("dollars", "USD"),
        ("US dollars", "USD"),
        ("$12.00", "USD"),
        ("€", "EUR"),
        ("eur", "EUR"),
        ("Euro", "EUR"),
        ("euros", "EUR"),
        ("1.234,56 €", "EUR"),
        ("£", "GBP"),
        ("pounds", "GBP"),
        ("Pounds sterling", "GBP"),
        ("¥", "JPY"),
        ("￥", "JPY"),
        ("円", "JPY"),
        ("12,340円", "JPY"),
        ("yen", "JPY"),
        ("jpy", "JPY"),
        ("CHF", "CHF"),
        ("Fr.", "CHF"),
        ("Fr. 1'234.50", "CHF"),
        ("Swiss francs (CHF)", "CHF"),
        ("C$", "CAD"),
        ("CA$12", "CAD"),
        ("$1,234.56 CAD", "CAD"),
        ("Canadian dollars", "CAD"),
        ("A$", "AUD"),
        ("$5 AUD", "AUD"),
        ("aud", "AUD"),
        ("₹", "INR"),
        ("Rs. 100", "INR"),
        ("Indian rupees", "INR"),
        ("inr", "INR"),
        ("  Sek ", "SEK"),
    ],
)
def test_normalize_currency_maps(value: str, expected: str) -> None:
    assert normalize_currency(value) == expected


@pytest.mark.parametrize("value", ["", "xyz", "ABC", "money", "USD or EUR", "€ / £", None, 12])
def test_normalize_currency_rejects(value: object) -> None:
    assert normalize_currency(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Northwind   Traders LLC. ", "northwind traders llc"),
        ('"Müller Maschinenbau GmbH"', "müller maschinenbau gmbh"),
        ("Tanaka Shoji Co., Ltd.", "tanaka shoji co., ltd"),
        ("INV-2024-00123\n", "inv-2024-00123"),
        ("ＡＢＣ　株式会社", "abc 株式会社"),
        (None, ""),
        (12345, "12345"),
    ],
)
def test_normalize_text(value: object, expected: str) -> None:
    assert normalize_text(value) == expected


def test_normalize_text_makes_variants_equal() -> None:
    assert normalize_text("ACME  Corp.") == normalize_text("acme corp")


@pytest.mark.parametrize(("value", "expected"), [
    ("Shipping.", "shipping"), ("Ham", "ham"), ("spam ", "spam"), ("'Billing'", "billing"),
    ("TECHNICAL  PROBLEM!", "technical problem"),
])
def test_normalize_label_is_the_scorers_text_normalization(value: str, expected: str) -> None:
    assert normalize_label(value) == expected == normalize_text(value)
