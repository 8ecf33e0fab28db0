"""Bank statements: import a camt.053 / camt.054 / MT940 file, list statements and entries."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from tradeloop.finance import statements
from tradeloop.finance.statement_repository import StatementRepository
from tradeloop.kit.api import Cursor, Limit, read_upload
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(prefix="/finance", tags=["finance"])


class CurrencyTotals(BaseModel):
    credit: int = Field(description="booked credits, minor units")
    debit: int = Field(description="booked debits, minor units")


class StatementImportRead(BaseModel):
    format: str = Field(description="camt.053, camt.054 or mt940 (detected by content)")
    version: str | None = Field(description="e.g. camt.053.001.08 (from the namespace); none for MT940")
    filename: str
    file_sha256: str
    statements: int
    entries: int = Field(description="booked entries in the file")
    inserted: int
    duplicates: int = Field(description="entries already known (same file, or the same entry in another file)")
    pending: int = Field(description="pending entries (camt Sts other than BOOK): read, not stored")
    already_imported: bool
    totals: dict[str, CurrencyTotals] = Field(description="per currency, booked credits and debits in minor units")
    statement_ids: list[uuid.UUID]
    message: str


class StatementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    format: str
    statement_id: str | None
    account: str
    currency: str
    opening_minor: int | None = Field(description="booked opening balance, signed, minor units")
    closing_minor: int | None
    from_date: date | None
    to_date: date | None
    filename: str
    file_sha256: str
    created_at: datetime
    entry_count: int = 0


class BankEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    statement_id: uuid.UUID
    account: str
    booking_date: date
    value_date: date | None
    direction: str
    amount_minor: int = Field(description="positive, minor units of currency")
    currency: str
    bank_ref: str
    reference: str | None
    remittance: str | None
    counterparty: str | None
    transaction_code: str | None
    matched_minor: int
    status: str


class StatementDetail(StatementRead):
    entries: list[BankEntryRead]


@router.post("/statements", response_model=StatementImportRead, status_code=201, responses={
    200: {"description": "the same file was imported before: nothing changed (already_imported true)"},
    422: {"description": "file refused, nothing applied; `position` (e.g. `line 12 (:61:)`), `reason` and "
                         "`reason_zh` say where and why (type urn:tradeloop:problem:statement-rejected)"}})
def import_statement(principal: CurrentPrincipal, db: DB, request: Request, response: Response,
                     file: Annotated[UploadFile, File(description="camt.053 / camt.054 XML or MT940")]):
    """Import a bank statement file; its format is detected from the content. All or nothing: balances must
    agree with the entries and camt control totals with their sums. Entries already known (from the same
    file, or a camt.054 before the day's camt.053) are counted as duplicates, not stored twice."""
    result = statements.import_statement(db, principal=principal, filename=file.filename or "statement",
                                         data=read_upload(request, file))
    if result.already_imported:
        response.status_code = 200
    elif result.statement_ids:
        response.headers["Location"] = f"/api/v1/finance/statements/{result.statement_ids[0]}"
    return StatementImportRead(**result.as_dict())


@router.get("/statements", response_model=Page[StatementRead])
def list_statements(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                    format: Annotated[Literal["camt.053", "camt.054", "mt940"] | None, Query()] = None,
                    account: Annotated[str | None, Query(description="IBAN or account number")] = None):
    """Imported statements, newest first."""
    repo = StatementRepository(db, principal)
    rows, nxt = repo.page_statements(cursor=cursor, limit=limit, format=format, account=account)
    counts = repo.entry_counts([r.id for r in rows])
    return Page(items=[StatementRead.model_validate(r).model_copy(update={"entry_count": counts.get(r.id, 0)})
                       for r in rows], next_cursor=nxt)


@router.get("/statements/{statement_id}", response_model=StatementDetail)
def get_statement(statement_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    """A statement with the entries it brought (an entry already brought by an earlier file stays with that
    file's statement)."""
    repo = StatementRepository(db, principal)
    row = repo.statement(statement_id)
    entries = [BankEntryRead.model_validate(e) for e in repo.entries_of(row.id)]
    return StatementDetail(**StatementRead.model_validate(row).model_dump(exclude={"entry_count"}),
                           entry_count=len(entries), entries=entries)


@router.get("/bank-entries", response_model=Page[BankEntryRead])
def list_bank_entries(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                      status: Annotated[Literal["unmatched", "partial", "matched", "ignored"] | None, Query()] = None,
                      direction: Annotated[Literal["credit", "debit"] | None, Query()] = None,
                      currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
                      date_from: Annotated[date | None, Query(description="booking day from")] = None,
                      date_to: Annotated[date | None, Query(description="booking day to, inclusive")] = None,
                      statement_id: uuid.UUID | None = None):
    """Bank entries, newest first; filters combine."""
    rows, nxt = StatementRepository(db, principal).page_entries(
        cursor=cursor, limit=limit, status=status, direction=direction, currency=currency, date_from=date_from,
        date_to=date_to, statement_id=statement_id)
    return Page(items=[BankEntryRead.model_validate(r) for r in rows], next_cursor=nxt)
