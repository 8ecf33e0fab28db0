"""Quantity conservation per declaration line, through the real flow (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from tests.customs.builders import add_products, body_9810, create, exchange_round, load, principal_of, submit
from tests.warehouse.stock_builders import outbound
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.simulator import CustomsSimulator
from tradeloop.loop import service as loop
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.stock_models import StockMovement
from tradeloop.warehouse.stock_schemas import InboundCreate, InspectIn, LotAction, ReceiveIn, ReturnCreate, ShipIn


@pytest.fixture
def exported(db, world, tmp_path):
    """A 9810 declaration released and closed by the simulator, received with a shortage, part sold,
    one unit returned and restocked, one returned and disposed, some stock disposed and some sent home."""
    a = world.a
    add_products(db, a)
    folders = ExchangeFolders(tmp_path / "exchange").ensure()
    decl = create(db, a, body_9810(world))
    submit(db, a, decl.id)
    exchange_round(db, folders, CustomsSimulator(folders))
    decl, lines, _docs = load(db, a, decl.id)
    scarf, blouse = lines
    wh, p = world.operator.warehouse.id, principal_of(a)
    with db.transaction() as s:
        scarves = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
            {"declaration_line_id": scarf.id, "expected_qty": 500}]))
        stock.receive_inbound(s, principal=p, inbound_id=scarves.id, data=ReceiveIn(close=True, lines=[
            {"line_no": 1, "received_qty": 495, "damaged_qty": 2, "reason": "破损2件，短少3件"}]))
        blouses = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
            {"declaration_line_id": blouse.id, "expected_qty": 120}]))
        stock.receive_inbound(s, principal=p, inbound_id=blouses.id, data=ReceiveIn(lines=[
            {"line_no": 1, "received_qty": 100}]))  # 20 blouses not counted yet: still in transit
    sold = outbound(db, a, wh, [("SILK-SCARF-01", 40), ("SILK-BLOUSE-02", 10)])
    with db.transaction() as s:
        stock.ship_outbound(s, principal=p, outbound_id=sold.id, data=ShipIn(carrier="UPS", tracking_no="1Z1"))
        back = stock.create_return(s, principal=p, data=ReturnCreate(outbound_id=sold.id, lines=[
            {"sku": "SILK-SCARF-01", "qty": 2}]))
        stock.receive_return(s, principal=p, return_id=back.id)
    with db.transaction() as s:
        stock.inspect_return(s, principal=p, return_id=back.id, data=InspectIn(lines=[
            {"line_no": 1, "disposition": "restock"}]))
        lot = stock.StockRepository(s, p).lot_rows(sku="SILK-SCARF-01")[0]
        stock.lot_action(s, principal=p, lot_id=lot.id, data=LotAction(kind="dispose", qty=5, reason="水渍"))
        stock.lot_action(s, principal=p, lot_id=lot.id, data=LotAction(kind="return_to_origin", qty=10,
                                                                       reason="滞销退运"))
    return decl


def test_every_unit_is_accounted_for(db, world, exported):
    with db.transaction(write=False) as s:
        lines = loop.declaration_loop(s, principal=principal_of(world.a), declaration_id=exported.id)
        assert loop.check(s, principal=principal_of(world.a)) == []
    scarf, blouse = lines
    assert (scarf.exported, scarf.in_transit, scarf.on_hand, scarf.sold, scarf.disposed,
            scarf.returned_to_origin, scarf.losses) == (500, 0, 495 - 40 + 2 - 5 - 10, 38, 5, 10, 5)
    assert (blouse.in_transit, blouse.on_hand, blouse.sold) == (20, 90, 10)


def test_a_removed_movement_is_found_and_named(db, world, exported):
    with db.transaction() as s:
        victim = s.scalar(select(StockMovement.id).where(StockMovement.kind == "outbound",
                                                         StockMovement.sku == "SILK-BLOUSE-02"))
        s.execute(delete(StockMovement).where(StockMovement.id == victim))
    with db.transaction(write=False) as s:
        [violation] = loop.check(s, principal=principal_of(world.a))
    assert exported.cop_no in violation and "line 2 SILK-BLOUSE-02" in violation
