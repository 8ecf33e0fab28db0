"""Shipments (头程), their tracking events (DCSA Track & Trace v3 style) and the late list."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from tradeloop.kit.api import Cursor, Limit, read_upload
from tradeloop.kit.models import utcnow
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.logistics import events, service
from tradeloop.logistics.checks import offset_zone
from tradeloop.logistics.codes import milestone
from tradeloop.logistics.models import Shipment, TrackingEvent
from tradeloop.logistics.repository import LoadedShipment, ShipmentRepository
from tradeloop.logistics.schemas import (
    BatchRead,
    ContainerRead,
    EventBatch,
    EventOutcomeRead,
    EventRead,
    LateRead,
    LegRead,
    ShipmentCreate,
    ShipmentLineRead,
    ShipmentRead,
    ShipmentUpdate,
    TimelineRead,
)

router = APIRouter(prefix="/logistics", tags=["logistics"])
HEAD_READ = [k for k in ShipmentRead.model_fields if k not in ("legs", "containers", "lines")]
EVENT_FIELDS = [k for k in EventRead.model_fields if k not in ("counts", "retracted_by", "milestone", "event_time")]
Threshold = Annotated[int, Query(ge=0, le=24 * 90, description="hours a new estimate may exceed the planned arrival "
                                 "before the shipment counts as late")]


def shipment_read(shipment: Shipment, loaded: LoadedShipment | None = None) -> ShipmentRead:
    data = {k: getattr(shipment, k) for k in HEAD_READ}
    if loaded is not None:
        data["legs"] = [LegRead.model_validate(leg) for leg in loaded.legs]
        data["containers"] = [ContainerRead.model_validate(c) for c in loaded.containers]
        data["lines"] = [ShipmentLineRead(id=c.line.id, declaration_id=c.declaration.id,
                                          declaration_cop_no=c.declaration.cop_no,
                                          declaration_line_id=c.declared.id, gnum=c.declared.gnum,
                                          item_no=c.line.item_no, item_name=c.declared.item_name, qty=c.line.qty,
                                          unit=c.declared.unit, declared_qty=c.declared.qty) for c in loaded.lines]
    return ShipmentRead.model_validate(data)


def _full(db, principal, shipment_id: uuid.UUID) -> ShipmentRead:
    loaded = ShipmentRepository(db, principal).load(shipment_id)
    return shipment_read(loaded.shipment, loaded)


def event_read(e: TrackingEvent, retracted_by: uuid.UUID | None) -> EventRead:
    local = e.event_time.astimezone(offset_zone(e.tz_offset))
    return EventRead(**{k: getattr(e, k) for k in EVENT_FIELDS}, event_time=local, counts=retracted_by is None,
                     retracted_by=retracted_by, milestone=milestone(e.event_type, e.event_code))


def batch_read(result: events.BatchResult) -> BatchRead:
    return BatchRead(inserted=result.count(events.Outcome.INSERTED), duplicate=result.count(events.Outcome.DUPLICATE),
                     retracted=result.count(events.Outcome.RETRACTED), rejected=result.count(events.Outcome.REJECTED),
                     results=[EventOutcomeRead(index=r.index, event_id=r.event_id, outcome=r.outcome,
                                               shipment_id=r.shipment_id, reason=r.reason, reason_zh=r.reason_zh,
                                               errors=[e.as_dict() for e in r.errors]) for r in result.results])


@router.get("/shipments", response_model=Page[ShipmentRead])
def list_shipments(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                   q: str | None = Query(None, description="number, reference, B/L, air waybill or container"),
                   status: str | None = None, mode: str | None = None, warehouse_id: uuid.UUID | None = None):
    rows, nxt = ShipmentRepository(db, principal).page(cursor=cursor, limit=limit, q=q, status=status, mode=mode,
                                                       warehouse_id=warehouse_id)
    return Page(items=[shipment_read(r) for r in rows], next_cursor=nxt)


@router.post("/shipments", response_model=ShipmentRead, status_code=201)
def create_shipment(body: ShipmentCreate, principal: CurrentPrincipal, db: DB, response: Response):
    shipment = service.create_shipment(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/logistics/shipments/{shipment.id}"
    return _full(db, principal, shipment.id)


@router.get("/shipments/{shipment_id}", response_model=ShipmentRead)
def get_shipment(shipment_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return _full(db, principal, shipment_id)


@router.patch("/shipments/{shipment_id}", response_model=ShipmentRead)
def update_shipment(shipment_id: uuid.UUID, body: ShipmentUpdate, principal: CurrentPrincipal, db: DB):
    service.update_shipment(db, principal=principal, shipment_id=shipment_id, data=body)
    return _full(db, principal, shipment_id)


@router.delete("/shipments/{shipment_id}", status_code=204)
def delete_shipment(shipment_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """Only a shipment without tracking events."""
    service.delete_shipment(db, principal=principal, shipment_id=shipment_id)
    return Response(status_code=204)


@router.get("/shipments/{shipment_id}/events", response_model=TimelineRead)
def shipment_events(shipment_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """Every stored event in timeline order (event time, then creation time, then id); retracted events are
    listed with ``counts: false``."""
    repo = ShipmentRepository(db, principal)
    shipment = repo.get(shipment_id)
    stored = sorted(repo.events(shipment.id), key=lambda e: (e.event_time, e.event_created_at, e.event_id))
    retracted = repo.retractions_of([e.event_id for e in stored])
    return TimelineRead(shipment_id=shipment.id, number=shipment.number, status=shipment.status, eta=shipment.eta,
                        events=[event_read(e, retracted.get(e.event_id)) for e in stored])


@router.post("/events", response_model=BatchRead)
def post_events(body: EventBatch, principal: CurrentPrincipal, db: DB):
    """A batch of tracking events (webhook style). Each event is applied once and answered on its own:
    ``inserted``, ``duplicate`` (its ``event_id`` is stored already; nothing changes), ``retracted`` (stored,
    and the event it names no longer counts) or ``rejected`` with the reasons — a malformed event rejects only
    itself, the others are applied."""
    return batch_read(events.apply_events(db, principal=principal, events=body.events))


@router.post("/events/import", response_model=BatchRead,
             responses={422: {"description": "row-level error report in `row_errors`; nothing was applied"}})
def import_events(principal: CurrentPrincipal, db: DB, request: Request,
                  file: Annotated[UploadFile, File(description="CSV or .xlsx, see docs/logistics.md")]):
    data = read_upload(request, file)
    return batch_read(events.import_events(db, principal=principal, filename=file.filename or "", data=data))


@router.get("/late", response_model=Page[LateRead])
def late_shipments(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                   threshold_hours: Threshold = service.DEFAULT_THRESHOLD_HOURS):
    """Shipments not yet arrived whose ETA has passed, or whose latest estimate is later than the planned
    arrival by more than ``threshold_hours``."""
    now = utcnow()
    rows, nxt = ShipmentRepository(db, principal).late_page(cursor=cursor, limit=limit, now=now,
                                                            threshold_minutes=threshold_hours * 60)
    threshold = timedelta(hours=threshold_hours)
    items = []
    for s in rows:
        late = service.lateness(s, now=now, threshold=threshold)
        items.append(LateRead(id=s.id, number=s.number, status=s.status, warehouse_id=s.warehouse_id,
                              planned_arrival=s.planned_arrival, eta=s.eta, eta_source=s.eta_source,
                              days_late=late.days_late, reasons=late.reasons))
    return Page(items=items, next_cursor=nxt)
