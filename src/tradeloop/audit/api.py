"""The tenant's audit trail."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from tradeloop.audit.repository import AuditRepository
from tradeloop.audit.schemas import AuditRead
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditRead])
def list_audit(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
               entity_type: str | None = None, entity_id: str | None = None, action: str | None = None,
               since: datetime | None = None, until: datetime | None = None):
    rows, nxt = AuditRepository(db, principal).page(cursor=cursor, limit=limit, entity_type=entity_type,
                                                    entity_id=entity_id, action=action, since=since, until=until)
    return Page(items=[AuditRead.model_validate(r) for r in rows], next_cursor=nxt)
