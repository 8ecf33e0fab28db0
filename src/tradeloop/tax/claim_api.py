"""Rebate claims (出口退(免)税申报): candidates with their document chain, claims and their status, the HWC-YT
reconciliation, detail files, proceeds evidence set by hand, and repayments for returned goods."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal
from tradeloop.tax import claims, files
from tradeloop.tax.claim_repository import ClaimRepository

router = APIRouter(prefix="/tax", tags=["tax"])

Method = Literal["trader", "manufacturer"]
Business = Literal["normal", "HWC-YT"]
PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"


class MissingPiece(BaseModel):
    piece: str
    message: str
    message_zh: str
    blocking: bool


class CandidateRead(BaseModel):
    declaration_id: uuid.UUID
    declaration_line_id: uuid.UUID
    cop_no: str
    entry_id: str | None
    gnum: int
    mode: str
    sku: str
    name: str
    hs_code: str
    unit: str
    export_date: date
    currency: str
    exported: Decimal
    sold: int
    unsold: Decimal
    proceeds: str
    paid: Decimal
    claimed: Decimal
    claimed_normal: Decimal
    pre_rebated: Decimal
    claims: list[str]
    levy_rate: Decimal | None
    rebate_rate: Decimal | None
    rates_valid_from: date | None
    rates_valid_to: date | None
    invoice_qty: Decimal
    invoice_amount_minor: int
    fx: dict | None
    claimable: Decimal
    estimate_minor: int | None
    complete: bool
    missing: list[MissingPiece]


class ClaimLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    line_no: int
    business_type: str
    declaration_id: uuid.UUID
    declaration_line_id: uuid.UUID
    mode: str
    entry_id: str
    gnum: int
    sku: str
    hs_code: str
    goods_name: str
    unit: str
    export_date: date
    qty: Decimal
    units_before: Decimal
    levy_rate: Decimal
    rebate_rate: Decimal
    invoice_amount_minor: int | None
    invoice_vat_minor: int | None
    currency: str
    fob_minor: int
    fob_cny_minor: int | None
    fx_rate: Decimal | None
    fx_rule: str | None
    fx_source: str | None
    fx_rate_day: date | None
    refund_minor: int
    proceeds: str
    sold_qty_at_claim: Decimal | None
    unsold_qty: Decimal | None
    approved_minor: int | None
    settled_qty: Decimal | None
    corrected_minor: int | None


class ClaimRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    number: str
    method: str
    period: str
    business_type: str
    status: str
    refund_minor: int
    levy_rate: Decimal | None
    rebate_rate: Decimal | None
    fob_cny_minor: int | None
    domestic_output_vat_minor: int | None
    input_vat_minor: int | None
    opening_credit_minor: int | None
    not_exempt_minor: int | None
    payable_minor: int | None
    closing_credit_minor: int | None
    exempt_credit_refund_minor: int | None
    exempt_credit_minor: int | None
    carry_forward_minor: int | None
    declared_at: datetime | None
    approved_on: date | None
    approved_minor: int | None
    rejected_reason: str | None
    reconcile_from: date | None
    reconcile_due: date | None
    reconciled_on: date | None
    outcome: str | None
    corrected_minor: int | None
    difference_minor: int | None
    overdue: bool = False
    note: str | None
    created_by: str
    created_at: datetime
    lines: list[ClaimLineRead] = []


class ClaimLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    declaration_line_id: uuid.UUID
    qty: Decimal | None = Field(None, gt=0, description="default: every claimable unit of the line")


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Method
    business_type: Business = "normal"
    period: str = Field(pattern=PERIOD, description="所属期 YYYY-MM")
    lines: list[ClaimLineIn] = Field(min_length=1, max_length=2000)
    domestic_output_vat_minor: int | None = Field(None, ge=0, description="manufacturer: 当期内销销项税额 (fen)")
    input_vat_minor: int | None = Field(None, ge=0, description="manufacturer: 当期全部进项税额 (fen)")
    opening_credit_minor: int | None = Field(None, ge=0, description="manufacturer: 上期留抵税额 (fen)")
    note: str | None = Field(None, max_length=2000)


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approved_minor: int = Field(ge=0)
    approved_on: date | None = Field(None, description="the tax office's approval day (default today)")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class ReconcileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: date = Field(description="count sales up to the end of this day (Beijing)")


class RepaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    claim_id: uuid.UUID
    claim_line_id: uuid.UUID
    declaration_id: uuid.UUID
    declaration_line_id: uuid.UUID
    movement_id: uuid.UUID
    movement_kind: str
    returned_at: datetime
    qty: Decimal
    amount_minor: int
    status: str
    certificate_no: str | None
    repaid_on: date | None


class RepaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate_no: str = Field(min_length=1, max_length=60, description="《出口货物已补税/未退税证明》 number")
    repaid_on: date


class ProceedsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    declaration_line_id: uuid.UUID
    kind: Literal["received", "deemed"]
    reason: str = Field(min_length=1, max_length=2000)
    reference: str | None = Field(None, max_length=100)


class ProceedsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    declaration_line_id: uuid.UUID
    kind: str
    reason: str
    reference: str | None
    recorded_by: str
    created_at: datetime


def _claim(repo: ClaimRepository, claim) -> ClaimRead:
    out = ClaimRead.model_validate(claim)
    out.overdue = claims.is_overdue(claim)
    out.lines = [ClaimLineRead.model_validate(li) for li in repo.lines(claim.id)]
    return out


@router.get("/candidates", response_model=list[CandidateRead])
def list_candidates(principal: CurrentPrincipal, db: DB, method: Method = "trader", business_type: Business = "normal",
                    period: str | None = Query(None, pattern=PERIOD),
                    declaration_id: list[uuid.UUID] | None = Query(None, max_length=500),
                    claimable_only: bool = False):
    """Every exported declaration line with its document chain for a claim of this method and business
    type: the units such a claim may take, and each missing piece named (en and zh)."""
    rows = claims.candidates(db, principal, method, business_type, period, declaration_ids=declaration_id)
    return [CandidateRead.model_validate(c.as_dict()) for c in rows if c.complete or not claimable_only][:5000]


@router.get("/claims", response_model=Page[ClaimRead])
def list_claims(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                status: str | None = None, business_type: Business | None = None,
                period: str | None = Query(None, pattern=PERIOD)):
    rows, nxt = ClaimRepository(db, principal).page(cursor=cursor, limit=limit, status=status,
                                                    business_type=business_type, period=period)
    items = []
    for r in rows:
        item = ClaimRead.model_validate(r)
        item.overdue = claims.is_overdue(r)
        items.append(item)
    return Page(items=items, next_cursor=nxt)


@router.post("/claims", response_model=ClaimRead, status_code=201, responses={
    409: {"description": "units of a line are claimed already"},
    422: {"description": "a line's document chain is incomplete (`errors` names the piece)"}})
def create_claim(body: ClaimCreate, principal: CurrentPrincipal, db: DB):
    claim = claims.create_claim(
        db, principal=principal, method=body.method, business_type=body.business_type, period=body.period,
        lines=[claims.LineRequest(li.declaration_line_id, li.qty) for li in body.lines],
        domestic_output_vat_minor=body.domestic_output_vat_minor, input_vat_minor=body.input_vat_minor,
        opening_credit_minor=body.opening_credit_minor, note=body.note)
    return _claim(ClaimRepository(db, principal), claim)


@router.get("/claims/{claim_id}", response_model=ClaimRead)
def get_claim(claim_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = ClaimRepository(db, principal)
    return _claim(repo, repo.get(claim_id))


@router.post("/claims/{claim_id}/declare", response_model=ClaimRead)
def declare_claim(claim_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    claim = claims.declare(db, principal=principal, claim_id=claim_id)
    return _claim(ClaimRepository(db, principal), claim)


@router.post("/claims/{claim_id}/approve", response_model=ClaimRead)
def approve_claim(claim_id: uuid.UUID, body: ApproveIn, principal: CurrentPrincipal, db: DB):
    claim = claims.approve(db, principal=principal, claim_id=claim_id, approved_minor=body.approved_minor,
                           approved_on=body.approved_on)
    return _claim(ClaimRepository(db, principal), claim)


@router.post("/claims/{claim_id}/reject", response_model=ClaimRead)
def reject_claim(claim_id: uuid.UUID, body: RejectIn, principal: CurrentPrincipal, db: DB):
    claim = claims.reject(db, principal=principal, claim_id=claim_id, reason=body.reason)
    return _claim(ClaimRepository(db, principal), claim)


@router.post("/claims/{claim_id}/reconcile", response_model=ClaimRead)
def reconcile_claim(claim_id: uuid.UUID, body: ReconcileIn, principal: CurrentPrincipal, db: DB):
    """核算 of an HWC-YT pre-rebate against the sales up to ``as_of``: no adjustment, adjusted or repaid."""
    claim = claims.reconcile(db, principal=principal, claim_id=claim_id, as_of=body.as_of)
    return _claim(ClaimRepository(db, principal), claim)


@router.get("/claims/{claim_id}/files/{detail}", response_class=Response, responses={
    200: {"content": {files.XLSX: {}}, "description": "the detail data set as .xlsx"}})
def claim_file(claim_id: uuid.UUID, detail: Literal["export-goods", "purchases"], principal: CurrentPrincipal,
               db: DB):
    """出口货物明细 (``export-goods``) or 进货明细 (``purchases``, traders) in tradeloop's documented layout."""
    name, data = files.workbook(db, principal=principal, claim_id=claim_id, kind=detail)
    return Response(data, media_type=files.XLSX,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/repayments", response_model=Page[RepaymentRead])
def list_repayments(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                    status: Literal["due", "repaid"] | None = None, claim_id: uuid.UUID | None = None):
    rows, nxt = ClaimRepository(db, principal).repayments_page(cursor=cursor, limit=limit, status=status,
                                                               claim_id=claim_id)
    return Page(items=[RepaymentRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/repayments/scan", response_model=dict)
def scan_returns(principal: CurrentPrincipal, db: DB):
    """Make repayments due for claimed goods sent back to China (退运) within 6 months of export."""
    return claims.returns_due(db, principal=principal).as_dict()


@router.post("/repayments/{repayment_id}/repaid", response_model=RepaymentRead)
def record_repayment(repayment_id: uuid.UUID, body: RepaymentIn, principal: CurrentPrincipal, db: DB):
    return RepaymentRead.model_validate(claims.record_repayment(
        db, principal=principal, repayment_id=repayment_id, certificate_no=body.certificate_no,
        repaid_on=body.repaid_on))


@router.get("/proceeds-evidence", response_model=Page[ProceedsRead])
def list_proceeds(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    rows, nxt = ClaimRepository(db, principal).evidence_page(cursor=cursor, limit=limit)
    return Page(items=[ProceedsRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/proceeds-evidence", response_model=ProceedsRead, status_code=201)
def record_proceeds(body: ProceedsIn, principal: CurrentPrincipal, db: DB):
    """Proceeds of a declaration line received outside the payouts, or deemed received (视同收汇)."""
    return ProceedsRead.model_validate(claims.record_proceeds(
        db, principal=principal, declaration_line_id=body.declaration_line_id, kind=body.kind, reason=body.reason,
        reference=body.reference))


@router.delete("/proceeds-evidence/{evidence_id}", status_code=204)
def delete_proceeds(evidence_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    claims.delete_proceeds(db, principal=principal, evidence_id=evidence_id)
    return Response(status_code=204)
