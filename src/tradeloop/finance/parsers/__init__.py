"""Readers of external money formats: bank statements (ISO 20022 camt.053 / camt.054, SWIFT MT940) and
platform settlements.

The bank statement readers (``camt``, ``mt940``) return the same neutral shape, :class:`StatementFile`:
statements with their booked balances and entries, amounts in integer minor units of the entry currency.
Nothing in here touches the database; ``tradeloop.finance.statements`` checks and stores the result.

A file that cannot be read raises :class:`StatementRejected` with its position (the XML line, or the MT940
line and tag) and the reason in English and Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from tradeloop.kit.errors import FieldError, ValidationFailed

#: ``minor_units("EUR") -> 2``; None for a code that is not an ISO 4217 currency.
MinorUnits = Callable[[str], "int | None"]

FORMATS = ("camt.053", "camt.054", "mt940")
CREDIT, DEBIT = "credit", "debit"

_BOM = b"\xef\xbb\xbf"
_XML_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(BkToCstmrStmt|BkToCstmrDbtCdtNtfctn|BkToCstmrAcctRpt)[\s>/]")
_MT940_TAG = re.compile(rb"(?m)^(?:\{4:)?:(20|25|28C?|60[FM]|61|62[FM]|86|34F|13D?):")


class StatementRejected(ValidationFailed):
    """A statement file that is not applied at all: ``position`` says where (``line 12``, ``line 12 (:61:)``,
    ``statement ST-1``), ``en``/``zh`` why."""

    type_slug = "statement-rejected"
    title = "Statement file rejected"

    def __init__(self, en: str, zh: str, *, line: int | None = None, tag: str | None = None,
                 where: str | None = None, filename: str | None = None):
        position = where or (f"line {line}" if line else "file")
        if tag and not where:
            position += f" ({tag})"
        self.en, self.zh, self.line, self.tag, self.position = en, zh, line, tag, position
        prefix = f"{filename}: " if filename else ""
        super().__init__(f"{prefix}{position}: {en}", errors=[FieldError(position, en, zh)],
                         position=position, line=line, tag=tag, reason=en, reason_zh=zh)

    @property
    def message(self) -> str:
        return f"{self.position}: {self.en} / {self.zh}"


@dataclass
class Entry:
    """One booked (or pending) entry as the bank reports it."""

    booking_date: date
    value_date: date | None
    direction: str  # credit | debit
    amount_minor: int  # positive, minor units of ``currency``
    currency: str
    bank_ref: str  # AcctSvcrRef / NtryRef / MT940 bank reference, else a digest (see ``entry_digest``)
    reference: str | None = None  # end-to-end / customer reference(s)
    remittance: str | None = None  # Ustrd joined / MT940 :86:
    counterparty: str | None = None
    transaction_code: str | None = None  # camt BkTxCd (Domn/Fmly/SubFmly or Prtry), MT940 type (NTRF …)
    booked: bool = True  # camt Sts BOOK; pending / info entries are read but not stored
    line: int | None = None
    tag: str | None = None

    @property
    def signed_minor(self) -> int:
        return self.amount_minor if self.direction == CREDIT else -self.amount_minor


@dataclass
class DeclaredTotal:
    """A control total the file states (camt TxsSummry): ``kind`` is all, credit or debit."""

    kind: str
    count: int | None
    sum_minor: int | None
    line: int | None = None


@dataclass
class Statement:
    format: str
    version: str | None  # e.g. camt.053.001.08; MT940 has none
    statement_id: str | None
    account: str
    currency: str
    opening_minor: int | None  # booked, signed (a debit balance is negative)
    closing_minor: int | None
    from_date: date | None
    to_date: date | None
    entries: list[Entry] = field(default_factory=list)
    declared: list[DeclaredTotal] = field(default_factory=list)
    line: int | None = None
    tag: str | None = None

    @property
    def label(self) -> str:
        return f"statement {self.statement_id or '?'} of account {self.account}"


@dataclass
class StatementFile:
    format: str
    version: str | None
    statements: list[Statement]


def detect(data: bytes) -> str:
    """``camt.053``, ``camt.054`` or ``mt940`` from the content (never the file name); raises
    :class:`StatementRejected` for anything else."""
    head = data[len(_BOM):] if data.startswith(_BOM) else data
    stripped = head.lstrip()
    if stripped.startswith(b"<"):
        found = _XML_ROOT.search(head[:65536])
        if found is None:
            raise StatementRejected(
                "an XML document that is neither a camt.053 statement (BkToCstmrStmt) nor a camt.054 "
                "notification (BkToCstmrDbtCdtNtfctn)",
                "XML 文件既不是 camt.053 对账单（BkToCstmrStmt）也不是 camt.054 借贷记通知（BkToCstmrDbtCdtNtfctn）")
        name = found.group(1)
        if name == b"BkToCstmrAcctRpt":
            raise StatementRejected("camt.052 intraday account reports are not imported; use the camt.053 "
                                    "statement of the day", "不导入 camt.052 日间账户报告，请使用当日 camt.053 对账单")
        return "camt.053" if name == b"BkToCstmrStmt" else "camt.054"
    tags = {m.group(1) for m in _MT940_TAG.finditer(head[:1_000_000])}
    if b"20" in tags and b"25" in tags and (tags & {b"60F", b"60M"}):
        return "mt940"
    if b"20" in tags and b"25" in tags and (b"34F" in tags or b"13D" in tags):
        raise StatementRejected("an MT942 interim report is not a statement; import the MT940 of the day",
                                "MT942 日间报告不是对账单，请导入当日 MT940")
    raise StatementRejected("not a bank statement: expected camt.053, camt.054 (ISO 20022 XML) or SWIFT MT940",
                            "不是银行对账单：应为 camt.053、camt.054（ISO 20022 XML）或 SWIFT MT940")


def default_minor_units(code: str) -> int | None:
    """ISO 4217 minor units from CLDR (babel), for parsing without a database session."""
    from babel.numbers import get_currency_precision, list_currencies

    if code not in list_currencies():
        return None
    return get_currency_precision(code)


def parse(data: bytes, *, minor_units: MinorUnits | None = None, filename: str | None = None) -> StatementFile:
    """Detect the format and read the file."""
    fmt = detect(data)
    if fmt == "mt940":
        from tradeloop.finance.parsers import mt940

        return mt940.parse(data, minor_units=minor_units, filename=filename)
    from tradeloop.finance.parsers import camt

    return camt.parse(data, minor_units=minor_units, filename=filename)


def entry_digest(account: str, e: Entry, ordinal: int) -> str:
    """A stable bank reference for an entry the bank gave none: the same entry in a camt.054 and in the
    day's camt.053 (or the same file twice) gets the same digest. ``ordinal`` tells apart identical entries
    of one statement (two equal payments on one day without references)."""
    import hashlib

    parts = [account, e.booking_date.isoformat(), e.value_date.isoformat() if e.value_date else "", e.direction,
             str(e.amount_minor), e.currency, e.reference or "", " ".join((e.remittance or "").split()), str(ordinal)]
    return "digest:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def fill_missing_refs(account: str, entries: list[Entry], missing: list[int]) -> None:
    """Give the entries at ``missing`` (indexes into ``entries``) their digest reference."""
    seen: dict[tuple, int] = {}
    for i in missing:
        e = entries[i]
        key = (e.booking_date, e.value_date, e.direction, e.amount_minor, e.currency, e.reference,
               " ".join((e.remittance or "").split()))
        seen[key] = seen.get(key, 0) + 1
        e.bank_ref = entry_digest(account, e, seen[key])


def amount_minor(text: str | None, currency: str, minor_units: MinorUnits, *, line: int | None,
                 tag: str | None = None, what: str = "amount", what_zh: str = "金额") -> int:
    """A positive decimal amount text -> minor units, exactly; anything else is refused with its position."""
    from tradeloop.kit.money import AmountError, to_minor

    digits = minor_units(currency)
    if digits is None:
        raise StatementRejected(f"{currency!r} is not an ISO 4217 currency code",
                                f"{currency!r} 不是 ISO 4217 币种代码", line=line, tag=tag)
    value = (text or "").strip()
    if not re.fullmatch(r"\d{1,18}(?:\.\d{0,9})?", value):
        raise StatementRejected(f"{what} {value!r} is not a positive decimal amount",
                                f"{what_zh} {value!r} 不是有效的正数金额", line=line, tag=tag)
    try:
        return to_minor(value, digits)
    except AmountError as exc:
        raise StatementRejected(f"{what} {value} {currency} {exc.en}", f"{what_zh} {value} {currency} {exc.zh}",
                                line=line, tag=tag) from None
