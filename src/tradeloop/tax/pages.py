"""Export VAT rebate pages (出口退税): the rebate calculator for what-if work, and the purchase invoices (进项发票)
with their allocation to exported declaration lines.

The calculator shows ``rebate.calculate(...).figures()`` as it is — the same figures, names and decimal strings
as ``tradeloop tax calc`` and ``GET /api/v1/tax/calc`` — so a page, the CLI and the API never disagree. Invoice
changes go through ``tax.invoices``, the functions the API calls.
"""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal

from fastapi import APIRouter, File, Request, UploadFile

from tradeloop.kit.errors import Conflict, NotFound, ValidationFailed
from tradeloop.kit.i18n import N_, locale_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import PER_PAGE_CHOICES, flash, int_param, redirect
from tradeloop.kit.tables import ImportRejected, to_csv
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, PagePrincipal
from tradeloop.loop.pages import Money, qty
from tradeloop.tax import invoices, rebate
from tradeloop.tax.repository import InvoiceRepository

router = APIRouter()

#: English beside the official Chinese names of the figures (domain.md §3.3), for the English UI.
FIGURE_LABELS = {
    "计算方法": N_("Method"),
    "购进出口货物增值税专用发票注明的金额": N_("Invoice amount excl. VAT of the exported goods"),
    "出口退税率": N_("Export rebate rate"),
    "征税率": N_("Levy rate"),
    "增值税应退税额": N_("VAT refund due"),
    "不得退税额(进项税额转出)": N_("Not refundable (input VAT transferred out)"),
    "当期出口货物离岸价(人民币)": N_("FOB of this period's exports (CNY)"),
    "当期内销销项税额": N_("Output VAT on domestic sales"),
    "当期全部进项税额": N_("All input VAT of the period"),
    "上期留抵税额": N_("Credit carried from the last period"),
    "退税率": N_("Rebate rate"),
    "当期免税购进原材料价格": N_("Duty-free materials bought in the period"),
    "当期不得免征和抵扣税额抵减额": N_("Offset of the amount neither exempt nor creditable"),
    "当期不得免征和抵扣税额": N_("Amount neither exempt nor creditable"),
    "当期应纳税额": N_("VAT payable in the period"),
    "期末留抵税额": N_("Closing credit"),
    "免抵退税额抵减额": N_("Offset of the exempt, credit and refund amount"),
    "当期免抵退税额": N_("Exempt, credit and refund amount"),
    "当期应退税额": N_("Refund due in the period"),
    "当期免抵税额": N_("Exempt and credited amount"),
    "结转下期留抵税额": N_("Credit carried to the next period"),
}
#: The figures a person looks for first.
RESULT_FIGURES = ("增值税应退税额", "当期应退税额", "当期免抵税额", "结转下期留抵税额")
METHOD_LABELS = {"trader": N_("Exempt and refund (免退税) — trading company"),
                 "manufacturer": N_("Exempt, credit and refund (免抵退) — manufacturer")}
#: The form's fields: (name, label msgid, methods it belongs to).
CALC_FIELDS = (
    ("invoice_amount", "购进出口货物增值税专用发票注明的金额", ("trader",)),
    ("fob_cny", "当期出口货物离岸价(人民币)", ("manufacturer",)),
    ("domestic_output_vat", "当期内销销项税额", ("manufacturer",)),
    ("input_vat", "当期全部进项税额", ("manufacturer",)),
    ("opening_credit", "上期留抵税额", ("manufacturer",)),
    ("duty_free_materials", "当期免税购进原材料价格", ("manufacturer",)),
    ("levy_rate", "征税率", ("trader", "manufacturer")),
    ("rebate_rate", "退税率", ("trader", "manufacturer")),
)


def figure_label(name: str) -> str:
    """The English name of a figure (English UI only; the Chinese name is always shown)."""
    return _(FIGURE_LABELS[name]) if name in FIGURE_LABELS else ""


def _helpers(db=None) -> dict:
    return {"figure_label": figure_label, "method_label": lambda m: _(METHOD_LABELS[m]) if m in METHOD_LABELS else m,
            "zh": locale_var.get() != "en", "qty": qty,
            "qty_text": lambda text: qty(Decimal(text)), "pct": lambda v: rebate.pct(Decimal(v)),
            **({"money": Money(db)} if db is not None else {})}


# --- the rebate calculator -------------------------------------------------------------------------------


@router.get("/tax/calc")
def calc_page(request: Request, principal: PagePrincipal):
    """What-if work: nothing is stored, so the form is a GET and a result can be linked to."""
    params = dict(request.query_params)
    form = {name: params.get(name, "") for name, _label, _m in CALC_FIELDS}
    form["method"] = params.get("method") or "manufacturer"
    if not params.get("method"):
        form.update({"levy_rate": "13%", "rebate_rate": "13%", "opening_credit": "0", "duty_free_materials": "0"})
    errors: dict[str, str] = {}
    figures = None
    if params.get("method"):
        try:
            result = rebate.calculate(method=form["method"], **{name: form[name] or None for name, _l, methods
                                                                in CALC_FIELDS if form["method"] in methods})
            figures = result.figures()
        except rebate.RebateInputError as exc:
            errors[exc.field] = exc.zh if locale_var.get() != "en" else exc.en
            errors["_"] = _("The calculation cannot run: correct the marked field.")
    rows = [(k, v) for k, v in (figures or {}).items() if k != "method"]
    return render(request, "tax/calc.html", {
        "active": "tax", "tab": "calc", "form": form, "errors": errors, "figures": figures, "rows": rows,
        "fields": CALC_FIELDS, "results": RESULT_FIGURES, "methods": list(METHOD_LABELS),
        "rate_levels": ["13%", "10%", "9%", "6%", "0%"], **_helpers()}, status_code=422 if errors else 200)


# --- purchase invoices -----------------------------------------------------------------------------------


def _invoices_context(db, principal, params: dict, **extra) -> dict:
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    repo = InvoiceRepository(db, principal)
    q, seller = (params.get("q") or "").strip() or None, (params.get("seller") or "").strip() or None
    try:
        rows, nxt = repo.page(cursor=params.get("cursor") or None, limit=per_page, q=q, seller=seller)
    except ValidationFailed:  # a cursor that is not ours: the first page
        params.pop("cursor", None)
        rows, nxt = repo.page(cursor=None, limit=per_page, q=q, seller=seller)
    lines = repo.lines([r.id for r in rows])
    summary = {r.id: {"lines": len(lines[r.id]), "quantity": sum((Decimal(li.quantity) for li in lines[r.id]),
                                                                  Decimal(0)),
                      "allocated": sum((Decimal(li.allocated_qty) for li in lines[r.id]), Decimal(0))} for r in rows}
    return {"active": "tax", "tab": "invoices", "rows": rows, "next_cursor": nxt, "params": params,
            "summary": summary, "can_write": principal.can(Action.WRITE), "result": None, "row_errors": None,
            "allocation": None, "columns": invoices.COLUMNS, **_helpers(db), **extra}


@router.get("/tax/invoices")
def invoices_page(request: Request, principal: PagePrincipal, db: DB):
    return render(request, "tax/invoices.html", _invoices_context(db, principal, dict(request.query_params)))


@router.post("/tax/invoices", dependencies=[CSRF])
def upload_invoices(request: Request, principal: PagePrincipal, db: DB, file: UploadFile = File(...)):
    principal.tenant(Action.WRITE)
    limit = request.app.state.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    filename = file.filename or "invoices.csv"
    if len(data) > limit:
        flash(request, _("The file is larger than the upload limit."), "error")
        return redirect("/tax/invoices")
    try:
        result = invoices.import_invoices(db, principal=principal, filename=filename, data=data)
    except ImportRejected as exc:
        db.rollback()
        zh = locale_var.get() != "en"
        report = to_csv([_("Row"), _("Column"), _("Value"), _("Problem")],
                        ([e.row, e.column, e.value, e.message_zh if zh else e.message_en] for e in exc.row_errors))
        context = _invoices_context(db, principal, {}, row_errors=exc.row_errors, filename=filename,
                                    report_href="data:text/csv;charset=utf-8;base64,"
                                    + base64.b64encode(report).decode())
        return render(request, "tax/invoices.html", context, status_code=422)
    except (ValidationFailed, Conflict) as exc:
        db.rollback()
        flash(request, exc.extra.get("message_zh") if locale_var.get() != "en" and exc.extra.get("message_zh")
              else exc.detail, "error")
        return redirect("/tax/invoices")
    return render(request, "tax/invoices.html", _invoices_context(db, principal, {}, result=result,
                                                                  filename=filename))


@router.post("/tax/invoices/auto-allocate", dependencies=[CSRF])
def auto_allocate(request: Request, principal: PagePrincipal, db: DB):
    result = invoices.auto_allocate(db, principal=principal)
    return render(request, "tax/invoices.html", _invoices_context(db, principal, {}, allocation=result))


def _declaration_lines(repo: InvoiceRepository, ids: set[uuid.UUID]) -> dict[uuid.UUID, tuple]:
    out = {}
    for line_id in ids:
        try:
            out[line_id] = repo.declaration_line(line_id)
        except NotFound:  # no longer exported (cancelled): the allocation still names it
            continue
    return out


@router.get("/tax/invoices/{invoice_id}")
def invoice_page(invoice_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    repo = InvoiceRepository(db, principal)
    inv = repo.get(invoice_id)
    lines = repo.lines([inv.id])[inv.id]
    allocations = repo.allocations(invoice_line_ids=[li.id for li in lines]) if lines else []
    by_line: dict[uuid.UUID, list] = {li.id: [] for li in lines}
    for a in allocations:
        by_line[a.invoice_line_id].append(a)
    return render(request, "tax/invoice.html", {
        "active": "tax", "tab": "invoices", "inv": inv, "lines": lines, "by_line": by_line,
        "decl_lines": _declaration_lines(repo, {a.declaration_line_id for a in allocations}),
        "allocated_amount": sum(a.amount_minor for a in allocations),
        "allocated_vat": sum(a.vat_minor for a in allocations),
        "can_write": principal.can(Action.WRITE), **_helpers(db)})


@router.post("/tax/allocations/{allocation_id}/undo", dependencies=[CSRF])
def undo_allocation(allocation_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    repo = InvoiceRepository(db, principal)
    invoice_id = repo.line(repo.allocation(allocation_id).invoice_line_id).invoice_id
    invoices.deallocate(db, principal=principal, allocation_id=allocation_id)
    flash(request, _("The allocation was undone."))
    return redirect(f"/tax/invoices/{invoice_id}")
