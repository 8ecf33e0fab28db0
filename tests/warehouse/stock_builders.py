"""Stock built through the real services: declarations → inbound receipts → lots."""

from __future__ import annotations

from tests.customs.builders import body_9810, create, load, principal_of
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.stock_schemas import InboundCreate, OutboundCreate, ReceiveIn

SHIP_TO = {"name": "Jane Roe", "country": "US", "address": "1 Main St, Springfield, IL", "postcode": "62701"}


def declaration_lines(db, world, tenant, **extra):
    """A 9810 declaration of tenant ``tenant`` (products added once per tenant) and its lines."""
    decl = create(db, tenant, body_9810(world, **extra))
    return load(db, tenant, decl.id)[1]


def stock_from_declaration(db, tenant, warehouse_id, lines, qty: dict[str, int] | None = None):
    """An inbound order for ``lines`` received in full and closed; returns the inbound order."""
    p = principal_of(tenant)
    with db.transaction() as s:
        order = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=warehouse_id, lines=[
            {"declaration_line_id": li.id, "expected_qty": (qty or {}).get(li.item_no, int(li.qty))} for li in lines]))
        n = len(lines)
        stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(close=True, lines=[
            {"line_no": i + 1, "received_qty": (qty or {}).get(li.item_no, int(li.qty))} for i, li in
            enumerate(lines[:n])]))
    return order


def outbound(db, tenant, warehouse_id, lines: list[tuple[str, int]], *, allocate=True, reference=None):
    with db.transaction() as s:
        return stock.create_outbound(s, principal=principal_of(tenant), data=OutboundCreate(
            warehouse_id=warehouse_id, reference=reference, ship_to=SHIP_TO, allocate=allocate,
            lines=[{"sku": sku, "qty": q} for sku, q in lines]))



