"""Queries on warehouses. Owners read and change; client exporters read the master data only."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.warehouse.models import (
    Warehouse,
    WarehouseClient,
    WarehouseEvidence,
    WarehouseFiling,
    WarehouseFilingEvent,
)


class WarehouseRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    # --- warehouses ---------------------------------------------------------------------------

    def readable(self) -> Select:
        me = self.principal.tenant(Action.READ)
        is_client = exists().where(
            WarehouseClient.enterprise_id == Warehouse.enterprise_id,
            WarehouseClient.warehouse_id == Warehouse.id,
            WarehouseClient.client_enterprise_id == me,
        )
        return select(Warehouse).where(or_(Warehouse.enterprise_id == me, is_client))

    def owned(self) -> Select:
        return select(Warehouse).where(Warehouse.enterprise_id == self.principal.tenant(Action.READ))

    def get(self, warehouse_id: uuid.UUID) -> Warehouse:
        row = self.session.scalar(self.readable().where(Warehouse.id == warehouse_id))
        if row is None:
            raise NotFound("Warehouse not found.", message_zh="未找到该海外仓")
        return row

    def get_owned(self, warehouse_id: uuid.UUID, *, for_update: bool = False) -> Warehouse:
        stmt = self.owned().where(Warehouse.id == warehouse_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Warehouse not found.", message_zh="未找到该海外仓")
        return row

    def filtered(self, *, q: str | None = None, country: str | None = None, tenure: str | None = None) -> Select:
        stmt = self.readable()
        if q:
            stmt = stmt.where(contains_any([Warehouse.name_zh, Warehouse.name_en, Warehouse.code,
                                            Warehouse.operator_name, Warehouse.address], q))
        if country:
            stmt = stmt.where(Warehouse.country == country.upper())
        if tenure:
            stmt = stmt.where(Warehouse.tenure == tenure)
        return stmt

    def page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.filtered(**filters), Warehouse.id, cursor=cursor, limit=limit)

    def count(self, **filters) -> int:
        return self.session.scalar(select(func.count()).select_from(self.filtered(**filters).subquery()))

    def iterate(self, **filters):
        return self.session.scalars(self.filtered(**filters).order_by(Warehouse.code).execution_options(
            yield_per=500))

    def code_taken(self, code: str, *, except_id: uuid.UUID | None = None) -> bool:
        stmt = select(func.count()).select_from(Warehouse).where(
            Warehouse.enterprise_id == self.principal.tenant(Action.READ), func.lower(Warehouse.code) == code.lower()
        )
        if except_id is not None:
            stmt = stmt.where(Warehouse.id != except_id)
        return self.session.scalar(stmt) > 0

    # --- clients (owner only) -----------------------------------------------------------------

    def clients(self, warehouse_id: uuid.UUID) -> list[WarehouseClient]:
        self.get_owned(warehouse_id)
        return list(self.session.scalars(
            select(WarehouseClient).where(
                WarehouseClient.enterprise_id == self.principal.tenant(Action.READ),
                WarehouseClient.warehouse_id == warehouse_id,
            ).order_by(WarehouseClient.id)
        ))

    def clients_page(self, warehouse_id: uuid.UUID, *, cursor: str | None, limit: int | None):
        self.get_owned(warehouse_id)
        stmt = select(WarehouseClient).where(
            WarehouseClient.enterprise_id == self.principal.tenant(Action.READ),
            WarehouseClient.warehouse_id == warehouse_id,
        )
        return paginate(self.session, stmt, WarehouseClient.id, cursor=cursor, limit=limit)

    def client(self, warehouse_id: uuid.UUID, client_id: uuid.UUID) -> WarehouseClient:
        row = self.session.scalar(select(WarehouseClient).where(
            WarehouseClient.enterprise_id == self.principal.tenant(Action.READ),
            WarehouseClient.warehouse_id == warehouse_id, WarehouseClient.id == client_id))
        if row is None:
            raise NotFound("Client not found.")
        return row

    def client_link_exists(self, warehouse_id: uuid.UUID, client_enterprise_id: uuid.UUID) -> bool:
        return self.session.scalar(select(func.count()).select_from(WarehouseClient).where(and_(
            WarehouseClient.enterprise_id == self.principal.tenant(Action.READ),
            WarehouseClient.warehouse_id == warehouse_id,
            WarehouseClient.client_enterprise_id == client_enterprise_id))) > 0

    # --- evidence (owner only) ----------------------------------------------------------------

    def evidence_statement(self, warehouse_id: uuid.UUID) -> Select:
        return select(WarehouseEvidence).where(
            WarehouseEvidence.enterprise_id == self.principal.tenant(Action.READ),
            WarehouseEvidence.warehouse_id == warehouse_id,
        )

    def evidence_page(self, warehouse_id: uuid.UUID, *, cursor: str | None, limit: int | None):
        self.get_owned(warehouse_id)
        return paginate(self.session, self.evidence_statement(warehouse_id), WarehouseEvidence.id,
                        cursor=cursor, limit=limit)

    def evidence(self, warehouse_id: uuid.UUID, evidence_id: uuid.UUID) -> WarehouseEvidence:
        row = self.session.scalar(self.evidence_statement(warehouse_id).where(WarehouseEvidence.id == evidence_id))
        if row is None:
            raise NotFound("Evidence file not found.")
        return row

    def evidence_by_sha(self, warehouse_id: uuid.UUID, sha256: str) -> WarehouseEvidence | None:
        return self.session.scalar(self.evidence_statement(warehouse_id).where(WarehouseEvidence.sha256 == sha256))

    # --- filings (owner only) -----------------------------------------------------------------

    def filings_statement(self, warehouse_id: uuid.UUID) -> Select:
        return select(WarehouseFiling).where(
            WarehouseFiling.enterprise_id == self.principal.tenant(Action.READ),
            WarehouseFiling.warehouse_id == warehouse_id,
        )

    def filings_page(self, warehouse_id: uuid.UUID, *, cursor: str | None, limit: int | None):
        self.get_owned(warehouse_id)
        return paginate(self.session, self.filings_statement(warehouse_id), WarehouseFiling.id,
                        cursor=cursor, limit=limit)

    def filing(self, warehouse_id: uuid.UUID, filing_id: uuid.UUID, *, for_update: bool = False) -> WarehouseFiling:
        stmt = self.filings_statement(warehouse_id).where(WarehouseFiling.id == filing_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Filing not found.")
        return row

    def filing_events(self, filing_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[WarehouseFilingEvent]]:
        out: dict[uuid.UUID, list[WarehouseFilingEvent]] = {fid: [] for fid in filing_ids}
        if not filing_ids:
            return out
        rows = self.session.scalars(select(WarehouseFilingEvent).where(
            WarehouseFilingEvent.enterprise_id == self.principal.tenant(Action.READ),
            WarehouseFilingEvent.filing_id.in_(filing_ids),
        ).order_by(WarehouseFilingEvent.effective_on, WarehouseFilingEvent.id))
        for row in rows:
            out[row.filing_id].append(row)
        return out
