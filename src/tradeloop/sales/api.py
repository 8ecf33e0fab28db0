"""Sales order lines, order file imports (as background jobs with progress), column profiles, unknown SKUs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, Response, UploadFile

from tradeloop.kit import jobs
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.tables import to_csv
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.sales import fulfilment, service
from tradeloop.sales.models import SalesOrderLine
from tradeloop.sales.repository import ProfileRepository, SalesRepository
from tradeloop.sales.schemas import (
    FulfilIn,
    FulfilmentRead,
    ImportRead,
    OrderLineRead,
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
    ProgressRead,
    UnknownSkuRead,
)

router = APIRouter(prefix="/sales", tags=["sales"])


def line_read(line: SalesOrderLine, amounts) -> OrderLineRead:
    fields = {k: getattr(line, k) for k in OrderLineRead.model_fields if hasattr(line, k)}
    return OrderLineRead.model_validate({**fields, **amounts(line)})


def import_read(job: jobs.Job) -> ImportRead:
    params = job.params or {}
    p = jobs.progress_of(job)
    return ImportRead(id=job.id, status=job.status, filename=params.get("filename") or job.label,
                      channel=params.get("channel", ""), profile=params.get("profile"), created_by=job.created_by,
                      created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
                      progress=ProgressRead(done=p.done, total=p.total, unit=p.unit, percent=p.percent,
                                            read=int(p.counters.get("read", 0))),
                      result=job.result, error=job.error)


def utc_day(day: date | None, *, end: bool = False) -> datetime | None:
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1) if end else day, time(0), tzinfo=UTC)


@router.get("/orders", response_model=Page[OrderLineRead])
def list_order_lines(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                     channel: str | None = None, status: str | None = None, sku: str | None = None,
                     order_id: Annotated[str | None, Query(description="external order id")] = None,
                     date_from: Annotated[date | None, Query(description="order date from (UTC day)")] = None,
                     date_to: Annotated[date | None, Query(description="order date to, inclusive (UTC day)")] = None,
                     sku_unknown: Annotated[bool | None, Query(description="only lines whose SKU is (not) in "
                                                                           "the catalogue")] = None,
                     fulfillment_channel: str | None = None, import_id: uuid.UUID | None = None):
    """Order lines, newest first. Filters combine; dates are UTC days of the order date."""
    rows, nxt = SalesRepository(db, principal).page(
        cursor=cursor, limit=limit, channel=channel, status=status, sku=sku, order_id=order_id,
        date_from=utc_day(date_from), date_to=utc_day(date_to, end=True), sku_unknown=sku_unknown,
        fulfillment_channel=fulfillment_channel, import_id=import_id)
    amounts = service.amounts_reader(db)
    return Page(items=[line_read(r, amounts) for r in rows], next_cursor=nxt)


@router.post("/imports", response_model=ImportRead, status_code=202, responses={
    422: {"description": "bad channel or profile, empty or too large file (nothing queued)"}})
def start_import(principal: CurrentPrincipal, db: DB, request: Request, response: Response,
                 background: BackgroundTasks,
                 file: Annotated[UploadFile, File(description="Amazon All Orders report, Shopify orders CSV, eBay "
                                                              "orders report, or CSV/.xlsx for a profile")],
                 channel: Annotated[str, Form(description="amazon, shopify, ebay or generic")],
                 profile: Annotated[str | None, Form(description="profile name (generic)")] = None,
                 timezone: Annotated[str | None, Form(description="IANA zone of times without an offset")] = None):
    """Queue an import of an order file; it runs in the background. Poll ``GET /sales/imports/{id}`` for its
    progress and result. The whole file is one transaction: applied (rows with errors left out and listed) or,
    on a fatal problem, nothing at all."""
    job = service.start_import(db, principal=principal, data_dir=request.app.state.settings.data_dir,
                               upload=file.file, filename=file.filename or "orders", channel=channel,
                               profile=profile, timezone=timezone)
    background.add_task(service.launch, request.app.state.db, job)
    response.headers["Location"] = f"/api/v1/sales/imports/{job.id}"
    return import_read(job)


@router.get("/imports", response_model=Page[ImportRead])
def list_imports(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    rows, nxt = jobs.JobRepository(db, principal).page(kind=service.JOB_KIND, cursor=cursor, limit=limit)
    return Page(items=[import_read(j) for j in rows], next_cursor=nxt)


@router.get("/imports/{import_id}", response_model=ImportRead)
def get_import(import_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return import_read(jobs.JobRepository(db, principal).get(import_id, kind=service.JOB_KIND))


@router.get("/imports/{import_id}/errors", response_class=Response, responses={
    200: {"content": {"text/csv": {}}, "description": "row, column, value, reason (English), reason (Chinese)"}})
def import_errors(import_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """The import's row-level error report as CSV (UTF-8 with BOM)."""
    job = jobs.JobRepository(db, principal).get(import_id, kind=service.JOB_KIND)
    errors = (job.result or {}).get("errors", [])
    data = to_csv(["row", "column", "value", "reason", "reason_zh"],
                  ([e["row"], e["column"], e["value"], e["reason"], e.get("reason_zh", "")] for e in errors))
    return Response(data, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'})


@router.post("/fulfilments", response_model=FulfilmentRead, responses={
    422: {"description": "unknown warehouse, channel or country code (nothing applied)"}})
def fulfil(body: FulfilIn, principal: CurrentPrincipal, db: DB):
    """Link imported sales lines not yet fulfilled to outbound orders of a warehouse: an existing outbound
    order with the sale's reference (``channel:external_order_id``) is linked by SKU; otherwise one is
    created per sales order, FIFO from the lots (the lineage), shipped at the file's ship date when the file
    says it shipped, allocated when it is pending. Orders the stock cannot cover are listed in ``short``.
    Running it again links only what is new."""
    result = fulfilment.fulfil_orders(db, principal=principal, warehouse_id=body.warehouse_id, channel=body.channel,
                                      marketplace=body.marketplace, fulfillment_channel=body.fulfillment_channel,
                                      buyer_countries=body.buyer_countries)
    return FulfilmentRead(**result.as_dict())


@router.get("/profiles", response_model=Page[ProfileRead])
def list_profiles(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    rows, nxt = ProfileRepository(db, principal).page(cursor=cursor, limit=limit)
    return Page(items=[ProfileRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/profiles", response_model=ProfileRead, status_code=201)
def create_profile(body: ProfileCreate, principal: CurrentPrincipal, db: DB, response: Response):
    row = service.create_profile(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/sales/profiles/{row.id}"
    return ProfileRead.model_validate(row)


@router.get("/profiles/{profile_id}", response_model=ProfileRead)
def get_profile(profile_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return ProfileRead.model_validate(ProfileRepository(db, principal).get(profile_id))


@router.patch("/profiles/{profile_id}", response_model=ProfileRead)
def update_profile(profile_id: uuid.UUID, body: ProfileUpdate, principal: CurrentPrincipal, db: DB):
    return ProfileRead.model_validate(service.update_profile(db, principal=principal, profile_id=profile_id,
                                                             data=body))


@router.delete("/profiles/{profile_id}", status_code=204)
def delete_profile(profile_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    service.delete_profile(db, principal=principal, profile_id=profile_id)
    return Response(status_code=204)


@router.get("/unknown-skus", response_model=list[UnknownSkuRead])
def unknown_skus(principal: CurrentPrincipal, db: DB, q: str | None = None):
    """SKUs of imported lines that are not in the catalogue, most lines first."""
    return [UnknownSkuRead(sku=r.sku, lines=r.lines, units=r.units or 0, first_order_date=r.first_order_date,
                           last_order_date=r.last_order_date, in_catalogue=bool(r.in_catalogue))
            for r in SalesRepository(db, principal).unknown_skus(q=q)]
