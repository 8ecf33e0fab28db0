"""Queries of exchange rates (reference data: readable by every signed-in principal)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tradeloop.finance.models import ExchangeRate


class RateRepository:
    def __init__(self, session: Session):
        self.session = session

    def filtered(self, *, currency: str | None = None, source: str | None = None, date_from: date | None = None,
                 date_to: date | None = None) -> Select:
        stmt = select(ExchangeRate)
        if currency:
            stmt = stmt.where(ExchangeRate.currency == currency.upper())
        if source:
            stmt = stmt.where(ExchangeRate.source == source)
        if date_from:
            stmt = stmt.where(ExchangeRate.day >= date_from)
        if date_to:
            stmt = stmt.where(ExchangeRate.day <= date_to)
        return stmt

    def page(self, *, offset: int, limit: int, **filters) -> tuple[list[ExchangeRate], int]:
        stmt = self.filtered(**filters)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = list(self.session.scalars(stmt.order_by(ExchangeRate.day.desc(), ExchangeRate.currency,
                                                       ExchangeRate.source).offset(offset).limit(limit)))
        return rows, total

    def latest_on_or_before(self, source: str, currency: str, day: date, earliest: date) -> ExchangeRate | None:
        return self.session.scalar(select(ExchangeRate).where(
            ExchangeRate.source == source, ExchangeRate.currency == currency, ExchangeRate.day <= day,
            ExchangeRate.day >= earliest).order_by(ExchangeRate.day.desc()).limit(1))

    def series(self, currency: str, sources: tuple[str, ...]) -> list[ExchangeRate]:
        """Every rate of a currency from these sources, oldest first (a long computation caches them)."""
        return list(self.session.scalars(select(ExchangeRate).where(
            ExchangeRate.currency == currency, ExchangeRate.source.in_(sources)).order_by(ExchangeRate.day)))

    def on(self, source: str, currency: str, day: date) -> ExchangeRate | None:
        return self.session.get(ExchangeRate, (source, currency, day))

    def existing(self, source: str, keys: list[tuple[str, date]]) -> dict[tuple[str, date], ExchangeRate]:
        out = {}
        days = sorted({d for _c, d in keys})
        for i in range(0, len(days), 500):
            for row in self.session.scalars(select(ExchangeRate).where(
                    ExchangeRate.source == source, ExchangeRate.day.in_(days[i:i + 500]))):
                out[(row.currency, row.day)] = row
        return out

    def upsert(self, rows: list[dict]) -> None:
        """Insert or replace rates (one executemany per 5,000)."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for i in range(0, len(rows), 5000):
            stmt = insert(ExchangeRate)
            stmt = stmt.on_conflict_do_update(index_elements=["source", "currency", "day"], set_={
                "rate": stmt.excluded.rate, "quote": stmt.excluded.quote, "quoted": stmt.excluded.quoted,
                "note": stmt.excluded.note})
            self.session.execute(stmt, rows[i:i + 5000])

    def currencies(self) -> list[tuple[str, int, date, date]]:
        return list(self.session.execute(select(ExchangeRate.currency, func.count(), func.min(ExchangeRate.day),
                                                func.max(ExchangeRate.day)).group_by(ExchangeRate.currency)
                                         .order_by(ExchangeRate.currency)).tuples())
