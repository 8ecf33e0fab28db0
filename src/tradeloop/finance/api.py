"""Exchange rates (reference data): list, convert with a rule, load ECB from the shipped data, import files."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from tradeloop.finance import rates
from tradeloop.finance.repository import RateRepository
from tradeloop.finance.schemas import ConversionRead, EcbLoad, RateImportRead, RateRead
from tradeloop.kit.api import read_upload
from tradeloop.kit.errors import FieldError, ValidationFailed
from tradeloop.kit.pagination import Page
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(prefix="/finance", tags=["finance"])


def rate_read(row) -> RateRead:
    return RateRead(id=f"{row.source}:{row.currency}:{row.day.isoformat()}", source=row.source,
                    currency=row.currency, day=row.day, rate=row.rate, quote=row.quote, quoted=row.quoted,
                    note=row.note)


@router.get("/rates", response_model=Page[RateRead])
def list_rates(principal: CurrentPrincipal, db: DB, currency: str | None = None, source: str | None = None,
               date_from: date | None = None, date_to: date | None = None,
               offset: Annotated[int, Query(ge=0)] = 0, limit: Annotated[int, Query(ge=1, le=500)] = 100):
    """Rates, newest day first; ``next_cursor`` is the next offset."""
    rows, total = RateRepository(db).page(offset=offset, limit=limit, currency=currency, source=source,
                                          date_from=date_from, date_to=date_to)
    nxt = str(offset + limit) if offset + limit < total else None
    return Page(items=[rate_read(r) for r in rows], next_cursor=nxt)


@router.get("/rates/convert", response_model=ConversionRead, responses={
    422: {"description": "no rate for the currency, day and rule (type urn:tradeloop:problem:missing-rate)"}})
def convert(principal: CurrentPrincipal, db: DB, currency: str, day: date,
            rule: Annotated[str, Query(description="sale_date or customs_month")] = "sale_date",
            amount: Decimal | None = None):
    """The rate a conversion uses under ``rule`` (and the amount in CNY): the rule and the publication are
    part of the answer, so they can be recorded with the converted figure."""
    if rule not in rates.RULES:
        raise ValidationFailed("Unknown rule.", errors=[FieldError("rule", "must be sale_date or customs_month",
                                                                   "规则须为 sale_date 或 customs_month")])
    conv = rates.conversion(db, currency, day, rule)
    cny = (amount * conv.rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if amount is not None else None
    return ConversionRead(**{**conv.as_dict(), "amount": amount, "amount_cny": cny})


@router.post("/rates/ecb", response_model=RateImportRead)
def load_ecb(body: EcbLoad, principal: CurrentPrincipal, db: DB):
    """Load the ECB reference rates shipped with the application (platform admins)."""
    return RateImportRead(**rates.load_ecb(db, principal=principal, since=body.since, until=body.until).as_dict())


@router.post("/rates/import", response_model=RateImportRead, responses={
    422: {"description": "row-level error report in `row_errors`; nothing was applied"}})
def import_rates(principal: CurrentPrincipal, db: DB, request: Request,
                       file: Annotated[UploadFile, File(description="CSV/.xlsx: date,currency,rate[,unit] or "
                                                                    "date + pair columns (USD/CNY, 100JPY/CNY)")],
                       source: Annotated[str, Form(description="cfets, customs, ecb or manual")]):
    """Import rates from a file (platform admins); all or nothing, idempotent."""
    data = read_upload(request, file)
    return RateImportRead(**rates.import_rates(db, principal=principal, filename=file.filename or "rates.csv",
                                                data=data, source=source).as_dict())
