"""Writing audit rows. Called by every state-changing service function, inside its transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from tradeloop.audit.models import AuditLog
from tradeloop.kit.context import request_id_var
from tradeloop.kit.tenancy import Principal

#: Columns never copied into audit rows.
REDACTED = frozenset({"password_hash", "key_hash"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(obj: Any) -> dict[str, Any] | None:
    """The column values of an ORM object (or a dataclass/dict), JSON-ready, secrets left out."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items() if k not in REDACTED}
    if dataclasses.is_dataclass(obj):
        return _jsonable(dataclasses.asdict(obj))
    mapper = inspect(obj).mapper
    return {
        attr.key: _jsonable(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in REDACTED
    }


def record(
    session: Session,
    *,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: Any,
    before: Any = None,
    after: Any = None,
    enterprise_id: uuid.UUID | None = None,
) -> AuditLog:
    """Add an audit row to ``session``; it commits or rolls back with the change it describes."""
    session.flush()  # column defaults (ids, timestamps) are part of what was changed
    row = AuditLog(
        enterprise_id=enterprise_id if enterprise_id is not None else principal.enterprise_id,
        actor_type=principal.kind,
        actor_id=principal.user_id or principal.api_key_id,
        actor_label=principal.label,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id),
        before=before if isinstance(before, dict) or before is None else snapshot(before),
        after=after if isinstance(after, dict) or after is None else snapshot(after),
        request_id=request_id_var.get(),
    )
    session.add(row)
    return row
