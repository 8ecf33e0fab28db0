"""The closed loop per export declaration: exported -> received -> on hand / sold / returned, with value."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from fastapi import APIRouter

from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.loop import service
from tradeloop.loop.schemas import DeclarationLoopRead, DeclarationRef, LineageRead, LineLoopRead, TaxRead

router = APIRouter(prefix="/loop", tags=["loop"])


def loop_read(view: service.DeclarationLoop) -> DeclarationLoopRead:
    d = view.declaration
    return DeclarationLoopRead(
        declaration=DeclarationRef(id=d.id, cop_no=d.cop_no, invt_no=d.invt_no, entry_id=d.entry_id, mode=d.mode,
                                   status=d.status, ie_date=d.ie_date, currency=d.currency,
                                   warehouse_id=d.warehouse_id),
        proceeds_due=view.proceeds_due, proceeds_overdue=view.proceeds_overdue, tax=TaxRead(**view.tax),
        totals=view.totals,
        lines=[LineLoopRead(**{k: v for k, v in asdict(li).items() if k in LineLoopRead.model_fields},
                            balanced=li.balanced) for li in view.lines])


@router.get("/declarations", response_model=Page[DeclarationLoopRead])
def list_declarations(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                      q: str | None = None, warehouse_id: uuid.UUID | None = None):
    """Exported (released) declarations, newest first, each with its loop totals and lines."""
    views, nxt = service.declarations_page(db, principal=principal, cursor=cursor, limit=limit, q=q,
                                           warehouse_id=warehouse_id)
    return Page(items=[loop_read(v) for v in views], next_cursor=nxt)


@router.get("/declarations/{declaration_id}", response_model=DeclarationLoopRead)
def get_declaration(declaration_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """One exported declaration's loop, per line: exported, received (with discrepancies), in transit, on hand,
    sold (and realised value), returned, disposed, returned to China, losses, units abroad by age."""
    return loop_read(service.one_declaration(db, principal=principal, declaration_id=declaration_id))


@router.get("/sales-lines/{sales_line_id}/lineage", response_model=list[LineageRead])
def sales_line_lineage(sales_line_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """The declaration lines (through FIFO lots) the units of one sales line were exported under."""
    return service.lineage(db, principal=principal, sales_line_id=sales_line_id)
