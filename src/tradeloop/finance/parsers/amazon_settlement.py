"""Amazon Settlement Report V2 flat file (``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2``): tab-separated, read
by header name (Amazon adds columns over time; unknown columns are ignored).

Layout (SP-API "Settlement reports" page; ``standards.md`` §3.2): the first data row is the settlement summary
(``settlement-id``, ``settlement-start-date``, ``settlement-end-date``, ``deposit-date``, ``total-amount``,
``currency``; no ``transaction-type``); every later row is one amount of one transaction: ``transaction-type``
(Order, Refund, ServiceFee, other-transaction …), ``order-id``, ``sku``, ``quantity-purchased``,
``amount-type`` / ``amount-description`` / ``amount`` (ItemPrice/Principal, ItemFees/Commission …),
``posted-date`` / ``posted-date-time``.

The amounts of the rows after the summary add up to ``total-amount`` — the deposit — exactly, in minor
units; a file where they do not is refused with the difference. Rows with ``transaction-type`` Transfer
(written by some third-party exports, not seen in Amazon's own samples) are kept as ``transfer`` items and
left out of that sum.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from tradeloop.finance.money_models import ItemKind
from tradeloop.finance.parsers.payout_common import (
    ParsedFile,
    ParsedItem,
    ParsedPayout,
    amount_minor,
    currency_code,
    missing_columns,
    row_error,
)
from tradeloop.kit.money import AmountError
from tradeloop.kit.tables import FileRejected, ImportRejected, RowError, read_table

SOURCE = "amazon"

#: The 24 columns of the V2 flat file (``standards.md`` §3.2; the SP-API page lists 23, without promotion-id).
COLUMNS = ("settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
           "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
           "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
           "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
           "quantity-purchased", "promotion-id")
REQUIRED = ["settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
            "currency", "transaction-type", "order-id", "amount-type", "amount-description", "amount", "sku",
            "quantity-purchased"]
_KNOWN = set(COLUMNS)

#: amount-description values of the reserve rows.
RESERVE_DESCRIPTIONS = {"previous reserve amount balance", "current reserve amount"}
_TAX = re.compile(r"tax", re.IGNORECASE)
_FEE = re.compile(r"fee|commission|storage|subscription|advertising|closing", re.IGNORECASE)
_REIMBURSE = re.compile(r"reimburse|compensat|reversal|damage|lost|goodwill|correction", re.IGNORECASE)


def kind_of(transaction_type: str, amount_type: str, description: str) -> ItemKind:
    """The item kind of one row (the table in docs/finance.md, "Payouts (settlements)")."""
    tt, at, desc = transaction_type.strip().lower(), amount_type.strip().lower(), description.strip().lower()
    if tt == "transfer":
        return ItemKind.TRANSFER
    if desc in RESERVE_DESCRIPTIONS or "reserve" in desc:
        return ItemKind.RESERVE
    if at == "itemprice":
        if desc == "principal":
            return ItemKind.REFUND if "refund" in tt or "chargeback" in tt else ItemKind.PRINCIPAL
        if _TAX.search(desc):
            return ItemKind.TAX
        if "shipping" in desc:
            return ItemKind.SHIPPING
        return ItemKind.OTHER  # GiftWrap and other charges the buyer paid
    if at == "itemwithheldtax" or at.startswith("tax"):
        return ItemKind.TAX
    if "promotion" in at:
        return ItemKind.PROMOTION
    if at in ("itemfees", "shipmentfees", "orderfees") or _FEE.search(at) or tt == "servicefee":
        return ItemKind.FEE
    if tt in ("other-transaction", "adjustment") or "reimbursement" in at:
        if _REIMBURSE.search(desc) or _REIMBURSE.search(at):
            return ItemKind.ADJUSTMENT
        if _FEE.search(desc):
            return ItemKind.FEE
        return ItemKind.ADJUSTMENT
    if _FEE.search(desc):
        return ItemKind.FEE
    return ItemKind.OTHER


_UTC_SUFFIX = re.compile(r"\s+(UTC|GMT)$", re.IGNORECASE)


def parse_datetime(text: str) -> datetime | None:
    """Amazon writes settlement times as ISO 8601 with an offset (``2003-10-03T16:00:00-07:00`` in Amazon's
    field definitions), ``2025-06-09 05:23:19 UTC`` (posted-date-time in exported samples) or, on some European
    marketplaces, ``19.04.2026 23:26:54 UTC``; a date alone means midnight UTC; a time without a zone is UTC.
    Returns None when the text is none of these."""
    t = (text or "").strip()
    if not t:
        return None
    base = _UTC_SUFFIX.sub("", t) if re.search(r"\s(UTC|GMT)$", t, re.IGNORECASE) else t
    m = re.fullmatch(r"(\d{2})\.(\d{2})\.(\d{4})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?", base)
    try:
        if m:
            d, mo, y, hh, mm, ss = m.groups()
            value = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?", base):
            value = datetime.fromisoformat(base)
        else:
            return None
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def parse_date(text: str) -> date | None:
    """The calendar date as written (the deposit date Amazon names, not shifted to UTC)."""
    value = parse_datetime(text)
    return value.date() if value else None


_BAD_DATE = ("is not a date Amazon writes (ISO 8601, YYYY-MM-DD HH:MM:SS UTC or DD.MM.YYYY HH:MM:SS UTC)",
             "不是亚马逊使用的日期格式（ISO 8601、YYYY-MM-DD HH:MM:SS UTC 或 DD.MM.YYYY HH:MM:SS UTC）")


def parse(filename: str, data: bytes) -> ParsedFile:
    """The file as one payout, or ``ImportRejected`` with every problem found (nothing applied)."""
    try:
        table = read_table(filename, data, lambda h: h.strip().lower() if h.strip().lower() in _KNOWN else None)
    except FileRejected as exc:
        raise ImportRejected([RowError(1, "", filename, exc.en, exc.zh)]) from None
    errors = missing_columns(set(table.columns), REQUIRED)
    if "posted-date" not in table.columns and "posted-date-time" not in table.columns:
        errors.append(row_error(1, "posted-date", "", "the column is missing", "缺少该列"))
    if errors:
        raise ImportRejected(errors, table.encoding)
    if not table.rows:
        raise ImportRejected([row_error(1, "", filename, "the file has no settlement rows", "文件没有结算数据行")],
                             table.encoding)
    summary_row, summary = table.rows[0]
    sid = summary.get("settlement-id", "").strip()
    if not sid:
        errors.append(row_error(summary_row, "settlement-id", "", "is required", "结算编号为必填项"))
    if summary.get("transaction-type", "").strip() or not summary.get("total-amount", "").strip():
        errors.append(row_error(summary_row, "total-amount", summary.get("total-amount", ""),
                                "the first data row must be the settlement summary (total-amount, no "
                                "transaction-type)",
                                "第一行数据应为结算汇总行（有 total-amount，无 transaction-type）"))
    currency = currency_code(summary.get("currency", ""))
    if currency is None:
        errors.append(row_error(summary_row, "currency", summary.get("currency", ""), "is not an ISO 4217 code",
                                "不是有效的ISO 4217币种代码"))
    if errors:
        raise ImportRejected(errors, table.encoding)
    total = None
    try:
        total = amount_minor(summary["total-amount"], currency)
    except AmountError as exc:
        errors.append(row_error(summary_row, "total-amount", summary["total-amount"], exc.en, exc.zh))
    dates = {}
    for col in ("settlement-start-date", "settlement-end-date", "deposit-date"):
        text = summary.get(col, "").strip()
        dates[col] = parse_datetime(text)
        if text and dates[col] is None:
            errors.append(row_error(summary_row, col, text, *_BAD_DATE))
    payout = ParsedPayout(settlement_id=sid, currency=currency, total_minor=total or 0,
                          period_start=dates["settlement-start-date"], period_end=dates["settlement-end-date"],
                          deposit_date=parse_date(summary.get("deposit-date", "")))
    markets = set()
    for number, cells in table.rows[1:]:
        errors.extend(_item(number, cells, sid, currency, payout, markets))
    payout.marketplace = sorted(markets)[0] if len(markets) == 1 else ("multiple" if markets else None)
    if not errors and total is not None and payout.item_total() != total:
        diff = payout.item_total() - total
        errors.append(row_error(summary_row, "total-amount", summary["total-amount"],
                                f"the amounts of the rows add up to {payout.item_total()} minor units but total-amount "
                                f"is {total} (difference {diff:+d}); the file is incomplete or altered",
                                f"各行金额合计为{payout.item_total()}（最小货币单位），与 total-amount {total} 不符"
                                f"（差额 {diff:+d}），文件不完整或被修改"))
    if errors:
        raise ImportRejected(errors, table.encoding)
    return ParsedFile(SOURCE, table.encoding, [payout])


def _item(number: int, cells: dict, sid: str, currency: str, payout: ParsedPayout, markets: set) -> list[RowError]:
    errors = []
    if cells.get("settlement-id", "").strip() not in ("", sid):
        errors.append(row_error(number, "settlement-id", cells["settlement-id"],
                                f"differs from the summary's settlement {sid}: one file is one settlement",
                                f"与汇总行的结算编号{sid}不同：一个文件只能是一个结算"))
    row_currency = cells.get("currency", "").strip().upper()
    if row_currency and row_currency != currency:
        errors.append(row_error(number, "currency", cells["currency"], f"differs from the settlement's {currency}",
                                f"与结算币种{currency}不同"))
    tt, at, desc = (cells.get(k, "").strip() for k in ("transaction-type", "amount-type", "amount-description"))
    if not tt and not at:
        errors.append(row_error(number, "transaction-type", "", "is required (a second summary row?)",
                                "交易类型为必填项（是否有第二个汇总行？）"))
    amount = None
    text = cells.get("amount", "").strip()
    if not text:
        errors.append(row_error(number, "amount", "", "is required", "金额为必填项"))
    else:
        try:
            amount = amount_minor(text, currency)
        except AmountError as exc:
            errors.append(row_error(number, "amount", text, exc.en, exc.zh))
    qty = None
    qtext = cells.get("quantity-purchased", "").strip()
    if qtext:
        if re.fullmatch(r"-?\d+", qtext):
            qty = int(qtext)
        else:
            errors.append(row_error(number, "quantity-purchased", qtext, "must be a whole number", "须为整数"))
    posted = None
    for col in ("posted-date-time", "posted-date"):
        ptext = cells.get(col, "").strip()
        if not ptext:
            continue
        posted = parse_datetime(ptext)
        if posted is not None:
            break
        if col == "posted-date" or not cells.get("posted-date", "").strip():
            errors.append(row_error(number, col, ptext, *_BAD_DATE))
            break
    if cells.get("marketplace-name", "").strip():
        markets.add(cells["marketplace-name"].strip()[:64])
    if errors:
        return errors
    payout.items.append(ParsedItem(
        line_no=number, kind=kind_of(tt, at, desc).value, amount_minor=amount, currency=currency,
        transaction_type=tt[:60] or None, amount_type=at[:60] or None, amount_description=desc[:100] or None,
        order_id=cells.get("order-id", "").strip()[:64] or None, sku=cells.get("sku", "").strip()[:100] or None,
        quantity=qty, posted_at=posted))
    return []
