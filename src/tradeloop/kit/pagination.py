"""Keyset (cursor) pagination over time-ordered ids.

A cursor is the opaque, URL-safe encoding of the last id of the previous page; lists run newest first.
Keyset pages stay fast however deep a client pages and never skip or repeat a row when rows are added.
"""

from __future__ import annotations

import base64
import uuid
from typing import Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select

from tradeloop.kit.errors import FieldError, ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            "Invalid cursor.",
            errors=[FieldError("cursor", "not a cursor returned by this API", "不是本接口返回的游标")],
        ) from exc


def paginate(session, stmt: Select, id_column, *, cursor: str | None, limit: int | None, tuples: bool = False):
    """Run ``stmt`` newest-first after ``cursor``; returns (rows, next_cursor).

    With ``tuples`` the statement selects several entities and the first one carries the id."""
    limit = min(max(limit or DEFAULT_LIMIT, 1), MAX_LIMIT)
    if cursor:
        stmt = stmt.where(id_column < decode_cursor(cursor))
    stmt = stmt.order_by(id_column.desc()).limit(limit + 1)
    rows = list(session.execute(stmt).tuples()) if tuples else list(session.scalars(stmt))
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0] if tuples else rows[limit - 1]
        next_cursor = encode_cursor(getattr(last, id_column.key))
    return rows[:limit], next_cursor
