"""Proceeds & FX pages (SQLite and PostgreSQL): statement and settlement uploads with their results and refusals,
the bank entries with totals, the manual matching page (suggestions, match, undo, ignore), automatic matching,
FX settlements, and the exchange rates (chart, converter, admin loading). Every number a page shows is the
services' number; another tenant's ids give 404."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import csrf_from, page_login
from tradeloop.finance import rates, statements
from tradeloop.finance.money_models import BankEntry, FxSettlement, Payout, ReceiptMatch
from tradeloop.finance.payout_repository import PayoutRepository
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import system_principal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "finance"
AMAZON_REF = "18811220061"  # the settlement the camt.053.001.02 fixture's Amazon credit names


def client_for(app, username: str) -> TestClient:
    c = TestClient(app)
    page_login(c, username)
    c.headers["Accept"] = "text/html"
    return c


@pytest.fixture
def owner(app, world):
    return client_for(app, world.a.users["admin"])


def upload(c, url: str, name: str, **form):
    token = csrf_from(c.get(url).text)
    return c.post(url, data={"csrf_token": token, **form},
                  files={"file": (name, (FIXTURES / name).read_bytes(), "application/octet-stream")},
                  follow_redirects=False)


def post(c, url: str, page: str | None = None, **form):
    token = csrf_from(c.get(page or url).text)
    return c.post(url, data={"csrf_token": token, **form}, follow_redirects=False)


def minor(html: str, attribute: str, key: str, scope: str | None = None) -> int:
    """The minor units of the amount inside the element carrying ``attribute="key"`` (within ``scope``)."""
    if scope:
        html = re.search(rf'{scope}.*?</tr>', html, re.S).group(0)
    found = re.search(rf'{attribute}="{re.escape(key)}"[^>]*>\s*<span[^>]*data-minor="(-?\d+)"', html)
    assert found, f"{attribute}={key} not on the page"
    return int(found.group(1))


def text_of(html: str, attribute: str, key: str) -> str:
    found = re.search(rf'{attribute}="{re.escape(key)}"[^>]*>(.*?)</(?:dd|td|th|span|p)>', html, re.S)
    assert found, f"{attribute}={key} not on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def one(db, model, **where):
    with db.transaction(write=False) as s:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return s.scalar(stmt)


def entry_by_amount(db, world, amount_minor: int) -> BankEntry:
    return one(db, BankEntry, enterprise_id=world.a.enterprise.id, amount_minor=amount_minor)


@pytest.fixture
def imported(owner, db, world):
    """The camt.053.001.02 statement (EUR: Amazon 2345.67 and PayPal 1000.00 credits, a 12.50 fee and a 500.00
    rent debit) and the Amazon EUR settlement (1248.04), both through the pages."""
    assert upload(owner, "/finance/statements", "camt053_001_02.xml").status_code == 200
    assert upload(owner, "/finance/payouts", "settlement-amazon-v2-eur.txt", channel="amazon").status_code == 200
    return one(db, Payout, enterprise_id=world.a.enterprise.id)


class TestStatements:
    def test_upload_shows_counts_and_totals_then_the_list(self, owner, db):
        page = owner.get("/finance/statements")
        assert page.status_code == 200 and "银行对账单" in page.text and 'name="file"' in page.text
        r = upload(owner, "/finance/statements", "camt053_001_02.xml")
        assert r.status_code == 200, r.text[:500]
        with db.transaction(write=False) as s:
            expected = statements.totals(statements.read_file(s, filename="x", data=(
                FIXTURES / "camt053_001_02.xml").read_bytes()))
        assert expected == {"EUR": {"credit": 334567, "debit": 51250}}
        assert text_of(r.text, "data-result", "entries") == "4" and text_of(r.text, "data-result", "inserted") == "4"
        assert minor(r.text, "data-total", "credit", scope='data-currency="EUR"') == expected["EUR"]["credit"]
        assert minor(r.text, "data-total", "debit", scope='data-currency="EUR"') == expected["EUR"]["debit"]
        listed = owner.get("/finance/statements").text
        assert "camt053_001_02.xml" in listed and "DE89370400440532013000" in listed
        again = upload(owner, "/finance/statements", "camt053_001_02.xml")
        assert again.status_code == 200 and 'data-already="1"' in again.text
        assert text_of(again.text, "data-result", "duplicates") == "4"

    def test_a_refused_file_names_its_position(self, owner, db):
        data = (FIXTURES / "camt053_bad_total.xml").read_bytes()
        with pytest.raises(statements.StatementRejected) as err, db.transaction(write=False) as s:
            statements.read_file(s, filename="camt053_bad_total.xml", data=data)
        r = upload(owner, "/finance/statements", "camt053_bad_total.xml")
        assert r.status_code == 422 and 'id="statement-rejected"' in r.text
        assert err.value.position in r.text
        assert err.value.zh in r.text
        assert one(db, BankEntry) is None

    def test_viewer_sees_no_upload_form_and_cannot_post(self, app, world, owner):
        viewer = client_for(app, world.a.users["viewer"])
        page = viewer.get("/finance/statements")
        assert page.status_code == 200 and 'id="statement-form"' not in page.text
        r = upload(viewer, "/finance/statements", "camt053_001_02.xml")
        assert r.status_code == 403


class TestEntries:
    def test_list_filters_totals_and_export(self, owner, db, world, imported):
        page = owner.get("/finance/bank-entries")
        assert page.status_code == 200 and "收汇" in page.text and "自动匹配" in page.text
        with db.transaction(write=False) as s:
            rows = s.execute(select(BankEntry.direction, func.sum(BankEntry.amount_minor)).where(
                BankEntry.enterprise_id == world.a.enterprise.id).group_by(BankEntry.direction)).tuples().all()
        sums = dict(rows)
        assert minor(page.text, "data-total", "credit", scope='<tr data-currency="EUR"') == sums["credit"] == 334567
        assert minor(page.text, "data-total", "debit", scope='<tr data-currency="EUR"') == sums["debit"] == 51250
        assert page.text.count('<tr data-id="') == 4
        credits = owner.get("/finance/bank-entries", params={"direction": "credit"}).text
        assert credits.count('<tr data-id="') == 2
        found = owner.get("/finance/bank-entries", params={"q": AMAZON_REF}).text
        assert found.count('<tr data-id="') == 1 and "Amazon Payments Europe" in found
        assert owner.get("/finance/bank-entries", params={"status": "matched"}).text.count('<tr data-id="') == 0
        day = owner.get("/finance/bank-entries", params={"date_from": "2026-03-15"}).text
        assert day.count('<tr data-id="') == 0
        export = owner.get("/finance/bank-entries.xlsx", params={"direction": "credit"})
        assert export.status_code == 200 and export.content[:2] == b"PK"

    def test_english(self, owner, imported):
        owner.cookies.set("lang", "en")
        page = owner.get("/finance/bank-entries").text
        for word in ("Receipts", "Match automatically", "Credits", "Unmatched"):
            assert word in page, word


class TestManualMatching:
    def test_suggestion_match_undo_partial_and_ignore(self, owner, db, world, imported):
        payout = imported
        credit = entry_by_amount(db, world, 234567)
        url = f"/finance/bank-entries/{credit.id}"
        page = owner.get(url)
        assert page.status_code == 200 and 'id="entry-suggestions"' in page.text
        assert minor(page.text, "data-fact", "amount") == 234567
        assert f'data-payout="{payout.id}"' in page.text
        assert minor(page.text, "data-field", "open", scope=f'data-payout="{payout.id}"') == payout.total_minor
        assert minor(page.text, "data-field", "difference", scope=f'data-payout="{payout.id}"') == \
            payout.total_minor - 234567

        # one click: what both sides have open (the whole payout, part of the credit)
        r = post(owner, f"{url}/match", url, payout_id=str(payout.id))
        assert r.status_code == 303 and r.headers["location"] == url
        after = one(db, BankEntry, id=credit.id)
        assert (after.matched_minor, after.status) == (payout.total_minor, "partial")
        assert one(db, Payout, id=payout.id).status == "received"
        page = owner.get(url).text
        assert minor(page, "data-fact", "matched") == payout.total_minor
        assert minor(page, "data-fact", "remaining") == 234567 - payout.total_minor
        match = one(db, ReceiptMatch, bank_entry_id=credit.id)
        assert f'data-match="{match.id}"' in page

        # undo, then a part by hand; bad amounts are named next to their field
        assert post(owner, f"/finance/matches/{match.id}/undo", url).status_code == 303
        assert one(db, BankEntry, id=credit.id).matched_minor == 0 and one(db, Payout, id=payout.id).status == "open"
        bad = post(owner, f"{url}/match", url, payout_id=str(payout.id), amount="12.345")
        assert bad.status_code == 422 and 'data-error-for="amount"' in bad.text
        too_much = post(owner, f"{url}/match", url, payout_id=str(payout.id), amount="1300.00")
        assert too_much.status_code == 422 and 'data-error-for="payout_amount"' in too_much.text
        none = post(owner, f"{url}/match", url, amount="1.00")
        assert none.status_code == 422 and 'data-error-for="payout_id"' in none.text
        ok = post(owner, f"{url}/match", url, payout_id=str(payout.id), amount="100.00", payout_amount="100.50",
                  note="银行手续费0.50")
        assert ok.status_code == 303
        m = one(db, ReceiptMatch, bank_entry_id=credit.id)
        assert (m.amount_minor, m.payout_amount_minor, m.method, m.note) == (10000, 10050, "manual", "银行手续费0.50")
        assert one(db, Payout, id=payout.id).status == "partial"

        # ignore needs a reason and no matches; unignore opens it again
        paypal = entry_by_amount(db, world, 100000)
        purl = f"/finance/bank-entries/{paypal.id}"
        no_reason = post(owner, f"{purl}/ignore", purl, reason="")
        assert no_reason.status_code == 422 and 'data-error-for="reason"' in no_reason.text
        assert post(owner, f"{purl}/ignore", purl, reason="股东借款").status_code == 303
        assert one(db, BankEntry, id=paypal.id).status == "ignored"
        page = owner.get(purl).text
        assert 'data-action="unignore"' in page and 'id="entry-suggestions"' not in page
        assert post(owner, f"{purl}/unignore", purl).status_code == 303
        assert one(db, BankEntry, id=paypal.id).status == "unmatched"

    def test_auto_match_shows_its_counts(self, owner, db, world, imported):
        with db.transaction() as s:  # a payout the Amazon credit names, deposited the day before
            s.add(Payout(enterprise_id=world.a.enterprise.id, id=uuid7(), source="amazon", settlement_id=AMAZON_REF,
                         deposit_date=date(2026, 3, 13), currency="EUR", total_minor=234567, received_minor=0,
                         status="open"))
        r = post(owner, "/finance/bank-entries/auto-match", "/finance/bank-entries")
        assert r.status_code == 303
        page = owner.get(r.headers["location"]).text
        assert "自动匹配：查看2笔未结清入账，匹配1笔，共1条匹配记录（按附言 1）；1笔留待人工处理。" in page
        assert one(db, BankEntry, amount_minor=234567).status == "matched"


class TestPayouts:
    def test_upload_list_and_detail_show_the_services_numbers(self, owner, db, world, imported):
        payout = imported
        page = owner.get("/finance/payouts")
        assert page.status_code == 200 and f'data-id="{payout.id}"' in page.text
        assert minor(page.text, "data-field", "total", scope=f'data-id="{payout.id}"') == payout.total_minor == 124804
        assert owner.get("/finance/payouts", params={"status": "received"}).text.count('<tr data-id="') == 0
        assert owner.get("/finance/payouts", params={"status": "open"}).text.count('<tr data-id="') == 1
        detail = owner.get(f"/finance/payouts/{payout.id}")
        assert detail.status_code == 200
        with db.transaction(write=False) as s:
            repo = PayoutRepository(s, replace(system_principal(), enterprise_id=world.a.enterprise.id))
            by_kind = repo.totals_by_kind(payout.id)
            items = repo.items(payout.id)
        for kind, total in by_kind.items():
            assert minor(detail.text, "data-field", "total", scope=f'data-kind="{kind}"') == total, kind
        assert minor(detail.text, "data-fact", "total") == payout.total_minor
        assert text_of(detail.text, "data-fact", "linked_items") == f"{sum(1 for i in items if i.sales_line_id)} / " \
                                                                    f"{len(items)}"

    def test_a_file_with_bad_rows_lists_them(self, owner, db, world):
        r = upload(owner, "/finance/payouts", "settlement-amazon-bad-rows.txt", channel="amazon")
        assert r.status_code == 422 and 'id="import-errors"' in r.text and "data-row-error=" in r.text
        assert one(db, Payout) is None
        again = upload(owner, "/finance/payouts", "settlement-amazon-v2-eur.txt", channel="nobody")
        assert again.status_code == 422


class TestFxSettlements:
    def test_record_with_its_credit_and_refusals(self, owner, db, world, imported):
        credit = entry_by_amount(db, world, 234567)
        page = owner.get("/finance/fx-settlements", params={"entry": str(credit.id)})
        assert page.status_code == 200 and 'value="2345.67"' in page.text
        form = {"reference": "FX20260316-001", "settled_on": "2026-03-16", "currency": "EUR", "amount": "1000.00",
                "cny": "7843.20", "bank_entry_id": str(credit.id)}
        r = post(owner, "/finance/fx-settlements", **form)
        assert r.status_code == 303
        row = one(db, FxSettlement, reference="FX20260316-001")
        assert (row.amount_minor, row.cny_minor, row.rate, row.bank_entry_id) == (100000, 784320, Decimal("7.8432"),
                                                                                 credit.id)
        listed = owner.get("/finance/fx-settlements").text
        assert minor(listed, "data-field", "cny", scope='data-reference="FX20260316-001"') == 784320
        assert text_of(listed, "data-field", "rate") == "7.843200"
        twice = post(owner, "/finance/fx-settlements", **form)
        assert twice.status_code == 409 and "FX20260316-001" in twice.text
        bad = post(owner, "/finance/fx-settlements", **{**form, "reference": "FX2", "amount": "1.234",
                                                         "cny": "", "settled_on": "x"})
        assert bad.status_code == 422
        for field in ("amount", "cny", "settled_on"):
            assert f'data-error-for="{field}"' in bad.text, field
        too_much = post(owner, "/finance/fx-settlements", **{**form, "reference": "FX3", "amount": "2000.00"})
        assert too_much.status_code == 422 and 'data-error-for="amount"' in too_much.text


RATES_CSV = "日期,币种,汇率,单位\n2026-03-13,USD,7.1234,1\n2026-03-16,USD,7.1301,1\n2026-03-16,JPY,4.6123,100\n"


class TestRates:
    def test_admin_loads_users_read_chart_and_convert(self, app, db, world, owner):
        admin = client_for(app, world.platform_admin)
        page = admin.get("/finance/rates")
        assert page.status_code == 200 and 'id="ecb-form"' in page.text and 'data-nav="rates"' in page.text
        token = csrf_from(page.text)
        r = admin.post("/finance/rates/import", data={"csrf_token": token, "source": "cfets"},
                       files={"file": ("cfets.csv", RATES_CSV.encode(), "text/csv")}, follow_redirects=False)
        assert r.status_code == 303
        bad = admin.post("/finance/rates/import", data={"csrf_token": token, "source": "cfets"},
                         files={"file": ("bad.csv", b"date,currency,rate\n2026-03-13,USD,-1\n", "text/csv")})
        assert bad.status_code == 422 and 'data-row-error="2"' in bad.text
        ecb = admin.post("/finance/rates/ecb", data={"csrf_token": token, "since": "2026-03-09",
                                                     "until": "2026-03-13"}, follow_redirects=False)
        assert ecb.status_code == 303 and "欧洲央行参考汇率已载入" in admin.get("/finance/rates").text

        page = owner.get("/finance/rates", params={"currency": "USD"})
        assert page.status_code == 200 and 'id="ecb-form"' not in page.text and 'id="chart-rates"' in page.text
        chart = re.search(r"var data = (\{.*?\});", page.text).group(1)
        assert '"key": "cfets"' in chart and '["2026-03-13", 7.1234]' in chart and '"key": "ecb"' in chart
        assert owner.post("/finance/rates/ecb", data={"csrf_token": csrf_from(page.text)}).status_code == 403

        # a Sunday takes Friday's publication; the page says which, and under which rule
        conv = owner.get("/finance/rates", params={"c_currency": "USD", "c_day": "2026-03-15", "c_rule": "sale_date",
                                                   "c_amount": "1000"}).text
        with db.transaction(write=False) as s:
            expected = rates.conversion(s, "USD", date(2026, 3, 15))
        assert (expected.source, expected.rate_day, expected.rate) == ("cfets", date(2026, 3, 13), Decimal("7.1234"))
        assert text_of(conv, "data-conv", "rate") == "7.1234"
        assert text_of(conv, "data-conv", "rate_day") == "2026-03-13"
        assert "CFETS" in text_of(conv, "data-conv", "source")
        amount_cny = (Decimal(1000) * expected.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert text_of(conv, "data-conv", "amount_cny") == f"1,000 USD = {amount_cny:,.2f} CNY"
        assert rates.RULES["sale_date"][1] in conv
        missing = owner.get("/finance/rates", params={"c_currency": "USD", "c_day": "2026-03-15",
                                                      "c_rule": "customs_month"}).text
        assert 'data-missing="1"' in missing and "汇率缺失" in missing
        wrong = owner.get("/finance/rates", params={"c_currency": "XX", "c_day": "nope"}).text
        assert 'data-error-for="c_currency"' in wrong and 'data-error-for="c_day"' in wrong


class TestAnotherTenant:
    def test_id_pages_are_404_and_lists_hold_nothing(self, app, db, world, imported):
        credit = entry_by_amount(db, world, 234567)
        other = client_for(app, world.b.users["admin"])
        token = csrf_from(other.get("/finance/bank-entries").text)
        assert other.get(f"/finance/bank-entries/{credit.id}").status_code == 404
        assert other.get(f"/finance/payouts/{imported.id}").status_code == 404
        assert other.get("/finance/fx-settlements", params={"entry": str(credit.id)}).status_code == 404
        r = other.post(f"/finance/bank-entries/{credit.id}/match", data={"csrf_token": token,
                                                                         "payout_id": str(imported.id)})
        assert r.status_code == 404
        assert other.post(f"/finance/bank-entries/{credit.id}/ignore",
                          data={"csrf_token": token, "reason": "x"}).status_code == 404
        for url in ("/finance/bank-entries", "/finance/payouts", "/finance/statements"):
            page = other.get(url).text
            assert AMAZON_REF not in page and "23456789012" not in page and "DE89370400440532013000" not in page
