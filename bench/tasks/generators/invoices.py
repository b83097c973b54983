"""Seeded generator of realistic invoice texts (as seen after OCR / e-mail extraction) with ground truth.

Every invoice is first built as exact integer minor units (``Invoice``), then rendered in one of
``LAYOUTS``. Expected fields: vendor, invoice_number, date (ISO), currency (ISO 4217), total and tax
(floats rounded to the currency's minor unit). total = subtotal - discount + shipping + taxes exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from bench.tasks.items import Item

LAYOUTS = ("classic", "email", "receipt", "key_value", "european", "japanese")
DECIMALS = {"JPY": 0}
CURRENCY_NAMES = {
    "USD": ("US dollars", "USD"),
    "EUR": ("euros", "Euro"),
    "GBP": ("pounds sterling", "GBP"),
    "CHF": ("Swiss francs", "CHF"),
    "JPY": ("Japanese yen", "JPY"),
    "CAD": ("Canadian dollars", "CAD"),
    "AUD": ("Australian dollars", "AUD"),
    "INR": ("Indian rupees", "INR"),
}
MONEY_PATTERNS = {
    "USD": ("${n}", "US${n}", "USD {n}", "{n} USD", "{n}"),
    "EUR": ("€{n}", "€ {n}", "{n} €", "EUR {n}", "{n} EUR", "{n}"),
    "GBP": ("£{n}", "GBP {n}", "{n} GBP", "{n}"),
    "CHF": ("CHF {n}", "Fr. {n}", "{n} CHF", "{n}"),
    "JPY": ("¥{n}", "￥{n}", "{n}円", "JPY {n}", "{n}"),
    "CAD": ("C${n}", "CA${n}", "${n} CAD", "CAD {n}", "{n}"),
    "AUD": ("A${n}", "AU${n}", "${n} AUD", "AUD {n}", "{n}"),
    "INR": ("₹{n}", "Rs. {n}", "INR {n}", "{n}"),
}
NUMBER_STYLES = {  # name -> (thousands separator, decimal mark)
    "comma_dot": (",", "."),
    "dot_comma": (".", ","),
    "space_comma": (" ", ","),
    "apos_dot": ("'", "."),
    "plain_dot": ("", "."),
    "plain_comma": ("", ","),
    "indian": (",", "."),
}
DATE_STYLES = (
    "iso",
    "iso_slash",
    "us_slash",
    "us_long",
    "us_short",
    "us_weekday",
    "dmy_slash",
    "dmy_dash",
    "dmy_long",
    "dmy_short",
    "dmy_dash_mon",
    "ordinal",
    "dotted",
    "de_long",
    "fr_long",
    "ja",
)
_DAY_FIRST_AMBIGUOUS = ("dmy_slash", "dmy_dash")
_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Locale:
    """Country conventions: currency, number and date formats, tax regimes and distractor templates.

    Templates: '#' is a random digit and '@' a random capital letter. ``iban`` is "CC|BBAN template".
    """

    currency: str
    lang: str
    number_styles: tuple[str, ...]
    date_styles: tuple[str, ...]
    taxes: tuple[tuple[tuple[str, str], ...], ...]
    phone: str
    tax_id: str
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    iban: str = ""
    bank: str = ""


def _t(*lines: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """One tax regime: (label template with {r}, rate in percent) per tax line."""
    return lines


LOCALES: dict[str, Locale] = {
    "US": Locale(
        "USD",
        "en",
        ("comma_dot", "plain_dot"),
        ("iso", "us_slash", "us_long", "us_short", "us_weekday"),
        (
            _t(("Sales Tax {r}%", "7.25")),
            _t(("Sales Tax ({r}%)", "8.875")),
            _t(("State Tax {r}%", "6"), ("County Tax {r}%", "1.5")),
            _t(("Sales Tax (exempt)", "0")),
        ),
        "+1 (###) 555-0###",
        "EIN ##-#######",
        ("### Market Street, Suite ##", "#### Commerce Drive"),
        ("San Francisco, CA 94105", "Austin, TX 78701", "Columbus, OH 43215"),
        bank="ACH routing 0######## / Account ##########",
    ),
    "UK": Locale(
        "GBP",
        "en",
        ("comma_dot",),
        ("iso", "dmy_slash", "dmy_long", "dmy_short", "dmy_dash_mon", "ordinal"),
        (_t(("VAT {r}%", "20")), _t(("VAT {r}%", "5")), _t(("VAT 0% (reverse charge)", "0"))),
        "+44 20 7### ####",
        "VAT Reg. No. GB### #### ##",
        ("## High Street", "Unit # Riverside Park"),
        ("Reading RG1 #@@", "London EC1A #@@", "Leeds LS1 #@@"),
        iban="GB|NWBK##############",
    ),
    "DE": Locale(
        "EUR",
        "de",
        ("dot_comma", "plain_comma", "plain_dot"),
        ("dotted", "de_long", "iso"),
        (_t(("MwSt. {r} %", "19")), _t(("MwSt. {r} %", "7")), _t(("USt. {r} %", "19"))),
        "+49 711 ######",
        "USt-IdNr.: DE#########",
        ("Industriestraße ##", "Hauptstraße ###"),
        ("70565 Stuttgart", "80331 München", "20095 Hamburg"),
        iban="DE|##################",
    ),
    "FR": Locale(
        "EUR",
        "fr",
        ("space_comma", "dot_comma"),
        ("dmy_slash", "fr_long", "iso"),
        (
            _t(("TVA {r} %", "20")),
            _t(("TVA {r} %", "10")),
            _t(("TVA {r} %", "5.5")),
            _t(("TVA 0 % (autoliquidation)", "0")),
        ),
        "+33 1 ## ## ## ##",
        "N° TVA : FR## #########",
        ("## rue de la République", "### avenue Jean Jaurès"),
        ("69002 Lyon", "13001 Marseille", "75011 Paris"),
        iban="FR|#######################",
    ),
    "NL": Locale(
        "EUR",
        "en",
        ("dot_comma", "plain_dot"),
        ("dmy_dash", "iso"),
        (_t(("BTW {r}%", "21")), _t(("BTW {r}%", "9"))),
        "+31 20 ### ####",
        "BTW-nr: NL#########B01",
        ("Keizersgracht ###", "Stationsweg ##"),
        ("1015 CJ Amsterdam", "3511 AX Utrecht"),
        iban="NL|ABNA##########",
    ),
    "IT": Locale(
        "EUR",
        "en",
        ("dot_comma",),
        ("dmy_slash", "dotted", "iso"),
        (_t(("IVA {r}%", "22")), _t(("IVA {r}%", "10"))),
        "+39 02 ########",
        "P.IVA IT###########",
        ("Via Roma ##", "Corso Buenos Aires ###"),
        ("20124 Milano", "10121 Torino"),
        iban="IT|@######################",
    ),
    "ES": Locale(
        "EUR",
        "en",
        ("dot_comma",),
        ("dmy_slash", "iso"),
        (_t(("IVA {r}%", "21")), _t(("IVA {r}%", "10"))),
        "+34 91 ### ## ##",
        "NIF: B########",
        ("Calle Mayor ##", "Avenida de América ###"),
        ("28013 Madrid", "08002 Barcelona"),
        iban="ES|####################",
    ),
    "IE": Locale(
        "EUR",
        "en",
        ("comma_dot",),
        ("dmy_slash", "dmy_long", "dmy_short", "iso"),
        (_t(("VAT {r}%", "23")), _t(("VAT {r}%", "13.5"))),
        "+353 1 ### ####",
        "VAT No. IE#######@",
        ("## Grand Canal Street", "Block # Sandyford Business Park"),
        ("Dublin 2", "Dublin 18"),
        iban="IE|AIBK##############",
    ),
    "CH": Locale(
        "CHF",
        "de",
        ("apos_dot", "comma_dot"),
        ("dotted", "de_long", "iso"),
        (_t(("MWST {r}%", "8.1")), _t(("MWST {r}%", "2.6")), _t(("MWST 0% (steuerbefreit)", "0"))),
        "+41 44 ### ## ##",
        "UID: CHE-###.###.### MWST",
        ("Bahnhofstrasse ##", "Seestrasse ###"),
        ("8001 Zürich", "3011 Bern"),
        iban="CH|#################",
    ),
    "JP": Locale(
        "JPY",
        "en",
        ("comma_dot",),
        ("ja", "iso_slash", "iso"),
        (_t(("Consumption Tax ({r}%)", "10")), _t(("Consumption Tax ({r}%)", "8"))),
        "03-####-####",
        "Registration No. T#############",
        ("1-#-# Marunouchi, Chiyoda-ku", "2-#-# Umeda"),
        ("Tokyo 100-0005", "Osaka 530-0001"),
        bank="Mizuho Bank, Shibuya Branch, Ordinary #######",
    ),
    "CA": Locale(
        "CAD",
        "en",
        ("comma_dot",),
        ("iso", "us_long", "us_short", "dmy_long"),
        (
            _t(("GST {r}%", "5")),
            _t(("GST {r}%", "5"), ("PST {r}%", "7")),
            _t(("HST {r}%", "13")),
            _t(("GST {r}%", "5"), ("QST {r}%", "9.975")),
        ),
        "+1 (416) 555-0###",
        "GST/HST No. #########RT0001",
        ("### King Street West", "## Rue Sherbrooke"),
        ("Toronto, ON M5H #@#", "Montréal, QC H3A #@#"),
        bank="Transit ##### / Institution 00# / Account #######",
    ),
    "AU": Locale(
        "AUD",
        "en",
        ("comma_dot",),
        ("dmy_slash", "dmy_long", "dmy_short", "iso"),
        (_t(("GST {r}%", "10")), _t(("GST-free", "0"))),
        "+61 2 #### ####",
        "ABN ## ### ### ###",
        ("## George Street", "Level #, ### Collins Street"),
        ("Sydney NSW 2000", "Melbourne VIC 3000"),
        bank="BSB ###-### / Account ########",
    ),
    "IN": Locale(
        "INR",
        "en",
        ("indian", "comma_dot"),
        ("dmy_slash", "dmy_dash_mon", "dmy_long", "iso"),
        (
            _t(("CGST {r}%", "9"), ("SGST {r}%", "9")),
            _t(("IGST {r}%", "18")),
            _t(("CGST {r}%", "2.5"), ("SGST {r}%", "2.5")),
        ),
        "+91 80 #### ####",
        "GSTIN: 29@@@@@####@1Z#",
        ("No. ##, 4th Cross, Indiranagar", "###, MG Road"),
        ("Bengaluru 560038", "Mumbai 400001"),
        bank="A/C No. ############ / IFSC HDFC0######",
    ),
}

VENDORS: tuple[tuple[str, str, str], ...] = (  # (name as printed, locale, catalog)
    ("Northwind Traders LLC", "US", "office"),
    ("Bluegate Software Inc.", "US", "software"),
    ("Pinecrest Plumbing & Heating", "US", "trades"),
    ("Summit Legal Partners LLP", "US", "legal"),
    ("Harborline Freight Co.", "US", "logistics"),
    ("Thames Valley Catering Ltd", "UK", "catering"),
    ("Oakridge Consulting Ltd", "UK", "consulting"),
    ("Brightwell Print & Design Ltd", "UK", "printing"),
    ("Müller Maschinenbau GmbH", "DE", "machinery"),
    ("Schneider Bürobedarf GmbH", "DE", "office"),
    ("Becker & Sohn KG", "DE", "trades"),
    ("Atelier Dubois SARL", "FR", "printing"),
    ("Nettoyage Provence SAS", "FR", "cleaning"),
    ("Boulangerie Lefèvre", "FR", "catering"),
    ("Van der Berg Installatietechniek B.V.", "NL", "trades"),
    ("Rossi Forniture S.r.l.", "IT", "office"),
    ("Distribuciones García S.L.", "ES", "logistics"),
    ("Liffey Cloud Services Ltd", "IE", "software"),
    ("Alpenblick Treuhand AG", "CH", "consulting"),
    ("Zürcher Feinmechanik GmbH", "CH", "machinery"),
    ("株式会社サクラ精機", "JP", "machinery"),
    ("ミドリ物流株式会社", "JP", "logistics"),
    ("Tanaka Shoji Co., Ltd.", "JP", "office"),
    ("Maple Leaf Outfitters Inc.", "CA", "retail"),
    ("Laurentian Engineering Ltd.", "CA", "consulting"),
    ("Southern Cross Solar Pty Ltd", "AU", "trades"),
    ("Koala Cloud Pty Ltd", "AU", "software"),
    ("Sharma Textiles Pvt. Ltd.", "IN", "textiles"),
    ("Bangalore Byte Labs Pvt Ltd", "IN", "software"),
    ("Redwood Catering Co.", "US", "catering"),
)

CATALOGS: dict[str, tuple[tuple[str, int, int], ...]] = {  # description, price range in USD-like units
    "office": (
        ("Copy paper A4, 5 reams", 20, 45),
        ("Ballpoint pens (box of 50)", 8, 20),
        ("Ergonomic office chair", 150, 420),
        ("Toner cartridge TN-2420", 45, 110),
        ("Desk organizer", 10, 30),
    ),
    "software": (
        ("Annual SaaS subscription - Pro plan", 300, 2400),
        ("User licence (seat)", 15, 60),
        ("Implementation services (hours)", 90, 180),
        ("Premium support, monthly", 50, 400),
    ),
    "trades": (
        ("Labour (hours)", 45, 120),
        ("Copper pipe 15mm, 3m", 12, 30),
        ("Call-out fee", 40, 95),
        ("Boiler service", 80, 220),
        ("Solar panel 410W", 180, 320),
        ("Fittings and sundries", 5, 40),
    ),
    "legal": (
        ("Legal consultation (hours)", 180, 450),
        ("Contract review", 400, 1500),
        ("Filing fees", 50, 300),
    ),
    "logistics": (
        ("Pallet freight, zone 2", 60, 240),
        ("Express parcel", 12, 45),
        ("Warehousing, per pallet/month", 15, 40),
        ("Fuel surcharge", 10, 60),
        ("Customs clearance", 40, 150),
    ),
    "catering": (
        ("Lunch buffet (per person)", 12, 35),
        ("Coffee & pastries (per person)", 4, 12),
        ("Sourdough loaf", 3, 8),
        ("Event staff (hours)", 20, 45),
        ("Delivery & setup", 25, 80),
    ),
    "consulting": (
        ("Consulting services (days)", 600, 1600),
        ("Workshop facilitation", 800, 3000),
        ("Travel expenses (flat)", 50, 400),
        ("Tax advisory (hours)", 120, 300),
    ),
    "printing": (
        ("Business cards, 500 pcs", 30, 90),
        ("Flyers A5, 1000 pcs", 60, 180),
        ("Logo design", 300, 1200),
        ("Roll-up banner 85x200", 70, 160),
    ),
    "machinery": (
        ("CNC milling, part no. 4471", 80, 600),
        ("Spindle bearing set", 120, 480),
        ("Maintenance visit", 200, 700),
        ("Hydraulic hose DN12", 15, 60),
    ),
    "cleaning": (
        ("Office cleaning (monthly)", 300, 1200),
        ("Window cleaning", 80, 300),
        ("Carpet shampoo (m²)", 2, 6),
    ),
    "retail": (
        ("Hiking backpack 45L", 90, 220),
        ("Merino base layer", 40, 95),
        ("Trail running shoes", 80, 180),
        ("Insulated water bottle", 15, 40),
    ),
    "textiles": (
        ("Cotton fabric, 100 m roll", 120, 400),
        ("Silk saree", 60, 300),
        ("Embroidery thread (box)", 5, 20),
    ),
}
CUSTOMERS = (
    "Contoso Ltd",
    "Fabrikam GmbH",
    "Globex Corporation",
    "Initech LLC",
    "Umbrella Retail SA",
    "Acme Hospitality Group",
    "Stark Medical Supplies",
    "Hooli Europe B.V.",
    "Soylent Foods Inc.",
    "Vandelay Industries",
)
_JA_CUSTOMERS = ("株式会社ヤマト商事", "東和システム株式会社", "有限会社こだま企画")
_CONTACTS = ("Jane", "Tom", "Priya", "Lukas", "Marie", "Kenji", "Sofia", "Ahmed", "Chloe", "Daniel")
_FX = {"JPY": 150, "INR": 80}

LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "title": ("INVOICE", "Invoice", "TAX INVOICE"),
        "number": ("Invoice No.", "Invoice #", "Invoice Number"),
        "date": ("Invoice Date", "Date", "Date of issue"),
        "due": ("Due Date", "Payment due"),
        "po": ("PO Number", "Purchase Order", "Your ref."),
        "customer_id": ("Customer ID", "Account No.", "Client #"),
        "bill_to": ("Bill To:", "Billed to:", "Customer:"),
        "delivery": ("Delivery date",),
        "desc": ("Description",),
        "qty": ("Qty",),
        "unit": ("Unit Price",),
        "amount": ("Amount",),
        "page": ("Page 1/1", "Page 1 of 1", "1/1"),
        "subtotal": ("Subtotal", "Sub-total", "SUBTOTAL", "Net amount"),
        "discount": ("Discount", "Less discount"),
        "shipping": ("Shipping", "Shipping & Handling", "Freight"),
        "total": ("Total", "TOTAL", "Total due", "Amount due", "Grand total", "Total amount"),
        "currency": ("Currency", "All amounts in"),
        "thanks": ("Thank you for your business!",),
    },
    "de": {
        "title": ("Rechnung", "RECHNUNG"),
        "number": ("Rechnungsnummer", "Rechnungs-Nr."),
        "date": ("Rechnungsdatum", "Datum"),
        "due": ("Zahlbar bis", "Fällig am"),
        "po": ("Ihre Bestellung", "Bestell-Nr."),
        "customer_id": ("Kundennummer", "Kunden-Nr."),
        "delivery": ("Lieferdatum", "Leistungsdatum"),
        "desc": ("Bezeichnung",),
        "qty": ("Menge",),
        "unit": ("Einzelpreis",),
        "amount": ("Gesamt",),
        "page": ("Seite 1/1", "Seite 1 von 1"),
        "subtotal": ("Zwischensumme", "Nettobetrag", "Summe netto"),
        "discount": ("Rabatt",),
        "shipping": ("Versandkosten", "Fracht"),
        "total": ("Gesamtbetrag", "Rechnungsbetrag", "Summe brutto"),
        "currency": ("Währung",),
    },
    "fr": {
        "title": ("Facture", "FACTURE"),
        "number": ("Facture N°", "N° de facture"),
        "date": ("Date de facture", "Date d'émission"),
        "due": ("Date d'échéance", "À régler avant le"),
        "po": ("Bon de commande", "Votre réf."),
        "customer_id": ("N° client", "Code client"),
        "delivery": ("Date de livraison",),
        "desc": ("Désignation",),
        "qty": ("Qté",),
        "unit": ("Prix unitaire",),
        "amount": ("Montant",),
        "page": ("Page 1/1",),
        "subtotal": ("Total HT", "Sous-total HT"),
        "discount": ("Remise",),
        "shipping": ("Frais de port",),
        "total": ("Total TTC", "Net à payer"),
        "currency": ("Devise",),
    },
    "ja": {
        "subtotal": ("小計",),
        "discount": ("値引き",),
        "shipping": ("送料",),
        "total": ("合計", "合計金額"),
    },
}
SUMMARY_LABELS: dict[str, tuple[str, ...]] = {
    kind: tuple(label for lang in LABELS.values() for label in lang[kind])
    for kind in ("subtotal", "discount", "shipping", "total")
}


@dataclass(frozen=True)
class Line:
    """One line item; prices are integer minor units."""

    description: str
    qty: int
    unit: int

    @property
    def amount(self) -> int:
        """Line total in minor units."""
        return self.qty * self.unit


@dataclass(frozen=True)
class Invoice:
    """An invoice's facts in exact integer minor units (no presentation)."""

    vendor: str
    locale: str
    currency: str
    number: str
    issued: date
    due: date
    customer: str
    lines: tuple[Line, ...]
    discount: int
    discount_pct: int | None
    shipping: int
    taxes: tuple[tuple[str, str, int], ...]  # (label template, rate, amount)

    @property
    def subtotal(self) -> int:
        """Sum of line amounts."""
        return sum(line.amount for line in self.lines)

    @property
    def tax(self) -> int:
        """Sum of tax lines."""
        return sum(amount for _, _, amount in self.taxes)

    @property
    def total(self) -> int:
        """Grand total: subtotal - discount + shipping + tax."""
        return self.subtotal - self.discount + self.shipping + self.tax


# ------------------------------------------------------------------------------------ formatting


def _fill(template: str, rng: random.Random) -> str:
    """Replace '#' with random digits and '@' with random capital letters."""
    out = []
    for i, c in enumerate(template):
        if c == "#":
            run_start = i == 0 or template[i - 1] != "#"
            c = str(rng.randint(1, 9) if run_start else rng.randrange(10))
        out.append(chr(65 + rng.randrange(26)) if c == "@" else c)
    return "".join(out)


def decimals(currency: str) -> int:
    """Number of minor-unit digits of a currency."""
    return DECIMALS.get(currency, 2)


def _group(digits: str, sep: str, indian: bool) -> str:
    """Insert thousands separators (Indian lakh grouping when asked)."""
    if not sep or len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    size = 2 if indian else 3
    groups: list[str] = []
    while head:
        groups.insert(0, head[-size:])
        head = head[:-size]
    return sep.join([*groups, tail])


def format_number(minor: int, dec: int, style: str) -> str:
    """Format minor units as a number in one of NUMBER_STYLES."""
    sep, mark = NUMBER_STYLES[style]
    units, frac = divmod(abs(minor), 10**dec)
    text = _group(str(units), sep, style == "indian") + (f"{mark}{frac:0{dec}d}" if dec else "")
    return "-" + text if minor < 0 else text


def format_money(minor: int, currency: str, style: str, pattern: str) -> str:
    """Format minor units with a number style and a MONEY_PATTERNS pattern; negatives get a leading '-'."""
    text = pattern.format(n=format_number(abs(minor), decimals(currency), style))
    return "-" + text if minor < 0 else text


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_date(d: date, style: str) -> str:
    """Print a date in one of DATE_STYLES."""
    en, de, fr = (_MONTHS[lang].split()[d.month - 1] for lang in ("en", "de", "fr"))
    y, m, dd = d.year, d.month, d.day
    styles = {
        "iso": f"{y}-{m:02d}-{dd:02d}",
        "iso_slash": f"{y}/{m:02d}/{dd:02d}",
        "us_slash": f"{m:02d}/{dd:02d}/{y}",
        "us_long": f"{en} {dd}, {y}",
        "us_short": f"{en[:3]} {dd}, {y}",
        "us_weekday": f"{_WEEKDAYS[d.weekday()]}, {en} {dd}, {y}",
        "dmy_slash": f"{dd:02d}/{m:02d}/{y}",
        "dmy_dash": f"{dd:02d}-{m:02d}-{y}",
        "dmy_long": f"{dd} {en} {y}",
        "dmy_short": f"{dd} {en[:3]} {y}",
        "dmy_dash_mon": f"{dd:02d}-{en[:3]}-{y}",
        "ordinal": f"{_ordinal(dd)} {en} {y}",
        "dotted": f"{dd:02d}.{m:02d}.{y}",
        "de_long": f"{dd}. {de} {y}",
        "fr_long": f"{dd} {fr} {y}",
        "ja": f"{y}年{m}月{dd}日",
    }
    return styles[style]


def style_allowed(style: str, d: date) -> bool:
    """Day-first numeric styles (dd/mm/yyyy) are only used when the day is > 12, so they are unambiguous."""
    return style not in _DAY_FIRST_AMBIGUOUS or d.day > 12


def _rate(rate: str, lang: str) -> str:
    """A tax rate as printed: decimal comma in German and French."""
    return rate.replace(".", ",") if lang in ("de", "fr") else rate


def _iban(spec: str, rng: random.Random) -> str:
    """A syntactically valid (mod-97) IBAN from "CC|BBAN template", grouped by four."""
    country, template = spec.split("|")
    bban = _fill(template, rng)
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    raw = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _ocr_id(text: str, rng: random.Random) -> str:
    """OCR noise for distractor identifiers: sometimes one '1' is read as 'l' (or '0' as 'O')."""
    if rng.random() < 0.3:
        for a, b in (("1", "l"), ("0", "O")):
            if a in text:
                i = rng.choice([k for k, c in enumerate(text) if c == a])
                return text[:i] + b + text[i + 1 :]
    return text


# -------------------------------------------------------------------------------------- building


def _invoice_number(loc_code: str, issued: date, rng: random.Random) -> str:
    """An invoice number in a style typical of the vendor's country."""
    y, yy = issued.year, issued.year % 100
    common = [
        f"INV-{y}-{rng.randint(1, 99999):05d}",
        f"{rng.randint(1000, 99999)}",
        f"INV{rng.randint(1, 999999):06d}",
        f"A-{rng.randint(1, 999999):06d}",
        f"INV/{yy}/{rng.randint(1, 9999):04d}",
    ]
    local = {
        "DE": [f"RE-{y}-{rng.randint(1, 9999):04d}", f"{y}{rng.randint(1, 99999):05d}"],
        "CH": [f"R{rng.randint(1, 999999):06d}"],
        "FR": [f"F{y}-{rng.randint(1, 9999):04d}", f"FA{rng.randint(1, 999999):06d}"],
        "JP": [f"{y}{issued.month:02d}{issued.day:02d}-{rng.randint(1, 99):02d}"],
        "IN": [f"GST/{yy}-{yy + 1}/{rng.randint(1, 999):03d}"],
    }.get(loc_code, [])
    return rng.choice(common + local * 2)


def _price(lo: int, hi: int, currency: str, rng: random.Random) -> int:
    """A unit price in minor units, rounded to a plausible step."""
    scale = _FX.get(currency, 1) * 10 ** decimals(currency)
    minor = rng.randint(lo * scale, hi * scale)
    step = 10 if currency == "JPY" else rng.choice((1, 5, 100))
    return max(step, minor - minor % step)


def _lines(catalog: str, currency: str, rng: random.Random) -> tuple[Line, ...]:
    """1-6 line items drawn from a vendor's catalog."""
    products = rng.sample(CATALOGS[catalog], k=min(len(CATALOGS[catalog]), rng.randint(1, 6)))
    qtys = (1, 1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 12, 20, 25)
    return tuple(Line(desc, rng.choice(qtys), _price(lo, hi, currency, rng)) for desc, lo, hi in products)


def _discount(subtotal: int, rng: random.Random) -> tuple[int, int | None]:
    """An optional discount: (amount, percent or None)."""
    roll = rng.random()
    if roll < 0.15:
        pct = rng.choice((5, 10, 15))
        return _round(Decimal(subtotal) * pct / 100), pct
    if roll < 0.22:
        return subtotal * rng.randint(2, 20) // 100, None
    return 0, None


def _round(value: Decimal) -> int:
    """Round half-up to whole minor units."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def build_invoice(layout: str, rng: random.Random) -> Invoice:
    """Draw one invoice's facts for a layout: locale, vendor, dates, lines, discount, shipping, taxes."""
    loc_code = "JP" if layout == "japanese" else rng.choice(_locales_for(layout))
    loc = LOCALES[loc_code]
    vendor, _, catalog = rng.choice([v for v in VENDORS if v[1] == loc_code])
    issued = date(2022, 1, 1) + timedelta(days=rng.randrange(4 * 365))
    lines = _lines(catalog, loc.currency, rng)
    subtotal = sum(line.amount for line in lines)
    discount, pct = _discount(subtotal, rng)
    shipping = 0 if layout == "receipt" or rng.random() > 0.3 else _price(5, 60, loc.currency, rng)
    base = Decimal(subtotal - discount + shipping)
    taxes = tuple((label, rate, _round(base * Decimal(rate) / 100)) for label, rate in rng.choice(loc.taxes))
    customers = _JA_CUSTOMERS if layout == "japanese" else CUSTOMERS
    return Invoice(
        vendor,
        loc_code,
        loc.currency,
        _invoice_number(loc_code, issued, rng),
        issued,
        issued + timedelta(days=rng.choice((7, 14, 30, 45, 60))),
        rng.choice(customers),
        lines,
        discount,
        pct,
        shipping,
        taxes,
    )


def _locales_for(layout: str) -> list[str]:
    """Locales a layout can be used with (European layout: EUR/CHF countries)."""
    if layout == "european":
        return [code for code, loc in LOCALES.items() if loc.currency in ("EUR", "CHF")]
    return list(LOCALES)


# -------------------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _Ctx:
    """An invoice plus its presentation choices."""

    inv: Invoice
    loc: Locale
    lang: str
    number_style: str
    pattern: str
    date_style: str

    def money(self, minor: int) -> str:
        """Format an amount the way this document does."""
        return format_money(minor, self.inv.currency, self.number_style, self.pattern)

    def date(self, d: date) -> str:
        """Format a date the way this document does."""
        return format_date(d, self.date_style)


def _context(inv: Invoice, layout: str, rng: random.Random) -> _Ctx:
    """Pick label language, number style, money pattern and date style for an invoice."""
    loc = LOCALES[inv.locale]
    lang = {"european": loc.lang, "japanese": "ja"}.get(layout, "en")
    styles = ("ja", "iso_slash") if layout == "japanese" else tuple(s for s in loc.date_styles if s != "ja")
    allowed = [s for s in styles if style_allowed(s, inv.issued)]
    patterns = MONEY_PATTERNS[inv.currency]
    if layout == "japanese":
        patterns = ("¥{n}", "￥{n}", "{n}円")
    return _Ctx(inv, loc, lang, rng.choice(loc.number_styles), rng.choice(patterns), rng.choice(allowed))


def _pick(ctx: _Ctx, key: str, rng: random.Random) -> str:
    """A label variant in the document's language (English fallback)."""
    return rng.choice(LABELS.get(ctx.lang, LABELS["en"]).get(key) or LABELS["en"][key])


def _tax_label(ctx: _Ctx, template: str, rate: str) -> str:
    """A tax line label, e.g. "MwSt. 19 %" or "消費税(10%)"."""
    label = template.replace("{r}", _rate(rate, ctx.lang))
    return label.replace("Consumption Tax ", "消費税") if ctx.lang == "ja" else label


def _summary(ctx: _Ctx, rng: random.Random) -> list[tuple[str, str]]:
    """(label, amount) rows: subtotal, optional discount and shipping, tax lines, total."""
    inv = ctx.inv
    rows = [(_pick(ctx, "subtotal", rng), ctx.money(inv.subtotal))]
    if inv.discount:
        pct = f" ({inv.discount_pct}%)" if inv.discount_pct else ""
        rows.append((_pick(ctx, "discount", rng) + pct, ctx.money(-inv.discount)))
    if inv.shipping:
        rows.append((_pick(ctx, "shipping", rng), ctx.money(inv.shipping)))
    rows += [(_tax_label(ctx, label, rate), ctx.money(amount)) for label, rate, amount in inv.taxes]
    return [*rows, (_pick(ctx, "total", rng), ctx.money(inv.total))]


def _currency_cue(ctx: _Ctx, rng: random.Random) -> list[str]:
    """A line stating the currency, needed when amounts are printed as bare numbers."""
    if ctx.pattern != "{n}":
        return []
    name, code = CURRENCY_NAMES[ctx.inv.currency]
    label = _pick(ctx, "currency", rng)
    return [f"{label} {name} ({ctx.inv.currency})." if label == "All amounts in" else f"{label}: {code}"]


def _address(ctx: _Ctx, rng: random.Random) -> tuple[str, str]:
    """Street and city lines of the vendor."""
    return _fill(rng.choice(ctx.loc.streets), rng), _fill(rng.choice(ctx.loc.cities), rng)


def _bank(ctx: _Ctx, rng: random.Random) -> str:
    """Payment details (IBAN or a domestic account)."""
    if ctx.loc.iban:
        return f"IBAN {_iban(ctx.loc.iban, rng)}  BIC {_fill('@@@@@@##', rng)}"
    return _fill(ctx.loc.bank, rng)


def _ids(rng: random.Random) -> tuple[str, str]:
    """Distractor PO number and customer id (with occasional OCR noise)."""
    po = _ocr_id(f"PO-{rng.randint(100000, 999999)}", rng)
    return po, _ocr_id(f"C-{rng.randint(10000, 99999)}", rng)


def _table(ctx: _Ctx, rng: random.Random, numbered: bool = False) -> list[str]:
    """A fixed-width line-item table with a header row."""
    head = [_pick(ctx, k, rng) for k in ("desc", "qty", "unit", "amount")]
    pos = "Pos. " if numbered else ""
    rows = [f"{pos}{head[0]:<36}{head[1]:>6}{head[2]:>16}{head[3]:>16}", "-" * (74 + len(pos))]
    for i, line in enumerate(ctx.inv.lines, 1):
        lead = f"{i:<5}" if numbered else ""
        rows.append(
            f"{lead}{line.description:<36}{line.qty:>6}{ctx.money(line.unit):>16}{ctx.money(line.amount):>16}"
        )
    return rows


def _aligned(rows: list[tuple[str, str]], sep: str = ":") -> list[str]:
    """Summary rows right-aligned under a table."""
    return [f"{'':>30}{label + sep:<28}{amount:>16}" for label, amount in rows]


def render_classic(ctx: _Ctx, rng: random.Random) -> str:
    """US/UK-style invoice: letterhead, header fields, bill-to, item table, totals, payment details."""
    inv, (street, city), (po, cust_id) = ctx.inv, _address(ctx, rng), _ids(rng)
    head = [
        inv.vendor,
        street,
        city,
        f"Tel: {_ocr_id(_fill(ctx.loc.phone, rng), rng)}  |  {_fill(ctx.loc.tax_id, rng)}",
        "",
    ]
    head += [
        f"{_pick(ctx, 'title', rng):<60}{_pick(ctx, 'page', rng)}",
        f"{_pick(ctx, 'number', rng)}: {inv.number}",
        f"{_pick(ctx, 'date', rng)}: {ctx.date(inv.issued)}",
        f"{_pick(ctx, 'due', rng)}: {ctx.date(inv.due)}",
        f"{_pick(ctx, 'po', rng)}: {po}",
        f"{_pick(ctx, 'customer_id', rng)}: {cust_id}",
        "",
    ]
    head += [_pick(ctx, "bill_to", rng), inv.customer, *_currency_cue(ctx, rng), ""]
    foot = [
        "",
        f"Payment terms: Net {(inv.due - inv.issued).days} days. {_bank(ctx, rng)}",
        _pick(ctx, "thanks", rng),
    ]
    return "\n".join(head + _table(ctx, rng) + _aligned(_summary(ctx, rng)) + foot)


def render_email(ctx: _Ctx, rng: random.Random) -> str:
    """An e-mail whose body carries the invoice details ("Please find attached...")."""
    inv, (po, _) = ctx.inv, _ids(rng)
    domain = "".join(c for c in inv.vendor.split()[0].lower() if c.isascii() and c.isalnum()) or "billing"
    sent = inv.issued + timedelta(days=rng.randint(0, 3))
    opener = rng.choice(
        ("Please find attached", "Attached please find", "As discussed, please find enclosed")
    )
    contact, wrap = rng.choice(_CONTACTS), rng.choice((" ", "\n"))  # wrap: OCR/e-mail line break noise
    head = [
        f"From: {inv.vendor} Accounts <accounts@{domain}.example>",
        f"To: {contact} <ap@customer.example>",
        f"Sent: {format_date(sent, 'dmy_short')} {rng.randint(8, 18):02d}:{rng.randint(0, 59):02d}",
        f"Subject: Invoice {inv.number} from {inv.vendor}",
        "",
        f"Hi {contact},",
        "",
        f"{opener} invoice {inv.number} dated {ctx.date(inv.issued)} for {inv.customer}.",
        *_currency_cue(ctx, rng),
        "",
    ]
    items = [
        f"- {ln.qty} x {ln.description} @ {ctx.money(ln.unit)} = {ctx.money(ln.amount)}" for ln in inv.lines
    ]
    summary = [f"{label}: {amount}" for label, amount in _summary(ctx, rng)]
    foot = [
        "",
        f"Payment is due by {ctx.date(inv.due)}. Please quote PO {po} with your{wrap}remittance.",
        f"Bank details: {_bank(ctx, rng)}",
        "",
        "Kind regards,",
        rng.choice(_CONTACTS),
        inv.vendor,
        _ocr_id(_fill(ctx.loc.phone, rng), rng),
    ]
    return "\n".join(head + items + summary + foot)


def render_receipt(ctx: _Ctx, rng: random.Random) -> str:
    """A compact till/online receipt: a few lines of ' | '-separated segments."""
    inv, (street, city) = ctx.inv, _address(ctx, rng)
    when = f"{ctx.date(inv.issued)} {rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}"
    label = rng.choice(("Receipt #", "Receipt No. ", "Inv# "))
    segs = [f"{inv.vendor} | {street}, {city}", f"{label}{inv.number} | {when}"]
    segs.append(
        " | ".join(
            f"{ln.qty}x {ln.description} {ctx.money(ln.unit)} {ctx.money(ln.amount)}" for ln in inv.lines
        )
    )
    segs.append(
        " | ".join([*(f"{label} {amount}" for label, amount in _summary(ctx, rng)), *_currency_cue(ctx, rng)])
    )
    segs.append(
        f"Card ****{rng.randint(1000, 9999)} | Auth {rng.randint(100000, 999999)}"
        f" | Tel {_fill(ctx.loc.phone, rng)}"
    )
    return "\n".join(segs) if rng.random() < 0.6 else " | ".join(segs)


def render_key_value(ctx: _Ctx, rng: random.Random) -> str:
    """A 'Key: value' block, as produced by a document-AI export."""
    inv, (street, city), (po, cust_id) = ctx.inv, _address(ctx, rng), _ids(rng)
    name, code = CURRENCY_NAMES[inv.currency]
    pairs = [
        (rng.choice(("Vendor", "Supplier", "Seller")), inv.vendor),
        ("Vendor address", f"{street}, {city}"),
        ("Vendor tax ID", _fill(ctx.loc.tax_id, rng)),
        ("Invoice number", inv.number),
        ("Invoice date", ctx.date(inv.issued)),
        ("Due date", ctx.date(inv.due)),
        ("Customer", inv.customer),
        ("Customer ID", cust_id),
        ("PO number", po),
        ("Currency", rng.choice((code, name, inv.currency))),
    ]
    lines = [f"{k}: {v}" for k, v in pairs]
    lines += [
        f"Line {i}: {ln.description} | qty: {ln.qty} | unit price: {ctx.money(ln.unit)}"
        f" | amount: {ctx.money(ln.amount)}"
        for i, ln in enumerate(inv.lines, 1)
    ]
    lines += [f"{label}: {amount}" for label, amount in _summary(ctx, rng)]
    return "\n".join([*lines, f"Payment account: {_bank(ctx, rng)}", "Pages: 1/1"])


def render_european(ctx: _Ctx, rng: random.Random) -> str:
    """A continental invoice in German, French or English with VAT/MwSt/TVA/BTW/IVA lines."""
    inv, (street, city), (po, cust_id) = ctx.inv, _address(ctx, rng), _ids(rng)
    delivered = inv.issued - timedelta(days=rng.randint(1, 10))
    head = [
        f"{inv.vendor} · {street} · {city}",
        "",
        inv.customer,
        "",
        f"{_pick(ctx, 'title', rng):<60}{_pick(ctx, 'page', rng)}",
    ]
    fields = [
        ("number", inv.number),
        ("date", ctx.date(inv.issued)),
        ("delivery", ctx.date(delivered)),
        ("customer_id", cust_id),
        ("po", po),
    ]
    sep = " :" if ctx.lang == "fr" else ":"
    head += [f"{_pick(ctx, k, rng)}{sep} {v}" for k, v in fields]
    head += [*_currency_cue(ctx, rng), ""]
    due = f"{_pick(ctx, 'due', rng)}{sep} {ctx.date(inv.due)}"
    foot = [
        "",
        due,
        f"{_bank(ctx, rng)}  ·  Tel. {_ocr_id(_fill(ctx.loc.phone, rng), rng)}",
        _fill(ctx.loc.tax_id, rng),
    ]
    return "\n".join(head + _table(ctx, rng, numbered=True) + _aligned(_summary(ctx, rng), sep) + foot)


def render_japanese(ctx: _Ctx, rng: random.Random) -> str:
    """A Japanese 請求書 with ¥/円 amounts, 小計 / 消費税 / 合計 and a 登録番号."""
    inv = ctx.inv
    issuer = f"発行元：{inv.vendor}" if rng.random() < 0.5 else inv.vendor
    head = [
        "請求書",
        f"{inv.customer} 御中",
        "",
        f"請求書番号：{inv.number}",
        f"発行日：{ctx.date(inv.issued)}",
        "",
        f"{'':>40}{issuer}",
        f"{'':>40}〒100-{rng.randint(1, 9999):04d} 東京都千代田区丸の内{_fill('#-#-#', rng)}",
        f"{'':>40}TEL {_ocr_id(_fill(ctx.loc.phone, rng), rng)}",
        f"{'':>40}登録番号：T{_fill('#' * 13, rng)}",
        "",
        f"ご請求金額　{ctx.money(inv.total)}（税込）",
        "",
        "品名　　数量　　単価　　金額",
    ]
    rows = [f"{ln.description}　{ln.qty}　{ctx.money(ln.unit)}　{ctx.money(ln.amount)}" for ln in inv.lines]
    summary = [f"{label}　{amount}" for label, amount in _summary(ctx, rng)]
    foot = [
        "",
        f"お支払期限：{ctx.date(inv.due)}",
        f"振込先：みずほ銀行 渋谷支店 普通 {_fill('#######', rng)}",
    ]
    return "\n".join(head + rows + summary + foot)


RENDERERS = {
    "classic": render_classic,
    "email": render_email,
    "receipt": render_receipt,
    "key_value": render_key_value,
    "european": render_european,
    "japanese": render_japanese,
}


def _double_space(text: str, protected: list[str], rng: random.Random) -> str:
    """OCR noise: double one space after a letter or colon, never inside a protected (ground-truth) string."""
    spots = [
        i for i in range(1, len(text)) if text[i] == " " and (text[i - 1].isalpha() or text[i - 1] == ":")
    ]
    for i in rng.sample(spots, k=min(5, len(spots))):
        noisy = text[:i] + " " + text[i:]
        if all(noisy.count(p) == text.count(p) for p in protected):
            return noisy
    return text


def expected_fields(inv: Invoice) -> dict[str, str | float]:
    """Ground truth for an invoice."""
    scale = 10 ** decimals(inv.currency)
    return {
        "vendor": inv.vendor,
        "invoice_number": inv.number,
        "date": inv.issued.isoformat(),
        "currency": inv.currency,
        "total": round(inv.total / scale, decimals(inv.currency)),
        "tax": round(inv.tax / scale, decimals(inv.currency)),
    }


def generate_invoice(index: int, seed: int, rng: random.Random) -> Item:
    """Draw, render and label one invoice."""
    layout = rng.choice(LAYOUTS)
    inv = build_invoice(layout, rng)
    ctx = _context(inv, layout, rng)
    text = RENDERERS[layout](ctx, rng)
    if rng.random() < 0.25:
        text = _double_space(text, [inv.vendor, inv.number, ctx.date(inv.issued), ctx.money(inv.total)], rng)
    tags = {"layout": layout, "currency": inv.currency}
    return Item(id=f"inv-{seed}-{index:04d}", input=text, expected=expected_fields(inv), tags=tags)


def generate_invoices(n: int, seed: int) -> list[Item]:
    """``n`` invoice extraction items; the same (n, seed) always gives the same items."""
    rng = random.Random(seed)
    return [generate_invoice(i, seed, rng) for i in range(n)]
