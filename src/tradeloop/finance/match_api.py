"""Matching bank credits to payouts (收汇) and FX settlements (结汇)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from tradeloop.finance import matching
from tradeloop.finance.match_repository import MatchRepository
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(prefix="/finance", tags=["finance"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoMatchIn(_In):
    tolerance_pct: Decimal = Field(matching.DEFAULT_TOLERANCE_PCT, ge=0, le=Decimal("0.2"),
                                   description="fee tolerance as a share of the payout (0.01 = 1 %)")
    tolerance_units: Decimal = Field(matching.DEFAULT_TOLERANCE_UNITS, ge=0, le=Decimal("1000"),
                                     description="fee tolerance in whole currency units (the larger applies)")


class AutoMatchRead(BaseModel):
    entries_seen: int
    entries_matched: int
    matches: int
    by_method: dict[str, int]
    left: list[uuid.UUID]


class MatchIn(_In):
    bank_entry_id: uuid.UUID
    payout_id: uuid.UUID
    amount_minor: int | None = Field(None, description="part of the credit (default: what both sides have open)")
    payout_amount_minor: int | None = Field(None, description="what the payout counts as received (≥ amount when "
                                            "fees were taken on the way)")
    note: str | None = Field(None, max_length=500)


class MatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    bank_entry_id: uuid.UUID
    payout_id: uuid.UUID
    amount_minor: int
    payout_amount_minor: int
    method: str
    matched_by: str
    note: str | None
    created_at: datetime


class SuggestionRead(BaseModel):
    payout_id: uuid.UUID
    source: str
    settlement_id: str
    deposit_date: date | None
    currency: str
    open_minor: int
    difference_minor: int
    days_apart: int | None


class IgnoreIn(_In):
    reason: str | None = Field(None, max_length=500)
    undo: bool = False


class SettlementIn(_In):
    reference: str = Field(min_length=1, max_length=100, description="the bank's reference of the conversion")
    settled_on: date
    currency: str = Field(min_length=3, max_length=3)
    amount_minor: int = Field(gt=0)
    cny_minor: int = Field(gt=0)
    bank_entry_id: uuid.UUID | None = None
    note: str | None = Field(None, max_length=500)


class SettlementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    bank_entry_id: uuid.UUID | None
    settled_on: date
    currency: str
    amount_minor: int
    cny_minor: int
    rate: Decimal
    reference: str
    note: str | None
    created_at: datetime


@router.post("/matching/auto", response_model=AutoMatchRead)
def auto_match(body: AutoMatchIn, principal: CurrentPrincipal, db: DB):
    """Match every open credit that has exactly one answer (reference, exact amount, within the fee
    tolerance, several payouts in one credit); the rest is listed in ``left`` for a person."""
    result = matching.auto_match(db, principal=principal,
                                 tolerance=matching.Tolerance(body.tolerance_pct, body.tolerance_units))
    return AutoMatchRead(**{**result.as_dict(), "left": result.left})


@router.get("/bank-entries/{entry_id}/suggestions", response_model=list[SuggestionRead])
def suggestions(entry_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return matching.suggestions(db, principal=principal, entry_id=entry_id)


@router.get("/bank-entries/{entry_id}/matches", response_model=list[MatchRead])
def entry_matches(entry_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    repo = MatchRepository(db, principal)
    return [MatchRead.model_validate(m) for m in repo.matches_of_entry(repo.entry(entry_id).id)]


@router.post("/bank-entries/{entry_id}/ignore", response_model=dict)
def ignore(entry_id: uuid.UUID, body: IgnoreIn, principal: CurrentPrincipal, db: DB):
    """Mark a credit as not a sales receipt (with a reason), or undo that."""
    entry = matching.ignore(db, principal=principal, entry_id=entry_id, reason=body.reason, undo=body.undo)
    return {"id": str(entry.id), "status": entry.status}


@router.post("/matches", response_model=MatchRead, status_code=201)
def create_match(body: MatchIn, principal: CurrentPrincipal, db: DB, response: Response):
    row = matching.match(db, principal=principal, entry_id=body.bank_entry_id, payout_id=body.payout_id,
                         amount_minor=body.amount_minor, payout_amount_minor=body.payout_amount_minor, note=body.note)
    return MatchRead.model_validate(row)


@router.delete("/matches/{match_id}", status_code=204)
def delete_match(match_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    matching.unmatch(db, principal=principal, match_id=match_id)
    return Response(status_code=204)


@router.post("/fx-settlements", response_model=SettlementRead, status_code=201)
def create_settlement(body: SettlementIn, principal: CurrentPrincipal, db: DB):
    """Record 结汇 as the bank's advice states it (amount converted and CNY received); the rate is derived."""
    return SettlementRead.model_validate(matching.record_settlement(db, principal=principal, **body.model_dump()))


@router.get("/fx-settlements", response_model=Page[SettlementRead])
def list_settlements(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    rows, nxt = MatchRepository(db, principal).settlements_page(cursor=cursor, limit=limit)
    return Page(items=[SettlementRead.model_validate(r) for r in rows], next_cursor=nxt)
