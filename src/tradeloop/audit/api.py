"""The tenant's audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from tradeloop.audit.repository import AuditRepository
from tradeloop.audit.schemas import AuditRead
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(tags=["audit"])


def _as_utc(value: datetime | None) -> datetime | None:
    """A date-time without a zone is read as UTC, the zone audit times are stored in."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("/audit", response_model=Page[AuditRead])
def list_audit(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
               entity_type: str | None = None, entity_id: str | None = None, action: str | None = None,
               since: datetime | None = None, until: datetime | None = None):
    """Newest first. ``since``/``until`` are ISO 8601 date-times (UTC when no offset is given)."""
    since, until = (_as_utc(since), _as_utc(until))
    rows, nxt = AuditRepository(db, principal).page(cursor=cursor, limit=limit, entity_type=entity_type,
                                                    entity_id=entity_id, action=action, since=since, until=until)
    return Page(items=[AuditRead.model_validate(r) for r in rows], next_cursor=nxt)
