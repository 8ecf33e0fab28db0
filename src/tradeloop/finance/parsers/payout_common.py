"""What the settlement parsers (Amazon V2 flat file, PayPal STL, payment-firm CSV profiles) hand to
``finance.payouts``: payouts with typed, signed items in minor units, or an ``ImportRejected`` with the
row-level report. Parsers read bytes and touch no database.

Row numbers are the file's rows (records), 1-based, the header being row 1. A file row that carries two
amounts (PayPal's gross and fee, a payment firm's gross and fees) gives two items: the first keeps
``line_no = row``, the second (the fee) is stored with ``line_no = -row`` (``abs(line_no)`` is always the row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, list_currencies

from tradeloop.finance.money_models import ItemKind
from tradeloop.kit.money import AmountError, to_minor
from tradeloop.kit.tables import RowError

_CURRENCIES = {c for c in list_currencies() if len(c) == 3 and not c.startswith("X")}


@dataclass
class ParsedItem:
    line_no: int
    kind: str
    amount_minor: int
    currency: str
    transaction_type: str | None = None
    amount_type: str | None = None
    amount_description: str | None = None
    order_id: str | None = None
    sku: str | None = None
    quantity: int | None = None
    posted_at: datetime | None = None

    def key(self) -> tuple:
        """What the file says about the item (the sales-line link is not part of it)."""
        return (self.line_no, self.kind, self.amount_minor, self.currency, self.transaction_type, self.amount_type,
                self.amount_description, self.order_id, self.sku, self.quantity,
                self.posted_at.astimezone(UTC).isoformat() if self.posted_at else None)


@dataclass
class ParsedPayout:
    settlement_id: str
    currency: str
    total_minor: int
    marketplace: str | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    deposit_date: date | None = None
    items: list[ParsedItem] = field(default_factory=list)

    def item_total(self) -> int:
        """Sum of the items the total is made of (transfers to the bank are the payout itself)."""
        return sum(i.amount_minor for i in self.items if i.kind != ItemKind.TRANSFER)


@dataclass
class ParsedFile:
    source: str
    encoding: str | None
    payouts: list[ParsedPayout]


def currency_code(text: str) -> str | None:
    code = (text or "").strip().upper()
    return code if code in _CURRENCIES else None


def minor_units(currency: str) -> int:
    return get_currency_precision(currency)


_GROUPED_DOT = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")
_GROUPED_COMMA = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def amount_minor(text: str, currency: str, *, decimal_comma: bool | None = None) -> int:
    """A written amount -> minor units of ``currency``, exactly (more decimals than the currency has is an
    error, never rounded). ``decimal_comma``: True = ``1.234,56``; False = ``1,234.56``; None = decide from
    the text (a single comma followed by 1–2 digits and no dot is a decimal comma, as European marketplaces
    write ``95,00``)."""
    t = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if t.startswith("(") and t.endswith(")"):
        t = "-" + t[1:-1]
    if decimal_comma is None:
        decimal_comma = bool(_GROUPED_DOT.match(t) or re.fullmatch(r"[+-]?\d+,\d{1,2}", t))
    if decimal_comma:
        t = t.replace(".", "").replace(",", ".")
    elif "," in t:
        if not _GROUPED_COMMA.match(t):
            raise AmountError("is not an amount", "不是有效金额")
        t = t.replace(",", "")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", t):
        raise AmountError("is not an amount", "不是有效金额")
    try:
        Decimal(t)
    except InvalidOperation:
        raise AmountError("is not an amount", "不是有效金额") from None
    return to_minor(t, minor_units(currency))


def row_error(row: int, column: str, value: str | None, en: str, zh: str) -> RowError:
    return RowError(row, column, (value or "")[:200], en, zh)


def missing_columns(found: set[str], required: list[str]) -> list[RowError]:
    return [row_error(1, c, "", "the column is missing", "缺少该列") for c in required if c not in found]
