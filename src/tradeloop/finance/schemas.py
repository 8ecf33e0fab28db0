from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class RateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    source: str
    currency: str
    day: date
    rate: Decimal = Field(description="CNY per one unit of the currency")
    quote: str = Field(description="the published pair, e.g. USD/CNY, 100JPY/CNY, CNY/MYR, EUR/USD (ECB)")
    quoted: Decimal = Field(description="the published figure")
    note: str | None


class ConversionRead(BaseModel):
    currency: str
    day: date
    rule: str
    source: str
    rate_day: date = Field(description="the publication used (a day without one takes the latest before it)")
    rate: Decimal
    quote: str
    quoted: Decimal
    amount: Decimal | None = None
    amount_cny: Decimal | None = Field(None, description="amount × rate, rounded half-up to the fen")


class EcbLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: date | None = Field(None, description="first day to load (default: all since 1999-01-04)")
    until: date | None = None


class RateImportRead(BaseModel):
    source: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    currencies: list[str]
    first_day: date | None
    last_day: date | None
