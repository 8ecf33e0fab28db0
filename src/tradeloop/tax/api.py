"""Purchase invoices (进项发票) and their allocation to export declaration lines; the rebate calculator."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from tradeloop.kit.api import Cursor, Limit, read_upload
from tradeloop.kit.errors import FieldError, ValidationFailed
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.tax import invoices, rebate
from tradeloop.tax.repository import InvoiceRepository

router = APIRouter(prefix="/tax", tags=["tax"])


class InvoiceLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    line_no: int
    goods_name: str
    sku: str | None
    model: str | None
    unit: str | None
    quantity: Decimal
    amount_minor: int
    vat_rate: Decimal
    vat_minor: int
    allocated_qty: Decimal


class InvoiceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    invoice_code: str
    invoice_no: str
    issue_date: date
    seller_uscc: str
    seller_name: str | None
    amount_minor: int
    vat_minor: int
    lines: list[InvoiceLineRead] = []


class AllocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    invoice_line_id: uuid.UUID
    declaration_line_id: uuid.UUID
    qty: Decimal
    amount_minor: int
    vat_minor: int
    method: str
    created_by: str
    created_at: datetime


class AllocateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoice_line_id: uuid.UUID
    declaration_line_id: uuid.UUID
    qty: Decimal = Field(gt=0)


class AutoAllocateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    declaration_ids: list[uuid.UUID] | None = Field(None, max_length=1000, description="default: all exported")


@router.post("/invoices", response_model=dict, responses={
    422: {"description": "row-level error report in `row_errors`; nothing was applied"}})
def import_invoices(principal: CurrentPrincipal, db: DB, request: Request,
                    file: Annotated[UploadFile, File(description="CSV (UTF-8/GB18030) or .xlsx, one row per "
                                                                 "invoice line")]):
    """Import purchase VAT invoices (发票代码, 发票号码, 开票日期, 销方税号, lines with 数量, 金额, 税率, 税额)."""
    data = read_upload(request, file)
    return invoices.import_invoices(db, principal=principal, filename=file.filename or "invoices.csv",
                                    data=data).as_dict()


@router.get("/invoices", response_model=Page[InvoiceRead])
def list_invoices(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                  q: str | None = None, seller: str | None = None):
    rows, nxt = InvoiceRepository(db, principal).page(cursor=cursor, limit=limit, q=q, seller=seller)
    return Page(items=[InvoiceRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.get("/invoices/{invoice_id}", response_model=InvoiceRead)
def get_invoice(invoice_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = InvoiceRepository(db, principal)
    inv = repo.get(invoice_id)
    lines = repo.lines([inv.id])[inv.id]
    return InvoiceRead.model_validate({**{k: getattr(inv, k) for k in InvoiceRead.model_fields if k != "lines"},
                                       "lines": [InvoiceLineRead.model_validate(li) for li in lines]})


@router.get("/allocations", response_model=list[AllocationRead])
def list_allocations(principal: CurrentPrincipal, db: DB, declaration_line_id: uuid.UUID | None = None,
                     invoice_line_id: uuid.UUID | None = None):
    rows = InvoiceRepository(db, principal).allocations(
        invoice_line_ids=[invoice_line_id] if invoice_line_id else None,
        declaration_line_ids=[declaration_line_id] if declaration_line_id else None)
    return [AllocationRead.model_validate(r) for r in rows[:5000]]


@router.post("/allocations/auto", response_model=dict)
def auto_allocate(body: AutoAllocateIn, principal: CurrentPrincipal, db: DB):
    """Cover exported declaration lines with open invoice lines of the same SKU, oldest invoice first; lists
    the lines still not covered."""
    return invoices.auto_allocate(db, principal=principal, declaration_ids=body.declaration_ids).as_dict()


@router.post("/allocations", response_model=AllocationRead, status_code=201)
def allocate(body: AllocateIn, principal: CurrentPrincipal, db: DB):
    return AllocationRead.model_validate(invoices.allocate(
        db, principal=principal, invoice_line_id=body.invoice_line_id, declaration_line_id=body.declaration_line_id,
        qty=body.qty))


@router.delete("/allocations/{allocation_id}", status_code=204)
def deallocate(allocation_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    invoices.deallocate(db, principal=principal, allocation_id=allocation_id)
    return Response(status_code=204)


@router.get("/calc", response_model=dict)
def calc(principal: CurrentPrincipal, method: str, rebate_rate: str, invoice_amount: str | None = None,
         levy_rate: str | None = None, fob_cny: str | None = None, domestic_output_vat: str | None = None,
         input_vat: str | None = None, opening_credit: str | None = None, duty_free_materials: str = "0"):
    """The rebate calculator (what-if): the same figures as ``tradeloop tax calc``."""
    try:
        return rebate.calculate(method=method, rebate_rate=rebate_rate, invoice_amount=invoice_amount,
                                levy_rate=levy_rate, fob_cny=fob_cny, domestic_output_vat=domestic_output_vat,
                                input_vat=input_vat, opening_credit=opening_credit,
                                duty_free_materials=duty_free_materials).figures()
    except rebate.RebateInputError as exc:
        raise ValidationFailed("The calculation cannot run.", errors=[FieldError(exc.field, exc.en, exc.zh)]) \
            from None
