"""Small helpers for thin API endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
Limit = Annotated[int | None, Query(ge=1, le=500, description="page size (default 50)")]
