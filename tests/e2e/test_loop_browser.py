"""The closed-loop page in a real browser (headless Debian Chromium driven by Playwright).

The demo's silk maker logs in, finds the exported declaration with the most units sold through the API
(with the same logged-in session), opens its closed-loop page from the navigation and the list, and every
number the page shows — the totals, each line's counts, the realised value, the units abroad by age — must
equal the API's JSON. Nothing here depends on the demo's particular numbers, only on the demo having
exported declarations. A screenshot is saved in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from .conftest import REPO_ROOT, demo_login

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under CI=true) with a clear message
    expect = None

pytestmark = pytest.mark.browser

ARTIFACTS = REPO_ROOT / "test-artifacts"
TIMEOUT_MS = 10_000
#: Totals the page shows as tiles, by their API names.
COUNTS = ("exported", "received", "in_transit", "on_hand", "sold", "disposed", "returned_to_origin", "losses",
          "returned")
#: Per line, in the lines table.
LINE_COUNTS = ("exported", "received", "damaged", "short", "in_transit", "on_hand", "sold", "disposed",
               "returned_to_origin", "losses")
#: ISO 4217 currencies without minor units that a marketplace might pay in (every other has 2 here).
NO_DECIMALS = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF"}


def number(text: str) -> Decimal:
    """A number as the page shows it (thousands separators, maybe a currency code after it)."""
    found = re.search(r"-?[\d,]+(?:\.\d+)?", text.replace("\u2212", "-"))
    assert found, f"no number in {text!r}"
    return Decimal(found.group(0).replace(",", ""))


def amount(text: str, currency: str) -> int:
    """Minor units of an amount as the page shows it ("1,234.56 USD"), checking the currency's decimals."""
    assert text.strip().endswith(currency), text
    digits = 0 if currency in NO_DECIMALS else 2
    shown = re.search(r"[\d,]+(?:\.(\d+))?", text).group(1) or ""
    assert len(shown) == digits, f"{text!r}: {currency} is shown with {digits} decimals"
    return int(number(text).scaleb(digits))


@pytest.fixture(scope="module")
def silk(browser, live_server):
    context, page = demo_login(browser, live_server, width=1360, timeout_ms=TIMEOUT_MS)
    yield context, page
    context.close()


def api_declarations(context) -> list[dict]:
    """Every exported declaration of the logged-in exporter, from the API (the browser's session)."""
    items, cursor = [], None
    while True:
        r = context.request.get("/api/v1/loop/declarations", params={"limit": 500, **({"cursor": cursor}
                                                                                     if cursor else {})})
        assert r.ok, r.text()
        body = r.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return items


def test_closed_loop_page_shows_the_apis_numbers(silk):
    context, page = silk
    declarations = api_declarations(context)
    assert declarations, "the demo has no exported declaration"
    chosen = max(declarations, key=lambda v: (v["totals"]["sold"], v["totals"]["received"],
                                              Decimal(v["totals"]["exported"])))
    decl_id = chosen["declaration"]["id"]
    api = context.request.get(f"/api/v1/loop/declarations/{decl_id}").json()
    assert api["totals"] == chosen["totals"]  # the list and the single view agree

    # from the navigation to the list, and from the list to the declaration
    page.goto("/")
    with page.expect_navigation():
        page.click("aside.sidebar [data-nav=loop]")
    assert urlparse(page.url).path == "/loop"
    expect(page.locator("main h2")).to_have_text("出口闭环")
    row = page.locator(f"table#loop-declarations tr[data-id='{decl_id}']")
    if row.count() == 0:  # not on the first page: find it by its number
        page.fill("#loop-filters input[name=q]", api["declaration"]["cop_no"])
        with page.expect_navigation():
            page.click("#loop-filters button[type=submit]")
    expect(row.locator("[data-field=exported]")).to_have_text(re.compile(r"[\d,]+"))
    assert number(row.locator("[data-field=sold]").inner_text()) == api["totals"]["sold"]
    with page.expect_navigation():
        row.locator("[data-action=loop]").click()
    assert urlparse(page.url).path == f"/loop/declarations/{decl_id}"

    d, t = api["declaration"], api["totals"]
    expect(page.locator("[data-fact=cop_no]")).to_have_text(d["cop_no"])
    expect(page.locator("[data-fact=invt_no]")).to_have_text(d["invt_no"] or "—")
    expect(page.locator("[data-fact=entry_id]")).to_have_text(d["entry_id"] or "—")
    expect(page.locator("[data-fact=mode]")).to_have_text(d["mode"])
    expect(page.locator("[data-fact=ie_date]")).to_have_text(d["ie_date"])
    assert amount(page.locator("[data-fact=declared_value]").inner_text(), d["currency"]) == t["declared_value_minor"]

    totals = page.locator("#loop-totals")
    for key in COUNTS:
        assert number(totals.locator(f"[data-total={key}]").inner_text()) == Decimal(str(t[key])), key
    value = totals.locator("[data-total=sales_value]")
    expect(value.locator("[data-currency]")).to_have_count(len(t["sales_value"]))
    for currency, minor in t["sales_value"].items():
        assert amount(value.locator(f"[data-currency={currency}]").inner_text(), currency) == minor, currency
    cny = totals.locator("[data-total=sales_value_cny]")
    if t["sales_value_cny"] is None:
        expect(cny.locator("[data-rate-missing]")).to_have_text("汇率缺失")
        expect(cny.locator("[data-missing-rates]")).to_have_text(", ".join(t["missing_rates"]))
    else:
        assert amount(cny.inner_text(), "CNY") == t["sales_value_cny"]
    expect(page.locator("h2 [data-balanced]")).to_have_attribute("data-balanced", "1" if t["balanced"] else "0")

    rows = page.locator("table#loop-lines tbody tr")
    expect(rows).to_have_count(len(api["lines"]))
    for line in api["lines"]:
        tr = page.locator(f"table#loop-lines tr[data-line='{line['gnum']}']")
        expect(tr).to_contain_text(line["sku"])
        for key in LINE_COUNTS:
            assert number(tr.locator(f"[data-field={key}]").first.inner_text()) == Decimal(str(line[key])), \
                (line["gnum"], key)
        assert amount(tr.locator("[data-field=declared_value]").inner_text(), line["currency"]) == \
            line["declared_value_minor"]
        vr = page.locator(f"table#loop-value tr[data-line='{line['gnum']}']")
        for key in ("sold", "returned", "sold_linked"):
            assert number(vr.locator(f"[data-field={key}]").inner_text()) == line[key], (line["gnum"], key)
        for currency, minor in line["sales_value"].items():
            assert amount(vr.locator(f"[data-currency={currency}]").inner_text(), currency) == minor
        if line["sales_value"] and line["sales_value_cny"] is None:
            expect(vr.locator("[data-missing-rates]")).to_have_text(", ".join(line["missing_rates"]))

    abroad = sum(t["abroad_by_age"].values())
    if abroad:
        foot = page.locator("#loop-age-totals")
        for bucket, units in t["abroad_by_age"].items():
            assert number(foot.locator(f"[data-bucket='{bucket}']").inner_text()) == units, bucket
        page.wait_for_selector("#chart-ages[data-ready='1'] canvas")
    else:
        expect(page.locator("#no-units-abroad")).to_be_visible()
    page.wait_for_selector("#chart-stages[data-ready='1'] canvas")  # drawn, entry animation finished
    page.wait_for_selector("#chart-lines[data-ready='1'] canvas")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "loop-declaration.png"
    path.unlink(missing_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the customs declaration page links here
    page.goto(f"/customs/{decl_id}")
    with page.expect_navigation():
        page.click("main [data-action=loop]")
    assert urlparse(page.url).path == f"/loop/declarations/{decl_id}"
