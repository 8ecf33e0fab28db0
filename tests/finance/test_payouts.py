"""Platform payouts: Amazon Settlement Report V2, PayPal STL and payment-firm CSV profiles — parsing, item kinds,
money that never drifts, idempotency, links to sales lines, the API, the CLI and tenancy (both databases)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.factories import bearer
from tests.sales.conftest import do_import, make_seller
from tradeloop.audit.models import AuditLog
from tradeloop.finance import payouts
from tradeloop.finance.money_models import ItemKind, Payout, PayoutItem
from tradeloop.finance.parsers import amazon_settlement, paypal, profiles
from tradeloop.finance.payout_cli import settlement_command
from tradeloop.kit.errors import Forbidden
from tradeloop.kit.tables import ImportRejected
from tradeloop.kit.tenancy import Principal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "finance"
USD, EUR = "settlement-amazon-v2-usd.txt", "settlement-amazon-v2-eur.txt"
STL = "paypal-stl-20260120.01.009.csv"
PINGPONG = "payout-pingpong-starter.csv"


@pytest.fixture
def seller(db):
    return make_seller(db)


@pytest.fixture
def sold(db, seller):
    """The seller with the sales fixture's Amazon orders imported (the lines payout items link to)."""
    do_import(db, seller, "amazon_all_orders.txt", "amazon")
    return seller


def run(db, principal, name: str | bytes, channel: str, filename: str | None = None) -> payouts.SettlementImport:
    data = name if isinstance(name, bytes) else (FIXTURES / name).read_bytes()
    with db.transaction() as s:
        return payouts.import_settlement(s, principal=principal, filename=filename or str(name)[:40], data=data,
                                         channel=channel)


def stored(db, enterprise_id) -> list[tuple[Payout, list[PayoutItem]]]:
    with db.transaction(write=False) as s:
        out = []
        for p in s.scalars(select(Payout).where(Payout.enterprise_id == enterprise_id).order_by(Payout.settlement_id)):
            items = list(s.scalars(select(PayoutItem).where(PayoutItem.payout_id == p.id)
                                   .order_by(PayoutItem.line_no)))
            out.append((p, items))
        return out


def assert_sums_equal_totals(db, enterprise_id) -> None:
    """Money never drifts: the items of every stored payout (transfers excepted) add up to its total."""
    for payout, items in stored(db, enterprise_id):
        assert sum(i.amount_minor for i in items if i.kind != ItemKind.TRANSFER) == payout.total_minor, \
            payout.settlement_id


def audit_rows(db, action="finance.settlement.import") -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action))


class TestAmazonSettlement:
    def test_usd_report_kinds_totals_and_links(self, db, sold):
        result = run(db, sold.principal, USD, "amazon")
        assert result.as_cli() == {"source": "amazon", "payouts": 1, "items": 35, "inserted": 1, "updated": 0,
                                   "unchanged": 0, "linked_items": 27,
                                   "totals": {"USD": {"credit": 50902, "debit": 32188}}}
        [(payout, items)] = stored(db, sold.enterprise.id)
        assert (payout.source, payout.settlement_id, payout.currency, payout.total_minor) == \
            ("amazon", "12345678901", "USD", 18714)
        assert payout.deposit_date == date(2026, 1, 30) and payout.marketplace == "Amazon.com"
        assert payout.period_start == datetime(2026, 1, 14, 8, tzinfo=UTC)
        assert payout.status == "open" and payout.received_minor == 0
        by_row = {i.line_no: i for i in items}
        assert [by_row[n].kind for n in (3, 4, 5, 6, 7, 10, 27, 28, 29, 32, 33, 34, 35, 36, 37)] == [
            "principal", "tax", "tax", "promotion", "fee", "shipping", "refund", "tax", "fee", "reserve", "reserve",
            "fee", "fee", "adjustment", "fee"]
        assert by_row[27].amount_minor == -1999 and by_row[27].transaction_type == "Refund"  # sign as in the file
        assert by_row[3].posted_at == datetime(2026, 1, 17, 12, tzinfo=UTC) and by_row[3].quantity == 2
        lines = {(li.external_order_id, li.sku): li.id for li in _sales_lines(db, sold)}
        assert by_row[3].sales_line_id == lines[("111-0000001-0000001", "SILK-SCARF-01")]
        assert by_row[27].sales_line_id == lines[("111-0000001-0000001", "SILK-TIE-02")]
        assert by_row[23].sales_line_id == lines[("113-0000005-0000005", "MYSTERY-SKU-9")]
        assert by_row[25].sales_line_id is None  # order 114-… was never imported
        assert by_row[34].sales_line_id is None and by_row[34].order_id is None
        assert_sums_equal_totals(db, sold.enterprise.id)

    def test_eur_report_with_dotted_utc_dates_and_decimal_comma(self, db, sold):
        result = run(db, sold.principal, EUR, "amazon")
        assert (result.items, result.linked_items) == (13, 9)
        [(payout, items)] = stored(db, sold.enterprise.id)
        assert (payout.currency, payout.total_minor, payout.marketplace) == ("EUR", 124804, "Amazon.de")
        assert payout.period_end == datetime(2026, 1, 28, 8, tzinfo=UTC) and payout.deposit_date == date(2026, 1, 30)
        assert {i.line_no: i.amount_minor for i in items}[15] == 123456  # "1234,56"
        assert items[5].posted_at == datetime(2026, 1, 24, 14, 2, 51, tzinfo=UTC)
        assert_sums_equal_totals(db, sold.enterprise.id)

    def test_same_file_twice_changes_nothing(self, db, sold):
        run(db, sold.principal, USD, "amazon")
        before = stored(db, sold.enterprise.id)
        again = run(db, sold.principal, USD, "amazon")
        assert (again.inserted, again.updated, again.unchanged, again.linked_items) == (0, 0, 1, 27)
        after = stored(db, sold.enterprise.id)
        assert [(i.id, i.amount_minor, i.sales_line_id) for i in after[0][1]] == \
            [(i.id, i.amount_minor, i.sales_line_id) for i in before[0][1]]
        assert after[0][0].updated_at == before[0][0].updated_at
        assert audit_rows(db) == 2  # each import is recorded once

    def test_a_reissued_settlement_replaces_its_items(self, db, sold):
        run(db, sold.principal, USD, "amazon")
        [(first, _items)] = stored(db, sold.enterprise.id)
        with db.transaction() as s:  # as the matching service records a partial receipt
            s.get(Payout, (first.enterprise_id, first.id)).received_minor = 10000
        text = (FIXTURES / USD).read_text()
        text = text.replace("\t187.14\t", "\t186.14\t").replace("\t-6.78\t", "\t-7.78\t")
        result = run(db, sold.principal, text.encode(), "amazon", filename="reissued.txt")
        assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
        [(payout, items)] = stored(db, sold.enterprise.id)
        assert payout.id == first.id and payout.total_minor == 18614 and payout.filename == "reissued.txt"
        assert payout.received_minor == 10000 and payout.status == "partial"
        assert {i.line_no: i.amount_minor for i in items}[37] == -778 and len(items) == 35
        assert_sums_equal_totals(db, sold.enterprise.id)

    def test_links_to_sales_imported_later(self, db, seller):
        first = run(db, seller.principal, USD, "amazon")
        assert first.linked_items == 0
        do_import(db, seller, "amazon_all_orders.txt", "amazon")
        again = run(db, seller.principal, USD, "amazon")
        assert (again.unchanged, again.linked_items) == (1, 27)
        assert sum(1 for i in stored(db, seller.enterprise.id)[0][1] if i.sales_line_id) == 27

    @pytest.mark.parametrize(("name", "expected"), [
        ("settlement-amazon-missing-column.txt", [(1, "amount-type")]),
        ("settlement-amazon-total-mismatch.txt", [(2, "total-amount")]),
        ("settlement-amazon-bad-rows.txt", [(6, "amount"), (9, "quantity-purchased"), (12, "posted-date")]),
    ])
    def test_malformed_files_are_refused_with_their_rows_and_nothing_is_applied(self, db, sold, name, expected):
        with pytest.raises(ImportRejected) as err:
            run(db, sold.principal, name, "amazon")
        assert [(e.row, e.column) for e in err.value.row_errors] == expected
        assert all(e.message_en and e.message_zh for e in err.value.row_errors)
        assert stored(db, sold.enterprise.id) == [] and audit_rows(db) == 0
        if "mismatch" in name:
            assert "difference -27" in err.value.row_errors[0].message_en

    def test_other_layouts_and_undecodable_files_are_refused(self, db, sold):
        with pytest.raises(ImportRejected) as err:
            run(db, sold.principal, (FIXTURES / STL).read_bytes(), "amazon")
        assert err.value.row_errors[0].row == 1
        with pytest.raises(ImportRejected):
            run(db, sold.principal, b"\xff\xfe\x00\x81\x00", "amazon")
        with pytest.raises(ImportRejected) as err:
            run(db, sold.principal, USD, "ebay")
        assert err.value.row_errors[0].column == "channel"

    def test_viewer_may_not_import(self, db, sold):
        viewer = Principal(kind="user", label="v", enterprise_id=sold.enterprise.id, role="viewer")
        with pytest.raises(Forbidden):
            run(db, viewer, USD, "amazon")


class TestPayPal:
    def test_stl_sections_per_currency_with_fees_and_t_codes(self, db, seller):
        result = run(db, seller.principal, STL, "paypal")
        assert result.as_cli() == {"source": "paypal", "payouts": 2, "items": 10, "inserted": 2, "updated": 0,
                                   "unchanged": 0, "linked_items": 0,
                                   "totals": {"USD": {"credit": 9065, "debit": 2820},
                                              "EUR": {"credit": 12000, "debit": 378}}}
        (eur, eur_items), (usd, usd_items) = stored(db, seller.enterprise.id)
        assert usd.settlement_id == "MERCHANT7QZ3K:20260120-20260120:USD" and usd.total_minor == 6245
        assert eur.total_minor == 11622 and usd.deposit_date == date(2026, 1, 20)
        kinds = {i.line_no: (i.kind, i.amount_minor) for i in usd_items}
        assert kinds == {5: ("principal", 5998), -5: ("fee", -204), 6: ("principal", 2999), -6: ("fee", -117),
                         8: ("refund", -1999), -8: ("fee", 68), 9: ("reserve", -500), 10: ("transfer", -10000)}
        assert {i.order_id for i in usd_items if i.line_no in (5, 8)} == {"SHOP-1001"}
        assert usd_items[0].posted_at == datetime(2026, 1, 20, 23, 0, tzinfo=UTC)  # 15:00 -0800
        assert_sums_equal_totals(db, seller.enterprise.id)
        again = run(db, seller.principal, STL, "paypal")
        assert (again.inserted, again.unchanged) == (0, 2)

    def test_signed_or_undirected_amounts_are_refused(self, db, seller):
        text = (FIXTURES / STL).read_text()
        bad = text.replace('"CR",2999,', '"CR",-2999,').replace('"DR",500,"USD"', '"XX",500,"USD"')
        with pytest.raises(ImportRejected) as err:
            run(db, seller.principal, bad.encode("utf-8-sig"), "paypal")
        assert [(e.row, e.column) for e in err.value.row_errors] == [
            (6, "Gross Transaction Amount"), (9, "Gross Transaction Debit or Credit")]
        assert stored(db, seller.enterprise.id) == []

    def test_t_code_kinds(self):
        assert [paypal.kind_of(c) for c in ("T0006", "T0400", "T1107", "T1105", "T1201", "T1503", "T0101",
                                            "T9999")] == [ItemKind.PRINCIPAL, ItemKind.TRANSFER, ItemKind.REFUND,
                                                          ItemKind.RESERVE, ItemKind.REFUND, ItemKind.RESERVE,
                                                          ItemKind.FEE, ItemKind.OTHER]


class TestProfiles:
    def test_starter_pingpong_layout_in_gb18030(self, db, sold):
        result = run(db, sold.principal, PINGPONG, "pingpong")
        assert (result.source, result.payouts, result.items, result.linked_items) == ("pingpong", 2, 7, 2)
        (eur, eur_items), (usd, usd_items) = sorted(stored(db, sold.enterprise.id), key=lambda p: p[0].currency)
        assert (usd.settlement_id, usd.total_minor, usd.deposit_date) == ("PP20260201001", 118799, date(2026, 2, 2))
        assert [(i.line_no, i.kind, i.amount_minor) for i in usd_items] == [
            (-3, "fee", -251), (-2, "fee", -1000), (2, "principal", 100000), (3, "principal", 25050),
            (4, "refund", -5000)]
        # 111-0000003-0000003 has two lines and the row no SKU: not linked; 302-… has one line: linked
        assert not any(i.sales_line_id for i in usd_items) and all(i.sales_line_id for i in eur_items)
        assert usd_items[2].posted_at == datetime(2026, 2, 1, 2, tzinfo=UTC)  # Asia/Shanghai
        assert_sums_equal_totals(db, sold.enterprise.id)

    def test_net_that_is_not_gross_minus_fees_is_refused(self, db, seller):
        text = (FIXTURES / PINGPONG).read_bytes().decode("gb18030").replace("247.99", "248.99")
        with pytest.raises(ImportRejected) as err:
            run(db, seller.principal, text.encode("utf-8"), "pingpong")
        assert [(e.row, e.column) for e in err.value.row_errors] == [(3, "到账金额")]

    def test_a_saved_profile_replaces_the_starter_and_reads_decimal_commas(self, db, seller):
        with db.transaction() as s:
            payouts.create_profile(s, principal=seller.principal, data={
                "name": "payoneer", "columns": {"payout_id": "Auszahlung", "date": "Datum", "gross": "Brutto",
                                                "fees": "Gebühr", "net": "Netto", "type": "Art"},
                "date_format": "%d.%m.%Y", "decimal_comma": True, "default_currency": "EUR",
                "type_map": {"Rückbuchung": "refund"}})
        data = ("Auszahlung;Datum;Art;Brutto;Gebühr;Netto\nP-1;03.02.2026;Zahlung;1.234,50;-12,35;1.222,15\n"
                "P-1;04.02.2026;Rückbuchung;-10,00;0,00;-10,00\n").replace(";", "\t").encode()
        result = run(db, seller.principal, data, "payoneer")
        [(payout, items)] = stored(db, seller.enterprise.id)
        assert (result.payouts, payout.currency, payout.total_minor) == (1, "EUR", 121215)
        assert [(i.line_no, i.kind, i.amount_minor) for i in items] == [
            (-2, "fee", -1235), (2, "principal", 123450), (3, "refund", -1000)]

    def test_profile_checks(self, db, seller):
        from tradeloop.kit.errors import ValidationFailed

        with pytest.raises(ValidationFailed) as err, db.transaction() as s:
            payouts.create_profile(s, principal=seller.principal, data={
                "name": "Amazon", "columns": {"date": "d", "bogus": "x"}, "sign_convention": "both",
                "date_format": "yyyy", "timezone": "Mars/Base", "type_map": {"x": "gift"}})
        fields = {e.field for e in err.value.errors}
        assert {"name", "columns.bogus", "columns.payout_id", "columns.gross", "columns.currency",
                "sign_convention", "date_format", "timezone", "type_map.x"} <= fields

    def test_builtin_starter_layouts_are_valid(self):
        for spec in profiles.BUILTIN_PROFILES.values():
            assert profiles.check_spec(spec) == [], spec.name


# --- money never drifts (parser property) ----------------------------------------------------------------

_HEADER = "\t".join(amazon_settlement.COLUMNS)


def _v2(sid: str, amounts: list[int], total: int) -> bytes:
    cols = amazon_settlement.COLUMNS

    def row(**cells) -> str:
        return "\t".join(cells.get(c.replace("-", "_"), "") for c in cols)

    lines = [_HEADER, row(settlement_id=sid, settlement_start_date="2026-01-01T00:00:00+00:00",
                          settlement_end_date="2026-01-15T00:00:00+00:00", deposit_date="2026-01-17T00:00:00+00:00",
                          total_amount=str(Decimal(total).scaleb(-2)), currency="USD")]
    for n, a in enumerate(amounts):
        lines.append(row(settlement_id=sid, currency="USD", transaction_type="Order", order_id=f"111-{n:07d}-0000001",
                         amount_type="ItemPrice" if a >= 0 else "ItemFees",
                         amount_description="Principal" if a >= 0 else "Commission",
                         amount=str(Decimal(a).scaleb(-2)), posted_date="2026-01-02", sku="S-1",
                         quantity_purchased="1"))
    return ("\n".join(lines) + "\n").encode()


class TestMoneyNeverDrifts:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.integers(min_value=-10**9, max_value=10**9), min_size=1, max_size=40))
    def test_items_sum_to_the_total_in_minor_units(self, amounts):
        parsed = amazon_settlement.parse("p.txt", _v2("999", amounts, sum(amounts)))
        [p] = parsed.payouts
        assert [i.amount_minor for i in p.items] == amounts and p.item_total() == p.total_minor == sum(amounts)

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.integers(min_value=-10**7, max_value=10**7), min_size=1, max_size=20),
           st.integers(min_value=-1000, max_value=1000).filter(lambda d: d != 0))
    def test_a_total_off_by_any_amount_is_refused(self, amounts, delta):
        with pytest.raises(ImportRejected) as err:
            amazon_settlement.parse("p.txt", _v2("999", amounts, sum(amounts) + delta))
        assert err.value.row_errors[0].column == "total-amount"


# --- API and tenancy ------------------------------------------------------------------------------------


def _sales_lines(db, seller):
    from tradeloop.sales.models import SalesOrderLine

    with db.transaction(write=False) as s:
        return list(s.scalars(select(SalesOrderLine).where(SalesOrderLine.enterprise_id == seller.enterprise.id)
                              .order_by(SalesOrderLine.line_id)))


def _upload(client, key, name, channel="amazon", data=None):
    return client.post("/api/v1/finance/settlements", headers=bearer(key), data={"channel": channel},
                       files={"file": (name, data if data is not None else (FIXTURES / name).read_bytes(),
                                       "text/plain")})


@pytest.fixture
def client(app):
    """The app with the payouts router (mounted here until app.py includes it)."""
    from fastapi.testclient import TestClient

    from tradeloop.finance import payout_api

    if not any(getattr(r, "path", "") == "/api/v1/finance/settlements" for r in app.routes):
        app.include_router(payout_api.router, prefix="/api/v1")
    with TestClient(app) as c:
        yield c


class TestApi:
    def test_import_list_detail_and_another_tenant(self, client, db, world):
        a_write, a_read, b_read = world.a.keys["write"], world.a.keys["read"], world.b.keys["read"]
        r = _upload(client, a_write, USD)
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["inserted"], body["items"], body["totals"]) == (1, 35, {"USD": {"credit": 50902, "debit": 32188}})
        pid = body["payout_list"][0]["id"]
        assert _upload(client, a_write, EUR).status_code == 201
        listed = client.get("/api/v1/finance/payouts", headers=bearer(a_read), params={"currency": "usd"}).json()
        assert [p["id"] for p in listed["items"]] == [pid] and listed["items"][0]["items"] == 35
        page = client.get("/api/v1/finance/payouts", headers=bearer(a_read), params={"limit": 1}).json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        rest = client.get("/api/v1/finance/payouts", headers=bearer(a_read),
                          params={"limit": 1, "cursor": page["next_cursor"]}).json()
        assert rest["next_cursor"] is None and rest["items"][0]["id"] != page["items"][0]["id"]
        dated = client.get("/api/v1/finance/payouts", headers=bearer(a_read),
                           params={"date_from": "2026-01-31", "source": "amazon"}).json()
        assert dated["items"] == []
        detail = client.get(f"/api/v1/finance/payouts/{pid}", headers=bearer(a_read)).json()
        assert sum(detail["totals_by_kind"].values()) == detail["total_minor"] == 18714
        assert detail["totals_by_kind"]["reserve"] == -3000 and len(detail["item_list"]) == 35
        assert detail["item_list"][0]["line_no"] == 3
        # another tenant sees nothing
        assert client.get(f"/api/v1/finance/payouts/{pid}", headers=bearer(b_read)).status_code == 404
        assert client.get("/api/v1/finance/payouts", headers=bearer(b_read)).json()["items"] == []
        # a read key may not import
        assert _upload(client, a_read, USD).status_code == 403

    def test_rejected_upload_is_422_with_row_errors(self, client, db, world):
        r = _upload(client, world.a.keys["write"], "settlement-amazon-bad-rows.txt")
        assert r.status_code == 422
        assert [(e["row"], e["column"]) for e in r.json()["row_errors"]] == [
            (6, "amount"), (9, "quantity-purchased"), (12, "posted-date")]
        assert client.get("/api/v1/finance/payouts", headers=bearer(world.a.keys["read"])).json()["items"] == []

    def test_profile_crud_and_import_through_it(self, client, db, world):
        key, other = world.a.keys["write"], world.b.keys["write"]
        r = client.post("/api/v1/finance/payout-profiles", headers=bearer(key), json={
            "name": "lianlian", "columns": {"payout_id": "单号", "date": "日期", "gross": "金额", "currency": "币种"}})
        assert r.status_code == 201, r.text
        prof = r.json()
        assert prof["sign_convention"] == "signed" and prof["timezone"] == "UTC"
        url = f"/api/v1/finance/payout-profiles/{prof['id']}"
        assert client.patch(url, headers=bearer(key), json={"timezone": "Asia/Shanghai"}).json()["timezone"] == \
            "Asia/Shanghai"
        assert client.post("/api/v1/finance/payout-profiles", headers=bearer(key), json={
            "name": "lianlian", "columns": prof["columns"]}).status_code == 422
        data = "单号,日期,金额,币种\nLL-1,2026-02-01T10:00:00,100.00,USD\n".encode("gb18030")
        r = _upload(client, key, "ll.csv", channel="lianlian", data=data)
        assert r.status_code == 201 and r.json()["source"] == "lianlian", r.text
        assert client.get(url, headers=bearer(other)).status_code == 404
        assert client.patch(url, headers=bearer(other), json={"timezone": "UTC"}).status_code == 404
        assert client.get("/api/v1/finance/payout-profiles", headers=bearer(other)).json()["items"] == []
        assert [p["id"] for p in client.get("/api/v1/finance/payout-profiles",
                                            headers=bearer(key)).json()["items"]] == [prof["id"]]
        assert client.delete(url, headers=bearer(key)).status_code == 204
        assert client.get(url, headers=bearer(key)).status_code == 404


class TestCli:
    @pytest.fixture
    def cli(self, db, database_url, tmp_path, monkeypatch):
        seller = make_seller(db)
        for k in [k for k in __import__("os").environ if k.startswith("TRADELOOP_")]:
            monkeypatch.delenv(k)
        monkeypatch.setenv("TRADELOOP_DATABASE_URL", database_url)
        app = typer.Typer()
        app.command("settlement")(settlement_command)

        @app.callback()
        def _group():
            """import"""

        def call(*args):
            return CliRunner().invoke(app, ["settlement", *map(str, args), "--enterprise", seller.enterprise.uscc,
                                            "--data-dir", str(tmp_path / "data")])

        return call, seller

    def test_json_shape_exit_0_and_2(self, cli, db):
        call, seller = cli
        r = call(FIXTURES / USD, "--channel", "amazon", "--json")
        assert r.exit_code == 0, r.output
        body = json.loads(r.stdout.strip().splitlines()[-1])
        assert list(body) == ["source", "payouts", "items", "inserted", "updated", "unchanged", "linked_items",
                              "totals"]
        assert body["totals"] == {"USD": {"credit": 50902, "debit": 32188}} and body["inserted"] == 1
        again = json.loads(call(FIXTURES / USD, "--channel", "amazon", "--json").stdout.strip().splitlines()[-1])
        assert (again["inserted"], again["unchanged"]) == (0, 1)
        bad = call(FIXTURES / "settlement-amazon-total-mismatch.txt", "--channel", "amazon", "--json")
        assert bad.exit_code == 2
        assert len(stored(db, seller.enterprise.id)) == 1


def test_parsers_read_bytes_only():
    """Parsers touch no database: the same bytes give the same result."""
    data = (FIXTURES / USD).read_bytes()
    a, b = amazon_settlement.parse("x", data), amazon_settlement.parse("x", data)
    assert [i.key() for i in a.payouts[0].items] == [i.key() for i in b.payouts[0].items]
    assert replace(a.payouts[0], items=[]) == replace(b.payouts[0], items=[])
