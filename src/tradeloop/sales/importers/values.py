"""Turning cells of marketplace files into normalised values: amounts in minor units (exact, never float),
times in UTC, ISO country and currency codes, statuses; and the parsed line every importer produces.

Parsing is on the import's hot path (millions of rows), so the common shapes ("12.99", ISO dates) take a
short path and everything else the general one; both give the same results.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from hashlib import blake2b
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The values of a parsed line, in this order (``Line.values``); ``row_hash`` is appended by ``finish``.
LINE_FIELDS = (
    "channel", "marketplace", "external_order_id", "line_id", "order_date", "ship_date", "source_updated_at",
    "buyer_country", "currency", "status", "raw_status", "fulfillment_channel", "sku", "quantity",
    "item_price_minor", "item_tax_minor", "shipping_minor", "shipping_tax_minor", "other_minor", "discount_minor",
    "fees_minor", "refunded_minor",
)
#: Longest text each field may hold (the column sizes of ``sales_order_lines``).
MAX_LENGTHS = {"marketplace": 64, "external_order_id": 64, "line_id": 100, "raw_status": 100,
               "fulfillment_channel": 64, "sku": 100}
#: Largest amount accepted, in minor units (a typing error, not a sale, beyond this).
MAX_MINOR = 10 ** 15
MAX_QUANTITY = 10 ** 7


@dataclass(frozen=True)
class Issue:
    """A problem of one row: ``row`` is the line number in the file (header = line 1), ``column`` the
    header as written in the file."""

    row: int
    column: str
    value: str
    reason: str
    reason_zh: str

    def as_cli(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}

    def as_dict(self) -> dict:
        return {**self.as_cli(), "reason_zh": self.reason_zh}


class FatalFile(ValueError):
    """The file cannot be imported at all (nothing is applied)."""

    def __init__(self, issues: list[Issue] | Issue):
        self.issues = issues if isinstance(issues, list) else [issues]
        super().__init__("; ".join(i.reason for i in self.issues))


# --- amounts ------------------------------------------------------------------------------------------------

_SIMPLE_AMOUNT = re.compile(r"-?\d{1,15}(?:\.\d{1,4})?")
_NUMBER = re.compile(r"[-+]?[\d.,' \u00a0\u202f]*\d")
#: Currency prefixes and suffixes marketplaces write before or after amounts (eBay: "$12.99",
#: "EUR 12,99", "£5.00", "AU $12.00", "C $12.00").
CURRENCY_MARKS = {
    "$": "USD", "US$": "USD", "US $": "USD", "USD": "USD", "C$": "CAD", "C $": "CAD", "CA$": "CAD", "CAD": "CAD",
    "AU$": "AUD", "AU $": "AUD", "A$": "AUD", "AUD": "AUD", "£": "GBP", "GBP": "GBP", "€": "EUR", "EUR": "EUR",
    "CHF": "CHF", "HK$": "HKD", "HKD": "HKD", "S$": "SGD", "SGD": "SGD", "¥": "JPY", "JPY": "JPY", "RMB": "CNY",
    "CNY": "CNY", "NZ$": "NZD", "NZD": "NZD", "MX$": "MXN", "MXN": "MXN", "PLN": "PLN", "ZŁ": "PLN", "SEK": "SEK",
    "KR": "SEK", "Kč": "CZK", "CZK": "CZK", "₹": "INR", "INR": "INR", "R$": "BRL", "BRL": "BRL",
}


class AmountError(ValueError):
    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en, self.zh = en, zh


def _scaled(sign: int, whole: str, frac: str, units: int) -> int:
    frac = frac.rstrip("0")
    if len(frac) > units:
        raise AmountError(f"has more than {units} decimal places for this currency",
                          f"小数位数超过该币种的{units}位")
    value = int(whole or "0") * 10 ** units + (int(frac.ljust(units, "0")) if units else 0)
    return sign * value


def split_currency(text: str) -> tuple[str, str | None]:
    """``"EUR 12,99"`` -> ("12,99", "EUR"); ``"$1,234.50"`` -> ("1,234.50", "USD"); a bare number -> (it, None)."""
    s = text.strip()
    match = _NUMBER.search(s)
    if match is None:
        raise AmountError("is not an amount", "不是有效金额")
    prefix, suffix = s[:match.start()].strip(), s[match.end():].strip()
    negative = False
    if prefix.startswith("-"):
        negative, prefix = True, prefix[1:].strip()
    if prefix.startswith("(") and suffix.endswith(")"):
        negative, prefix, suffix = True, prefix[1:].strip(), suffix[:-1].strip()
    mark = prefix or suffix
    if prefix and suffix:
        raise AmountError("is not an amount", "不是有效金额")
    currency = None
    if mark:
        currency = CURRENCY_MARKS.get(mark) or CURRENCY_MARKS.get(mark.upper())
        if currency is None:
            if re.fullmatch(r"[A-Z]{3}", mark):
                currency = mark
            else:
                raise AmountError(f"has an unknown currency sign {mark!r}", f"货币符号{mark}无法识别")
    number = match.group(0)
    return ("-" + number.lstrip("+") if negative and not number.startswith("-") else number), currency


def amount_minor(text: str, units: int, *, decimal_comma: bool | None = None) -> int:
    """Exact minor units of a decimal text. ``decimal_comma`` None decides by the text: with both "." and
    "," the last one is the decimal mark; a lone "," followed by exactly three digits separates thousands
    (1,234), otherwise it is the decimal mark (12,99)."""
    s = text.strip()
    if _SIMPLE_AMOUNT.fullmatch(s) and not decimal_comma:
        sign = -1 if s[0] == "-" else 1
        whole, _, frac = s.lstrip("-").partition(".")
        return _scaled(sign, whole, frac, units)
    s = s.replace(" ", "").replace("\u00a0", "").replace("\u202f", "").replace("'", "")
    sign = 1
    if s[:1] and s[0] in "+-":
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if not s or not re.fullmatch(r"[\d.,]+", s):
        raise AmountError("is not an amount", "不是有效金额")
    if decimal_comma is True:
        mark: str | None = ","
    elif decimal_comma is False:
        mark = "."
    else:
        last_dot, last_comma = s.rfind("."), s.rfind(",")
        if last_dot >= 0 and last_comma >= 0:
            mark = "." if last_dot > last_comma else ","
        elif last_comma >= 0:
            mark = "," if (s.count(",") == 1 and len(s) - last_comma - 1 != 3) else None
        elif last_dot >= 0:
            mark = "." if s.count(".") == 1 else None  # 1.234.567 groups thousands
        else:
            mark = None
    if mark is not None and mark in s:
        head, _, frac = s.rpartition(mark)
    else:
        head, frac = s, ""
    grouping = "," if mark == "." else "." if mark == "," else None
    groups = re.split(r"[.,]", head) if grouping is None else head.split(grouping)
    if any(sep in head for sep in ".," if sep != grouping) and grouping is not None:
        raise AmountError("is not an amount", "不是有效金额")
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise AmountError("is not an amount", "不是有效金额")
    whole = "".join(groups)
    if not whole.isdigit() and whole != "":
        raise AmountError("is not an amount", "不是有效金额")
    if frac and not frac.isdigit():
        raise AmountError("is not an amount", "不是有效金额")
    if not whole and not frac:
        raise AmountError("is not an amount", "不是有效金额")
    return _scaled(sign, whole, frac, units)


@lru_cache(maxsize=4096)
def cached_amount(text: str, units: int, decimal_comma: bool | None) -> int:
    """``amount_minor`` with the too-large check, cached: prices, taxes and fees repeat across a file."""
    value = amount_minor(text, units, decimal_comma=decimal_comma)
    if abs(value) >= MAX_MINOR:
        raise AmountError("is too large", "金额过大")
    return value


def decimal_minor(value: Decimal, units: int) -> int:
    scaled = value.scaleb(units)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"has more than {units} decimal places for this currency", f"小数位数超过该币种的{units}位")
    return int(scaled)


# --- times --------------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def valid_zone(name: str) -> bool:
    try:
        zone(name)
        return True
    except ValueError:
        return False


#: Abbreviations marketplaces append to local times (eBay, older Amazon reports).
ZONE_ABBREVIATIONS = {
    "UTC": UTC, "GMT": UTC, "Z": UTC,
    "PST": timezone(timedelta(hours=-8)), "PDT": timezone(timedelta(hours=-7)),
    "MST": timezone(timedelta(hours=-7)), "MDT": timezone(timedelta(hours=-6)),
    "CST": timezone(timedelta(hours=-6)), "CDT": timezone(timedelta(hours=-5)),
    "EST": timezone(timedelta(hours=-5)), "EDT": timezone(timedelta(hours=-4)),
    "BST": timezone(timedelta(hours=1)), "CET": timezone(timedelta(hours=1)), "CEST": timezone(timedelta(hours=2)),
    "AEST": timezone(timedelta(hours=10)), "AEDT": timezone(timedelta(hours=11)),
}


class DateError(ValueError):
    def __init__(self, en: str = "is not a date and time this file type uses",
                 zh: str = "不是该文件类型使用的日期时间格式"):
        super().__init__(en)
        self.en, self.zh = en, zh


def to_utc(value: datetime, default_zone: tzinfo) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_zone)
    return value.astimezone(UTC)


@lru_cache(maxsize=4096)  # the lines of an order share their dates
def iso_datetime(text: str, default_zone: tzinfo = UTC) -> datetime:
    """ISO 8601 with or without offset (``2026-01-15T09:12:33+01:00``, ``…Z``, ``2026-01-15 09:12:33 +0100``,
    ``2026-01-15``); a time without offset is in ``default_zone``."""
    s = text.strip()
    try:
        return to_utc(datetime.fromisoformat(s), default_zone)
    except ValueError:
        pass
    # "2026-01-15 09:12:33 +0100" (Shopify) and "… PST": offset or zone after a space.
    head, _, tail = s.rpartition(" ")
    if head and tail:
        if tail.upper() in ZONE_ABBREVIATIONS:
            try:
                return to_utc(datetime.fromisoformat(head).replace(tzinfo=ZONE_ABBREVIATIONS[tail.upper()]), UTC)
            except ValueError:
                pass
        elif tail[:1] in "+-":
            try:
                return to_utc(datetime.fromisoformat(head + tail), default_zone)
            except ValueError:
                pass
    raise DateError("is not an ISO 8601 date and time (e.g. 2026-01-15T09:12:33+00:00)",
                    "不是ISO 8601日期时间（如2026-01-15T09:12:33+00:00）")


@lru_cache(maxsize=4096)
def pattern_datetime(text: str, pattern: str, default_zone: tzinfo) -> datetime:
    """``strptime`` with ``pattern``, a trailing zone abbreviation allowed; ISO 8601 accepted as well
    (Excel cells arrive as ISO text)."""
    s = text.strip()
    try:
        return to_utc(datetime.strptime(s, pattern), default_zone)
    except ValueError:
        pass
    head, _, tail = s.rpartition(" ")
    if head and tail.upper() in ZONE_ABBREVIATIONS:
        try:
            return to_utc(datetime.strptime(head, pattern).replace(tzinfo=ZONE_ABBREVIATIONS[tail.upper()]), UTC)
        except ValueError:
            pass
    try:
        return iso_datetime(s, default_zone)
    except DateError:
        raise DateError(f"does not match the date format {pattern}", f"不符合日期格式{pattern}") from None


# --- codes --------------------------------------------------------------------------------------------------

class Codes:
    """Currencies (ISO 4217 -> minor units) and countries (alpha-2, alpha-3 and names -> alpha-2), read once
    per import from the reference tables, with CLDR (Babel) for currencies the customs table lacks."""

    def __init__(self, currencies: dict[str, int], countries: dict[str, str]):
        self._currencies = currencies
        self._countries = countries
        self._seen_countries: dict[str, str | None] = {}
        self._seen_currencies: dict[str, tuple[str, int] | None] = {}

    @classmethod
    def load(cls, session) -> Codes:
        return cls(load_currencies(session), load_countries(session))

    def minor_units(self, currency: str) -> int | None:
        return self._currencies.get(currency)

    def currency(self, text: str) -> tuple[str, int] | None:
        """(ISO code, minor units) of a cell such as "usd" or " EUR", else None."""
        try:
            return self._seen_currencies[text]
        except KeyError:
            pass
        code = text.strip().upper()
        units = self._currencies.get(code) if re.fullmatch(r"[A-Z]{3}", code) else None
        found = (code, units) if units is not None else None
        if len(self._seen_currencies) < 10_000:
            self._seen_currencies[text] = found
        return found

    def country(self, text: str) -> str | None:
        try:
            return self._seen_countries[text]
        except KeyError:
            pass
        code = self._countries.get(_country_key(text))
        if len(self._seen_countries) < 10_000:
            self._seen_countries[text] = code
        return code


def load_currencies(session) -> dict[str, int]:
    """ISO 4217 code -> minor units: the reference table, else CLDR (Babel) for codes the customs table lacks."""
    from babel.numbers import get_currency_precision, list_currencies
    from sqlalchemy import select

    from tradeloop.reference.models import Currency

    # X-codes are funds, metals and test codes (XAU, XDR, XTS, XXX), never the currency of a sale.
    currencies = {code: get_currency_precision(code) for code in list_currencies()
                  if len(code) == 3 and not code.startswith("X")}
    for iso, units, _status in session.execute(select(Currency.iso_4217, Currency.minor_units, Currency.status)
                                                .where(Currency.iso_4217.is_not(None),
                                                       Currency.minor_units.is_not(None))
                                                .order_by(Currency.status.desc())):
        currencies[iso.upper()] = units  # "current" rows sort last and win
    return currencies


def load_countries(session) -> dict[str, str]:
    """Country names and codes (alpha-2, alpha-3, English and Chinese names of the reference table, CLDR names
    in en, de, fr, it, es, ja, zh, common aliases) -> alpha-2."""
    from babel import Locale
    from sqlalchemy import select

    from tradeloop.reference.models import Country

    rows = session.execute(select(Country.iso_alpha2, Country.iso_alpha3, Country.name_en, Country.name_zh)
                           .where(Country.iso_alpha2.is_not(None))).all()
    known = {a2.upper() for a2, *_rest in rows}
    countries: dict[str, str] = {}
    for locale in ("en", "de", "fr", "it", "es", "ja", "zh"):
        for code, name in Locale.parse(locale).territories.items():
            if len(code) == 2 and code.isalpha() and code.upper() in known:
                countries.setdefault(_country_key(name), code.upper())
    for a2, a3, en, zh in rows:
        for name in (a2, a3, en, zh):
            if name:
                countries[_country_key(name)] = a2.upper()
    for alias, code in COUNTRY_ALIASES.items():
        if code in known:
            countries[_country_key(alias)] = code
    return countries


COUNTRY_ALIASES = {
    "USA": "US", "U.S.A.": "US", "U.S.": "US", "United States of America": "US", "America": "US",
    "UK": "GB", "U.K.": "GB", "Great Britain": "GB", "England": "GB", "Scotland": "GB", "Wales": "GB",
    "Northern Ireland": "GB", "Korea": "KR", "South Korea": "KR", "Korea, Republic of": "KR", "Russia": "RU",
    "Czech Republic": "CZ", "Holland": "NL", "The Netherlands": "NL", "Hong Kong": "HK", "Taiwan": "TW",
    "Vietnam": "VN", "Turkey": "TR", "UAE": "AE", "Mainland China": "CN", "中国大陆": "CN", "美国": "US",
    "英国": "GB", "德国": "DE",
}


def _country_key(text: str) -> str:
    return re.sub(r"[\s.'’]+", " ", text.strip().casefold()).strip()


# --- statuses -----------------------------------------------------------------------------------------------

#: Status words of generic files (English and Chinese) -> normalised status.
GENERIC_STATUSES = {
    "pending": "pending", "unshipped": "pending", "unfulfilled": "pending", "paid": "pending", "open": "pending",
    "processing": "pending", "awaiting shipment": "pending", "new": "pending", "待发货": "pending",
    "未发货": "pending", "待付款": "pending", "已付款": "pending", "处理中": "pending",
    "partially shipped": "partially_shipped", "partially_shipped": "partially_shipped", "部分发货": "partially_shipped",
    "shipped": "shipped", "fulfilled": "shipped", "sent": "shipped", "dispatched": "shipped", "已发货": "shipped",
    "delivered": "delivered", "completed": "delivered", "complete": "delivered", "已签收": "delivered",
    "已送达": "delivered", "已完成": "delivered", "cancelled": "cancelled", "canceled": "cancelled",
    "voided": "cancelled", "已取消": "cancelled", "取消": "cancelled", "refunded": "refunded", "已退款": "refunded",
    "partially refunded": "partially_refunded", "partially_refunded": "partially_refunded",
    "部分退款": "partially_refunded", "returned": "returned", "已退货": "returned", "退货": "returned",
}


def generic_status(text: str) -> str:
    return GENERIC_STATUSES.get(text.strip().casefold().replace("-", " ").replace("  ", " "),
                                GENERIC_STATUSES.get(text.strip().casefold(), "other"))


# --- the parsed line ----------------------------------------------------------------------------------------

class Row:
    """One data row being read: collects its problems, so every bad field of the row is reported at once."""

    __slots__ = ("number", "issues")

    def __init__(self, number: int):
        self.number = number
        self.issues: list[Issue] = []

    def bad(self, column: str, value: str, reason: str, reason_zh: str) -> None:
        self.issues.append(Issue(self.number, column, value[:200], reason, reason_zh))


#: ``str()`` of parsed times (aware UTC datetimes), cached: formatting a datetime costs more than parsing it,
#: and the lines of an order share their times. Bounded; shared by every import of the process.
TIME_TEXTS: dict[datetime, str] = {}
TIME_TEXTS_LIMIT = 8192


def time_text(value: datetime) -> str:
    """``str(value)``, cached for UTC times (the only ones importers produce: equal UTC times have equal text)."""
    text = TIME_TEXTS.get(value)
    if text is None or value.tzinfo is not UTC:
        text = str(value)
        if value.tzinfo is UTC:
            if len(TIME_TEXTS) >= TIME_TEXTS_LIMIT:
                TIME_TEXTS.clear()
            TIME_TEXTS[value] = text
    return text


def remember_time_text(value: datetime, text: str) -> str:
    """Keep ``text`` as the ``str()`` of the UTC time ``value`` (an importer that has it from the cell)."""
    if len(TIME_TEXTS) >= TIME_TEXTS_LIMIT:
        TIME_TEXTS.clear()
    TIME_TEXTS[value] = text
    return text


def line_hash(values: tuple) -> str:
    """A digest of the normalised values: equal lines have equal hashes, whatever file they came from.
    (Times are aware UTC datetimes, so their text is unique; None is written as NUL, which no cell holds.)

    The text hashed is ``"\\x1f".join("\\x00" if v is None else str(v) for v in values)``; the Amazon importer
    builds the same text without this loop (``amazon.AmazonImporter._fast``)."""
    text = "\x1f".join(["\x00" if v is None else time_text(v) if v.__class__ is datetime else str(v)
                         for v in values])
    return blake2b(text.encode(), digest_size=16).hexdigest()


class LineNumbers:
    """Line ids by position when the file has none: the n-th line of an order (``position``) or the n-th line
    of an order with a SKU (``occurrence``). Counters are kept for recently seen orders only (rows of one
    order are adjacent in marketplace files), so memory stays bounded whatever the file's size."""

    def __init__(self, keep: int = 10_000):
        self.keep = keep
        self._orders: OrderedDict[str, dict] = OrderedDict()
        self._last_order: str | None = None
        self._last: dict = {}

    def _counters(self, order_id: str) -> dict:
        if order_id == self._last_order and self.keep > 0:
            return self._last  # the order of the previous row: the most recently used already
        counters = self._orders.get(order_id)
        if counters is None:
            counters = {}
            self._orders[order_id] = counters
            if len(self._orders) > self.keep:
                self._orders.popitem(last=False)
        else:
            self._orders.move_to_end(order_id)
        self._last_order, self._last = order_id, counters
        return counters

    def position(self, order_id: str) -> int:
        counters = self._counters(order_id)
        counters[""] = counters.get("", 0) + 1
        return counters[""]

    def occurrence(self, order_id: str, sku: str) -> int:
        counters = self._counters(order_id)
        counters[sku] = counters.get(sku, 0) + 1
        return counters[sku]


@dataclass
class Context:
    """What importers need beside the file: reference codes and the time zone of local times."""

    codes: Codes
    timezone: tzinfo = UTC


def check_text(row: Row, column: str, value: str, key: str) -> str:
    limit = MAX_LENGTHS[key]
    if len(value) > limit:
        row.bad(column, value, f"is longer than {limit} characters", f"超过{limit}个字符")
    return value


def parse_quantity(row: Row, column: str, text: str) -> int:
    if text.isascii() and text.isdigit():
        q = int(text)
    else:
        s = text.strip()
        try:
            d = Decimal(s.replace(",", ""))
        except InvalidOperation:
            d = None
        if d is None or not d.is_finite() or d != d.to_integral_value():
            row.bad(column, text, "must be a whole number", "应为整数")
            return 0
        q = int(d)
    if q < 0:
        row.bad(column, text, "must not be negative", "不能为负数")
    elif q > MAX_QUANTITY:
        row.bad(column, text, "is too large", "过大")
    return q


def money(row: Row, column: str, text: str, units: int | None, *, decimal_comma: bool | None = None,
          absolute: bool = False, required: bool = False) -> int:
    """Minor units of ``text`` (0 when empty and not required); ``units`` None means the currency is unknown
    (already reported), so only the form is checked."""
    if not text or text.isspace():
        if required:
            row.bad(column, text, "is required", "为必填项")
        return 0
    try:
        value = cached_amount(text, 2 if units is None else units, decimal_comma)
    except AmountError as exc:
        row.bad(column, text, exc.en, exc.zh)
        return 0
    return -value if absolute and value < 0 else value


def currency_units(row: Row, ctx: Context, column: str, text: str) -> tuple[str | None, int | None]:
    found = ctx.codes.currency(text)
    if found is None:
        if text.strip():
            row.bad(column, text, "is not an ISO 4217 currency code", "不是ISO 4217币种代码")
        return None, None
    return found


def country(row: Row, ctx: Context, column: str, text: str) -> str | None:
    if not text:
        return None
    code = ctx.codes.country(text)
    if code is None and text.strip():
        row.bad(column, text, "is not a country (ISO 3166 code or name)", "不是可识别的国家（ISO 3166代码或名称）")
    return code


def when(row: Row, column: str, text: str, parse: Callable[[str], datetime], *, required: bool = False
         ) -> datetime | None:
    if not text or text.isspace():
        if required:
            row.bad(column, text, "is required", "为必填项")
        return None
    try:
        return parse(text)
    except DateError as exc:
        row.bad(column, text, exc.en, exc.zh)
        return None
