"""Overseas warehouses: master data, clients, evidence files and historic customs filings."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse

from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.warehouse import service
from tradeloop.warehouse.models import EvidenceKind, Tenure
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.schemas import (
    ClientCreate,
    ClientRead,
    EvidenceRead,
    FilingCreate,
    FilingEventCreate,
    FilingEventRead,
    FilingRead,
    WarehouseCreate,
    WarehouseRead,
    WarehouseUpdate,
)

router = APIRouter(prefix="/warehouses", tags=["warehouses"])


def warehouse_read(row, principal) -> WarehouseRead:
    access = "owner" if row.enterprise_id == principal.enterprise_id else "client"
    return WarehouseRead.model_validate({**{c: getattr(row, c) for c in WarehouseRead.model_fields
                                            if c != "access"}, "access": access})


def client_reads(db, principal, rows) -> list[ClientRead]:
    names = EnterpriseRepository(db, principal).names({r.client_enterprise_id for r in rows})
    return [ClientRead(id=r.id, warehouse_id=r.warehouse_id, client_enterprise_id=r.client_enterprise_id,
                       client_name=names.get(r.client_enterprise_id, ""), since=r.since, created_at=r.created_at)
            for r in rows]


def filing_reads(repo: WarehouseRepository, rows) -> list[FilingRead]:
    events = repo.filing_events([r.id for r in rows])
    return [FilingRead(id=r.id, warehouse_id=r.warehouse_id, customs_office=r.customs_office, filing_no=r.filing_no,
                       modes=r.modes, status=r.status, effective_status=service.effective_filing_status(r),
                       filed_on=r.filed_on, events=[FilingEventRead.model_validate(e) for e in events[r.id]])
            for r in rows]


@router.get("", response_model=Page[WarehouseRead])
def list_warehouses(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                    q: str | None = None, country: str | None = None, tenure: Tenure | None = None):
    rows, nxt = WarehouseRepository(db, principal).page(cursor=cursor, limit=limit, q=q, country=country,
                                                         tenure=tenure)
    return Page(items=[warehouse_read(r, principal) for r in rows], next_cursor=nxt)


@router.post("", response_model=WarehouseRead, status_code=201)
def create_warehouse(body: WarehouseCreate, principal: CurrentPrincipal, db: DB, response: Response):
    row = service.create_warehouse(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/warehouses/{row.id}"
    return warehouse_read(row, principal)


@router.get("/{warehouse_id}", response_model=WarehouseRead)
def get_warehouse(warehouse_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return warehouse_read(WarehouseRepository(db, principal).get(warehouse_id), principal)


@router.patch("/{warehouse_id}", response_model=WarehouseRead)
def update_warehouse(warehouse_id: uuid.UUID, body: WarehouseUpdate, principal: CurrentPrincipal, db: DB):
    return warehouse_read(service.update_warehouse(db, principal=principal, warehouse_id=warehouse_id, data=body),
                          principal)


@router.get("/{warehouse_id}/clients", response_model=Page[ClientRead])
def list_clients(warehouse_id: uuid.UUID, principal: CurrentPrincipal, db: DB, cursor: Cursor = None,
                 limit: Limit = None):
    rows, nxt = WarehouseRepository(db, principal).clients_page(warehouse_id, cursor=cursor, limit=limit)
    return Page(items=client_reads(db, principal, rows), next_cursor=nxt)


@router.post("/{warehouse_id}/clients", response_model=ClientRead, status_code=201)
def add_client(warehouse_id: uuid.UUID, body: ClientCreate, principal: CurrentPrincipal, db: DB):
    row = service.add_client(db, principal=principal, warehouse_id=warehouse_id, data=body)
    return client_reads(db, principal, [row])[0]


@router.delete("/{warehouse_id}/clients/{client_id}", status_code=204)
def remove_client(warehouse_id: uuid.UUID, client_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    service.remove_client(db, principal=principal, warehouse_id=warehouse_id, client_id=client_id)
    return Response(status_code=204)


@router.get("/{warehouse_id}/evidence", response_model=Page[EvidenceRead])
def list_evidence(warehouse_id: uuid.UUID, principal: CurrentPrincipal, db: DB, cursor: Cursor = None,
                  limit: Limit = None):
    rows, nxt = WarehouseRepository(db, principal).evidence_page(warehouse_id, cursor=cursor, limit=limit)
    return Page(items=[EvidenceRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/{warehouse_id}/evidence", response_model=EvidenceRead, status_code=201)
def upload_evidence(warehouse_id: uuid.UUID, principal: CurrentPrincipal, db: DB, request: Request,
                    file: Annotated[UploadFile, File(description="PDF, PNG or JPEG")],
                    kind: Annotated[EvidenceKind, Form()],
                    valid_from: Annotated[date | None, Form()] = None,
                    valid_to: Annotated[date | None, Form()] = None):
    settings = request.app.state.settings
    data = file.file.read(settings.max_upload_bytes + 1)
    row = service.add_evidence(db, principal=principal, store=request.app.state.files,
                               max_bytes=settings.max_upload_bytes, warehouse_id=warehouse_id, kind=kind.value,
                               filename=file.filename or "", data=data, valid_from=valid_from, valid_to=valid_to)
    return EvidenceRead.model_validate(row)


@router.get("/{warehouse_id}/evidence/{evidence_id}/content", response_class=FileResponse)
def download_evidence(warehouse_id: uuid.UUID, evidence_id: uuid.UUID, principal: CurrentPrincipal, db: DB,
                      request: Request):
    principal.tenant(Action.READ)
    row = WarehouseRepository(db, principal).evidence(warehouse_id, evidence_id)
    return FileResponse(request.app.state.files.path_for(row.sha256), media_type=row.content_type,
                        filename=row.filename)


@router.get("/{warehouse_id}/filings", response_model=Page[FilingRead])
def list_filings(warehouse_id: uuid.UUID, principal: CurrentPrincipal, db: DB, cursor: Cursor = None,
                 limit: Limit = None):
    repo = WarehouseRepository(db, principal)
    rows, nxt = repo.filings_page(warehouse_id, cursor=cursor, limit=limit)
    return Page(items=filing_reads(repo, rows), next_cursor=nxt)


@router.post("/{warehouse_id}/filings", response_model=FilingRead, status_code=201)
def record_filing(warehouse_id: uuid.UUID, body: FilingCreate, principal: CurrentPrincipal, db: DB):
    row = service.record_filing(db, principal=principal, warehouse_id=warehouse_id, data=body)
    return filing_reads(WarehouseRepository(db, principal), [row])[0]


@router.post("/{warehouse_id}/filings/{filing_id}/events", response_model=FilingRead, status_code=201)
def add_filing_event(warehouse_id: uuid.UUID, filing_id: uuid.UUID, body: FilingEventCreate,
                     principal: CurrentPrincipal, db: DB):
    service.add_filing_event(db, principal=principal, warehouse_id=warehouse_id, filing_id=filing_id, data=body)
    repo = WarehouseRepository(db, principal)
    return filing_reads(repo, [repo.filing(warehouse_id, filing_id)])[0]
