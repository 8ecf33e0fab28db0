"""Queries of payouts, their items and the payment-firm profiles, each from the tenant's own statement; and the
look-up of the sales lines payout items belong to."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Select, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from tradeloop.finance.money_models import Payout, PayoutItem
from tradeloop.finance.payout_models import PayoutProfile
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.profiles import ColumnProfileRepository
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.sales.models import SalesOrderLine

_CHUNK = 500


class PayoutRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def tenant(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    @property
    def writer(self) -> uuid.UUID:
        return self.principal.tenant(Action.WRITE)

    def readable(self) -> Select:
        return select(Payout).where(Payout.enterprise_id == self.tenant)

    def get(self, payout_id: uuid.UUID) -> Payout:
        row = self.session.scalar(self.readable().where(Payout.id == payout_id))
        if row is None:
            raise NotFound("Payout not found.", message_zh="未找到该平台结算")
        return row

    def filtered(self, *, source: str | None = None, status: str | None = None, currency: str | None = None,
                 date_from: date | None = None, date_to: date | None = None) -> Select:
        """Payouts matching the filters; the dates bound the deposit date (both inclusive)."""
        stmt = self.readable()
        if source:
            stmt = stmt.where(Payout.source == source.strip().lower())
        if status:
            stmt = stmt.where(Payout.status == status)
        if currency:
            stmt = stmt.where(Payout.currency == currency.strip().upper())
        if date_from is not None:
            stmt = stmt.where(Payout.deposit_date >= date_from)
        if date_to is not None:
            stmt = stmt.where(Payout.deposit_date <= date_to)
        return stmt

    def page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.filtered(**filters), Payout.id, cursor=cursor, limit=limit)

    def sources(self) -> list[str]:
        """The sources (channels) of the tenant's payouts, each once, in alphabetical order."""
        return list(self.session.scalars(select(Payout.source).where(Payout.enterprise_id == self.tenant)
                                         .distinct().order_by(Payout.source)))

    def by_keys(self, source: str, settlement_ids: list[str]) -> dict[str, Payout]:
        """The tenant's payouts of ``source`` with these settlement ids, locked for the import."""
        out = {}
        for i in range(0, len(settlement_ids), _CHUNK):
            stmt = select(Payout).where(Payout.enterprise_id == self.writer, Payout.source == source,
                                        Payout.settlement_id.in_(settlement_ids[i:i + _CHUNK])).with_for_update()
            out.update({p.settlement_id: p for p in self.session.scalars(stmt)})
        return out

    def items(self, payout_id: uuid.UUID) -> list[PayoutItem]:
        rows = self.session.scalars(select(PayoutItem).where(PayoutItem.enterprise_id == self.tenant,
                                                             PayoutItem.payout_id == payout_id))
        return sorted(rows, key=lambda i: (abs(i.line_no), i.line_no < 0))

    def item_counts(self, payout_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        out: dict[uuid.UUID, int] = {}
        for i in range(0, len(payout_ids), _CHUNK):
            out.update(self.session.execute(
                select(PayoutItem.payout_id, func.count()).where(
                    PayoutItem.enterprise_id == self.tenant, PayoutItem.payout_id.in_(payout_ids[i:i + _CHUNK]))
                .group_by(PayoutItem.payout_id)).tuples().all())
        return out

    def totals_by_kind(self, payout_id: uuid.UUID) -> dict[str, int]:
        rows = self.session.execute(select(PayoutItem.kind, func.sum(PayoutItem.amount_minor)).where(
            PayoutItem.enterprise_id == self.tenant, PayoutItem.payout_id == payout_id).group_by(PayoutItem.kind))
        return {kind: int(total or 0) for kind, total in rows}

    def replace_items(self, payout_id: uuid.UUID, rows: list[dict]) -> None:
        """Delete the payout's items and insert ``rows`` (one executemany per 5,000)."""
        tenant = self.writer
        self.session.execute(delete(PayoutItem).where(PayoutItem.enterprise_id == tenant,
                                                      PayoutItem.payout_id == payout_id))
        for i in range(0, len(rows), 5000):
            self.session.execute(insert(PayoutItem), rows[i:i + 5000])

    def link_items(self, links: list[tuple[uuid.UUID, uuid.UUID]]) -> int:
        """Set ``sales_line_id`` on items (item id, sales line id) that have none yet; returns how many."""
        if not links:
            return 0
        stmt = (update(PayoutItem).where(PayoutItem.enterprise_id == self.writer,
                                         PayoutItem.id == bindparam("item_id"),
                                         PayoutItem.sales_line_id.is_(None))
                .values(sales_line_id=bindparam("line_id")).execution_options(synchronize_session=False))
        self.session.connection().execute(stmt, [{"item_id": i, "line_id": s} for i, s in links])
        return len(links)

    def sales_lines(self, order_ids: list[str], channel: str | None) -> list[tuple[uuid.UUID, str, str, str]]:
        """(id, external order id, SKU, line id) of the tenant's sales lines of these orders (of ``channel`` when
        given), in line-id order."""
        t = SalesOrderLine
        out = []
        for i in range(0, len(order_ids), _CHUNK):
            stmt = select(t.id, t.external_order_id, t.sku, t.line_id).where(
                t.enterprise_id == self.writer, t.external_order_id.in_(order_ids[i:i + _CHUNK]))
            if channel:
                stmt = stmt.where(t.channel == channel)
            out.extend(self.session.execute(stmt).tuples())
        return sorted(out, key=lambda r: (r[1], r[2], r[3]))


class PayoutProfileRepository(ColumnProfileRepository):
    model = PayoutProfile
    not_found = ("Payout profile not found.", "未找到该结算文件方案")

    @staticmethod
    def normalise(name: str) -> str:
        return name.strip().lower()
