"""Platform payouts: settlement file imports (Amazon V2 flat file, PayPal STL, payment-firm CSV profiles), the
payouts with their typed items, and the enterprise's payment-firm profiles."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from tradeloop.finance import payouts
from tradeloop.finance.payout_repository import PayoutProfileRepository, PayoutRepository
from tradeloop.kit.api import Cursor, Limit, read_upload
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(prefix="/finance", tags=["finance"])


class CurrencyTotals(BaseModel):
    credit: int = Field(description="sum of the positive item amounts, minor units")
    debit: int = Field(description="sum of the negative item amounts as a positive number, minor units")


class SettlementImportRead(BaseModel):
    source: str
    payouts: int
    items: int
    inserted: int
    updated: int
    unchanged: int
    linked_items: int
    totals: dict[str, CurrencyTotals] = Field(description="per currency, transfers to the bank excluded")
    filename: str
    file_sha256: str
    encoding: str | None
    payout_list: list[dict] = Field(description="per payout: id, settlement_id, currency, total_minor, items, "
                                                "linked_items, outcome (inserted / updated / unchanged)")


class PayoutRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    source: str
    settlement_id: str
    marketplace: str | None
    period_start: datetime | None
    period_end: datetime | None
    deposit_date: date | None
    currency: str
    total_minor: int = Field(description="the net amount deposited, as the file states it")
    received_minor: int
    status: str
    filename: str | None
    created_at: datetime
    updated_at: datetime
    items: int = 0


class PayoutItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    line_no: int = Field(description="the file row (header = row 1); negative: the fee part of that row")
    kind: str
    transaction_type: str | None
    amount_type: str | None
    amount_description: str | None
    order_id: str | None
    sku: str | None
    quantity: int | None
    posted_at: datetime | None
    amount_minor: int
    currency: str
    sales_line_id: uuid.UUID | None


class PayoutDetailRead(PayoutRead):
    totals_by_kind: dict[str, int] = Field(description="item kind -> sum of its amounts, minor units")
    item_list: list[PayoutItemRead]


class PayoutProfileFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: dict[str, str] | None = Field(None, description=(
        "field -> header of its column. Fields: payout_id*, date*, gross*, currency (* unless default_currency), "
        "fees, net, order_id, sku, reference, type"))
    date_format: str | None = Field(None, max_length=100, description="strptime pattern; empty = ISO 8601")
    timezone: str | None = Field(None, max_length=100, description="IANA zone of dates without an offset")
    sign_convention: str | None = Field(None, description="signed (net = gross + fees) or fees_positive "
                                                          "(net = gross − fees)")
    decimal_comma: bool | None = None
    default_currency: str | None = Field(None, max_length=10)
    type_map: dict[str, str] | None = Field(None, description="type column value -> item kind (principal, tax, "
                                                              "shipping, promotion, fee, refund, reserve, "
                                                              "adjustment, transfer, other)")


class PayoutProfileCreate(PayoutProfileFields):
    name: str = Field(max_length=100, description="the --channel value: 2–40 lower-case letters, digits, _ - .")


class PayoutProfileUpdate(PayoutProfileFields):
    name: str | None = Field(None, max_length=100)


class PayoutProfileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    columns: dict[str, str]
    date_format: str | None
    timezone: str
    sign_convention: str
    decimal_comma: bool
    default_currency: str | None
    type_map: dict[str, str]
    created_at: datetime
    updated_at: datetime


@router.post("/settlements", response_model=SettlementImportRead, status_code=201, responses={
    422: {"description": "row-level error report in `row_errors` (row, column, value, message, message_zh); "
                         "nothing was applied"}})
def import_settlement(principal: CurrentPrincipal, db: DB, request: Request,
                      file: Annotated[UploadFile, File(description="Amazon V2 settlement flat file, PayPal STL CSV, "
                                                                   "or a payment firm's CSV/.xlsx")],
                      channel: Annotated[str, Form(description="amazon, paypal, or a payout profile name (payoneer, "
                                                               "pingpong, lianlian, worldfirst or your own)")]):
    """Import one settlement file; all or nothing; the same file twice changes nothing."""
    data = read_upload(request, file)
    result = payouts.import_settlement(db, principal=principal, filename=file.filename or "settlement.txt",
                                       data=data, channel=channel)
    return SettlementImportRead(**result.as_dict())


@router.get("/payouts", response_model=Page[PayoutRead])
def list_payouts(principal: CurrentPrincipal, db: DB, source: str | None = None, status: str | None = None,
                 currency: str | None = None, date_from: date | None = None, date_to: date | None = None,
                 cursor: Cursor = None, limit: Limit = None):
    """Payouts, newest first; ``date_from``/``date_to`` bound the deposit date (inclusive)."""
    repo = PayoutRepository(db, principal)
    rows, nxt = repo.page(cursor=cursor, limit=limit, source=source, status=status, currency=currency,
                          date_from=date_from, date_to=date_to)
    counts = repo.item_counts([r.id for r in rows])
    return Page(items=[PayoutRead.model_validate(r).model_copy(update={"items": counts.get(r.id, 0)}) for r in rows],
                next_cursor=nxt)


@router.get("/payouts/{payout_id}", response_model=PayoutDetailRead)
def get_payout(payout_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """A payout with its items (file order) and the sum of each item kind."""
    repo = PayoutRepository(db, principal)
    row = repo.get(payout_id)
    items = repo.items(row.id)
    base = PayoutRead.model_validate(row).model_dump()
    return PayoutDetailRead(**{**base, "items": len(items)}, totals_by_kind=repo.totals_by_kind(row.id),
                            item_list=[PayoutItemRead.model_validate(i) for i in items])


@router.get("/payout-profiles", response_model=Page[PayoutProfileRead])
def list_payout_profiles(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    """The enterprise's own profiles (the built-in starter layouts payoneer, pingpong, lianlian and worldfirst are
    used when no profile of that name is saved)."""
    rows, nxt = PayoutProfileRepository(db, principal).page(cursor=cursor, limit=limit)
    return Page(items=[PayoutProfileRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/payout-profiles", response_model=PayoutProfileRead, status_code=201)
def create_payout_profile(body: PayoutProfileCreate, principal: CurrentPrincipal, db: DB, response: Response):
    row = payouts.create_profile(db, principal=principal, data=body)
    response.headers["Location"] = f"/api/v1/finance/payout-profiles/{row.id}"
    return PayoutProfileRead.model_validate(row)


@router.get("/payout-profiles/{profile_id}", response_model=PayoutProfileRead)
def get_payout_profile(profile_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return PayoutProfileRead.model_validate(PayoutProfileRepository(db, principal).get(profile_id))


@router.patch("/payout-profiles/{profile_id}", response_model=PayoutProfileRead)
def update_payout_profile(profile_id: uuid.UUID, body: PayoutProfileUpdate, principal: CurrentPrincipal, db: DB):
    return PayoutProfileRead.model_validate(payouts.update_profile(db, principal=principal, profile_id=profile_id,
                                                                   data=body))


@router.delete("/payout-profiles/{profile_id}", status_code=204)
def delete_payout_profile(profile_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    payouts.delete_profile(db, principal=principal, profile_id=profile_id)
    return Response(status_code=204)
