"""Queries of bank statements and their entries, each from the tenant's own statement (``enterprise_id`` first,
as the keys are)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Select, func, insert, select, tuple_
from sqlalchemy.orm import Session

from tradeloop.finance.money_models import BankEntry, BankStatement
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal

#: (account, booking_date, bank_ref, direction, amount_minor): the entry key of ``uq_bank_entries_key``.
EntryKey = tuple[str, date, str, str, int]
_CHUNK = 500


class StatementRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    # --- statements ------------------------------------------------------------------------------

    def statements(self, *, format: str | None = None, account: str | None = None) -> Select:
        stmt = select(BankStatement).where(BankStatement.enterprise_id == self.me)
        if format:
            stmt = stmt.where(BankStatement.format == format)
        if account:
            stmt = stmt.where(BankStatement.account == account.replace(" ", ""))
        return stmt

    def page_statements(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.statements(**filters), BankStatement.id, cursor=cursor, limit=limit)

    def statement(self, statement_id: uuid.UUID) -> BankStatement:
        row = self.session.scalar(self.statements().where(BankStatement.id == statement_id))
        if row is None:
            raise NotFound("Bank statement not found.", message_zh="未找到该银行对账单")
        return row

    def find_statement(self, statement_id: uuid.UUID | None) -> BankStatement | None:
        """The tenant's statement, or None (no error) when there is none with that id."""
        return self.session.scalar(self.statements().where(BankStatement.id == statement_id))

    def by_file(self, file_sha256: str) -> BankStatement | None:
        return self.session.scalar(self.statements().where(BankStatement.file_sha256 == file_sha256,
                                                           BankStatement.seq == 1))

    def entry_counts(self, statement_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not statement_ids:
            return {}
        rows = self.session.execute(
            select(BankEntry.statement_id, func.count()).where(
                BankEntry.enterprise_id == self.me, BankEntry.statement_id.in_(statement_ids))
            .group_by(BankEntry.statement_id))
        return dict(rows.tuples().all())

    # --- entries ---------------------------------------------------------------------------------

    def entries(self, *, statement_id: uuid.UUID | None = None, status: str | None = None,
                direction: str | None = None, currency: str | None = None, date_from: date | None = None,
                date_to: date | None = None, account: str | None = None, q: str | None = None) -> Select:
        """Entries matching the filters; ``date_from``/``date_to`` are booking days, both inclusive; ``q`` is a
        case-insensitive substring of the reference, counterparty, remittance text or bank reference."""
        t = BankEntry
        stmt = select(t).where(t.enterprise_id == self.me)
        if statement_id is not None:
            stmt = stmt.where(t.statement_id == statement_id)
        if status:
            stmt = stmt.where(t.status == status)
        if direction:
            stmt = stmt.where(t.direction == direction)
        if currency:
            stmt = stmt.where(t.currency == currency.upper())
        if date_from is not None:
            stmt = stmt.where(t.booking_date >= date_from)
        if date_to is not None:
            stmt = stmt.where(t.booking_date <= date_to)
        if account:
            stmt = stmt.where(t.account == account.replace(" ", ""))
        q = (q or "").strip()
        if q:
            stmt = stmt.where(contains_any([t.reference, t.counterparty, t.remittance, t.bank_ref], q))
        return stmt

    def page_entries(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.entries(**filters), BankEntry.id, cursor=cursor, limit=limit)

    def latest_entries(self, *, limit: int, **filters) -> list[BankEntry]:
        """At most ``limit`` entries matching the filters, the latest booking day first."""
        return list(self.session.scalars(self.entries(**filters)
                                         .order_by(BankEntry.booking_date.desc(), BankEntry.id.desc()).limit(limit)))

    def entry_totals(self, **filters) -> list[tuple[str, str, int, int, int]]:
        """(currency, direction, count, sum of amount_minor, sum of matched_minor) of the entries matching the
        filters, one row per currency and direction."""
        sub = self.entries(**filters).subquery()
        rows = self.session.execute(
            select(sub.c.currency, sub.c.direction, func.count(), func.sum(sub.c.amount_minor),
                   func.sum(sub.c.matched_minor)).group_by(sub.c.currency, sub.c.direction)).tuples()
        return [(currency, direction, int(count), int(total or 0), int(matched or 0))
                for currency, direction, count, total, matched in rows]

    def currencies(self) -> list[str]:
        """The currencies of the tenant's entries, each once, in alphabetical order."""
        return list(self.session.scalars(select(BankEntry.currency).where(BankEntry.enterprise_id == self.me)
                                         .distinct().order_by(BankEntry.currency)))

    def entries_of(self, statement_id: uuid.UUID) -> list[BankEntry]:
        return list(self.session.scalars(self.entries(statement_id=statement_id)
                                         .order_by(BankEntry.booking_date, BankEntry.id)))

    def existing_keys(self, keys: list[EntryKey]) -> set[EntryKey]:
        """Which of ``keys`` the tenant already has (from any statement: a camt.054 and the day's camt.053
        carry the same entry)."""
        t = BankEntry
        found: set[EntryKey] = set()
        unique = sorted(set(keys))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i:i + _CHUNK]
            rows = self.session.execute(
                select(t.account, t.booking_date, t.bank_ref, t.direction, t.amount_minor).where(
                    t.enterprise_id == self.me,
                    t.account.in_({k[0] for k in chunk}),
                    t.booking_date.in_({k[1] for k in chunk}),
                    tuple_(t.account, t.booking_date, t.bank_ref, t.direction, t.amount_minor).in_(chunk)))
            found.update(tuple(r) for r in rows.tuples())
        return found

    # --- writes (the service decides; these only add) ----------------------------------------------

    def add_statement(self, **values) -> BankStatement:
        row = BankStatement(enterprise_id=self.principal.tenant(Action.WRITE), **values)
        self.session.add(row)
        return row

    def add_entries(self, rows: list[dict]) -> None:
        """Insert entries (one executemany per 1,000); each dict has every column but ``enterprise_id``."""
        me = self.principal.tenant(Action.WRITE)
        for i in range(0, len(rows), 1000):
            self.session.execute(insert(BankEntry), [{**r, "enterprise_id": me} for r in rows[i:i + 1000]])
