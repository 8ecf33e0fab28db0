"""Small query helpers shared by repositories."""

from __future__ import annotations

from sqlalchemy import or_


def escape_like(text: str) -> str:
    """Make ``%`` and ``_`` in user input match themselves (codes contain ``_``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains_any(columns, text: str):
    """Case-insensitive substring match of ``text`` in any of ``columns``."""
    pattern = f"%{escape_like(text)}%"
    return or_(*[c.ilike(pattern, escape="\\") for c in columns])
