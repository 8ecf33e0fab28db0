"""Rebate claim pages (SQLite and PostgreSQL), on exports built through the real services: the document chain
lists every exported line with the missing piece named and filters; a draft claim made from it is the claim
the API makes of the same lines; a claim shows every figure of its formula and moves draft → declared →
approved (or rejected, reconciled) through its buttons, a refusal showing the service's message with nothing
kept; proceeds evidence (视同收汇) completes a chain; returns make repayments due and a certificate records
them. A viewer sees no button and is refused a POST; another tenant's claim is 404."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from tests.factories import bearer, csrf_from, page_login
from tests.tax.test_claims import BATTERY, BLOUSE, LAMP, SCARF, Exporter, mugs  # noqa: F401  (mugs: an approved HWC-YT)
from tradeloop.tax import claims, rebate
from tradeloop.tax.claim_models import ProceedsEvidence, RebateClaim, RebateRepayment

COMPARED = ("method", "business_type", "period", "refund_minor", "levy_rate", "rebate_rate", "fob_cny_minor")
LINE_FIELDS = ("declaration_line_id", "qty", "units_before", "levy_rate", "rebate_rate", "invoice_amount_minor",
               "invoice_vat_minor", "fob_minor", "refund_minor", "proceeds", "business_type")


@pytest.fixture
def ex(db, world, tmp_path):
    return Exporter(db, world, tmp_path)


def browser_for(app, username: str) -> TestClient:
    c = TestClient(app)
    page_login(c, username)
    c.headers["Accept"] = "text/html"
    return c


@pytest.fixture
def admin(app, world):
    return browser_for(app, world.a.users["admin"])


@pytest.fixture
def viewer(app, world):
    return browser_for(app, world.a.users["viewer"])


def rows_of(html: str, table: str) -> list[str]:
    body = re.search(rf'<table class="data[^"]*" id="{table}">(.*?)</table>', html, re.S).group(1)
    return re.findall(r'<tr data-(?:line|id)="([^"]+)"', body)


def value(html: str, attr: str, key: str) -> str:
    found = re.search(rf'{attr}="{re.escape(key)}"[^>]*>(.*?)</', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def post(c: TestClient, url: str, data: dict | list, page: str = "/tax/claims"):
    token = csrf_from(c.get(page).text)
    if isinstance(data, list):  # repeated fields (the chosen lines)
        pairs, data = data, {}
        for k, v in pairs:
            data.setdefault(k, []).append(v)
    return c.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def sold_and_paid(ex):
    """Lamps (13 %) and batteries (9 %) exported 2025-05, invoiced, sold and paid in 2025-06 (domain.md §3.4
    Ex. 1); and a declaration customs has not summarised yet (no 报关单号)."""
    _d1, (lamps,) = ex.export([(LAMP, 1000, "20")], date(2025, 5, 6))
    _d2, (scarves, _blouses) = ex.export([(SCARF, 10, "10"), (BLOUSE, 5, "30")], date(2025, 5, 7))
    _d3, (no_entry,) = ex.export([(LAMP, 10, "20")], date(2025, 5, 8), entry=False)
    ex.invoice(lamps, "100000.00")
    ex.invoice(scarves, "500.00")
    ex.receive([lamps, scarves], "2025-05-20")
    ex.sell([("111-0000001-0000001", "2025-06-02", LAMP, 1000)])
    ex.sell([("111-0000002-0000002", "2025-06-03", SCARF, 6)], paid=False)
    return lamps, scarves, no_entry


class TestCandidates:
    def test_chain_filters_and_a_draft_equal_to_the_apis(self, ex, admin, app, world, db):
        lamps, scarves, no_entry = sold_and_paid(ex)
        params = {"method": "trader", "business_type": "normal", "period": "2025-06"}
        page = admin.get("/tax/candidates", params=params)
        assert page.status_code == 200, page.text
        shown = rows_of(page.text, "candidates")
        assert {str(lamps.id), str(scarves.id), str(no_entry.id)} <= set(shown)
        assert value(page.text, "data-summary", "ready") and 'id="claim-form"' in page.text
        lamp_row = re.search(rf'<tr data-line="{lamps.id}" data-complete="1".*?</tr>', page.text, re.S).group(0)
        assert 'name="line"' in lamp_row and "13% / 13%" in lamp_row and "130,000.00 CNY" not in lamp_row
        assert "13,000.00 CNY" in lamp_row  # the estimate: 100,000 × 13 %
        blocked = re.search(rf'<tr data-line="{no_entry.id}".*?</tr>', page.text, re.S).group(0)
        assert 'data-complete="0"' in blocked and 'name="line"' not in blocked
        assert 'class="missing-piece blocking" data-piece="declaration"' in blocked
        assert "缺少出口报关单号" in blocked  # the service's own message, in red
        unpaid = re.search(rf'<tr data-line="{scarves.id}".*?</tr>', page.text, re.S).group(0)
        assert 'data-piece="proceeds"' in unpaid and "6 件已售商品尚未收汇" in unpaid

        assert rows_of(admin.get("/tax/candidates", params={**params, "show": "ready"}).text,
                       "candidates") == [str(lamps.id)]
        assert rows_of(admin.get("/tax/candidates", params={**params, "piece": "declaration"}).text,
                       "candidates") == [str(no_entry.id)]
        assert rows_of(admin.get("/tax/candidates", params={**params, "q": SCARF.lower()}).text,
                       "candidates") == [str(scarves.id)]
        paged = admin.get("/tax/candidates", params={**params, "per_page": 20, "page": 9}).text
        assert rows_of(paged, "candidates") == shown and 'data-page="next"' not in paged  # past the end: the last

        created = post(admin, "/tax/claims", [("method", "trader"), ("business_type", "normal"),
                                              ("claim_period", "2025-06"), ("line", str(lamps.id)),
                                              ("qty-" + str(lamps.id), "")], page="/tax/candidates")
        assert created.status_code == 303, created.text
        claim_id = created.headers["location"].rsplit("/", 1)[1]
        api = TestClient(app)
        api.headers.update(bearer(world.a.keys["write"]))
        from_page = api.get(f"/api/v1/tax/claims/{claim_id}").json()
        assert from_page["status"] == "draft" and from_page["refund_minor"] == 1_300_000
        # withdrawn, the same lines through the API give the same claim
        assert post(admin, f"/tax/claims/{claim_id}/reject", {"reason": "重做"}).status_code == 303
        r = api.post("/api/v1/tax/claims", json={"method": "trader", "business_type": "normal", "period": "2025-06",
                                                 "lines": [{"declaration_line_id": str(lamps.id)}]})
        assert r.status_code == 201, r.text
        from_api = r.json()
        assert {k: from_page[k] for k in COMPARED} == {k: from_api[k] for k in COMPARED}
        assert [{k: li[k] for k in LINE_FIELDS} for li in from_page["lines"]] == \
            [{k: li[k] for k in LINE_FIELDS} for li in from_api["lines"]]

    def test_a_refused_line_shows_the_piece_and_nothing_is_made(self, ex, admin, db):
        lamps, scarves, _no_entry = sold_and_paid(ex)
        r = post(admin, "/tax/claims", [("method", "trader"), ("business_type", "normal"),
                                        ("claim_period", "2025-06"), ("line", str(lamps.id)),
                                        ("line", str(scarves.id)), ("qty-" + str(scarves.id), "2")],
                 page="/tax/candidates")
        assert r.status_code == 422 and 'id="line-errors"' in r.text
        assert "尚未收汇" in r.text and 'role="alert"' in r.text
        assert f'value="{lamps.id}" aria-label' in r.text  # the choice is kept
        with db.transaction(write=False) as s:
            assert s.scalars(select(RebateClaim)).all() == []
        bad = post(admin, "/tax/claims", [("method", "manufacturer"), ("business_type", "normal"),
                                          ("claim_period", "2025-6"), ("line", str(lamps.id)),
                                          ("domestic_output_vat", "1.234")], page="/tax/candidates")
        assert bad.status_code == 422
        assert 'data-error-for="claim_period"' in bad.text and 'data-error-for="domestic_output_vat"' in bad.text

    def test_proceeds_evidence_completes_the_chain(self, ex, admin, db):
        _lamps, scarves, _no_entry = sold_and_paid(ex)
        params = {"method": "trader", "business_type": "normal", "period": "2025-06"}
        page = admin.get("/tax/candidates", params={**params, "evidence_line": str(scarves.id)}).text
        assert f'<option value="{scarves.id}" selected' in page
        back = "method=trader&business_type=normal&period=2025-06"
        refused = post(admin, "/tax/proceeds-evidence", {"declaration_line_id": str(scarves.id), "kind": "deemed",
                                                         "reason": "", "back": back}, page="/tax/candidates")
        assert refused.status_code == 422 and 'data-error-for="reason"' in refused.text
        ok = post(admin, "/tax/proceeds-evidence", {"declaration_line_id": str(scarves.id), "kind": "deemed",
                                                    "reason": "平台放款延迟，按视同收汇办理", "reference": "SQ-1",
                                                    "back": back}, page="/tax/candidates")
        assert ok.status_code == 303 and ok.headers["location"] == f"/tax/candidates?{back}"
        after = admin.get("/tax/candidates", params=params).text
        row = re.search(rf'<tr data-line="{scarves.id}".*?</tr>', after, re.S).group(0)
        assert 'data-complete="1"' in row and 'data-proceeds="deemed"' in row
        with db.transaction(write=False) as s:
            evidence = s.scalar(select(ProceedsEvidence))
        assert f'data-evidence="{evidence.id}"' in after
        gone = post(admin, f"/tax/proceeds-evidence/{evidence.id}/delete", {"back": back}, page="/tax/candidates")
        assert gone.status_code == 303
        with db.transaction(write=False) as s:
            assert s.scalar(select(ProceedsEvidence)) is None


class TestClaim:
    def test_figures_status_buttons_files_and_list(self, ex, admin, db):
        lamps, _scarves, _no_entry = sold_and_paid(ex)
        claim = ex.claim([(lamps, None)])
        url = f"/tax/claims/{claim.id}"
        page = admin.get(url).text
        expected = rebate.trader(rebate.money(100000), rebate.rate("r", "13%"), rebate.rate("l", "13%")).figures()
        for name in ("购进出口货物增值税专用发票注明的金额", "出口退税率", "征税率", "增值税应退税额",
                     "不得退税额(进项税额转出)"):
            assert value(page, "data-value", name) == expected[name]
        assert 'data-action="declare"' in page and 'data-action="approve"' not in page
        admin.cookies.set("lang", "en")
        english = admin.get(url).text
        assert "VAT refund due" in english and "增值税应退税额" in english and "Mark as declared" in english
        admin.cookies.set("lang", "zh_CN")
        assert 'data-action="file-purchases"' in page and value(page, "data-status", "draft")

        assert post(admin, f"{url}/declare", {}).status_code == 303
        page = admin.get(url).text
        assert 'data-status="declared"' in page and 'data-action="approve"' in page
        too_much = post(admin, f"{url}/approve", {"approved_amount": "13000.01", "approved_on": "2025-07-10"})
        assert too_much.status_code == 422 and 'data-error-for="approved_amount"' in too_much.text
        assert 'data-status="declared"' in too_much.text  # nothing applied
        assert post(admin, f"{url}/approve", {"approved_amount": "12,999.50",
                                              "approved_on": "2025-07-10"}).status_code == 303
        page = admin.get(url).text
        assert 'data-status="approved"' in page and "12,999.50 CNY" in page
        assert [a for a in re.findall(r'<li data-action="([^"]+)"', page)] == [
            "tax.claims.create", "tax.claims.declare", "tax.claims.approve"]
        assert 'id="claim-actions"' not in page  # a normal approved claim has nothing left to do
        again = post(admin, f"{url}/declare", {})
        assert again.status_code == 409 and "approved" in again.text

        f = admin.get(f"{url}/files/export-goods")
        assert f.status_code == 200 and "attachment" in f.headers["content-disposition"]
        ws = load_workbook(io.BytesIO(f.content)).active
        assert (ws.cell(1, 5).value, ws.cell(1, 12).value, ws.cell(2, 12).value) == ("出口报关单号", "出口数量", 1000)

        listed = admin.get("/tax/claims").text
        assert rows_of(listed, "claims") == [str(claim.id)]
        assert value(listed, "data-total", "approved") == "12,999.50 CNY"
        assert value(listed, "data-total", "claimed") == "13,000.00 CNY"
        assert 'id="chart-claims"' in listed
        assert rows_of(admin.get("/tax/claims", params={"status": "draft"}).text, "claims") == []
        assert rows_of(admin.get("/tax/claims", params={"status": "approved", "method": "trader",
                                                        "period": "2025-06"}).text, "claims") == [str(claim.id)]
        assert rows_of(admin.get("/tax/claims", params={"method": "manufacturer"}).text, "claims") == []
        assert rows_of(admin.get("/tax/claims", params={"period": "202507"}).text, "claims") == []

    def test_a_manufacturer_claim_shows_every_figure_of_example_2(self, ex, admin):
        """domain.md §3.4 Ex. 2 made on the page: FOB USD 50,000 at 7.10, output VAT 26,000, input VAT 60,000,
        13 %/9 %: the claim's figures are the calculator's."""
        ex.customs_rate("2025-05", "7.10")
        _d, (batteries,) = ex.export([(BATTERY, 1000, "50")], date(2025, 5, 6))
        ex.receive([batteries], "2025-05-20")
        ex.sell([("111-0000003-0000003", "2025-06-02", BATTERY, 1000)])
        page = admin.get("/tax/candidates", params={"method": "manufacturer", "period": "2025-06"}).text
        assert 'name="domestic_output_vat"' in page and "USD 7.1" in page
        r = post(admin, "/tax/claims", [("method", "manufacturer"), ("business_type", "normal"),
                                        ("claim_period", "2025-06"), ("line", str(batteries.id)),
                                        ("domestic_output_vat", "26,000"), ("input_vat", "60000.00"),
                                        ("opening_credit", "0")], page="/tax/candidates")
        assert r.status_code == 303, r.text
        shown = admin.get(r.headers["location"]).text
        expected = rebate.calculate(method="manufacturer", fob_cny="355000", domestic_output_vat="26000",
                                    input_vat="60000", opening_credit="0", levy_rate="13%", rebate_rate="9%").figures()
        for name, figure in expected.items():
            if name not in ("method", "计算方法", "当期免税购进原材料价格"):
                assert value(shown, "data-value", name) == figure, name
        assert value(shown, "data-value", "当期应退税额") == "19800.00" and 'data-action="file-purchases"' not in shown

    def test_reconcile_a_pre_rebate_and_the_overdue_flag(self, ex, admin, mugs):  # noqa: F811
        _line, claim = mugs
        url = f"/tax/claims/{claim.id}"
        page = admin.get(url).text
        assert 'data-flag="overdue"' in page and 'data-action="reconcile"' in page  # not reconciled by 2026-04-30
        early = post(admin, f"{url}/reconcile", {"as_of": "2025-03-31"})
        assert early.status_code == 422 and 'data-error-for="as_of"' in early.text
        assert post(admin, f"{url}/reconcile", {"as_of": "2026-04-30"}).status_code == 303
        page = admin.get(url).text
        assert 'data-outcome="repaid"' in page and value(page, "data-fact", "difference") == "1,300.00 CNY"
        assert 'data-flag="overdue"' not in page and 'data-action="reconcile"' not in page


class TestRepayments:
    def test_scan_then_record_the_certificate(self, ex, admin, db):
        export_day = claims.add_months(date.today(), -2)
        _d, (line, _b) = ex.export([(SCARF, 100, "10"), (BLOUSE, 1, "30")], export_day)
        ex.invoice(line, "10000.00")
        ex.receive([line], export_day.isoformat())
        claim = ex.claim([(line, None)], business_type="HWC-YT", period=claims.month_of(export_day))
        ex.approved(claim, 130_000, export_day)
        ex.lot_action(line, "return_to_origin", 10)
        assert 'data-action="scan"' in admin.get("/tax/repayments").text
        scan = post(admin, "/tax/repayments/scan", {}, page="/tax/repayments")
        assert scan.status_code == 200 and value(scan.text, "data-result", "created") == "1"
        with db.transaction(write=False) as s:
            rp = s.scalar(select(RebateRepayment))
        assert rows_of(scan.text, "repayments") == [str(rp.id)] and "130.00 CNY" in scan.text
        refused = post(admin, f"/tax/repayments/{rp.id}/repaid", {"certificate_no": "", "repaid_on": "2026-11-01"},
                       page="/tax/repayments")
        assert refused.status_code == 422 and 'data-error-for="repayment"' in refused.text
        done = post(admin, f"/tax/repayments/{rp.id}/repaid", {"certificate_no": "补税证明-1",
                                                              "repaid_on": date.today().isoformat()},
                    page="/tax/repayments")
        assert done.status_code == 303
        page = admin.get("/tax/repayments", params={"status": "repaid"}).text
        assert rows_of(page, "repayments") == [str(rp.id)] and "补税证明-1" in page
        assert "补税证明-1" in admin.get(f"/tax/claims/{claim.id}").text


class TestPermissionsAndTenancy:
    def test_a_viewer_sees_no_button_and_is_refused(self, ex, viewer, db, mugs):  # noqa: F811
        line, claim = mugs
        cands = viewer.get("/tax/candidates", params={"method": "trader", "business_type": "normal"})
        assert cands.status_code == 200 and str(line.id) in cands.text
        assert 'id="claim-form"' not in cands.text and 'name="line"' not in cands.text
        assert 'id="evidence-form"' not in cands.text
        page = viewer.get(f"/tax/claims/{claim.id}").text
        assert 'id="claim-actions"' not in page and 'data-action="reconcile"' not in page
        assert 'data-action="file-export-goods"' in page  # reading is allowed
        assert 'data-action="scan"' not in viewer.get("/tax/repayments").text
        assert 'data-action="new-claim"' not in viewer.get("/tax/claims").text
        r = post(viewer, "/tax/claims", [("method", "trader"), ("business_type", "HWC-YT"),
                                         ("claim_period", "2025-03"), ("line", str(line.id))])
        assert r.status_code == 403
        assert post(viewer, f"/tax/claims/{claim.id}/reconcile", {"as_of": "2026-04-30"}).status_code == 403
        assert post(viewer, "/tax/repayments/scan", {}).status_code == 403
        with db.transaction(write=False) as s:
            assert s.get(RebateClaim, (claim.enterprise_id, claim.id)).reconciled_on is None

    def test_another_tenants_claim_is_404(self, app, world, ex, mugs):  # noqa: F811
        line, claim = mugs
        other = browser_for(app, world.b.users["admin"])
        assert other.get(f"/tax/claims/{claim.id}").status_code == 404
        assert other.get(f"/tax/claims/{claim.id}/files/export-goods").status_code == 404
        assert post(other, f"/tax/claims/{claim.id}/reconcile", {"as_of": "2026-04-30"}).status_code == 404
        assert claim.number not in other.get("/tax/claims").text
        assert str(line.id) not in other.get("/tax/candidates", params={"business_type": "HWC-YT"}).text


class TestMethodOfTheEnterprise:
    def test_candidates_start_on_the_registered_method_and_say_when_the_other_is_shown(self, app, world):
        manufacturer = browser_for(app, world.a.users["admin"])  # kind manufacturer: 免抵退
        html = manufacturer.get("/tax/candidates").text
        assert re.search(r'<option value="manufacturer"\s+selected', html)
        assert 'id="method-mismatch"' not in html
        html = manufacturer.get("/tax/candidates?method=trader").text
        assert re.search(r'<option value="trader"\s+selected', html) and 'id="method-mismatch"' in html
        trader = browser_for(app, world.b.users["admin"])  # kind trader: 免退税
        html = trader.get("/tax/candidates").text
        assert re.search(r'<option value="trader"\s+selected', html) and 'id="method-mismatch"' not in html
