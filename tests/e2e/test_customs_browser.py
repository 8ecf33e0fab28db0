"""A 9810 export declaration in a real browser (headless Debian Chromium driven by Playwright).

The demo exporter creates a declaration through the form (adding its second goods line with the
add-line control), submits it; the test then runs one exchange round against the customs simulator on
the server's own exchange folders (as the exchange worker would), reloads the detail page and follows
the receipts in the timeline. Screenshots of the form, the detail and the list land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlparse

import pytest

from .conftest import REPO_ROOT, demo_login

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under CI=true) with a clear message
    expect = None

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
DETAIL_PATH = re.compile(r"^/customs/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def demo_settings(live_server):
    """The settings of the served demo (its data directory sits next to the server's log files)."""
    from tradeloop.config import load_settings

    data_dir = live_server.stderr_path.parent / "data"
    assert (data_dir / "tradeloop.sqlite3").exists() or any(data_dir.glob("*.sqlite3")), data_dir
    return load_settings(data_dir, database_url=None, exchange_dir=None)


@pytest.fixture(scope="module")
def demo_db(demo_settings):
    from tradeloop.kit.db import Database

    db = Database.from_url(demo_settings.resolved_database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def declarable(demo_db):
    """The demo catalogue leaves the legal unit (unit1) empty, which customs needs on every line: the
    exporter completes it, as a user would in the catalogue, before declaring."""
    from sqlalchemy import select

    from tradeloop.catalog import service as catalog
    from tradeloop.catalog.repository import ProductRepository
    from tradeloop.demo import SILK_USCC
    from tradeloop.enterprises.models import Enterprise
    from tradeloop.kit.tenancy import system_principal

    with demo_db.transaction() as s:
        silk = s.scalar(select(Enterprise).where(Enterprise.uscc == SILK_USCC))
        principal = replace(system_principal(label="e2e"), enterprise_id=silk.id)
        for product in list(ProductRepository(s, principal).iterate()):
            if not product.unit1:
                catalog.update_product(s, principal=principal, product_id=product.id,
                                       data={"unit1": product.customs_unit, "unit1_factor": "1"})
    return True


@pytest.fixture(scope="module")
def silk_page(browser, live_server, declarable):
    context, page = demo_login(browser, live_server, width=1280, timeout_ms=TIMEOUT_MS)
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


def exchange_round(demo_db, demo_settings):
    """dispatch → simulator → poll on the server's exchange folders, as the exchange worker does."""
    from tradeloop.customs import gateway
    from tradeloop.customs.gateway import ExchangeFolders
    from tradeloop.customs.simulator import CustomsSimulator

    folders = ExchangeFolders.from_settings(demo_settings).ensure()
    sent = gateway.dispatch(demo_db, folders)
    CustomsSimulator(folders).run_once()
    return sent, gateway.poll(demo_db, folders)


def fill_declaration(page):
    form = page.locator("#declaration-form")
    form.locator("select[name=mode]").select_option("9810")
    warehouse = form.locator("select[name=warehouse_id]")
    expect(warehouse).to_be_visible()  # the mode shows the 9810 fields and hides the platform's
    expect(form.locator("input[name=ebp_name]")).to_be_hidden()
    warehouse.select_option(warehouse.locator("option", has_text="US-ONT-1").get_attribute("value"))
    for name, value in {"logistics_code": "3205980001", "logistics_name": "苏州国际货运代理有限公司",
                        "logistics_no": "SZXE2E0001", "customs_code": "2248", "port_code": "2248",
                        "pod": "USLA", "traf_name": "COSCO SHIPPING ARIES", "voyage_no": "045E",
                        "bill_no": "COSU6312345670", "pack_no": "12"}.items():
        form.locator(f"input[name={name}]").fill(value)
    form.locator("select[name=country]").select_option("502")
    form.locator("select[name=traf_mode]").select_option("2")
    rows = form.locator("#lines tbody tr")
    expect(rows).to_have_count(1)
    rows.nth(0).locator("select").select_option("SC-MUL-90")
    rows.nth(0).locator("input[name$=-qty]").fill("300")
    rows.nth(0).locator("input[name$=-price]").fill("12.5")
    form.locator("[data-action=add-line]").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1).locator(".gnum")).to_have_text("2")
    rows.nth(1).locator("select").select_option("BL-CREPE-M")
    rows.nth(1).locator("input[name$=-qty]").fill("80")
    rows.nth(1).locator("input[name$=-price]").fill("45.80")
    return form


class TestDeclarationJourney:
    def test_create_submit_exchange_and_timeline(self, silk_page, demo_db, demo_settings):
        page = silk_page
        page.goto("/customs")
        expect(page.locator("main h2")).to_have_text("出口申报")
        with page.expect_navigation():
            page.click("[data-action=new-declaration]")
        assert urlparse(page.url).path == "/customs/new"
        form = fill_declaration(page)
        shoot(page, "customs-form.png")

        with page.expect_navigation():
            form.locator("[data-action=save-declaration]").click()
        match = DETAIL_PATH.match(urlparse(page.url).path)
        assert match, (f"saving did not reach the detail page ({page.url}): "
                       f"{page.locator('#error-summary').all_inner_texts()}")
        expect(page.locator("#status")).to_have_attribute("data-status", "draft")
        expect(page.locator("#lines tbody tr")).to_have_count(2)
        expect(page.locator("#lines")).to_contain_text("SC-MUL-90")
        expect(page.locator("#lines")).to_contain_text("BL-CREPE-M")

        with page.expect_navigation():
            page.click("[data-action=submit]")
        expect(page.locator(".flash[role=status]")).to_contain_text("已提交申报")
        expect(page.locator("#status")).to_have_attribute("data-status", "submitted")
        expect(page.locator("#timeline li[data-direction=out]")).to_have_count(3)

        sent, polled = exchange_round(demo_db, demo_settings)
        assert sent == 3 and polled and all(p.result.outcome == "applied" for p in polled), polled
        page.reload()
        expect(page.locator("#status")).to_have_attribute("data-status", "closed")
        expect(page.locator("#status")).to_have_text("结关（已离境）")
        timeline = page.locator("#timeline")
        expect(timeline.locator("li[data-message-type=CEB604]").first).to_be_visible()
        assert timeline.locator("li[data-message-type=CEB604]").count() >= 4
        expect(timeline).to_contain_text("出口申报清单回执")
        expect(timeline).to_contain_text("899 结关")
        expect(page.locator("#documents [data-kind=list]")).to_contain_text("899")
        expect(page.locator("#numbers")).to_contain_text("清单编号")
        shoot(page, "customs-detail.png")

        with page.expect_navigation():
            timeline.locator("li[data-message-type=CEB603] [data-action=view-xml]").click()
        expect(page.locator("#xml")).to_contain_text("<ceb:CEB603Message")
        expect(page.locator("#xml")).to_contain_text("SC-MUL-90")

        page.goto("/customs")
        table = page.locator("table#declarations")
        row = table.locator(f"tr[data-id='{match.group(1)}']")
        expect(row).to_contain_text("结关")
        expect(row).to_contain_text("美国")
        expect(row).to_contain_text("7,414.00 USD")  # 300 × 12.50 + 80 × 45.80
        expect(page.locator("#status-chips")).to_contain_text("结关")
        page.wait_for_function("document.querySelector('#chart-status canvas') !== null")
        shoot(page, "customs-list.png")

    def test_form_errors_are_shown_in_chinese(self, silk_page):
        page = silk_page
        page.goto("/customs/new")
        form = fill_declaration(page)
        form.locator("#lines tbody tr").nth(0).locator("input[name$=-qty]").fill("0")
        form.locator("input[name=pod]").fill("X")
        with page.expect_response(lambda r: r.request.method == "POST" and urlparse(r.url).path == "/customs") as r:
            form.locator("[data-action=save-declaration]").click()
        assert r.value.status == 422
        page.wait_for_load_state()
        expect(page.locator("#error-summary")).to_contain_text("第 1 项 · 数量")
        expect(page.locator("[data-error-for='lines[0].qty']")).to_have_text("数量应大于零")
        expect(page.locator("[data-error-for=pod]")).to_be_visible()
        # What was typed is still there, both lines included.
        expect(page.locator("#lines tbody tr")).to_have_count(2)
        expect(page.locator("input[name=bill_no]")).to_have_value("COSU6312345670")
