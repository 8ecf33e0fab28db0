"""Customs pages through the browser's HTTP (TestClient), on SQLite and PostgreSQL.

List with filters and paging; the declaration form (field errors in Chinese, nothing half-saved); the
detail page through submission, an exchange round with the customs simulator, correction and
cancellation; the XML viewer and download; summaries; the quarantine; roles and other tenants' ids.
"""

from __future__ import annotations

import html
import re
import uuid

import pytest
from sqlalchemy import func, select

from tests.customs.builders import add_products, body_9810, create, exchange_round, load, principal_of, submit
from tests.factories import csrf_from, page_login
from tradeloop.audit.models import AuditLog
from tradeloop.customs import gateway, service
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.models import Declaration, DeclarationStatus, Message, Quarantined, SummaryStatus
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.customs.simulator import CustomsSimulator

HTML = {"Accept": "text/html"}


@pytest.fixture
def exporter(db, world):
    add_products(db, world.a)
    return world.a


@pytest.fixture
def folders(app):
    """The exchange folders the app itself uses (DATA_DIR/exchange of the test settings)."""
    return ExchangeFolders.from_settings(app.state.settings).ensure()


@pytest.fixture
def sim(folders):
    return CustomsSimulator(folders)


def browser(client, username: str) -> str:
    """Log in through the form; returns the page CSRF token."""
    client.headers.update(HTML)
    assert page_login(client, username).status_code == 303
    return csrf_from(client.get("/customs").text)


def form_9810(world, **extra) -> dict:
    """The declaration form as a browser posts it (flat fields, lines as lines-<i>-<field>)."""
    body = body_9810(world)
    form = {k: str(v) for k, v in body.items() if k != "lines"}
    for i, line in enumerate(body["lines"]):
        for key, value in line.items():
            form[f"lines-{i}-{key}"] = value
    form.update(extra)
    return form


def count(db, model, **where) -> int:
    with db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return s.scalar(stmt)


def text_of(page: str) -> str:
    """The visible text, roughly: tags dropped, entities decoded, white space collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def detail_id(response) -> uuid.UUID:
    match = re.fullmatch(r"/customs/([0-9a-f-]{36})", response.headers["location"])
    assert match, response.headers["location"]
    return uuid.UUID(match[1])


class TestList:
    def test_filters_status_chips_and_paging(self, client, db, world, exporter):
        ids = [create(db, exporter, body_9810(world, logistics_no=f"SZX{n:06d}")).id for n in range(23)]
        submit(db, exporter, ids[0])
        first, _l, _d = load(db, exporter, ids[0])
        browser(client, exporter.users["viewer"])

        page = client.get("/customs")
        assert page.status_code == 200
        assert page.text.count('<tr class="" data-id=') + page.text.count('class="attention" data-id=') == 20
        assert "共 23 行" in text_of(page.text) and 'data-page="next"' in page.text
        chips = re.search(r'<div class="chips".*?</div>', page.text, re.S)[0]
        assert "草稿" in chips and "22" in text_of(chips) and "23" in text_of(chips)
        assert 'data-status="submitted"' in chips
        assert "chart-status" in page.text and "echarts.min.js" in page.text

        second = client.get("/customs", params={"page": 2})
        assert second.text.count("data-id=") == 3

        one = client.get("/customs", params={"q": first.cop_no})
        assert one.text.count("data-id=") == 1 and f"/customs/{first.id}" in one.text

        submitted = client.get("/customs", params={"status": "submitted", "per_page": 50})
        assert submitted.text.count("data-id=") == 1 and "已申报" in submitted.text
        # The filters stay in the links of the chips and the sortable headers.
        assert "status=submitted" in re.search(r'<thead>.*?</thead>', submitted.text, re.S)[0]

        assert client.get("/customs", params={"mode": "9610"}).text.count("data-id=") == 0
        assert client.get("/customs", params={"date_from": "2026-11-03"}).text.count("data-id=") == 0
        assert client.get("/customs", params={"date_from": "2026-11-02", "date_to": "2026-11-02",
                                              "per_page": 100}).text.count("data-id=") == 23
        # Nonsense in the query string is ignored, not an error.
        assert client.get("/customs", params={"date_from": "tomorrow", "status": "x", "page": "y"}).status_code == 200

    def test_amounts_use_the_currency_minor_units(self, client, db, world, exporter):
        create(db, exporter, body_9810(world))
        browser(client, exporter.users["admin"])
        page = text_of(client.get("/customs").text)
        assert "8,138.00 USD" in page  # 500 × 8.50 + 120 × 32.40


class TestCreateForm:
    def test_new_form_offers_modes_warehouses_and_products(self, client, world, exporter):
        browser(client, exporter.users["operator"])
        page = client.get("/customs/new")
        assert page.status_code == 200
        assert "跨境电商出口海外仓" in page.text and 'value="9810"' in page.text
        assert str(world.operator.warehouse.id) in page.text  # a warehouse exporter a uses
        assert "SILK-SCARF-01" in page.text and 'data-action="add-line"' in page.text
        assert 'name="lines-0-sku"' in page.text

    def test_bad_lines_and_codes_show_chinese_field_errors_and_save_nothing(self, client, db, world, exporter):
        token = browser(client, exporter.users["admin"])
        audits = count(db, AuditLog)
        form = form_9810(world, pod="X", country="ZZ", **{"lines-0-qty": "0", "lines-1-sku": "NO-SUCH-SKU",
                                                           "lines-1-price": "abc"})
        r = client.post("/customs", data={**form, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 422
        page = r.text
        assert 'data-error-for="lines[0].qty"' in page and "数量应大于零" in page
        assert 'data-error-for="lines[1].sku"' in page and "不是本企业商品目录中的商品" in page
        assert 'data-error-for="pod"' in page and "指运港代码应为3至4位" in page
        assert 'data-error-for="country"' in page and "运抵国不是有效的国家（地区）代码" in page
        summary = re.search(r'<div class="flash error error-summary".*?</div>', page, re.S)[0]
        assert "第 1 项 · 数量" in text_of(summary) and "指运港" in text_of(summary)
        assert "The declaration" not in page  # the banner is in Chinese too
        # What was typed comes back.
        assert 'value="COSU6312345670"' in page and 'name="lines-1-price" value="abc"' in page
        assert count(db, Declaration) == 0 and count(db, AuditLog) == audits

    def test_errors_in_english(self, client, world, exporter):
        token = browser(client, exporter.users["admin"])
        client.get("/lang/en")
        r = client.post("/customs", data={**form_9810(world, **{"lines-0-qty": "-1"}), "csrf_token": token})
        assert r.status_code == 422
        assert "must be greater than zero" in r.text and "Line 1 · Quantity" in text_of(r.text)

    def test_no_mode_and_no_lines(self, client, db, world, exporter):
        token = browser(client, exporter.users["admin"])
        r = client.post("/customs", data={"csrf_token": token, "mode": ""})
        assert r.status_code == 422
        assert 'data-error-for="mode"' in r.text and 'data-error-for="lines"' in r.text
        assert count(db, Declaration) == 0

    def test_good_form_creates_a_draft_with_its_lines(self, client, db, world, exporter):
        token = browser(client, exporter.users["operator"])
        # Row 1 left empty and a third row after it: empty rows are skipped, the rest keep their order.
        form = form_9810(world, **{"lines-2-sku": form_9810(world)["lines-1-sku"], "lines-2-qty": "120",
                                   "lines-2-price": "32.40", "lines-1-sku": "", "lines-1-qty": "",
                                   "lines-1-price": "", "ebp_code": "IGNORED", "ebp_name": "ignored for 9810"})
        r = client.post("/customs", data={**form, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303, r.text[:2000]
        decl_id = detail_id(r)
        decl, lines, _docs = load(db, exporter, decl_id)
        assert decl.status == DeclarationStatus.DRAFT and decl.order_type == "W"
        assert decl.ebp_name == "洛杉矶仓" and decl.ebp_code == "无"  # from the warehouse, not the hidden fields
        assert [li.item_no for li in lines] == ["SILK-SCARF-01", "SILK-BLOUSE-02"]
        page = client.get(r.headers["location"])
        assert "草稿" in page.text and decl.cop_no in page.text and "已保存为草稿" in page.text
        body = text_of(page.text)
        assert "SILK-SCARF-01" in body and "6214100090" in body and "围巾" in body and "500 件" in body
        assert "8.5" in body and "4,250.00 USD" in body
        assert 'data-action="submit"' in page.text and 'data-action="delete"' in page.text

    def test_edit_a_draft(self, client, db, world, exporter):
        decl = create(db, exporter, body_9810(world))
        token = browser(client, exporter.users["admin"])
        page = client.get(f"/customs/{decl.id}/edit")
        assert page.status_code == 200 and 'name="lines-1-qty" value="120"' in page.text
        assert 'value="502"' in page.text or "selected" in page.text
        form = form_9810(world, **{"lines-1-qty": "130"})
        form.pop("mode")
        r = client.post(f"/customs/{decl.id}/edit", data={**form, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        _d, lines, _docs = load(db, exporter, decl.id)
        assert lines[1].qty == 130
        bad = client.post(f"/customs/{decl.id}/edit", data={**form, "lines-0-price": "", "csrf_token": token})
        assert bad.status_code == 422 and 'data-error-for="lines[0].price"' in bad.text
        assert load(db, exporter, decl.id)[1][0].price == 8.5

    def test_delete_a_draft(self, client, db, world, exporter):
        decl = create(db, exporter, body_9810(world))
        token = browser(client, exporter.users["admin"])
        r = client.post(f"/customs/{decl.id}/delete", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/customs"
        assert count(db, Declaration) == 0


class TestSubmitAndExchange:
    def test_submit_exchange_round_and_timeline(self, client, db, world, exporter, folders, sim):
        decl = create(db, exporter, body_9810(world))
        token = browser(client, exporter.users["operator"])
        r = client.post(f"/customs/{decl.id}/submit", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        decl, _l, docs = load(db, exporter, decl.id)
        assert decl.status == DeclarationStatus.SUBMITTED
        assert count(db, Message, direction="out") == 3 and set(docs) == {"order", "waybill", "list"}
        page = client.get(f"/customs/{decl.id}").text
        assert "已申报" in page and page.count('data-direction="out"') == 3 and "待发送" in page
        assert 'data-action="submit"' not in page and 'data-action="edit"' not in page

        exchange_round(db, folders, sim)
        page = client.get(f"/customs/{decl.id}").text
        decl, _l, _d = load(db, exporter, decl.id)
        assert decl.status == DeclarationStatus.CLOSED
        assert 'data-status="closed"' in page and "结关" in page
        documents = re.search(r'<section id="documents">.*?</section>', page, re.S)[0]
        assert 'data-code="899"' in documents and "899 结关" in text_of(documents)
        timeline = re.search(r'<section id="timeline">.*?</section>', page, re.S)[0]
        assert timeline.count('data-message-type="CEB604"') >= 4 and "出口申报清单回执" in timeline
        assert "↓" in timeline and "↑" in timeline and "海关入库" in timeline
        assert decl.invt_no in page and decl.pre_no in page

    def test_xml_view_and_download(self, client, db, world, exporter, folders, sim):
        decl = create(db, exporter, body_9810(world))
        submit(db, exporter, decl.id)
        exchange_round(db, folders, sim)
        browser(client, exporter.users["viewer"])
        with db.transaction(write=False) as s:
            messages = DeclarationRepository(s, principal_of(exporter)).messages(decl.id)
            out = next(m for m in messages if m.message_type == "CEB603")
            receipt = next(m for m in messages if m.message_type == "CEB604")
            out_id, out_content, out_name, receipt_id = out.id, out.content, out.filename, receipt.id
        view = client.get(f"/customs/messages/{out_id}")
        assert view.status_code == 200
        assert "&lt;ceb:CEB603Message" in view.text and "<ceb:CEB603Message" not in view.text
        assert "出口申报清单" in view.text and f"/customs/{decl.id}" in view.text
        assert "SILK-SCARF-01" in view.text
        receipt_view = client.get(f"/customs/messages/{receipt_id}")
        assert receipt_view.status_code == 200 and "&lt;ceb:CEB604Message" in receipt_view.text
        download = client.get(f"/customs/messages/{out_id}/download")
        assert download.status_code == 200 and download.content == out_content
        assert download.headers["content-disposition"].startswith("attachment;")
        assert out_name in download.headers["content-disposition"]
        assert download.headers["content-type"].startswith("application/xml")

    def test_rejected_then_corrected_and_resubmitted(self, client, db, world, exporter, folders, sim):
        decl = create(db, exporter, body_9810(world, note="SIM:REJECT first time"))
        token = browser(client, exporter.users["admin"])
        client.post(f"/customs/{decl.id}/submit", data={"csrf_token": token})
        exchange_round(db, folders, sim)
        page = client.get(f"/customs/{decl.id}").text
        assert 'id="action-needed"' in page and "退单" in page
        assert 'data-action="correct"' in page and 'data-action="resubmit"' in page and 'id="cancel-form"' in page
        edit = client.get(f"/customs/{decl.id}/edit").text
        assert re.search(r'name="logistics_no"[^>]*readonly', edit)  # customs knows it: it stays
        form = form_9810(world, note="corrected", **{"lines-0-price": "8.6"})
        form.pop("mode")
        r = client.post(f"/customs/{decl.id}/edit", data={**form, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303
        r = client.post(f"/customs/{decl.id}/submit", data={"csrf_token": token})
        assert "变更" in r.text
        exchange_round(db, folders, sim)
        decl, _l, docs = load(db, exporter, decl.id)
        assert decl.status == DeclarationStatus.CLOSED and decl.revision == 2 and docs["list"].app_type == "2"
        page = client.get(f"/customs/{decl.id}").text
        assert "变更申报（2）" in text_of(page) and "变更（appType 2）" in text_of(page)

    def test_cancel_needs_a_reason_then_sends_ceb605(self, client, db, world, exporter, folders, sim):
        decl = create(db, exporter, body_9810(world, note="SIM:HOLD"))
        submit(db, exporter, decl.id)
        exchange_round(db, folders, sim)
        token = browser(client, exporter.users["admin"])
        page = client.get(f"/customs/{decl.id}").text
        assert 'id="cancel-form"' in page
        audits = count(db, AuditLog)
        r = client.post(f"/customs/{decl.id}/cancel", data={"csrf_token": token, "reason": " "})
        assert r.status_code == 200 and "撤销原因为必填项" in r.text
        assert load(db, exporter, decl.id)[0].status == DeclarationStatus.ACCEPTED and count(db, AuditLog) == audits
        r = client.post(f"/customs/{decl.id}/cancel", data={"csrf_token": token, "reason": "买家取消订单"})
        assert "CEB605" in r.text
        assert load(db, exporter, decl.id)[0].status == DeclarationStatus.CANCEL_REQUESTED
        exchange_round(db, folders, sim)
        page = client.get(f"/customs/{decl.id}").text
        assert 'data-status="cancelled"' in page and 'data-message-type="CEB606"' in page
        assert "买家取消订单" in page


class TestSummaries:
    def test_plan_create_and_declare(self, client, db, world, exporter, folders, sim):
        decl = create(db, exporter, body_9810(world))
        submit(db, exporter, decl.id)
        exchange_round(db, folders, sim)
        decl, _l, _d = load(db, exporter, decl.id)
        month = decl.closed_at.astimezone(service.build.BEIJING).strftime("%Y-%m")
        token = browser(client, exporter.users["admin"])
        assert client.get("/customs/summaries").status_code == 200  # default month: the last one
        page = client.get("/customs/summaries", params={"month": month}).text
        plan = re.search(r'<table class="data" id="summary-plan">.*?</table>', page, re.S)[0]
        assert "2305" in plan and "2201" in plan and "8,138.00 USD" in text_of(plan)
        assert 'data-action="create-summaries"' in page
        r = client.post("/customs/summaries", data={"csrf_token": token, "month": month}, follow_redirects=False)
        assert r.status_code == 303
        page = client.get(r.headers["location"]).text
        assert "已生成 1 份汇总申请单" in page and 'id="summary-plan"' not in page
        assert "汇总申请单" in page and "已申报，待回执" in page
        exchange_round(db, folders, sim)
        decl, _l, _d = load(db, exporter, decl.id)
        assert decl.status == DeclarationStatus.DECLARED
        page = client.get("/customs/summaries", params={"month": month}).text
        listing = re.search(r'<table class="data" id="summary-list">.*?</table>', page, re.S)[0]
        assert decl.entry_id in listing and "已生成报关单" in listing
        with db.transaction(write=False) as s:
            [summary] = DeclarationRepository(s, principal_of(exporter)).summaries()
            assert summary.status == SummaryStatus.DECLARED
        assert 'data-message-type="CEB701"' in listing and 'data-message-type="CEB792"' in listing
        detail = client.get(f"/customs/{decl.id}").text
        assert decl.entry_id in detail and f"#summary-{summary.id}" in detail
        timeline = re.search(r'<section id="timeline">.*?</section>', detail, re.S)[0]
        assert 'data-message-type="CEB701"' in timeline and 'data-message-type="CEB792"' in timeline
        assert "汇总结果单" in timeline and decl.entry_id in timeline

    def test_bad_month_is_a_message_not_an_error(self, client, exporter):
        token = browser(client, exporter.users["admin"])
        assert "YYYY-MM" in client.get("/customs/summaries", params={"month": "2026-13"}).text
        r = client.post("/customs/summaries", data={"csrf_token": token, "month": "26-1"})
        assert r.status_code == 200 and "月份格式应为 YYYY-MM" in r.text


class TestQuarantine:
    def test_platform_admin_sees_and_resolves_an_unknown_file(self, client, app, db, world, folders):
        (folders.inbox / "broken-receipt.xml").write_bytes(b"<ceb:CEB604Message xmlns:ceb='x'><oops>")
        [result] = gateway.poll(db, folders)
        assert result.result.outcome == "quarantined"
        token = browser(client, world.platform_admin)
        nav = client.get("/customs/quarantine").text
        assert 'data-nav="customs-quarantine"' in nav and "broken-receipt.xml" in nav and "格式错误" in nav
        with db.transaction(write=False) as s:
            item = s.scalar(select(Quarantined))
            item_id, content = item.id, item.content
        download = client.get(f"/customs/quarantine/{item_id}/file")
        assert download.content == content and download.headers["content-disposition"].startswith("attachment;")
        r = client.post(f"/customs/quarantine/{item_id}/resolve", data={"csrf_token": token, "resolution": ""})
        assert "处理说明为必填项" in r.text
        r = client.post(f"/customs/quarantine/{item_id}/resolve", data={"csrf_token": token,
                                                                       "resolution": "误投文件，已通知对方"})
        assert r.status_code == 200 and "broken-receipt.xml" not in r.text  # resolved files are hidden
        assert "误投文件" in client.get("/customs/quarantine", params={"resolved": "1"}).text

        from fastapi.testclient import TestClient

        with TestClient(app) as tenant:
            browser(tenant, world.a.users["admin"])
            assert "broken-receipt.xml" not in tenant.get("/customs/quarantine", params={"resolved": "1"}).text
            assert tenant.get(f"/customs/quarantine/{item_id}/file").status_code == 404


class TestRoles:
    def test_viewer_sees_no_write_buttons_and_gets_403(self, client, db, world, exporter):
        decl = create(db, exporter, body_9810(world))
        token = browser(client, exporter.users["viewer"])
        listing = client.get("/customs").text
        assert 'data-action="new-declaration"' not in listing and decl.cop_no in listing
        page = client.get(f"/customs/{decl.id}").text
        for action in ("submit", "edit", "delete", "cancel"):
            assert f'data-action="{action}"' not in page
        assert client.get("/customs/new").status_code == 403
        assert client.get(f"/customs/{decl.id}/edit").status_code == 403
        for path in ("submit", "delete", "cancel", "edit"):
            r = client.post(f"/customs/{decl.id}/{path}", data={"csrf_token": token, "reason": "x"})
            assert r.status_code == 403, path
        assert client.post("/customs", data={**form_9810(world), "csrf_token": token}).status_code == 403
        assert client.post("/customs/summaries", data={"csrf_token": token, "month": "2026-10"}).status_code == 403
        assert load(db, exporter, decl.id)[0].status == DeclarationStatus.DRAFT and count(db, Declaration) == 1

    def test_post_without_csrf_is_refused(self, client, db, world, exporter):
        decl = create(db, exporter, body_9810(world))
        browser(client, exporter.users["admin"])
        assert client.post(f"/customs/{decl.id}/submit", data={}).status_code == 403
        assert load(db, exporter, decl.id)[0].status == DeclarationStatus.DRAFT

    def test_regulator_has_no_customs_pages(self, client, world):
        client.headers.update(HTML)
        page_login(client, world.regulator)
        assert client.get("/customs").status_code == 403
        assert client.get("/customs/quarantine").status_code == 403


class TestOtherTenants:
    def test_ids_of_another_tenant_are_404(self, client, db, world, exporter, folders, sim):
        decl = create(db, exporter, body_9810(world))
        submit(db, exporter, decl.id)
        exchange_round(db, folders, sim)
        with db.transaction(write=False) as s:
            message_id = DeclarationRepository(s, principal_of(exporter)).messages(decl.id)[0].id
        token = browser(client, world.b.users["admin"])
        assert decl.cop_no not in client.get("/customs").text
        for url in (f"/customs/{decl.id}", f"/customs/{decl.id}/edit", f"/customs/messages/{message_id}",
                    f"/customs/messages/{message_id}/download"):
            r = client.get(url)
            assert r.status_code == 404, url
            assert decl.cop_no not in r.text
        for url in (f"/customs/{decl.id}/submit", f"/customs/{decl.id}/cancel", f"/customs/{decl.id}/delete",
                    f"/customs/{decl.id}/edit"):
            assert client.post(url, data={"csrf_token": token, "reason": "x"}).status_code == 404, url
        assert load(db, exporter, decl.id)[0].status == DeclarationStatus.CLOSED
