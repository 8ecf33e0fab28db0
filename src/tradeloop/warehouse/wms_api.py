"""The warehouse operator API (``/api/v1/wms``), in the shape overseas-warehouse providers give sellers —
SKUs with customs fields, inbound orders (ASN), outbound orders, inventory, its log and age, returns with
their disposition — and webhook subscriptions (``/api/v1/webhooks``).

A thin facade: every change is one call of an audited service (``stock_service``, ``catalog.service`` via
``wms_service.register_sku``, ``webhooks``); reads start from the stock repository's tenant statements.
Documents are addressed by their number (IB…/OB…/RT…) or their id. docs/warehouse-api.md maps each
endpoint to the providers' APIs it follows.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request, Response

from tradeloop.catalog.repository import ProductRepository
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.errors import FieldError, ValidationFailed
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.warehouse import aging, webhooks, wms_service
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.stock_api import inbound_read, outbound_read, return_read
from tradeloop.warehouse.stock_models import InboundOrder, OutboundOrder, ReturnOrder
from tradeloop.warehouse.stock_schemas import CancelIn, InboundCreate, InboundRead, InspectIn, OutboundRead, ReturnRead
from tradeloop.warehouse.wms_repository import WmsRepository
from tradeloop.warehouse.wms_schemas import (
    AgeReport,
    AgeRow,
    AttemptRead,
    DeliveryRead,
    InventoryRow,
    LogEntry,
    LogPage,
    SkuIn,
    SkuRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
    WmsOutboundCreate,
    WmsReturnCreate,
)

router = APIRouter()
CONFLICT = {409: {"description": "not enough stock (type insufficient-stock), the document is not in a state "
                                 "for this step, or the number is ambiguous for an operator (problem+json)"}}
EnterpriseFilter = Query(None, description="operators: whose document, when two exporters use the same number")


# --- SKUs -----------------------------------------------------------------------------------------


def _sku_read(product, profile, refs: ReferenceLookup) -> SkuRead:
    return SkuRead(product_id=product.id, sku=product.sku, name_zh=product.name_zh,
                   declared_name_zh=product.declared_name, declared_name_en=product.name_en, hs_code=product.hs_code,
                   customs_unit=product.customs_unit, origin_country=product.origin_country, brand=product.brand,
                   gtin=product.gtin, gross_weight_kg=product.gross_weight_kg, net_weight_kg=product.net_weight_kg,
                   declared_value=wms_service.declared_value(profile, refs),
                   declared_currency=profile.declared_currency if profile else None,
                   length_cm=profile.length_cm if profile else None, width_cm=profile.width_cm if profile else None,
                   height_cm=profile.height_cm if profile else None, active=product.active,
                   updated_at=max(product.updated_at, profile.updated_at) if profile else product.updated_at)


@router.post("/wms/skus", response_model=SkuRead, tags=["wms"],
             responses={200: {"description": "an existing SKU, updated (or unchanged)"},
                        201: {"description": "a new SKU"}})
def register_sku(body: SkuIn, principal: CurrentPrincipal, db: DB, response: Response):
    """Register an SKU with its customs fields, or update the one with this SKU (出口易 ``merchantSkus``,
    谷仓 product add/edit): 201 when new, 200 when it existed. The catalogue keeps the export customs fields;
    declared value and dimensions are kept with it for the warehouse."""
    product, profile, created = wms_service.register_sku(db, principal=principal, data=body)
    response.status_code = 201 if created else 200
    return _sku_read(product, profile, ReferenceLookup(db))


@router.get("/wms/skus", response_model=Page[SkuRead], tags=["wms"])
def list_skus(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
              sku: str | None = Query(None, description="exactly this SKU"), q: str | None = None,
              active: bool | None = None):
    """The caller's own SKUs, newest first."""
    products = ProductRepository(db, principal)
    if sku:
        found = products.by_sku([sku.strip()]).get(sku.strip())
        rows, nxt = ([found] if found else []), None
    else:
        rows, nxt = products.page(cursor=cursor, limit=limit, q=q, active=active)
    profiles = WmsRepository(db, principal).profiles([p.id for p in rows])
    refs = ReferenceLookup(db)
    return Page(items=[_sku_read(p, profiles.get(p.id), refs) for p in rows], next_cursor=nxt)


# --- inbound (ASN) --------------------------------------------------------------------------------


@router.post("/wms/inbound-orders", response_model=InboundRead, status_code=201, tags=["wms"])
def create_inbound_order(body: InboundCreate, principal: CurrentPrincipal, db: DB, response: Response):
    """An advance shipping notice (入库单/ASN): per line an SKU and its expected quantity, ideally the customs
    declaration line it was exported under (the lot)."""
    order = stock.create_inbound(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/wms/inbound-orders/{order.number}"
    return inbound_read(WmsRepository(db, principal).stock, order)


@router.get("/wms/inbound-orders/{number}", response_model=InboundRead, tags=["wms"], responses=CONFLICT)
def get_inbound_order(number: str, principal: CurrentPrincipal, db: DB,
                      enterprise_id: uuid.UUID | None = EnterpriseFilter):
    repo = WmsRepository(db, principal)
    return inbound_read(repo.stock, repo.document(InboundOrder, number, enterprise_id=enterprise_id))


# --- outbound -------------------------------------------------------------------------------------


@router.post("/wms/outbound-orders", response_model=OutboundRead, status_code=201, tags=["wms"], responses=CONFLICT)
def create_outbound_order(body: WmsOutboundCreate, principal: CurrentPrincipal, db: DB, response: Response):
    """A fulfilment order (出库单), created with its stock allocated FIFO by lot receipt: all or nothing,
    409 (insufficient-stock) when any line is short."""
    order = stock.create_outbound(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/wms/outbound-orders/{order.number}"
    return outbound_read(WmsRepository(db, principal).stock, order)


@router.get("/wms/outbound-orders/{number}", response_model=OutboundRead, tags=["wms"], responses=CONFLICT)
def get_outbound_order(number: str, principal: CurrentPrincipal, db: DB,
                       enterprise_id: uuid.UUID | None = EnterpriseFilter):
    repo = WmsRepository(db, principal)
    return outbound_read(repo.stock, repo.document(OutboundOrder, number, enterprise_id=enterprise_id))


@router.post("/wms/outbound-orders/{number}/cancel", response_model=OutboundRead, tags=["wms"], responses=CONFLICT)
def cancel_outbound_order(number: str, body: CancelIn, principal: CurrentPrincipal, db: DB,
                          enterprise_id: uuid.UUID | None = EnterpriseFilter):
    """Cancel before shipping; allocated units go back to the lots they came from. 409 once shipped."""
    repo = WmsRepository(db, principal)
    order = repo.document(OutboundOrder, number, enterprise_id=enterprise_id)
    return outbound_read(repo.stock, stock.cancel_outbound(db, principal=principal, outbound_id=order.id,
                                                           reason=body.reason))


# --- returns --------------------------------------------------------------------------------------


@router.post("/wms/returns", response_model=ReturnRead, status_code=201, tags=["wms"], responses=CONFLICT)
def create_return(body: WmsReturnCreate, principal: CurrentPrincipal, db: DB, response: Response):
    """A return expected at a warehouse (退货单/退件预报). With the original outbound order (by number or id)
    each returned unit keeps the lot it was shipped from, and the return is the exporter's whoever registers
    it (the operator may, for a parcel that arrived)."""
    repo = WmsRepository(db, principal)
    fields = body.model_dump(exclude={"outbound_number"}, exclude_unset=True)
    if body.outbound_number:
        if body.outbound_id:
            raise ValidationFailed("Give the outbound order by number or by id, not both.", errors=[FieldError(
                "outbound_number", "give either outbound_number or outbound_id", "出库单号与出库单ID只能填一个")])
        fields["outbound_id"] = repo.document(OutboundOrder, body.outbound_number).id
    order = stock.create_return(db, principal=principal, data=WmsReturnCreate.model_validate(fields))
    response.headers["Location"] = f"/api/v1/wms/returns/{order.number}"
    return return_read(repo.stock, order)


@router.get("/wms/returns/{number}", response_model=ReturnRead, tags=["wms"], responses=CONFLICT)
def get_return(number: str, principal: CurrentPrincipal, db: DB, enterprise_id: uuid.UUID | None = EnterpriseFilter):
    """The return with each line's condition and disposition (restock, dispose, return_to_origin; null until
    inspected)."""
    repo = WmsRepository(db, principal)
    return return_read(repo.stock, repo.document(ReturnOrder, number, enterprise_id=enterprise_id))


@router.post("/wms/returns/{number}/disposition", response_model=ReturnRead, tags=["wms"], responses=CONFLICT)
def dispose_return(number: str, body: InspectIn, principal: CurrentPrincipal, db: DB,
                   enterprise_id: uuid.UUID | None = EnterpriseFilter):
    """Decide each line of a received return (处理退件): restock into the lot it left from, dispose, or
    return_to_origin (退运); closes the return. 409 unless the return has been received."""
    repo = WmsRepository(db, principal)
    order = repo.document(ReturnOrder, number, enterprise_id=enterprise_id)
    return return_read(repo.stock, stock.inspect_return(db, principal=principal, return_id=order.id, data=body))


# --- inventory ------------------------------------------------------------------------------------


@router.get("/wms/inventory", response_model=list[InventoryRow], tags=["wms"])
def inventory(principal: CurrentPrincipal, db: DB, warehouse_id: uuid.UUID | None = None, sku: str | None = None):
    """On hand, allocated and available per SKU and warehouse (and exporter, for operators)."""
    repo = WmsRepository(db, principal)
    codes = repo.warehouse_codes()
    return [InventoryRow(enterprise_id=e, warehouse_id=w, warehouse_code=codes.get(w), sku=s, on_hand=on,
                         allocated=al, available=on - al, lots=n, oldest_receipt=oldest)
            for e, w, s, on, al, n, oldest in repo.stock.balances(warehouse_id=warehouse_id, sku=sku)]


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed("Times need their UTC offset.", errors=[FieldError(
            field, "needs a UTC offset, e.g. 2026-01-31T00:00:00Z", "须带时区，例如 2026-01-31T00:00:00Z")])
    return value


@router.get("/wms/inventory/log", response_model=LogPage, tags=["wms"])
def inventory_log(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                  since: datetime | None = Query(None, description="movements recorded at or after this time "
                                                                   "(ISO 8601 with offset)"),
                  warehouse_id: uuid.UUID | None = None, sku: str | None = None):
    """Stock movements (库存流水), oldest first, as a feed: keep ``next_cursor`` and ask again for newer ones."""
    repo = WmsRepository(db, principal)
    rows, nxt = repo.log(since=_aware(since, "since"), cursor=cursor, limit=limit, warehouse_id=warehouse_id, sku=sku)
    return LogPage(items=[LogEntry.model_validate(m) for m in rows], next_cursor=nxt)


@router.get("/wms/inventory/age", response_model=AgeReport, tags=["wms"])
def inventory_age(principal: CurrentPrincipal, db: DB, warehouse_id: uuid.UUID | None = None, sku: str | None = None):
    """Units on hand per inventory age (库龄) bucket, counted from each lot's first receipt into the
    warehouse: 0-30, 31-60, 61-90, 91-180, 181-365 and >365 days, as of today (UTC)."""
    repo = WmsRepository(db, principal)
    as_of = datetime.now(UTC).date()
    groups: dict[tuple, list] = defaultdict(list)
    for lot in repo.stock.lot_rows(warehouse_id=warehouse_id, sku=sku):
        groups[(lot.enterprise_id, lot.warehouse_id, lot.sku)].append((lot.received_at, lot.on_hand))
    codes = repo.warehouse_codes()
    items = [AgeRow(enterprise_id=e, warehouse_id=w, warehouse_code=codes.get(w), sku=s,
                    on_hand=sum(n for _t, n in lots), buckets=aging.bucket_units(lots, as_of))
             for (e, w, s), lots in sorted(groups.items(), key=lambda kv: (kv[0][2], str(kv[0][1]), str(kv[0][0])))]
    return AgeReport(as_of=as_of.isoformat(), items=items)


# --- webhooks -------------------------------------------------------------------------------------


@router.post("/webhooks", response_model=WebhookCreated, status_code=201, tags=["webhooks"])
def create_webhook(body: WebhookCreate, principal: CurrentPrincipal, db: DB, request: Request, response: Response):
    """Subscribe a URL to event types. The signing secret is in this response only; store it now."""
    row, secret = webhooks.create_subscription(
        db, principal=principal, url=body.url, event_types=body.event_types, description=body.description,
        server_secret_key=request.app.state.settings.resolved_secret_key)
    response.headers["Location"] = f"/api/v1/webhooks/{row.id}"
    return WebhookCreated.model_validate({**WebhookRead.model_validate(row).model_dump(), "secret": secret})


@router.get("/webhooks", response_model=Page[WebhookRead], tags=["webhooks"])
def list_webhooks(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    rows, nxt = webhooks.WebhookRepository(db, principal).subscriptions_page(cursor=cursor, limit=limit)
    return Page(items=[WebhookRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.delete("/webhooks/{subscription_id}", status_code=204, tags=["webhooks"])
def delete_webhook(subscription_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """Stop a subscription; its pending deliveries are cancelled."""
    webhooks.delete_subscription(db, principal=principal, subscription_id=subscription_id)
    return Response(status_code=204)


@router.get("/webhooks/{subscription_id}/deliveries", response_model=Page[DeliveryRead], tags=["webhooks"])
def list_deliveries(subscription_id: uuid.UUID, principal: CurrentPrincipal, db: DB, cursor: Cursor = None,
                    limit: Limit = None, status: str | None = Query(None, description="pending, delivered, failed "
                                                                                     "or cancelled")):
    """Deliveries newest first, each with its payload and every attempt (time, HTTP status, error)."""
    repo = webhooks.WebhookRepository(db, principal)
    rows, nxt = repo.deliveries_page(subscription_id, cursor=cursor, limit=limit, status=status)
    attempts = repo.attempts(rows)
    return Page(items=[DeliveryRead(
        id=d.id, event_id=d.event_id, event_type=d.event_type, status=d.status, attempts=d.attempts,
        next_attempt_at=d.next_attempt_at, last_status_code=d.last_status_code, last_error=d.last_error,
        delivered_at=d.delivered_at, created_at=d.created_at, payload=json.loads(d.body),
        history=[AttemptRead.model_validate(a) for a in attempts[d.id]]) for d in rows], next_cursor=nxt)
