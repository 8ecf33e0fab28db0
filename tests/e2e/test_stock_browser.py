"""Stock pages in a real browser (headless Debian Chromium driven by Playwright).

The demo's silk maker receives the goods of its closed 9810 declarations into the operator's warehouses
(plus some opening stock without a declaration), with lots of different ages; an outbound order takes
its units from two lots, oldest first. The tests look at the stock list, the inventory-age chart and the
outbound order (shipping it through its form), and save screenshots in ``test-artifacts/``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest

from .conftest import DEMO_PASSWORD, REPO_ROOT

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under CI=true) with a clear message
    expect = None

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def demo_db(live_server):
    from tradeloop.config import load_settings
    from tradeloop.kit.db import Database

    settings = load_settings(live_server.stderr_path.parent / "data", database_url=None, exchange_dir=None)
    db = Database.from_url(settings.resolved_database_url)
    yield db
    db.dispose()


@dataclass
class DemoStock:
    outbound_id: str
    outbound_number: str
    lots_in_order: list[str]  # lot codes the outbound order takes, oldest first
    inbound_id: str  # an advance shipping notice the warehouse has not received yet
    # what the demo year leaves, read from the database (the demo's numbers change with its date):
    scarf_us_on_hand: int  # SC-MUL-90 on hand at US-ONT-1
    scarf_us_available: int  # less what is allocated (the demo's open sales and the order below)
    scarf_us_lots: int  # its lots with units on hand
    scarf_us_31_60: int  # its units received 31–60 days ago
    allocation_qtys: list[int]  # the outbound order's allocations, as its page lists them


@pytest.fixture(scope="module")
def demo_stock(demo_db) -> DemoStock:
    """Receipts against the demo's declarations (as the warehouse would record them), lots of several
    ages, and an outbound order allocated across two lots."""
    from sqlalchemy import select, update

    from tradeloop.customs.models import Declaration
    from tradeloop.customs.repository import DeclarationRepository
    from tradeloop.demo import SILK_USCC
    from tradeloop.enterprises.models import Enterprise
    from tradeloop.kit.tenancy import system_principal
    from tradeloop.warehouse import stock_service as stock
    from tradeloop.warehouse.models import Warehouse
    from tradeloop.warehouse.stock_models import StockLot
    from tradeloop.warehouse.stock_repository import StockRepository
    from tradeloop.warehouse.stock_schemas import InboundCreate, OutboundCreate, ReceiveIn

    now = datetime.now(UTC)
    with demo_db.transaction() as s:
        silk = s.scalar(select(Enterprise).where(Enterprise.uscc == SILK_USCC))
        p = replace(system_principal(label="e2e:wh-ops"), enterprise_id=silk.id)
        houses = {w.code: w.id for w in s.scalars(select(Warehouse))}
        repo = DeclarationRepository(s, p)
        decls = list(s.scalars(select(Declaration).where(Declaration.enterprise_id == silk.id,
                                                         Declaration.invt_no.is_not(None))
                               .order_by(Declaration.logistics_no)))

        def receive(warehouse_code: str, lines: list[dict], age_days: int) -> None:
            order = stock.create_inbound(s, principal=p, data=InboundCreate(
                warehouse_id=houses[warehouse_code], reference=f"E2E-{warehouse_code}-{age_days}", lines=lines))
            stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(close=True, lines=[
                {"line_no": i + 1, "received_qty": li["expected_qty"]} for i, li in enumerate(lines)]))
            s.execute(update(StockLot).where(StockLot.enterprise_id == silk.id, StockLot.id.in_(
                [li.lot_id for li in StockRepository(s, p).inbound_lines(order)])).values(
                received_at=now - timedelta(days=age_days)))

        receive("US-ONT-1", [{"sku": "SC-MUL-90", "lot_code": "OPENING-2024", "expected_qty": 150}], 400)
        stock_repo = StockRepository(s, p)
        for decl, where, age in zip(decls, ("US-ONT-1", "US-ONT-1", "DE-HAM-1"), (45, 100, 12), strict=False):
            # the demo has already received part of its first shipment: receive what is still expected
            lines = [(li, int(li.qty) - stock_repo.expected_for(li.id)) for li in repo.lines(decl.id)]
            lines = [{"declaration_line_id": li.id, "expected_qty": left} for li, left in lines if left > 0]
            if lines:
                receive(where, lines, age)
        receive("DE-HAM-1", [{"sku": "PC-22MM", "lot_code": "OPENING-DE", "expected_qty": 60}], 200)
        s.execute(update(StockLot).where(StockLot.enterprise_id == silk.id, StockLot.declaration_id == decls[0].id)
                  .values(received_at=now - timedelta(days=45)))  # the lot the demo itself received

        order = stock.create_outbound(s, principal=p, data=OutboundCreate(
            warehouse_id=houses["US-ONT-1"], reference="AMZ-113-4471023-6612345", allocate=True,
            ship_to={"name": "Emily Johnson", "country": "US", "address": "742 Evergreen Terrace, Springfield, OR",
                     "postcode": "97403"},
            lines=[{"sku": "SC-MUL-90", "qty": 250}, {"sku": "PC-22MM", "qty": 12}]))
        allocs = StockRepository(s, p).allocations(order)
        lots = StockRepository(s, p).lots_by_ids(a.lot_id for a in allocs)
        codes = [lots[a.lot_id].lot_code for a in allocs if lots[a.lot_id].sku == "SC-MUL-90"]
        asn = stock.create_inbound(s, principal=p, data=InboundCreate(
            warehouse_id=houses["US-ONT-1"], reference="HBL-E2E-7", lines=[
                {"sku": "BL-CREPE-M", "lot_code": "ASN-E2E/1", "expected_qty": 50},
                {"sku": "SC-MUL-90", "lot_code": "ASN-E2E/2", "expected_qty": 100}]))
        from tradeloop.warehouse.aging import age_days

        line_no = {li.id: li.line_no for li in StockRepository(s, p).outbound_lines(order)}
        scarf = [lot for lot in s.scalars(select(StockLot).where(
            StockLot.enterprise_id == silk.id, StockLot.warehouse_id == houses["US-ONT-1"],
            StockLot.sku == "SC-MUL-90", StockLot.on_hand > 0))]
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        return DemoStock(str(order.id), order.number, codes, str(asn.id),
                         scarf_us_on_hand=sum(lot.on_hand for lot in scarf), scarf_us_lots=len(scarf),
                         scarf_us_available=sum(lot.on_hand - lot.allocated for lot in scarf),
                         scarf_us_31_60=sum(lot.on_hand for lot in scarf
                                            if 31 <= age_days(lot.received_at, today, "Asia/Shanghai") <= 60),
                         allocation_qtys=[a.qty for a in sorted(allocs, key=lambda a: (
                             line_no[a.line_id], lots[a.lot_id].received_at, a.id))])


def _logged_in(browser, live_server, username: str):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900},
                                  locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")
    assert urlparse(page.url).path != "/login"
    return context, page


@pytest.fixture(scope="module")
def silk_page(browser, live_server, demo_stock):
    context, page = _logged_in(browser, live_server, "silk-admin")
    yield page
    context.close()


@pytest.fixture(scope="module")
def warehouse_page(browser, live_server, demo_stock):
    """The operator's warehouse staff (role warehouse_operator)."""
    context, page = _logged_in(browser, live_server, "wh-ops")
    yield page
    context.close()


def shoot(page, name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.unlink(missing_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky sidebar is drawn where the page is scrolled to
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, f"{path} looks blank"
    return path


def no_horizontal_overflow(page):
    """The page never scrolls sideways (wide tables scroll inside their own box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


class TestStockPages:
    def test_stock_list_and_sku_lots(self, silk_page, demo_stock):
        page = silk_page
        with page.expect_navigation():
            page.click("aside.sidebar [data-nav=stock]")
        assert urlparse(page.url).path == "/stock"
        expect(page.locator("main h2")).to_have_text("库存")
        expect(page.locator("#stock-tabs a.current")).to_have_text("库存")
        table = page.locator("table#stock")
        scarf = table.locator("tr[data-sku='SC-MUL-90']")
        expect(scarf).to_have_count(2)  # in the US and the German warehouse
        us = scarf.filter(has_text="US-ONT-1")
        expect(us).to_contain_text(f"{demo_stock.scarf_us_on_hand:,}")  # 150 opening + what the demo left
        expect(us).to_contain_text(f"{demo_stock.scarf_us_available:,}")  # available, 250 of them allocated below
        expect(us).to_contain_text("400")  # the oldest lot's age in days
        expect(page.locator("#stock-totals")).to_contain_text("合计")
        no_horizontal_overflow(page)
        shoot(page, "stock-list.png")

        with page.expect_navigation():
            us.locator("[data-action=lots]").click()
        lots = page.locator("table#lots tbody tr")
        expect(lots).to_have_count(demo_stock.scarf_us_lots)
        expect(lots.nth(0)).to_contain_text("OPENING-2024")  # FIFO: the oldest lot first
        expect(lots.nth(1).locator("[data-action=declaration]")).to_have_text("申报单")

    def test_inventory_age_chart(self, silk_page, demo_stock):
        page = silk_page
        page.goto("/stock")
        with page.expect_navigation():
            page.click("#stock-tabs [data-tab=age]")
        expect(page.locator("main h2")).to_have_text("库龄")
        page.wait_for_selector("#chart-age[data-ready='1'] canvas")  # drawn, entry animation finished
        totals = page.locator("#age-totals")
        expect(totals).to_contain_text("合计")
        expect(page.locator("table#age thead")).to_contain_text(">365 天")
        row = page.locator("table#age tr[data-sku='SC-MUL-90']").filter(has_text="US-ONT-1")
        cells = row.locator("td.num")
        expect(cells.nth(1)).to_have_text(f"{demo_stock.scarf_us_31_60:,}")  # 31–60 days (the lot set to 45 days)
        expect(cells.nth(5)).to_have_text("150")  # 400 days old: >365
        no_horizontal_overflow(page)
        shoot(page, "stock-age.png")

    def test_outbound_detail_then_ship(self, silk_page, demo_stock):
        page = silk_page
        page.goto("/stock/outbound")
        row = page.locator(f"table#outbound tr[data-id='{demo_stock.outbound_id}']")
        expect(row).to_contain_text("已分配库存")
        with page.expect_navigation():
            row.locator("a").first.click()
        expect(page.locator("#status")).to_have_attribute("data-status", "allocated")
        allocations = page.locator("#allocations tbody tr")
        # scarf lots oldest first (FIFO: the opening lot, then the demo's lots) and one pillowcase lot
        expect(allocations).to_have_count(len(demo_stock.allocation_qtys))
        assert demo_stock.lots_in_order[0] == "OPENING-2024"
        expect(allocations.nth(0)).to_contain_text("OPENING-2024")
        expect(allocations.nth(0)).to_contain_text("150")
        expect(allocations.nth(1)).to_contain_text(str(demo_stock.allocation_qtys[1]))
        expect(allocations.nth(1).locator("a", has_text="申报单")).to_be_visible()
        expect(page.locator("[data-action=pick]")).to_be_visible()
        expect(page.locator("#ship-form")).to_be_visible()
        no_horizontal_overflow(page)
        shoot(page, "outbound-detail.png")

        page.fill("#ship-form input[name=carrier]", "UPS")
        page.fill("#ship-form input[name=tracking_no]", "1Z999AA10123456784")
        with page.expect_navigation():
            page.click("[data-action=ship]")
        expect(page.locator(".flash[role=status]")).to_contain_text("已发货")
        expect(page.locator("#status")).to_have_attribute("data-status", "shipped")
        expect(page.locator("#tracking")).to_contain_text("1Z999AA10123456784")
        expect(page.locator("#allocations tr[data-state=shipped]")).to_have_count(len(demo_stock.allocation_qtys))


class TestWarehouseOperator:
    def test_receives_an_inbound_order_with_a_discrepancy(self, warehouse_page, demo_stock):
        page = warehouse_page
        page.goto("/stock")
        owner = page.locator("table#stock thead")
        expect(owner).to_contain_text("货主")  # the operator sees its clients' stock, with their names
        expect(page.locator("table#stock tbody")).to_contain_text("苏州吴江云锦丝绸服饰有限公司")
        page.goto("/stock/inbound?status=expected")
        with page.expect_navigation():
            page.locator(f"table#inbound tr[data-id='{demo_stock.inbound_id}'] a").first.click()
        form = page.locator("#receive-form")
        form.locator("input[name=lines-0-received_qty]").fill("48")
        form.locator("input[name=lines-0-damaged_qty]").fill("2")
        form.locator("input[name=lines-1-received_qty]").fill("100")
        form.locator("input[name=close]").check()
        with page.expect_navigation():
            form.locator("[data-action=receive]").click()
        expect(page.locator("[data-error-for=lines-0-reason]")).to_have_text("短少、溢收或破损须填写原因")
        expect(form.locator("input[name=lines-0-received_qty]")).to_have_value("48")
        no_horizontal_overflow(page)
        shoot(page, "inbound-receive.png")

        form.locator("input[name=lines-0-reason]").fill("外箱压损两件")
        with page.expect_navigation():
            form.locator("[data-action=receive]").click()
        expect(page.locator("#status")).to_have_attribute("data-status", "received")
        expect(page.locator("tr[data-line='1'] [data-field=damaged]")).to_have_text("2")
        expect(page.locator("tr[data-line='1']")).to_contain_text("外箱压损两件")
