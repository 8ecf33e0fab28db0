"""Fulfilment and lineage: imported sales consume FIFO lots, and each unit sold is traced to the declaration
line it was exported under (both databases)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from tests.customs.builders import add_products, body_9810, create, exchange_round, load, principal_of, submit
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.simulator import CustomsSimulator
from tradeloop.kit.errors import ValidationFailed
from tradeloop.loop import service as loop
from tradeloop.sales import fulfilment
from tradeloop.sales import service as sales
from tradeloop.sales.models import SalesOrderLine
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.stock_models import Allocation, OutboundOrder, StockLot, StockMovement
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

HEADER = ("amazon-order-id", "purchase-date", "last-updated-date", "order-status", "fulfillment-channel",
          "sales-channel", "sku", "quantity", "currency", "item-price", "item-tax", "item-promotion-discount",
          "ship-country")


def amazon_file(path, rows) -> str:
    """rows: (order id, purchase date, status, sku, qty, price, discount[, fulfilment channel, marketplace])."""
    out = ["\t".join(HEADER)]
    for row in rows:
        order_id, day, status, sku, qty, price, discount, *rest = row
        channel, market = (rest + ["Merchant", "Amazon.com"])[:2] if len(rest) < 2 else rest
        currency = "EUR" if market == "Amazon.de" else "USD"
        out.append("\t".join([order_id, f"{day}T10:00:00+00:00", f"{day}T12:00:00+00:00", status, channel, market,
                              sku, str(qty), "" if status == "Cancelled" else currency,
                              "" if status == "Cancelled" else price, "", discount,
                              "DE" if market == "Amazon.de" else "US"]))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def received(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T08:00:00+00:00")


@pytest.fixture
def two_lots(db, world, tmp_path):
    """Two released 9810 declarations of scarves (500 each) and blouses (120 each), received at the operator's
    warehouse on 2026-01-05 and 2026-02-05: two FIFO lots per SKU, each on its own declaration line."""
    a = world.a
    add_products(db, a)
    folders = ExchangeFolders(tmp_path / "exchange").ensure()
    decls = [create(db, a, body_9810(world, logistics_no=f"SZX20261100{n}", bill_no=f"COSU631234567{n}"))
             for n in (1, 2)]
    for d in decls:
        submit(db, a, d.id)
    exchange_round(db, folders, CustomsSimulator(folders))
    wh, p = world.operator.warehouse.id, principal_of(a)
    out = []
    for d, day in zip(decls, ("2026-01-05", "2026-02-05"), strict=True):
        decl, lines, _docs = load(db, a, d.id)
        with db.transaction() as s:
            order = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
                {"declaration_line_id": li.id, "expected_qty": int(li.qty)} for li in lines]))
            stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(
                close=True, received_at=received(day),
                lines=[{"line_no": i, "received_qty": int(li.qty)} for i, li in enumerate(lines, start=1)]))
        out.append((decl, lines))
    return out


def import_file(db, world, path):
    with db.transaction() as s:
        return sales.import_orders(s, principal=principal_of(world.a), path=path, channel="amazon")


def fulfil(db, world, **kw):
    kw.setdefault("warehouse_id", world.operator.warehouse.id)
    with db.transaction() as s:
        return fulfilment.fulfil_orders(s, principal=principal_of(world.a), **kw)


def line_of(db, world, order_id, sku=None) -> SalesOrderLine:
    with db.transaction(write=False) as s:
        stmt = select(SalesOrderLine).where(SalesOrderLine.enterprise_id == world.a.enterprise.id,
                                            SalesOrderLine.external_order_id == order_id)
        if sku:
            stmt = stmt.where(SalesOrderLine.sku == sku)
        return s.scalars(stmt).one()


def lineage(db, world, order_id, sku=None) -> list[tuple[str, int, int]]:
    line = line_of(db, world, order_id, sku)
    with db.transaction(write=False) as s:
        return [(r["cop_no"], r["gnum"], r["qty"]) for r in
                loop.lineage(s, principal=principal_of(world.a), sales_line_id=line.id)]


def loop_lines(db, world, rates=loop.no_rates):
    with db.transaction(write=False) as s:
        return {(li.cop_no, li.gnum): li for li in loop.declaration_loop(s, principal=principal_of(world.a),
                                                                          rates=rates)}


def violations(db, world):
    with db.transaction(write=False) as s:
        return loop.check(s, principal=principal_of(world.a))


class TestFifoLineage:
    def test_units_are_traced_to_the_right_declaration_lines_across_lots(self, db, world, two_lots, tmp_path):
        (d1, _l1), (d2, _l2) = two_lots
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000001-0000001", "2026-01-20", "Shipped", "SILK-SCARF-01", 480, "4800.00", "0"),
            # 20 scarves left in lot 1, the next 30 come from lot 2
            ("111-0000002-0000002", "2026-02-20", "Shipped", "SILK-SCARF-01", 50, "500.00", "10.00"),
            ("111-0000002-0000002", "2026-02-20", "Shipped", "SILK-BLOUSE-02", 3, "99.00", "0"),
            ("111-0000003-0000003", "2026-02-21", "Pending", "SILK-SCARF-01", 5, "50.00", "0"),
            ("111-0000004-0000004", "2026-02-22", "Cancelled", "SILK-SCARF-01", 7, "", ""),
        ]))
        result = fulfil(db, world)
        assert (result.orders_created, result.lines_linked, result.units_shipped, result.units_allocated) == \
            (3, 4, 533, 538)
        assert result.short == []
        assert lineage(db, world, "111-0000001-0000001") == [(d1.cop_no, 1, 480)]
        assert lineage(db, world, "111-0000002-0000002", "SILK-SCARF-01") == [(d1.cop_no, 1, 20), (d2.cop_no, 1, 30)]
        assert lineage(db, world, "111-0000002-0000002", "SILK-BLOUSE-02") == [(d1.cop_no, 2, 3)]
        assert lineage(db, world, "111-0000003-0000003") == [(d2.cop_no, 1, 5)]  # allocated, not shipped
        assert line_of(db, world, "111-0000004-0000004").outbound_id is None  # cancelled: no stock moves
        lines = loop_lines(db, world)
        first, second = lines[(d1.cop_no, 1)], lines[(d2.cop_no, 1)]
        assert (first.sold, first.sold_linked, first.on_hand) == (500, 500, 0)
        assert (second.sold, second.on_hand, second.allocated) == (30, 470, 5)
        # realised value: 480 scarves for 4800.00; the 50 for 500.00 − 10.00 split 20/30 over the two lots
        assert first.sales_value == {"USD": 480000 + 19600}
        assert second.sales_value == {"USD": 29400}
        assert first.sales_value_cny is None and first.missing_rates == ["USD 2026-01-20", "USD 2026-02-20"]
        assert violations(db, world) == []

    def test_values_in_cny_with_a_rate_source(self, db, world, two_lots, tmp_path):
        (d1, _l1), _second = two_lots
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000001-0000001", "2026-01-20", "Shipped", "SILK-SCARF-01", 3, "30.01", "0")]))
        fulfil(db, world)
        rates = {("USD", date(2026, 1, 20)): Decimal("7.1234")}
        line = loop_lines(db, world, rates=lambda cur, day: rates.get((cur, day)))[(d1.cop_no, 1)]
        assert line.sales_value == {"USD": 3001}
        assert line.sales_value_cny == 21377  # 30.01 × 7.1234 = 213.773… → 213.77
        assert line.missing_rates == []

    def test_running_again_changes_nothing(self, db, world, two_lots, tmp_path):
        path = amazon_file(tmp_path / "orders.txt", [
            ("111-0000001-0000001", "2026-01-20", "Shipped", "SILK-SCARF-01", 4, "40.00", "0"),
            ("111-0000002-0000002", "2026-01-21", "Pending", "SILK-SCARF-01", 2, "20.00", "0")])
        import_file(db, world, path)
        fulfil(db, world)
        with db.transaction(write=False) as s:
            before = (s.scalar(select(func.count()).select_from(OutboundOrder)),
                      s.scalar(select(func.count()).select_from(StockMovement)))
        import_file(db, world, path)  # the same file again: the links stay
        again = fulfil(db, world)
        assert (again.orders_created, again.lines_linked, again.units_allocated) == (0, 0, 0)
        with db.transaction(write=False) as s:
            assert (s.scalar(select(func.count()).select_from(OutboundOrder)),
                    s.scalar(select(func.count()).select_from(StockMovement))) == before

    def test_a_sale_cannot_ship_goods_that_had_not_arrived(self, db, world, two_lots, tmp_path):
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000009-0000009", "2026-01-02", "Shipped", "SILK-SCARF-01", 1, "10.00", "0"),
            # more than lot 1 holds, shipped before lot 2 arrived
            ("111-0000010-0000010", "2026-01-25", "Shipped", "SILK-SCARF-01", 501, "10.00", "0")]))
        result = fulfil(db, world)
        assert result.orders_created == 0
        assert result.short == [
            {"order": "111-0000009-0000009", "sku": "SILK-SCARF-01", "wanted": 1, "available": 0},
            {"order": "111-0000010-0000010", "sku": "SILK-SCARF-01", "wanted": 501, "available": 500}]
        assert violations(db, world) == []

    def test_an_order_is_all_or_nothing(self, db, world, two_lots, tmp_path):
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000011-0000011", "2026-03-01", "Shipped", "SILK-SCARF-01", 2, "20.00", "0"),
            ("111-0000011-0000011", "2026-03-01", "Shipped", "SILK-BLOUSE-02", 241, "20.00", "0")]))
        result = fulfil(db, world)
        assert result.orders_created == 0 and result.short[0]["sku"] == "SILK-BLOUSE-02"
        assert line_of(db, world, "111-0000011-0000011", "SILK-SCARF-01").outbound_id is None
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.sum(StockLot.allocated))) == 0


class TestLinkingAndFollowingTheFile:
    def test_an_existing_outbound_order_is_linked_not_duplicated(self, db, world, two_lots, tmp_path):
        (d1, _l1), _second = two_lots
        p = principal_of(world.a)
        with db.transaction() as s:
            order = stock.create_outbound(s, principal=p, data=OutboundCreate(
                warehouse_id=world.operator.warehouse.id, reference="amazon:111-0000005-0000005", allocate=True,
                ship_to={"name": "Jane Roe", "country": "US", "address": "1 Main St"},
                lines=[{"sku": "SILK-SCARF-01", "qty": 2}]))
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000005-0000005", "2026-03-01", "Pending", "SILK-SCARF-01", 2, "20.00", "0")]))
        result = fulfil(db, world)
        assert (result.orders_created, result.orders_linked, result.lines_linked) == (0, 1, 1)
        assert line_of(db, world, "111-0000005-0000005").outbound_id == order.id
        with db.transaction() as s:  # the warehouse ships it: the lineage is there
            stock.ship_outbound(s, principal=p, outbound_id=order.id, data=ShipIn(carrier="UPS", tracking_no="1Z9"))
        assert lineage(db, world, "111-0000005-0000005") == [(d1.cop_no, 1, 2)]
        assert loop_lines(db, world)[(d1.cop_no, 1)].sales_value == {"USD": 2000}

    def test_later_files_cancel_and_ship_open_orders(self, db, world, two_lots, tmp_path):
        rows = [("111-0000006-0000006", "2026-03-01", "Pending", "SILK-SCARF-01", 2, "20.00", "0"),
                ("111-0000007-0000007", "2026-03-01", "Pending", "SILK-SCARF-01", 3, "30.00", "0")]
        import_file(db, world, amazon_file(tmp_path / "a.txt", rows))
        assert fulfil(db, world).units_allocated == 5
        later = [(r[0], r[1], status, *r[3:]) for r, status in zip(rows, ("Cancelled", "Shipped"), strict=True)]
        later = [(r[0], "2026-03-02", *r[2:]) for r in later]
        import_file(db, world, amazon_file(tmp_path / "b.txt", later))
        result = fulfil(db, world)
        assert (result.orders_cancelled, result.orders_shipped_later) == (1, 1)
        with db.transaction(write=False) as s:
            statuses = dict(s.execute(select(OutboundOrder.reference, OutboundOrder.status)).tuples().all())
            assert s.scalar(select(func.sum(StockLot.allocated))) == 0
        assert statuses == {"amazon:111-0000006-0000006": "cancelled", "amazon:111-0000007-0000007": "shipped"}
        assert violations(db, world) == []

    def test_returns_take_their_value_back(self, db, world, two_lots, tmp_path):
        (d1, _l1), _second = two_lots
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000008-0000008", "2026-03-01", "Shipped", "SILK-SCARF-01", 4, "40.00", "0")]))
        fulfil(db, world)
        p = principal_of(world.a)
        outbound_id = line_of(db, world, "111-0000008-0000008").outbound_id
        with db.transaction() as s:
            back = stock.create_return(s, principal=p, data=ReturnCreate(outbound_id=outbound_id, lines=[
                {"sku": "SILK-SCARF-01", "qty": 1}]))
            stock.receive_return(s, principal=p, return_id=back.id)
            stock.inspect_return(s, principal=p, return_id=back.id, data=InspectIn(lines=[
                {"line_no": 1, "disposition": "restock"}]))
        line = loop_lines(db, world)[(d1.cop_no, 1)]
        assert (line.sold, line.sold_linked, line.returned, line.sales_value) == (3, 3, 1, {"USD": 3000})
        assert violations(db, world) == []


class TestMarketplaceFulfilment:
    def test_afn_sales_consume_stock_transferred_to_the_marketplace(self, db, world, two_lots, tmp_path):
        """Stock moved into the exporter's FBA warehouse keeps its declaration line; AFN sales fulfilled there
        are traced the same way, and the MFN run leaves them alone."""
        (d1, _l1), _second = two_lots
        p = principal_of(world.a)
        fba = world.a.warehouse.id  # a warehouse of the exporter's own, standing for Amazon's
        with db.transaction() as s:
            lot = StockRepository(s, p).lot_rows(sku="SILK-SCARF-01")[0]
            stock.lot_action(s, principal=p, lot_id=lot.id, data=LotAction(kind="transfer", qty=100,
                                                                           to_warehouse_id=fba, reason="补货FBA"))
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000012-0000012", "2026-03-01", "Shipped", "SILK-SCARF-01", 6, "60.00", "0", "Amazon",
             "Amazon.com"),
            ("111-0000013-0000013", "2026-03-01", "Shipped", "SILK-SCARF-01", 1, "10.00", "0", "Merchant",
             "Amazon.com")]))
        afn = fulfil(db, world, warehouse_id=fba, fulfillment_channel="AFN")
        assert (afn.orders_created, afn.units_shipped) == (1, 6)
        assert lineage(db, world, "111-0000012-0000012") == [(d1.cop_no, 1, 6)]
        assert line_of(db, world, "111-0000013-0000013").outbound_id is None
        assert fulfil(db, world, fulfillment_channel="MFN").units_shipped == 1
        assert loop_lines(db, world)[(d1.cop_no, 1)].sold == 7
        assert violations(db, world) == []


class TestConservationNamesTheLine:
    def test_removing_a_fulfilment_movement_is_found(self, db, world, two_lots, tmp_path):
        (d1, _l1), _second = two_lots
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000014-0000014", "2026-03-01", "Shipped", "SILK-BLOUSE-02", 2, "60.00", "0")]))
        fulfil(db, world)
        with db.transaction() as s:
            victim = s.scalar(select(StockMovement.id).where(StockMovement.kind == "outbound"))
            s.execute(delete(StockMovement).where(StockMovement.id == victim))
        [violation] = violations(db, world)
        assert d1.cop_no in violation and "line 2 SILK-BLOUSE-02" in violation


class TestRefused:
    def test_another_tenants_warehouse_is_a_field_error(self, db, world, two_lots):
        with pytest.raises(ValidationFailed) as err:
            fulfil(db, world, warehouse_id=world.b.warehouse.id)
        assert err.value.errors[0].field == "warehouse_id"

    def test_bad_filters(self, db, world, two_lots):
        with pytest.raises(ValidationFailed) as err:
            fulfil(db, world, channel="aliexpress", buyer_countries=["USA"])
        assert {e.field for e in err.value.errors} == {"channel", "buyer_countries"}

    def test_allocations_only_ever_reference_the_callers_lots(self, db, world, two_lots, tmp_path):
        import_file(db, world, amazon_file(tmp_path / "orders.txt", [
            ("111-0000015-0000015", "2026-03-01", "Shipped", "SILK-SCARF-01", 2, "20.00", "0")]))
        fulfil(db, world)
        with db.transaction(write=False) as s:
            owners = set(s.scalars(select(StockLot.enterprise_id).join(
                Allocation, (Allocation.enterprise_id == StockLot.enterprise_id) & (Allocation.lot_id == StockLot.id))))
        assert owners == {world.a.enterprise.id}


def test_received_at_in_the_future_is_refused(db, world, two_lots):
    p = principal_of(world.a)
    with db.transaction() as s:
        order = stock.create_inbound(s, principal=p, data=InboundCreate(
            warehouse_id=world.operator.warehouse.id, lines=[{"sku": "SILK-SCARF-01", "lot_code": "L-1",
                                                              "expected_qty": 1}]))
    with pytest.raises(ValidationFailed) as err, db.transaction() as s:
        stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(
            received_at=datetime(2099, 1, 1, tzinfo=UTC), lines=[{"line_no": 1, "received_qty": 1}]))
    assert err.value.errors[0].field == "received_at"
