"""Receivables (应收/收汇跟踪), both databases: a sale walks sold → paid out → received → settled with exact
amounts; the aging buckets add up to the outstanding total; the 收汇 deadline and the 90-day alerts appear on
their days and not before; another tenant's money never shows; a missing rate is listed, never guessed.

Sales lines, payouts and bank entries are written directly (their importers have their own tests); matching
and 结汇 go through the services. The declaration alerts use the two released 9810 declarations of
``tests/sales/test_fulfilment.py`` with sales fulfilled from their lots."""

from __future__ import annotations

import html as html_lib
import re
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import delete

from tests.customs.builders import add_products, body_9810, create, exchange_round, load, submit
from tests.factories import bearer, page_login
from tests.sales.test_fulfilment import amazon_file, fulfil, import_file, line_of, two_lots  # noqa: F401
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.simulator import CustomsSimulator
from tradeloop.finance import matching, receivables
from tradeloop.finance.models import ExchangeRate
from tradeloop.finance.money_models import BankEntry, BankStatement, Payout, PayoutItem
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import system_principal
from tradeloop.loop import service as loop
from tradeloop.sales.models import SalesOrderLine
from tradeloop.tax.claim_models import ProceedsEvidence
from tradeloop.warehouse import aging


def principal(world, tenant="a"):
    return replace(system_principal(label=f"test-{tenant}"), enterprise_id=getattr(world, tenant).enterprise.id)


class Books:
    """One tenant's sales, payouts and bank credits, written directly."""

    def __init__(self, db, world, tenant="a"):
        self.db, self.p = db, principal(world, tenant)
        self.me = self.p.enterprise_id
        self.n = 0
        with db.transaction() as s:
            self.statement = BankStatement(enterprise_id=self.me, id=uuid7(), format="camt.053", account="CN-ACC",
                                           currency="USD", filename="s.xml", file_sha256=uuid.uuid4().hex * 2)
            s.add(self.statement)

    def sale(self, day: date, price: int, *, currency="USD", qty=1, discount=0, status="shipped", channel="amazon",
             sku="SILK-SCARF-01") -> uuid.UUID:
        self.n += 1
        with self.db.transaction() as s:
            row = SalesOrderLine(enterprise_id=self.me, id=uuid7(), channel=channel, marketplace="Amazon.com",
                                 external_order_id=f"111-{self.n:07d}-0000001", line_id=f"L{self.n}",
                                 order_date=datetime(day.year, day.month, day.day, 10, tzinfo=UTC), currency=currency,
                                 status=status, sku=sku, quantity=qty, item_price_minor=price, discount_minor=discount,
                                 row_hash=uuid.uuid4().hex)
            s.add(row)
        return row.id

    def payout(self, total: int, deposit: date, items: list[tuple[uuid.UUID | None, str, int]], currency="USD",
               settlement_id: str | None = None) -> uuid.UUID:
        with self.db.transaction() as s:
            p = Payout(enterprise_id=self.me, id=uuid7(), source="amazon",
                       settlement_id=settlement_id or uuid.uuid4().hex[:11], deposit_date=deposit, currency=currency,
                       total_minor=total, received_minor=0, status="open")
            s.add(p)
            s.flush()
            for no, (sid, kind, amount) in enumerate(items, start=1):
                s.add(PayoutItem(enterprise_id=self.me, id=uuid7(), payout_id=p.id, line_no=no, kind=kind,
                                 amount_minor=amount, currency=currency, sales_line_id=sid))
        return p.id

    def credit(self, amount: int, booked: date, currency="USD") -> uuid.UUID:
        with self.db.transaction() as s:
            e = BankEntry(enterprise_id=self.me, id=uuid7(), statement_id=self.statement.id, account="CN-ACC",
                          booking_date=booked, direction="credit", amount_minor=amount, currency=currency,
                          bank_ref=uuid.uuid4().hex[:16], matched_minor=0, status="unmatched")
            s.add(e)
        return e.id

    def match(self, entry_id, payout_id, amount=None):
        with self.db.transaction() as s:
            matching.match(s, principal=self.p, entry_id=entry_id, payout_id=payout_id, amount_minor=amount)

    def settle(self, entry_id, amount: int, cny: int, day: date, currency="USD"):
        with self.db.transaction() as s:
            matching.record_settlement(s, principal=self.p, reference=f"FX-{uuid.uuid4().hex[:8]}", settled_on=day,
                                       currency=currency, amount_minor=amount, cny_minor=cny, bank_entry_id=entry_id)

    def summary(self, as_of: date) -> receivables.Summary:
        with self.db.transaction(write=False) as s:
            return receivables.summary(s, principal=self.p, as_of=as_of)

    def sales(self, as_of: date, **kw) -> dict[uuid.UUID, receivables.SaleReceivable]:
        with self.db.transaction(write=False) as s:
            rows, _nxt = receivables.sales_page(s, principal=self.p, as_of=as_of, limit=500, **kw)
        return {r.id: r for r in rows}

    def alerts(self, as_of: date, **kw) -> receivables.Alerts:
        with self.db.transaction(write=False) as s:
            return receivables.alerts(s, principal=self.p, as_of=as_of, **kw)


def add_rate(db, currency: str, day: date, rate: str, source="cfets"):
    with db.transaction() as s:
        s.add(ExchangeRate(source=source, currency=currency, day=day, rate=Decimal(rate), quote=f"{currency}/CNY",
                           quoted=Decimal(rate)))


@pytest.fixture
def books(db, world):
    return Books(db, world)


SOLD_ON = date(2026, 3, 2)
AS_OF = date(2026, 3, 31)


def figures(r: receivables.SaleReceivable) -> tuple:
    return (r.state, r.sold_minor, r.paid_out_minor, r.received_minor, r.settled_minor, r.settled_cny,
            r.outstanding_minor)


class TestOneSaleWalksTheStates:
    def test_sold_paid_out_received_settled(self, db, books):
        add_rate(db, "USD", SOLD_ON, "7.1000")
        sid = books.sale(SOLD_ON, 30_00, qty=3)
        sale = books.sales(AS_OF)[sid]
        assert figures(sale) == ("sold", 3000, 0, 0, 0, 0, 3000)
        assert (sale.sold_cny, sale.outstanding_cny, sale.age_days) == (21300, 21300, 29)
        assert (sale.conversion.source, sale.conversion.rate_day) == ("cfets", SOLD_ON)

        # the settlement: item price 30.00 less a 4.50 commission, deposited 2026-03-16
        pid = books.payout(25_50, date(2026, 3, 16), [(sid, "principal", 30_00), (sid, "fee", -4_50)])
        assert figures(books.sales(AS_OF)[sid]) == ("paid_out", 3000, 2550, 0, 0, 0, 3000)

        first, second = books.credit(12_75, date(2026, 3, 17)), books.credit(12_75, date(2026, 3, 20))
        books.match(first, pid)
        sale = books.sales(AS_OF)[sid]
        # half the payout is in: half the sale's value is still outstanding
        assert figures(sale) == ("partly_received", 3000, 2550, 1275, 0, 0, 1500)
        assert (sale.received_cny, sale.outstanding_cny) == (9053, 10650)

        books.match(second, pid)
        assert figures(books.sales(AS_OF)[sid]) == ("received", 3000, 2550, 2550, 0, 0, 0)

        books.settle(first, 12_75, 90_53, date(2026, 3, 18))
        assert figures(books.sales(AS_OF)[sid]) == ("partly_settled", 3000, 2550, 2550, 1275, 9053, 0)
        books.settle(second, 12_75, 91_00, date(2026, 3, 21))
        assert figures(books.sales(AS_OF)[sid]) == ("settled", 3000, 2550, 2550, 2550, 18153, 0)

        s = books.summary(AS_OF)
        [usd] = s.currencies
        assert (usd.sales, usd.sold_minor, usd.paid_out_minor, usd.received_minor, usd.settled_minor,
                usd.settled_cny, usd.outstanding_minor, usd.sold_cny, usd.outstanding_cny) == \
            (1, 3000, 2550, 2550, 2550, 18153, 0, 21300, 0)
        assert s.by_state["settled"] == 1 and s.payouts == []

    def test_payout_shared_by_two_sales_and_the_open_payouts(self, books):
        a, b = books.sale(SOLD_ON, 20_00), books.sale(SOLD_ON, 60_00)
        pid = books.payout(72_00, date(2026, 3, 16), [(a, "principal", 20_00), (b, "principal", 60_00),
                                                      (None, "fee", -8_00)])
        books.match(books.credit(36_00, date(2026, 3, 17)), pid)
        sales = books.sales(AS_OF)
        # each sale's part of the payout is half received
        assert figures(sales[a]) == ("partly_received", 2000, 2000, 1000, 0, 0, 1000)
        assert figures(sales[b]) == ("partly_received", 6000, 6000, 3000, 0, 0, 3000)
        s = books.summary(AS_OF)
        [p] = s.payouts
        assert (p.currency, p.payouts, p.total_minor, p.received_minor, p.open_minor, p.oldest, p.oldest_days) == \
            ("USD", 1, 7200, 3600, 3600, date(2026, 3, 16), 15)
        with books.db.transaction(write=False) as session:
            [row], _ = receivables.payouts_page(session, principal=books.p, as_of=AS_OF)
        assert (row.open_minor, row.age_days, row.sales_lines, row.since) == (3600, 15, 2, date(2026, 3, 16))

    def test_refunded_cancelled_and_later_sales_hold_no_receivable(self, books):
        kept = books.sale(SOLD_ON, 10_00)
        books.sale(SOLD_ON, 10_00, status="cancelled")
        books.sale(SOLD_ON, 10_00, status="refunded")
        books.sale(AS_OF + timedelta(days=1), 10_00)
        assert list(books.sales(AS_OF)) == [kept]
        assert books.summary(AS_OF).currencies[0].outstanding_minor == 1000

    def test_a_sale_refunded_in_its_payout_has_nothing_outstanding(self, books):
        sid = books.sale(SOLD_ON, 10_00, status="partially_refunded")
        books.payout(0, date(2026, 3, 16), [(sid, "principal", 10_00), (sid, "refund", -10_00)])
        assert figures(books.sales(AS_OF)[sid]) == ("received", 1000, 0, 0, 0, 0, 0)

    def test_filters_state_currency_channel(self, books):
        usd = books.sale(SOLD_ON, 10_00)
        eur = books.sale(SOLD_ON, 20_00, currency="EUR", channel="shopify")
        books.payout(10_00, date(2026, 3, 16), [(usd, "principal", 10_00)])
        assert list(books.sales(AS_OF, state="paid_out")) == [usd]
        assert list(books.sales(AS_OF, state="sold")) == [eur]
        assert list(books.sales(AS_OF, currency="eur")) == [eur]
        assert list(books.sales(AS_OF, channel="shopify")) == [eur]


class TestAging:
    AGES = (0, 30, 31, 60, 61, 90, 91, 180, 181, 365, 366, 700)

    def test_each_age_falls_in_its_bucket_and_the_buckets_add_up(self, db, books):
        for i, age in enumerate(self.AGES, start=1):
            books.sale(AS_OF - timedelta(days=age), i * 100, currency="EUR")
            add_rate(db, "EUR", AS_OF - timedelta(days=age), "7.5")
        [eur] = books.summary(AS_OF).currencies
        got = {b.label: (b.sales, b.outstanding_minor, b.outstanding_cny) for b in eur.aging}
        assert got == {"0-30": (2, 300, 2250), "31-60": (2, 700, 5250), "61-90": (2, 1100, 8250),
                       "91-180": (2, 1500, 11250), "181-365": (2, 1900, 14250), ">365": (2, 2300, 17250)}
        assert sum(b.outstanding_minor for b in eur.aging) == eur.outstanding_minor == sum(range(1, 13)) * 100
        assert sum(b.outstanding_cny for b in eur.aging) == eur.outstanding_cny == eur.outstanding_minor * 75 // 10

    @hsettings(max_examples=200, database=None)
    @given(days=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 10**9)), max_size=40),
           rate=st.decimals(min_value="0.01", max_value="200", places=4))
    def test_property_buckets_sum_to_the_total(self, days, rate):
        as_of = date(2026, 6, 30)
        by_day: dict[date, list[int]] = {}
        for age, amount in days:
            d = by_day.setdefault(as_of - timedelta(days=age), [0, 0])
            d[0], d[1] = d[0] + 1, d[1] + amount
        conv = receivables.rates.Conversion("USD", as_of, "sale_date", "cfets", as_of, rate, "USD/CNY", rate)
        buckets = receivables.age_buckets(((d, n, a) for d, (n, a) in by_day.items()), as_of,
                                          lambda _d, amount: receivables.rates.to_cny_minor(amount, 2, conv))
        assert [b.label for b in buckets] == list(aging.LABELS)
        assert sum(b.outstanding_minor for b in buckets) == sum(a for _age, a in days)
        assert sum(b.sales for b in buckets) == len(days)
        assert sum(b.outstanding_cny for b in buckets) == sum(
            receivables.rates.to_cny_minor(a, 2, conv) for _n, a in by_day.values())
        for b in buckets:
            lo, hi = next((lo, hi) for label, lo, hi in aging.BUCKETS if label == b.label)
            assert b.outstanding_minor == sum(a for age, a in days if age >= lo and (hi is None or age <= hi))

    @hsettings(max_examples=8, deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(sales=st.lists(st.tuples(st.integers(0, 800), st.integers(1, 5_000_00), st.booleans()), min_size=1,
                          max_size=12))
    def test_property_in_the_database(self, db, books, sales):
        with db.transaction() as s:
            s.execute(delete(PayoutItem).where(PayoutItem.enterprise_id == books.me))
            s.execute(delete(Payout).where(Payout.enterprise_id == books.me))
            s.execute(delete(SalesOrderLine).where(SalesOrderLine.enterprise_id == books.me))
        expected = 0
        for age, amount, paid in sales:
            sid = books.sale(AS_OF - timedelta(days=age), amount)
            if paid:  # paid out and half received
                pid = books.payout(amount, AS_OF, [(sid, "principal", amount)])
                with db.transaction() as s:
                    s.get(Payout, (books.me, pid)).received_minor = amount // 2
                expected += amount - amount * (amount // 2) // amount
            else:
                expected += amount
        [usd] = books.summary(AS_OF).currencies
        assert sum(b.outstanding_minor for b in usd.aging) == usd.outstanding_minor == expected
        assert sum(r.outstanding_minor for r in books.sales(AS_OF).values()) == expected


class TestMissingRates:
    def test_listed_and_never_guessed(self, db, books):
        add_rate(db, "USD", date(2026, 3, 1), "7.2")
        known = books.sale(date(2026, 3, 1), 10_00)
        missing = books.sale(date(2026, 2, 1), 20_00)  # no USD rate within the 7 days before 2026-02-01
        sales = books.sales(AS_OF)
        assert (sales[known].outstanding_cny, sales[known].missing_rate) == (7200, None)
        assert (sales[missing].sold_cny, sales[missing].outstanding_cny, sales[missing].missing_rate) == \
            (None, None, "USD 2026-02-01")
        s = books.summary(AS_OF)
        [usd] = s.currencies
        assert usd.outstanding_minor == 3000 and usd.outstanding_cny is None and usd.sold_cny is None
        assert usd.missing_rates == s.missing_rates == ["USD 2026-02-01"]
        by_label = {b.label: b for b in usd.aging}
        assert (by_label["0-30"].outstanding_cny, by_label["31-60"].outstanding_cny) == (7200, None)

    def test_a_weekend_takes_the_latest_publication(self, db, books):
        add_rate(db, "USD", date(2026, 2, 27), "7.0")  # a Friday
        sid = books.sale(date(2026, 3, 1), 10_00)  # a Sunday
        sale = books.sales(AS_OF)[sid]
        assert (sale.outstanding_cny, sale.conversion.rate_day) == (7000, date(2026, 2, 27))


class TestDeferredReceipts:
    """Class A: receipts deferred more than 90 days after export are reported (domain.md §4)."""

    def test_day_90_no_alert_day_91_alert(self, db, books):
        sid = books.sale(date(2026, 3, 1), 45_00)
        assert books.alerts(date(2026, 5, 30)).sales == []  # 90 days after the sale
        a = books.alerts(date(2026, 5, 31))
        [alert] = a.sales
        assert (alert.kind, alert.id, alert.currency, alert.outstanding_minor, alert.days, alert.day) == \
            ("deferred_receipt_over_90_days", sid, "USD", 4500, 91, date(2026, 3, 1))
        assert "USD 45.00" in alert.message_en and "90" in alert.message_zh
        assert a.deferred_totals == {"USD": (1, 4500)}
        assert list(books.sales(date(2026, 5, 31), deferred_only=True)) == [sid]
        assert list(books.sales(date(2026, 5, 30), deferred_only=True)) == []

    def test_received_in_full_no_alert(self, books):
        sid = books.sale(date(2026, 3, 1), 45_00)
        pid = books.payout(40_00, date(2026, 3, 15), [(sid, "principal", 45_00), (sid, "fee", -5_00)])
        books.match(books.credit(40_00, date(2026, 3, 16)), pid)
        assert books.alerts(date(2026, 8, 1)).sales == []


class TestDeclarationDeadline:
    """收汇 by 30 April of the year after export (domain.md §3.5, §4)."""

    @pytest.fixture
    def sold(self, db, world, two_lots, tmp_path):  # noqa: F811
        (d1, _l1), _second = two_lots
        import_file(db, world, amazon_file(tmp_path / "o.txt", [
            ("111-0000001-0000001", "2026-03-01", "Shipped", "SILK-SCARF-01", 3, "30.00", "0")]))
        fulfil(db, world)
        return d1, line_of(db, world, "111-0000001-0000001")

    def test_alert_30_days_before_and_overdue_the_day_after(self, db, world, books, sold):
        d1, sale = sold
        deadline = date(d1.ie_date.year + 1, 4, 30)
        assert books.alerts(deadline - timedelta(days=31)).declarations == []
        [soon] = books.alerts(deadline - timedelta(days=30)).declarations
        assert (soon.kind, soon.id, soon.currency, soon.outstanding_minor, soon.days, soon.day) == \
            ("proceeds_due_soon", d1.id, "USD", 3000, 30, deadline)
        [on_the_day] = books.alerts(deadline).declarations
        assert (on_the_day.kind, on_the_day.days) == ("proceeds_due_soon", 0)
        [late] = books.alerts(deadline + timedelta(days=1)).declarations
        assert (late.kind, late.days, late.outstanding_minor, late.reference) == \
            ("proceeds_overdue", 1, 3000, d1.cop_no)
        assert str(deadline) in late.message_en and "收汇期限" in late.message_zh
        with db.transaction(write=False) as s:
            views, _ = receivables.declarations_page(s, principal=books.p, as_of=deadline + timedelta(days=1))
        view = next(v for v in views if v.declaration.id == d1.id)
        assert (view.state, view.deadline, view.outstanding, view.money["USD"].sold_minor) == \
            ("overdue", deadline, {"USD": 3000}, 3000)

    def test_no_alert_once_received(self, db, world, books, sold):
        d1, sale = sold
        pid = books.payout(25_50, date(2026, 3, 16), [(sale.id, "principal", 30_00), (sale.id, "fee", -4_50)])
        books.match(books.credit(25_50, date(2026, 3, 17)), pid)
        assert books.alerts(date(d1.ie_date.year + 1, 5, 1)).declarations == []

    def test_the_loop_gives_the_same_money(self, db, world, books, sold):
        d1, sale = sold
        pid = books.payout(25_50, date(2026, 3, 16), [(sale.id, "principal", 30_00), (sale.id, "fee", -4_50)])
        books.match(books.credit(12_00, date(2026, 3, 17)), pid)
        with db.transaction(write=False) as s:
            totals = loop.one_declaration(s, principal=books.p, declaration_id=d1.id).totals
            [view] = [v for v in receivables.declarations_page(s, principal=books.p, as_of=date(2027, 1, 1))[0]
                      if v.declaration.id == d1.id]
        usd = view.money["USD"]
        assert (usd.sold_minor, usd.paid_out_minor, usd.received_minor) == \
            (totals["sales_value"]["USD"], totals["paid_out"]["USD"], totals["proceeds_received"]["USD"]) == \
            (3000, 2550, 1200)
        assert usd.outstanding_minor == 3000 - 3000 * 1200 // 2550

    def test_proceeds_evidence_clears_the_line(self, db, world, books, sold):
        d1, sale = sold
        [line_id] = {r.declaration_line_id for r in _lots(db, books.me, d1.id)}
        with db.transaction() as s:
            s.add(ProceedsEvidence(enterprise_id=books.me, id=uuid7(), declaration_line_id=line_id, kind="deemed",
                                   reason="视同收汇", recorded_by="test"))
        assert books.alerts(date(d1.ie_date.year + 1, 5, 1)).declarations == []


class TestRetailDeclarationNamesItsSale:
    def test_9610_order_number_and_sku(self, db, world, books, tmp_path):
        add_products(db, world.a)
        folders = ExchangeFolders(tmp_path / "exchange").ensure()
        body = body_9810(world, mode="9610", warehouse_id=None, ebp_code="3205966666", ebp_name="丝路跨境商城",
                         pay_name="连连支付", pay_code="3301960000", pay_no="LL001",
                         paid_at="2026-11-01T10:00:00+08:00", ie_date="2026-11-02",
                         lines=[{"sku": "SILK-SCARF-01", "qty": "2", "price": "8.5"}])
        decl = create(db, world.a, body)
        submit(db, world.a, decl.id)
        exchange_round(db, folders, CustomsSimulator(folders))
        decl, _lines, _docs = load(db, world.a, decl.id)
        assert decl.status in ("released", "closed")
        with db.transaction() as s:
            s.add(SalesOrderLine(enterprise_id=books.me, id=uuid7(), channel="own_site",
                                 external_order_id=decl.order_no, line_id="1",
                                 order_date=datetime(2026, 11, 1, 2, tzinfo=UTC), currency="USD", status="shipped",
                                 sku="SILK-SCARF-01", quantity=2, item_price_minor=17_00, discount_minor=0,
                                 row_hash="x"))
        [alert] = books.alerts(date(2027, 5, 1)).declarations
        assert (alert.id, alert.kind, alert.outstanding_minor, alert.days) == (decl.id, "proceeds_overdue", 1700, 1)


def _lots(db, me, declaration_id):
    from sqlalchemy import select

    from tradeloop.customs.models import DeclarationLine
    from tradeloop.warehouse.stock_models import Allocation, StockLot

    with db.transaction(write=False) as s:
        return list(s.execute(
            select(StockLot.declaration_line_id).join(Allocation, (Allocation.enterprise_id == StockLot.enterprise_id)
                                                      & (Allocation.lot_id == StockLot.id))
            .join(DeclarationLine, (DeclarationLine.enterprise_id == StockLot.enterprise_id)
                  & (DeclarationLine.id == StockLot.declaration_line_id))
            .where(StockLot.enterprise_id == me, DeclarationLine.declaration_id == declaration_id)))


class TestTenancy:
    def test_another_tenants_money_never_shows(self, client, db, world, books):
        sid = books.sale(date(2026, 1, 2), 99_99)
        pid = books.payout(99_99, date(2026, 1, 10), [(sid, "principal", 99_99)], settlement_id="A-SECRET-SETTLEMENT")
        other = Books(db, world, "b")
        assert other.summary(AS_OF).currencies == [] and other.sales(AS_OF) == {}
        assert other.alerts(AS_OF).sales == [] and other.alerts(AS_OF).deferred_totals == {}
        headers = bearer(world.b.keys["read"])
        for path in ("", "/sales", "/payouts", "/declarations", "/alerts"):
            r = client.get(f"/api/v1/finance/receivables{path}?as_of=2026-06-30", headers=headers)
            assert r.status_code == 200, r.text
            assert str(sid) not in r.text and str(pid) not in r.text and "A-SECRET" not in r.text
            assert "9999" not in r.text
        mine = client.get("/api/v1/finance/receivables/sales?as_of=2026-06-30",
                          headers=bearer(world.a.keys["read"])).json()
        assert [i["id"] for i in mine["items"]] == [str(sid)]


class TestApi:
    def test_summary_sales_alerts(self, client, db, world, books):
        add_rate(db, "USD", date(2026, 1, 2), "7.0")
        sid = books.sale(date(2026, 1, 2), 10_00)
        books.sale(date(2026, 3, 30), 5_00)
        headers = bearer(world.a.keys["read"])
        body = client.get("/api/v1/finance/receivables?as_of=2026-04-03", headers=headers).json()
        [usd] = body["currencies"]
        assert body["buckets"] == list(aging.LABELS)
        assert {b["label"]: b["outstanding_minor"] for b in usd["aging"]} == {
            "0-30": 500, "31-60": 0, "61-90": 0, "91-180": 1000, "181-365": 0, ">365": 0}
        assert usd["outstanding_minor"] == 1500 and usd["missing_rates"] == ["USD 2026-03-30"]
        assert usd["outstanding_cny"] is None and body["missing_rates"] == ["USD 2026-03-30"]
        page = client.get("/api/v1/finance/receivables/sales?as_of=2026-04-03&limit=1", headers=headers).json()
        assert len(page["items"]) == 1 and page["next_cursor"]
        rest = client.get(f"/api/v1/finance/receivables/sales?as_of=2026-04-03&cursor={page['next_cursor']}",
                          headers=headers).json()
        assert [i["id"] for i in rest["items"]] == [str(sid)] and rest["items"][0]["outstanding_cny"] == 7000
        assert Decimal(rest["items"][0]["conversion"]["rate"]) == 7
        alerts = client.get("/api/v1/finance/receivables/alerts?as_of=2026-04-03", headers=headers).json()
        assert alerts["sales"][0]["kind"] == "deferred_receipt_over_90_days" and alerts["sales"][0]["days"] == 91
        assert alerts["deferred_totals"] == {"USD": {"sales": 1, "outstanding_minor": 1000}}
        bad = client.get("/api/v1/finance/receivables/sales?state=lost", headers=headers)
        assert bad.status_code == 422


class TestPage:
    def test_chart_alerts_and_table(self, client, db, world, books):
        add_rate(db, "USD", date(2026, 1, 2), "7.0")
        add_rate(db, "USD", date(2026, 3, 30), "7.1")
        old = books.sale(date(2026, 1, 2), 10_00)
        books.sale(date(2026, 3, 30), 5_00)
        page_login(client, world.a.users["viewer"])
        html = client.get("/finance/receivables?as_of=2026-04-03", headers={"Accept": "text/html"}).text
        assert 'data-tab="receivables"' in html and 'id="chart-aging"' in html and 'data-chart-unit="CNY"' in html
        row = re.search(r'<table class="data" id="receivables-aging">.*?<tr data-currency="USD">(.*?)</tr>', html,
                        re.S).group(1)
        cells = {html_lib.unescape(k): v for k, v in
                 re.findall(r'data-bucket="([^"]+)"[^>]*>\s*<span[^>]*data-minor="(-?\d+)"', row)}
        assert cells == {"0-30": "500", "31-60": "0", "61-90": "0", "91-180": "1000", "181-365": "0", ">365": "0",
                         "total": "1500"}
        assert f'data-alert="deferred_receipt_over_90_days" data-id="{old}"' in html
        assert html.count('<tr data-id="') == 2
        filtered = client.get("/finance/receivables?as_of=2026-04-03&deferred=1").text
        assert re.findall(r'<tr data-id="([^"]+)" data-state', filtered) == [str(old)]
        client.cookies.set("lang", "en")
        english = client.get("/finance/receivables?as_of=2026-04-03").text
        assert "Deferred receipt over 90 days" in english and "Outstanding by age" in english

    def test_empty(self, client, world):
        page_login(client, world.b.users["viewer"])
        r = client.get("/finance/receivables")
        assert r.status_code == 200 and 'id="no-alerts"' in r.text and 'id="chart-aging"' not in r.text
