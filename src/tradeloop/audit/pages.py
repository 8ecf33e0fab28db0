"""The audit log page: who changed what and when, filterable, exportable."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request

from tradeloop.audit.repository import AuditRepository
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.i18n import timezone_var
from tradeloop.kit.pages import PER_PAGE_CHOICES, OffsetPage, int_param, xlsx_response
from tradeloop.kit.templating import action_label, render
from tradeloop.kit.web import DB, PagePrincipal

router = APIRouter()


def _filters(params: dict) -> dict:
    """Form values to repository filters; dates are days in the user's time zone."""
    tz = ZoneInfo(timezone_var.get())

    def day(value: str | None, plus: int = 0):
        try:
            d = date.fromisoformat(value) if value else None
        except ValueError:
            return None
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC) + timedelta(days=plus) if d else None

    return {"entity_type": params.get("entity_type") or None, "action": params.get("action") or None,
            "actor": params.get("actor") or None, "since": day(params.get("from")),
            "until": day(params.get("to"), 1)}


@router.get("/audit")
def audit_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = AuditRepository(db, principal)
    per_page = int_param(params, "per_page", 50)
    per_page = per_page if per_page in PER_PAGE_CHOICES else 50
    page_no = max(int_param(params, "page", 1), 1)
    rows, total = repo.offset_page(page=page_no, per_page=per_page, **_filters(params))
    page = OffsetPage(rows, total, page_no, per_page, "at", True)
    return render(request, "audit.html", {
        "active": "audit", "page": page, "params": params,
        "entity_types": repo.distinct_values("entity_type"),
        "actions": [(a, action_label(a)) for a in repo.distinct_values("action")]})


@router.get("/audit.xlsx")
def audit_export(request: Request, principal: PagePrincipal, db: DB):
    import json

    rows = AuditRepository(db, principal).iterate(**_filters(dict(request.query_params)))
    header = [_("Time"), _("Actor"), _("Action"), _("Entity"), _("Entity id"), _("Before"), _("After"), _("Request id")]
    return xlsx_response("audit-log.xlsx", header, (
        [r.at.astimezone(ZoneInfo(timezone_var.get())).replace(tzinfo=None), r.actor_label, r.action, r.entity_type,
         r.entity_id, json.dumps(r.before, ensure_ascii=False) if r.before else None,
         json.dumps(r.after, ensure_ascii=False) if r.after else None, r.request_id] for r in rows))
