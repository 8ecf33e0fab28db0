"""Payment firms' payout files (Payoneer, PingPong, LianLian 连连, WorldFirst 万里汇) read through a column
profile: none of these firms publishes a file layout (``standards.md`` §3.2: "no public file/API spec was
found"), so the enterprise says which column holds which field.

A profile maps the fields ``payout_id, date, gross`` (required), ``currency`` (required unless the profile
has a default currency), ``fees, net, order_id, sku, reference, type`` (optional) to column headers, and says
how dates are written (a strptime pattern; empty = ISO 8601), the zone of dates without an offset, the sign
convention (``signed``: amounts carry their sign, net = gross + fees; ``fees_positive``: fees are written as a
positive charge, net = gross − fees), whether amounts use a decimal comma, and which ``type`` values mean
which item kind (default ``principal``).

Rows with the same payout id form one payout; each row gives a gross item (``line_no = row``) and, when
there are fees, a ``fee`` item (``line_no = -row``). When the profile maps ``net``, every row must satisfy
gross ± fees = net exactly in minor units, else the file is refused. The payout's total is the sum of its
items (transfers excluded); its deposit date is the latest row date.

``BUILTIN_PROFILES`` are **starter layouts to adjust, not published formats**: plausible headers for each
firm's export, to be checked against a real file and saved as the enterprise's own profile (same name) when
they differ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradeloop.finance.money_models import ItemKind
from tradeloop.finance.parsers.payout_common import (
    ParsedFile,
    ParsedItem,
    ParsedPayout,
    amount_minor,
    currency_code,
    row_error,
)
from tradeloop.kit.money import AmountError
from tradeloop.kit.tables import FileRejected, ImportRejected, RowError, read_table

#: (field, English label, Chinese label, required)
FIELDS = (
    ("payout_id", "payout id", "结算/提现单号", True),
    ("date", "date", "日期", True),
    ("gross", "gross amount", "交易金额", True),
    ("fees", "fees", "手续费", False),
    ("net", "net amount", "净额", False),
    ("currency", "currency", "币种", False),
    ("order_id", "order id", "订单号", False),
    ("sku", "SKU", "SKU", False),
    ("reference", "reference", "流水号", False),
    ("type", "type", "类型", False),
)
FIELD_KEYS = tuple(f[0] for f in FIELDS)
SIGN_CONVENTIONS = ("signed", "fees_positive")
KINDS = tuple(k.value for k in ItemKind)


@dataclass
class ProfileSpec:
    name: str
    columns: dict[str, str]
    date_format: str | None = None
    timezone: str = "UTC"
    sign_convention: str = "signed"
    decimal_comma: bool = False
    default_currency: str | None = None
    type_map: dict[str, str] = field(default_factory=dict)
    builtin: bool = False


_STARTER_TYPES = {"refund": "refund", "退款": "refund", "chargeback": "refund", "拒付": "refund",
                  "withdrawal": "transfer", "提现": "transfer", "fee": "fee", "手续费": "fee",
                  "adjustment": "adjustment", "调整": "adjustment", "reserve": "reserve", "冻结": "reserve",
                  "解冻": "reserve"}

#: Starter layouts to adjust, not published formats (see the module text).
BUILTIN_PROFILES: dict[str, ProfileSpec] = {
    "payoneer": ProfileSpec("payoneer", {
        "payout_id": "Transaction ID", "date": "Date", "type": "Description", "gross": "Amount", "fees": "Fee",
        "net": "Net Amount", "currency": "Currency", "order_id": "Order ID", "reference": "Reference"},
        date_format="%Y-%m-%d", sign_convention="fees_positive", type_map=_STARTER_TYPES, builtin=True),
    "pingpong": ProfileSpec("pingpong", {
        "payout_id": "提现单号", "date": "创建时间", "type": "交易类型", "gross": "交易金额", "fees": "手续费",
        "net": "到账金额", "currency": "币种", "order_id": "订单号", "reference": "流水号"},
        date_format="%Y-%m-%d %H:%M:%S", timezone="Asia/Shanghai", sign_convention="fees_positive",
        type_map=_STARTER_TYPES, builtin=True),
    "lianlian": ProfileSpec("lianlian", {
        "payout_id": "提现订单号", "date": "交易时间", "type": "业务类型", "gross": "金额", "fees": "手续费",
        "net": "实际到账金额", "currency": "币种", "order_id": "平台订单号", "reference": "交易流水号"},
        date_format="%Y/%m/%d %H:%M:%S", timezone="Asia/Shanghai", sign_convention="fees_positive",
        type_map=_STARTER_TYPES, builtin=True),
    "worldfirst": ProfileSpec("worldfirst", {
        "payout_id": "Payout ID", "date": "Date", "type": "Type", "gross": "Gross Amount", "fees": "Fee",
        "net": "Net Amount", "currency": "Currency", "order_id": "Order Number", "reference": "Reference"},
        date_format="%d/%m/%Y", sign_convention="signed", type_map=_STARTER_TYPES, builtin=True),
}


def check_spec(spec: ProfileSpec) -> list[tuple[str, str, str]]:
    """Problems of a profile as (field, English, Chinese); empty when it can read files."""
    out = []
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{1,39}", spec.name or ""):
        out.append(("name", "must be 2–40 lower-case letters, digits, '_', '-' or '.'",
                    "须为2至40个小写字母、数字或 _ - ."))
    elif spec.name in ("amazon", "paypal"):
        out.append(("name", "amazon and paypal are the built-in report formats", "amazon 和 paypal 为内置报告格式"))
    for key in spec.columns:
        if key not in FIELD_KEYS:
            out.append((f"columns.{key}", "is not a field of a payout profile", "不是结算方案的字段"))
    for key, en, zh, required in FIELDS:
        if required and not (spec.columns.get(key) or "").strip():
            out.append((f"columns.{key}", f"the column of the {en} is required", f"必须填写{zh}所在的列"))
    if not spec.columns.get("currency") and not spec.default_currency:
        out.append(("columns.currency", "map the currency column or give a default currency",
                    "须填写币种所在的列或默认币种"))
    if spec.default_currency and currency_code(spec.default_currency) is None:
        out.append(("default_currency", "is not an ISO 4217 code", "不是有效的ISO 4217币种代码"))
    if spec.sign_convention not in SIGN_CONVENTIONS:
        out.append(("sign_convention", "must be signed or fees_positive", "须为 signed 或 fees_positive"))
    if spec.date_format:
        sample = datetime(2026, 1, 15, 9, 12, 33)
        try:
            ok = "%" in spec.date_format and datetime.strptime(sample.strftime(spec.date_format),
                                                               spec.date_format) is not None
        except ValueError:
            ok = False
        if not ok:
            out.append(("date_format", "must be a strptime pattern such as %d/%m/%Y %H:%M",
                        "应为日期格式，如 %d/%m/%Y %H:%M"))
    try:
        ZoneInfo(spec.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        out.append(("timezone", "is not an IANA time zone such as Asia/Shanghai", "不是有效的时区，如 Asia/Shanghai"))
    for value, kind in (spec.type_map or {}).items():
        if kind not in KINDS:
            out.append((f"type_map.{value}", f"must be one of {', '.join(KINDS)}", f"应为以下之一：{', '.join(KINDS)}"))
    return out


def _datetime(text: str, spec: ProfileSpec) -> datetime | None:
    t = text.strip()
    try:
        value = datetime.strptime(t, spec.date_format) if spec.date_format else datetime.fromisoformat(t)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(spec.timezone or "UTC"))
    return value


def parse(filename: str, data: bytes, spec: ProfileSpec) -> ParsedFile:
    by_header = {h.strip().lower(): key for key, h in spec.columns.items() if h}
    try:
        table = read_table(filename, data, lambda h: by_header.get(h.strip().lower()))
    except FileRejected as exc:
        raise ImportRejected([RowError(1, "", filename, exc.en, exc.zh)]) from None
    errors = [row_error(1, spec.columns[key], "", f"the column of the {en} ({spec.columns[key]}) is missing",
                        f"缺少{zh}所在的列（{spec.columns[key]}）")
              for key, en, zh, _r in FIELDS if spec.columns.get(key) and key not in table.columns]
    if errors:
        raise ImportRejected(errors, table.encoding)
    types = {k.strip().lower(): v for k, v in (spec.type_map or {}).items()}
    payouts: dict[str, ParsedPayout] = {}
    dates: dict[str, list[datetime]] = {}
    for number, cells in table.rows:
        start = len(errors)

        def col(key: str) -> str:
            return spec.columns.get(key, key)

        pid = cells.get("payout_id", "").strip()
        if not pid:
            errors.append(row_error(number, col("payout_id"), "", "is required", "结算/提现单号为必填项"))
        cur_text = cells.get("currency", "").strip() or (spec.default_currency or "")
        currency = currency_code(cur_text)
        if currency is None:
            errors.append(row_error(number, col("currency"), cur_text, "is not an ISO 4217 code",
                                    "不是有效的ISO 4217币种代码"))
        when = _datetime(cells.get("date", ""), spec)
        if when is None:
            errors.append(row_error(number, col("date"), cells.get("date", ""),
                                    f"is not a date in the profile's format ({spec.date_format or 'ISO 8601'})",
                                    f"不是方案规定格式的日期（{spec.date_format or 'ISO 8601'}）"))
        amounts: dict[str, int | None] = {}
        for key in ("gross", "fees", "net"):
            text = cells.get(key, "").strip()
            if not text:
                if key == "gross":
                    errors.append(row_error(number, col(key), "", "is required", "交易金额为必填项"))
                amounts[key] = None
                continue
            if currency is None:
                continue
            try:
                amounts[key] = amount_minor(text, currency, decimal_comma=spec.decimal_comma)
            except AmountError as exc:
                errors.append(row_error(number, col(key), text, exc.en, exc.zh))
        kind = ItemKind.PRINCIPAL.value
        type_text = cells.get("type", "").strip()
        if type_text and type_text.lower() in types:
            kind = types[type_text.lower()]
        if len(errors) > start:
            continue
        gross = amounts["gross"]
        fee = amounts.get("fees")
        if fee is not None and spec.sign_convention == "fees_positive":
            fee = -fee
        if amounts.get("net") is not None and gross + (fee or 0) != amounts["net"]:
            errors.append(row_error(number, col("net"), cells.get("net", ""),
                                    f"gross {cells.get('gross', '')} and fees {cells.get('fees', '') or 0} give "
                                    f"{gross + (fee or 0)} minor units, not the net {amounts['net']}",
                                    f"交易金额与手续费之和为{gross + (fee or 0)}（最小货币单位），"
                                    f"与净额{amounts['net']}不符"))
            continue
        payout = payouts.setdefault(pid, ParsedPayout(settlement_id=pid[:100], currency=currency, total_minor=0,
                                                      marketplace=None))
        if payout.currency != currency:
            errors.append(row_error(number, col("currency"), currency,
                                    f"differs from the {payout.currency} of payout {pid}'s other rows",
                                    f"与结算{pid}其他行的币种{payout.currency}不同"))
            continue
        dates.setdefault(pid, []).append(when)
        common = dict(transaction_type=type_text[:60] or None, amount_description=cells.get("reference", "")[:100]
                      or None, order_id=cells.get("order_id", "")[:64] or None, sku=cells.get("sku", "")[:100] or None,
                      posted_at=when, currency=currency)
        payout.items.append(ParsedItem(line_no=number, kind=kind, amount_minor=gross, amount_type="gross", **common))
        if fee:
            payout.items.append(ParsedItem(line_no=-number, kind=ItemKind.FEE.value, amount_minor=fee,
                                           amount_type="fees", **common))
    if not errors and not payouts:
        errors.append(row_error(1, "", filename, "the file has no payout rows", "文件没有结算数据行"))
    if errors:
        raise ImportRejected(errors, table.encoding)
    for pid, payout in payouts.items():
        payout.total_minor = payout.item_total()
        payout.period_start, payout.period_end = min(dates[pid]), max(dates[pid])
        payout.deposit_date = payout.period_end.date()
    return ParsedFile(spec.name, table.encoding, list(payouts.values()))
