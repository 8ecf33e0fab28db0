"""Reading a tenant's audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from tradeloop.audit.models import AuditLog
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal


class AuditRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    def readable(self) -> Select:
        return select(AuditLog).where(AuditLog.enterprise_id == self.principal.tenant(Action.READ))

    def filtered(self, *, entity_type: str | None = None, entity_id: str | None = None, action: str | None = None,
                 actor: str | None = None, since: datetime | None = None, until: datetime | None = None) -> Select:
        stmt = self.readable()
        if entity_type:
            stmt = stmt.where(AuditLog.entity_type == entity_type)
        if entity_id:
            stmt = stmt.where(AuditLog.entity_id == entity_id)
        if action:
            stmt = stmt.where(AuditLog.action == action)
        if actor:
            stmt = stmt.where(contains_any([AuditLog.actor_label], actor))
        if since:
            stmt = stmt.where(AuditLog.at >= since)
        if until:
            stmt = stmt.where(AuditLog.at < until)
        return stmt

    def page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.filtered(**filters), AuditLog.id, cursor=cursor, limit=limit)

    def offset_page(self, *, page: int, per_page: int, **filters) -> tuple[list[AuditLog], int]:
        stmt = self.filtered(**filters)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = list(self.session.scalars(stmt.order_by(AuditLog.id.desc()).offset((page - 1) * per_page)
                                         .limit(per_page)))
        return rows, total

    def iterate(self, **filters):
        return self.session.scalars(self.filtered(**filters).order_by(AuditLog.id.desc())
                                    .execution_options(yield_per=1000))

    def for_entities(self, entity_ids: list[str], limit: int = 200) -> list[AuditLog]:
        """The history of an object and the objects that belong to it (ids are unique across types)."""
        return list(self.session.scalars(self.readable().where(AuditLog.entity_id.in_(entity_ids))
                                         .order_by(AuditLog.id.desc()).limit(limit)))

    def recent(self, limit: int = 10) -> list[AuditLog]:
        return list(self.session.scalars(self.readable().order_by(AuditLog.id.desc()).limit(limit)))

    def distinct_values(self, column: str) -> list[str]:
        col = getattr(AuditLog, column)
        return list(self.session.scalars(
            select(distinct(col)).where(AuditLog.enterprise_id == self.principal.tenant(Action.READ)).order_by(col)))
