"""Closed-loop pages (SQLite and PostgreSQL): the list of exported declarations and one declaration's loop show
exactly the service's numbers (the API's), in Chinese and English; another tenant gets 404."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.customs.builders import principal_of
from tests.factories import page_login
from tests.loop.test_conservation import exported  # noqa: F401  (the fixture: a released, received, part-sold 9810)
from tests.sales.conftest import FIXTURES
from tradeloop.loop import service as loop
from tradeloop.sales import fulfilment
from tradeloop.sales import service as sales

COUNTS = ("exported", "received", "in_transit", "on_hand", "sold", "disposed", "returned_to_origin", "losses",
          "returned")


@pytest.fixture
def sold(db, world, exported, tmp_path):  # noqa: F811
    """Two Amazon orders for scarves (USD and EUR), imported from a real-layout file and fulfilled from the
    warehouse's lots: the declaration now has realised sales value, and no exchange rates are known."""
    header = (FIXTURES / "amazon_all_orders.txt").read_text(encoding="utf-8").splitlines()[0].split("\t")
    when = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def row(order, channel, qty, currency, price, promo):
        values = {"amazon-order-id": order, "purchase-date": when, "last-updated-date": when,
                  "order-status": "Shipped", "fulfillment-channel": "Merchant", "sales-channel": channel,
                  "product-name": "Silk scarf", "sku": "SILK-SCARF-01", "item-status": "Shipped",
                  "quantity": str(qty), "currency": currency, "item-price": price, "item-tax": "0.00",
                  "shipping-price": "0.00", "shipping-tax": "0.00", "item-promotion-discount": promo,
                  "ship-promotion-discount": "0.00", "ship-country": "US" if currency == "USD" else "DE",
                  "is-business-order": "false"}
        return "\t".join(values.get(h, "") for h in header)

    path = tmp_path / "orders.txt"
    path.write_text("\n".join(["\t".join(header), row("113-0000001-0000001", "Amazon.com", 2, "USD", "59.98", "-5.00"),
                               row("304-0000002-0000002", "Amazon.de", 1, "EUR", "29.99", "0.00")]) + "\n",
                    encoding="utf-8")
    p = principal_of(world.a)
    with db.transaction() as s:
        result = sales.import_orders(s, principal=p, path=path, channel="amazon")
        assert (result.inserted, result.rejected) == (2, 0), result
        done = fulfilment.fulfil_orders(s, principal=p, warehouse_id=world.operator.warehouse.id)
        assert done.units_shipped == 3, done.as_dict()
    with db.transaction(write=False) as s:
        view = loop.one_declaration(s, principal=p, declaration_id=exported.id)
    assert view.totals["sales_value"] == {"EUR": 2999, "USD": 5498}
    return view


@pytest.fixture
def owner(app, world):
    c = TestClient(app)
    page_login(c, world.a.users["viewer"])
    c.headers["Accept"] = "text/html"
    return c


def shown(html: str, attribute: str, key: str) -> str:
    """The text of the element carrying ``attribute="key"`` (a cell, a fact, an amount), tags stripped."""
    end = "span" if attribute == "data-currency" else "(?:dd|td|th)"
    found = re.search(rf'{attribute}="{re.escape(key)}"[^>]*>(.*?)</{end}>', html, re.S)
    assert found, f"{attribute}={key} not on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def number(text: str) -> Decimal:
    return Decimal(re.search(r"-?[\d,]+(?:\.\d+)?", text).group(0).replace(",", ""))


def test_declaration_page_shows_the_services_numbers(owner, sold):
    d, t = sold.declaration, sold.totals
    html = owner.get(f"/loop/declarations/{d.id}").text
    assert "出口闭环" in html and d.cop_no in html and d.invt_no in html
    assert shown(html, "data-fact", "invt_no") == d.invt_no
    assert shown(html, "data-fact", "entry_id") == (d.entry_id or "—")
    for key in COUNTS:
        assert number(shown(html, "data-total", key)) == t[key], key
    assert t["sold"] == 38 + 10 + 3 and t["in_transit"] == 20  # the fixture's 38 scarves and 10 blouses, 3 fulfilled
    assert shown(html, "data-currency", "USD") == "54.98 USD"  # 2 × 29.99 less the 5.00 promotion
    assert shown(html, "data-currency", "EUR") == "29.99 EUR"
    assert t["sales_value_cny"] is None and len(t["missing_rates"]) == 2
    assert "汇率缺失" in html and all(k in html for k in t["missing_rates"])
    assert shown(html, "data-fact", "declared_value") == "8,138.00 USD"  # 500 × 8.5 + 120 × 32.40
    assert 'data-balanced="1"' in html and 'data-balanced="0"' not in html
    scarf, blouse = sold.lines
    line = re.search(r'<tr data-line="1".*?</tr>', html, re.S).group(0)
    for key in ("exported", "received", "damaged", "short", "in_transit", "on_hand", "sold", "disposed",
                "returned_to_origin", "losses"):
        assert number(shown(line, "data-field", key)) == getattr(scarf, key), key
    assert (scarf.damaged, scarf.short) == (2, 3)
    ages = re.search(r'<tr id="loop-age-totals">.*?</tr>', html, re.S).group(0)
    assert number(shown(ages, "data-bucket", "0-30")) == t["abroad_by_age"]["0-30"] == scarf.on_hand + blouse.on_hand
    assert 'id="chart-stages"' in html and '"stages"' in html


def test_the_page_equals_the_api(owner, sold):
    d = sold.declaration
    api = owner.get(f"/api/v1/loop/declarations/{d.id}", headers={"Accept": "application/json"}).json()
    html = owner.get(f"/loop/declarations/{d.id}").text
    for key in COUNTS:
        assert number(shown(html, "data-total", key)) == Decimal(str(api["totals"][key])), key


def test_list_page_filters_and_links(owner, sold, world):
    d, t = sold.declaration, sold.totals
    html = owner.get("/loop").text
    row = re.search(rf'<tr data-id="{d.id}".*?</tr>', html, re.S).group(0)
    assert f'href="/loop/declarations/{d.id}"' in row
    for key in ("exported", "received", "sold", "in_transit", "on_hand", "disposed", "returned_to_origin", "losses",
                "returned"):
        assert number(shown(row, "data-field", key)) == t[key], key
    assert "54.98 USD" in row and "29.99 EUR" in row and 'data-balanced="1"' in row
    assert 'data-nav="loop"' in html and 'href="/loop"' in html and "/m/loop" not in html
    assert owner.get("/m/loop").status_code == 404  # no longer a module to come
    assert d.cop_no in owner.get("/loop", params={"q": d.cop_no[-6:]}).text
    assert d.cop_no in owner.get("/loop", params={"q": d.invt_no}).text
    missing = owner.get("/loop", params={"q": "NO-SUCH-NUMBER"}).text
    assert d.cop_no not in missing and "没有符合条件的已出口申报单" in missing
    here = owner.get("/loop", params={"warehouse": str(world.operator.warehouse.id)}).text
    assert d.cop_no in here
    assert owner.get("/loop", params={"cursor": "not-a-cursor", "per_page": "7"}).status_code == 200
    customs = owner.get(f"/customs/{d.id}").text
    assert f'href="/loop/declarations/{d.id}" data-action="loop"' in customs


def test_excel_export(owner, sold):
    from openpyxl import load_workbook

    r = owner.get("/loop.xlsx")
    assert r.status_code == 200
    rows = list(load_workbook(io.BytesIO(r.content)).active.values)
    assert rows[0][0] == "企业内部编号（copNo）" or rows[0][0].startswith("企业内部编号")
    scarf = next(r for r in rows[1:] if r[0] == sold.declaration.cop_no and r[7] == "SILK-SCARF-01")
    assert "54.98 USD" in scarf[-3] and str(scarf[-2]).startswith("汇率缺失")


def test_english(owner, sold):
    owner.cookies.set("lang", "en")
    html = owner.get(f"/loop/declarations/{sold.declaration.id}").text
    assert "Closed loop" in html and "Rate missing" in html and "Units still abroad by age" in html
    assert shown(html, "data-currency", "USD") == "54.98 USD"


def test_another_tenant_gets_404(app, world, sold):
    c = TestClient(app)
    page_login(c, world.b.users["admin"])
    r = c.get(f"/loop/declarations/{sold.declaration.id}", headers={"Accept": "text/html"})
    assert r.status_code == 404 and sold.declaration.cop_no not in r.text
    listed = c.get("/loop", headers={"Accept": "text/html"})
    assert listed.status_code == 200 and sold.declaration.cop_no not in listed.text
