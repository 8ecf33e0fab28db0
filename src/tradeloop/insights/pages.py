"""Regulators' statistics page (aggregates of their region)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tradeloop.insights import service
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.templating import kind_label, render
from tradeloop.kit.web import DB, PagePrincipal

router = APIRouter()


@router.get("/insights")
def insights_page(request: Request, principal: PagePrincipal, db: DB):
    data = service.overview(db, principal=principal)
    other = _("Other")
    kinds = [{"name": kind_label(b.key) if b.key else other, "value": b.count} for b in data.enterprises_by_kind]
    countries = [{"name": b.key or other, "value": b.count} for b in data.enterprises_by_warehouse_country]
    return render(request, "insights.html", {"active": "insights", "data": data, "kinds": kinds,
                                             "countries": countries})
