"""Stock pages through the browser's HTTP (TestClient), on SQLite and PostgreSQL.

Stock by warehouse and SKU with filters and paging, the SKU's lots in FIFO order, inventory age (the bucket
function and the page), the movement ledger with its running balance, Excel exports, inbound receiving with
discrepancies, outbound allocate → pick → ship → deliver (and a short allocation's 409 as a flash message),
returns with their dispositions, lot actions; the warehouse operator's view and another tenant's ids.
"""

from __future__ import annotations

import html
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from tests.customs.builders import add_products, principal_of
from tests.factories import csrf_from, page_login
from tests.warehouse.stock_builders import declaration_lines, outbound, stock_from_declaration
from tradeloop.audit.models import AuditLog
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse.aging import BUCKETS, age_days
from tradeloop.warehouse.stock_models import (
    InboundLine,
    InboundOrder,
    OutboundOrder,
    ReturnOrder,
    StockLot,
    StockMovement,
)
from tradeloop.warehouse.stock_pages import age_table, bucket_index, bucket_names
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.stock_schemas import InboundCreate, LotAction, ReceiveIn, ReturnCreate, ShipIn

HTML = {"Accept": "text/html"}
SCARF, BLOUSE = "SILK-SCARF-01", "SILK-BLOUSE-02"


def text_of(page: str) -> str:
    """The visible text, roughly: tags dropped, entities decoded, white space collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def browser(client, username: str) -> str:
    """Log in through the form; returns the page CSRF token."""
    client.headers.update(HTML)
    assert page_login(client, username).status_code == 303
    return csrf_from(client.get("/stock").text)


def rows_of(page: str, table_id: str) -> list[str]:
    body = re.search(rf'<table class="data[^"]*" id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S)[1]
    return [r for r in re.findall(r"<tr[^>]*>.*?</tr>", body, re.S) if "muted" not in r.split(">")[0]
            and 'colspan' not in r]


def flashes(page: str) -> str:
    return " ".join(text_of(m) for m in re.findall(r'<div class="flash[^"]*"[^>]*>.*?</div>', page, re.S))


def count(db, model, **where) -> int:
    with db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return s.scalar(stmt)


def lots_of(db, tenant, sku, **filters):
    with db.transaction(write=False) as s:
        return StockRepository(s, principal_of(tenant)).lot_rows(sku=sku, in_stock=False, **filters)


def backdate(db, lot_id, days: int):
    with db.transaction() as s:
        s.execute(update(StockLot).where(StockLot.id == lot_id).values(
            received_at=datetime.now(UTC) - timedelta(days=days)))


def xlsx_rows(response) -> list[tuple]:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return list(load_workbook(io.BytesIO(response.content), read_only=True).active.iter_rows(values_only=True))


@dataclass
class Stocked:
    tenant: object
    wh: uuid.UUID
    older: object  # the scarf lot of the first declaration (30 units, received 40 days ago)
    newer: object  # the scarf lot of the second declaration (50 units)
    blouse: object  # 20 blouses
    declaration_id: uuid.UUID


@pytest.fixture
def exporter(db, world):
    add_products(db, world.a)
    return world.a


@pytest.fixture
def stocked(db, world, exporter) -> Stocked:
    """Exporter a's stock in the operator's warehouse: two scarf lots from two declarations, one blouse lot."""
    wh = world.operator.warehouse.id
    first = declaration_lines(db, world, exporter, logistics_no="SZX-PAGES-1")
    second = declaration_lines(db, world, exporter, logistics_no="SZX-PAGES-2")
    stock_from_declaration(db, exporter, wh, first, {SCARF: 30, BLOUSE: 20})
    stock_from_declaration(db, exporter, wh, second[:1], {SCARF: 50})
    older, newer = lots_of(db, exporter, SCARF)
    [blouse] = lots_of(db, exporter, BLOUSE)
    backdate(db, older.id, 40)
    return Stocked(exporter, wh, older, newer, blouse, older.declaration_id)


# --- inventory age: the pure function -------------------------------------------------------------


class TestAgeBuckets:
    @pytest.mark.parametrize(("days", "bucket"), [
        (0, 0), (30, 0), (31, 1), (60, 1), (61, 2), (90, 2), (91, 3), (180, 3), (181, 4), (365, 4), (366, 5),
        (5000, 5)])
    def test_bucket_edges(self, days, bucket):
        assert bucket_index(days) == bucket

    def test_bucket_names(self):
        assert bucket_names() == ["0-30", "31-60", "61-90", "91-180", "181-365", ">365"]
        assert len(BUCKETS) == 6

    def test_age_is_counted_in_the_users_time_zone(self):
        # 16:30 UTC on 1 January is 00:30 on 2 January in Shanghai: received "today" there.
        received = datetime(2026, 1, 1, 16, 30, tzinfo=UTC)
        assert age_days(received, date(2026, 1, 2), "Asia/Shanghai") == 0
        assert age_days(received, date(2026, 1, 2), "UTC") == 1
        assert age_days(received, date(2025, 12, 31), "UTC") == 0  # a clock ahead never gives a negative age

    def test_age_table_sums_units_per_bucket_and_row(self):
        today, tz = date(2026, 6, 30), "Asia/Shanghai"
        e, w1, w2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

        def lot(sku, wh, days, units):
            # received at local noon ``days`` days before today
            at = datetime(2026, 6, 30, 4, 0, tzinfo=UTC) - timedelta(days=days)
            return SimpleNamespace(enterprise_id=e, warehouse_id=wh, sku=sku, on_hand=units, received_at=at)

        lots = [lot("B", w1, 30, 1), lot("B", w1, 31, 2), lot("B", w1, 365, 4), lot("B", w1, 366, 8),
                lot("A", w2, 0, 16), lot("A", w2, 100, 0), lot("A", w1, 90, 32)]
        rows, totals = age_table(lots, today, tz)
        assert [(r.sku, r.warehouse_id) for r in rows][0][0] == "A"
        by_key = {(r.sku, r.warehouse_id): r.units for r in rows}
        assert by_key[("B", w1)] == [1, 2, 0, 0, 4, 8]
        assert by_key[("A", w2)] == [16, 0, 0, 0, 0, 0]  # the empty lot adds nothing
        assert by_key[("A", w1)] == [0, 0, 32, 0, 0, 0]
        assert totals == [17, 2, 32, 0, 4, 8] and sum(r.total for r in rows) == 63


# --- pages render --------------------------------------------------------------------------------


def page_urls(db, s: Stocked) -> dict[str, str]:
    with db.transaction(write=False) as session:
        repo = StockRepository(session, principal_of(s.tenant))
        inbound = session.scalars(repo.inbounds()).first()
    order = outbound(db, s.tenant, s.wh, [(SCARF, 5)])
    with db.transaction() as session:
        ret = stock.create_return(session, principal=principal_of(s.tenant), data=ReturnCreate(
            warehouse_id=s.wh, lines=[{"sku": SCARF, "qty": 1}]))
    return {"stock": "/stock", "age": "/stock/age", "sku": f"/stock/lots?sku={SCARF}",
            "lot": f"/stock/lots/{s.older.id}", "lot-ledger": f"/stock/movements?lot={s.older.id}",
            "sku-ledger": f"/stock/movements?sku={SCARF}&warehouse={s.wh}", "ledger": "/stock/movements",
            "inbound": "/stock/inbound", "inbound-detail": f"/stock/inbound/{inbound.id}",
            "outbound": "/stock/outbound", "outbound-detail": f"/stock/outbound/{order.id}",
            "returns": "/stock/returns", "return-detail": f"/stock/returns/{ret.id}"}


class TestPagesRender:
    ZH = {"stock": "可用", "age": "库龄", "sku": "先进先出", "lot": "批次库存变更", "lot-ledger": "变动后在库",
          "sku-ledger": "入库收货", "ledger": "库存流水", "inbound": "入库单号", "inbound-detail": "已收货",
          "outbound": "出库单号", "outbound-detail": "按批次分配", "returns": "退货单号", "return-detail": "待退货"}
    EN = {"stock": "Available", "age": "Inventory age", "sku": "FIFO", "lot": "Change this lot",
          "lot-ledger": "On hand after", "sku-ledger": "Inbound receipt", "ledger": "Movement history",
          "inbound": "Inbound no.", "inbound-detail": "Received (closed)", "outbound": "Outbound no.",
          "outbound-detail": "Allocations by lot", "returns": "Return no.", "return-detail": "Awaiting return"}

    def test_every_page_in_chinese_and_english(self, client, db, stocked):
        urls = page_urls(db, stocked)
        browser(client, stocked.tenant.users["admin"])
        for key, url in urls.items():
            page = client.get(url)
            assert page.status_code == 200, (url, page.text[:500])
            assert 'lang="zh-CN"' in page.text and self.ZH[key] in text_of(page.text), (key, url)
            assert 'data-nav="stock"' in page.text and 'class="active ' in page.text
            assert 'id="stock-tabs"' in page.text
        client.get("/lang/en")
        for key, url in urls.items():
            page = client.get(url)
            assert page.status_code == 200, url
            assert 'lang="en"' in page.text and self.EN[key] in text_of(page.text), (key, url)

    def test_nav_item_is_live(self, client, stocked):
        browser(client, stocked.tenant.users["viewer"])
        page = client.get("/")
        assert 'href="/stock"' in page.text and "/m/stock" not in page.text
        assert client.get("/m/stock").status_code == 404


# --- stock list, SKU drill-down ------------------------------------------------------------------


class TestStockList:
    def test_balances_per_sku_and_warehouse(self, client, db, stocked):
        browser(client, stocked.tenant.users["viewer"])
        page = client.get("/stock")
        rows = rows_of(page.text, "stock")
        assert len(rows) == 2
        scarf = text_of(next(r for r in rows if f'data-sku="{SCARF}"' in r))
        assert "80" in scarf and "2" in scarf and "40" in scarf  # 80 on hand, 2 lots, the oldest 40 days old
        totals = text_of(re.search(r'<tr id="stock-totals">.*?</tr>', page.text, re.S)[0])
        assert "100" in totals
        assert "货主" not in page.text  # an exporter's own stock: no owner column

    def test_filters_sorting_and_paging(self, client, db, world, stocked):
        p = principal_of(stocked.tenant)
        with db.transaction() as s:
            order = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=stocked.wh, lines=[
                {"sku": f"BULK-{n:02d}", "expected_qty": n + 1} for n in range(23)]))
            stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(close=True, lines=[
                {"line_no": n + 1, "received_qty": n + 1} for n in range(23)]))
        browser(client, stocked.tenant.users["viewer"])
        first = client.get("/stock")
        assert len(rows_of(first.text, "stock")) == 20 and 'data-page="next"' in first.text
        assert "共 25 行" in text_of(first.text)
        second = client.get("/stock", params={"page": 2})
        assert len(rows_of(second.text, "stock")) == 5
        # Totals cover every page, not just the one shown.
        totals = text_of(re.search(r'<tr id="stock-totals">.*?</tr>', second.text, re.S)[0])
        assert f"{100 + sum(range(1, 24))}" in totals
        assert len(rows_of(client.get("/stock", params={"q": "bulk-1"}).text, "stock")) == 10
        assert len(rows_of(client.get("/stock", params={"q": "silk"}).text, "stock")) == 2
        by_available = rows_of(client.get("/stock", params={"sort": "available", "desc": 1}).text, "stock")
        assert f'data-sku="{SCARF}"' in by_available[0] and 'data-sku="BULK-22"' in by_available[1]
        other = client.get("/stock", params={"warehouse": str(world.a.warehouse.id)})
        assert rows_of(other.text, "stock") == []
        assert client.get("/stock", params={"warehouse": "nonsense", "page": "x", "sort": "x"}).status_code == 200

    def test_sku_lots_in_fifo_order_with_declaration_links(self, client, db, stocked):
        browser(client, stocked.tenant.users["viewer"])
        page = client.get("/stock/lots", params={"sku": SCARF})
        rows = rows_of(page.text, "lots")
        assert [re.search(r'data-lot="([^"]+)"', r)[1] for r in rows] == [str(stocked.older.id), str(stocked.newer.id)]
        assert stocked.older.lot_code in rows[0] and f"/customs/{stocked.declaration_id}" in rows[0]
        assert "40" in text_of(rows[0])  # age in days
        assert "/stock/lots/" in rows[0] and "#lot-action" not in rows[0]  # a viewer gets no action link
        assert re.search(r'data-total="on_hand">80<', page.text) and re.search(r'data-total="available">80<', page.text)
        assert client.get("/stock/lots", follow_redirects=False).status_code == 303  # no SKU: back to the list


# --- inventory age page ---------------------------------------------------------------------------


class TestAgePage:
    def test_buckets_chart_and_totals(self, client, db, stocked):
        backdate(db, stocked.blouse.id, 400)
        browser(client, stocked.tenant.users["viewer"])
        page = client.get("/stock/age")
        assert "echarts.min.js" in page.text and 'id="chart-age"' in page.text
        rows = rows_of(page.text, "age")
        scarf = [c for c in re.findall(r'<td class="num[^"]*">(.*?)</td>', next(r for r in rows if SCARF in r))]
        assert [text_of(c).strip() for c in scarf] == ["50", "30", "–", "–", "–", "–", "80"]
        blouse = [text_of(c).strip() for c in re.findall(r'<td class="num[^"]*">(.*?)</td>',
                                                         next(r for r in rows if BLOUSE in r))]
        assert blouse[-2:] == ["20", "20"]
        totals = [text_of(c).strip() for c in re.findall(r'<th class="num">(.*?)</th>', re.search(
            r'<tr id="age-totals">.*?</tr>', page.text, re.S)[0])]
        assert totals == ["50", "30", "0", "0", "0", "20", "100"]
        chart = re.search(r"var data = (\{.*?\});", page.text, re.S)[1]
        assert '"stack": "age"' in chart and SCARF in chart
        assert len(rows_of(client.get("/stock/age", params={"q": "blouse"}).text, "age")) == 1


# --- movement ledger ------------------------------------------------------------------------------


class TestMovements:
    def test_running_balance_continues_across_pages(self, client, db, stocked):
        p = principal_of(stocked.tenant)
        for n in range(22):
            with db.transaction() as s:
                stock.lot_action(s, principal=p, lot_id=stocked.newer.id, data=LotAction(
                    kind="adjust", qty=1 if n % 2 == 0 else -1, reason=f"盘点 {n}"))
        browser(client, stocked.tenant.users["viewer"])
        first = client.get("/stock/movements", params={"lot": str(stocked.newer.id), "per_page": 20})
        rows = rows_of(first.text, "movements")
        assert len(rows) == 20 and 'data-kind="receipt"' in rows[0] and "入库收货" in rows[0]
        balances = [int(text_of(b).replace(",", "")) for b in re.findall(r"<strong>(.*?)</strong>", "".join(rows))]
        assert balances[:4] == [50, 51, 50, 51]
        second = client.get("/stock/movements", params={"lot": str(stocked.newer.id), "per_page": 20, "page": 2})
        carried = text_of(re.search(r'<tr class="muted" id="carried">.*?</tr>', second.text, re.S)[0])
        assert "51" in carried  # after 1 receipt + 19 adjustments (+1 −1 …)
        more = rows_of(second.text, "movements")
        assert len(more) == 3
        assert [int(text_of(b)) for b in re.findall(r"<strong>(.*?)</strong>", "".join(more))] == [50, 51, 50]
        assert "盘点 21" in text_of(more[-1]) and stocked.tenant.enterprise.id  # the reason is shown

    def test_sku_ledger_with_documents(self, client, db, stocked):
        order = outbound(db, stocked.tenant, stocked.wh, [(SCARF, 35)])
        with db.transaction() as s:
            stock.ship_outbound(s, principal=principal_of(stocked.tenant), outbound_id=order.id,
                                data=ShipIn(carrier="UPS", tracking_no="1Z1"))
        browser(client, stocked.tenant.users["viewer"])
        page = client.get("/stock/movements", params={"sku": SCARF, "warehouse": str(stocked.wh)})
        rows = rows_of(page.text, "movements")
        kinds = [re.search(r'data-kind="([^"]+)"', r)[1] for r in rows]
        assert kinds == ["receipt", "receipt", "allocate", "allocate", "outbound", "outbound"]
        assert f"/stock/outbound/{order.id}" in rows[-1] and order.number in rows[-1]
        balances = [int(text_of(b)) for b in re.findall(r"<strong>(.*?)</strong>", "".join(rows))]
        assert balances == [30, 80, 80, 80, 50, 45]


# --- exports --------------------------------------------------------------------------------------


class TestExports:
    def test_stock_age_and_ledger_workbooks(self, client, db, stocked):
        browser(client, stocked.tenant.users["viewer"])
        rows = xlsx_rows(client.get("/stock.xlsx"))
        assert rows[0][0] == "SKU" and rows[0][4] == "在库数量"
        scarf = next(r for r in rows[1:] if r[0] == SCARF)
        assert scarf[4:8] == (80, 0, 80, 2) and isinstance(scarf[4], int)
        assert scarf[1] == "OPERATOR-WH-1" and scarf[9] == 40
        assert len(rows) == 3

        age = xlsx_rows(client.get("/stock/age.xlsx"))
        assert age[0][4] == "0-30 天" and age[0][-1] == "合计"
        scarf = next(r for r in age[1:] if r[0] == SCARF)
        assert scarf[4:] == (50, 30, 0, 0, 0, 0, 80)
        assert age[-1][0] == "合计" and age[-1][4:] == (70, 30, 0, 0, 0, 0, 100)

        ledger = xlsx_rows(client.get("/stock/movements.xlsx", params={"lot": str(stocked.older.id)}))
        assert ledger[0][0] == "时间" and len(ledger) == 2
        assert ledger[1][1] == SCARF and ledger[1][3] == stocked.older.lot_code and ledger[1][4] == "入库收货"
        assert ledger[1][5:9] == (30, 30, 0, 30)

    def test_filters_apply_to_the_export(self, client, db, stocked):
        browser(client, stocked.tenant.users["viewer"])
        rows = xlsx_rows(client.get("/stock.xlsx", params={"q": "blouse"}))
        assert [r[0] for r in rows[1:]] == [BLOUSE]


# --- inbound receiving ----------------------------------------------------------------------------


class TestReceiveForm:
    def test_discrepancy_needs_a_reason_then_closes(self, client, db, world, exporter):
        [line, _blouse] = declaration_lines(db, world, exporter)
        with db.transaction() as s:
            order = stock.create_inbound(s, principal=principal_of(exporter), data=InboundCreate(
                warehouse_id=world.operator.warehouse.id, lines=[{"declaration_line_id": line.id,
                                                                  "expected_qty": 10}]))
        token = browser(client, exporter.users["operator"])
        page = client.get(f"/stock/inbound/{order.id}")
        assert 'id="receive-form"' in page.text and 'name="lines-0-received_qty"' in page.text

        audits = count(db, AuditLog)
        bad = client.post(f"/stock/inbound/{order.id}/receive", data={
            "csrf_token": token, "lines-0-received_qty": "8", "lines-0-damaged_qty": "1", "close": "1"})
        assert bad.status_code == 422
        assert 'data-error-for="lines-0-reason"' in bad.text and "短少、溢收或破损须填写原因" in bad.text
        assert 'value="8"' in bad.text and "checked" in bad.text  # what was typed comes back
        assert count(db, StockMovement) == 0 and count(db, AuditLog) == audits  # nothing half-applied

        typo = client.post(f"/stock/inbound/{order.id}/receive", data={"csrf_token": token,
                                                                       "lines-0-received_qty": "-2"})
        assert typo.status_code == 422 and 'data-error-for="lines-0-received_qty"' in typo.text

        partial = client.post(f"/stock/inbound/{order.id}/receive", data={
            "csrf_token": token, "lines-0-received_qty": "5"}, follow_redirects=False)
        assert partial.status_code == 303
        assert "收货中" in client.get(f"/stock/inbound/{order.id}").text

        done = client.post(f"/stock/inbound/{order.id}/receive", data={
            "csrf_token": token, "lines-0-received_qty": "3", "lines-0-damaged_qty": "1",
            "lines-0-reason": "外箱破损一件，短少一件", "close": "on"})
        assert done.status_code == 200 and "已收货并关闭" in flashes(done.text)
        assert 'data-status="received"' in done.text and 'id="receive-form"' not in done.text
        row = text_of(re.search(r'<tr data-line="1".*?</tr>', done.text, re.S)[0])
        assert "外箱破损一件" in row
        with db.transaction(write=False) as s:
            li = s.scalar(select(InboundLine).where(InboundLine.inbound_id == order.id))
            assert (li.received_qty, li.damaged_qty, li.short_qty) == (8, 1, 1)
        assert sum(lot.on_hand for lot in lots_of(db, exporter, SCARF)) == 8

    def test_list_with_status_chips(self, client, db, stocked):
        browser(client, stocked.tenant.users["viewer"])
        page = client.get("/stock/inbound")
        assert len(rows_of(page.text, "inbound")) == 2 and "已收货" in page.text
        assert len(rows_of(client.get("/stock/inbound", params={"status": "expected"}).text, "inbound")) == 0


# --- outbound ------------------------------------------------------------------------------------


class TestOutboundPages:
    def test_allocate_pick_ship_deliver_through_the_pages(self, client, db, stocked):
        order = outbound(db, stocked.tenant, stocked.wh, [(SCARF, 40)], allocate=False, reference="AMZ-111")
        token = browser(client, stocked.tenant.users["operator"])
        page = client.get(f"/stock/outbound/{order.id}")
        assert 'data-action="allocate"' in page.text and 'data-action="ship"' not in page.text

        r = client.post(f"/stock/outbound/{order.id}/allocate", data={"csrf_token": token})
        assert r.status_code == 200 and "已按先进先出分配库存" in flashes(r.text)
        allocations = re.findall(r'<tr data-lot="([^"]+)" data-state="allocated">', r.text)
        assert allocations == [str(stocked.older.id), str(stocked.newer.id)]  # oldest lot first
        alloc = text_of(re.search(r'<section id="allocations">.*?</section>', r.text, re.S)[0])
        assert "30" in alloc and "10" in alloc and stocked.older.lot_code in alloc
        assert f"/customs/{stocked.declaration_id}" in r.text

        r = client.post(f"/stock/outbound/{order.id}/pick", data={"csrf_token": token})
        assert 'data-status="picked"' in r.text
        r = client.post(f"/stock/outbound/{order.id}/ship", data={"csrf_token": token, "carrier": "",
                                                                  "tracking_no": "1Z"})
        assert "承运商：为必填项" in flashes(r.text) and 'data-status="picked"' in r.text
        r = client.post(f"/stock/outbound/{order.id}/ship", data={"csrf_token": token, "carrier": "UPS",
                                                                  "tracking_no": "1Z999AA10123456784"})
        assert 'data-status="shipped"' in r.text and "1Z999AA10123456784" in r.text
        assert 'data-state="shipped"' in r.text
        r = client.post(f"/stock/outbound/{order.id}/deliver", data={"csrf_token": token})
        assert 'data-status="delivered"' in r.text and 'id="actions"' not in r.text
        older, newer = lots_of(db, stocked.tenant, SCARF)
        assert (older.on_hand, newer.on_hand, newer.allocated) == (0, 40, 0)

        listed = client.get("/stock/outbound", params={"status": "delivered"})
        assert len(rows_of(listed.text, "outbound")) == 1 and "AMZ-111" in listed.text
        assert len(rows_of(client.get("/stock/outbound", params={"q": "1Z999"}).text, "outbound")) == 1
        assert len(rows_of(client.get("/stock/outbound", params={"status": "created"}).text, "outbound")) == 0

    def test_short_allocation_shows_the_409_reason(self, client, db, stocked):
        order = outbound(db, stocked.tenant, stocked.wh, [(BLOUSE, 5), (SCARF, 81)], allocate=False)
        token = browser(client, stocked.tenant.users["admin"])
        r = client.post(f"/stock/outbound/{order.id}/allocate", data={"csrf_token": token})
        assert r.status_code == 200
        assert f"{SCARF} 可用库存不足：需要 81，可用 80" in flashes(r.text)
        assert 'class="flash error"' in r.text and 'data-status="created"' in r.text
        assert all(lot.allocated == 0 for lot in lots_of(db, stocked.tenant, BLOUSE))  # nothing half-applied
        client.get("/lang/en")
        r = client.post(f"/stock/outbound/{order.id}/allocate", data={"csrf_token": token})
        assert "Not enough SILK-SCARF-01 in stock: 81 wanted, 80 available." in flashes(r.text)

    def test_cancel_needs_a_reason_and_releases(self, client, db, stocked):
        order = outbound(db, stocked.tenant, stocked.wh, [(SCARF, 12)])
        token = browser(client, stocked.tenant.users["admin"])
        r = client.post(f"/stock/outbound/{order.id}/cancel", data={"csrf_token": token, "reason": ""})
        assert "原因：为必填项" in flashes(r.text) and 'data-status="allocated"' in r.text
        r = client.post(f"/stock/outbound/{order.id}/cancel", data={"csrf_token": token, "reason": "买家取消"})
        assert 'data-status="cancelled"' in r.text and "买家取消" in r.text
        assert all(lot.allocated == 0 for lot in lots_of(db, stocked.tenant, SCARF))


# --- returns --------------------------------------------------------------------------------------


class TestReturnPages:
    def test_receive_and_inspect_with_dispositions(self, client, db, stocked):
        p = principal_of(stocked.tenant)
        order = outbound(db, stocked.tenant, stocked.wh, [(SCARF, 6)])
        with db.transaction() as s:
            stock.ship_outbound(s, principal=p, outbound_id=order.id, data=ShipIn(carrier="DHL", tracking_no="JD1"))
            ret = stock.create_return(s, principal=p, data=ReturnCreate(outbound_id=order.id, reason="尺码不合", lines=[
                {"sku": SCARF, "qty": 2}]))
        token = browser(client, stocked.tenant.users["operator"])
        page = client.get(f"/stock/returns/{ret.id}")
        assert 'data-action="receive"' in page.text and order.number in page.text
        r = client.post(f"/stock/returns/{ret.id}/receive", data={"csrf_token": token})
        assert 'data-status="received"' in r.text and 'id="inspect-form"' in r.text
        assert "重新上架" in r.text and "销毁" in r.text and "退运回国" in r.text

        bad = client.post(f"/stock/returns/{ret.id}/inspect", data={"csrf_token": token,
                                                                    "lines-0-disposition": ""})
        assert bad.status_code == 422 and 'data-error-for="lines-0-disposition"' in bad.text
        before = lots_of(db, stocked.tenant, SCARF)[0].on_hand
        ok = client.post(f"/stock/returns/{ret.id}/inspect", data={
            "csrf_token": token, "lines-0-disposition": "restock", "lines-0-condition": "完好"})
        assert 'data-status="closed"' in ok.text and "完好" in ok.text
        assert lots_of(db, stocked.tenant, SCARF)[0].on_hand == before + 2
        assert len(rows_of(client.get("/stock/returns", params={"status": "closed"}).text, "returns")) == 1


# --- lot actions ----------------------------------------------------------------------------------


class TestLotActions:
    def test_adjust_dispose_count_and_transfer(self, client, db, world, stocked):
        token = browser(client, stocked.tenant.users["operator"])
        url = f"/stock/lots/{stocked.newer.id}"
        page = client.get(url)
        assert 'id="lot-action-form"' in page.text and "退运" in page.text
        assert str(world.a.warehouse.id) in page.text  # a transfer target
        assert f'value="{stocked.wh}"' not in re.search(r'name="to_warehouse_id".*?</select>', page.text, re.S)[0]

        missing = client.post(f"{url}/actions", data={"csrf_token": token, "kind": "adjust", "qty": "5"})
        assert missing.status_code == 422 and 'data-error-for="reason"' in missing.text
        r = client.post(f"{url}/actions", data={"csrf_token": token, "kind": "adjust", "qty": "+5", "reason": "盘点"},
                        follow_redirects=False)
        assert r.status_code == 303
        assert lots_of(db, stocked.tenant, SCARF)[1].on_hand == 55
        too_many = client.post(f"{url}/actions", data={"csrf_token": token, "kind": "dispose", "qty": "56",
                                                       "reason": "水渍"})
        assert too_many.status_code == 422 and "库存不足" in too_many.text
        counted = client.post(f"{url}/actions", data={"csrf_token": token, "kind": "count", "qty": "52",
                                                      "reason": "月度盘点"})
        assert counted.status_code == 200 and "盘点" in flashes(counted.text)
        no_target = client.post(f"{url}/actions", data={"csrf_token": token, "kind": "transfer", "qty": "2",
                                                        "reason": "调仓", "to_warehouse_id": ""})
        assert no_target.status_code == 422 and 'data-error-for="to_warehouse_id"' in no_target.text
        moved = client.post(f"{url}/actions", data={"csrf_token": token, "kind": "transfer", "qty": "2",
                                                    "reason": "调仓", "to_warehouse_id": str(world.a.warehouse.id)})
        assert moved.status_code == 200
        assert lots_of(db, stocked.tenant, SCARF, warehouse_id=world.a.warehouse.id)[0].on_hand == 2
        ledger = client.get("/stock/movements", params={"lot": str(stocked.newer.id)}).text
        kinds = re.findall(r'data-kind="([^"]+)"', ledger)
        assert kinds == ["receipt", "adjust_in", "count_loss", "transfer_out"]
        assert "月度盘点" in ledger and "盘亏" in ledger


    def test_operator_transfers_only_into_warehouses_the_exporter_uses(self, client, db, world, stocked):
        from dataclasses import replace

        from tests.factories import make_warehouse
        from tradeloop.kit.tenancy import system_principal
        from tradeloop.warehouse import service as warehouses
        from tradeloop.warehouse.schemas import ClientCreate

        with db.transaction() as s:
            unused = make_warehouse(s, world.operator.enterprise, code="OP-WH-2")
            used = make_warehouse(s, world.operator.enterprise, code="OP-WH-3")
            warehouses.add_client(s, principal=replace(system_principal(), enterprise_id=world.operator.enterprise.id),
                                  warehouse_id=used.id, data=ClientCreate(client_uscc=stocked.tenant.enterprise.uscc))
        token = browser(client, world.operator.users["warehouse_operator"])
        url = f"/stock/lots/{stocked.newer.id}"
        options = re.search(r'name="to_warehouse_id".*?</select>', client.get(url).text, re.S)[0]
        assert str(used.id) in options and str(unused.id) not in options and str(stocked.wh) not in options
        assert str(world.a.warehouse.id) not in options  # the exporter's own: not the operator's to offer
        r = client.post(f"{url}/actions", data={"csrf_token": token, "kind": "transfer", "qty": "7",
                                                "reason": "分仓", "to_warehouse_id": str(used.id)})
        assert r.status_code == 200 and "已调拨" in flashes(r.text)
        [moved] = lots_of(db, stocked.tenant, SCARF, warehouse_id=used.id)
        assert moved.on_hand == 7 and moved.received_at == stocked.newer.received_at  # its age goes with it


# --- roles and tenants ----------------------------------------------------------------------------


class TestWhoSeesWhat:
    def test_operator_sees_only_the_stock_in_its_warehouses(self, client, db, world, stocked):
        p = principal_of(stocked.tenant)
        with db.transaction() as s:  # exporter a's stock in its own warehouse: not the operator's business
            order = stock.create_inbound(s, principal=p, data=InboundCreate(
                warehouse_id=world.a.warehouse.id, lines=[{"sku": "OWN-WH", "expected_qty": 3}]))
            stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(close=True, lines=[
                {"line_no": 1, "received_qty": 3}]))
        browser(client, world.operator.users["warehouse_operator"])
        page = client.get("/stock")
        rows = rows_of(page.text, "stock")
        assert len(rows) == 2 and "OWN-WH" not in page.text
        assert "货主" in page.text and "甲企业" in page.text  # the owner of the stock
        lots = client.get("/stock/lots", params={"sku": SCARF, "owner": str(stocked.tenant.enterprise.id)})
        assert len(rows_of(lots.text, "lots")) == 2
        assert f"/customs/{stocked.declaration_id}" not in lots.text and "货主已申报" in lots.text
        assert client.get(f"/stock/inbound/{order.id}").status_code == 404
        assert len(rows_of(client.get("/stock/inbound").text, "inbound")) == 2
        assert "OWN-WH" not in str(xlsx_rows(client.get("/stock.xlsx")))

    def test_operator_receives_and_ships(self, client, db, world, stocked):
        with db.transaction() as s:
            inbound = stock.create_inbound(s, principal=principal_of(stocked.tenant), data=InboundCreate(
                warehouse_id=stocked.wh, lines=[{"sku": "NEW-SKU", "expected_qty": 4}]))
        order = outbound(db, stocked.tenant, stocked.wh, [(BLOUSE, 3)])
        token = browser(client, world.operator.users["warehouse_operator"])
        r = client.post(f"/stock/inbound/{inbound.id}/receive", data={"csrf_token": token,
                                                                      "lines-0-received_qty": "4", "close": "1"})
        assert r.status_code == 200 and 'data-status="received"' in r.text
        r = client.post(f"/stock/outbound/{order.id}/ship", data={"csrf_token": token, "carrier": "FedEx",
                                                                  "tracking_no": "7777"})
        assert 'data-status="shipped"' in r.text
        with db.transaction(write=False) as s:
            assert s.get(OutboundOrder, (stocked.tenant.enterprise.id, order.id)).carrier == "FedEx"
            assert s.get(InboundOrder, (stocked.tenant.enterprise.id, inbound.id)).status == "received"

    def test_viewer_sees_no_buttons_and_gets_403(self, client, db, stocked):
        order = outbound(db, stocked.tenant, stocked.wh, [(SCARF, 1)], allocate=False)
        with db.transaction(write=False) as s:
            inbound = s.scalars(StockRepository(s, principal_of(stocked.tenant)).inbounds()).first()
        token = browser(client, stocked.tenant.users["viewer"])
        detail = client.get(f"/stock/outbound/{order.id}").text
        assert 'data-action="allocate"' not in detail and 'id="cancel-form"' not in detail
        assert 'id="lot-action-form"' not in client.get(f"/stock/lots/{stocked.older.id}").text
        assert 'id="receive-form"' not in client.get(f"/stock/inbound/{inbound.id}").text
        audits = count(db, AuditLog)
        for url, data in ((f"/stock/outbound/{order.id}/allocate", {}),
                          (f"/stock/outbound/{order.id}/cancel", {"reason": "x"}),
                          (f"/stock/lots/{stocked.older.id}/actions", {"kind": "adjust", "qty": "1", "reason": "x"}),
                          (f"/stock/inbound/{inbound.id}/receive", {"lines-0-received_qty": "1"})):
            r = client.post(url, data={"csrf_token": token, **data}, follow_redirects=False)
            assert r.status_code == 403, (url, r.status_code)
        assert count(db, AuditLog) == audits

    def test_another_tenant_gets_404_and_an_empty_list(self, client, db, world, stocked):
        order = outbound(db, stocked.tenant, stocked.wh, [(SCARF, 1)])
        with db.transaction() as s:
            ret = stock.create_return(s, principal=principal_of(stocked.tenant), data=ReturnCreate(
                warehouse_id=stocked.wh, lines=[{"sku": SCARF, "qty": 1}]))
            inbound = s.scalars(StockRepository(s, principal_of(stocked.tenant)).inbounds()).first()
        token = browser(client, world.b.users["admin"])
        for url in (f"/stock/lots/{stocked.older.id}", f"/stock/movements?lot={stocked.older.id}",
                    f"/stock/inbound/{inbound.id}", f"/stock/outbound/{order.id}", f"/stock/returns/{ret.id}"):
            r = client.get(url)
            assert r.status_code == 404, url
            assert stocked.older.lot_code not in r.text and SCARF not in r.text
        for url in (f"/stock/outbound/{order.id}/cancel", f"/stock/returns/{ret.id}/receive",
                    f"/stock/lots/{stocked.older.id}/actions"):
            assert client.post(url, data={"csrf_token": token, "reason": "x", "kind": "adjust", "qty": "1"},
                               follow_redirects=False).status_code == 404
        for url in ("/stock", "/stock/age", f"/stock/lots?sku={SCARF}", f"/stock/movements?sku={SCARF}",
                    "/stock/inbound", "/stock/outbound", "/stock/returns"):
            page = client.get(url)
            assert page.status_code == 200 and stocked.older.lot_code not in page.text, url
            assert order.number not in page.text and ret.number not in page.text
        assert count(db, ReturnOrder, status="expected") == 1
