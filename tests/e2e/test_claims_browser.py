"""Rebate claims in a real browser (headless Debian Chromium driven by Playwright), on the demo.

The demo's silk maker (a trader's 免退税 here: the claim chooses the method) looks at the document chain of a
9810 pre-rebate (HWC-YT) and sees the purchase invoice named as missing; it uploads a purchase invoice for the
SKU through the invoices page and allocates it, after which the line is ready. It chooses the line, creates a
draft claim, and the claim's page shows 增值税应退税额 equal to the API's claim and to the estimate the chain
showed; it then declares the claim and records the approval. Nothing here depends on the demo's numbers, only
on it having 9810 exports with unsold units this year. Screenshots: ``test-artifacts/`` and /tmp/claims.png.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from tradeloop.enterprises.uscc import check_character

from .conftest import demo_login, shot

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under CI=true) with a clear message
    expect = None

pytestmark = pytest.mark.browser

TIMEOUT_MS = 15_000
SELLER = "91320509MA7HCRF1W" + check_character("91320509MA7HCRF1W")


@pytest.fixture(scope="module")
def silk(browser, live_server):
    context, page = demo_login(browser, live_server, width=1360, timeout_ms=TIMEOUT_MS)
    yield context, page
    context.close()


def test_pre_rebate_from_the_document_chain_to_approval(silk, tmp_path):
    context, page = silk
    params = {"method": "trader", "business_type": "HWC-YT"}
    chain = context.request.get("/api/v1/tax/candidates", params=params)
    assert chain.ok, chain.text()
    this_year = [c for c in chain.json() if c["export_date"].startswith(str(date.today().year))
                 and Decimal(c["unsold"]) > 0 and {m["piece"] for m in c["missing"]} <= {"invoice"}]
    assert this_year, "the demo has no 9810 line of this year with unsold units"
    # a line whose invoice is missing, if the demo left one: the invoice is then uploaded through the pages
    target = ([c for c in this_year if not c["complete"]] or this_year)[-1]
    line_id, sku, period = target["declaration_line_id"], target["sku"], target["export_date"][:7]
    units = sum(Decimal(c["exported"]) for c in chain.json() if c["sku"] == sku)  # every line of the SKU covered

    if not target["complete"]:
        page.goto(f"/tax/candidates?method=trader&business_type=HWC-YT&period={period}&q={sku}&per_page=100")
        row = page.locator(f"#candidates tr[data-line='{line_id}']")
        expect(row).to_have_attribute("data-complete", "0")
        expect(row.locator("[data-piece=invoice]")).to_be_visible()
        expect(row.locator("input[name=line]")).to_have_count(0)
        shot(page, "tax-claims-chain-missing.png")

        amount = Decimal("80.00") * units
        vat = (amount * Decimal("0.13")).quantize(Decimal("0.01"))
        csv = tmp_path / "invoice.csv"
        csv.write_text("发票代码,发票号码,开票日期,销方税号,销方名称,货物或应税劳务名称,规格型号,单位,数量,金额,税率,税额\n"
                       f"3200261130,{date.today():%m%d}7788,{date.today().isoformat()},{SELLER},吴江丝绸织造厂,"
                       f"*丝织品*{sku},{sku},件,{units},{amount:.2f},13%,{vat}\n", encoding="utf-8")
        with page.expect_navigation():
            page.click("#tax-tabs [data-tab=invoices]")
        page.set_input_files("#invoice-form input[type=file]", str(csv))
        with page.expect_navigation():
            page.click("#invoice-form [data-action=import]")
        expect(page.locator("#import-result")).to_be_visible()
        with page.expect_navigation():
            page.click("#auto-allocate [data-action=auto-allocate]")
        expect(page.locator("#allocation-result")).to_be_visible()

    page.goto(f"/tax/candidates?method=trader&business_type=HWC-YT&period={period}&q={sku}&per_page=100")
    row = page.locator(f"#candidates tr[data-line='{line_id}']")
    expect(row).to_have_attribute("data-complete", "1")
    estimate = row.locator("[data-field=estimate]").inner_text()
    row.locator("input[name=line]").check()
    width = page.evaluate("document.documentElement.scrollWidth")
    shot(page, "tax-claims-candidates.png")
    with page.expect_navigation():
        page.click("#create-claim [data-action=create-claim]")
    assert urlparse(page.url).path.startswith("/tax/claims/")
    claim_id = urlparse(page.url).path.rsplit("/", 1)[1]
    expect(page.locator("h2 [data-status]")).to_have_attribute("data-status", "draft")
    api = context.request.get(f"/api/v1/tax/claims/{claim_id}").json()
    refund = f"{Decimal(api['refund_minor']).scaleb(-2):.2f}"
    expect(page.locator("[data-value='增值税应退税额']")).to_have_text(refund)
    assert estimate.replace(",", "").startswith(refund)
    assert [li["declaration_line_id"] for li in api["lines"]] == [line_id] and api["business_type"] == "HWC-YT"

    with page.expect_navigation():
        page.click("#declare [data-action=declare]")
    expect(page.locator("h2 [data-status]")).to_have_attribute("data-status", "declared")
    expect(page.locator("#f-approved_amount")).to_have_value(refund)
    with page.expect_navigation():
        page.click("#approve [data-action=approve]")
    expect(page.locator("h2 [data-status]")).to_have_attribute("data-status", "approved")
    expect(page.locator("#claim-history li")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    shutil.copy(shot(page, "tax-claim.png"), "/tmp/claims.png")

    with page.expect_navigation():
        page.click("#tax-tabs [data-tab=claims]")
    expect(page.locator(f"#claims tr[data-id='{claim_id}'] [data-status]")).to_have_attribute("data-status",
                                                                                              "approved")
    page.wait_for_selector("#chart-claims[data-ready='1'] canvas")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    shot(page, "tax-claims.png")
    assert width <= page.viewport_size["width"] + 400  # the chain is a wide table: it scrolls inside its box
