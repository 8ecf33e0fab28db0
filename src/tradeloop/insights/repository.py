"""Aggregates over a region for regulators: counts only, never a single enterprise's rows."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tradeloop.enterprises.models import Enterprise
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.warehouse.models import Warehouse, WarehouseClient


class InsightsRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    def enterprises_in_scope(self) -> Select:
        self.principal.require(Action.STATS)
        stmt = select(Enterprise.id)
        region = self.principal.regulator_region
        if region is not None and not self.principal.is_platform_admin:
            stmt = stmt.where(Enterprise.province == region.province)
            if region.city:
                stmt = stmt.where(Enterprise.city == region.city)
            if region.district:
                stmt = stmt.where(Enterprise.district == region.district)
        return stmt

    def _grouped(self, column) -> list[tuple[str | None, int]]:
        ids = self.enterprises_in_scope()
        rows = self.session.execute(
            select(column, func.count()).where(Enterprise.id.in_(ids)).group_by(column).order_by(func.count().desc())
        )
        return [(k, n) for k, n in rows.tuples()]

    def enterprises_by_kind(self):
        return self._grouped(Enterprise.kind)

    def enterprises_by_city(self):
        return self._grouped(Enterprise.city)

    def enterprises_by_district(self):
        return self._grouped(Enterprise.district)

    def enterprises_by_pilot_zone(self):
        return self._grouped(Enterprise.pilot_zone)

    def industry_belts(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        ids = self.enterprises_in_scope()
        for belts in self.session.scalars(select(Enterprise.industry_belts).where(Enterprise.id.in_(ids))):
            for b in belts or []:
                counts[b] = counts.get(b, 0) + 1
        return sorted(counts.items(), key=lambda kv: -kv[1])

    def warehouses_by_country(self) -> list[tuple[str, int]]:
        """Warehouses registered by, or used by, enterprises of the region (each counted once)."""
        ids = self.enterprises_in_scope()
        used = select(WarehouseClient.warehouse_id).where(WarehouseClient.client_enterprise_id.in_(ids))
        rows = self.session.execute(
            select(Warehouse.country, func.count(func.distinct(Warehouse.id)))
            .where(Warehouse.enterprise_id.in_(ids) | Warehouse.id.in_(used))
            .group_by(Warehouse.country).order_by(func.count(func.distinct(Warehouse.id)).desc())
        )
        return [(k, n) for k, n in rows.tuples()]
