"""The warehouse operator API (/api/v1/wms) as a client sees it, on both databases: SKUs with customs fields,
inbound / outbound / return orders by number, inventory, its log and age; who sees what."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from tests.customs.builders import add_products, principal_of
from tests.factories import bearer
from tests.warehouse.stock_builders import SHIP_TO
from tradeloop.audit.models import AuditLog
from tradeloop.catalog.models import Product
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse import aging
from tradeloop.warehouse import service as warehouses
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.schemas import ClientCreate
from tradeloop.warehouse.stock_models import OutboundOrder, StockLot
from tradeloop.warehouse.stock_schemas import InboundCreate, ReceiveIn, ShipIn

WMS = "/api/v1/wms"


def api(app, tenant, scope: str = "write") -> TestClient:
    c = TestClient(app)
    c.headers.update(bearer(tenant.keys[scope]))
    return c


@pytest.fixture
def exporter(db, world):
    add_products(db, world.a)
    return world.a


@pytest.fixture
def wh(world):
    return world.operator.warehouse.id  # the operator's warehouse, which exporter a uses


def receive(db, tenant, warehouse_id, sku: str, qty: int):
    """An inbound order of ``qty`` units received in full (one lot)."""
    p = principal_of(tenant)
    with db.transaction() as s:
        order = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=warehouse_id, lines=[
            {"sku": sku, "expected_qty": qty}]))
        stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(close=True, lines=[
            {"line_no": 1, "received_qty": qty}]))
    return order


def audit_count(db) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditLog))


def outbound_body(warehouse_id, lines, reference=None) -> dict:
    return {"warehouse_id": str(warehouse_id), "reference": reference, "ship_to": SHIP_TO,
            "lines": [{"sku": sku, "qty": qty} for sku, qty in lines]}


# --- aging (pure) ---------------------------------------------------------------------------------


class TestAging:
    @pytest.mark.parametrize(("days", "label"), [(0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"),
                                                 (61, "61-90"), (90, "61-90"), (91, "91-180"), (180, "91-180"),
                                                 (181, "181-365"), (365, "181-365"), (366, ">365"), (5000, ">365")])
    def test_bucket_edges(self, days, label):
        assert aging.bucket(days) == label

    def test_negative_age_is_refused(self):
        with pytest.raises(ValueError):
            aging.bucket(-1)

    def test_age_counts_calendar_days_in_the_time_zone(self):
        late_evening_utc = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)  # already 1 February in Shanghai
        assert aging.age_days(late_evening_utc, date(2026, 2, 1)) == 1
        assert aging.age_days(late_evening_utc, date(2026, 2, 1), "Asia/Shanghai") == 0
        assert aging.age_days(late_evening_utc, date(2026, 1, 1)) == 0  # never negative

    def test_units_per_bucket_with_every_bucket_present(self):
        as_of = date(2026, 6, 30)
        lots = [(datetime(2026, 6, 30, tzinfo=UTC), 5), (datetime(2026, 4, 1, tzinfo=UTC), 7),
                (datetime(2026, 3, 31, tzinfo=UTC), 2), (datetime(2024, 1, 1, tzinfo=UTC), 1)]
        assert aging.bucket_units(lots, as_of) == {"0-30": 5, "31-60": 0, "61-90": 7, "91-180": 2,
                                                   "181-365": 0, ">365": 1}
        assert list(aging.bucket_units([], as_of)) == list(aging.LABELS)


# --- SKUs -----------------------------------------------------------------------------------------


SKU = {"sku": "WMS-MUG-01", "declared_name_zh": "陶瓷杯", "declared_name_en": "Ceramic mug",
       "hs_code": "6214100090", "customs_unit": "011", "gross_weight_kg": "0.45", "net_weight_kg": "0.4",
       "origin_country": "CN", "gtin": "4006381333931", "declared_value": "5.50", "declared_currency": "USD",
       "length_cm": "12.5", "width_cm": "9", "height_cm": "10"}


class TestSkus:
    def test_register_then_update_maps_onto_the_catalogue(self, app, db, world):
        c = api(app, world.a)
        before = audit_count(db)
        r = c.post(f"{WMS}/skus", json=SKU)
        assert r.status_code == 201, r.text
        body = r.json()
        names = (body["declared_name_zh"], body["declared_name_en"], body["name_zh"])
        assert names == ("陶瓷杯", "Ceramic mug", "陶瓷杯")
        assert (body["declared_value"], body["declared_currency"], body["origin_country"]) == ("5.50", "USD", "142")
        assert (body["length_cm"], body["width_cm"], body["height_cm"]) == ("12.50", "9.00", "10.00")
        assert audit_count(db) == before + 2  # the product and its warehouse profile: one row per entity
        product = c.get(f"/api/v1/catalog/products/{body['product_id']}").json()
        assert (product["declared_name"], product["name_en"], product["hs_code"], product["gross_weight_kg"]) == (
            "陶瓷杯", "Ceramic mug", "6214100090", "0.4500")

        r = c.post(f"{WMS}/skus", json={"sku": "WMS-MUG-01", "declared_value": "6", "brand": "Acme"})
        assert r.status_code == 200, r.text
        assert (r.json()["declared_value"], r.json()["brand"], r.json()["hs_code"]) == ("6.00", "Acme", "6214100090")
        assert audit_count(db) == before + 4
        again = c.post(f"{WMS}/skus", json={"sku": "WMS-MUG-01", "declared_value": "6.00", "brand": "Acme"})
        assert again.status_code == 200 and audit_count(db) == before + 4  # nothing changed: nothing audited

        listed = c.get(f"{WMS}/skus", params={"sku": "WMS-MUG-01"}).json()["items"]
        assert [(i["sku"], i["declared_value"]) for i in listed] == [("WMS-MUG-01", "6.00")]
        assert "WMS-MUG-01" in [i["sku"] for i in c.get(f"{WMS}/skus").json()["items"]]

    def test_catalogue_and_warehouse_errors_are_reported_together_and_nothing_is_written(self, app, db, world):
        c = api(app, world.a)
        before = audit_count(db)
        r = c.post(f"{WMS}/skus", json={**SKU, "hs_code": "12", "declared_currency": "XXX", "length_cm": "-1"})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert {"hs_code", "declared_currency", "length_cm"} <= {e["field"] for e in r.json()["errors"]}
        r = c.post(f"{WMS}/skus", json={"sku": "WMS-X", "declared_name_zh": "杯", "hs_code": "6214100090",
                                        "customs_unit": "011", "declared_value": "5"})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["declared_currency"]
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(Product)) == 0
        assert audit_count(db) == before

    def test_each_enterprise_lists_its_own_skus(self, app, world):
        assert api(app, world.a).post(f"{WMS}/skus", json=SKU).status_code == 201
        for tenant in (world.b, world.operator):
            assert api(app, tenant, "read").get(f"{WMS}/skus").json()["items"] == []
            assert api(app, tenant, "read").get(f"{WMS}/skus", params={"sku": SKU["sku"]}).json()["items"] == []
        assert api(app, world.a, "read").post(f"{WMS}/skus", json=SKU).status_code == 403


# --- inbound --------------------------------------------------------------------------------------


class TestInboundOrders:
    def test_create_and_read_by_number_as_exporter_and_operator(self, app, db, world, exporter, wh):
        c = api(app, exporter)
        r = c.post(f"{WMS}/inbound-orders", json={"warehouse_id": str(wh), "reference": "PO-77", "lines": [
            {"sku": "SILK-SCARF-01", "expected_qty": 40}]})
        assert r.status_code == 201, r.text
        number = r.json()["number"]
        assert r.headers["location"] == f"{WMS}/inbound-orders/{number}"
        with db.transaction() as s:  # the operator counts what arrived
            stock.receive_inbound(s, principal=principal_of(world.operator), inbound_id=uuid.UUID(r.json()["id"]),
                                  data=ReceiveIn(close=True, lines=[{"line_no": 1, "received_qty": 38,
                                                                     "damaged_qty": 2, "reason": "2件破损"}]))
        for tenant in (exporter, world.operator):
            got = api(app, tenant, "read").get(f"{WMS}/inbound-orders/{number}")
            assert got.status_code == 200, got.text
            line = got.json()["lines"][0]
            assert (got.json()["status"], line["received_qty"], line["damaged_qty"]) == ("received", 38, 2)
        assert c.get(f"{WMS}/inbound-orders/{r.json()['id']}").json()["number"] == number  # the id works too
        assert api(app, world.b, "read").get(f"{WMS}/inbound-orders/{number}").status_code == 404

    def test_an_operator_does_not_see_an_exporters_own_warehouse(self, app, db, world, exporter):
        order = receive(db, exporter, world.a.warehouse.id, "SILK-SCARF-01", 5)
        assert api(app, world.operator, "read").get(f"{WMS}/inbound-orders/{order.number}").status_code == 404
        assert api(app, exporter, "read").get(f"{WMS}/inbound-orders/{order.number}").status_code == 200

    def test_two_exporters_with_the_same_number_in_one_warehouse(self, app, db, world, exporter, wh):
        with db.transaction() as s:
            warehouses.add_client(s, principal=replace(system_principal(), enterprise_id=world.operator.enterprise.id),
                                  warehouse_id=wh, data=ClientCreate(client_uscc=world.b.enterprise.uscc))
        add_products(db, world.b)
        first, second = receive(db, exporter, wh, "SILK-SCARF-01", 1), receive(db, world.b, wh, "SILK-SCARF-01", 2)
        assert first.number == second.number
        op = api(app, world.operator, "read")
        r = op.get(f"{WMS}/inbound-orders/{first.number}")
        assert r.status_code == 409
        assert sorted(r.json()["enterprise_ids"]) == sorted([str(world.a.enterprise.id), str(world.b.enterprise.id)])
        r = op.get(f"{WMS}/inbound-orders/{first.number}", params={"enterprise_id": str(world.b.enterprise.id)})
        assert r.status_code == 200 and r.json()["lines"][0]["received_qty"] == 2
        # each exporter still finds its own without saying whose
        assert api(app, world.b, "read").get(f"{WMS}/inbound-orders/{first.number}").json()["id"] == str(second.id)


# --- outbound -------------------------------------------------------------------------------------


class TestOutboundOrders:
    def test_create_allocates_read_by_number_and_cancel_releases(self, app, db, world, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 10)
        c = api(app, exporter)
        r = c.post(f"{WMS}/outbound-orders", json=outbound_body(wh, [("SILK-SCARF-01", 4)], "AMZ-111-222"))
        assert r.status_code == 201, r.text
        order = r.json()
        assert order["status"] == "allocated" and sum(a["qty"] for a in order["allocations"]) == 4
        assert r.headers["location"] == f"{WMS}/outbound-orders/{order['number']}"
        inventory = c.get(f"{WMS}/inventory", params={"sku": "SILK-SCARF-01"}).json()
        assert [(i["on_hand"], i["allocated"], i["available"]) for i in inventory] == [(10, 4, 6)]
        seen = api(app, world.operator, "read").get(f"{WMS}/outbound-orders/{order['number']}")
        assert seen.status_code == 200 and seen.json()["reference"] == "AMZ-111-222"
        assert api(app, world.b, "read").get(f"{WMS}/outbound-orders/{order['number']}").status_code == 404
        assert api(app, world.b).post(f"{WMS}/outbound-orders/{order['number']}/cancel",
                                      json={"reason": "x"}).status_code == 404

        r = c.post(f"{WMS}/outbound-orders/{order['number']}/cancel", json={"reason": "买家取消"})
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert [a["state"] for a in r.json()["allocations"]] == ["released"]
        assert c.get(f"{WMS}/inventory").json()[0]["available"] == 10
        again = c.post(f"{WMS}/outbound-orders/{order['number']}/cancel", json={"reason": "买家取消"})
        assert again.status_code == 409

    def test_short_stock_is_409_and_creates_nothing(self, app, db, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 3)
        receive(db, exporter, wh, "SILK-BLOUSE-02", 9)
        c = api(app, exporter)
        before = audit_count(db)
        r = c.post(f"{WMS}/outbound-orders", json=outbound_body(wh, [("SILK-BLOUSE-02", 2), ("SILK-SCARF-01", 4)]))
        assert r.status_code == 409
        assert r.json()["type"] == "urn:tradeloop:problem:insufficient-stock"
        assert (r.json()["sku"], r.json()["available"]) == ("SILK-SCARF-01", 3)
        assert [i["allocated"] for i in c.get(f"{WMS}/inventory").json()] == [0, 0]
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(OutboundOrder)) == 0
        assert audit_count(db) == before

    def test_the_allocate_flag_cannot_be_turned_off(self, app, db, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 3)
        r = api(app, exporter).post(f"{WMS}/outbound-orders",
                                    json={**outbound_body(wh, [("SILK-SCARF-01", 1)]), "allocate": False})
        assert r.status_code == 422


# --- returns --------------------------------------------------------------------------------------


class TestReturns:
    def test_return_by_outbound_number_keeps_the_lot_and_takes_a_disposition(self, app, db, world, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 10)
        c = api(app, exporter)
        sold = c.post(f"{WMS}/outbound-orders", json=outbound_body(wh, [("SILK-SCARF-01", 3)])).json()
        with db.transaction() as s:
            stock.ship_outbound(s, principal=principal_of(world.operator), outbound_id=uuid.UUID(sold["id"]),
                                data=ShipIn(carrier="UPS", tracking_no="1Z1"))
        r = c.post(f"{WMS}/returns", json={"outbound_number": sold["number"], "reason": "尺码不合适",
                                           "lines": [{"sku": "SILK-SCARF-01", "qty": 2}]})
        assert r.status_code == 201, r.text
        ret = r.json()
        assert ret["outbound_id"] == sold["id"] and ret["lines"][0]["lot_id"] == sold["allocations"][0]["lot_id"]
        assert ret["lines"][0]["disposition"] is None
        early = c.post(f"{WMS}/returns/{ret['number']}/disposition", json={"lines": [
            {"line_no": 1, "disposition": "restock"}]})
        assert early.status_code == 409  # not received yet
        with db.transaction() as s:
            stock.receive_return(s, principal=principal_of(world.operator), return_id=uuid.UUID(ret["id"]))
        op = api(app, world.operator)
        done = op.post(f"{WMS}/returns/{ret['number']}/disposition", json={"lines": [
            {"line_no": 1, "condition": "完好", "disposition": "restock"}]})
        assert done.status_code == 200, done.text
        got = c.get(f"{WMS}/returns/{ret['number']}").json()
        assert (got["status"], got["lines"][0]["disposition"], got["lines"][0]["condition"]) == (
            "closed", "restock", "完好")
        assert c.get(f"{WMS}/inventory").json()[0]["on_hand"] == 10 - 3 + 2
        assert api(app, world.b, "read").get(f"{WMS}/returns/{ret['number']}").status_code == 404

    def test_the_operator_registers_a_return_for_the_exporter(self, app, db, world, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 5)
        sold = api(app, exporter).post(f"{WMS}/outbound-orders", json=outbound_body(wh, [("SILK-SCARF-01", 1)]))
        with db.transaction() as s:
            stock.ship_outbound(s, principal=principal_of(exporter), outbound_id=uuid.UUID(sold.json()["id"]),
                                data=ShipIn(carrier="UPS", tracking_no="1Z2"))
        body = {"outbound_number": sold.json()["number"], "lines": [{"sku": "SILK-SCARF-01", "qty": 1}]}
        assert api(app, world.b).post(f"{WMS}/returns", json=body).status_code == 404
        both = api(app, exporter).post(f"{WMS}/returns", json={**body, "outbound_id": sold.json()["id"]})
        assert both.status_code == 422
        r = api(app, world.operator).post(f"{WMS}/returns", json=body)  # a parcel arrived at the warehouse
        assert r.status_code == 201, r.text
        assert r.json()["enterprise_id"] == str(world.a.enterprise.id)  # the goods stay the exporter's
        assert api(app, exporter, "read").get(f"{WMS}/returns/{r.json()['number']}").status_code == 200


# --- inventory, log, age --------------------------------------------------------------------------


class TestInventory:
    def test_exporter_operator_and_stranger(self, app, db, world, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 10)
        receive(db, exporter, world.a.warehouse.id, "SILK-BLOUSE-02", 4)  # a's own warehouse
        mine = api(app, exporter, "read").get(f"{WMS}/inventory").json()
        assert sorted((i["sku"], i["warehouse_code"], i["on_hand"]) for i in mine) == [
            ("SILK-BLOUSE-02", "A-WH-1", 4), ("SILK-SCARF-01", "OPERATOR-WH-1", 10)]
        ops = api(app, world.operator, "read").get(f"{WMS}/inventory").json()
        assert [(i["enterprise_id"], i["sku"], i["warehouse_code"], i["available"]) for i in ops] == [
            (str(world.a.enterprise.id), "SILK-SCARF-01", "OPERATOR-WH-1", 10)]
        assert api(app, world.b, "read").get(f"{WMS}/inventory").json() == []
        narrowed = api(app, exporter, "read").get(f"{WMS}/inventory", params={"warehouse_id": str(wh)}).json()
        assert [i["sku"] for i in narrowed] == ["SILK-SCARF-01"]

    def test_log_is_a_forward_feed_with_since_and_cursor(self, app, db, world, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 10)
        c = api(app, exporter, "read")
        first = c.get(f"{WMS}/inventory/log").json()
        assert [(m["kind"], m["qty"], m["document_type"]) for m in first["items"]] == [("receipt", 10, "inbound")]
        cursor = first["next_cursor"]
        assert c.get(f"{WMS}/inventory/log", params={"cursor": cursor}).json()["items"] == []
        mark = datetime.now(UTC)
        api(app, exporter).post(f"{WMS}/outbound-orders", json=outbound_body(wh, [("SILK-SCARF-01", 2)]))
        receive(db, exporter, world.a.warehouse.id, "SILK-SCARF-01", 1)
        newer = c.get(f"{WMS}/inventory/log", params={"cursor": cursor}).json()
        assert [m["kind"] for m in newer["items"]] == ["allocate", "receipt"]  # oldest first
        paged = c.get(f"{WMS}/inventory/log", params={"cursor": cursor, "limit": 1}).json()
        assert [m["kind"] for m in paged["items"]] == ["allocate"]
        rest = c.get(f"{WMS}/inventory/log", params={"cursor": paged["next_cursor"]}).json()
        assert [m["kind"] for m in rest["items"]] == ["receipt"]
        since = c.get(f"{WMS}/inventory/log", params={"since": mark.isoformat()}).json()
        assert [m["kind"] for m in since["items"]] == ["allocate", "receipt"]
        ops = api(app, world.operator, "read").get(f"{WMS}/inventory/log").json()["items"]
        assert {m["warehouse_id"] for m in ops} == {str(wh)} and len(ops) == 2
        assert {m["enterprise_id"] for m in ops} == {str(world.a.enterprise.id)}
        assert api(app, world.b, "read").get(f"{WMS}/inventory/log").json()["items"] == []
        naive = c.get(f"{WMS}/inventory/log", params={"since": "2026-01-01T00:00:00"})
        assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "since"
        shanghai = mark.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()  # "+08:00" survives the query string
        assert [m["kind"] for m in c.get(f"{WMS}/inventory/log", params={"since": shanghai}).json()["items"]] == [
            "allocate", "receipt"]

    def test_age_buckets_by_lot_receipt(self, app, db, world, exporter, wh):
        receive(db, exporter, wh, "SILK-SCARF-01", 10)
        old = receive(db, exporter, wh, "SILK-SCARF-01", 4)
        receive(db, exporter, world.a.warehouse.id, "SILK-SCARF-01", 1)
        with db.transaction() as s:  # the second lot arrived 100 days ago
            s.execute(update(StockLot).where(StockLot.lot_code == f"{old.number}/1").values(
                received_at=datetime.now(UTC) - timedelta(days=100)))
        body = api(app, exporter, "read").get(f"{WMS}/inventory/age", params={"warehouse_id": str(wh)}).json()
        assert body["as_of"] == datetime.now(UTC).date().isoformat()
        [row] = body["items"]
        assert (row["sku"], row["on_hand"], row["warehouse_code"]) == ("SILK-SCARF-01", 14, "OPERATOR-WH-1")
        assert row["buckets"] == {"0-30": 10, "31-60": 0, "61-90": 0, "91-180": 4, "181-365": 0, ">365": 0}
        ops = api(app, world.operator, "read").get(f"{WMS}/inventory/age").json()["items"]
        assert [(r["enterprise_id"], r["on_hand"]) for r in ops] == [(str(world.a.enterprise.id), 14)]
        assert api(app, world.b, "read").get(f"{WMS}/inventory/age").json()["items"] == []
