"""Inbound receiving, outbound orders, returns and lot actions. Every change: one audited function.

Stock moves only through ``warehouse.ledger`` (conditional updates, FIFO allocation). Either party may
act on a document: the exporter whose stock it is, or the operator of the warehouse it lies in.
Quantities are whole units of the SKU.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.catalog.repository import ProductRepository
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.numbering import next_number
from tradeloop.kit.tables import FileRejected, ImportRejected, RowError, header_keys, read_table
from tradeloop.kit.tenancy import Action, Principal, system_principal
from tradeloop.kit.validation import Errors, clean
from tradeloop.logistics.repository import ShipmentRepository
from tradeloop.warehouse import webhooks
from tradeloop.warehouse.ledger import Document, InsufficientStock, StockLedger, lock_order
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.stock_models import (
    Allocation,
    Disposition,
    InboundLine,
    InboundOrder,
    InboundStatus,
    MovementKind,
    OutboundLine,
    OutboundOrder,
    OutboundStatus,
    ReturnLine,
    ReturnOrder,
    ReturnStatus,
    StockLot,
)
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.stock_schemas import (
    InboundCreate,
    InspectIn,
    LotAction,
    OutboundCreate,
    ReceiveIn,
    ReturnCreate,
    ShipIn,
)


def _actor(principal: Principal) -> str:
    return principal.label


def _owner(enterprise_id: uuid.UUID) -> Principal:
    """The stock owner's point of view, to check what the owner may use (not an actor: never audited)."""
    return system_principal(enterprise_id, label="stock owner")


def _warehouse(session: Session, principal: Principal, warehouse_id: uuid.UUID, field: str = "warehouse_id"):
    """A warehouse the caller owns or uses; a field error otherwise (not a 404: it is an input)."""
    try:
        return WarehouseRepository(session, principal).get(warehouse_id)
    except NotFound:
        raise ValidationFailed("Unknown warehouse.", errors=[FieldError(
            field, "is not a warehouse you own or use", "不是本企业自有或使用的海外仓")]) from None


def _record(session: Session, principal: Principal, action: str, entity_type: str, row, before=None, **extra):
    after = {**audit.snapshot(row), **extra}
    audit.record(session, principal=principal, action=action, entity_type=entity_type, entity_id=row.id,
                 before=before, after=after, enterprise_id=row.enterprise_id)


def _require(status: str, allowed: set[str], what_en: str, what_zh: str) -> None:
    if status not in allowed:
        raise Conflict(f"The {what_en} is '{status}'; this step needs {' or '.join(sorted(allowed))}.",
                       message_zh=f"当前{what_zh}状态为 {status}，不能执行该操作", status_now=status)


# --- inbound (ASN) --------------------------------------------------------------------------------


def create_inbound(session: Session, *, principal: Principal, data: InboundCreate) -> InboundOrder:
    """An ASN for goods coming in. Lines name the customs declaration line they were exported under:
    that is the lot, so every unit in stock keeps its lineage to the export."""
    me = principal.tenant(Action.WRITE)
    data = _from_shipment(session, principal, data) if data.shipment_id else data
    if data.warehouse_id is None or not data.lines:
        raise ValidationFailed("An inbound order needs a warehouse and lines (or a shipment that gives both).",
                               errors=[FieldError("warehouse_id" if data.warehouse_id is None else "lines",
                                                  "is required", "为必填项")])
    warehouse = _warehouse(session, principal, data.warehouse_id)
    errors = Errors()
    decls = DeclarationRepository(session, principal)
    products = ProductRepository(session, principal)
    lines = []
    for i, line in enumerate(data.lines):
        sku, decl_id, code = clean(line.sku), None, clean(line.lot_code)
        if line.declaration_line_id:
            found = decls.line_by_id(line.declaration_line_id)
            if found is None:
                errors.add(f"lines[{i}].declaration_line_id", "is not a line of your declarations",
                           "不是本企业申报单的商品项")
                continue
            decl, dline = found
            if sku and sku != dline.item_no:
                errors.add(f"lines[{i}].sku", f"is not the declaration line's SKU ({dline.item_no})",
                           f"与申报项的商品货号（{dline.item_no}）不一致")
            sku = dline.item_no
            decl_id = decl.id
            code = code or f"{decl.invt_no or decl.cop_no}/{dline.gnum}"
            expected_before = StockRepository(session, principal).expected_for(dline.id)
            if Decimal(line.expected_qty + expected_before) > dline.qty:
                errors.add(f"lines[{i}].expected_qty",
                           f"with the {expected_before} already expected, is more than the "
                           f"{dline.qty.normalize():f} declared", "连同已预报数量，超过该申报项的申报数量")
        if not sku:
            errors.add(f"lines[{i}].sku", "is required", "SKU为必填项")
            continue
        product = products.by_sku([sku]).get(sku)
        lines.append(InboundLine(enterprise_id=me, id=uuid7(), line_no=i + 1, sku=sku,
                                 product_id=product.id if product else None, declaration_id=decl_id,
                                 declaration_line_id=line.declaration_line_id, lot_code=code or None,
                                 expected_qty=line.expected_qty))
    errors.raise_if_any("The inbound order has invalid lines.", "入库单有行不符合要求")
    order = InboundOrder(enterprise_id=me, id=uuid7(), number=next_number(session, me, "inbound", "IB"),
                         warehouse_owner_id=warehouse.enterprise_id, warehouse_id=warehouse.id,
                         shipment_id=data.shipment_id, reference=clean(data.reference), expected_at=data.expected_at,
                         note=clean(data.note), status=InboundStatus.EXPECTED)
    session.add(order)
    session.flush()
    for line in lines:
        line.inbound_id = order.id
        session.add(line)
    session.flush()
    _record(session, principal, "stock.inbound.create", "inbound_order", order, lines=len(lines))
    return order


def _from_shipment(session: Session, principal: Principal, data: InboundCreate) -> InboundCreate:
    """Fill warehouse and lines from the shipment: one line per declaration line it carries. One open
    inbound order per shipment."""
    try:
        loaded = ShipmentRepository(session, principal).load(data.shipment_id)
    except NotFound:
        raise ValidationFailed("Unknown shipment.", errors=[FieldError(
            "shipment_id", "is not a shipment of yours", "不是本企业的头程运输单")]) from None
    if StockRepository(session, principal).open_inbound_for(data.shipment_id) is not None:
        raise Conflict("This shipment already has an inbound order.", message_zh="该头程运输单已有入库单")
    values = data.model_dump()
    values["warehouse_id"] = data.warehouse_id or loaded.shipment.warehouse_id
    values["reference"] = data.reference or loaded.shipment.number
    if not data.lines:
        lines, errors = [], Errors()
        for i, carried in enumerate(loaded.lines):
            qty = carried.line.qty
            if qty != qty.to_integral_value():
                errors.add(f"lines[{i}].expected_qty", "is not a whole number of units; give the lines explicitly",
                           "不是整数件数，请逐行填写入库数量")
            lines.append({"sku": carried.line.item_no, "declaration_line_id": carried.line.declaration_line_id,
                          "expected_qty": max(1, int(qty))})
        errors.raise_if_any()
        values["lines"] = lines
    return InboundCreate.model_validate(values)


def receive_inbound(session: Session, *, principal: Principal, inbound_id: uuid.UUID, data: ReceiveIn) -> InboundOrder:
    """Record counted units (added to what earlier receipts counted); good units go into the line's lot.
    With ``close`` the count is final: any short, over or damaged quantity needs a reason."""
    principal.tenant(Action.WRITE)
    repo = StockRepository(session, principal)
    order = repo.inbound(inbound_id, for_update=True)
    _require(order.status, {InboundStatus.EXPECTED, InboundStatus.RECEIVING}, "inbound order", "入库单")
    lines = {li.line_no: li for li in repo.inbound_lines(order)}
    errors = Errors()
    if not data.lines and not data.close:
        errors.add("lines", "count at least one line, or close the order", "请至少录入一行收货数量，或关闭入库单")
    for i, given in enumerate(data.lines):
        if given.line_no not in lines:
            errors.add(f"lines[{i}].line_no", "is not a line of this inbound order", "不是该入库单的行号")
    now = utcnow()
    if data.received_at is not None:
        if data.received_at.tzinfo is None:
            errors.add("received_at", "needs a time zone offset", "须带时区")
        elif data.received_at > now + timedelta(minutes=5):
            errors.add("received_at", "must not be in the future", "不能晚于当前时间")
        else:
            now = data.received_at
    errors.raise_if_any()
    before = audit.snapshot(order)
    ledger = StockLedger(session, principal)
    receipts = []
    for given in data.lines:
        line = lines[given.line_no]
        line.damaged_qty += given.damaged_qty
        if given.reason:
            line.discrepancy_reason = clean(given.reason)
        if given.received_qty:
            lot = ledger.lot_for(enterprise_id=order.enterprise_id, warehouse_owner_id=order.warehouse_owner_id,
                                 warehouse_id=order.warehouse_id, sku=line.sku, product_id=line.product_id,
                                 declaration_id=line.declaration_id, declaration_line_id=line.declaration_line_id,
                                 lot_code=line.lot_code or f"{order.number}/{line.line_no}", received_at=now)
            receipts.append((lot, line, given.received_qty))
    for lot, line, qty in sorted(receipts, key=lambda r: lock_order(r[0])):  # the one global lock order
        ledger.must_move(lot, MovementKind.RECEIPT, qty, actor=_actor(principal),
                         document=Document("inbound", order.id, order.number), occurred_at=now)
        line.received_qty += qty
        line.lot_id = lot.id
    order.status = InboundStatus.RECEIVING
    if data.close:
        for i, line in enumerate(lines.values()):
            if (line.short_qty or line.over_qty or line.damaged_qty) and not line.discrepancy_reason:
                errors.add(f"lines[{i}].reason", "a short, over or damaged count needs a reason",
                           "短少、溢收或破损须填写原因")
        errors.raise_if_any("Discrepancies need a reason before the inbound order is closed.",
                            "关闭入库单前须为每处差异填写原因")
        order.status, order.received_at = InboundStatus.RECEIVED, now
    session.flush()
    _record(session, principal, "stock.inbound.receive", "inbound_order", order, before=before,
            counted=[g.model_dump() for g in data.lines], closed=data.close)
    webhooks.emit(session, webhooks.parties(order), "inbound.closed" if data.close else "inbound.received",
                  webhooks.snapshot(session, order))
    return order


# --- outbound -------------------------------------------------------------------------------------


def create_outbound(session: Session, *, principal: Principal, data: OutboundCreate) -> OutboundOrder:
    me = principal.tenant(Action.WRITE)
    warehouse = _warehouse(session, principal, data.warehouse_id)
    order = OutboundOrder(enterprise_id=me, id=uuid7(), number=next_number(session, me, "outbound", "OB"),
                          warehouse_owner_id=warehouse.enterprise_id, warehouse_id=warehouse.id,
                          status=OutboundStatus.CREATED, reference=clean(data.reference),
                          ship_to_name=data.ship_to.name.strip(), ship_to_country=data.ship_to.country.upper(),
                          ship_to_address=data.ship_to.address.strip(), ship_to_postcode=clean(data.ship_to.postcode),
                          note=clean(data.note))
    if order.reference and StockRepository(session, principal).outbound_references([order.reference]):
        raise Conflict(f"An outbound order with reference {order.reference} exists already.",
                       message_zh=f"订单号 {order.reference} 已有出库单", reference=order.reference)
    session.add(order)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same reference created concurrently
        raise Conflict(f"An outbound order with reference {order.reference} exists already.",
                       message_zh=f"订单号 {order.reference} 已有出库单", reference=order.reference) from None
    for i, line in enumerate(data.lines, start=1):
        session.add(OutboundLine(enterprise_id=me, id=uuid7(), outbound_id=order.id, line_no=i,
                                 sku=line.sku.strip(), qty=line.qty))
    session.flush()
    if data.allocate:
        _allocate(session, principal, order)
    _record(session, principal, "stock.outbound.create", "outbound_order", order, lines=len(data.lines))
    return order


def _allocate(session: Session, principal: Principal, order: OutboundOrder) -> None:
    _allocate_lines(session, principal, [(order, line) for line in StockRepository(session, principal)
                                         .outbound_lines(order)])
    _mark_allocated(session, order)


def _mark_allocated(session: Session, order: OutboundOrder) -> None:
    order.status = OutboundStatus.ALLOCATED
    session.flush()
    webhooks.emit(session, webhooks.parties(order), "outbound.allocated", webhooks.snapshot(session, order))


def _allocate_lines(session: Session, principal: Principal, lines: list[tuple[OutboundOrder, OutboundLine]]) -> None:
    """Reserve stock for order lines, SKU by SKU in one global order (lots within a SKU oldest first), so
    two transactions never lock in opposite orders."""
    ledger = StockLedger(session, principal)
    for order, line in sorted(lines, key=lambda p: (p[1].sku, p[0].number, p[1].line_no)):
        document = Document("outbound", order.id, order.number)
        for lot, qty in ledger.allocate_fifo(order.enterprise_id, order.warehouse_id, line.sku, line.qty,
                                             document=document, actor=_actor(principal)):
            session.add(Allocation(enterprise_id=order.enterprise_id, id=uuid7(), outbound_id=order.id,
                                   line_id=line.id, lot_id=lot.id, qty=qty))


def allocate_outbound(session: Session, *, principal: Principal, outbound_id: uuid.UUID) -> OutboundOrder:
    """Reserve stock for every line, oldest lots first (FIFO by receipt). All or nothing: 409 when short."""
    principal.tenant(Action.WRITE)
    order = StockRepository(session, principal).outbound(outbound_id, for_update=True)
    _require(order.status, {OutboundStatus.CREATED}, "outbound order", "出库单")
    before = audit.snapshot(order)
    _allocate(session, principal, order)
    _record(session, principal, "stock.outbound.allocate", "outbound_order", order, before=before)
    return order


def pick_outbound(session: Session, *, principal: Principal, outbound_id: uuid.UUID) -> OutboundOrder:
    principal.tenant(Action.WRITE)
    order = StockRepository(session, principal).outbound(outbound_id, for_update=True)
    _require(order.status, {OutboundStatus.ALLOCATED}, "outbound order", "出库单")
    before = audit.snapshot(order)
    order.status = OutboundStatus.PICKED
    session.flush()
    _record(session, principal, "stock.outbound.pick", "outbound_order", order, before=before)
    return order


def ship_outbound(session: Session, *, principal: Principal, outbound_id: uuid.UUID, data: ShipIn) -> OutboundOrder:
    """The allocated units leave the warehouse: one outbound movement per allocated lot (the sale's lineage)."""
    principal.tenant(Action.WRITE)
    repo = StockRepository(session, principal)
    order = repo.outbound(outbound_id, for_update=True)
    _require(order.status, {OutboundStatus.ALLOCATED, OutboundStatus.PICKED}, "outbound order", "出库单")
    before = audit.snapshot(order)
    now = data.shipped_at or utcnow()
    _settle(session, principal, order, repo.allocations(order, state="allocated"), MovementKind.OUTBOUND, "shipped",
            occurred_at=now)
    order.status, order.carrier, order.tracking_no, order.shipped_at = (OutboundStatus.SHIPPED, data.carrier.strip(),
                                                                        data.tracking_no.strip(), now)
    session.flush()
    _record(session, principal, "stock.outbound.ship", "outbound_order", order, before=before)
    webhooks.emit(session, webhooks.parties(order), "outbound.shipped", webhooks.snapshot(session, order))
    return order


def _settle(session: Session, principal: Principal, order, allocations: list[Allocation], kind: MovementKind,
            state: str, occurred_at: datetime | None = None, reason: str | None = None) -> None:
    ledger = StockLedger(session, principal)
    lots = ledger.lots_by_id(order.enterprise_id, (a.lot_id for a in allocations))
    document = Document("outbound", order.id, order.number)
    for alloc in sorted(allocations, key=lambda a: lock_order(lots[a.lot_id])):
        ledger.must_move(lots[alloc.lot_id], kind, alloc.qty, document=document, actor=_actor(principal),
                         occurred_at=occurred_at, reason=reason)
        alloc.state = state
    session.flush()


def deliver_outbound(session: Session, *, principal: Principal, outbound_id: uuid.UUID,
                     delivered_at: datetime | None = None) -> OutboundOrder:
    principal.tenant(Action.WRITE)
    order = StockRepository(session, principal).outbound(outbound_id, for_update=True)
    _require(order.status, {OutboundStatus.SHIPPED}, "outbound order", "出库单")
    before = audit.snapshot(order)
    order.status, order.delivered_at = OutboundStatus.DELIVERED, delivered_at or utcnow()
    session.flush()
    _record(session, principal, "stock.outbound.deliver", "outbound_order", order, before=before)
    webhooks.emit(session, webhooks.parties(order), "outbound.delivered", webhooks.snapshot(session, order))
    return order


def cancel_outbound(session: Session, *, principal: Principal, outbound_id: uuid.UUID, reason: str) -> OutboundOrder:
    """Cancel before shipping; allocated units are released to the lots they came from."""
    principal.tenant(Action.WRITE)
    reason = clean(reason)
    if not reason:
        raise ValidationFailed("A cancellation needs a reason.", errors=[FieldError("reason", "is required",
                                                                                   "取消原因为必填项")])
    repo = StockRepository(session, principal)
    order = repo.outbound(outbound_id, for_update=True)
    _require(order.status, {OutboundStatus.CREATED, OutboundStatus.ALLOCATED, OutboundStatus.PICKED},
             "outbound order", "出库单")
    before = audit.snapshot(order)
    _settle(session, principal, order, repo.allocations(order, state="allocated"), MovementKind.RELEASE, "released",
            reason=reason)
    order.status, order.cancel_reason = OutboundStatus.CANCELLED, clean(reason)
    session.flush()
    _record(session, principal, "stock.outbound.cancel", "outbound_order", order, before=before)
    webhooks.emit(session, webhooks.parties(order), "outbound.cancelled", webhooks.snapshot(session, order))
    return order


# --- returns (本地退换) ------------------------------------------------------------------------------


def create_return(session: Session, *, principal: Principal, data: ReturnCreate) -> ReturnOrder:
    """A return expected at a warehouse. With the outbound order, each returned unit is traced to the lot
    it left from (at most what was shipped from it and not returned yet)."""
    me = principal.tenant(Action.WRITE)
    repo = StockRepository(session, principal)
    errors = Errors()
    # locked: two returns against one order take turns, so together they never exceed what was shipped
    outbound = repo.outbound(data.outbound_id, for_update=True) if data.outbound_id else None
    if outbound is not None:
        _require(outbound.status, {OutboundStatus.SHIPPED, OutboundStatus.DELIVERED}, "outbound order", "出库单")
        warehouse_id, owner_id = outbound.warehouse_id, outbound.warehouse_owner_id
        me = outbound.enterprise_id  # the returned goods are the exporter's, whoever registers the return
    elif data.warehouse_id:
        warehouse = _warehouse(session, principal, data.warehouse_id)
        warehouse_id, owner_id = warehouse.id, warehouse.enterprise_id
    else:
        raise ValidationFailed("A return needs its outbound order or a warehouse.", errors=[FieldError(
            "warehouse_id", "is required without an outbound order", "未关联出库单时须指定仓库")])
    lines = _return_lines(session, repo, outbound, data, errors)
    errors.raise_if_any("The return has invalid lines.", "退货单有行不符合要求")
    order = ReturnOrder(enterprise_id=me, id=uuid7(), number=next_number(session, me, "return", "RT"),
                        warehouse_owner_id=owner_id, warehouse_id=warehouse_id,
                        outbound_id=outbound.id if outbound else None, status=ReturnStatus.EXPECTED,
                        reason=clean(data.reason))
    session.add(order)
    session.flush()
    for n, (sku, lot_id, qty) in enumerate(lines, start=1):
        session.add(ReturnLine(enterprise_id=me, id=uuid7(), return_id=order.id, line_no=n, sku=sku, lot_id=lot_id,
                               qty=qty))
    session.flush()
    _record(session, principal, "stock.return.create", "return_order", order, lines=len(lines))
    return order


def _return_lines(session, repo: StockRepository, outbound, data: ReturnCreate, errors: Errors) -> list[tuple]:
    if outbound is None:
        return [(li.sku.strip(), None, li.qty) for li in data.lines]
    ledger = StockLedger(session, repo.principal)
    shipped = [a for a in repo.allocations(outbound, state="shipped")]
    lots = ledger.lots_by_id(outbound.enterprise_id, (a.lot_id for a in shipped))
    returned = repo.returned_by_lot(outbound.id, outbound.enterprise_id)
    room: dict[uuid.UUID, int] = {}
    for a in shipped:
        room[a.lot_id] = room.get(a.lot_id, 0) + a.qty
    for lot_id, n in returned.items():
        room[lot_id] = room.get(lot_id, 0) - n
    out = []
    for i, line in enumerate(data.lines):
        want = line.qty
        # the newest lots first: the unit most likely on the parcel is the last one allocated
        for lot in sorted((lots[k] for k in room if lots[k].sku == line.sku and room[k] > 0),
                          key=lock_order, reverse=True):
            take = min(want, room[lot.id])
            out.append((line.sku, lot.id, take))
            room[lot.id] -= take
            want -= take
            if want == 0:
                break
        if want:
            errors.add(f"lines[{i}].qty", "is more than was shipped with this order and not yet returned",
                       "超过该出库单已发货且未退回的数量")
    return out


def receive_return(session: Session, *, principal: Principal, return_id: uuid.UUID) -> ReturnOrder:
    principal.tenant(Action.WRITE)
    order = StockRepository(session, principal).return_order(return_id, for_update=True)
    _require(order.status, {ReturnStatus.EXPECTED}, "return order", "退货单")
    before = audit.snapshot(order)
    order.status, order.received_at = ReturnStatus.RECEIVED, utcnow()
    session.flush()
    _record(session, principal, "stock.return.receive", "return_order", order, before=before)
    return order


DISPOSITION_MOVES = {Disposition.RESTOCK: MovementKind.RETURN_RESTOCK,
                     Disposition.DISPOSE: MovementKind.RETURN_DISPOSE,
                     Disposition.RETURN_TO_ORIGIN: MovementKind.RETURN_TO_ORIGIN_FROM_RETURN}


def inspect_return(session: Session, *, principal: Principal, return_id: uuid.UUID, data: InspectIn) -> ReturnOrder:
    """Inspection decides each line: restock (back into its lot), dispose, or return to China (退运);
    each is a ledger movement on the lot the unit came from."""
    principal.tenant(Action.WRITE)
    repo = StockRepository(session, principal)
    order = repo.return_order(return_id, for_update=True)
    _require(order.status, {ReturnStatus.RECEIVED}, "return order", "退货单")
    lines = {li.line_no: li for li in repo.return_lines(order)}
    errors = Errors()
    given = {g.line_no: g for g in data.lines}
    for i, g in enumerate(data.lines):
        if g.line_no not in lines:
            errors.add(f"lines[{i}].line_no", "is not a line of this return", "不是该退货单的行号")
        errors.one_of(f"lines[{i}].disposition", g.disposition, [d.value for d in Disposition], "处理方式")
    for n in lines:
        if n not in given:
            errors.add("lines", f"line {n} has no disposition", f"第{n}行缺少处理方式")
    errors.raise_if_any("Every returned line needs a disposition.", "每一退货行都须选择处理方式")
    before = audit.snapshot(order)
    ledger = StockLedger(session, principal)
    document = Document("return", order.id, order.number)
    moves = []
    for line in lines.values():
        g = given[line.line_no]
        line.condition, line.disposition = clean(g.condition), g.disposition
        lot = ledger.lot(order.enterprise_id, line.lot_id) if line.lot_id else None
        if lot is None:  # a return without lineage: its own lot in this warehouse
            lot = ledger.lot_for(enterprise_id=order.enterprise_id, warehouse_owner_id=order.warehouse_owner_id,
                                 warehouse_id=order.warehouse_id, sku=line.sku, product_id=None, declaration_id=None,
                                 declaration_line_id=None, lot_code=f"{order.number}", received_at=utcnow())
            line.lot_id = lot.id
        moves.append((lot, line, DISPOSITION_MOVES[Disposition(g.disposition)]))
    for lot, line, kind in sorted(moves, key=lambda m: lock_order(m[0])):  # the one global lock order
        ledger.must_move(lot, kind, line.qty, document=document, actor=_actor(principal), reason=line.condition)
    order.status, order.closed_at = ReturnStatus.CLOSED, utcnow()
    session.flush()
    _record(session, principal, "stock.return.inspect", "return_order", order, before=before,
            dispositions={n: g.disposition for n, g in given.items()})
    webhooks.emit(session, webhooks.parties(order), "return.closed", webhooks.snapshot(session, order))
    return order


# --- lot actions: adjust, dispose, return to origin, transfer, count -----------------------------


LOT_KINDS = ("adjust", "dispose", "return_to_origin", "transfer", "count")


def lot_action(session: Session, *, principal: Principal, lot_id: uuid.UUID, data: LotAction) -> StockLot:
    principal.tenant(Action.WRITE)
    repo = StockRepository(session, principal)
    lot = repo.lot(lot_id)
    errors = Errors()
    errors.one_of("kind", data.kind, LOT_KINDS, "操作")
    if data.qty is None or (data.kind != "count" and data.qty == 0) or (data.kind not in {"adjust", "count"}
                                                                         and data.qty < 0):
        errors.add("qty", "must be a positive number of units (signed for adjust, the counted total for count)",
                   "数量应为正整数（调整可为负，盘点为实盘数）")
    if data.kind == "count" and data.qty is not None and data.qty < 0:
        errors.add("qty", "must not be negative", "数量不能为负")
    target = None
    if data.kind == "transfer":
        if not data.to_warehouse_id or data.to_warehouse_id == lot.warehouse_id:
            errors.add("to_warehouse_id", "is required and must be another warehouse", "须指定另一个仓库")
        else:  # the goods stay the exporter's: only into a warehouse the exporter owns or uses
            target = _warehouse(session, _owner(lot.enterprise_id), data.to_warehouse_id, "to_warehouse_id")
    errors.raise_if_any()
    ledger = StockLedger(session, principal)
    lot = ledger.lot(lot.enterprise_id, lot.id, for_update=True)  # a count reads on_hand: lock it first
    before = audit.snapshot(lot)
    document = Document(data.kind, uuid7(), None)
    moves = _lot_moves(lot, data)
    if target is not None:
        into = ledger.lot_for(enterprise_id=lot.enterprise_id, warehouse_owner_id=target.enterprise_id,
                              warehouse_id=target.id, sku=lot.sku, product_id=lot.product_id,
                              declaration_id=lot.declaration_id, declaration_line_id=lot.declaration_line_id,
                              lot_code=lot.lot_code, received_at=lot.received_at)  # its age goes with it
        pair = sorted([(lot, MovementKind.TRANSFER_OUT), (into, MovementKind.TRANSFER_IN)],
                      key=lambda p: lock_order(p[0]))
        for which, kind in pair:
            ledger.must_move(which, kind, data.qty, document=document, actor=_actor(principal), reason=data.reason)
    for kind, qty in moves:
        ledger.must_move(lot, kind, qty, document=document, actor=_actor(principal), reason=data.reason)
    session.flush()
    _record(session, principal, f"stock.lot.{data.kind}", "stock_lot", lot, before=before, qty=data.qty,
            reason=data.reason, to_warehouse_id=str(target.id) if target else None)
    webhooks.emit(session, webhooks.parties(lot), "stock.changed", webhooks.snapshot(session, lot))
    return lot


def _lot_moves(lot: StockLot, data: LotAction) -> list[tuple[MovementKind, int]]:
    if data.kind == "adjust":
        return [(MovementKind.ADJUST_IN if data.qty > 0 else MovementKind.ADJUST_OUT, abs(data.qty))]
    if data.kind == "dispose":
        return [(MovementKind.DISPOSE, data.qty)]
    if data.kind == "return_to_origin":
        return [(MovementKind.RETURN_TO_ORIGIN, data.qty)]
    if data.kind == "count":
        diff = data.qty - lot.on_hand
        if diff == 0:
            return []
        return [(MovementKind.COUNT_GAIN if diff > 0 else MovementKind.COUNT_LOSS, abs(diff))]
    return []  # transfer: moved above



# --- outbound orders from a file -------------------------------------------------------------------


OUTBOUND_COLUMNS = [
    ("reference", "Order reference", "订单号"),
    ("sku", "SKU", "SKU"),
    ("qty", "Quantity", "数量"),
    ("ship_to_name", "Recipient", "收件人"),
    ("ship_to_country", "Country", "国家"),
    ("ship_to_address", "Address", "地址"),
    ("ship_to_postcode", "Postcode", "邮编"),
]
_outbound_header = header_keys(OUTBOUND_COLUMNS)
REQUIRED = ("reference", "sku", "qty", "ship_to_name", "ship_to_country", "ship_to_address")


@dataclass
class OutboundImport:
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    encoding: str | None = None
    numbers: list[str] = field(default_factory=list)


def import_outbound(session: Session, *, principal: Principal, filename: str, data: bytes,
                    warehouse_id: uuid.UUID, allocate: bool = False) -> OutboundImport:
    """Outbound orders from CSV/.xlsx, one row per order line; rows sharing an order reference are one
    order. An order whose reference exists already is left alone, so the same file twice creates nothing
    new. Any error (or, with ``allocate``, any order short of stock) and nothing is applied."""
    principal.tenant(Action.WRITE)
    try:
        table = read_table(filename, data, _outbound_header)
    except FileRejected as exc:
        raise ImportRejected([RowError(1, "", filename, exc.en, exc.zh)]) from None
    errors = [RowError(1, header, header, "unknown column", "无法识别的列") for _i, header in table.unknown]
    errors += [RowError(1, key, "", "the column is missing", "缺少该列")
               for key in REQUIRED if key not in table.columns]
    if errors:
        raise ImportRejected(errors, table.encoding)
    orders: dict[str, dict] = {}
    for number, raw in table.rows:
        _outbound_row(number, raw, table, orders, errors)
    if errors:
        raise ImportRejected(errors, table.encoding)
    repo = StockRepository(session, principal)
    existing = repo.outbound_references(list(orders))
    result = OutboundImport(rows=len(table.rows), encoding=table.encoding)
    created: list[tuple[OutboundOrder, dict]] = []
    for reference, order in orders.items():
        if reference in existing:
            result.unchanged += 1
            continue
        body = OutboundCreate(warehouse_id=warehouse_id, reference=reference, ship_to=order["ship_to"],
                              lines=order["lines"])
        try:
            with session.begin_nested():  # a refused order leaves nothing behind in the transaction
                created.append((create_outbound(session, principal=principal, data=body), order))
        except (ValidationFailed, Conflict) as exc:
            errors.append(RowError(order["row"], "reference", reference, exc.detail,
                                   exc.extra.get("message_zh") or exc.detail))
    if allocate and not errors:
        errors += _allocate_imported(session, principal, repo, created, table.columns.get("qty", "qty"))
    if errors:
        raise ImportRejected(errors, table.encoding)
    result.created = len(created)
    result.numbers = [o.number for o, _ in created]
    return result


def _allocate_imported(session: Session, principal: Principal, repo: StockRepository,
                       created: list[tuple[OutboundOrder, dict]], qty_header: str) -> list[RowError]:
    """Allocate every imported line in the one global SKU order; a short line is reported on its own row."""
    errors = []
    pairs = [(o, line, spec) for o, spec in created for line in repo.outbound_lines(o)]
    for order, line, spec in sorted(pairs, key=lambda p: (p[1].sku, p[0].number, p[1].line_no)):
        try:
            with session.begin_nested():
                _allocate_lines(session, principal, [(order, line)])
        except InsufficientStock as exc:
            row = spec["rows"][line.line_no - 1]
            errors.append(RowError(row, qty_header, str(line.qty), exc.detail,
                                   exc.extra.get("message_zh") or exc.detail))
    if not errors:
        for order, _spec in created:
            _mark_allocated(session, order)
    return errors


def _outbound_row(number: int, raw: dict, table, orders: dict, errors: list) -> None:
    def bad(key, en, zh):
        errors.append(RowError(number, table.columns.get(key, key), raw.get(key, ""), en, zh))

    for key in REQUIRED:
        if not raw.get(key, "").strip():
            bad(key, "is required", "为必填项")
    qty = raw.get("qty", "").strip()
    if qty and not (re.fullmatch(r"[0-9]{1,9}", qty) and int(qty) > 0):
        bad("qty", "must be a whole number of units from 1 to 999,999,999", "数量应为1至999999999的整数")
    country = raw.get("ship_to_country", "").strip().upper()
    if country and not (len(country) == 2 and country.isalpha()):
        bad("ship_to_country", "must be an ISO 3166 alpha-2 code (US, DE …)", "国家应为两位ISO代码（如US、DE）")
    reference = raw.get("reference", "").strip()
    if not reference or any(e.row == number for e in errors):
        return
    ship_to = {"name": raw["ship_to_name"].strip(), "country": country, "address": raw["ship_to_address"].strip(),
               "postcode": raw.get("ship_to_postcode", "").strip() or None}
    order = orders.setdefault(reference, {"row": number, "ship_to": ship_to, "lines": [], "rows": []})
    if order["ship_to"] != ship_to:
        bad("ship_to_address", f"differs from the address given for this order in row {order['row']}",
            f"与第{order['row']}行同一订单的收件信息不一致")
        return
    order["lines"].append({"sku": raw["sku"].strip(), "qty": int(qty)})
    order["rows"].append(number)
