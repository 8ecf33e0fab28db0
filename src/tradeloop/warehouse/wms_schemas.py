"""Request and response shapes of the warehouse operator API (``/api/v1/wms``) and of webhooks.

Documents (inbound, outbound, return orders) are read in the stock API's shapes (``stock_schemas``), so
one document has one JSON form everywhere, in responses and in webhook payloads alike.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tradeloop.warehouse.stock_schemas import MovementRead, OutboundCreate, ReturnCreate


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- SKUs -----------------------------------------------------------------------------------------


class SkuIn(_In):
    """Register an SKU, or update the one with this SKU (fields left out keep their values; ``null`` clears
    an optional field). Catalogue fields are checked by the catalogue's rules."""

    sku: str = Field(max_length=100)
    name_zh: str | None = Field(None, max_length=400, description="中文品名; default: declared_name_zh")
    declared_name_zh: str | None = Field(None, max_length=500, description="申报品名 (catalogue declared_name)")
    declared_name_en: str | None = Field(None, max_length=400, description="English declared name (catalogue name_en)")
    hs_code: str | None = Field(None, max_length=20, description="10-digit Chinese tariff line (export HS code)")
    customs_unit: str | None = Field(None, max_length=10, description="3-digit customs unit code, e.g. 011 (件)")
    unit1: str | None = Field(None, max_length=10)
    unit1_factor: Decimal | None = None
    unit2: str | None = Field(None, max_length=10)
    unit2_factor: Decimal | None = None
    origin_country: str | None = Field(None, max_length=10, description="ISO alpha-2 or 3-digit customs code")
    brand: str | None = Field(None, max_length=200)
    gtin: str | None = Field(None, max_length=20, description="barcode (GTIN-8/12/13/14)")
    gross_weight_kg: Decimal | None = None
    net_weight_kg: Decimal | None = None
    declared_value: Decimal | None = Field(None, description="declared value of one unit, for import at the "
                                                             "destination (e.g. \"5.00\")")
    declared_currency: str | None = Field(None, max_length=3, description="ISO 4217 code of declared_value")
    length_cm: Decimal | None = None
    width_cm: Decimal | None = None
    height_cm: Decimal | None = None


class SkuRead(BaseModel):
    product_id: uuid.UUID
    sku: str
    name_zh: str
    declared_name_zh: str
    declared_name_en: str | None
    hs_code: str
    customs_unit: str
    origin_country: str | None
    brand: str | None
    gtin: str | None
    gross_weight_kg: Decimal | None
    net_weight_kg: Decimal | None
    declared_value: Decimal | None
    declared_currency: str | None
    length_cm: Decimal | None
    width_cm: Decimal | None
    height_cm: Decimal | None
    active: bool
    updated_at: datetime


# --- documents ------------------------------------------------------------------------------------


class WmsOutboundCreate(OutboundCreate):
    """An outbound (fulfilment) order; stock is allocated FIFO in the same transaction, 409 when short."""

    allocate: Literal[True] = Field(True, description="always true here: the order is created allocated")


class WmsReturnCreate(ReturnCreate):
    outbound_number: str | None = Field(None, max_length=40, description="the original outbound order, by "
                                                                        "number (instead of outbound_id)")


# --- inventory ------------------------------------------------------------------------------------


class InventoryRow(BaseModel):
    enterprise_id: uuid.UUID = Field(description="whose stock (an operator sees several exporters)")
    warehouse_id: uuid.UUID
    warehouse_code: str | None
    sku: str
    on_hand: int
    allocated: int
    available: int
    lots: int
    oldest_receipt: datetime


class LogEntry(MovementRead):
    enterprise_id: uuid.UUID
    document_id: uuid.UUID | None
    created_at: datetime


class LogPage(BaseModel):
    items: list[LogEntry]
    next_cursor: str | None = Field(None, description="pass as cursor for the next page; when the page is "
                                                      "short, keep it to poll for newer movements")


class AgeRow(BaseModel):
    enterprise_id: uuid.UUID
    warehouse_id: uuid.UUID
    warehouse_code: str | None
    sku: str
    on_hand: int
    buckets: dict[str, int] = Field(description="units on hand per age in days: 0-30, 31-60, 61-90, 91-180, "
                                                "181-365, >365")


class AgeReport(BaseModel):
    as_of: str = Field(description="the UTC date ages are counted to (YYYY-MM-DD)")
    items: list[AgeRow]


# --- webhooks -------------------------------------------------------------------------------------


class WebhookCreate(_In):
    url: str = Field(max_length=2000, description="https://…, or http://127.0.0.1:<port>/… for local tests")
    event_types: list[str] = Field(min_length=1, max_length=20)
    description: str | None = Field(None, max_length=200)


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    url: str
    event_types: list[str]
    description: str | None
    secret_hint: str = Field(description="the first characters of the signing secret")
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="the signing secret; shown once, never again")


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict
    history: list[AttemptRead] = []
