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

    def enterprises_by_warehouse_country(self) -> list[tuple[str, int]]:
        """Per country: how many enterprises of the region keep or use an overseas warehouse there."""
        ids = self.enterprises_in_scope()
        owned = select(Warehouse.country.label("country"), Warehouse.enterprise_id.label("enterprise_id")).where(
            Warehouse.enterprise_id.in_(ids))
        used = (select(Warehouse.country.label("country"), WarehouseClient.client_enterprise_id.label("enterprise_id"))
                .join(Warehouse, (Warehouse.enterprise_id == WarehouseClient.enterprise_id)
                      & (Warehouse.id == WarehouseClient.warehouse_id))
                .where(WarehouseClient.client_enterprise_id.in_(ids)))
        pairs = owned.union(used).subquery()
        count = func.count(func.distinct(pairs.c.enterprise_id))
        rows = self.session.execute(select(pairs.c.country, count).group_by(pairs.c.country).order_by(count.desc()))
        return [(k, n) for k, n in rows.tuples()]
