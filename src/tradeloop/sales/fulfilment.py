"""Fulfilment: imported sales consume overseas-warehouse stock through outbound orders — the lineage.

A sale shipped from an overseas warehouse takes its units from FIFO lots, and every lot belongs to one
export declaration line, so the allocations of the sale's outbound line say which declaration each unit
was exported under. ``fulfil_orders`` does this for every imported line not yet linked:

* an outbound order with the sale's reference (``channel:external_order_id``) already exists — created by
  the warehouse through the WMS API, by a person, or by a file — the lines are linked to it by SKU, and the
  warehouse's own shipped event moves the stock;
* otherwise one outbound order per sales order is created in the chosen warehouse, all or nothing per
  order: a line the file says has shipped is shipped at its ship date, taking only lots received before
  that date (a sale cannot ship goods that had not arrived); an open (pending) line is allocated and waits
  for the warehouse to ship it. An order the lots cannot cover is left unlinked and reported as short.
* linked orders still open at the warehouse follow the file afterwards: cancelled in the file -> the
  outbound order is cancelled and its units released; shipped in the file -> shipped at the file's date.

Sales fulfilled elsewhere work the same way: marketplace fulfilment (FBA) is a warehouse of the exporter's
(operator e.g. Amazon) that stock is transferred into (lot transfer keeps the declaration line), and its
AFN lines are fulfilled from it (``fulfillment_channel="AFN"``).

Tens of thousands of orders are written in bulk: the SKUs' lots are locked once (``StockLedger.
lock_available``), the FIFO plan is made in memory, and orders, lines, allocations, movements and links are
written with one ``executemany`` each; one audit row records the run.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.kit.errors import FieldError, NotFound, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.numbering import reserve_values
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.sales.models import Channel, LineStatus
from tradeloop.sales.repository import FULFIL_COLUMNS, FulfilmentRepository
from tradeloop.warehouse import stock_service, webhooks
from tradeloop.warehouse.ledger import BatchMove, Document, StockLedger
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.stock_models import MovementKind, OutboundStatus, StockLot
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.stock_schemas import ShipIn

#: Lines the file says have left (shipped, delivered, returned later, refunded after shipping).
SHIPPED = (LineStatus.SHIPPED, LineStatus.DELIVERED, LineStatus.RETURNED, LineStatus.REFUNDED,
           LineStatus.PARTIALLY_REFUNDED)
#: Lines still to ship.
OPEN = (LineStatus.PENDING, LineStatus.PARTIALLY_SHIPPED)
#: Refunds before shipping (no ship date) are not sales of stock.
_REFUNDS = (LineStatus.REFUNDED, LineStatus.PARTIALLY_REFUNDED)
BATCH_LINES = 5000
_COL = {c: i for i, c in enumerate(FULFIL_COLUMNS)}


@dataclass
class FulfilmentResult:
    orders_created: int = 0
    orders_linked: int = 0
    lines_linked: int = 0
    units_allocated: int = 0
    units_shipped: int = 0
    orders_shipped_later: int = 0
    orders_cancelled: int = 0
    #: Orders the stock could not cover: {"order", "sku", "wanted", "available"}.
    short: list[dict] = field(default_factory=list)
    #: Lines not fulfilled for another reason: {"order", "line", "sku", "reason"}.
    skipped: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"orders_created": self.orders_created, "orders_linked": self.orders_linked,
                "lines_linked": self.lines_linked, "units_allocated": self.units_allocated,
                "units_shipped": self.units_shipped, "orders_shipped_later": self.orders_shipped_later,
                "orders_cancelled": self.orders_cancelled, "short": self.short, "skipped": self.skipped}


def reference_of(channel: str, external_order_id: str) -> str:
    """The outbound order reference of a sales order."""
    return f"{channel}:{external_order_id}"


def _is_shipped(line: tuple) -> bool:
    status = line[_COL["status"]]
    return status in SHIPPED and not (status in _REFUNDS and line[_COL["ship_date"]] is None)


def fulfil_orders(session: Session, *, principal: Principal, warehouse_id: uuid.UUID, channel: str | None = None,
                  marketplace: str | None = None, fulfillment_channel: str | None = None,
                  buyer_countries: list[str] | None = None) -> FulfilmentResult:
    """Link every matching unfulfilled sales line to an outbound order of ``warehouse_id`` (see the module
    text); one transaction, the caller's. Returns what was done and what was short."""
    me = principal.tenant(Action.WRITE)
    errors = []
    if channel is not None and channel not in {c.value for c in Channel}:
        errors.append(FieldError("channel", f"must be one of {', '.join(c.value for c in Channel)}",
                                 "渠道取值无效"))
    countries = [c.strip().upper() for c in buyer_countries or [] if c.strip()]
    if any(len(c) != 2 or not c.isalpha() for c in countries):
        errors.append(FieldError("buyer_countries", "must be ISO 3166-1 alpha-2 codes", "须为两位国家代码"))
    try:
        warehouse = WarehouseRepository(session, principal).get(warehouse_id)
    except NotFound:
        warehouse = None
        errors.append(FieldError("warehouse_id", "is not a warehouse you own or use", "不是本企业自有或使用的海外仓"))
    if errors:
        raise ValidationFailed("The fulfilment cannot run.", errors=errors)
    repo, stock = FulfilmentRepository(session, principal), StockRepository(session, principal)
    result = FulfilmentResult()
    statuses = (*SHIPPED, *OPEN)
    after = None
    while True:
        lines = repo.unfulfilled(statuses=statuses, channel=channel, marketplace=marketplace,
                                 fulfillment_channel=fulfillment_channel, buyer_countries=countries or None,
                                 after=after, limit=BATCH_LINES)
        if not lines:
            break
        if len(lines) == BATCH_LINES:  # the last order may continue in the next batch: leave it for that one
            last = _order_key(lines[-1])
            kept = [li for li in lines if _order_key(li) != last]
            lines = kept or lines
        after = _order_key(lines[-1])
        orders: dict[tuple, list[tuple]] = defaultdict(list)
        for line in lines:
            orders[(line[_COL["channel"]], line[_COL["external_order_id"]])].append(line)
        _fulfil_batch(session, principal, me, warehouse, orders, repo, stock, result)
    _follow_the_file(session, principal, repo, result)
    session.flush()
    audit.record(session, principal=principal, action="sales.fulfil", entity_type="warehouse",
                 entity_id=warehouse.id, after={
                     "warehouse": warehouse.code, "channel": channel, "marketplace": marketplace,
                     "fulfillment_channel": fulfillment_channel, "buyer_countries": countries,
                     **{k: v for k, v in result.as_dict().items() if k not in ("short", "skipped")},
                     "short": len(result.short), "skipped": len(result.skipped)})
    return result


def _order_key(line: tuple) -> tuple:
    return (line[_COL["order_date"]], line[_COL["channel"]], line[_COL["external_order_id"]])


def _fulfil_batch(session: Session, principal: Principal, me: uuid.UUID, warehouse, orders: dict,
                  repo: FulfilmentRepository, stock: StockRepository, result: FulfilmentResult) -> None:
    existing = stock.outbounds_by_reference([reference_of(*key) for key in orders])
    links: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = []
    new: list[tuple[tuple, list[tuple]]] = []
    for key, lines in orders.items():
        found = existing.get(reference_of(*key))
        if found is None:
            new.append((key, lines))
            continue
        outbound, out_lines = found
        free = list(out_lines)
        linked = 0
        for line in lines:
            match = next((o for o in free if o.sku == line[_COL["sku"]] and o.qty == line[_COL["quantity"]]), None) \
                or next((o for o in free if o.sku == line[_COL["sku"]]), None)
            if match is None:
                result.skipped.append({"order": key[1], "line": line[_COL["line_id"]], "sku": line[_COL["sku"]],
                                       "reason": f"outbound order {outbound.number} has no line of this SKU"})
                continue
            free.remove(match)
            links.append((line[_COL["id"]], outbound.id, match.id))
            linked += 1
        result.orders_linked += bool(linked)
        result.lines_linked += linked
    if new:
        links += _create_orders(session, principal, me, warehouse, new, stock, result)
    repo.link(links)


def _create_orders(session: Session, principal: Principal, me: uuid.UUID, warehouse, new: list,
                   stock: StockRepository, result: FulfilmentResult) -> list[tuple]:
    ledger = StockLedger(session, principal)
    lots_by_sku: dict[str, list[StockLot]] = defaultdict(list)
    for lot in ledger.lock_available(me, warehouse.id, {li[_COL["sku"]] for _k, lines in new for li in lines}):
        lots_by_sku[lot.sku].append(lot)
    free = {lot.id: lot.on_hand - lot.allocated for lots in lots_by_sku.values() for lot in lots}
    planned = []  # (key, lines, shipped, [(line, [(lot, qty)])])
    for key, lines in new:
        shipped = all(_is_shipped(li) for li in lines)
        when = max((li[_COL["ship_date"]] or li[_COL["order_date"]] for li in lines), default=None) if shipped else None
        taken: dict[uuid.UUID, int] = defaultdict(int)
        plan, short = [], None
        for line in lines:
            sku, want = line[_COL["sku"]], line[_COL["quantity"]]
            parts = []
            for lot in lots_by_sku.get(sku, ()):
                if when is not None and lot.received_at > when:
                    break  # lots are oldest first: the rest arrived after the sale shipped
                can = free[lot.id] - taken[lot.id]
                if can <= 0:
                    continue
                take = min(can, want)
                parts.append((lot, take))
                taken[lot.id] += take
                want -= take
                if want == 0:
                    break
            if want:
                short = {"order": key[1], "sku": sku, "wanted": line[_COL["quantity"]],
                         "available": line[_COL["quantity"]] - want}
                break
            plan.append((line, parts))
        if short is not None:
            result.short.append(short)
            continue
        for lot_id, qty in taken.items():
            free[lot_id] -= qty
        planned.append((key, lines, when, plan))
    if not planned:
        return []
    first = reserve_values(session, me, "outbound", len(planned))
    now = utcnow()
    orders, out_lines, allocations, moves, links = [], [], [], [], []
    for n, (key, lines, when, plan) in enumerate(planned):
        order_id, number = uuid7(), f"OB{first + n:08d}"
        head = lines[0]
        label = head[_COL["marketplace"]] or head[_COL["channel"]]
        orders.append({
            "enterprise_id": me, "id": order_id, "number": number, "warehouse_owner_id": warehouse.enterprise_id,
            "warehouse_id": warehouse.id, "status": OutboundStatus.SHIPPED if when else OutboundStatus.ALLOCATED,
            "reference": reference_of(*key), "ship_to_name": f"{label} buyer",
            "ship_to_country": head[_COL["buyer_country"]] or warehouse.country,
            "ship_to_address": f"held by {label} (order {key[1]})", "ship_to_postcode": None,
            "carrier": label if when else None, "tracking_no": None, "shipped_at": when, "delivered_at": None,
            "cancel_reason": None, "note": "fulfilment of an imported sales order", "created_at": now,
            "updated_at": now})
        document = Document("outbound", order_id, number)
        for line_no, (line, parts) in enumerate(plan, start=1):
            out_line_id = uuid7()
            out_lines.append({"enterprise_id": me, "id": out_line_id, "outbound_id": order_id, "line_no": line_no,
                              "sku": line[_COL["sku"]], "qty": line[_COL["quantity"]]})
            links.append((line[_COL["id"]], order_id, out_line_id))
            for lot, qty in parts:
                allocations.append({"enterprise_id": me, "id": uuid7(), "outbound_id": order_id,
                                    "line_id": out_line_id, "lot_id": lot.id, "qty": qty,
                                    "state": "shipped" if when else "allocated"})
                moves.append(BatchMove(lot, MovementKind.ALLOCATE, qty, document, occurred_at=when))
                result.units_allocated += qty
                if when:
                    moves.append(BatchMove(lot, MovementKind.OUTBOUND, qty, document, occurred_at=when))
                    result.units_shipped += qty
        result.lines_linked += len(plan)
    stock.add_outbound_batch(orders, out_lines, allocations)
    StockLedger(session, principal).apply_many(moves, actor=principal.label)
    result.orders_created += len(orders)
    _emit(session, principal, warehouse, orders)
    return links


def _emit(session: Session, principal: Principal, warehouse, orders: list[dict]) -> None:
    """Webhooks for the new orders — only when someone subscribed (the check is one query per event type)."""
    parties = {orders[0]["enterprise_id"], warehouse.enterprise_id}
    for event_type, status in (("outbound.allocated", None), ("outbound.shipped", OutboundStatus.SHIPPED)):
        if not webhooks.subscribed(session, parties, event_type):
            continue
        stock = StockRepository(session, principal)
        for row in orders:
            if status is None or row["status"] == status:
                order = stock.outbound(row["id"])
                webhooks.emit(session, webhooks.parties(order), event_type, webhooks.snapshot(session, order))


def _follow_the_file(session: Session, principal: Principal, repo: FulfilmentRepository,
                     result: FulfilmentResult) -> None:
    """Linked orders still open at the warehouse: cancel those the file cancelled, ship those it shipped."""
    for _channel, external_id, outbound_id, _ship_date in repo.linked_to_update((LineStatus.CANCELLED,)):
        stock_service.cancel_outbound(session, principal=principal, outbound_id=outbound_id,
                                      reason=f"cancelled in the sales file (order {external_id})")
        result.orders_cancelled += 1
    for _channel, _external_id, outbound_id, ship_date in repo.linked_to_update(
            (LineStatus.SHIPPED, LineStatus.DELIVERED)):
        order = StockRepository(session, principal).outbound(outbound_id)
        if order.status not in (OutboundStatus.ALLOCATED, OutboundStatus.PICKED):
            continue  # not allocated yet: the warehouse allocates and ships it
        stock_service.ship_outbound(session, principal=principal, outbound_id=outbound_id, data=ShipIn(
            # the sales files carry no tracking number: the order reference stands in for it
            carrier=(order.carrier or order.reference.split(":", 1)[0])[:100], tracking_no=order.reference[:100],
            shipped_at=ship_date or utcnow()))
        result.orders_shipped_later += 1
