"""Regulators' statistics. Later issues add exports by month, destination and HS with growth rates.

Small cells are suppressed: a count below ``MIN_CELL`` would let a regulator read one enterprise's
profile out of an "aggregate" (its kind, district, tags, warehouse countries). Such buckets are folded
into one "other" bucket when that reaches ``MIN_CELL`` and dropped otherwise; a total below it is shown
as 0 with ``suppressed`` set. This is the usual minimum-frequency rule of statistical disclosure control.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tradeloop.insights.repository import InsightsRepository
from tradeloop.insights.schemas import Bucket, Overview
from tradeloop.kit.tenancy import Principal

MIN_CELL = 3


def protect(rows: list[tuple[str | None, int]]) -> list[Bucket]:
    """Buckets of at least MIN_CELL; the small ones folded into ``key=None`` ("other") when that is large
    enough, else left out."""
    kept = [Bucket(key=k, count=n) for k, n in rows if n >= MIN_CELL and k is not None]
    small = sum(n for k, n in rows if n < MIN_CELL or k is None)
    if small >= MIN_CELL:
        kept.append(Bucket(key=None, count=small))
    return kept


def overview(session: Session, *, principal: Principal) -> Overview:
    repo = InsightsRepository(session, principal)
    kinds = repo.enterprises_by_kind()
    total = sum(n for _k, n in kinds)
    region = principal.regulator_region
    return Overview(
        region=region.__dict__ if region and not principal.is_platform_admin else None,
        min_cell=MIN_CELL,
        suppressed=0 < total < MIN_CELL,
        enterprises_total=total if total >= MIN_CELL else 0,
        enterprises_by_kind=protect(kinds),
        enterprises_by_city=protect(repo.enterprises_by_city()),
        enterprises_by_district=protect(repo.enterprises_by_district()),
        enterprises_by_pilot_zone=protect(repo.enterprises_by_pilot_zone()),
        industry_belts=protect(repo.industry_belts()),
        enterprises_by_warehouse_country=protect(repo.enterprises_by_warehouse_country()),
    )
