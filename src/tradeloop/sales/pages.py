"""Sales pages: order lines (filters, sorting, paging, Excel), the import page with its progress (a job polled
with htmx), the column profiles of the generic importer, and the SKUs missing from the catalogue."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import Response

from tradeloop.kit import jobs
from tradeloop.kit.errors import ValidationFailed
from tradeloop.kit.i18n import N_, locale_var, timezone_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import error_messages, flash, int_param, offset_page, redirect, uuid_param, xlsx_response
from tradeloop.kit.tables import to_csv
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.sales import service
from tradeloop.sales.importers import FIELDS
from tradeloop.sales.models import Channel, LineStatus, SalesOrderLine
from tradeloop.sales.repository import ProfileRepository, SalesRepository

router = APIRouter()

STATUS_LABELS = {
    "pending": N_("Pending"), "partially_shipped": N_("Partially shipped"), "shipped": N_("Shipped"),
    "delivered": N_("Delivered"), "cancelled": N_("Order cancelled"), "refunded": N_("Refunded"),
    "partially_refunded": N_("Partially refunded"), "returned": N_("Returned"), "other": N_("Other"),
}
STATUS_BADGES = {"shipped": "ok", "delivered": "ok", "cancelled": "off", "refunded": "warn",
                 "partially_refunded": "warn", "returned": "warn", "pending": "", "partially_shipped": ""}
CHANNEL_LABELS = {"amazon": N_("Amazon"), "shopify": N_("Shopify"), "ebay": N_("eBay"),
                  "own_site": N_("Own site"), "other": N_("Other channel")}
IMPORT_CHANNEL_LABELS = {"amazon": N_("Amazon All Orders report (tab-separated)"),
                         "shopify": N_("Shopify orders export (CSV)"),
                         "ebay": N_("eBay Seller Hub orders report (CSV)"),
                         "generic": N_("Other CSV or Excel file, with a column profile")}
JOB_STATUS_LABELS = {"queued": N_("Queued"), "running": N_("Running"), "succeeded": N_("Done"),
                     "failed": N_("Failed")}
FIELD_LABELS = {key: (en, zh) for key, en, zh, _required in FIELDS}
SORTS = {"order_date": SalesOrderLine.order_date, "ship_date": SalesOrderLine.ship_date,
         "sku": SalesOrderLine.sku, "order": SalesOrderLine.external_order_id, "status": SalesOrderLine.status,
         "channel": SalesOrderLine.channel, "quantity": SalesOrderLine.quantity}
#: An Excel export holds at most this many lines (the workbook is built in memory).
EXPORT_LIMIT = 50_000


def status_label(status: str | None) -> str:
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else (status or "")


def channel_label(channel: str | None) -> str:
    return _(CHANNEL_LABELS[channel]) if channel in CHANNEL_LABELS else (channel or "")


def field_label(key: str) -> str:
    en, zh = FIELD_LABELS.get(key, (key, key))
    return en if locale_var.get() == "en" else zh


def _helpers() -> dict:
    return {"status_label": status_label, "channel_label": channel_label, "field_label": field_label,
            "status_badge": lambda s: STATUS_BADGES.get(s, ""),
            "job_status_label": lambda s: _(JOB_STATUS_LABELS.get(s, s))}


def _local_day(text: str | None, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD of the page's time zone as a UTC bound (``end``: the start of the next day)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1) if end else day, time(0), tzinfo=ZoneInfo(timezone_var.get()))


def _filters(params: dict) -> dict:
    unknown = {"1": True, "0": False}.get(params.get("sku_unknown") or "")
    return {"channel": params.get("channel") or None, "status": params.get("status") or None,
            "sku": params.get("sku") or None, "q": params.get("q") or None,
            "order_id": params.get("order") or None, "sku_unknown": unknown,
            "date_from": _local_day(params.get("date_from")), "date_to": _local_day(params.get("date_to"), end=True),
            "import_id": uuid_param(params.get("import_id"))}


@router.get("/sales")
def lines_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = SalesRepository(db, principal)
    page = offset_page(db, repo.filtered(**_filters(params)), sort_columns=SORTS, sort=params.get("sort"),
                       desc=params.get("desc", "1") == "1", page=int_param(params, "page", 1),
                       per_page=int_param(params, "per_page", 20), default_sort="order_date")
    amounts = service.amounts_reader(db)
    return render(request, "sales/lines.html", {
        "active": "sales", "tab": "lines", "page": page, "params": params, "amounts": {r.id: amounts(r)
                                                                                        for r in page.rows},
        "statuses": [s.value for s in LineStatus], "channels": [c.value for c in Channel],
        "can_write": principal.can(Action.WRITE), **_helpers()})


@router.get("/sales.xlsx")
def export(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    rows = db.scalars(SalesRepository(db, principal).filtered(**_filters(params))
                      .order_by(SalesOrderLine.order_date.desc(), SalesOrderLine.id.desc())
                      .limit(EXPORT_LIMIT).execution_options(yield_per=1000))
    amounts = service.amounts_reader(db)
    header = [_("Channel"), _("Marketplace"), _("Order"), _("Line"), _("Order date"), _("Ship date"), _("Status"),
              _("Status in the file"), _("Fulfilment"), "SKU", _("In catalogue"), _("Quantity"), _("Currency"),
              _("Item price"), _("Item tax"), _("Shipping fee"), _("Shipping tax"), _("Other charges"), _("Discount"),
              _("Fees"), _("Refunded"), _("Buyer country")]

    def lines():
        for r in rows:
            a = amounts(r)
            yield [channel_label(r.channel), r.marketplace or "", r.external_order_id, r.line_id,
                   _naive(r.order_date), _naive(r.ship_date), status_label(r.status), r.raw_status or "",
                   r.fulfillment_channel or "", r.sku, _("No") if r.sku_unknown else _("Yes"), r.quantity,
                   r.currency or "", a["item_price"], a["item_tax"], a["shipping"], a["shipping_tax"], a["other"],
                   a["discount"], a["fees"], a["refunded"], r.buyer_country or ""]

    return xlsx_response("sales-lines.xlsx", header, lines())


def _naive(value: datetime | None):
    """Excel has no time zones: the time in the page's zone."""
    return None if value is None else value.astimezone(ZoneInfo(timezone_var.get())).replace(tzinfo=None)


# --- imports ------------------------------------------------------------------------------------------------

def _import_context(db, principal, **extra) -> dict:
    recent, _next = jobs.JobRepository(db, principal).page(kind=service.JOB_KIND, cursor=None, limit=10)
    return {"active": "sales", "tab": "import", "profiles": ProfileRepository(db, principal).all(),
            "channels": [(k, _(v)) for k, v in IMPORT_CHANNEL_LABELS.items()], "recent": recent,
            "form": {}, "errors": {}, **_helpers(), **extra}


@router.get("/sales/import")
def import_page(request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    return render(request, "sales/import.html", _import_context(db, principal))


@router.post("/sales/import", dependencies=[CSRF])
def start_import(request: Request, principal: PagePrincipal, db: DB, background: BackgroundTasks,
                 file: UploadFile = File(...), channel: str = Form(""), profile: str = Form(""),
                 timezone: str = Form("")):
    form = {"channel": channel, "profile": profile, "timezone": timezone}
    try:
        job = service.start_import(db, principal=principal, data_dir=request.app.state.settings.data_dir,
                                   upload=file.file, filename=file.filename or "orders", channel=channel,
                                   profile=profile or None, timezone=timezone.strip() or None)
    except ValidationFailed as exc:
        db.rollback()
        return render(request, "sales/import.html", _import_context(db, principal, form=form,
                                                                    errors=error_messages(exc)), status_code=422)
    background.add_task(service.launch, request.app.state.db, job)
    return redirect(f"/sales/imports/{job.id}")


def _job_context(job: jobs.Job) -> dict:
    p = jobs.progress_of(job)
    result = job.result or {}
    return {"job": job, "progress": p, "result": result, "params": job.params or {},
            "errors": result.get("errors", [])[:200], "warnings": result.get("warnings", [])[:50],
            "zh": locale_var.get() != "en"}


@router.get("/sales/imports/{import_id}")
def import_status_page(import_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    job = jobs.JobRepository(db, principal).get(import_id, kind=service.JOB_KIND)
    return render(request, "sales/import_status.html", {"active": "sales", "tab": "import", **_helpers(),
                                                        **_job_context(job)})


@router.get("/sales/imports/{import_id}/progress")
def import_progress(import_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    """The progress fragment, polled by htmx every second until the job has finished."""
    job = jobs.JobRepository(db, principal).get(import_id, kind=service.JOB_KIND)
    return render(request, "sales/_import_progress.html", {**_helpers(), **_job_context(job)})


@router.get("/sales/imports/{import_id}/errors.csv")
def import_errors(import_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    job = jobs.JobRepository(db, principal).get(import_id, kind=service.JOB_KIND)
    zh = locale_var.get() != "en"
    errors = (job.result or {}).get("errors", [])
    data = to_csv([_("Row"), _("Column"), _("Value"), _("Problem")],
                  ([e["row"], e["column"], e["value"], e.get("reason_zh") if zh else e["reason"]] for e in errors))
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="import-errors.csv"'})


# --- column profiles ----------------------------------------------------------------------------------------

@router.get("/sales/profiles")
def profiles_page(request: Request, principal: PagePrincipal, db: DB):
    return render(request, "sales/profiles.html", {
        "active": "sales", "tab": "profiles", "profiles": ProfileRepository(db, principal).all(),
        "can_write": principal.can(Action.WRITE), **_helpers()})


def _profile_form(request, *, form, errors=None, profile=None, status_code=200):
    return render(request, "sales/profile_form.html", {
        "active": "sales", "tab": "profiles", "form": form, "errors": errors or {}, "profile": profile,
        "fields": FIELDS, "channels": [c.value for c in Channel], **_helpers()}, status_code=status_code)


def _profile_values(form: dict) -> dict:
    columns = {key: form.get(f"col_{key}", "") for key, *_rest in FIELDS if form.get(f"col_{key}", "").strip()}
    return {"name": form.get("name", ""), "channel": form.get("channel", ""), "marketplace": form.get("marketplace"),
            "columns": columns, "date_format": form.get("date_format"), "timezone": form.get("timezone"),
            "default_currency": form.get("default_currency"), "decimal_comma": form.get("decimal_comma") == "1"}


def _form_of(profile) -> dict:
    form = {"name": profile.name, "channel": profile.channel, "marketplace": profile.marketplace or "",
            "date_format": profile.date_format or "", "timezone": profile.timezone,
            "default_currency": profile.default_currency or "", "decimal_comma": "1" if profile.decimal_comma else ""}
    form.update({f"col_{k}": v for k, v in (profile.columns or {}).items()})
    return form


@router.get("/sales/profiles/new")
def new_profile_page(request: Request, principal: PagePrincipal):
    principal.tenant(Action.WRITE)
    return _profile_form(request, form={"channel": "own_site", "timezone": "Asia/Shanghai"})


@router.post("/sales/profiles", dependencies=[CSRF])
def create_profile(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    try:
        profile = service.create_profile(db, principal=principal, data=_profile_values(form))
    except ValidationFailed as exc:
        db.rollback()
        return _profile_form(request, form=form, errors=error_messages(exc), status_code=422)
    flash(request, _("Profile %(name)s saved.", name=profile.name))
    return redirect("/sales/profiles")


@router.get("/sales/profiles/{profile_id}/edit")
def edit_profile_page(profile_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    profile = ProfileRepository(db, principal).get(profile_id)
    return _profile_form(request, form=_form_of(profile), profile=profile)


@router.post("/sales/profiles/{profile_id}/edit", dependencies=[CSRF])
def edit_profile(profile_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    try:
        profile = service.update_profile(db, principal=principal, profile_id=profile_id, data=_profile_values(form))
    except ValidationFailed as exc:
        db.rollback()
        profile = ProfileRepository(db, principal).get(profile_id)
        return _profile_form(request, form=form, profile=profile, errors=error_messages(exc), status_code=422)
    flash(request, _("Profile %(name)s saved.", name=profile.name))
    return redirect("/sales/profiles")


@router.post("/sales/profiles/{profile_id}/delete", dependencies=[CSRF])
def delete_profile(profile_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    service.delete_profile(db, principal=principal, profile_id=profile_id)
    flash(request, _("Profile deleted."))
    return redirect("/sales/profiles")


# --- SKUs missing from the catalogue ------------------------------------------------------------------------

@router.get("/sales/unknown-skus")
def unknown_skus_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    return render(request, "sales/unknown_skus.html", {
        "active": "sales", "tab": "unknown", "params": params,
        "rows": SalesRepository(db, principal).unknown_skus(q=params.get("q") or None),
        "can_write": principal.can(Action.WRITE), **_helpers()})


@router.post("/sales/unknown-skus/link", dependencies=[CSRF])
def link_unknown_skus(request: Request, principal: PagePrincipal, db: DB):
    linked = service.link_known_skus(db, principal=principal)
    flash(request, _("%(count)s lines linked to the catalogue.", count=linked))
    return redirect("/sales/unknown-skus")
