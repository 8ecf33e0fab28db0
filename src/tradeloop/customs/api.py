"""Export declarations (9610/9710/9810/1210), their CEB messages and receipts, summaries, the quarantine."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from tradeloop.customs import inbound, service
from tradeloop.customs.ceb.catalogue import status_label
from tradeloop.customs.gateway import exchange_config
from tradeloop.customs.models import Declaration
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.customs.schemas import (
    CancelIn,
    DeclarationCreate,
    DeclarationRead,
    DeclarationUpdate,
    DocumentRead,
    LineRead,
    MessageRead,
    QuarantineRead,
    ResolveIn,
    SummaryPlanIn,
    SummaryRead,
)
from tradeloop.kit.api import Cursor, Limit, read_upload
from tradeloop.kit.money import from_minor
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.reference.lookup import ReferenceLookup

router = APIRouter(prefix="/customs", tags=["customs"])


def declaration_read(db, principal, decl: Declaration, *, full: bool = False) -> DeclarationRead:
    units = ReferenceLookup(db).minor_units(decl.currency) or 0
    data = {k: getattr(decl, k) for k in DeclarationRead.model_fields
            if k not in {"freight", "insured_fee", "goods_value", "lines", "documents"}}
    data.update(freight=from_minor(decl.freight_minor, units), insured_fee=from_minor(decl.insured_fee_minor, units),
                goods_value=from_minor(decl.goods_value_minor, units))
    if full:
        repo = DeclarationRepository(db, principal)
        data["lines"] = [LineRead.model_validate({**{k: getattr(li, k) for k in LineRead.model_fields if k != "total"},
                                                  "total": from_minor(li.total_minor, units)})
                         for li in repo.lines(decl.id)]
        data["documents"] = [DocumentRead.model_validate(
            {**{k: getattr(d, k) for k in DocumentRead.model_fields if k != "status_label"},
             "status_label": status_label(d.status_code) if d.status_code else None})
            for d in repo.documents(decl.id)]
    return DeclarationRead.model_validate(data)


def _config(request: Request) -> service.ExchangeConfig:
    return exchange_config(request.app.state.settings)


@router.get("/declarations", response_model=Page[DeclarationRead])
def list_declarations(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                      q: str | None = None, status: str | None = None, mode: str | None = None,
                      date_from: date | None = None, date_to: date | None = None):
    rows, nxt = DeclarationRepository(db, principal).page(cursor=cursor, limit=limit, q=q, status=status, mode=mode,
                                                          date_from=date_from, date_to=date_to)
    return Page(items=[declaration_read(db, principal, r) for r in rows], next_cursor=nxt)


@router.post("/declarations", response_model=DeclarationRead, status_code=201)
def create_declaration(body: DeclarationCreate, principal: CurrentPrincipal, db: DB, response: Response):
    decl = service.create_declaration(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/customs/declarations/{decl.id}"
    return declaration_read(db, principal, decl, full=True)


@router.get("/declarations/{declaration_id}", response_model=DeclarationRead)
def get_declaration(declaration_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return declaration_read(db, principal, DeclarationRepository(db, principal).get(declaration_id), full=True)


@router.patch("/declarations/{declaration_id}", response_model=DeclarationRead)
def update_declaration(declaration_id: uuid.UUID, body: DeclarationUpdate, principal: CurrentPrincipal, db: DB):
    decl = service.update_declaration(db, principal=principal, declaration_id=declaration_id, data=body)
    return declaration_read(db, principal, decl, full=True)


@router.delete("/declarations/{declaration_id}", status_code=204)
def delete_declaration(declaration_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    service.delete_draft(db, principal=principal, declaration_id=declaration_id)
    return Response(status_code=204)


@router.post("/declarations/{declaration_id}/submit", response_model=DeclarationRead)
def submit_declaration(declaration_id: uuid.UUID, principal: CurrentPrincipal, db: DB, request: Request):
    """Validate and queue the messages (order, [payment], waybill, list) for the exchange outbox. A
    declaration in ``needs_action`` is resubmitted as a correction (appType=2)."""
    decl = service.submit_declaration(db, principal=principal, declaration_id=declaration_id,
                                      config=_config(request))
    return declaration_read(db, principal, decl, full=True)


@router.post("/declarations/{declaration_id}/cancel", response_model=DeclarationRead)
def cancel_declaration(declaration_id: uuid.UUID, body: CancelIn, principal: CurrentPrincipal, db: DB,
                       request: Request):
    """CEB605 for a list customs numbered; a draft or a rejected, unnumbered list is withdrawn."""
    decl = service.cancel_declaration(db, principal=principal, declaration_id=declaration_id, reason=body.reason,
                                      config=_config(request))
    return declaration_read(db, principal, decl, full=True)


@router.get("/declarations/{declaration_id}/messages", response_model=list[MessageRead])
def declaration_messages(declaration_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = DeclarationRepository(db, principal)
    repo.get(declaration_id)
    return [MessageRead.model_validate(m) for m in repo.messages(declaration_id)]


@router.get("/messages/{message_id}/xml", response_class=Response,
            responses={200: {"content": {"application/xml": {}}}})
def message_xml(message_id: uuid.UUID, principal: CurrentPrincipal, db: DB, download: bool = False):
    msg = DeclarationRepository(db, principal).message(message_id)
    headers = {"Content-Disposition": f'attachment; filename="{msg.filename}"'} if download else {}
    return Response(msg.content, media_type="application/xml", headers=headers)


def _summary_read(summary, counts) -> SummaryRead:
    return SummaryRead.model_validate({**{k: getattr(summary, k) for k in SummaryRead.model_fields
                                          if k != "declarations"}, "declarations": counts.get(summary.id, 0)})


@router.get("/summaries", response_model=list[SummaryRead])
def list_summaries(principal: CurrentPrincipal, db: DB, month: str | None = None):
    repo = DeclarationRepository(db, principal)
    rows = repo.summaries(month=month)
    counts = repo.summary_counts([s.id for s in rows])
    return [_summary_read(s, counts) for s in rows]


@router.post("/summaries", response_model=list[SummaryRead], status_code=201)
def create_summaries(body: SummaryPlanIn, principal: CurrentPrincipal, db: DB, request: Request):
    """One CEB701 per merge group of the month's closed lists (汇总申报, due by the 15th of the next month)."""
    rows = service.create_summaries(db, principal=principal, month=body.month, config=_config(request),
                                    decl_agent_code=body.decl_agent_code, decl_agent_name=body.decl_agent_name)
    counts = DeclarationRepository(db, principal).summary_counts([s.id for s in rows])
    return [_summary_read(s, counts) for s in rows]


@router.get("/summaries/{summary_id}", response_model=SummaryRead)
def get_summary(summary_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = DeclarationRepository(db, principal)
    summary = repo.summary(summary_id)
    return _summary_read(summary, repo.summary_counts([summary.id]))


@router.post("/summaries/{summary_id}/withdraw", response_model=SummaryRead)
def withdraw_summary(summary_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """A summary application customs rejected gives its lists back, to be summarised again."""
    summary = service.withdraw_summary(db, principal=principal, summary_id=summary_id)
    return _summary_read(summary, DeclarationRepository(db, principal).summary_counts([summary.id]))


@router.post("/inbox", response_model=dict)
def upload_receipt(principal: CurrentPrincipal, db: DB, request: Request,
                   file: Annotated[UploadFile, File(description="a CEB receipt or summary result (XML)")]):
    """A receipt obtained outside the exchange folder (e.g. downloaded from the single window): read and
    applied to the caller's own declarations only, marked as uploaded; unreadable or unmatched files go to
    the quarantine. Enterprise admins only."""
    data = read_upload(request, file)
    return _ingest_read(inbound.upload_receipt(db, principal=principal, filename=file.filename or "upload.xml",
                                               data=data, max_bytes=request.app.state.settings.max_upload_bytes))


def _ingest_read(result: inbound.IngestResult) -> dict:
    return {"outcome": result.outcome, "message_type": result.message_type, "records": result.records,
            "changed": result.changed, "reason": result.reason,
            "quarantine_id": str(result.quarantine_id) if result.quarantine_id else None}


def _quarantine_routes(prefix: str, all_tenants: bool, doc: str):
    @router.get(f"{prefix}/quarantine", response_model=Page[QuarantineRead], description=doc)
    def list_quarantine(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                        include_resolved: bool = False):
        rows, nxt = DeclarationRepository(db, principal).quarantine_page(
            cursor=cursor, limit=limit, open_only=not include_resolved, all_tenants=all_tenants)
        return Page(items=[QuarantineRead.model_validate(r) for r in rows], next_cursor=nxt)

    @router.get(f"{prefix}/quarantine/{{item_id}}/file", response_class=Response,
                responses={200: {"content": {"application/octet-stream": {}}}})
    def quarantine_file(item_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
        item = DeclarationRepository(db, principal).quarantined(item_id, all_tenants=all_tenants)
        return Response(item.content, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{item.sha256[:12]}.quarantined"'})

    @router.post(f"{prefix}/quarantine/{{item_id}}/reprocess", response_model=dict)
    def reprocess_quarantine(item_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
        """Read the file again (e.g. a receipt that came before its declaration was known)."""
        return _ingest_read(inbound.reprocess_quarantined(db, principal=principal, item_id=item_id,
                                                          all_tenants=all_tenants))

    @router.post(f"{prefix}/quarantine/{{item_id}}/resolve", response_model=QuarantineRead)
    def resolve_quarantine(item_id: uuid.UUID, body: ResolveIn, principal: CurrentPrincipal, db: DB):
        return QuarantineRead.model_validate(service.resolve_quarantined(
            db, principal=principal, item_id=item_id, resolution=body.resolution, all_tenants=all_tenants))

    list_quarantine.__name__ = f"list_quarantine{'_all' if all_tenants else ''}"


_quarantine_routes("", False, "Inbound files of this enterprise that could not be read or applied.")
_quarantine_routes("/admin", True, "Every quarantined inbound file, including those no tenant could be found for "
                   "(platform admins).")
