"""Rebate claim pages (出口退(免)税申报): the declaration lines with their document chain and the missing piece
named, draft claims made from them, the claims with every figure of their formula, their status changes
(declare, approve, reject, reconcile), the detail files, proceeds evidence set by hand (视同收汇) and the
repayments that goods sent home within 6 months cause.

Every change goes through ``tax.claims`` — the functions the JSON API calls — so a page, the API and the CLI
never disagree; a refusal of the service is shown with its message and nothing of the change is kept. Pages
only read ``ClaimRepository`` and format.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import APIRouter, Depends, Request, Response

from tradeloop.audit.repository import AuditRepository
from tradeloop.customs.messages import BEIJING
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from tradeloop.kit.i18n import N_, locale_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.models import utcnow
from tradeloop.kit.money import AmountError, to_minor
from tradeloop.kit.pages import (
    PER_PAGE_CHOICES,
    OffsetPage,
    date_param,
    error_messages,
    flash,
    int_param,
    redirect,
    uuid_param,
)
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.loop.pages import Money, qty
from tradeloop.tax import claims, files, rebate
from tradeloop.tax.claim_models import BusinessType, ClaimMethod, ClaimStatus
from tradeloop.tax.claim_repository import ClaimRepository
from tradeloop.tax.pages import figure_label

router = APIRouter()

METHOD_LABELS = {"trader": N_("免退税 (trading company)"), "manufacturer": N_("免抵退 (manufacturer)")}
#: The official names of the methods, shown as they are in both languages where room is short.
METHOD_TERMS = {"trader": "免退税", "manufacturer": "免抵退"}
BUSINESS_LABELS = {"normal": N_("Normal (sold goods, proceeds received)"),
                   "HWC-YT": N_("HWC-YT 海外仓预退 (9810, unsold goods after departure)")}
BUSINESS_SHORT = {"normal": N_("Normal rebate"), "HWC-YT": "HWC-YT"}
STATUS_LABELS = {"draft": N_("Draft"), "declared": N_("Declared (filed)"), "approved": N_("Approved (refund granted)"),
                 "rejected": N_("Rejected or withdrawn")}
STATUS_BADGES = {"draft": "", "declared": "warn", "approved": "ok", "rejected": "off"}
OUTCOME_LABELS = {"no_adjustment": N_("No adjustment (无需调整申报)"),
                  "adjusted": N_("Adjusted (调整申报)"), "repaid": N_("Repaid in full (全额补缴)")}
PROCEEDS_LABELS = {"received": N_("Proceeds received"), "partial": N_("Proceeds partly received"),
                   "none": N_("Proceeds not received"),
                   "deemed": N_("Deemed received (视同收汇)"), "n/a": N_("Not needed")}
PROCEEDS_BADGES = {"received": "ok", "deemed": "ok", "partial": "warn", "none": "warn", "n/a": "off"}
EVIDENCE_KINDS = {"received": N_("Received outside the payouts"), "deemed": N_("Deemed received (视同收汇)")}
PIECE_LABELS = {
    "declaration": N_("Declaration number (报关单)"), "rates": N_("Rates"), "rebate_rate": N_("Rebate rate 0%"),
    "invoice": N_("Purchase invoice"), "proceeds": N_("Proceeds (收汇)"), "fx": N_("Customs conversion rate"),
    "trade_terms": N_("Trade terms (FOB)"), "window": N_("Declaration window"), "mode": N_("Supervision mode"),
    "sold": N_("Nothing sold"), "unsold": N_("Nothing unsold"), "already_claimed": N_("Claimed already"),
}
REPAYMENT_STATUS_LABELS = {"due": N_("To repay"), "repaid": N_("Repaid")}
MOVEMENT_LABELS = {"return_to_origin": N_("Unsold stock sent back to China"),
                   "return_origin_ret": N_("Buyers' returns sent back to China")}
HISTORY_LABELS = {"tax.claims.create": N_("Draft claim created"),
                  "tax.claims.declare": N_("Declared to the tax office"),
                  "tax.claims.approve": N_("Approved by the tax office"), "tax.claims.reject": N_("Rejected"),
                  "tax.claims.reconcile": N_("Reconciled (核算)")}
SHOW_CHOICES = {"ready": N_("Ready to claim"), "blocked": N_("Not ready to claim")}
PERIOD_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CHART_COLOURS = {"claimed": "#2f6db5", "approved": "#3c9d5d", "reversed": "#b42318"}


def _label(table: dict, key: str | None) -> str:
    return _(table[key]) if key in table else (key or "")


_yuan = claims.yuan


def _helpers(db) -> dict:
    return {"money": Money(db), "qty": qty, "yuan": _yuan, "pct": lambda v: rebate.pct(Decimal(v)) if v is not None
            else "", "zh": locale_var.get() != "en", "figure_label": figure_label,
            "method_label": lambda m: _label(METHOD_LABELS, m), "method_short": lambda m: METHOD_TERMS.get(m, m),
            "business_label": lambda b: _label(BUSINESS_LABELS, b),
            "business_short": lambda b: _(BUSINESS_SHORT[b]) if b == "normal" else b,
            "status_label": lambda s: _label(STATUS_LABELS, s), "status_badge": lambda s: STATUS_BADGES.get(s, ""),
            "outcome_label": lambda o: _label(OUTCOME_LABELS, o),
            "proceeds_label": lambda p: _label(PROCEEDS_LABELS, p),
            "proceeds_badge": lambda p: PROCEEDS_BADGES.get(p, ""),
            "piece_label": lambda p: _label(PIECE_LABELS, p), "evidence_label": lambda k: _label(EVIDENCE_KINDS, k),
            "repayment_label": lambda s: _label(REPAYMENT_STATUS_LABELS, s),
            "movement_label": lambda k: _label(MOVEMENT_LABELS, k),
            "history_label": lambda a: _label(HISTORY_LABELS, a),
            "rate_text": lambda v: f"{Decimal(v).normalize():f}" if v is not None else "",
            "piece_text": lambda m: m["message_zh"] if locale_var.get() != "en" else m["message"]}


def _today() -> date:
    return utcnow().astimezone(BEIJING).date()


def _period(text: str | None) -> str | None:
    """``2025-06`` or ``202506`` -> ``2025-06``; anything else None."""
    text = (text or "").strip()
    if re.fullmatch(r"\d{6}", text):
        text = f"{text[:4]}-{text[4:]}"
    return text if PERIOD_RE.fullmatch(text) else None


def _cny(errors: list[FieldError], field: str, text: str | None, *, required: bool = False) -> int | None:
    text = (text or "").strip()
    if not text:
        if required:
            errors.append(FieldError(field, "is required", "须填写"))
        return None
    try:
        return to_minor(text, 2)
    except AmountError as exc:
        errors.append(FieldError(field, exc.en, exc.zh))
        return None


def _qty(errors: list[FieldError], field: str, text: str | None) -> Decimal | None:
    text = (text or "").strip().replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
        if not value.is_finite() or value <= 0:
            raise ValueError
    except (ArithmeticError, ValueError):
        errors.append(FieldError(field, "is not a positive quantity", "不是有效的正数数量"))
        return None
    return value


async def multi_form(request: Request) -> dict[str, list[str]]:
    """The posted form with every value of a repeated field (the chosen lines' check boxes)."""
    form = await request.form()
    return {k: [v.strip() for v in form.getlist(k) if isinstance(v, str)] for k in form}


# --- candidates: the document chain per declaration line ----------------------------------------------


#: The claim method of each rebate method an enterprise is registered with (``enterprises.rebate_method``,
#: which follows its kind: 财税〔2012〕39号, 生产企业 免抵退, 外贸企业 免退; domain.md §3.3).
REBATE_METHODS = {"exempt_refund": ClaimMethod.TRADER.value, "exempt_credit_refund": ClaimMethod.MANUFACTURER.value}


def _own_method(db, principal) -> str | None:
    """The claim method of the enterprise's registered rebate method, or None when it has none."""
    enterprise = EnterpriseRepository(db, principal).get(principal.tenant(Action.READ))
    return REBATE_METHODS.get(enterprise.rebate_method or "")


def _kind(params: dict, default: str | None = None) -> tuple[str, str, str | None, dict[str, str]]:
    errors = {}
    method = params.get("method") if params.get("method") in METHOD_LABELS else \
        default or ClaimMethod.TRADER.value
    business = params.get("business_type") if params.get("business_type") in BUSINESS_LABELS \
        else BusinessType.NORMAL.value
    period = _period(params.get("period"))
    if params.get("period") and period is None:
        errors["period"] = _("The period must be YYYY-MM.")
    return method, business, period, errors


def _matches(c: claims.ChainLine, q: str | None, show: str | None, piece: str | None) -> bool:
    if q and not any(q in (v or "").lower() for v in (c.cop_no, c.entry_id, c.sku, c.name, c.hs_code)):
        return False
    if show == "ready" and not c.complete:
        return False
    if show == "blocked" and c.complete:
        return False
    return not piece or any(m["piece"] == piece for m in c.missing)


def _candidates_context(db, principal, params: dict, **extra) -> dict:
    own = _own_method(db, principal)
    method, business, period, errors = _kind(params, own)
    rows = claims.candidates(db, principal, method, business, period)
    q = (params.get("q") or "").strip().lower() or None
    show = params.get("show") if params.get("show") in SHOW_CHOICES else None
    piece = params.get("piece") if params.get("piece") in PIECE_LABELS else None
    shown = [c for c in rows if _matches(c, q, show, piece)]
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    pages = max(1, -(-len(shown) // per_page))
    page_no = min(max(1, int_param(params, "page", 1)), pages)
    page = OffsetPage(shown[(page_no - 1) * per_page:page_no * per_page], len(shown), page_no, per_page, "", False)
    ready = [c for c in shown if c.complete]
    evidence = ClaimRepository(db, principal).evidence([c.declaration_line_id for c in rows])
    by_line = {c.declaration_line_id: c for c in rows}
    needs_evidence = [c for c in rows if c.declaration_line_id not in evidence
                      and any(m["piece"] == "proceeds" for m in c.missing)]
    form = {"period": period or claims.month_of(_today()), "evidence_line": params.get("evidence_line", "")}
    return {"active": "tax", "tab": "candidates", "page": page, "params": params, "method": method,
            "own_method": own, "business_type": business, "period": period, "kind_errors": errors,
            "summary": {"lines": len(shown), "ready": len(ready),
                        "claimable": sum((c.claimable for c in ready), Decimal(0)),
                        "estimate": sum(c.estimate_minor or 0 for c in ready)},
            "methods": list(METHOD_LABELS), "businesses": list(BUSINESS_LABELS), "show_choices": list(SHOW_CHOICES),
            "pieces": list(PIECE_LABELS), "evidence": evidence, "by_line": by_line, "needs_evidence": needs_evidence,
            "needs_ids": {c.declaration_line_id for c in needs_evidence},
            "evidence_kinds": list(EVIDENCE_KINDS), "can_write": principal.can(Action.WRITE), "form": form,
            "errors": {}, "line_errors": [], "selected": set(), "qtys": {}, "evidence_form": {},
            "evidence_errors": {}, "back": urlencode({k: v for k, v in params.items() if v not in (None, "")}),
            **_helpers(db), **extra}


@router.get("/tax/candidates")
def candidates_page(request: Request, principal: PagePrincipal, db: DB):
    return render(request, "tax/claims_candidates.html", _candidates_context(db, principal,
                                                                             dict(request.query_params)))


CREATE_FIELDS = {"domestic_output_vat_minor": "domestic_output_vat", "input_vat_minor": "input_vat",
                 "opening_credit_minor": "opening_credit"}
#: The candidates page's view (filters and page) that a posted form carries back.
VIEW_KEYS = ("method", "business_type", "period", "q", "show", "piece", "page", "per_page")


def _one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[-1]


@router.post("/tax/claims", dependencies=[CSRF])
def create_claim(request: Request, principal: PagePrincipal, db: DB, form: dict = Depends(multi_form)):
    principal.tenant(Action.WRITE)
    view = {k: _one(form, k) for k in VIEW_KEYS if _one(form, k)}
    method, business, _p, _e = _kind(view, _own_method(db, principal))
    period_text = _one(form, "claim_period")
    period = _period(period_text)
    errors: list[FieldError] = []
    if period is None:
        errors.append(FieldError("claim_period", "must be YYYY-MM", "所属期格式应为 YYYY-MM"))
    chosen = []
    for text in form.get("line", []):
        line_id = uuid_param(text)
        if line_id is None:
            errors.append(FieldError("lines", "is not a declaration line", "不是有效的报关单商品项"))
            continue
        chosen.append((line_id, _qty(errors, f"qty-{line_id}", _one(form, f"qty-{line_id}"))))
    inputs = {}
    if method == ClaimMethod.MANUFACTURER:
        inputs = {f"{name}_minor": _cny(errors, name, _one(form, name), required=True)
                  for name in ("domestic_output_vat", "input_vat", "opening_credit")}
    try:
        if errors:
            raise ValidationFailed("The claim cannot be made.", errors=errors, message_zh="无法生成退税申报")
        claim = claims.create_claim(
            db, principal=principal, method=method, business_type=business, period=period,
            lines=[claims.LineRequest(line_id, q) for line_id, q in chosen], note=_one(form, "note") or None,
            **inputs)
    except (ValidationFailed, Conflict, NotFound) as exc:
        db.rollback()
        messages = error_messages(exc)
        field_errors = {CREATE_FIELDS.get(k, k): v for k, v in messages.items()}
        zh = locale_var.get() != "en"
        context = _candidates_context(
            db, principal, view, errors=field_errors,
            line_errors=[e.message_zh if zh else e.message_en for e in exc.errors if e.field.startswith("lines")],
            selected={str(i) for i, _q in chosen}, qtys={str(i): _one(form, f"qty-{i}") for i, _q in chosen},
            form={"period": period_text, "note": _one(form, "note"),
                  **{n: _one(form, n) for n in ("domestic_output_vat", "input_vat", "opening_credit")}})
        return render(request, "tax/claims_candidates.html", context, status_code=exc.status)
    flash(request, _("Draft claim %(number)s created: %(lines)s lines, refund %(refund)s.", number=claim.number,
                     lines=len(chosen), refund=Money(db).text(claim.refund_minor, "CNY")))
    return redirect(f"/tax/claims/{claim.id}")


def _back(form: dict) -> dict:
    """The candidates page's query string a form carried (``back``), as parameters (only the known keys)."""
    return {k: v for k, v in parse_qsl(form.get("back") or "") if k in VIEW_KEYS}


@router.post("/tax/proceeds-evidence", dependencies=[CSRF])
def record_proceeds(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)
    view = _back(form)
    line_id = uuid_param(form.get("declaration_line_id"))
    try:
        if line_id is None:
            raise ValidationFailed("Choose a declaration line.", errors=[FieldError(
                "declaration_line_id", "choose a declaration line", "请选择报关单商品项")],
                message_zh="请选择报关单商品项")
        claims.record_proceeds(db, principal=principal, declaration_line_id=line_id, kind=form.get("kind") or "",
                               reason=form.get("reason") or "", reference=form.get("reference"))
    except (ValidationFailed, Conflict, NotFound) as exc:
        db.rollback()
        context = _candidates_context(db, principal, view, evidence_form=form, evidence_errors=error_messages(exc))
        return render(request, "tax/claims_candidates.html", context, status_code=exc.status)
    flash(request, _("Proceeds evidence recorded."))
    return redirect("/tax/candidates" + (f"?{urlencode(view)}" if view else ""))


@router.post("/tax/proceeds-evidence/{evidence_id}/delete", dependencies=[CSRF])
def delete_proceeds(evidence_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    claims.delete_proceeds(db, principal=principal, evidence_id=evidence_id)
    flash(request, _("The proceeds evidence was removed."))
    view = _back(form)
    return redirect("/tax/candidates" + (f"?{urlencode(view)}" if view else ""))


# --- the claims ---------------------------------------------------------------------------------------


def _claim_filters(params: dict) -> dict:
    return {"status": params.get("status") if params.get("status") in STATUS_LABELS else None,
            "method": params.get("method") if params.get("method") in METHOD_LABELS else None,
            "business_type": params.get("business_type") if params.get("business_type") in BUSINESS_LABELS else None,
            "period": _period(params.get("period"))}


def claim_totals(rows: list[tuple[str, str, int, int, int, int]]) -> tuple[dict, dict]:
    """(totals, chart) from ``ClaimRepository.totals_by_period``: the filtered claims' count and amounts, and
    per period the rebate claimed (declared or approved), approved and reversed by reconciliation (fen)."""
    totals = {"claims": 0, "refund": 0, "claimed": 0, "approved": 0, "reversed": 0, "by_status": defaultdict(int)}
    per: dict[str, dict[str, int]] = defaultdict(lambda: {"claimed": 0, "approved": 0, "reversed": 0})
    for period, status, n, refund, approved, reversed_ in rows:
        totals["claims"] += n
        totals["refund"] += refund
        totals["by_status"][status] += n
        if status in (ClaimStatus.DECLARED, ClaimStatus.APPROVED):
            totals["claimed"] += refund
            per[period]["claimed"] += refund
        if status == ClaimStatus.APPROVED:
            totals["approved"] += approved
            totals["reversed"] += reversed_
            per[period]["approved"] += approved
            per[period]["reversed"] += reversed_
    periods = sorted(per)
    names = {"claimed": _("Claimed (declared or approved)"), "approved": _("Approved amount"),
             "reversed": _("Reversed by reconciliation")}
    chart = {"periods": periods, "series": [
        {"key": k, "name": names[k], "color": CHART_COLOURS[k],
         "data": [float(Decimal(per[p][k]).scaleb(-2)) for p in periods]} for k in names]} if periods else None
    totals["by_status"] = dict(totals["by_status"])
    return totals, chart


@router.get("/tax/claims")
def claims_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    filters = _claim_filters(params)
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    repo = ClaimRepository(db, principal)
    try:
        rows, nxt = repo.page(cursor=params.get("cursor") or None, limit=per_page, **filters)
    except ValidationFailed:  # a cursor that is not ours: the first page
        params.pop("cursor", None)
        rows, nxt = repo.page(cursor=None, limit=per_page, **filters)
    totals, chart = claim_totals(repo.totals_by_period(**filters))
    return render(request, "tax/claims.html", {
        "active": "tax", "tab": "claims", "rows": rows, "next_cursor": nxt, "params": params, "totals": totals,
        "chart": chart, "line_counts": repo.line_counts([r.id for r in rows]),
        "overdue": {r.id for r in rows if claims.is_overdue(r)}, "statuses": list(STATUS_LABELS),
        "methods": list(METHOD_LABELS), "businesses": list(BUSINESS_LABELS),
        "can_write": principal.can(Action.WRITE), **_helpers(db)})


RESULT_FIGURES = ("增值税应退税额", "当期应退税额", "当期免抵税额", "结转下期留抵税额")


def _claim_context(db, principal, claim_id: uuid.UUID, *, form: dict | None = None, errors: dict | None = None,
                   failed: str | None = None) -> dict:
    repo = ClaimRepository(db, principal)
    claim = repo.get(claim_id)
    lines = repo.lines(claim.id)
    history = list(reversed(AuditRepository(db, principal).for_entities([str(claim.id)])))
    can_write = principal.can(Action.WRITE)
    today = _today()
    actions = set()
    if can_write:
        if claim.status == ClaimStatus.DRAFT:
            actions |= {"declare", "reject"}
        elif claim.status == ClaimStatus.DECLARED:
            actions |= {"approve", "reject"}
        elif (claim.status == ClaimStatus.APPROVED and claim.business_type == BusinessType.HWC_YT
              and claim.reconciled_on is None):
            actions.add("reconcile")
    defaults = {"approved_amount": _yuan(claim.refund_minor), "approved_on": today.isoformat(),
                "as_of": today.isoformat(), "reason": ""}
    return {"active": "tax", "tab": "claims", "claim": claim, "lines": lines, "history": history,
            "figures": claims.figures(claim, lines), "results": RESULT_FIGURES, "actions": actions,
            "overdue": claims.is_overdue(claim), "hwc": claim.business_type == BusinessType.HWC_YT,
            "trader": claim.method == ClaimMethod.TRADER,
            "repayments": repo.repayments_page(cursor=None, limit=500, claim_id=claim.id)[0],
            "form": {**defaults, **(form or {})}, "errors": errors or {}, "failed": failed, "can_write": can_write,
            **_helpers(db)}


@router.get("/tax/claims/{claim_id}")
def claim_page(claim_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    return render(request, "tax/claim.html", _claim_context(db, principal, claim_id))


def _claim_action(request: Request, db, principal, claim_id: uuid.UUID, form: dict, action: str, run, done: str):
    """Run one status change; a refusal re-renders the claim with the message (nothing of it is kept)."""
    ClaimRepository(db, principal).get(claim_id)  # another tenant's id: 404 before anything else
    try:
        claim = run()
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        messages = error_messages(exc)
        renamed = {{"approved_minor": "approved_amount"}.get(k, k): v for k, v in messages.items()}
        context = _claim_context(db, principal, claim_id, form=form, errors=renamed, failed=action)
        return render(request, "tax/claim.html", context, status_code=exc.status)
    flash(request, done % {"number": claim.number})
    return redirect(f"/tax/claims/{claim.id}")


@router.post("/tax/claims/{claim_id}/declare", dependencies=[CSRF])
def declare_claim(claim_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)
    return _claim_action(request, db, principal, claim_id, form, "declare",
                         lambda: claims.declare(db, principal=principal, claim_id=claim_id),
                         _("Claim %(number)s is declared to the tax office."))


@router.post("/tax/claims/{claim_id}/approve", dependencies=[CSRF])
def approve_claim(claim_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)

    def run():
        errors: list[FieldError] = []
        amount = _cny(errors, "approved_amount", form.get("approved_amount"), required=True)
        on = date_param(form.get("approved_on"))
        if form.get("approved_on") and on is None:
            errors.append(FieldError("approved_on", "is not a date (YYYY-MM-DD)", "不是有效日期（YYYY-MM-DD）"))
        if errors:
            raise ValidationFailed("The approval cannot be recorded.", errors=errors, message_zh="无法登记审核结果")
        return claims.approve(db, principal=principal, claim_id=claim_id, approved_minor=amount, approved_on=on)

    return _claim_action(request, db, principal, claim_id, form, "approve", run,
                         _("Claim %(number)s is approved."))


@router.post("/tax/claims/{claim_id}/reject", dependencies=[CSRF])
def reject_claim(claim_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)
    return _claim_action(request, db, principal, claim_id, form, "reject",
                         lambda: claims.reject(db, principal=principal, claim_id=claim_id,
                                               reason=form.get("reason") or ""),
                         _("Claim %(number)s is rejected; its units are free again."))


@router.post("/tax/claims/{claim_id}/reconcile", dependencies=[CSRF])
def reconcile_claim(claim_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)

    def run():
        as_of = date_param(form.get("as_of"))
        if as_of is None:
            raise ValidationFailed("The claim cannot be reconciled on that day.", errors=[FieldError(
                "as_of", "is not a date (YYYY-MM-DD)", "不是有效日期（YYYY-MM-DD）")], message_zh="该日不能核算")
        return claims.reconcile(db, principal=principal, claim_id=claim_id, as_of=as_of)

    return _claim_action(request, db, principal, claim_id, form, "reconcile", run,
                         _("Claim %(number)s is reconciled."))


@router.get("/tax/claims/{claim_id}/files/{detail}")
def claim_file(claim_id: uuid.UUID, detail: str, principal: PagePrincipal, db: DB):
    """出口货物明细 (export-goods) or 进货明细 (purchases, traders) as .xlsx, as the API serves them."""
    name, data = files.workbook(db, principal=principal, claim_id=claim_id, kind=detail)
    return Response(data, media_type=files.XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


# --- repayments for goods sent home within 6 months -----------------------------------------------------


def _repayments_context(db, principal, params: dict, **extra) -> dict:
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    status = params.get("status") if params.get("status") in REPAYMENT_STATUS_LABELS else None
    repo = ClaimRepository(db, principal)
    try:
        rows, nxt = repo.repayments_page(cursor=params.get("cursor") or None, limit=per_page, status=status)
    except ValidationFailed:
        params.pop("cursor", None)
        rows, nxt = repo.repayments_page(cursor=None, limit=per_page, status=status)
    return {"active": "tax", "tab": "repayments", "rows": rows, "next_cursor": nxt, "params": params,
            "lines": repo.claim_lines_by_id([r.claim_line_id for r in rows]), "totals": repo.repayment_totals(),
            "statuses": list(REPAYMENT_STATUS_LABELS), "can_write": principal.can(Action.WRITE), "scan": None,
            "today": _today().isoformat(), "form": {}, "errors": {}, "failed": None, **_helpers(db),
            **extra}


@router.get("/tax/repayments")
def repayments_page(request: Request, principal: PagePrincipal, db: DB):
    return render(request, "tax/claims_repayments.html", _repayments_context(db, principal,
                                                                             dict(request.query_params)))


@router.post("/tax/repayments/scan", dependencies=[CSRF])
def scan_returns(request: Request, principal: PagePrincipal, db: DB):
    result = claims.returns_due(db, principal=principal)
    return render(request, "tax/claims_repayments.html", _repayments_context(db, principal, {}, scan=result))


@router.post("/tax/repayments/{repayment_id}/repaid", dependencies=[CSRF])
def record_repayment(repayment_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    principal.tenant(Action.WRITE)
    ClaimRepository(db, principal).repayment(repayment_id)  # another tenant's id: 404
    try:
        repaid_on = date_param(form.get("repaid_on"))
        if repaid_on is None:
            raise ValidationFailed("The repayment cannot be recorded.", errors=[FieldError(
                "repaid_on", "is not a date (YYYY-MM-DD)", "不是有效日期（YYYY-MM-DD）")], message_zh="无法登记补税")
        claims.record_repayment(db, principal=principal, repayment_id=repayment_id,
                                certificate_no=form.get("certificate_no") or "", repaid_on=repaid_on)
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        context = _repayments_context(db, principal, {}, form=form, errors=error_messages(exc),
                                      failed=str(repayment_id))
        return render(request, "tax/claims_repayments.html", context, status_code=exc.status)
    flash(request, _("The repayment is recorded with certificate %(no)s.", no=form.get("certificate_no")))
    return redirect("/tax/repayments")

