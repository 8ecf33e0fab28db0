"""Proceeds and FX pages (收汇结汇): bank entries with the manual matching page and its suggestions, statement
and settlement uploads, payouts, FX settlements (结汇) and the exchange rates with their chart and converter.

Every change goes through the services of issue 6 (``statements``, ``payouts``, ``matching``, ``rates``), the
same functions the JSON API calls; pages only read the repositories and format. Money is shown from minor
units with the currency's own number of decimals; amounts typed into a form are read in the currency's units
and refused (not rounded) when they have more decimals than the currency.
"""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from fastapi import APIRouter, File, Form, Request, UploadFile

from tradeloop.finance import matching, payouts, rates, statements
from tradeloop.finance.match_repository import MatchRepository
from tradeloop.finance.models import RateSource
from tradeloop.finance.money_models import BankEntry, EntryStatus, ItemKind, Payout
from tradeloop.finance.parsers import StatementRejected
from tradeloop.finance.parsers.profiles import BUILTIN_PROFILES
from tradeloop.finance.payout_repository import PayoutProfileRepository, PayoutRepository
from tradeloop.finance.repository import RateRepository
from tradeloop.finance.statement_repository import StatementRepository
from tradeloop.kit.errors import Conflict, FieldError, ValidationFailed
from tradeloop.kit.i18n import N_, locale_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.money import AmountError, to_minor
from tradeloop.kit.pages import (
    PER_PAGE_CHOICES,
    OffsetPage,
    date_param,
    error_messages,
    flash,
    int_param,
    offset_page,
    redirect,
    uuid_param,
    xlsx_response,
)
from tradeloop.kit.tables import ImportRejected, to_csv
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.loop.pages import Money

router = APIRouter()

ENTRY_STATUS_LABELS = {"unmatched": N_("Unmatched"), "partial": N_("Partly matched"), "matched": N_("Matched"),
                       "ignored": N_("Ignored (not a sales receipt)")}
ENTRY_STATUS_BADGES = {"unmatched": "warn", "partial": "", "matched": "ok", "ignored": "off"}
PAYOUT_STATUS_LABELS = {"open": N_("Not received"), "partial": N_("Partly received"), "received": N_("Received")}
PAYOUT_STATUS_BADGES = {"open": "warn", "partial": "", "received": "ok"}
DIRECTION_LABELS = {"credit": N_("Credit (money in)"), "debit": N_("Debit (money out)")}
METHOD_LABELS = {"reference": N_("By reference"), "exact": N_("Exact amount"),
                 "tolerance": N_("Within the fee tolerance"), "many_to_one": N_("Several payouts in one credit"),
                 "manual": N_("By hand")}
KIND_LABELS = {"principal": N_("Item price"), "tax": N_("Tax"), "shipping": N_("Shipping"),
               "promotion": N_("Promotions"), "fee": N_("Fees"), "refund": N_("Refunds"), "reserve": N_("Reserve"),
               "adjustment": N_("Adjustments"), "transfer": N_("Transfer to the bank"), "other": N_("Other")}
SOURCE_LABELS = {"cfets": N_("CFETS central parity (人民币汇率中间价)"), "ecb": N_("ECB reference rate"),
                 "customs": N_("Customs monthly conversion rate"), "manual": N_("Entered by hand"),
                 "identity": N_("CNY itself")}
RULE_LABELS = {"sale_date": N_("Rate of the day (sales, payouts)"),
               "customs_month": N_("Customs rate of the export month (declaration FOB)")}
CHANNEL_LABELS = {"amazon": N_("Amazon settlement report V2 (flat file)"), "paypal": N_("PayPal settlement (STL CSV)")}
RATE_COLOURS = {"cfets": "#b42318", "ecb": "#2f6db5", "customs": "#3c9d5d", "manual": "#e0a100"}
ENTRY_SORTS = {"booking_date": BankEntry.booking_date, "amount": BankEntry.amount_minor,
               "currency": BankEntry.currency, "status": BankEntry.status}
PAYOUT_SORTS = {"deposit_date": Payout.deposit_date, "total": Payout.total_minor, "status": Payout.status,
                "source": Payout.source, "currency": Payout.currency}
#: What an Excel export or a detail page holds at most.
EXPORT_LIMIT = 50_000
ITEMS_SHOWN = 500
#: How many foreign-currency credits the FX settlement form offers.
SETTLEABLE_SHOWN = 200


def _label(table: dict, key: str | None) -> str:
    return _(table[key]) if key in table else (key or "")


def rule_text(rule: str) -> str:
    en, zh = rates.RULES[rule]
    return en if locale_var.get() == "en" else zh


def _helpers(db) -> dict:
    return {"money": Money(db), "entry_status_label": lambda s: _label(ENTRY_STATUS_LABELS, s),
            "entry_badge": lambda s: ENTRY_STATUS_BADGES.get(s, ""),
            "payout_status_label": lambda s: _label(PAYOUT_STATUS_LABELS, s),
            "payout_badge": lambda s: PAYOUT_STATUS_BADGES.get(s, ""),
            "direction_label": lambda s: _label(DIRECTION_LABELS, s),
            "method_label": lambda s: _label(METHOD_LABELS, s), "kind_label": lambda s: _label(KIND_LABELS, s),
            "source_label": lambda s: _label(SOURCE_LABELS, s), "rule_label": lambda s: _label(RULE_LABELS, s),
            "rule_text": rule_text, "zh": locale_var.get() != "en"}


def _digits(db, currency: str) -> int | None:
    return Money(db).refs.minor_units(currency) if currency else None


def _amount(errors: list[FieldError], field: str, text: str | None, digits: int | None, *,
            required: bool = False) -> int | None:
    """A typed amount in the currency's units -> minor units; problems are added to ``errors``."""
    text = (text or "").strip()
    if not text:
        if required:
            errors.append(FieldError(field, "is required", "须填写"))
        return None
    try:
        return to_minor(text, 2 if digits is None else digits)
    except AmountError as exc:
        errors.append(FieldError(field, exc.en, exc.zh))
        return None


def _renamed(messages: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """A service's field names (``amount_minor``) as the form's (``amount``)."""
    out: dict[str, str] = {}
    for key, text in messages.items():
        key = names.get(key, key)
        out[key] = f"{out[key]}；{text}" if key in out else text
    return out


def _row_error_report(exc: ImportRejected) -> dict:
    zh = locale_var.get() != "en"
    report = to_csv([_("Row"), _("Column"), _("Value"), _("Problem")],
                    ([e.row, e.column, e.value, e.message_zh if zh else e.message_en] for e in exc.row_errors))
    return {"row_errors": exc.row_errors,
            "report_href": "data:text/csv;charset=utf-8;base64," + base64.b64encode(report).decode()}


def _read_upload(request: Request, file: UploadFile) -> bytes | None:
    limit = request.app.state.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    return None if len(data) > limit else data


# --- bank entries (收汇) --------------------------------------------------------------------------------


def _entry_filters(params: dict) -> dict:
    status = params.get("status") if params.get("status") in ENTRY_STATUS_LABELS else None
    direction = params.get("direction") if params.get("direction") in DIRECTION_LABELS else None
    currency = (params.get("currency") or "").strip().upper()[:3] or None
    return {"status": status, "direction": direction, "currency": currency,
            "date_from": date_param(params.get("date_from")), "date_to": date_param(params.get("date_to")),
            "statement_id": uuid_param(params.get("statement")), "q": (params.get("q") or "").strip() or None}


def entry_totals(rows: list[tuple[str, str, int, int, int]]) -> list[dict]:
    """Per currency of the filtered entries: credits and debits (count, sum) and the matched part of credits,
    from ``StatementRepository.entry_totals``."""
    out: dict[str, dict] = defaultdict(lambda: {"credit_count": 0, "credit": 0, "debit_count": 0, "debit": 0,
                                                "matched": 0})
    for currency, direction, count, total, matched in rows:
        t = out[currency]
        t[f"{direction}_count"], t[direction] = count, total
        if direction == "credit":
            t["matched"] = matched
    return [{"currency": c, **out[c]} for c in sorted(out)]


@router.get("/finance/bank-entries")
def entries_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = StatementRepository(db, principal)
    filters = _entry_filters(params)
    page = offset_page(db, repo.entries(**filters), sort_columns=ENTRY_SORTS, sort=params.get("sort"),
                       desc=params.get("desc", "1") == "1", page=int_param(params, "page", 1),
                       per_page=int_param(params, "per_page", 20), default_sort="booking_date")
    statement = repo.find_statement(filters["statement_id"]) if filters["statement_id"] else None
    return render(request, "finance/entries.html", {
        "active": "finance", "tab": "entries", "page": page, "params": params,
        "totals": entry_totals(repo.entry_totals(**filters)), "currencies": repo.currencies(),
        "statement": statement,
        "statuses": list(ENTRY_STATUS_LABELS), "directions": list(DIRECTION_LABELS),
        "can_write": principal.can(Action.WRITE), **_helpers(db)})


@router.get("/finance/bank-entries.xlsx")
def entries_export(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    money = Money(db)
    rows = StatementRepository(db, principal).latest_entries(limit=EXPORT_LIMIT, **_entry_filters(params))
    header = [_("Booking date"), _("Value date"), _("Direction"), _("Amount"), _("Currency"), _("Matched"),
              _("Status"), _("Account"), _("Bank reference"), _("Reference"), _("Counterparty"), _("Remittance text"),
              _("Transaction code")]

    def lines():
        for e in rows:
            yield [e.booking_date, e.value_date, _label(DIRECTION_LABELS, e.direction),
                   money.amount(e.amount_minor, e.currency), e.currency, money.amount(e.matched_minor, e.currency),
                   _label(ENTRY_STATUS_LABELS, e.status), e.account, e.bank_ref, e.reference or "",
                   e.counterparty or "", e.remittance or "", e.transaction_code or ""]

    return xlsx_response("bank-entries.xlsx", header, lines())


@router.post("/finance/bank-entries/auto-match", dependencies=[CSRF])
def auto_match(request: Request, principal: PagePrincipal, db: DB):
    result = matching.auto_match(db, principal=principal)
    methods = ", ".join(f"{_label(METHOD_LABELS, k)} {v}" for k, v in sorted(result.by_method.items()))
    detail = _(" (%(methods)s)", methods=methods) if methods else ""
    flash(request, _("Automatic matching: %(seen)s open credits looked at, %(matched)s matched with %(matches)s "
                     "matches%(methods)s; %(left)s left for a person.", seen=result.entries_seen,
                     matched=result.entries_matched, matches=result.matches, methods=detail,
                     left=len(result.left)))
    return redirect("/finance/bank-entries?status=unmatched" if result.left else "/finance/bank-entries")


def _entry_context(db, principal, entry_id: uuid.UUID, *, form: dict | None = None,
                   errors: dict | None = None) -> dict:
    repo = MatchRepository(db, principal)
    entry = repo.entry(entry_id)
    matches = repo.matches_of_entry(entry.id)
    matched_payouts = repo.payouts_by_id([m.payout_id for m in matches])
    is_open = entry.direction == "credit" and entry.status in (EntryStatus.UNMATCHED, EntryStatus.PARTIAL)
    suggestions = matching.suggestions(db, principal=principal, entry_id=entry.id) if is_open else []
    candidates = [p for p in repo.open_payouts(entry.currency) if p.total_minor - p.received_minor > 0] \
        if is_open else []
    statement = StatementRepository(db, principal).find_statement(entry.statement_id)
    settled = repo.settled_of_entry(entry.id) if entry.direction == "credit" else 0
    return {"active": "finance", "tab": "entries", "e": entry, "matches": matches, "payouts": matched_payouts,
            "suggestions": suggestions, "candidates": candidates, "is_open": is_open, "statement": statement,
            "remaining": entry.amount_minor - entry.matched_minor, "settled": settled,
            "form": form or {}, "errors": errors or {}, "can_write": principal.can(Action.WRITE), **_helpers(db)}


@router.get("/finance/bank-entries/{entry_id}")
def entry_page(entry_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    return render(request, "finance/entry.html", _entry_context(db, principal, entry_id))


MATCH_FIELDS = {"amount_minor": "amount", "payout_amount_minor": "payout_amount"}


@router.post("/finance/bank-entries/{entry_id}/match", dependencies=[CSRF])
def match_entry(entry_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    entry = MatchRepository(db, principal).entry(entry_id)  # another tenant's id: 404 before anything else
    digits = _digits(db, entry.currency)
    errors: list[FieldError] = []
    payout_id = uuid_param(form.get("payout_id"))
    if payout_id is None:
        errors.append(FieldError("payout_id", "choose a payout", "请选择平台结算"))
    amount = _amount(errors, "amount", form.get("amount"), digits)
    settles = _amount(errors, "payout_amount", form.get("payout_amount"), digits)
    try:
        if errors:
            raise ValidationFailed("The match cannot be made.", errors=errors, message_zh="无法完成匹配")
        row = matching.match(db, principal=principal, entry_id=entry.id, payout_id=payout_id, amount_minor=amount,
                             payout_amount_minor=settles, note=form.get("note"))
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        context = _entry_context(db, principal, entry_id, form=form,
                                 errors=_renamed(error_messages(exc), MATCH_FIELDS))
        return render(request, "finance/entry.html", context, status_code=exc.status)
    money = Money(db)
    flash(request, _("Matched %(amount)s to the payout.", amount=money.text(row.amount_minor, entry.currency)))
    return redirect(f"/finance/bank-entries/{entry.id}")


@router.post("/finance/matches/{match_id}/undo", dependencies=[CSRF])
def undo_match(match_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    row = MatchRepository(db, principal).match(match_id)
    entry_id = row.bank_entry_id
    matching.unmatch(db, principal=principal, match_id=match_id)
    flash(request, _("The match was undone."))
    return redirect(f"/finance/bank-entries/{entry_id}")


@router.post("/finance/bank-entries/{entry_id}/ignore", dependencies=[CSRF])
def ignore_entry(entry_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    MatchRepository(db, principal).entry(entry_id)
    try:
        matching.ignore(db, principal=principal, entry_id=entry_id, reason=form.get("reason"))
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        context = _entry_context(db, principal, entry_id, form=form, errors=error_messages(exc))
        return render(request, "finance/entry.html", context, status_code=exc.status)
    flash(request, _("The entry is marked as not a sales receipt."))
    return redirect(f"/finance/bank-entries/{entry_id}")


@router.post("/finance/bank-entries/{entry_id}/unignore", dependencies=[CSRF])
def unignore_entry(entry_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    MatchRepository(db, principal).entry(entry_id)
    try:
        matching.ignore(db, principal=principal, entry_id=entry_id, reason=None, undo=True)
    except Conflict as exc:
        db.rollback()
        context = _entry_context(db, principal, entry_id, errors=error_messages(exc))
        return render(request, "finance/entry.html", context, status_code=exc.status)
    flash(request, _("The entry is open for matching again."))
    return redirect(f"/finance/bank-entries/{entry_id}")


# --- bank statements ------------------------------------------------------------------------------------


def _statements_context(db, principal, params: dict, **extra) -> dict:
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    repo = StatementRepository(db, principal)
    try:
        rows, nxt = repo.page_statements(cursor=params.get("cursor") or None, limit=per_page)
    except ValidationFailed:  # a cursor that is not ours: the first page
        params.pop("cursor", None)
        rows, nxt = repo.page_statements(cursor=None, limit=per_page)
    return {"active": "finance", "tab": "statements", "rows": rows, "next_cursor": nxt, "params": params,
            "counts": repo.entry_counts([r.id for r in rows]), "can_write": principal.can(Action.WRITE),
            "result": None, "rejected": None, **_helpers(db), **extra}


@router.get("/finance/statements")
def statements_page(request: Request, principal: PagePrincipal, db: DB):
    return render(request, "finance/statements.html", _statements_context(db, principal,
                                                                          dict(request.query_params)))


@router.post("/finance/statements", dependencies=[CSRF])
def upload_statement(request: Request, principal: PagePrincipal, db: DB, file: UploadFile = File(...)):
    principal.tenant(Action.WRITE)
    data = _read_upload(request, file)
    filename = file.filename or "statement"
    if data is None:
        flash(request, _("The file is larger than the upload limit."), "error")
        return redirect("/finance/statements")
    try:
        result = statements.import_statement(db, principal=principal, filename=filename, data=data)
    except StatementRejected as exc:
        db.rollback()
        rejected = {"filename": filename, "position": exc.position,
                    "reason": exc.zh if locale_var.get() != "en" else exc.en}
        return render(request, "finance/statements.html",
                      _statements_context(db, principal, {}, rejected=rejected), status_code=422)
    except Conflict as exc:
        db.rollback()
        rejected = {"filename": filename, "position": "", "reason": error_messages(exc)["_"]}
        return render(request, "finance/statements.html",
                      _statements_context(db, principal, {}, rejected=rejected), status_code=409)
    return render(request, "finance/statements.html", _statements_context(db, principal, {}, result=result))


# --- payouts --------------------------------------------------------------------------------------------


def _channels(db, principal) -> list[tuple[str, str]]:
    own = PayoutProfileRepository(db, principal).names()
    names = sorted(set(BUILTIN_PROFILES) | set(own))
    return [(k, _(v)) for k, v in CHANNEL_LABELS.items()] + \
        [(n, _("Payment firm CSV profile: %(name)s", name=n)) for n in names]


def _payout_filters(params: dict) -> dict:
    status = params.get("status") if params.get("status") in PAYOUT_STATUS_LABELS else None
    return {"source": (params.get("source") or "").strip() or None, "status": status,
            "currency": (params.get("currency") or "").strip()[:3] or None,
            "date_from": date_param(params.get("date_from")), "date_to": date_param(params.get("date_to"))}


def _payouts_context(db, principal, params: dict, **extra) -> dict:
    repo = PayoutRepository(db, principal)
    page = offset_page(db, repo.filtered(**_payout_filters(params)), sort_columns=PAYOUT_SORTS,
                       sort=params.get("sort"), desc=params.get("desc", "1") == "1",
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 20),
                       default_sort="deposit_date")
    return {"active": "finance", "tab": "payouts", "page": page, "params": params,
            "counts": repo.item_counts([p.id for p in page.rows]), "sources": repo.sources(),
            "statuses": list(PAYOUT_STATUS_LABELS), "channels": _channels(db, principal),
            "can_write": principal.can(Action.WRITE), "result": None, "row_errors": None, "form": {},
            "errors": {}, **_helpers(db), **extra}


@router.get("/finance/payouts")
def payouts_page(request: Request, principal: PagePrincipal, db: DB):
    return render(request, "finance/payouts.html", _payouts_context(db, principal, dict(request.query_params)))


@router.post("/finance/payouts", dependencies=[CSRF])
def upload_settlement(request: Request, principal: PagePrincipal, db: DB, file: UploadFile = File(...),
                      channel: str = Form("")):
    principal.tenant(Action.WRITE)
    data = _read_upload(request, file)
    filename = file.filename or "settlement.txt"
    if data is None:
        flash(request, _("The file is larger than the upload limit."), "error")
        return redirect("/finance/payouts")
    form = {"channel": channel}
    try:
        result = payouts.import_settlement(db, principal=principal, filename=filename, data=data, channel=channel)
    except ImportRejected as exc:
        db.rollback()
        context = _payouts_context(db, principal, {}, form=form, filename=filename, **_row_error_report(exc))
        return render(request, "finance/payouts.html", context, status_code=422)
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        context = _payouts_context(db, principal, {}, form=form, errors=error_messages(exc))
        return render(request, "finance/payouts.html", context, status_code=exc.status)
    return render(request, "finance/payouts.html", _payouts_context(db, principal, {}, form=form, result=result))


@router.get("/finance/payouts/{payout_id}")
def payout_page(payout_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    repo = PayoutRepository(db, principal)
    payout = repo.get(payout_id)
    items = repo.items(payout.id)
    by_kind = repo.totals_by_kind(payout.id)
    mrepo = MatchRepository(db, principal)
    matches = mrepo.matches_of_payout(payout.id)
    entries = {m.bank_entry_id: mrepo.entry(m.bank_entry_id) for m in matches}
    linked_lines = len({i.sales_line_id for i in items if i.sales_line_id})
    return render(request, "finance/payout.html", {
        "active": "finance", "tab": "payouts", "p": payout, "items": items[:ITEMS_SHOWN], "item_count": len(items),
        "linked_items": sum(1 for i in items if i.sales_line_id), "linked_lines": linked_lines,
        "by_kind": [(k, by_kind[k]) for k in [*ItemKind, *sorted(set(by_kind) - set(ItemKind))] if k in by_kind],
        "items_total": sum(v for k, v in by_kind.items() if k != ItemKind.TRANSFER),
        "matches": matches, "entries": entries, "open_minor": payout.total_minor - payout.received_minor,
        **_helpers(db)})


# --- FX settlements (结汇) -------------------------------------------------------------------------------

SETTLEMENT_FIELDS = {"amount_minor": "amount", "cny_minor": "cny"}


def _settlements_context(db, principal, params: dict, **extra) -> dict:
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    repo = MatchRepository(db, principal)
    try:
        rows, nxt = repo.settlements_page(cursor=params.get("cursor") or None, limit=per_page)
    except ValidationFailed:
        params.pop("cursor", None)
        rows, nxt = repo.settlements_page(cursor=None, limit=per_page)
    credits = repo.settleable_credits(limit=SETTLEABLE_SHOWN)
    linked = {r.bank_entry_id for r in rows if r.bank_entry_id} - {c.id for c in credits}
    entries = {c.id: c for c in credits}
    entries.update(repo.entries_by_id(linked))
    return {"active": "finance", "tab": "settlements", "rows": rows, "next_cursor": nxt, "params": params,
            "credits": credits, "entries": entries, "form": {"settled_on": date.today().isoformat()},
            "errors": {}, "can_write": principal.can(Action.WRITE), **_helpers(db), **extra}


@router.get("/finance/fx-settlements")
def settlements_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    context = _settlements_context(db, principal, params)
    entry_id = uuid_param(params.get("entry"))
    if entry_id is not None:  # "record 结汇 of this credit": the form starts with its unsettled amount
        repo = MatchRepository(db, principal)
        entry = repo.entry(entry_id)
        money = Money(db)
        context["form"].update({"bank_entry_id": str(entry.id), "currency": entry.currency,
                                "amount": str(money.amount(entry.amount_minor - repo.settled_of_entry(entry.id),
                                                           entry.currency))})
        if entry.id not in context["entries"]:
            context["credits"].insert(0, entry)
            context["entries"][entry.id] = entry
    return render(request, "finance/settlements.html", context)


@router.post("/finance/fx-settlements", dependencies=[CSRF])
def record_settlement(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)
    errors: list[FieldError] = []
    currency = (form.get("currency") or "").strip().upper()
    digits = _digits(db, currency)
    if digits is None:
        errors.append(FieldError("currency", "must be a foreign ISO 4217 currency", "须为外币（ISO 4217）"))
    settled_on = date_param(form.get("settled_on"))
    if settled_on is None:
        errors.append(FieldError("settled_on", "is not a date (YYYY-MM-DD)", "不是有效日期（YYYY-MM-DD）"))
    amount = _amount(errors, "amount", form.get("amount"), digits, required=True)
    cny = _amount(errors, "cny", form.get("cny"), 2, required=True)
    entry_text = (form.get("bank_entry_id") or "").strip()
    entry_id = uuid_param(entry_text)
    if entry_text and entry_id is None:
        errors.append(FieldError("bank_entry_id", "is not a bank entry", "不是有效的银行流水"))
    try:
        if errors:
            raise ValidationFailed("The settlement cannot be recorded.", errors=errors, message_zh="无法记录结汇")
        row = matching.record_settlement(db, principal=principal, reference=form.get("reference") or "",
                                         settled_on=settled_on, currency=currency, amount_minor=amount,
                                         cny_minor=cny, bank_entry_id=entry_id, note=form.get("note"))
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        context = _settlements_context(db, principal, {}, form=form,
                                       errors=_renamed(error_messages(exc), SETTLEMENT_FIELDS))
        return render(request, "finance/settlements.html", context, status_code=exc.status)
    money = Money(db)
    flash(request, _("FX settlement %(reference)s recorded: %(amount)s → %(cny)s at %(rate)s.",
                     reference=row.reference, amount=money.text(row.amount_minor, row.currency),
                     cny=money.text(row.cny_minor, "CNY"), rate=row.rate))
    return redirect("/finance/fx-settlements")


# --- exchange rates -------------------------------------------------------------------------------------


def _rate_filters(params: dict) -> dict:
    source = params.get("source") if params.get("source") in {s.value for s in RateSource} else None
    return {"currency": (params.get("currency") or "").strip().upper()[:3] or None, "source": source,
            "date_from": date_param(params.get("date_from")), "date_to": date_param(params.get("date_to"))}


def rate_chart(db, currency: str, date_from: date | None, date_to: date | None) -> dict:
    """A currency's CNY rate over time, one line per source: [[day, CNY per unit], …]."""
    rows = RateRepository(db).series(currency, tuple(s.value for s in RateSource))
    series = []
    for source in RateSource:
        points = [[r.day.isoformat(), float(r.rate)] for r in rows if r.source == source
                  and (date_from is None or r.day >= date_from) and (date_to is None or r.day <= date_to)]
        if points:
            series.append({"name": _label(SOURCE_LABELS, source.value), "key": source.value, "data": points,
                           "color": RATE_COLOURS[source.value]})
    return {"currency": currency, "series": series}


def convert(db, params: dict, default_day: date | None = None) -> tuple[dict, dict, dict | None]:
    """The converter form (``c_*`` query parameters): (form, errors, result). The result names the rule, the
    source and the publication day, or says the rate is missing."""
    form = {"c_currency": (params.get("c_currency") or "USD").strip().upper(),
            "c_day": params.get("c_day") or (default_day or date.today()).isoformat(),
            "c_rule": params.get("c_rule") or "sale_date",
            "c_amount": params.get("c_amount") or ""}
    if "c_currency" not in params:
        return form, {}, None
    errors = {}
    currency, day = form["c_currency"], date_param(form["c_day"])
    if len(currency) != 3 or not currency.isalpha() or _digits(db, currency) is None:
        errors["c_currency"] = _("must be an ISO 4217 currency code")
    if day is None:
        errors["c_day"] = _("is not a date (YYYY-MM-DD)")
    if form["c_rule"] not in rates.RULES:
        errors["c_rule"] = _("must be one of the rules")
    amount = None
    if form["c_amount"].strip():
        try:
            amount = Decimal(form["c_amount"].strip().replace(",", ""))
            if not amount.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            errors["c_amount"] = _("is not an amount")
    if errors:
        return form, errors, None
    conv = rates.find(db, currency, day, form["c_rule"])
    if conv is None:
        return form, {}, {"missing": True, "currency": currency, "day": day, "rule": form["c_rule"]}
    cny = (amount * conv.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if amount is not None else None
    return form, {}, {"missing": False, "conv": conv, "amount": amount, "amount_cny": cny}


def _rates_context(db, principal, params: dict, **extra) -> dict:
    filters = _rate_filters(params)
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    page_no = max(1, int_param(params, "page", 1))
    repo = RateRepository(db)
    rows, total = repo.page(offset=(page_no - 1) * per_page, limit=per_page, **filters)
    if not rows and total and page_no > 1:  # past the end: the last page
        page_no = max(1, -(-total // per_page))
        rows, total = repo.page(offset=(page_no - 1) * per_page, limit=per_page, **filters)
    currencies = repo.currencies()
    known = [c for c, *_rest in currencies]
    chart_currency = filters["currency"] or ("USD" if "USD" in known else (known[0] if known else "USD"))
    last = {c: day for c, _n, _first, day in currencies}
    # the form starts at the currency's latest publication (today's may not be out yet)
    form, errors, result = convert(db, params, min(date.today(), last.get("USD", date.today())))
    return {"active": "finance" if principal.can(Action.READ) else "rates", "tab": "rates", "params": params,
            "page": OffsetPage(rows, total, page_no, per_page, "day", True), "currencies": currencies,
            "sources": [s.value for s in RateSource], "rules": list(rates.RULES),
            "chart": rate_chart(db, chart_currency, filters["date_from"], filters["date_to"]),
            "conv_form": form, "conv_errors": errors, "conv": result, "tabs": principal.can(Action.READ),
            "is_admin": principal.can(Action.PLATFORM), "row_errors": None, **_helpers(db), **extra}


@router.get("/finance/rates")
def rates_page(request: Request, principal: PagePrincipal, db: DB):
    """Exchange rates are reference data: every signed-in user reads them; platform admins load them."""
    return render(request, "finance/rates.html", _rates_context(db, principal, dict(request.query_params)))


@router.post("/finance/rates/ecb", dependencies=[CSRF])
def load_ecb(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.require(Action.PLATFORM)
    result = rates.load_ecb(db, principal=principal, since=date_param(form.get("since")),
                            until=date_param(form.get("until")))
    flash(request, _("ECB reference rates loaded: %(rows)s rates, %(inserted)s new, %(updated)s changed, "
                     "%(unchanged)s unchanged.", rows=result.rows, inserted=result.inserted, updated=result.updated,
                     unchanged=result.unchanged))
    return redirect("/finance/rates")


@router.post("/finance/rates/import", dependencies=[CSRF])
def import_rates(request: Request, principal: PagePrincipal, db: DB, file: UploadFile = File(...),
                 source: str = Form("")):
    principal.require(Action.PLATFORM)
    data = _read_upload(request, file)
    filename = file.filename or "rates.csv"
    if data is None:
        flash(request, _("The file is larger than the upload limit."), "error")
        return redirect("/finance/rates")
    try:
        result = rates.import_rates(db, principal=principal, filename=filename, data=data, source=source)
    except ImportRejected as exc:
        db.rollback()
        context = _rates_context(db, principal, {}, filename=filename, **_row_error_report(exc))
        return render(request, "finance/rates.html", context, status_code=422)
    flash(request, _("%(filename)s: %(rows)s rates, %(inserted)s new, %(updated)s changed, %(unchanged)s "
                     "unchanged.", filename=filename, rows=result.rows, inserted=result.inserted,
                     updated=result.updated, unchanged=result.unchanged))
    return redirect("/finance/rates")

