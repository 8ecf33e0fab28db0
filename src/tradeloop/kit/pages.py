"""Helpers for server-rendered pages: form errors, offset paging with sorting, flash messages, Excel."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, StreamingResponse
from sqlalchemy import Select, func, select

from tradeloop.kit.errors import DomainError
from tradeloop.kit.i18n import locale_var

PER_PAGE_CHOICES = (20, 50, 100)


def error_messages(exc: DomainError) -> dict[str, str]:
    """Field -> message in the current language; '_' holds the overall message."""
    zh = locale_var.get() != "en"
    out: dict[str, str] = {}
    for e in exc.errors:
        msg = e.message_zh if zh else e.message_en
        out[e.field] = f"{out[e.field]}；{msg}" if e.field in out else msg
    overall = exc.extra.get("message_zh") if zh and exc.extra.get("message_zh") else exc.detail
    out["_"] = overall
    return out


def flash(request: Request, message: str, kind: str = "success") -> None:
    request.session.setdefault("flash", []).append({"kind": kind, "message": message})


def pop_flashes(request: Request) -> list[dict]:
    return request.session.pop("flash", [])


def uuid_param(text: str | None) -> uuid.UUID | None:
    """A UUID query or form value; anything unparseable is None (a filter left out, not an error)."""
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def date_param(text: str | None) -> date | None:
    """A YYYY-MM-DD query or form value; anything unparseable is None."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def int_param(params: dict, name: str, default: int) -> int:
    """An integer query parameter; anything unparseable gives the default (a page, not an error)."""
    value = params.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@dataclass
class OffsetPage:
    rows: list[Any]
    total: int
    page: int
    per_page: int
    sort: str
    desc: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def offset_page(session, stmt: Select, *, sort_columns: dict[str, Any], sort: str | None, desc: bool,
                page: int, per_page: int, default_sort: str) -> OffsetPage:
    """A page of ``stmt`` sorted by a whitelisted column (ties broken by id, so pages never overlap)."""
    sort = sort if sort in sort_columns else default_sort
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    column = sort_columns[sort]
    entity = stmt.column_descriptions[0]["entity"]
    order = [column.desc() if desc else column.asc(), entity.id.desc() if desc else entity.id.asc()]
    rows = list(session.scalars(stmt.order_by(*order).offset((page - 1) * per_page).limit(per_page)))
    return OffsetPage(rows, total, page, per_page, sort, desc)


def _text_cell(ws, value: str):
    """A string cell stored as text: openpyxl would store '=…' as a formula, and a value another tenant
    typed (a warehouse name, an API key name) must never run in the reader's spreadsheet."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    return cell


def xlsx_response(filename: str, header: list[str], rows) -> StreamingResponse:
    """Write rows to an .xlsx in openpyxl's write-only (streaming) mode."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    bold = Font(bold=True)
    cells = []
    for h in header:
        c = WriteOnlyCell(ws, value=h)
        c.font = bold
        cells.append(c)
    ws.append(cells)
    for row in rows:
        ws.append([_text_cell(ws, v) if isinstance(v, str) else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    from urllib.parse import quote

    return StreamingResponse(
        buf,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )
