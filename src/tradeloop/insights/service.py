"""Regulators' statistics. Later issues add exports by month, destination and HS with growth rates."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tradeloop.insights.repository import InsightsRepository
from tradeloop.insights.schemas import Bucket, Overview
from tradeloop.kit.tenancy import Principal


def overview(session: Session, *, principal: Principal) -> Overview:
    repo = InsightsRepository(session, principal)

    def buckets(rows):
        return [Bucket(key=k, count=n) for k, n in rows]

    by_kind = buckets(repo.enterprises_by_kind())
    region = principal.regulator_region
    return Overview(
        region=region.__dict__ if region and not principal.is_platform_admin else None,
        enterprises_total=sum(b.count for b in by_kind),
        enterprises_by_kind=by_kind,
        enterprises_by_city=buckets(repo.enterprises_by_city()),
        enterprises_by_district=buckets(repo.enterprises_by_district()),
        enterprises_by_pilot_zone=buckets(repo.enterprises_by_pilot_zone()),
        industry_belts=buckets(repo.industry_belts()),
        warehouses_by_country=buckets(repo.warehouses_by_country()),
    )
