"""Overseas warehouse pages: list, register, detail (clients, evidence, filings, history), edit."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse

from tradeloop.audit.repository import AuditRepository
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.kit.errors import DomainError, FieldError, ValidationFailed
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.i18n import pick
from tradeloop.kit.pages import error_messages, flash, int_param, offset_page, redirect, xlsx_response
from tradeloop.kit.templating import evidence_kind_label, render
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.reference.repository import ReferenceRepository
from tradeloop.warehouse import service
from tradeloop.warehouse.models import EvidenceKind, FilingStatus, Tenure, Warehouse
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.schemas import ClientCreate, FilingCreate, FilingEventCreate, WarehouseCreate, WarehouseUpdate

router = APIRouter()

FORM_FIELDS = ("code", "name_zh", "name_en", "operator_uscc", "operator_name", "country", "address", "unlocode",
               "area_m2", "tenure", "lease_start", "lease_end", "contact")
SORTS = {"code": Warehouse.code, "name": Warehouse.name_zh, "country": Warehouse.country,
         "tenure": Warehouse.tenure, "created": Warehouse.id}


def _tenures():
    return [("owned", _("Owned")), ("leased", _("Leased"))]


def _countries(db):
    return [(c.iso_alpha2, f"{c.iso_alpha2} {pick(c.name_zh, c.name_en)}")
            for c in ReferenceRepository(db).countries_with_iso() if c.iso_alpha2 != "CN"]


def _filters(params) -> dict:
    return {"q": params.get("q") or None, "country": params.get("country") or None,
            "tenure": params.get("tenure") or None}


@router.get("/warehouses")
def list_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = WarehouseRepository(db, principal)
    page = offset_page(db, repo.filtered(**_filters(params)), sort_columns=SORTS, sort=params.get("sort"),
                       desc=params.get("desc") == "1", page=int_param(params, "page", 1),
                       per_page=int_param(params, "per_page", 20), default_sort="code")
    return render(request, "warehouses/list.html", {
        "active": "warehouses", "page": page, "params": params, "tenures": _tenures(), "countries": _countries(db),
        "can_write": principal.can(Action.WRITE), "me": principal.enterprise_id})


@router.get("/warehouses.xlsx")
def export(request: Request, principal: PagePrincipal, db: DB):
    rows = WarehouseRepository(db, principal).iterate(**_filters(dict(request.query_params)))
    header = [_("Code"), _("Name (Chinese)"), _("Name (English)"), _("Operated by"), _("Country"), _("Address"),
              "UN/LOCODE", _("Area (m²)"), _("Tenure"), _("Lease start"), _("Lease end"), _("Contact")]
    return xlsx_response("warehouses.xlsx", header, (
        [w.code, w.name_zh, w.name_en, w.operator_name, w.country, w.address, w.unlocode,
         float(w.area_m2) if w.area_m2 is not None else None, w.tenure, w.lease_start, w.lease_end, w.contact]
        for w in rows))


def _form_page(request, db, principal, *, form, errors=None, warehouse=None, status_code=200):
    return render(request, "warehouses/form.html", {
        "active": "warehouses", "form": form, "errors": errors or {}, "warehouse": warehouse,
        "tenures": _tenures(), "countries": _countries(db)}, status_code=status_code)


@router.get("/warehouses/new")
def new_page(request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    return _form_page(request, db, principal, form={"tenure": "leased"})


def _form_fields(form: dict) -> dict:
    return {k: form.get(k, "") for k in FORM_FIELDS}


def _to_schema(values: dict, cls):
    """Form strings to the schema, and the field errors of values that do not parse (dates, numbers).

    The schema still goes to the service with those fields empty, so the form shows every problem at
    once; the caller refuses to keep anything while parse errors exist."""
    errors = []
    data = {k: (v or None) for k, v in values.items()}
    for key in ("lease_start", "lease_end"):
        if data[key]:
            try:
                data[key] = date.fromisoformat(data[key])
            except ValueError:
                errors.append(FieldError(key, "must be a date (YYYY-MM-DD)", "日期格式应为 YYYY-MM-DD"))
                data[key] = None
    if data["area_m2"]:
        try:
            from decimal import Decimal

            data["area_m2"] = Decimal(data["area_m2"].replace(",", ""))
            if not data["area_m2"].is_finite():
                raise ValueError("not a finite number")
        except Exception:  # noqa: BLE001 - any unparseable text is the same field error
            errors.append(FieldError("area_m2", "must be a number", "面积应为数字"))
            data["area_m2"] = None
    if data["tenure"] not in (None, *[t.value for t in Tenure]):
        data["tenure"] = None
    if cls is WarehouseCreate:
        for key in ("code", "name_zh", "country", "address"):
            data[key] = data[key] or ""
        if data["tenure"] is None:
            errors.append(FieldError("tenure", "is required", "产权性质为必填项"))
            data["tenure"] = Tenure.OWNED
    if cls is WarehouseUpdate:
        return cls(**{k: v for k, v in data.items() if k != "operator_uscc" or v}), errors
    return cls(**{k: v for k, v in data.items() if v is not None or k in ("code", "name_zh")}), errors


def _save(db, fn, parse_errors: list[FieldError], **kwargs):
    """Run the service; parse errors and the service's own errors are reported together, nothing kept."""
    try:
        result = fn(db, **kwargs)
        if parse_errors:
            raise ValidationFailed(errors=[])
        return result
    except ValidationFailed as exc:
        db.rollback()
        parsed = {e.field for e in parse_errors}
        raise ValidationFailed(exc.detail, errors=parse_errors + [e for e in exc.errors if e.field not in parsed],
                               **exc.extra) from None


@router.post("/warehouses", dependencies=[CSRF])
def create(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    values = _form_fields(form)
    data, parse_errors = _to_schema(values, WarehouseCreate)
    try:
        warehouse = _save(db, service.create_warehouse, parse_errors, principal=principal, data=data)
    except ValidationFailed as exc:
        return _form_page(request, db, principal, form=values, errors=error_messages(exc), status_code=422)
    flash(request, _("Warehouse %(name)s registered.", name=warehouse.name_zh))
    return redirect(f"/warehouses/{warehouse.id}")


@router.get("/warehouses/{warehouse_id}")
def detail(warehouse_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    repo = WarehouseRepository(db, principal)
    warehouse = repo.get(warehouse_id)
    owner = warehouse.enterprise_id == principal.enterprise_id
    context = {"active": "warehouses", "w": warehouse, "owner": owner,
               "can_write": owner and principal.can(Action.WRITE),
               "errors": {}, "evidence_kinds": [(k.value, evidence_kind_label(k.value)) for k in EvidenceKind],
               "filing_statuses": [(s.value, s.value) for s in FilingStatus if s != FilingStatus.FILED],
               "abolished_on": service.FILING_ABOLISHED_ON}
    if owner:
        clients = repo.clients(warehouse.id)
        names = EnterpriseRepository(db, principal).names({c.client_enterprise_id for c in clients})
        rows, _next = repo.evidence_page(warehouse.id, cursor=None, limit=500)
        filings, _n = repo.filings_page(warehouse.id, cursor=None, limit=500)
        events = repo.filing_events([f.id for f in filings])
        context.update(
            clients=[(c, names.get(c.client_enterprise_id, "")) for c in clients], evidence=rows,
            filings=[(f, service.effective_filing_status(f), events[f.id]) for f in filings],
            history=AuditRepository(db, principal).for_entities(
                [str(x.id) for x in (warehouse, *clients, *rows, *filings)]))
    return render(request, "warehouses/detail.html", context)


@router.get("/warehouses/{warehouse_id}/edit")
def edit_page(warehouse_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    w = WarehouseRepository(db, principal).get_owned(warehouse_id)
    form = {k: getattr(w, k, "") for k in FORM_FIELDS if k != "operator_uscc"}
    form = {k: ("" if v is None else str(v)) for k, v in form.items()}
    return _form_page(request, db, principal, form=form, warehouse=w)


@router.post("/warehouses/{warehouse_id}/edit", dependencies=[CSRF])
def edit(warehouse_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    values = _form_fields(form)
    data, parse_errors = _to_schema(values, WarehouseUpdate)
    try:
        _save(db, service.update_warehouse, parse_errors, principal=principal, warehouse_id=warehouse_id, data=data)
    except ValidationFailed as exc:
        w = WarehouseRepository(db, principal).get_owned(warehouse_id)
        return _form_page(request, db, principal, form=values, warehouse=w, errors=error_messages(exc),
                          status_code=422)
    flash(request, _("Warehouse saved."))
    return redirect(f"/warehouses/{warehouse_id}")


def _apply(request, db, action, done: str, back: str, *, refused=(422,)):
    """Run one service action from a small form on the detail page: success or the refusal is flashed
    and the page reloads at its section; a refusal rolls the transaction back."""
    try:
        action()
    except DomainError as exc:
        if exc.status not in refused:
            raise
        db.rollback()
        messages = error_messages(exc)
        flash(request, "；".join(v for k, v in messages.items() if k != "_") or messages["_"], "error")
    else:
        flash(request, done)
    return redirect(back)


def _parse_date(value: str) -> date | None:
    return date.fromisoformat(value) if value else None


@router.post("/warehouses/{warehouse_id}/clients", dependencies=[CSRF])
def add_client(warehouse_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB,
               client_uscc: str = Form(""), since: str = Form("")):
    back = f"/warehouses/{warehouse_id}#clients"
    try:
        data = ClientCreate(client_uscc=client_uscc, since=_parse_date(since))
    except ValueError:
        flash(request, _("The date must be YYYY-MM-DD."), "error")
        return redirect(back)
    return _apply(request, db, lambda: service.add_client(db, principal=principal, warehouse_id=warehouse_id,
                                                          data=data),
                  _("Client added."), back, refused=(409, 422))


@router.post("/warehouses/{warehouse_id}/clients/{client_id}/remove", dependencies=[CSRF])
def remove_client(warehouse_id: uuid.UUID, client_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    service.remove_client(db, principal=principal, warehouse_id=warehouse_id, client_id=client_id)
    flash(request, _("Client removed."))
    return redirect(f"/warehouses/{warehouse_id}#clients")


@router.post("/warehouses/{warehouse_id}/evidence", dependencies=[CSRF])
def upload(warehouse_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB,
           file: UploadFile = File(...), kind: str = Form("lease"), valid_from: str = Form(""),
           valid_to: str = Form("")):
    settings = request.app.state.settings
    back = f"/warehouses/{warehouse_id}#evidence"
    try:
        vf, vt = _parse_date(valid_from), _parse_date(valid_to)
    except ValueError:
        flash(request, _("The date must be YYYY-MM-DD."), "error")
        return redirect(back)
    data = file.file.read(settings.max_upload_bytes + 1)
    return _apply(request, db, lambda: service.add_evidence(
        db, principal=principal, store=request.app.state.files, max_bytes=settings.max_upload_bytes,
        warehouse_id=warehouse_id, kind=kind, filename=file.filename or "", data=data, valid_from=vf, valid_to=vt),
        _("Evidence file uploaded."), back)


@router.get("/warehouses/{warehouse_id}/evidence/{evidence_id}")
def download(warehouse_id: uuid.UUID, evidence_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    row = WarehouseRepository(db, principal).evidence(warehouse_id, evidence_id)
    return FileResponse(request.app.state.files.path_for(row.sha256), media_type=row.content_type,
                        filename=row.filename)


@router.post("/warehouses/{warehouse_id}/filings", dependencies=[CSRF])
def record_filing(warehouse_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB,
                  customs_office: str = Form(""), filing_no: str = Form(""), modes: str = Form("9810"),
                  filed_on: str = Form("")):
    back = f"/warehouses/{warehouse_id}#filings"
    try:
        data = FilingCreate(customs_office=customs_office, filing_no=filing_no or None, modes=modes,
                            filed_on=date.fromisoformat(filed_on))
    except ValueError:
        flash(request, _("The date must be YYYY-MM-DD."), "error")
        return redirect(back)
    return _apply(request, db, lambda: service.record_filing(db, principal=principal, warehouse_id=warehouse_id,
                                                             data=data),
                  _("Customs filing recorded."), back)


@router.post("/warehouses/{warehouse_id}/filings/{filing_id}/events", dependencies=[CSRF])
def filing_event(warehouse_id: uuid.UUID, filing_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB,
                 status: str = Form(""), effective_on: str = Form(""), note: str = Form("")):
    back = f"/warehouses/{warehouse_id}#filings"
    try:
        data = FilingEventCreate(status=FilingStatus(status), effective_on=date.fromisoformat(effective_on),
                                 note=note or None)
    except ValueError:
        flash(request, _("Choose a status and a date (YYYY-MM-DD)."), "error")
        return redirect(back)
    return _apply(request, db, lambda: service.add_filing_event(
        db, principal=principal, warehouse_id=warehouse_id, filing_id=filing_id, data=data),
        _("Filing status recorded."), back)
