"""Queries on enterprises. Tenants read only their own row; platform admins read all."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tradeloop.enterprises.models import Enterprise
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal


class EnterpriseRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    def readable(self) -> Select:
        stmt = select(Enterprise)
        if self.principal.can(Action.PLATFORM):
            return stmt
        return stmt.where(Enterprise.id == self.principal.tenant(Action.READ))

    def get(self, enterprise_id: uuid.UUID, *, for_update: bool = False) -> Enterprise:
        stmt = self.readable().where(Enterprise.id == enterprise_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Enterprise not found.")
        return row

    def filtered(self, *, kind: str | None = None, q: str | None = None) -> Select:
        stmt = self.readable()
        if kind:
            stmt = stmt.where(Enterprise.kind == kind)
        if q:
            stmt = stmt.where(contains_any([Enterprise.name_zh, Enterprise.name_en, Enterprise.uscc], q))
        return stmt

    def all(self) -> list[Enterprise]:
        return list(self.session.scalars(self.readable().order_by(Enterprise.name_zh)))

    def page(self, *, cursor: str | None, limit: int | None, kind: str | None = None, q: str | None = None):
        return paginate(self.session, self.filtered(kind=kind, q=q), Enterprise.id, cursor=cursor, limit=limit)

    # Look-ups by natural key, used by services to enforce uniqueness and by the CLI.
    def by_uscc(self, uscc: str) -> Enterprise | None:
        return self.session.scalar(self.readable().where(Enterprise.uscc == uscc))

    def uscc_taken(self, uscc: str) -> bool:
        return self.session.scalar(select(func.count()).where(Enterprise.uscc == uscc)) > 0

    def customs_code_taken(self, code: str, *, except_id: uuid.UUID | None = None) -> bool:
        stmt = select(func.count()).select_from(Enterprise).where(Enterprise.customs_code == code)
        if except_id is not None:
            stmt = stmt.where(Enterprise.id != except_id)
        return self.session.scalar(stmt) > 0

    def names(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Display names of enterprises a tenant is linked to (warehouse operators and clients)."""
        if not ids:
            return {}
        rows = self.session.execute(select(Enterprise.id, Enterprise.name_zh).where(Enterprise.id.in_(ids)))
        return {k: v for k, v in rows.tuples()}

    def lookup_by_uscc(self, uscc: str) -> Enterprise | None:
        """Unscoped look-up by USCC, for linking another enterprise (a warehouse's client or operator).
        Callers expose only its id and name."""
        return self.session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
