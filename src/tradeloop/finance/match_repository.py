"""Queries of receipt matching and FX settlement (tenant-scoped). The guarded updates here are the only
writes of ``matched_minor`` / ``received_minor``: each adds to the running sum only while it stays within
the entry's or payout's amount, so two matchers at once can never assign the same money twice."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import and_, case, func, select, update

from tradeloop.finance.money_models import (
    BankEntry,
    EntryStatus,
    FxSettlement,
    Payout,
    PayoutStatus,
    ReceiptMatch,
)
from tradeloop.kit.errors import NotFound
from tradeloop.kit.models import utcnow
from tradeloop.kit.pagination import paginate
from tradeloop.kit.repository import TenantRepository


class MatchRepository(TenantRepository):

    # --- reads -----------------------------------------------------------------------------------

    def entry(self, entry_id: uuid.UUID, *, for_update: bool = False) -> BankEntry:
        stmt = select(BankEntry).where(BankEntry.enterprise_id == self.me, BankEntry.id == entry_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt.execution_options(populate_existing=True))
        if row is None:
            raise NotFound("Bank entry not found.", message_zh="未找到该银行流水")
        return row

    def payout(self, payout_id: uuid.UUID) -> Payout:
        row = self.session.scalar(select(Payout).where(Payout.enterprise_id == self.me, Payout.id == payout_id)
                                  .execution_options(populate_existing=True))
        if row is None:
            raise NotFound("Payout not found.", message_zh="未找到该平台结算")
        return row

    def payouts_by_id(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, Payout]:
        if not ids:
            return {}
        return {p.id: p for p in self.session.scalars(select(Payout).where(
            Payout.enterprise_id == self.me, Payout.id.in_(ids)).execution_options(populate_existing=True))}

    def entries_by_id(self, ids: set[uuid.UUID] | list[uuid.UUID]) -> dict[uuid.UUID, BankEntry]:
        """The tenant's bank entries with these ids (ids of other tenants are left out)."""
        if not ids:
            return {}
        return {e.id: e for e in self.session.scalars(select(BankEntry).where(
            BankEntry.enterprise_id == self.me, BankEntry.id.in_(ids)))}

    def settleable_credits(self, *, limit: int) -> list[BankEntry]:
        """The foreign-currency credits an FX settlement (结汇) may be recorded against: not CNY, not ignored,
        at most ``limit``, the latest booking day first."""
        return list(self.session.scalars(select(BankEntry).where(
            BankEntry.enterprise_id == self.me, BankEntry.direction == "credit", BankEntry.currency != "CNY",
            BankEntry.status != EntryStatus.IGNORED)
            .order_by(BankEntry.booking_date.desc(), BankEntry.id.desc()).limit(limit)))

    def match(self, match_id: uuid.UUID) -> ReceiptMatch:
        row = self.session.scalar(select(ReceiptMatch).where(ReceiptMatch.enterprise_id == self.me,
                                                             ReceiptMatch.id == match_id))
        if row is None:
            raise NotFound("Match not found.", message_zh="未找到该匹配记录")
        return row

    def open_credits(self, *, currency: str | None = None, entry_ids: list[uuid.UUID] | None = None) -> list[BankEntry]:
        stmt = select(BankEntry).where(BankEntry.enterprise_id == self.me, BankEntry.direction == "credit",
                                       BankEntry.status.in_((EntryStatus.UNMATCHED, EntryStatus.PARTIAL)))
        if currency:
            stmt = stmt.where(BankEntry.currency == currency)
        if entry_ids is not None:
            stmt = stmt.where(BankEntry.id.in_(entry_ids))
        return list(self.session.scalars(stmt.order_by(BankEntry.booking_date, BankEntry.id)
                                         .execution_options(populate_existing=True)))

    def open_payouts(self, currency: str, earliest: date | None = None, latest: date | None = None) -> list[Payout]:
        stmt = select(Payout).where(Payout.enterprise_id == self.me, Payout.currency == currency,
                                    Payout.status.in_((PayoutStatus.OPEN, PayoutStatus.PARTIAL)),
                                    Payout.total_minor > 0)
        if earliest is not None:
            stmt = stmt.where((Payout.deposit_date.is_(None)) | (Payout.deposit_date >= earliest))
        if latest is not None:
            stmt = stmt.where((Payout.deposit_date.is_(None)) | (Payout.deposit_date <= latest))
        return list(self.session.scalars(stmt.order_by(Payout.deposit_date, Payout.id)
                                         .execution_options(populate_existing=True)))

    def matches_of_entry(self, entry_id: uuid.UUID) -> list[ReceiptMatch]:
        return list(self.session.scalars(select(ReceiptMatch).where(
            ReceiptMatch.enterprise_id == self.me, ReceiptMatch.bank_entry_id == entry_id)
            .order_by(ReceiptMatch.created_at)))

    def matches_of_payout(self, payout_id: uuid.UUID) -> list[ReceiptMatch]:
        return list(self.session.scalars(select(ReceiptMatch).where(
            ReceiptMatch.enterprise_id == self.me, ReceiptMatch.payout_id == payout_id)
            .order_by(ReceiptMatch.created_at)))

    def pair_exists(self, entry_id: uuid.UUID, payout_id: uuid.UUID) -> ReceiptMatch | None:
        return self.session.scalar(select(ReceiptMatch).where(
            ReceiptMatch.enterprise_id == self.me, ReceiptMatch.bank_entry_id == entry_id,
            ReceiptMatch.payout_id == payout_id))

    def settled_of_entry(self, entry_id: uuid.UUID) -> int:
        return int(self.session.scalar(select(func.coalesce(func.sum(FxSettlement.amount_minor), 0)).where(
            FxSettlement.enterprise_id == self.me, FxSettlement.bank_entry_id == entry_id)) or 0)

    def settlement_by_reference(self, reference: str) -> FxSettlement | None:
        return self.session.scalar(select(FxSettlement).where(FxSettlement.enterprise_id == self.me,
                                                              FxSettlement.reference == reference))

    def settlements_page(self, *, cursor: str | None, limit: int | None):
        return paginate(self.session, select(FxSettlement).where(FxSettlement.enterprise_id == self.me),
                        FxSettlement.id, cursor=cursor, limit=limit)

    # --- guarded writes --------------------------------------------------------------------------

    def add_to_entry(self, entry: BankEntry, amount: int) -> bool:
        """matched_minor += amount while it stays within [0, amount_minor]; the status follows."""
        t = BankEntry
        new = t.matched_minor + amount
        status = case((new == 0, EntryStatus.UNMATCHED), (new >= t.amount_minor, EntryStatus.MATCHED),
                      else_=EntryStatus.PARTIAL)
        done = self.session.execute(update(t).where(and_(
            t.enterprise_id == entry.enterprise_id, t.id == entry.id, new >= 0, new <= t.amount_minor,
            t.status != EntryStatus.IGNORED)).values(matched_minor=new, status=status, updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        return done == 1

    def add_to_payout(self, payout: Payout, amount: int) -> bool:
        t = Payout
        new = t.received_minor + amount
        status = case((new == 0, PayoutStatus.OPEN), (new >= t.total_minor, PayoutStatus.RECEIVED),
                      else_=PayoutStatus.PARTIAL)
        done = self.session.execute(update(t).where(and_(
            t.enterprise_id == payout.enterprise_id, t.id == payout.id, new >= 0, new <= t.total_minor))
            .values(received_minor=new, status=status, updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        return done == 1

    def set_entry_status(self, entry: BankEntry, status: str) -> None:
        self.session.execute(update(BankEntry).where(BankEntry.enterprise_id == entry.enterprise_id,
                                                     BankEntry.id == entry.id)
                             .values(status=status, updated_at=utcnow()).execution_options(synchronize_session=False))
