"""Sales pages in Chinese and English: order lines, the import page with its htmx-polled progress, the error
report, the column profile editor and the unknown SKUs (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from tests.factories import csrf_from, page_login
from tests.sales.conftest import CATALOGUE, FIXTURES, add_products
from tradeloop.kit.tenancy import system_principal


@pytest.fixture
def browser(app, db, world):
    add_products(db, replace(system_principal(), enterprise_id=world.a.enterprise.id), CATALOGUE)
    c = TestClient(app)
    page_login(c, world.a.users["operator"])
    c.headers["Accept"] = "text/html"
    return c


def upload_page(c, name, channel, **form):
    token = csrf_from(c.get("/sales/import").text)
    return c.post("/sales/import", data={"csrf_token": token, "channel": channel, **form},
                  files={"file": (name, (FIXTURES / name).read_bytes(), "text/plain")}, follow_redirects=False)


def finish(c, url, timeout=60.0) -> str:
    """Poll the progress fragment as htmx does until it stops polling."""
    deadline = time.monotonic() + timeout
    while True:
        html = c.get(url + "/progress").text
        if "hx-trigger" not in html:
            return html
        assert time.monotonic() < deadline
        time.sleep(0.05)


class TestImportPage:
    def test_upload_progress_result_in_chinese(self, browser):
        page = browser.get("/sales/import")
        assert page.status_code == 200 and "导入订单" in page.text and 'name="channel"' in page.text
        r = upload_page(browser, "amazon_all_orders.txt", "amazon")
        assert r.status_code == 303
        url = r.headers["location"]
        assert re.fullmatch(r"/sales/imports/[0-9a-f-]{36}", url)
        status = browser.get(url)
        assert status.status_code == 200 and 'id="import-progress"' in status.text
        done = finish(browser, url)
        assert 'data-status="succeeded"' in done
        assert "读取9行：新增9行，更新0行，未变0行，拒绝0行。" in done
        assert "MYSTERY-SKU-9" in done  # the unknown SKU is listed as a warning
        lines = browser.get("/sales")
        assert "111-0000001-0000001" in lines.text and 'data-unknown-sku' in lines.text

    def test_bad_rows_are_listed_and_downloadable_in_english(self, browser):
        browser.cookies.set("lang", "en")
        url = upload_page(browser, "amazon_bad_rows.txt", "amazon").headers["location"]
        done = finish(browser, url)
        assert "9 lines read: 2 inserted, 0 updated, 0 unchanged, 7 rejected." in done
        assert 'data-action="download-errors"' in done and "must be a whole number" in done
        report = browser.get(url + "/errors.csv")
        rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
        assert rows[0] == ["Row", "Column", "Value", "Problem"]
        assert rows[2] == ["4", "quantity", "two", "must be a whole number"]

    def test_fatal_file(self, browser):
        url = upload_page(browser, "amazon_missing_column.txt", "amazon").headers["location"]
        done = finish(browser, url)
        assert 'data-status="failed"' in done and "未导入任何数据" in done
        assert "缺少亚马逊All Orders报告的必需列“item-price”" in done

    def test_form_errors(self, browser):
        r = upload_page(browser, "generic.xlsx", "generic")
        assert r.status_code == 422 and 'data-error-for="profile"' in r.text

    def test_viewer_cannot_import(self, app, world):
        c = TestClient(app)
        page_login(c, world.a.users["viewer"])
        assert c.get("/sales", headers={"Accept": "text/html"}).status_code == 200
        assert c.get("/sales/import", headers={"Accept": "text/html"}).status_code == 403


class TestLinesPage:
    @pytest.mark.parametrize(("lang", "words"), [("zh_CN", ["销售", "订单行", "已发货", "导出 Excel"]),
                                                 ("en", ["Sales", "Order lines", "Shipped", "Export to Excel"])])
    def test_renders_in_both_languages_with_filters(self, browser, lang, words):
        url = upload_page(browser, "shopify_orders.csv", "shopify").headers["location"]
        finish(browser, url)
        browser.cookies.set("lang", lang)
        page = browser.get("/sales")
        assert page.status_code == 200 and 'href="/sales"' in page.text and "/m/sales" not in page.text
        assert browser.get("/m/sales").status_code == 404
        for word in words:
            assert word in page.text, word
        refunded = browser.get("/sales", params={"status": "refunded"}).text
        assert "#1004" in refunded and "#1001" not in refunded
        by_day = browser.get("/sales", params={"date_from": "2026-01-17", "date_to": "2026-01-17"}).text
        assert "#1002" in by_day and "#1003" in by_day and "#1001" not in by_day  # Asia/Shanghai days
        export = browser.get("/sales.xlsx", params={"channel": "shopify"})
        assert export.status_code == 200 and export.content[:2] == b"PK"


class TestProfilesPage:
    def test_create_with_errors_then_edit_and_delete(self, browser):
        form = browser.get("/sales/profiles/new")
        assert form.status_code == 200 and 'name="col_order_id"' in form.text
        token = csrf_from(form.text)
        bad = browser.post("/sales/profiles", data={"csrf_token": token, "name": "ERP-1", "col_order_id": "单号"})
        assert bad.status_code == 422 and 'data-error-for="columns.sku"' in bad.text
        good = {"csrf_token": token, "name": "ERP-1", "channel": "own_site", "timezone": "Asia/Shanghai",
                "default_currency": "USD", "date_format": "%Y/%m/%d %H:%M", "col_order_id": "订单号",
                "col_order_date": "下单时间", "col_sku": "SKU", "col_quantity": "数量", "col_unit_price": "单价"}
        assert browser.post("/sales/profiles", data=good, follow_redirects=False).status_code == 303
        listing = browser.get("/sales/profiles").text
        assert "ERP-1" in listing and "订单号" in listing
        pid = re.search(r'data-id="([0-9a-f-]{36})"', listing).group(1)
        edit = browser.get(f"/sales/profiles/{pid}/edit")
        assert 'value="订单号"' in edit.text
        changed = browser.post(f"/sales/profiles/{pid}/edit", data={**good, "timezone": "Europe/Paris"},
                               follow_redirects=False)
        assert changed.status_code == 303 and "Europe/Paris" in browser.get("/sales/profiles").text
        assert browser.post(f"/sales/profiles/{pid}/delete", data={"csrf_token": token},
                            follow_redirects=False).status_code == 303
        assert "ERP-1" not in browser.get("/sales/profiles").text


class TestUnknownSkusPage:
    def test_list_then_link_after_adding_the_product(self, browser, db, world):
        finish(browser, upload_page(browser, "amazon_all_orders.txt", "amazon").headers["location"])
        page = browser.get("/sales/unknown-skus")
        assert "MYSTERY-SKU-9" in page.text and "缺失" in page.text
        add_products(db, replace(system_principal(), enterprise_id=world.a.enterprise.id), ["MYSTERY-SKU-9"])
        assert "已添加" in browser.get("/sales/unknown-skus").text
        r = browser.post("/sales/unknown-skus/link", data={"csrf_token": csrf_from(page.text)})
        assert r.status_code == 200 and "1行已关联到商品目录" in r.text
        assert "MYSTERY-SKU-9" not in browser.get("/sales/unknown-skus").text
