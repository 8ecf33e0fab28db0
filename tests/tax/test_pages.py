"""Export VAT rebate pages (SQLite and PostgreSQL): the rebate calculator shows exactly the figures of
``rebate.calculate`` (domain.md §3.4 Ex. 1 and Ex. 2), with field errors next to their field; purchase invoices
are uploaded (row-level report on refusal), listed, shown with their allocations, allocated automatically with
the uncovered declaration lines listed; another tenant gets 404."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import csrf_from, page_login
from tests.tax.test_invoices import FILE, HEADER, exported, row  # noqa: F401  (exported: a released 9810)
from tradeloop.tax import rebate
from tradeloop.tax.models import InvoiceAllocation, PurchaseInvoice

EX2 = {"method": "manufacturer", "fob_cny": "355000", "domestic_output_vat": "26000", "input_vat": "60000",
       "opening_credit": "0", "levy_rate": "13%", "rebate_rate": "9%"}


def client_for(app, username: str) -> TestClient:
    c = TestClient(app)
    page_login(c, username)
    c.headers["Accept"] = "text/html"
    return c


@pytest.fixture
def owner(app, world):
    return client_for(app, world.b.users["operator"])


@pytest.fixture
def maker(app, world):
    return client_for(app, world.a.users["admin"])


def figures_on(html: str) -> dict[str, str]:
    return {name: re.sub(r"<[^>]+>", "", value).strip()
            for name, value in re.findall(r'data-value="([^"]+)">(.*?)</td>', html, re.S)}


def upload(c, text: str, name: str = "进项发票.csv", encoding: str = "utf-8"):
    token = csrf_from(c.get("/tax/invoices").text)
    return c.post("/tax/invoices", data={"csrf_token": token},
                  files={"file": (name, text.encode(encoding), "text/csv")}, follow_redirects=False)


def count(db, model):
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(model))


class TestCalculator:
    def test_manufacturer_example_2_every_figure(self, owner):
        page = owner.get("/tax/calc")
        assert page.status_code == 200 and "退税计算器" in page.text and 'id="no-figures"' in page.text
        r = owner.get("/tax/calc", params=EX2)
        assert r.status_code == 200
        expected = rebate.calculate(**EX2).figures()
        shown = figures_on(r.text)
        assert shown == {k: v for k, v in expected.items() if k != "method"}
        assert shown["当期应退税额"] == "19800.00" and shown["当期免抵税额"] == "12150.00"
        assert shown["结转下期留抵税额"] == "0.00" and shown["当期不得免征和抵扣税额"] == "14200.00"

    def test_trader_example_1_and_english(self, owner):
        params = {"method": "trader", "invoice_amount": "100000", "rebate_rate": "13%", "levy_rate": ""}
        shown = figures_on(owner.get("/tax/calc", params=params).text)
        assert shown == {k: v for k, v in rebate.calculate(**{**params, "levy_rate": None}).figures().items()
                         if k != "method"}
        assert shown["增值税应退税额"] == "13000.00" and "不得退税额(进项税额转出)" not in shown
        owner.cookies.set("lang", "en")
        page = owner.get("/tax/calc", params={**params, "levy_rate": "13%"}).text
        assert "Rebate calculator" in page and "VAT refund due" in page and "增值税应退税额" in page

    @pytest.mark.parametrize(("change", "field", "message"), [
        ({"fob_cny": "355000.123"}, "fob_cny", "金额最多两位小数"),
        ({"input_vat": "abc"}, "input_vat", "不是有效金额"),
        ({"rebate_rate": "11%"}, "rebate_rate", "税率须为13%、10%、9%、6%或0%"),
        ({"levy_rate": "9%", "rebate_rate": "13%"}, "levy_rate", "征税率不能低于退税率"),
        ({"opening_credit": ""}, "opening_credit", "该计算方法须填写此项"),
    ])
    def test_field_errors_next_to_their_field(self, owner, change, field, message):
        r = owner.get("/tax/calc", params={**EX2, **change})
        assert r.status_code == 422 and 'id="figures"' not in r.text
        found = re.search(rf'data-error-for="{field}">([^<]*)<', r.text)
        assert found and found.group(1) == message
        assert f'name="{field}" value="{change[field]}"' in r.text  # the input is kept


class TestInvoices:
    def test_upload_list_detail_and_refusal(self, owner, db, world):
        page = owner.get("/tax/invoices")
        assert page.status_code == 200 and "进项发票" in page.text and 'id="invoice-form"' in page.text
        r = upload(owner, FILE, encoding="gb18030")
        assert r.status_code == 200 and 'id="import-result"' in r.text
        assert "2张发票，共3行——新增2张" in r.text and "50,100.00 CNY" in r.text
        listed = owner.get("/tax/invoices").text
        assert listed.count('<tr data-id="') == 2 and "00010001" in listed
        assert owner.get("/tax/invoices", params={"q": "00010002"}).text.count('<tr data-id="') == 1
        with db.transaction(write=False) as s:
            inv = s.scalar(select(PurchaseInvoice).where(PurchaseInvoice.invoice_no == "00010001"))
        detail = owner.get(f"/tax/invoices/{inv.id}")
        assert detail.status_code == 200 and "SILK-BLOUSE-02" in detail.text
        assert re.search(r'data-fact="amount">([^<]*)<', detail.text).group(1) == "28,500.00 CNY"
        assert detail.text.count('<tr data-line="') == 2

        bad = HEADER + row("00010009", "2026-13-01", "丝巾", "S", 1, "100.00") + \
            row("00010010", "2026-10-08", "丝巾", "S", 1, "100.00", vat="15.00")
        refused = upload(owner, bad, name="bad.csv")
        assert refused.status_code == 422 and 'id="import-errors"' in refused.text
        assert 'data-row-error="2"' in refused.text and 'data-row-error="3"' in refused.text
        assert "开票日期" in refused.text and "税额" in refused.text
        assert count(db, PurchaseInvoice) == 2

    def test_auto_allocation_lists_uncovered_lines_and_undo(self, maker, db, world, exported):  # noqa: F811
        decl, (scarf, blouse), _docs = exported
        assert upload(maker, FILE).status_code == 200
        token = csrf_from(maker.get("/tax/invoices").text)
        r = maker.post("/tax/invoices/auto-allocate", data={"csrf_token": token})
        assert r.status_code == 200 and 'id="allocation-result"' in r.text
        assert re.search(r'data-result="covered">(\d+)<', r.text).group(1) == "1"
        assert re.search(r'data-result="allocations">(\d+)<', r.text).group(1) == "3"
        uncovered = re.search(r'<tr data-line="([^"]+)">(.*?)</tr>', r.text, re.S)
        assert uncovered.group(1) == str(blouse.id) and decl.cop_no in uncovered.group(2)
        assert re.search(r'data-field="missing">([^<]*)<', r.text).group(1) == "70"
        assert count(db, InvoiceAllocation) == 3

        with db.transaction(write=False) as s:
            inv = s.scalar(select(PurchaseInvoice).where(PurchaseInvoice.invoice_no == "00010001"))
            allocation = s.scalar(select(InvoiceAllocation).where(InvoiceAllocation.declaration_line_id == blouse.id))
        detail = maker.get(f"/tax/invoices/{inv.id}").text
        assert f'data-allocation="{allocation.id}"' in detail and decl.cop_no in detail
        undo = maker.post(f"/tax/allocations/{allocation.id}/undo", data={"csrf_token": token},
                          follow_redirects=False)
        assert undo.status_code == 303 and undo.headers["location"] == f"/tax/invoices/{inv.id}"
        assert count(db, InvoiceAllocation) == 2

    def test_another_tenant_gets_404(self, app, db, world, owner):
        assert upload(owner, FILE).status_code == 200
        with db.transaction(write=False) as s:
            inv = s.scalar(select(PurchaseInvoice))
        other = client_for(app, world.a.users["admin"])
        r = other.get(f"/tax/invoices/{inv.id}")
        assert r.status_code == 404 and inv.invoice_no not in r.text
        assert inv.invoice_no not in other.get("/tax/invoices").text

    def test_viewer_reads_but_cannot_upload(self, app, world):
        viewer = client_for(app, world.b.users["viewer"])
        page = viewer.get("/tax/invoices")
        assert page.status_code == 200 and 'id="invoice-form"' not in page.text
        token = csrf_from(page.text)
        r = viewer.post("/tax/invoices", data={"csrf_token": token},
                        files={"file": ("x.csv", FILE.encode(), "text/csv")})
        assert r.status_code == 403
