"""Shipment pages: list (filter, sort, page), late shipments, new/edit form, detail, timeline with a form to
record one event, and the event file import with its row-level error report.

Every change goes through ``logistics.service`` or ``logistics.events`` inside the request's transaction;
a refusal rolls it back and comes back as field errors on the form.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Request, UploadFile

from tradeloop.kit.errors import ValidationFailed
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.i18n import locale_var, timezone_var
from tradeloop.kit.models import utcnow
from tradeloop.kit.pages import error_messages, flash, int_param, offset_page, redirect, uuid_param
from tradeloop.kit.tables import ImportRejected, to_csv
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.logistics import codes, events, service
from tradeloop.logistics.checks import offset_zone
from tradeloop.logistics.formats import events as layout
from tradeloop.logistics.labels import Labels
from tradeloop.logistics.models import Shipment, ShipmentStatus
from tradeloop.logistics.repository import ShipmentRepository
from tradeloop.reference.repository import ReferenceRepository
from tradeloop.warehouse.repository import WarehouseRepository

router = APIRouter()

SORTS = {"created": Shipment.id, "number": Shipment.number, "eta": Shipment.eta, "status": Shipment.status}
HEAD_KEYS, LEG_KEYS = service.HEAD, service.LEG_FIELDS
CONTAINER_KEYS = ("container_no", "seal_no", "size_type")
ROW_KEY = re.compile(r"(legs|containers|lines)-(\d{1,3})-(\w+)")
ERROR_KEY = re.compile(r"(legs|containers|lines)\[(\d+)\]\.(\w+)")
BLANK_LEGS, BLANK_CONTAINERS = 2, 3
EVENT_FORM_KEYS = ("event_id", "event_created_at", "classifier", "event_type", "event_code", "event_time", "mode",
                   "location", "container_no", "remark")


def _context(principal: Principal, **extra) -> dict:
    return {"active": "logistics", "labels": Labels, "can_write": principal.can(Action.WRITE), **extra}


def _local_input(value: datetime | None) -> str:
    """A stored time as a ``datetime-local`` input value, in the configured time zone."""
    return value.astimezone(ZoneInfo(timezone_var.get())).strftime("%Y-%m-%dT%H:%M") if value else ""


def _plain(value) -> str:
    if value is None:
        return ""
    return Labels.plain(value) if isinstance(value, Decimal) else str(value)


def _warehouses(db, principal) -> list:
    return list(db.scalars(WarehouseRepository(db, principal).readable().order_by("code")))


# --- list and late list ---------------------------------------------------------------------------


def _filters(params: dict) -> dict:
    return {"q": params.get("q") or None,
            "status": params.get("status") if params.get("status") in Labels.statuses else None,
            "mode": params.get("mode") if params.get("mode") in Labels.modes else None,
            "warehouse_id": uuid_param(params.get("warehouse_id"))}


def _page_rows(db, principal, shipments) -> list[dict]:
    legs = ShipmentRepository(db, principal).legs_of([s.id for s in shipments])
    return [{"s": s, "legs": legs[s.id]} for s in shipments]


@router.get("/logistics")
def list_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = ShipmentRepository(db, principal)
    page = offset_page(db, repo.filtered(**_filters(params)), sort_columns=SORTS, sort=params.get("sort"),
                       desc=params.get("desc", "1") == "1", page=int_param(params, "page", 1),
                       per_page=int_param(params, "per_page", 20), default_sort="created")
    counts = repo.count_by_status()
    warehouses = _warehouses(db, principal)
    return render(request, "logistics/list.html", _context(
        principal, tab="shipments", page=page, params=params, rows=_page_rows(db, principal, page.rows),
        counts=counts, total=sum(counts.values()), warehouses=warehouses,
        warehouse_names={w.id: w for w in warehouses}))


@router.get("/logistics/late")
def late_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    hours = min(max(int_param(params, "threshold_hours", service.DEFAULT_THRESHOLD_HOURS), 0), 24 * 90)
    now = utcnow()
    page = offset_page(db, ShipmentRepository(db, principal).late(now=now, threshold_minutes=hours * 60),
                       sort_columns=SORTS, sort=params.get("sort"), desc=params.get("desc") == "1",
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 20),
                       default_sort="eta")
    rows = _page_rows(db, principal, page.rows)
    for row in rows:
        row["late"] = service.lateness(row["s"], now=now, threshold=timedelta(hours=hours))
    return render(request, "logistics/late.html", _context(principal, tab="late", page=page, params=params,
                                                            rows=rows, threshold_hours=hours))


# --- the form ---------------------------------------------------------------------------------------


def _candidates(db, principal, shipment: Shipment | None) -> list[dict]:
    """Lines that may go on the shipment: of shippable declarations, with what is left to ship."""
    repo = ShipmentRepository(db, principal)
    pairs = repo.shippable_lines(service.NOT_SHIPPABLE)
    mine = {line.declaration_line_id: line for line in repo.lines(shipment.id)} if shipment else {}
    shipped = repo.shipped_qty([line.id for _d, line in pairs], except_shipment_id=shipment.id if shipment else None)
    out = []
    for decl, line in pairs:
        left = line.qty - shipped.get(line.id, Decimal(0))
        if left <= 0 and line.id not in mine:
            continue
        carried = mine.get(line.id)
        out.append({"i": len(out), "decl": decl, "line": line, "left": left, "carry": carried is not None,
                    "qty": _plain(carried.qty) if carried else ""})
    return out


def _form_of(loaded) -> dict:
    shipment = loaded.shipment
    legs = [{k: _local_input(getattr(leg, k)) if k.startswith("planned_") else _plain(getattr(leg, k))
             for k in LEG_KEYS} for leg in loaded.legs]
    containers = [{k: getattr(c, k) or "" for k in CONTAINER_KEYS} for c in loaded.containers]
    return {"head": {k: _plain(getattr(shipment, k)) for k in HEAD_KEYS}, "legs": legs, "containers": containers}


def _with_blanks(rows: list[dict], keys, blanks: int) -> list[dict]:
    return rows + [dict.fromkeys(keys, "") for _ in range(blanks)]


def _posted(form: dict) -> tuple[dict, dict]:
    """The service's values from the posted form, and where each list entry came from (for errors): the
    form row of a leg or container, the declaration line of a carried line."""
    rows: dict[tuple[str, int], dict] = defaultdict(dict)
    for key, value in form.items():
        match = ROW_KEY.fullmatch(key)
        if match:
            rows[(match[1], int(match[2]))][match[3]] = value
    values = {k: form.get(k, "") for k in HEAD_KEYS}
    origin: dict[str, list[str]] = {}
    wanted = {"legs": lambda r: any(r.get(k) for k in ("mode", "from_locode", "to_locode")),
              "containers": lambda r: r.get("container_no"),
              "lines": lambda r: r.get("carry")}
    for group, keep in wanted.items():
        picked = sorted((i, r) for (g, i), r in rows.items() if g == group and keep(r))
        origin[group] = [f"line-{r.get('declaration_line_id')}" if group == "lines" else f"{group}-{i}"
                         for i, r in picked]
        values[group] = [{k: v for k, v in r.items() if k != "carry"} for _i, r in picked]
    return values, {"rows": rows, "origin": origin}


def _errors(exc: ValidationFailed, origin: dict) -> dict[str, str]:
    """Field errors keyed by input: ``legs[1].to_locode`` → ``legs-4-to_locode`` (its form row),
    ``lines[0].qty`` → ``line-<declaration line id>-qty``."""
    out = {}
    for key, message in error_messages(exc).items():
        match = ERROR_KEY.fullmatch(key)
        if match and int(match[2]) < len(origin.get(match[1], [])):
            key = f"{origin[match[1]][int(match[2])]}-{match[3]}"
        out[key] = f"{out[key]}；{message}" if key in out else message
    return out


def _form_page(request, db, principal, *, shipment=None, form: dict, candidates: list[dict], errors=None,
               status_code: int = 200):
    return render(request, "logistics/form.html", _context(
        principal, shipment=shipment, form=form, candidates=candidates, errors=errors or {},
        warehouses=_warehouses(db, principal), locodes=ReferenceRepository(db).rows("unlocodes"),
        lines_editable=shipment is None
        or shipment.status == ShipmentStatus.PLANNED), status_code=status_code)


def _reposted(form: dict, posted: dict, candidates: list[dict]) -> dict:
    """The form as the user sent it, blank rows included, for re-rendering with errors."""
    def rows_of(group, keys):
        return [{k: r.get(k, "") for k in keys} for (g, _i), r in sorted(posted["rows"].items()) if g == group]

    sent = {r.get("declaration_line_id"): r for (g, _i), r in posted["rows"].items() if g == "lines"}
    for c in candidates:
        row = sent.get(str(c["line"].id), {})
        c["carry"], c["qty"] = bool(row.get("carry")), row.get("qty", "")
    return {"head": {k: form.get(k, "") for k in HEAD_KEYS}, "legs": rows_of("legs", LEG_KEYS),
            "containers": rows_of("containers", CONTAINER_KEYS)}


@router.get("/logistics/new")
def new_page(request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    form = {"head": {}, "legs": _with_blanks([], LEG_KEYS, BLANK_LEGS),
            "containers": _with_blanks([], CONTAINER_KEYS, BLANK_CONTAINERS)}
    return _form_page(request, db, principal, form=form, candidates=_candidates(db, principal, None))


def _save(request, db, principal, form: dict, shipment: Shipment | None):
    values, posted = _posted(form)
    if shipment is not None and shipment.status != ShipmentStatus.PLANNED:
        values.pop("lines")  # the goods are fixed once the shipment has left
    try:
        if shipment is None:
            saved = service.create_shipment(db, principal=principal, data=values)
        else:
            saved = service.update_shipment(db, principal=principal, shipment_id=shipment.id, data=values)
    except ValidationFailed as exc:
        db.rollback()
        shipment = ShipmentRepository(db, principal).get(shipment.id) if shipment else None
        candidates = _candidates(db, principal, shipment)
        return _form_page(request, db, principal, shipment=shipment, candidates=candidates,
                          form=_reposted(form, posted, candidates), errors=_errors(exc, posted["origin"]),
                          status_code=422)
    flash(request, _("Shipment %(number)s saved.", number=saved.number))
    return redirect(f"/logistics/{saved.id}")


@router.post("/logistics", dependencies=[CSRF])
def create(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    return _save(request, db, principal, form, None)


# --- event import ---------------------------------------------------------------------------------


@router.get("/logistics/events/import")
def import_page(request: Request, principal: PagePrincipal):
    principal.tenant(Action.WRITE)
    return render(request, "logistics/import.html", _context(principal, tab="import", columns=layout.COLUMNS))


@router.post("/logistics/events/import", dependencies=[CSRF])
def import_file(request: Request, principal: PagePrincipal, db: DB, file: UploadFile = File(...)):
    limit = request.app.state.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    context = _context(principal, tab="import", columns=layout.COLUMNS, filename=file.filename)
    if len(data) > limit:
        flash(request, _("The file is larger than the upload limit."), "error")
        return redirect("/logistics/events/import")
    try:
        result = events.import_events(db, principal=principal, filename=file.filename or "", data=data)
    except ImportRejected as exc:
        db.rollback()
        zh = locale_var.get() != "en"
        report = to_csv([_("Row"), _("Column"), _("Value"), _("Problem")],
                        ([e.row, e.column, e.value, e.message_zh if zh else e.message_en] for e in exc.row_errors))
        context.update(row_errors=exc.row_errors, zh=zh,
                       report_href="data:text/csv;charset=utf-8;base64," + base64.b64encode(report).decode())
        return render(request, "logistics/import.html", context, status_code=422)
    context["result"] = {o.value: result.count(o) for o in events.Outcome}
    return render(request, "logistics/import.html", context)


# --- one shipment ---------------------------------------------------------------------------------


@router.get("/logistics/{shipment_id}")
def detail_page(shipment_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    repo = ShipmentRepository(db, principal)
    loaded = repo.load(shipment_id)
    return render(request, "logistics/detail.html", _context(
        principal, tab="shipments", loaded=loaded, s=loaded.shipment, can_delete=not repo.has_events(shipment_id)))


@router.get("/logistics/{shipment_id}/edit")
def edit_page(shipment_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    loaded = ShipmentRepository(db, principal).load(shipment_id)
    form = _form_of(loaded)
    form["legs"] = _with_blanks(form["legs"], LEG_KEYS, BLANK_LEGS)
    form["containers"] = _with_blanks(form["containers"], CONTAINER_KEYS, BLANK_CONTAINERS)
    return _form_page(request, db, principal, shipment=loaded.shipment, form=form,
                      candidates=_candidates(db, principal, loaded.shipment))


@router.post("/logistics/{shipment_id}/edit", dependencies=[CSRF])
def edit(shipment_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    shipment = ShipmentRepository(db, principal).get(shipment_id)
    return _save(request, db, principal, form, shipment)


@router.post("/logistics/{shipment_id}/delete", dependencies=[CSRF])
def delete(shipment_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    number = ShipmentRepository(db, principal).get(shipment_id).number
    service.delete_shipment(db, principal=principal, shipment_id=shipment_id)
    flash(request, _("Shipment %(number)s deleted.", number=number))
    return redirect("/logistics")


def _timeline(db, principal, shipment: Shipment) -> list[dict]:
    repo = ShipmentRepository(db, principal)
    stored = sorted(repo.events(shipment.id), key=lambda e: (e.event_time, e.event_created_at, e.event_id))
    retracted = repo.retractions_of([e.event_id for e in stored])
    return [{"e": e, "local": e.event_time.astimezone(offset_zone(e.tz_offset)), "retracted_by": retracted.get(
        e.event_id), "milestone": codes.milestone(e.event_type, e.event_code)} for e in stored]


def _timeline_page(request, db, principal, shipment: Shipment, *, form: dict, errors=None, status_code=200):
    return render(request, "logistics/timeline.html", _context(
        principal, tab="shipments", s=shipment, items=_timeline(db, principal, shipment), form=form,
        errors=errors or {}, dcsa=codes.DCSA_CODES, rec24=list(codes.REC24_CODES)), status_code=status_code)


def _event_form() -> dict:
    now = utcnow()
    return {"event_id": str(uuid.uuid4()), "event_created_at": now.isoformat(), "classifier": "ACT",
            "event_type": "TRANSPORT", "event_code": "", "event_time": _local_input(now)}


@router.get("/logistics/{shipment_id}/timeline")
def timeline_page(shipment_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    shipment = ShipmentRepository(db, principal).get(shipment_id)
    return _timeline_page(request, db, principal, shipment, form=_event_form())


@router.post("/logistics/{shipment_id}/events", dependencies=[CSRF])
def record_event(shipment_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    """The event id and creation time are made when the form is shown, so sending the form twice records the
    event once."""
    shipment = ShipmentRepository(db, principal).get(shipment_id)
    sent = {k: form.get(k, "") for k in EVENT_FORM_KEYS}
    when = _local_time(sent["event_time"])
    values = {**sent, "shipment_id": str(shipment.id), "event_time": when,
              "event_created_at": sent["event_created_at"] or utcnow()}
    try:
        events.record_event(db, principal=principal, values=values)
    except ValidationFailed as exc:
        db.rollback()
        shipment = ShipmentRepository(db, principal).get(shipment_id)
        form = {**_event_form(), **{k: v for k, v in sent.items() if v}}  # a fresh id if none was sent
        return _timeline_page(request, db, principal, shipment, form=form, errors=error_messages(exc),
                              status_code=422)
    flash(request, _("Event recorded."))
    return redirect(f"/logistics/{shipment_id}/timeline")


def _local_time(text: str):
    """A ``datetime-local`` value in the configured time zone, with its offset (events need one)."""
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return text  # the service names the problem
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone_var.get()))
    return moment
