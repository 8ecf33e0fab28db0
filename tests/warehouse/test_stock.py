"""The stock ledger: FIFO lineage, returns, lot actions, the ledger invariant, concurrency (both databases)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.customs.builders import add_products, principal_of
from tests.warehouse.stock_builders import declaration_lines, outbound, stock_from_declaration
from tradeloop.kit.errors import Conflict, ValidationFailed
from tradeloop.kit.tables import ImportRejected
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.ledger import InsufficientStock
from tradeloop.warehouse.stock_models import OutboundOrder, StockLot, StockMovement
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.stock_schemas import (
    InboundCreate,
    InspectIn,
    LotAction,
    ReceiveIn,
    ReturnCreate,
    ShipIn,
)


@pytest.fixture
def exporter(db, world):
    add_products(db, world.a)
    return world.a


@pytest.fixture
def wh(world):
    return world.operator.warehouse.id  # the operator's warehouse, which exporter a uses


def lots_of(db, tenant, sku):
    with db.transaction(write=False) as s:
        return StockRepository(s, principal_of(tenant)).lot_rows(sku=sku, in_stock=False)


def ledger_is_consistent(db):
    """Every lot's on_hand/allocated equal the sums of its movements, and never negative."""
    with db.transaction(write=False) as s:
        sums = {lot: (on, al) for lot, on, al in s.execute(select(
            StockMovement.lot_id, func.sum(StockMovement.d_on_hand), func.sum(StockMovement.d_allocated))
            .group_by(StockMovement.lot_id))}
        for lot in s.scalars(select(StockLot)):
            assert (lot.on_hand, lot.allocated) == tuple(int(x) for x in sums.get(lot.id, (0, 0))), lot.lot_code
            assert 0 <= lot.allocated <= lot.on_hand


def test_fifo_across_lots_of_two_declarations_keeps_the_lineage(db, world, exporter, wh):
    first = declaration_lines(db, world, exporter, logistics_no="SZX-FIFO-1")
    second = declaration_lines(db, world, exporter, logistics_no="SZX-FIFO-2")
    stock_from_declaration(db, exporter, wh, first[:1], {"SILK-SCARF-01": 30})
    stock_from_declaration(db, exporter, wh, second[:1], {"SILK-SCARF-01": 50})
    older, newer = lots_of(db, exporter, "SILK-SCARF-01")
    assert older.declaration_line_id == first[0].id and newer.declaration_line_id == second[0].id

    order = outbound(db, exporter, wh, [("SILK-SCARF-01", 40)])
    with db.transaction() as s:
        allocations = StockRepository(s, principal_of(exporter)).allocations(order)
    assert [(a.lot_id, a.qty) for a in allocations] == [(older.id, 30), (newer.id, 10)]
    with db.transaction() as s:
        stock.ship_outbound(s, principal=principal_of(exporter), outbound_id=order.id,
                            data=ShipIn(carrier="UPS", tracking_no="1Z999AA10123456784"))
    older, newer = lots_of(db, exporter, "SILK-SCARF-01")
    assert (older.on_hand, older.allocated, newer.on_hand, newer.allocated) == (0, 0, 40, 0)
    ledger_is_consistent(db)


def test_allocation_for_lack_of_stock_is_refused_whole(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines, {"SILK-SCARF-01": 5, "SILK-BLOUSE-02": 5})
    with pytest.raises(InsufficientStock):
        outbound(db, exporter, wh, [("SILK-BLOUSE-02", 2), ("SILK-SCARF-01", 6)])
    assert all(lot.allocated == 0 for lot in lots_of(db, exporter, "SILK-BLOUSE-02"))  # nothing half-applied
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(OutboundOrder)) == 0


def test_cancel_releases_and_returns_restock_dispose_or_go_home(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 20})
    p = principal_of(exporter)
    cancelled = outbound(db, exporter, wh, [("SILK-SCARF-01", 5)])
    with db.transaction() as s:
        stock.cancel_outbound(s, principal=p, outbound_id=cancelled.id, reason="买家取消")
    assert lots_of(db, exporter, "SILK-SCARF-01")[0].allocated == 0
    sold = outbound(db, exporter, wh, [("SILK-SCARF-01", 6)])
    with db.transaction() as s:
        stock.ship_outbound(s, principal=p, outbound_id=sold.id, data=ShipIn(carrier="DHL", tracking_no="JD01"))
        ret = stock.create_return(s, principal=p, data=ReturnCreate(outbound_id=sold.id, lines=[
            {"sku": "SILK-SCARF-01", "qty": 3}]))
    with pytest.raises(ValidationFailed), db.transaction() as s:  # more than shipped and not returned
        stock.create_return(s, principal=p, data=ReturnCreate(outbound_id=sold.id, lines=[
            {"sku": "SILK-SCARF-01", "qty": 4}]))
    with db.transaction() as s:
        stock.receive_return(s, principal=p, return_id=ret.id)
    with db.transaction() as s:
        stock.inspect_return(s, principal=p, return_id=ret.id, data=InspectIn(lines=[
            {"line_no": 1, "condition": "完好", "disposition": "restock"}]))
    lot = lots_of(db, exporter, "SILK-SCARF-01")[0]
    assert lot.on_hand == 20 - 6 + 3
    with db.transaction() as s:  # unsold goods: disposal and return to China (退运) reduce the lot
        stock.lot_action(s, principal=p, lot_id=lot.id, data=LotAction(kind="dispose", qty=2, reason="水渍"))
        stock.lot_action(s, principal=p, lot_id=lot.id, data=LotAction(kind="return_to_origin", qty=5,
                                                                       reason="滞销退运"))
    assert lots_of(db, exporter, "SILK-SCARF-01")[0].on_hand == 17 - 7
    with pytest.raises(InsufficientStock), db.transaction() as s:
        stock.lot_action(s, principal=p, lot_id=lot.id, data=LotAction(kind="dispose", qty=11, reason="x"))
    ledger_is_consistent(db)


def test_receiving_records_short_over_and_damaged_with_a_reason(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    p = principal_of(exporter)
    with db.transaction() as s:
        order = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
            {"declaration_line_id": lines[0].id, "expected_qty": 500},
            {"declaration_line_id": lines[1].id, "expected_qty": 120}]))
    operator = principal_of(world.operator)  # the warehouse operator counts what arrived
    with db.transaction() as s:
        stock.receive_inbound(s, principal=operator, inbound_id=order.id, data=ReceiveIn(lines=[
            {"line_no": 1, "received_qty": 490, "damaged_qty": 4}, {"line_no": 2, "received_qty": 121}]))
    with pytest.raises(ValidationFailed) as info, db.transaction() as s:
        stock.receive_inbound(s, principal=operator, inbound_id=order.id, data=ReceiveIn(close=True))
    assert {e.field for e in info.value.errors} == {"lines[0].reason", "lines[1].reason"}
    with db.transaction() as s:
        stock.receive_inbound(s, principal=operator, inbound_id=order.id, data=ReceiveIn(close=True, lines=[
            {"line_no": 1, "reason": "外箱破损4件，短少6件"}, {"line_no": 2, "reason": "多发1件"}]))
    with db.transaction(write=False) as s:
        found = StockRepository(s, p).discrepancies(declaration_id=lines[0].declaration_id)
    assert [(li.line_no, li.short_qty, li.over_qty, li.damaged_qty) for _o, li in found] == [(1, 6, 0, 4), (2, 0, 1, 0)]
    with pytest.raises(Conflict), db.transaction() as s:
        stock.receive_inbound(s, principal=operator, inbound_id=order.id, data=ReceiveIn(lines=[
            {"line_no": 1, "received_qty": 1}]))
    assert lots_of(db, exporter, "SILK-SCARF-01")[0].on_hand == 490


def test_the_operator_sees_its_warehouse_only_and_other_tenants_nothing(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 10})
    own = world.a.warehouse.id  # exporter a's own warehouse: the operator has no business there
    with db.transaction() as s:
        p = principal_of(exporter)
        o = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=own, lines=[
            {"sku": "SILK-BLOUSE-02", "expected_qty": 3}]))
        stock.receive_inbound(s, principal=p, inbound_id=o.id, data=ReceiveIn(close=True, lines=[
            {"line_no": 1, "received_qty": 3}]))
    with db.transaction(write=False) as s:
        seen_by_operator = StockRepository(s, principal_of(world.operator)).balances()
        seen_by_b = StockRepository(s, principal_of(world.b)).balances()
    assert [(r[1], r[2], r[3]) for r in seen_by_operator] == [(wh, "SILK-SCARF-01", 10)]
    assert seen_by_b == []


OPS = st.lists(st.tuples(st.sampled_from(["receive", "order", "ship", "cancel", "return", "adjust", "dispose"]),
                         st.integers(1, 8)), min_size=1, max_size=25)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_sequence_keeps_balances_equal_to_their_movements_and_never_negative(db, world, exporter, wh, ops):
    p = principal_of(exporter)
    open_orders, shipped = [], []
    for op, n in ops:
        try:
            if op == "order":
                open_orders.append(outbound(db, exporter, wh, [("SILK-SCARF-01", n)]).id)
                continue
            with db.transaction() as s:
                if op == "receive":
                    o = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
                        {"sku": "SILK-SCARF-01", "expected_qty": n}]))
                    stock.receive_inbound(s, principal=p, inbound_id=o.id, data=ReceiveIn(close=True, lines=[
                        {"line_no": 1, "received_qty": n}]))
                elif op in {"ship", "cancel"} and open_orders:
                    oid = open_orders.pop(n % len(open_orders))
                    if op == "ship":
                        stock.ship_outbound(s, principal=p, outbound_id=oid, data=ShipIn(carrier="c", tracking_no="t"))
                        shipped.append(oid)
                    else:
                        stock.cancel_outbound(s, principal=p, outbound_id=oid, reason="x")
                elif op == "return" and shipped:
                    r = stock.create_return(s, principal=p, data=ReturnCreate(
                        outbound_id=shipped[n % len(shipped)], lines=[{"sku": "SILK-SCARF-01", "qty": 1}]))
                    stock.receive_return(s, principal=p, return_id=r.id)
                    stock.inspect_return(s, principal=p, return_id=r.id, data=InspectIn(lines=[
                        {"line_no": 1, "disposition": ["restock", "dispose", "return_to_origin"][n % 3]}]))
                elif op in {"adjust", "dispose"}:
                    lots = StockRepository(s, p).lot_rows(sku="SILK-SCARF-01")
                    if lots:
                        kind = "adjust" if op == "adjust" else "dispose"
                        qty = -n if op == "adjust" and n % 2 else n
                        stock.lot_action(s, principal=p, lot_id=lots[0].id, data=LotAction(kind=kind, qty=qty,
                                                                                         reason="x"))
        except (Conflict, ValidationFailed):
            pass  # refused operations change nothing
        finally:
            ledger_is_consistent(db)


def test_threads_racing_for_the_last_units_take_exactly_what_is_there(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 7})
    results: list[str] = []
    barrier = threading.Barrier(12)

    def buyer():
        barrier.wait()
        try:
            results.append(outbound(db, exporter, wh, [("SILK-SCARF-01", 1)]).number)
        except InsufficientStock:
            results.append("short")

    threads = [threading.Thread(target=buyer) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(r == "short" for r in results)
    assert counts[False] == 7 and counts[True] == 5
    numbers = [r for r in results if r != "short"]
    assert len(set(numbers)) == len(numbers)
    lot = lots_of(db, exporter, "SILK-SCARF-01")[0]
    assert (lot.on_hand, lot.allocated) == (7, 7)
    ledger_is_consistent(db)


def test_outbound_orders_from_a_file_are_idempotent_and_all_or_nothing(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines, {"SILK-SCARF-01": 10, "SILK-BLOUSE-02": 3})
    p = principal_of(exporter)
    good = ("订单号,SKU,数量,收件人,国家,地址,邮编\n"
            "112-0001,SILK-SCARF-01,2,Jane Roe,US,\"1 Main St\nApt 2\",62701\n"
            "112-0001,SILK-BLOUSE-02,1,Jane Roe,US,\"1 Main St\nApt 2\",62701\n"
            "112-0002,SILK-SCARF-01,1,Max Mustermann,DE,Hauptstr. 1,10115\n").encode("gb18030")
    with db.transaction() as s:
        result = stock.import_outbound(s, principal=p, filename="orders.csv", data=good, warehouse_id=wh,
                                       allocate=True)
    assert (result.created, result.unchanged, result.encoding) == (2, 0, "gb18030")
    with db.transaction() as s:
        again = stock.import_outbound(s, principal=p, filename="orders.csv", data=good, warehouse_id=wh,
                                      allocate=True)
    assert (again.created, again.unchanged) == (0, 2)
    short = ("订单号,SKU,数量,收件人,国家,地址\n112-0003,SILK-SCARF-01,1,A,US,x\n"
             "112-0004,SILK-BLOUSE-02,5,B,US,y\n112-0005,SILK-SCARF-01,0,C,USA,z\n").encode()
    with pytest.raises(ImportRejected) as info, db.transaction() as s:
        stock.import_outbound(s, principal=p, filename="orders.csv", data=short, warehouse_id=wh, allocate=True)
    assert {(e.row, e.column) for e in info.value.row_errors} == {(4, "数量"), (4, "国家")}
    short = short.rsplit(b"\n", 2)[0] + b"\n"  # without the bad row: B's order is short of stock
    with pytest.raises(ImportRejected) as info, db.transaction() as s:
        stock.import_outbound(s, principal=p, filename="orders.csv", data=short, warehouse_id=wh, allocate=True)
    assert [(e.row, e.column, e.value) for e in info.value.row_errors] == [(3, "数量", "5")]
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(OutboundOrder)) == 2  # 112-0003 was not kept either


def test_a_return_the_operator_registers_stays_the_exporters_and_in_its_lot(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 10})
    op = principal_of(world.operator)
    sold = outbound(db, exporter, wh, [("SILK-SCARF-01", 4)])
    with db.transaction() as s:
        stock.ship_outbound(s, principal=op, outbound_id=sold.id, data=ShipIn(carrier="UPS", tracking_no="1Z"))
        back = stock.create_return(s, principal=op, data=ReturnCreate(outbound_id=sold.id, lines=[
            {"sku": "SILK-SCARF-01", "qty": 4}]))
        assert back.enterprise_id == exporter.enterprise.id
        stock.receive_return(s, principal=op, return_id=back.id)
    with db.transaction() as s:
        stock.inspect_return(s, principal=op, return_id=back.id, data=InspectIn(lines=[
            {"line_no": 1, "disposition": "restock"}]))
    [lot] = lots_of(db, exporter, "SILK-SCARF-01")
    assert lot.on_hand == 10 and lot.declaration_line_id == lines[0].id
    with pytest.raises(ValidationFailed), db.transaction() as s:  # the same units cannot come back twice
        stock.create_return(s, principal=principal_of(exporter), data=ReturnCreate(outbound_id=sold.id, lines=[
            {"sku": "SILK-SCARF-01", "qty": 1}]))


def test_stock_moves_only_into_the_owners_warehouses_and_operators_lose_access_with_the_client_link(
        db, world, exporter, wh):
    from tradeloop.warehouse import service as warehouses
    from tradeloop.warehouse.repository import WarehouseRepository
    from tradeloop.warehouse.schemas import ClientCreate

    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 6})
    op, b = principal_of(world.operator), principal_of(world.b)
    with db.transaction() as s:  # b lets the operator store in b's warehouse; a's goods still may not go there
        warehouses.add_client(s, principal=b, warehouse_id=world.b.warehouse.id,
                              data=ClientCreate(client_uscc=world.operator.enterprise.uscc))
    lot = lots_of(db, exporter, "SILK-SCARF-01")[0]
    with pytest.raises(ValidationFailed), db.transaction() as s:
        stock.lot_action(s, principal=op, lot_id=lot.id, data=LotAction(kind="transfer", qty=6, reason="x",
                                                                        to_warehouse_id=world.b.warehouse.id))
    with db.transaction() as s:
        link = next(c for c in WarehouseRepository(s, op).clients(wh)
                    if c.client_enterprise_id == exporter.enterprise.id)
        warehouses.remove_client(s, principal=op, warehouse_id=wh, client_id=link.id)
    with pytest.raises(stock.NotFound), db.transaction() as s:
        stock.lot_action(s, principal=op, lot_id=lot.id, data=LotAction(kind="dispose", qty=6, reason="x"))
    with db.transaction(write=False) as s:
        assert StockRepository(s, op).balances() == []


def test_an_inbound_line_keeps_to_its_declaration_lines_sku_and_quantity(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    p = principal_of(exporter)
    with pytest.raises(ValidationFailed) as info, db.transaction() as s:
        stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
            {"sku": "SILK-BLOUSE-02", "declaration_line_id": lines[0].id, "expected_qty": 5}]))
    assert info.value.errors[0].field == "lines[0].sku"
    with db.transaction() as s:
        stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
            {"declaration_line_id": lines[0].id, "expected_qty": 400}]))
    with pytest.raises(ValidationFailed), db.transaction() as s:  # 400 + 101 > the 500 declared
        stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
            {"declaration_line_id": lines[0].id, "expected_qty": 101}]))


def test_a_sales_reference_gets_one_outbound_order(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 6})
    outbound(db, exporter, wh, [("SILK-SCARF-01", 1)], reference="amazon:112-7")
    with pytest.raises(Conflict):
        outbound(db, exporter, wh, [("SILK-SCARF-01", 1)], reference="amazon:112-7")
    assert lots_of(db, exporter, "SILK-SCARF-01")[0].allocated == 1


def test_concurrent_returns_never_exceed_what_was_shipped(db, world, exporter, wh):
    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 4})
    p = principal_of(exporter)
    sold = outbound(db, exporter, wh, [("SILK-SCARF-01", 4)])
    with db.transaction() as s:
        stock.ship_outbound(s, principal=p, outbound_id=sold.id, data=ShipIn(carrier="UPS", tracking_no="1Z"))
    outcomes, barrier = [], threading.Barrier(4)

    def returner():
        barrier.wait()
        try:
            with db.transaction() as s:
                stock.create_return(s, principal=p, data=ReturnCreate(outbound_id=sold.id, lines=[
                    {"sku": "SILK-SCARF-01", "qty": 3}]))
            outcomes.append("ok")
        except ValidationFailed:
            outcomes.append("refused")

    threads = [threading.Thread(target=returner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]


def test_an_inbound_order_from_a_shipment_carries_its_declaration_lines(db, world, exporter, wh):
    from tests.customs.builders import submit
    from tests.logistics.builders import create_shipment, shipment_body

    decl = declaration_lines(db, world, exporter)[0].declaration_id
    submit(db, exporter, decl)
    with db.transaction(write=False) as s:
        from tradeloop.customs.repository import DeclarationRepository

        declaration = DeclarationRepository(s, principal_of(exporter)).get(decl)
    shipment = create_shipment(db, exporter, shipment_body(world, declaration))
    p = principal_of(exporter)
    with db.transaction() as s:
        order = stock.create_inbound(s, principal=p, data=InboundCreate(shipment_id=shipment.id))
        lines = StockRepository(s, p).inbound_lines(order)
    assert order.warehouse_id == wh and order.reference == shipment.number
    assert [(li.sku, li.expected_qty) for li in lines] == [("SILK-SCARF-01", 500), ("SILK-BLOUSE-02", 120)]
    with pytest.raises(Conflict), db.transaction() as s:  # one open inbound order per shipment
        stock.create_inbound(s, principal=p, data=InboundCreate(shipment_id=shipment.id))
    with db.transaction(write=False) as s:
        assert StockRepository(s, p).discrepancies(shipment_id=shipment.id) == []


def test_the_movement_list_gives_each_lot_movement_its_running_balance(client, db, world, exporter, wh):
    from tests.factories import bearer

    lines = declaration_lines(db, world, exporter)
    stock_from_declaration(db, exporter, wh, lines[:1], {"SILK-SCARF-01": 10})
    order = outbound(db, exporter, wh, [("SILK-SCARF-01", 3)])
    with db.transaction() as s:
        stock.ship_outbound(s, principal=principal_of(exporter), outbound_id=order.id,
                            data=ShipIn(carrier="UPS", tracking_no="1Z"))
    lot = lots_of(db, exporter, "SILK-SCARF-01")[0]
    page = client.get("/api/v1/stock/movements", params={"lot_id": str(lot.id)},
                      headers=bearer(world.a.keys["read"])).json()["items"]
    assert [(m["kind"], m["on_hand_after"]) for m in page] == [("outbound", 7), ("allocate", 10), ("receipt", 10)]
