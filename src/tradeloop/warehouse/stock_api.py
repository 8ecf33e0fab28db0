"""Stock, inbound (ASN) receiving, outbound orders and returns — for exporters and warehouse operators."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from tradeloop.kit.api import Cursor, Limit, read_upload
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.warehouse import stock_service as service
from tradeloop.warehouse.stock_models import InboundOrder, OutboundOrder, ReturnOrder, StockMovement
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.stock_schemas import (
    AllocationRead,
    CancelIn,
    DeliverIn,
    InboundCreate,
    InboundLineRead,
    InboundRead,
    InspectIn,
    LotAction,
    LotRead,
    MovementRead,
    OutboundCreate,
    OutboundLineRead,
    OutboundRead,
    ReceiveIn,
    ReturnCreate,
    ReturnLineRead,
    ReturnRead,
    ShipIn,
    StockRow,
)

router = APIRouter(tags=["stock"])
CONFLICT = {409: {"description": "not enough stock, or the document is not in a state for this step "
                                 "(problem+json)"}}


def lot_read(lot) -> LotRead:
    return LotRead.model_validate({**{k: getattr(lot, k) for k in LotRead.model_fields if k != "available"},
                                   "available": lot.on_hand - lot.allocated})


def inbound_read(repo: StockRepository, order: InboundOrder) -> InboundRead:
    lines = [InboundLineRead.model_validate(li) for li in repo.inbound_lines(order)]
    return InboundRead.model_validate({**{k: getattr(order, k) for k in InboundRead.model_fields if k != "lines"},
                                       "lines": lines})


def outbound_read(repo: StockRepository, order: OutboundOrder) -> OutboundRead:
    return OutboundRead.model_validate({
        **{k: getattr(order, k) for k in OutboundRead.model_fields if k not in {"lines", "allocations"}},
        "lines": [OutboundLineRead.model_validate(li) for li in repo.outbound_lines(order)],
        "allocations": [AllocationRead.model_validate(a) for a in repo.allocations(order)]})


def return_read(repo: StockRepository, order: ReturnOrder) -> ReturnRead:
    lines = [ReturnLineRead.model_validate(li) for li in repo.return_lines(order)]
    return ReturnRead.model_validate({**{k: getattr(order, k) for k in ReturnRead.model_fields if k != "lines"},
                                      "lines": lines})


# --- stock ----------------------------------------------------------------------------------------


@router.get("/stock", response_model=list[StockRow])
def stock(principal: CurrentPrincipal, db: DB, warehouse_id: uuid.UUID | None = None, sku: str | None = None):
    """On hand, allocated and available per SKU and warehouse (exporters: their stock; operators: the
    stock of their clients in their warehouses)."""
    rows = StockRepository(db, principal).balances(warehouse_id=warehouse_id, sku=sku)
    return [StockRow(enterprise_id=e, warehouse_id=w, sku=s, on_hand=on, allocated=al, available=on - al, lots=n,
                     oldest_receipt=oldest) for e, w, s, on, al, n, oldest in rows]


@router.get("/stock/skus/{sku}", response_model=dict)
def stock_by_sku(sku: str, principal: CurrentPrincipal, db: DB):
    """One SKU: totals, per warehouse, and its lots oldest first (the FIFO order)."""
    repo = StockRepository(db, principal)
    rows = repo.balances(sku=sku)
    lots = repo.lot_rows(sku=sku)
    if not lots and not repo.sku_known(sku):
        raise NotFound("No stock and no catalogue product with this SKU.", message_zh="没有该SKU的库存或商品")
    on, al = sum(r[3] for r in rows), sum(r[4] for r in rows)
    return {"sku": sku, "on_hand": on, "allocated": al, "available": on - al,
            "warehouses": [{"enterprise_id": str(e), "warehouse_id": str(w), "on_hand": o, "allocated": a,
                            "available": o - a} for e, w, _s, o, a, _n, _t in rows],
            "lots": [lot_read(lot).model_dump(mode="json") for lot in lots]}


@router.get("/stock/lots", response_model=Page[LotRead])
def lots(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
         warehouse_id: uuid.UUID | None = None, sku: str | None = None, declaration_id: uuid.UUID | None = None,
         in_stock: bool = True):
    rows, nxt = StockRepository(db, principal).lots_page(cursor=cursor, limit=limit, warehouse_id=warehouse_id, sku=sku,
                                                         declaration_id=declaration_id, in_stock=in_stock)
    return Page(items=[lot_read(r) for r in rows], next_cursor=nxt)


@router.get("/stock/lots/{lot_id}", response_model=LotRead)
def lot(lot_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return lot_read(StockRepository(db, principal).lot(lot_id))


@router.post("/stock/lots/{lot_id}/actions", response_model=LotRead, responses=CONFLICT)
def lot_action(lot_id: uuid.UUID, body: LotAction, principal: CurrentPrincipal, db: DB):
    """adjust (signed qty), dispose, return_to_origin (退运), transfer (to_warehouse_id) or count (the
    counted on-hand); each a ledger movement with its reason."""
    return lot_read(service.lot_action(db, principal=principal, lot_id=lot_id, data=body))


@router.get("/stock/movements", response_model=Page[MovementRead])
def movements(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
              lot_id: uuid.UUID | None = None, warehouse_id: uuid.UUID | None = None, sku: str | None = None):
    """The append-only ledger, newest first like every list; with ``lot_id`` each item carries
    ``on_hand_after``, the lot's running balance just after that movement."""
    repo = StockRepository(db, principal)
    rows, nxt = repo.page(repo.movements(lot_id=lot_id, warehouse_id=warehouse_id, sku=sku).order_by(None),
                          StockMovement.id, cursor=cursor, limit=limit)
    items = [MovementRead.model_validate(m) for m in rows]
    if lot_id and rows:
        oldest_first = sorted(items, key=lambda item: item.id)
        running = repo.on_hand_before(lot_id, oldest_first[0].id)
        for item in oldest_first:
            running += item.d_on_hand
            item.on_hand_after = running
    return Page(items=items, next_cursor=nxt)


# --- inbound --------------------------------------------------------------------------------------


@router.post("/inbound", response_model=InboundRead, status_code=201)
def create_inbound(body: InboundCreate, principal: CurrentPrincipal, db: DB, response: Response):
    order = service.create_inbound(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/inbound/{order.id}"
    return inbound_read(StockRepository(db, principal), order)


@router.get("/inbound", response_model=Page[InboundRead])
def list_inbound(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                 status: str | None = None, warehouse_id: uuid.UUID | None = None):
    repo = StockRepository(db, principal)
    rows, nxt = repo.page(repo.inbounds(status=status, warehouse_id=warehouse_id), InboundOrder.id, cursor=cursor,
                          limit=limit)
    return Page(items=[inbound_read(repo, r) for r in rows], next_cursor=nxt)


@router.get("/inbound/{inbound_id}", response_model=InboundRead)
def get_inbound(inbound_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = StockRepository(db, principal)
    return inbound_read(repo, repo.inbound(inbound_id))


@router.post("/inbound/{inbound_id}/receive", response_model=InboundRead, responses=CONFLICT)
def receive_inbound(inbound_id: uuid.UUID, body: ReceiveIn, principal: CurrentPrincipal, db: DB):
    """Record counted units (an inbound receipt); ``close`` makes the count final."""
    order = service.receive_inbound(db, principal=principal, inbound_id=inbound_id, data=body)
    return inbound_read(StockRepository(db, principal), order)


# --- outbound -------------------------------------------------------------------------------------


@router.post("/outbound", response_model=OutboundRead, status_code=201, responses=CONFLICT)
def create_outbound(body: OutboundCreate, principal: CurrentPrincipal, db: DB, response: Response):
    order = service.create_outbound(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/outbound/{order.id}"
    return outbound_read(StockRepository(db, principal), order)


@router.post("/outbound/import", response_model=dict, responses={
    409: {"description": "an order is short of stock (with allocate): nothing was applied"},
    422: {"description": "row-level error report in `row_errors`; nothing was applied"}})
def import_outbound(principal: CurrentPrincipal, db: DB, request: Request,
                    file: Annotated[UploadFile, File(description="CSV (UTF-8/GB18030) or .xlsx, one row per line")],
                    warehouse_id: Annotated[uuid.UUID, Form()], allocate: Annotated[bool, Form()] = False):
    """Outbound orders from a file (columns: 订单号/Order reference, SKU, 数量/Quantity, 收件人/Recipient,
    国家/Country, 地址/Address, 邮编/Postcode); rows sharing a reference are one order; references that
    already have an order are skipped, so the same file twice creates nothing new."""
    data = read_upload(request, file)
    result = service.import_outbound(db, principal=principal, filename=file.filename or "", data=data,
                                     warehouse_id=warehouse_id, allocate=allocate)
    return {"rows": result.rows, "created": result.created, "unchanged": result.unchanged,
            "encoding": result.encoding, "numbers": result.numbers}


@router.get("/outbound", response_model=Page[OutboundRead])
def list_outbound(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                  status: str | None = None, warehouse_id: uuid.UUID | None = None, q: str | None = None):
    repo = StockRepository(db, principal)
    rows, nxt = repo.page(repo.outbounds(status=status, warehouse_id=warehouse_id, q=q), OutboundOrder.id,
                          cursor=cursor, limit=limit)
    return Page(items=[outbound_read(repo, r) for r in rows], next_cursor=nxt)


@router.get("/outbound/{outbound_id}", response_model=OutboundRead)
def get_outbound(outbound_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = StockRepository(db, principal)
    return outbound_read(repo, repo.outbound(outbound_id))


@router.post("/outbound/{outbound_id}/allocate", response_model=OutboundRead, responses=CONFLICT)
def allocate_outbound(outbound_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """FIFO by lot receipt time, all or nothing: 409 (problem+json, type insufficient-stock) when short."""
    order = service.allocate_outbound(db, principal=principal, outbound_id=outbound_id)
    return outbound_read(StockRepository(db, principal), order)


@router.post("/outbound/{outbound_id}/pick", response_model=OutboundRead, responses=CONFLICT)
def pick_outbound(outbound_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return outbound_read(StockRepository(db, principal),
                         service.pick_outbound(db, principal=principal, outbound_id=outbound_id))


@router.post("/outbound/{outbound_id}/ship", response_model=OutboundRead, responses=CONFLICT)
def ship_outbound(outbound_id: uuid.UUID, body: ShipIn, principal: CurrentPrincipal, db: DB):
    return outbound_read(StockRepository(db, principal),
                         service.ship_outbound(db, principal=principal, outbound_id=outbound_id, data=body))


@router.post("/outbound/{outbound_id}/deliver", response_model=OutboundRead, responses=CONFLICT)
def deliver_outbound(outbound_id: uuid.UUID, body: DeliverIn, principal: CurrentPrincipal, db: DB):
    return outbound_read(StockRepository(db, principal), service.deliver_outbound(
        db, principal=principal, outbound_id=outbound_id, delivered_at=body.delivered_at))


@router.post("/outbound/{outbound_id}/cancel", response_model=OutboundRead, responses=CONFLICT)
def cancel_outbound(outbound_id: uuid.UUID, body: CancelIn, principal: CurrentPrincipal, db: DB):
    return outbound_read(StockRepository(db, principal), service.cancel_outbound(
        db, principal=principal, outbound_id=outbound_id, reason=body.reason))


# --- returns --------------------------------------------------------------------------------------


@router.post("/returns", response_model=ReturnRead, status_code=201)
def create_return(body: ReturnCreate, principal: CurrentPrincipal, db: DB, response: Response):
    order = service.create_return(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/returns/{order.id}"
    return return_read(StockRepository(db, principal), order)


@router.get("/returns", response_model=Page[ReturnRead])
def list_returns(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                 status: str | None = None):
    repo = StockRepository(db, principal)
    rows, nxt = repo.page(repo.returns(status=status), ReturnOrder.id, cursor=cursor, limit=limit)
    return Page(items=[return_read(repo, r) for r in rows], next_cursor=nxt)


@router.get("/returns/{return_id}", response_model=ReturnRead)
def get_return(return_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = StockRepository(db, principal)
    return return_read(repo, repo.return_order(return_id))


@router.post("/returns/{return_id}/receive", response_model=ReturnRead, responses=CONFLICT)
def receive_return(return_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return return_read(StockRepository(db, principal),
                       service.receive_return(db, principal=principal, return_id=return_id))


@router.post("/returns/{return_id}/inspect", response_model=ReturnRead, responses=CONFLICT)
def inspect_return(return_id: uuid.UUID, body: InspectIn, principal: CurrentPrincipal, db: DB):
    """Each line: restock (back into its lot), dispose, or return_to_origin (退运)."""
    return return_read(StockRepository(db, principal),
                       service.inspect_return(db, principal=principal, return_id=return_id, data=body))
