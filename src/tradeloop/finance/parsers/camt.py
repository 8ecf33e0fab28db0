"""ISO 20022 camt.053 (BankToCustomerStatement, ``BkToCstmrStmt``) and camt.054 (BankToCustomerDebitCredit-
Notification, ``BkToCstmrDbtCdtNtfctn``), any version (.001.02 to .001.13 seen in the wild; CBPR+ uses .08).

Elements are found by their local names, so one reader serves every version; the version is taken from the
namespace (``urn:iso:std:iso:20022:tech:xsd:camt.053.001.08`` -> ``camt.053.001.08``). The few places where
versions differ are handled explicitly: the entry status is ``<Sts>BOOK</Sts>`` up to .07 and
``<Sts><Cd>BOOK</Cd></Sts>`` from .08; a related party's name is ``Dbtr/Nm`` up to .07 and ``Dbtr/Pty/Nm`` from
.08; the net total is ``TtlNtries/TtlNetNtryAmt`` in .02 and ``TtlNtries/TtlNetNtry/Amt`` later.

What is read, per statement (``Stmt``) or notification (``Ntfctn``): ``Id``, the account (``Acct/Id/IBAN`` or
``Acct/Id/Othr/Id``) and currency (``Acct/Ccy``, else the balances'), the booked balances (``Bal`` of type
``OPBD`` — or ``PRCD``, the previous closing — and ``CLBD``), ``FrToDt``, the control totals of ``TxsSummry``
(``TtlNtries``, ``TtlCdtNtries``, ``TtlDbtNtries``: ``NbOfNtries`` and ``Sum``), and every entry (``Ntry``):
``Amt``/``@Ccy``, ``CdtDbtInd``, ``Sts``, ``BookgDt``, ``ValDt``, ``AcctSvcrRef`` (else ``NtryRef``), ``BkTxCd``,
``AddtlNtryInf`` and its transaction details (``NtryDtls/TxDtls``: ``Refs/EndToEndId``, ``RmtInf/Ustrd``,
``RmtInf/Strd/CdtrRefInf/Ref``, the debtor or creditor name). A batched entry (several ``TxDtls``) stays one
entry, as it was booked, with the references, texts and names of its transactions joined.

The XML is parsed by :func:`tradeloop.customs.ceb.safe.parse`: a DOCTYPE (and so any entity) is refused, the
parser resolves nothing and reaches no network.
"""

from __future__ import annotations

import re
from datetime import date

from lxml import etree

from tradeloop.finance.parsers import (
    CREDIT,
    DEBIT,
    DeclaredTotal,
    Entry,
    MinorUnits,
    Statement,
    StatementFile,
    StatementRejected,
    amount_minor,
    default_minor_units,
    fill_missing_refs,
)

MESSAGES = {"BkToCstmrStmt": ("camt.053", "Stmt"), "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn")}
_VERSION = re.compile(r"camt\.05[2-4]\.\d{3}\.\d{2}")
_NOT_PROVIDED = {"NOTPROVIDED", "NONREF", ""}


def _local(el) -> str | None:
    return etree.QName(el).localname if isinstance(el.tag, str) else None


def _children(el, name: str) -> list:
    return [c for c in el.iterchildren() if isinstance(c.tag, str) and _local(c) == name] if el is not None else []


def _child(el, *path: str):
    for name in path:
        if el is None:
            return None
        found = _children(el, name)
        el = found[0] if found else None
    return el


def _text(el, *path: str) -> str | None:
    node = _child(el, *path)
    if node is None or node.text is None:
        return None
    value = " ".join(node.text.split())
    return value or None


def _date(el, *path: str) -> date | None:
    """``<X><Dt>2026-03-14</Dt></X>`` or ``<X><DtTm>2026-03-14T09:00:00+01:00</DtTm></X>``: the date as the
    bank wrote it (a DtTm keeps its own day, not converted to UTC)."""
    node = _child(el, *path)
    if node is None:
        return None
    for name in ("Dt", "DtTm"):
        value = _text(node, name)
        if value:
            return _parse_date(value, node)
    if node.text and node.text.strip():  # FrDtTm / ToDtTm carry the value directly
        return _parse_date(node.text.strip(), node)
    return None


def _parse_date(value: str, node) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise StatementRejected(f"<{_local(node)}> {value!r} is not a date (YYYY-MM-DD)",
                                f"<{_local(node)}> {value!r} 不是日期（YYYY-MM-DD）", line=node.sourceline) from None


def _party_name(tx, role: str) -> str | None:
    party = _child(tx, "RltdPties", role)
    if party is None:
        return None
    return _text(party, "Pty", "Nm") or _text(party, "Nm")  # .08+: Pty/Nm; up to .07: Nm


def _bank_code(entry) -> str | None:
    code = _child(entry, "BkTxCd")
    if code is None:
        return None
    domain = _text(code, "Domn", "Cd")
    if domain:
        parts = [domain, _text(code, "Domn", "Fmly", "Cd"), _text(code, "Domn", "Fmly", "SubFmlyCd")]
        return "/".join(p for p in parts if p)
    return _text(code, "Prtry", "Cd")


def _join(values, sep: str) -> str | None:
    seen: list[str] = []
    for v in values:
        if v and v not in seen:
            seen.append(v)
    return sep.join(seen) or None


def _amount(el, currency: str, minor_units: MinorUnits, what: str, what_zh: str) -> int:
    return amount_minor(el.text if el is not None else None, currency, minor_units,
                        line=el.sourceline if el is not None else None, what=what, what_zh=what_zh)


def _signed_balance(bal, minor_units: MinorUnits) -> tuple[int, str]:
    amt = _child(bal, "Amt")
    if amt is None or not amt.get("Ccy"):
        raise StatementRejected("a balance <Bal> without <Amt Ccy=…>", "余额 <Bal> 缺少 <Amt Ccy=…>",
                                line=bal.sourceline)
    currency = amt.get("Ccy").strip().upper()
    value = _amount(amt, currency, minor_units, "balance", "余额")
    ind = _text(bal, "CdtDbtInd")
    if ind not in ("CRDT", "DBIT"):
        raise StatementRejected(f"balance <CdtDbtInd> {ind!r} is not CRDT or DBIT",
                                f"余额借贷标志 <CdtDbtInd> {ind!r} 不是 CRDT 或 DBIT", line=bal.sourceline)
    return (value if ind == "CRDT" else -value), currency


def _declared(stmt, currency: str, minor_units: MinorUnits) -> list[DeclaredTotal]:
    summary = _child(stmt, "TxsSummry")
    out = []
    for name, kind in (("TtlNtries", "all"), ("TtlCdtNtries", "credit"), ("TtlDbtNtries", "debit")):
        node = _child(summary, name)
        if node is None:
            continue
        count_text = _text(node, "NbOfNtries")
        if count_text is not None and not count_text.isdigit():
            raise StatementRejected(f"<{name}/NbOfNtries> {count_text!r} is not a number",
                                    f"<{name}/NbOfNtries> {count_text!r} 不是数字", line=node.sourceline)
        sum_el = _child(node, "Sum")
        total = _amount(sum_el, currency, minor_units, f"{name}/Sum", f"{name}/Sum") if sum_el is not None else None
        out.append(DeclaredTotal(kind, int(count_text) if count_text is not None else None, total, node.sourceline))
    return out


def _entry(ntry, account_currency: str, minor_units: MinorUnits) -> Entry:
    line = ntry.sourceline
    amt = _child(ntry, "Amt")
    if amt is None or not (amt.get("Ccy") or "").strip():
        raise StatementRejected("an entry <Ntry> without <Amt Ccy=…>", "分录 <Ntry> 缺少 <Amt Ccy=…>", line=line)
    currency = amt.get("Ccy").strip().upper()
    if currency != account_currency:
        raise StatementRejected(f"entry currency {currency} differs from the account currency {account_currency}",
                                f"分录币种 {currency} 与账户币种 {account_currency} 不一致", line=amt.sourceline)
    value = _amount(amt, currency, minor_units, "entry amount", "分录金额")
    ind = _text(ntry, "CdtDbtInd")
    if ind not in ("CRDT", "DBIT"):
        raise StatementRejected(f"entry <CdtDbtInd> {ind!r} is not CRDT or DBIT",
                                f"分录借贷标志 <CdtDbtInd> {ind!r} 不是 CRDT 或 DBIT", line=line)
    status = _text(ntry, "Sts", "Cd") or _text(ntry, "Sts") or "BOOK"
    booked = status == "BOOK"
    booking = _date(ntry, "BookgDt")
    value_date = _date(ntry, "ValDt")
    if booking is None:
        if booked:
            raise StatementRejected("a booked entry without <BookgDt>", "已记账分录缺少记账日期 <BookgDt>", line=line)
        booking = value_date or date.min
    direction = CREDIT if ind == "CRDT" else DEBIT
    txs = [tx for details in _children(ntry, "NtryDtls") for tx in _children(details, "TxDtls")]
    refs = []
    for tx in txs:
        e2e = _text(tx, "Refs", "EndToEndId")
        refs.append(e2e if e2e and e2e.upper() not in _NOT_PROVIDED else
                    _text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref") or _text(tx, "Refs", "InstrId"))
    texts = []
    for tx in txs:
        ustrd = [" ".join(u.text.split()) for rmt in _children(tx, "RmtInf") for u in _children(rmt, "Ustrd")
                 if u.text and u.text.strip()]
        texts.append(" ".join(ustrd) or _text(tx, "AddtlTxInf"))
    names = [_party_name(tx, "Dbtr" if direction == CREDIT else "Cdtr") or
             _party_name(tx, "UltmtDbtr" if direction == CREDIT else "UltmtCdtr") for tx in txs]
    bank_ref = _text(ntry, "AcctSvcrRef") or _text(ntry, "NtryRef")
    if not bank_ref and len(txs) == 1:
        bank_ref = _text(txs[0], "Refs", "AcctSvcrRef")
    return Entry(booking_date=booking, value_date=value_date, direction=direction, amount_minor=value,
                 currency=currency, bank_ref=bank_ref or "", reference=_join(refs, "; "),
                 remittance=_join(texts, "\n") or _text(ntry, "AddtlNtryInf"), counterparty=_join(names, "; "),
                 transaction_code=_bank_code(ntry), booked=booked, line=line)


def _statement(stmt, fmt: str, version: str | None, minor_units: MinorUnits) -> Statement:
    line = stmt.sourceline
    acct = _child(stmt, "Acct")
    account = _text(acct, "Id", "IBAN") or _text(acct, "Id", "Othr", "Id")
    if not account:
        raise StatementRejected("no account (<Acct><Id><IBAN> or <Othr><Id>)",
                                "缺少账户（<Acct><Id><IBAN> 或 <Othr><Id>）", line=line)
    account = account.replace(" ", "")
    opening = closing = None
    opening_day = closing_day = None
    currency = (_text(acct, "Ccy") or "").upper() or None
    bal_currency = None
    for bal in _children(stmt, "Bal"):
        code = _text(bal, "Tp", "CdOrPrtry", "Cd") or _text(bal, "Tp", "CdOrPrtry", "Prtry")
        if code not in ("OPBD", "PRCD", "CLBD"):
            continue
        value, ccy = _signed_balance(bal, minor_units)
        if currency and ccy != currency:
            raise StatementRejected(f"balance currency {ccy} differs from the account currency {currency}",
                                    f"余额币种 {ccy} 与账户币种 {currency} 不一致", line=bal.sourceline)
        bal_currency = bal_currency or ccy
        if code == "CLBD" and closing is None:
            closing, closing_day = value, _date(bal, "Dt")
        elif code in ("OPBD", "PRCD") and (opening is None or code == "OPBD"):
            opening, opening_day = value, _date(bal, "Dt")
    entries_el = _children(stmt, "Ntry")
    if currency is None:
        currency = bal_currency
    if currency is None and entries_el:
        amt = _child(entries_el[0], "Amt")
        currency = (amt.get("Ccy") or "").strip().upper() if amt is not None else None
    if not currency:
        raise StatementRejected("the account currency is not stated (<Acct><Ccy>, a balance or an entry)",
                                "未说明账户币种（<Acct><Ccy>、余额或分录）", line=line)
    if minor_units(currency) is None:
        raise StatementRejected(f"{currency!r} is not an ISO 4217 currency code",
                                f"{currency!r} 不是 ISO 4217 币种代码", line=line)
    entries = [_entry(n, currency, minor_units) for n in entries_el]
    missing = [i for i, e in enumerate(entries) if not e.bank_ref]
    fill_missing_refs(account, entries, missing)
    from_date = _date(stmt, "FrToDt", "FrDtTm") or opening_day
    to_date = _date(stmt, "FrToDt", "ToDtTm") or closing_day
    booked_days = [e.booking_date for e in entries if e.booked]
    if from_date is None and booked_days:
        from_date = min(booked_days)
    if to_date is None and booked_days:
        to_date = max(booked_days)
    return Statement(format=fmt, version=version, statement_id=_text(stmt, "Id"), account=account,
                     currency=currency, opening_minor=opening, closing_minor=closing, from_date=from_date,
                     to_date=to_date, entries=entries, declared=_declared(stmt, currency, minor_units), line=line)


def parse(data: bytes, *, minor_units: MinorUnits | None = None, filename: str | None = None) -> StatementFile:
    """Read a camt.053 or camt.054 document; raises :class:`StatementRejected` with the line."""
    from tradeloop.customs.ceb.safe import CebRefused
    from tradeloop.customs.ceb.safe import parse as safe_parse

    minor_units = minor_units or default_minor_units
    try:
        root = safe_parse(data, source=filename or "statement")
    except CebRefused as exc:
        reason = exc.message.split(": ", 1)[1] if ": " in exc.message else exc.message
        if exc.kind == "unsafe":
            raise StatementRejected("the document has a DOCTYPE (entities, external references), which bank "
                                    "statements never have; refused unread",
                                    "文件含 DOCTYPE（实体、外部引用），银行对账单不应包含，已拒绝读取",
                                    line=1) from None
        if exc.kind == "too_large":
            raise StatementRejected(reason, "文件超过大小上限") from None
        found = re.search(r"malformed XML at line (\d+)(?:, column (\d+))?: (.*)", reason, re.DOTALL)
        if found is None:
            raise StatementRejected(reason, f"XML 格式错误：{reason}") from None
        line = int(found.group(1))
        where = f"line {line}, column {found.group(2)}" if found.group(2) else f"line {line}"
        detail = re.sub(r"(?:,)? line \d+$", "", found.group(3).strip())
        raise StatementRejected(f"malformed XML: {detail}", f"XML 格式错误：{detail}", line=line,
                                where=where) from None
    message = next((c for c in root.iterchildren() if isinstance(c.tag, str)), None)
    name = _local(message) if message is not None else None
    if _local(root) != "Document" or name not in MESSAGES:
        raise StatementRejected("not a camt.053 or camt.054 document (Document/BkToCstmrStmt or "
                                "Document/BkToCstmrDbtCdtNtfctn)",
                                "不是 camt.053 或 camt.054 文件"
                                "（Document/BkToCstmrStmt 或 Document/BkToCstmrDbtCdtNtfctn）",
                                line=(message if message is not None else root).sourceline)
    fmt, item = MESSAGES[name]
    found = _VERSION.search(etree.QName(root).namespace or "")
    version = found.group(0) if found else None
    if version and not version.startswith(fmt):
        raise StatementRejected(f"the namespace says {version} but the message is {name} ({fmt})",
                                f"命名空间为 {version}，但报文为 {name}（{fmt}）", line=root.sourceline)
    items = _children(message, item)
    if not items:
        raise StatementRejected(f"no <{item}> in the document", f"文件中没有 <{item}>", line=message.sourceline)
    return StatementFile(fmt, version, [_statement(s, fmt, version, minor_units) for s in items])
