"""SWIFT MT940 customer statements, read with the ``mt-940`` package (WoLpH/mt940, BSD-3; standards.md §3.1).

A file may hold several statements (one per account and day, each starting with ``:20:``), bare or in SWIFT
envelopes (``{1:…}{2:…}{4:`` … ``-}``); each becomes one :class:`Statement`. What is read:

* ``:20:`` transaction reference and ``:28C:`` statement/sequence number -> the statement id
  (``REF/00012/001``); ``:25:`` account (IBAN or number);
* ``:60F:``/``:60M:`` opening and ``:62F:``/``:62M:`` closing booked balance (mark C/D, date, currency,
  amount) -> currency, balances, from/to dates;
* ``:61:`` statement lines: value date, entry date (MMDD; the booking date, else the value date), mark
  (C, D, RC = reversal of a credit = money out, RD = reversal of a debit = money in), amount, transaction
  type (``NTRF`` …), customer reference (``NONREF`` = none) and bank reference (after ``//``);
* ``:86:`` information to account owner, all its lines: free text is joined (a line of the full 65
  characters continues on the next without a space; a shorter line ends a phrase, so a space is put), a
  structured German ``:86:`` (``166?00…?20…``) gives its purpose (``?20``–``?29``, SVWZ), end-to-end
  reference (EREF) and counterparty (``?32``/``?33``).

MT940 states no control totals besides the balances. The package reports no positions, so the lines are
numbered here and every tag is traced back to its line for the error message.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from decimal import Decimal

import mt940 as mt940lib

from tradeloop.finance.parsers import (
    CREDIT,
    DEBIT,
    Entry,
    MinorUnits,
    Statement,
    StatementFile,
    StatementRejected,
    amount_minor,
    default_minor_units,
    fill_missing_refs,
)

# The package logs every field it cannot match (with its whole pattern) before raising; the failure is reported
# here, with its line, so its own log stays quiet.
logging.getLogger("mt940").setLevel(logging.CRITICAL)

OPTIONS = mt940lib.Options(merge_keeps_values=True, case_insensitive_marks=True, unbounded_details=True,
                           applicant_iban=True, non_swift_free_text=True, strip_bom=True)
_TAG = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):")
_LINE_WIDTH = 65
_NONE_REFS = {"", "NONREF", "NOTPROVIDED"}


class _TagFailed(Exception):
    def __init__(self, offset: int, tag: str, cause: Exception):
        super().__init__(str(cause))
        self.offset, self.tag, self.cause = offset, tag, cause


class _Traced(mt940lib.models.Transactions):
    """The package's statement, remembering where a tag that failed to parse starts."""

    def _process_match(self, match, i, valid_matches, data):  # noqa: D401 - package hook
        try:
            super()._process_match(match, i, valid_matches, data)
        except (RuntimeError, ValueError, ArithmeticError, KeyError, TypeError) as exc:
            raise _TagFailed(match.start(), match.group("full_tag"), exc) from exc


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, content) of the lines that carry statement data, SWIFT envelope removed. Empty lines and
    lone ``-`` are dropped (as the package does), so offsets in the joined text map back to line numbers."""
    out = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.replace("\r", "").rstrip()
        if line.startswith("{"):
            at = line.find("{4:")
            if at < 0:
                continue  # {1:…}{2:…} header lines, {5:…} trailer
            line = line[at + 3:]
        if line.startswith("-}") or line.strip() in ("", "-"):
            continue
        out.append((number, line))
    return out


def _blocks(lines: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    blocks: list[list[tuple[int, str]]] = []
    for number, line in lines:
        if line.startswith(":20:"):
            blocks.append([])
        if blocks:
            blocks[-1].append((number, line))
    return blocks


def _remittance(raw: str | None) -> str | None:
    if not raw:
        return None
    parts = [p.strip() for p in raw.split("\n")]
    out = ""
    for i, part in enumerate(parts):
        if not part:
            continue
        if out:
            full = len(raw.split("\n")[i - 1].rstrip()) >= _LINE_WIDTH
            out += part if full else " " + part
        else:
            out = part
    return out or None


def _signed_balance(balance, currency_out: list, minor_units: MinorUnits, line: int, tag: str) -> tuple[int, date]:
    amount = balance.amount
    currency = (amount.currency or "").upper()
    value = amount_minor(str(abs(Decimal(amount.amount))), currency, minor_units, line=line, tag=tag,
                         what="balance", what_zh="余额")
    currency_out.append(currency)
    return (-value if (balance.status or "").upper() == "D" else value), balance.date


def _statement(block: list[tuple[int, str]], minor_units: MinorUnits) -> Statement:
    numbers = [n for n, _line in block]
    text = "\n".join(line for _n, line in block)
    first_line = numbers[0]
    tags: list[tuple[str, int]] = []  # (tag, line) in order
    for number, line in block:
        m = _TAG.match(line)
        if m:
            tags.append((m.group("tag"), number))
    stmt = _Traced(options=OPTIONS)
    try:
        stmt.parse(text)
    except _TagFailed as exc:
        index = text.count("\n", 0, exc.offset)
        line = numbers[min(index, len(numbers) - 1)]
        en, zh = _reason(exc.cause)
        raise StatementRejected(f"the :{exc.tag}: field cannot be read ({en})", f":{exc.tag}: 字段无法解析（{zh}）",
                                line=line, tag=f":{exc.tag}:") from None

    def line_of(*wanted: str) -> int:
        return next((n for t, n in tags if t in wanted), first_line)

    present = {t for t, _n in tags}
    for needed, names, zh in ((("25",), "account identification", "账户标识"),
                              (("60F", "60M", "60"), "opening balance", "期初余额"),
                              (("62F", "62M", "62"), "closing balance", "期末余额")):
        if not present & set(needed):
            raise StatementRejected(f"the statement starting here has no :{needed[0]}: {names}",
                                    f"自此开始的对账单缺少 :{needed[0]}: {zh}", line=first_line, tag=":20:")
    data = stmt.data
    account = (data.get("account_identification") or "").strip().replace(" ", "")
    if not account:
        raise StatementRejected("the :25: account identification is empty", ":25: 账户标识为空", line=line_of("25"),
                                tag=":25:")
    currencies: list[str] = []
    opening_bal = data.get("final_opening_balance") or data.get("intermediate_opening_balance") \
        or data.get("opening_balance")
    closing_bal = data.get("final_closing_balance") or data.get("intermediate_closing_balance") \
        or data.get("closing_balance")
    opening, from_date = _signed_balance(opening_bal, currencies, minor_units, line_of("60F", "60M", "60"), ":60F:")
    closing, to_date = _signed_balance(closing_bal, currencies, minor_units, line_of("62F", "62M", "62"), ":62F:")
    currency = currencies[0]
    if currencies[1] != currency:
        raise StatementRejected(f"closing balance currency {currencies[1]} differs from the opening balance "
                                f"currency {currency}",
                                f"期末余额币种 {currencies[1]} 与期初余额币种 {currency} 不一致",
                                line=line_of("62F", "62M", "62"), tag=":62F:")
    lines_61 = [n for t, n in tags if t == "61"]
    entries = []
    for i, tx in enumerate(stmt.transactions):
        d = tx.data
        line = lines_61[i] if i < len(lines_61) else first_line
        mark = (d.get("status") or "").upper()
        if mark not in ("C", "D", "RC", "RD"):
            raise StatementRejected(f"debit/credit mark {mark!r} is not C, D, RC or RD",
                                    f"借贷标志 {mark!r} 不是 C、D、RC 或 RD", line=line, tag=":61:")
        value = amount_minor(str(abs(Decimal(d["amount"].amount))), currency, minor_units, line=line, tag=":61:",
                             what="entry amount", what_zh="分录金额")
        value_date = d.get("date")
        booking = d.get("entry_date") or value_date
        customer_ref = (d.get("customer_reference") or "").strip()
        bank_ref = (d.get("bank_reference") or "").strip()
        reference = customer_ref if customer_ref.upper() not in _NONE_REFS else None
        e2e = (d.get("end_to_end_reference") or "").strip()
        if reference is None and e2e and e2e.upper() not in _NONE_REFS:
            reference = e2e
        remittance = _remittance(d.get("transaction_details")) or (d.get("purpose") or "").strip() or \
            (d.get("extra_details") or "").strip() or None
        counterparty = (d.get("applicant_name") or "").strip() or None
        entries.append(Entry(
            booking_date=date(booking.year, booking.month, booking.day),
            value_date=date(value_date.year, value_date.month, value_date.day) if value_date else None,
            direction=CREDIT if mark in ("C", "RD") else DEBIT, amount_minor=value, currency=currency,
            bank_ref=bank_ref if bank_ref.upper() not in _NONE_REFS else "", reference=reference,
            remittance=remittance, counterparty=counterparty, transaction_code=(d.get("id") or "").strip() or None,
            line=line, tag=":61:"))
    fill_missing_refs(account, entries, [i for i, e in enumerate(entries) if not e.bank_ref])
    ref = (data.get("transaction_reference") or "").strip()
    number = data.get("statement_number")
    seq = data.get("sequence_number")
    statement_id = "/".join(p for p in (ref, number, seq) if p) or None
    return Statement(format="mt940", version=None, statement_id=statement_id, account=account, currency=currency,
                     opening_minor=opening, closing_minor=closing,
                     from_date=date(from_date.year, from_date.month, from_date.day) if from_date else None,
                     to_date=date(to_date.year, to_date.month, to_date.day) if to_date else None,
                     entries=entries, line=first_line, tag=":20:")


def _reason(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, RuntimeError) and len(exc.args) >= 3:
        value = str(exc.args[2])[:80]
        return f"{value!r} does not match the field's format", f"{value!r} 不符合该字段格式"
    text = str(exc)[:120] or exc.__class__.__name__
    return text, f"值无效：{text}"


def parse(data: bytes, *, minor_units: MinorUnits | None = None, filename: str | None = None) -> StatementFile:
    """Read an MT940 file (one or more statements); raises :class:`StatementRejected` with line and tag."""
    minor_units = minor_units or default_minor_units
    blocks = _blocks(_lines(_decode(data)))
    if not blocks:
        raise StatementRejected("no statement (:20:) in the file", "文件中没有对账单（:20:）")
    return StatementFile("mt940", None, [_statement(b, minor_units) for b in blocks])
