"""PayPal Settlement Report (STL, ``STL-yyyymmdd.sequenceNumber.version.format``) as CSV.

Layout (PayPal "Settlement Report Specification", developer.paypal.com/docs/reports/sftp-reports/
settlement-report; ``standards.md`` §3.2): every record starts with its type — ``RH`` report header (generation
date, reporting window, account id, version), ``FH`` file header, ``SH`` section header (period start, period
end, account id …), ``CH`` the column names of the section's body rows, ``SB`` one transaction, then the
footers and counts ``SF``/``SC``/``RF``/``RC``/``FF``. Body fields are read by the names of the ``CH`` record,
so versions that add columns still read. Amounts are unsigned integers in minor units ("$100.00 USD and
100,00 yen are both 10000"); the direction is in ``Transaction Debit or Credit`` / ``Fee Debit or Credit``
(``CR`` / ``DR``). Dates are written ``2024/08/20 00:01:17 -0700``. The file is UTF-8 (a BOM is allowed
since version 9.0.3 of the specification; GB18030 is read too).

Each section and currency gives one payout, keyed ``<account>:<period start>-<period end>:<currency>``. Each
body row gives an item of the gross amount (kind by T-code, ``T_CODE_KINDS``) and, when there is a fee, a
``fee`` item. Withdrawals to the bank (T04xx) and transfers between accounts are ``transfer`` items; the
payout's total is the net of the other items. Footer and count records are recognised but their figures
are not checked: their field layout could not be confirmed from the sources at hand.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from tradeloop.finance.money_models import ItemKind
from tradeloop.finance.parsers.payout_common import (
    ParsedFile,
    ParsedItem,
    ParsedPayout,
    currency_code,
    row_error,
)
from tradeloop.kit.tables import FileRejected, ImportRejected, RowError, decode

SOURCE = "paypal"
RECORD_TYPES = {"RH", "FH", "SH", "CH", "SB", "SF", "SC", "RF", "RC", "FF"}

#: T-code (or its two-digit group ``T04``) -> item kind of the gross amount. Group meanings from PayPal's
#: "Transaction event codes" reference (developer.paypal.com/docs/reports/reference/tcodes).
T_CODE_KINDS: dict[str, ItemKind] = {
    "T00": ItemKind.PRINCIPAL,  # PayPal account-to-account payments (sales)
    "T01": ItemKind.FEE,  # non-payment-related fees
    "T02": ItemKind.ADJUSTMENT,  # currency conversion
    "T03": ItemKind.TRANSFER,  # bank deposit into the PayPal account
    "T04": ItemKind.TRANSFER,  # bank withdrawal from the PayPal account (the payout to the bank)
    "T05": ItemKind.OTHER,  # debit card
    "T06": ItemKind.OTHER,  # credit card withdrawal
    "T07": ItemKind.OTHER,  # credit card deposit
    "T08": ItemKind.ADJUSTMENT,  # bonus
    "T09": ItemKind.PROMOTION,  # incentives (gift certificates, coupons)
    "T10": ItemKind.OTHER,  # bill pay
    "T11": ItemKind.REFUND,  # reversals (refunds, payment reversals)
    "T1105": ItemKind.RESERVE,  # reversal of a general account hold (hold released)
    "T1108": ItemKind.FEE,  # fee reversal
    "T1110": ItemKind.RESERVE,  # hold for dispute investigation
    "T1111": ItemKind.RESERVE,  # cancellation of hold for dispute resolution
    "T12": ItemKind.ADJUSTMENT,  # adjustments
    "T1201": ItemKind.REFUND,  # chargeback
    "T13": ItemKind.OTHER,  # authorisations
    "T14": ItemKind.ADJUSTMENT,  # dividends
    "T15": ItemKind.RESERVE,  # temporary holds (T1503 hold on available balance …)
    "T16": ItemKind.OTHER,  # buyer credit deposit
    "T17": ItemKind.TRANSFER,  # non-bank withdrawal
    "T18": ItemKind.OTHER,  # buyer credit withdrawal
    "T19": ItemKind.ADJUSTMENT,  # account correction
    "T20": ItemKind.TRANSFER,  # funds transfer between PayPal accounts
    "T21": ItemKind.RESERVE,  # funds payable (held / released)
    "T22": ItemKind.ADJUSTMENT,  # funds receivable
    "T30": ItemKind.OTHER,  # collections
    "T50": ItemKind.OTHER,  # orders
    "T97": ItemKind.OTHER,
    "T98": ItemKind.OTHER,
    "T99": ItemKind.OTHER,
}

# Body columns, by normalised CH name.
ID, INVOICE, EVENT, INIT, DONE = ("transaction id", "invoice id", "transaction event code",
                                  "transaction initiation date", "transaction completion date")
DC, GROSS, CUR = "transaction debit or credit", "gross transaction amount", "gross transaction currency"
FEE_DC, FEE, FEE_CUR, CUSTOM = "fee debit or credit", "fee amount", "fee currency", "custom field"
REQUIRED = [ID, EVENT, DC, GROSS, CUR]


def kind_of(code: str) -> ItemKind:
    return T_CODE_KINDS.get(code, T_CODE_KINDS.get(code[:3], ItemKind.OTHER))


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name.strip()).lower()


def parse_datetime(text: str) -> datetime | None:
    t = (text or "").strip()
    for fmt in ("%Y/%m/%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S %z", "%Y/%m/%d %H:%M:%S%z"):
        try:
            return datetime.strptime(t, fmt)
        except ValueError:
            continue
    try:
        value = datetime.fromisoformat(t)
    except ValueError:
        return None
    return value if value.tzinfo else None


class _Section:
    def __init__(self, row: int, account: str, start: datetime | None, end: datetime | None):
        self.row, self.account, self.start, self.end = row, account, start, end
        self.columns: dict[str, int] | None = None
        self.payouts: dict[str, ParsedPayout] = {}


def _signed(row: int, column: str, amount: str, direction: str, errors: list[RowError]) -> int | None:
    if not re.fullmatch(r"\d+", amount):
        errors.append(row_error(row, column, amount, "must be an unsigned whole number of minor units",
                                "须为无符号整数（最小货币单位）"))
        return None
    d = direction.strip().upper()
    if d not in ("CR", "DR"):
        errors.append(row_error(row, column.replace("Amount", "Debit or Credit"), direction, "must be CR or DR",
                                "须为 CR 或 DR"))
        return None
    return int(amount) if d == "CR" else -int(amount)


def parse(filename: str, data: bytes) -> ParsedFile:
    if not data:
        raise ImportRejected([RowError(1, "", filename, "the file is empty", "文件为空")])
    try:
        text, encoding = decode(data)
    except FileRejected as exc:
        raise ImportRejected([RowError(1, "", filename, exc.en, exc.zh)]) from None
    records = [r for r in csv.reader(io.StringIO(text, newline=""))]
    errors: list[RowError] = []
    sections: list[_Section] = []
    report_date = None
    account = ""
    first = next((r for r in records if any(c.strip() for c in r)), None)
    if first is None or first[0].strip() != "RH":
        raise ImportRejected([RowError(1, "Column Type", first[0] if first else "", "a PayPal settlement report "
                                       "starts with its RH record", "PayPal结算报告应以 RH 记录开头")], encoding)
    for number, rec in enumerate(records, start=1):
        if not any(c.strip() for c in rec):
            continue
        kind = rec[0].strip()
        if kind not in RECORD_TYPES:
            errors.append(row_error(number, "Column Type", kind, "is not a record type of the settlement report "
                                    "(RH FH SH CH SB SF SC RF RC FF)", "不是结算报告的记录类型"))
            continue
        if kind == "RH":
            report_date = parse_datetime(rec[1]) if len(rec) > 1 else None
            account = rec[3].strip() if len(rec) > 3 else ""
        elif kind == "SH":
            start = parse_datetime(rec[1]) if len(rec) > 1 else None
            end = parse_datetime(rec[2]) if len(rec) > 2 else None
            for i, value in ((1, start), (2, end)):
                if len(rec) > i and rec[i].strip() and value is None:
                    errors.append(row_error(number, "SH", rec[i], "is not a date (YYYY/MM/DD HH:MM:SS +HHMM)",
                                            "不是有效日期（YYYY/MM/DD HH:MM:SS +HHMM）"))
            sections.append(_Section(number, (rec[3].strip() if len(rec) > 3 else "") or account, start, end))
        elif kind == "CH":
            if not sections:
                sections.append(_Section(number, account, report_date, report_date))
            columns = {_norm(name): i for i, name in enumerate(rec) if i and name.strip()}
            missing = [c for c in REQUIRED if c not in columns]
            for c in missing:
                errors.append(row_error(number, c.title().replace("Id", "ID"), "", "the column is missing",
                                        "缺少该列"))
            sections[-1].columns = None if missing else columns
        elif kind == "SB":
            if not sections or sections[-1].columns is None:
                if not errors:
                    errors.append(row_error(number, "Column Type", kind, "a body row before its CH column names",
                                            "数据行出现在 CH 列名记录之前"))
                continue
            _body(number, rec, sections[-1], errors)
    if not errors and not any(s.payouts for s in sections):
        errors.append(row_error(1, "", filename, "the report has no transactions (SB records)",
                                "报告中没有交易记录（SB）"))
    if errors:
        raise ImportRejected(errors, encoding)
    payouts = []
    for s in sections:
        for cur, p in s.payouts.items():
            span = "-".join(d.strftime("%Y%m%d") for d in (s.start, s.end) if d) or "undated"
            p.settlement_id = f"{s.account or 'paypal'}:{span}:{cur}"[:100]
            p.period_start, p.period_end = s.start, s.end
            p.deposit_date = s.end.date() if s.end else (report_date.date() if report_date else None)
            p.total_minor = p.item_total()
            payouts.append(p)
    return ParsedFile(SOURCE, encoding, payouts)


def _body(number: int, rec: list[str], section: _Section, errors: list[RowError]) -> None:
    cols = section.columns

    def cell(name: str) -> str:
        i = cols.get(name)
        return rec[i].strip() if i is not None and i < len(rec) else ""

    start = len(errors)
    code = cell(EVENT).upper()
    if not re.fullmatch(r"T\d{4}", code):
        errors.append(row_error(number, "Transaction Event Code", code, "is not a T-code (T0000 … T9999)",
                                "不是交易事件代码（T0000 … T9999）"))
    currency = currency_code(cell(CUR))
    if currency is None:
        errors.append(row_error(number, "Gross Transaction Currency", cell(CUR), "is not an ISO 4217 code",
                                "不是有效的ISO 4217币种代码"))
    gross = _signed(number, "Gross Transaction Amount", cell(GROSS), cell(DC), errors)
    fee = None
    fee_text = cell(FEE)
    fee_currency = currency_code(cell(FEE_CUR)) or currency
    if fee_text and fee_text.strip("0"):
        fee = _signed(number, "Fee Amount", fee_text, cell(FEE_DC), errors)
    posted_text = cell(DONE) or cell(INIT)
    posted = parse_datetime(posted_text) if posted_text else None
    if posted_text and posted is None:
        errors.append(row_error(number, "Transaction Completion Date" if cell(DONE) else "Transaction Initiation Date",
                                posted_text, "is not a date (YYYY/MM/DD HH:MM:SS +HHMM)",
                                "不是有效日期（YYYY/MM/DD HH:MM:SS +HHMM）"))
    if len(errors) > start:
        return
    common = dict(transaction_type=code, amount_description=cell(ID)[:100] or None,
                  order_id=(cell(INVOICE) or cell(CUSTOM))[:64] or None, posted_at=posted)
    payout = section.payouts.setdefault(currency, ParsedPayout(settlement_id="", currency=currency, total_minor=0,
                                                               marketplace="PayPal"))
    payout.items.append(ParsedItem(line_no=number, kind=kind_of(code).value, amount_minor=gross, currency=currency,
                                   amount_type="gross", **common))
    if fee is not None:
        target = payout if fee_currency == currency else section.payouts.setdefault(
            fee_currency, ParsedPayout(settlement_id="", currency=fee_currency, total_minor=0, marketplace="PayPal"))
        target.items.append(ParsedItem(line_no=-number, kind=ItemKind.FEE.value, amount_minor=fee,
                                       currency=fee_currency, amount_type="fee", **common))
