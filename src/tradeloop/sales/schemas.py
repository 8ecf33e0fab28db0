from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MONEY_FIELDS = ("item_price", "item_tax", "shipping", "shipping_tax", "other", "discount", "fees", "refunded")


class OrderLineRead(BaseModel):
    """One sales order line. Amounts are decimals in ``currency`` (stored as integer minor units); the
    price is for the line's whole quantity; discounts are positive amounts taken off."""

    id: uuid.UUID
    channel: str
    marketplace: str | None
    external_order_id: str
    line_id: str
    order_date: datetime
    ship_date: datetime | None
    buyer_country: str | None
    currency: str | None
    status: str = Field(description="pending, partially_shipped, shipped, delivered, cancelled, refunded, "
                                    "partially_refunded, returned, other")
    raw_status: str | None
    fulfillment_channel: str | None
    sku: str
    product_id: uuid.UUID | None
    sku_unknown: bool
    quantity: int
    item_price: Decimal
    item_tax: Decimal
    shipping: Decimal
    shipping_tax: Decimal
    other: Decimal
    discount: Decimal
    fees: Decimal | None
    refunded: Decimal | None
    import_id: uuid.UUID | None
    updated_at: datetime


class ProgressRead(BaseModel):
    done: int
    total: int | None
    unit: str | None
    percent: float | None
    read: int = Field(0, description="order lines read so far")


class ImportRead(BaseModel):
    """An import job: queued, running, succeeded or failed. ``result`` (when finished) has the counts —
    read, inserted, updated, unchanged, rejected — the row errors (row = line in the file, header = 1),
    the unknown-SKU warnings, and ``fatal`` when nothing was applied."""

    id: uuid.UUID
    status: str
    filename: str
    channel: str
    profile: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressRead
    result: dict[str, Any] | None
    error: str | None


class ProfileFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str | None = Field(None, description="own_site (default), other, amazon, shopify or ebay")
    marketplace: str | None = Field(None, max_length=200)
    columns: dict[str, str] | None = Field(None, description=(
        "canonical field -> header of its column in the file. Fields: order_id*, line_id, order_date*, ship_date, "
        "status, sku*, quantity*, currency (* unless default_currency), unit_price or item_price*, item_tax, "
        "shipping, shipping_tax, discount, fees, refunded, buyer_country, marketplace, fulfillment_channel"))
    date_format: str | None = Field(None, max_length=100, description="strptime pattern, e.g. %d/%m/%Y %H:%M; "
                                                                      "empty = ISO 8601")
    timezone: str | None = Field(None, max_length=100, description="IANA zone of times without an offset")
    default_currency: str | None = Field(None, max_length=10)
    decimal_comma: bool | None = None


class ProfileCreate(ProfileFields):
    name: str = Field(max_length=200)


class ProfileUpdate(ProfileFields):
    name: str | None = Field(None, max_length=200)


class ProfileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    channel: str
    marketplace: str | None
    columns: dict[str, str]
    date_format: str | None
    timezone: str
    default_currency: str | None
    decimal_comma: bool
    created_at: datetime
    updated_at: datetime


class UnknownSkuRead(BaseModel):
    sku: str
    lines: int
    units: int
    first_order_date: datetime
    last_order_date: datetime
    in_catalogue: bool = Field(description="the catalogue has the SKU now; the next import of these lines (or "
                                            "the button on the unknown-SKU page) links them")


class FulfilIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warehouse_id: uuid.UUID = Field(description="the overseas (or marketplace-fulfilment) warehouse the sales "
                                    "ship from")
    channel: str | None = Field(None, description="only lines of this channel")
    marketplace: str | None = Field(None, max_length=64, description="only lines of this marketplace, e.g. "
                                    "Amazon.de")
    fulfillment_channel: str | None = Field(None, max_length=64, description="only lines with this fulfilment "
                                            "channel, e.g. AFN (Amazon) or MFN")
    buyer_countries: list[str] | None = Field(None, max_length=300, description="only lines shipping to these "
                                              "ISO alpha-2 countries")


class FulfilmentRead(BaseModel):
    orders_created: int
    orders_linked: int
    lines_linked: int
    units_allocated: int
    units_shipped: int
    orders_shipped_later: int
    orders_cancelled: int
    short: list[dict]
    skipped: list[dict]
