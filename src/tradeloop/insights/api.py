"""Aggregates for regulators (commerce, customs, tax, FX bureaus of a region)."""

from __future__ import annotations

from fastapi import APIRouter

from tradeloop.insights import service
from tradeloop.insights.schemas import Overview
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(prefix="/stats", tags=["insights"])


@router.get("/overview", response_model=Overview)
def stats_overview(principal: CurrentPrincipal, db: DB):
    return service.overview(db, principal=principal)
