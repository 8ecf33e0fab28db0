"""Matching bank credits to payouts, by hand and automatically, and FX settlement (both databases).

Payouts and statement entries are built directly here (the importers have their own tests); everything
that changes them goes through the matching service."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tradeloop.finance import matching
from tradeloop.finance.money_models import BankEntry, BankStatement, Payout, ReceiptMatch
from tradeloop.kit.errors import Conflict, NotFound, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import system_principal


def principal(world, tenant="a"):
    return replace(system_principal(label=f"test-{tenant}"), enterprise_id=getattr(world, tenant).enterprise.id)


class Books:
    def __init__(self, db, world, tenant="a"):
        self.db, self.p = db, principal(world, tenant)
        self.me = self.p.enterprise_id
        with db.transaction() as s:
            self.statement = BankStatement(enterprise_id=self.me, id=uuid7(), format="camt.053",
                                           account="DE89370400440532013000", currency="USD", filename="s.xml",
                                           file_sha256=uuid.uuid4().hex * 2)
            s.add(self.statement)

    def payout(self, total, deposit, settlement_id=None, currency="USD"):
        with self.db.transaction() as s:
            p = Payout(enterprise_id=self.me, id=uuid7(), source="amazon", settlement_id=settlement_id or
                       uuid.uuid4().hex[:11], deposit_date=deposit, currency=currency, total_minor=total,
                       received_minor=0, status="open")
            s.add(p)
        return p.id

    def credit(self, amount, booked, reference=None, currency="USD", direction="credit"):
        with self.db.transaction() as s:
            e = BankEntry(enterprise_id=self.me, id=uuid7(), statement_id=self.statement.id, account="DE89",
                          booking_date=booked, direction=direction, amount_minor=amount, currency=currency,
                          bank_ref=uuid.uuid4().hex[:16], reference=reference, matched_minor=0, status="unmatched")
            s.add(e)
        return e.id

    def auto(self, **kw):
        with self.db.transaction() as s:
            return matching.auto_match(s, principal=self.p, **kw)

    def state(self, model, row_id):
        with self.db.transaction(write=False) as s:
            row = s.get(model, (self.me, row_id))
            return (row.matched_minor, row.status) if model is BankEntry else (row.received_minor, row.status)

    def matches(self):
        with self.db.transaction(write=False) as s:
            return {(m.bank_entry_id, m.payout_id): (m.amount_minor, m.payout_amount_minor, m.method)
                    for m in s.scalars(select(ReceiptMatch).where(ReceiptMatch.enterprise_id == self.me))}


@pytest.fixture
def books(db, world):
    return Books(db, world)


D1 = date(2026, 3, 10)


class TestAutomatic:
    def test_exact_amount_in_the_window(self, books):
        p = books.payout(1_234_56, D1)
        e = books.credit(1_234_56, date(2026, 3, 13))
        result = books.auto()
        assert (result.entries_matched, result.by_method) == (1, {"exact": 1})
        assert books.matches() == {(e, p): (123456, 123456, "exact")}
        assert books.state(BankEntry, e) == (123456, "matched") and books.state(Payout, p) == (123456, "received")

    def test_reference_names_the_settlement(self, books):
        books.payout(50_000, D1, settlement_id="11877452141")
        p = books.payout(50_000, D1, settlement_id="11877452999")
        e = books.credit(50_000, D1, reference="AMAZON PAYMENTS SETTLEMENT 11877452999")
        books.auto()
        assert books.matches() == {(e, p): (50000, 50000, "reference")}

    def test_within_fee_tolerance_settles_the_payout(self, books):
        p = books.payout(1_000_000, D1)
        e = books.credit(1_000_000 - 1_500, date(2026, 3, 12))  # 15.00 taken by an intermediary bank
        books.auto()
        assert books.matches() == {(e, p): (998500, 1000000, "tolerance")}
        assert books.state(Payout, p) == (1000000, "received")

    def test_many_payouts_in_one_credit(self, books):
        a, b, c = books.payout(30_000, D1), books.payout(45_050, date(2026, 3, 11)), books.payout(99_999_99, D1)
        e = books.credit(75_050, date(2026, 3, 12))
        result = books.auto()
        assert (result.entries_matched, result.by_method) == (1, {"many_to_one": 2})
        got = books.matches()
        assert got == {(e, a): (30000, 30000, "many_to_one"), (e, b): (45050, 45050, "many_to_one")}
        assert books.state(Payout, c) == (0, "open")

    def test_ambiguous_and_unknown_credits_are_left_for_a_person(self, books):
        books.payout(10_000, D1)
        books.payout(10_000, D1)
        twin = books.credit(10_000, D1)
        stray = books.credit(7_777, D1)
        far = books.credit(20_000, date(2026, 6, 1))
        debit = books.credit(10_000, D1, direction="debit")
        result = books.auto()
        assert result.entries_matched == 0 and set(result.left) == {twin, stray, far}
        assert debit not in result.left and books.matches() == {}

    def test_other_currency_never_matches(self, books):
        books.payout(10_000, D1, currency="EUR")
        e = books.credit(10_000, D1)
        assert books.auto().left == [e]

    def test_running_again_changes_nothing(self, books):
        books.payout(10_000, D1)
        books.credit(10_000, D1)
        books.auto()
        again = books.auto()
        assert (again.entries_seen, again.matches) == (0, 0)


class TestByHand:
    def test_partial_receipts_then_the_rest(self, books, db):
        p = books.payout(100_000, D1)
        first, second = books.credit(60_000, D1), books.credit(40_000, date(2026, 3, 20))
        with db.transaction() as s:
            [best, *_] = matching.suggestions(s, principal=books.p, entry_id=first)
            assert best["payout_id"] == p and best["difference_minor"] == 40_000
            matching.match(s, principal=books.p, entry_id=first, payout_id=p)
        assert books.state(Payout, p) == (60000, "partial")
        with db.transaction() as s:
            matching.match(s, principal=books.p, entry_id=second, payout_id=p)
        assert books.state(Payout, p) == (100000, "received")
        assert books.state(BankEntry, second) == (40000, "matched")

    def test_over_matching_is_refused_and_undo_restores(self, books, db):
        p = books.payout(10_000, D1)
        e = books.credit(15_000, D1)
        with pytest.raises(ValidationFailed) as err, db.transaction() as s:
            matching.match(s, principal=books.p, entry_id=e, payout_id=p, amount_minor=12_000)
        assert {x.field for x in err.value.errors} == {"payout_amount_minor"}
        with db.transaction() as s:
            row = matching.match(s, principal=books.p, entry_id=e, payout_id=p, amount_minor=10_000)
        with pytest.raises(ValidationFailed), db.transaction() as s:  # the payout is received in full
            matching.match(s, principal=books.p, entry_id=e, payout_id=p, amount_minor=1)
        with db.transaction() as s:
            matching.unmatch(s, principal=books.p, match_id=row.id)
        assert books.state(BankEntry, e) == (0, "unmatched") and books.state(Payout, p) == (0, "open")

    def test_ignore_an_entry(self, books, db):
        e = books.credit(10_000, D1)
        with pytest.raises(ValidationFailed), db.transaction() as s:
            matching.ignore(s, principal=books.p, entry_id=e, reason=" ")
        with db.transaction() as s:
            matching.ignore(s, principal=books.p, entry_id=e, reason="股东借款")
        assert books.state(BankEntry, e) == (0, "ignored")
        books.payout(10_000, D1)
        assert books.auto().entries_seen == 0

    def test_another_tenants_ids_are_not_found(self, books, db, world):
        p, e = books.payout(10_000, D1), books.credit(10_000, D1)
        other = principal(world, "b")
        with pytest.raises(NotFound), db.transaction() as s:
            matching.match(s, principal=other, entry_id=e, payout_id=p)


def test_concurrent_matchers_never_assign_money_twice(db, world):
    """Two transactions each try to give the same credit to a different payout: one wins."""
    books = Books(db, world)
    e = books.credit(10_000, D1)
    payouts = [books.payout(10_000, D1), books.payout(10_000, D1)]
    outcomes, barrier = [], threading.Barrier(2)

    def run(payout_id):
        barrier.wait()
        try:
            with db.transaction() as s:
                matching.match(s, principal=books.p, entry_id=e, payout_id=payout_id)
            outcomes.append("ok")
        except (Conflict, ValidationFailed):
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - SQLite busy, serialisation: the loser
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run, args=(p,)) for p in payouts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert books.state(BankEntry, e) == (10000, "matched")
    assert sum(books.state(Payout, p)[0] for p in payouts) == 10000


class TestSettlement:
    def test_record_and_refuse_twice_or_too_much(self, books, db):
        e = books.credit(100_000, D1)
        with db.transaction() as s:
            row = matching.record_settlement(s, principal=books.p, reference="FX20260312-001", settled_on=D1,
                                             currency="USD", amount_minor=60_000, cny_minor=427_404,
                                             bank_entry_id=e)
        assert row.rate == Decimal("7.123400")
        with pytest.raises(Conflict), db.transaction() as s:
            matching.record_settlement(s, principal=books.p, reference="FX20260312-001", settled_on=D1,
                                       currency="USD", amount_minor=1, cny_minor=7, bank_entry_id=e)
        with pytest.raises(ValidationFailed) as err, db.transaction() as s:
            matching.record_settlement(s, principal=books.p, reference="FX20260312-002", settled_on=D1,
                                       currency="USD", amount_minor=40_001, cny_minor=1, bank_entry_id=e)
        assert err.value.errors[0].field == "amount_minor"
        with pytest.raises(ValidationFailed), db.transaction() as s:
            matching.record_settlement(s, principal=books.p, reference="X", settled_on=D1, currency="CNY",
                                       amount_minor=1, cny_minor=1)
