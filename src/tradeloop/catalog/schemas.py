from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class ProductFields(BaseModel):
    """Types only; the service validates codes, units, GTIN, amounts and weights."""

    model_config = ConfigDict(extra="forbid")

    name_zh: str | None = Field(None, max_length=400)
    name_en: str | None = Field(None, max_length=400)
    declared_name: str | None = Field(None, max_length=500, description="申报品名")
    declared_elements: str | None = Field(None, max_length=4000, description="申报要素")
    hs_code: str | None = Field(None, max_length=20, description="10-digit HS code of the customs tariff")
    customs_unit: str | None = Field(None, max_length=10, description="3-digit customs unit code (ref_units)")
    unit1: str | None = Field(None, max_length=10, description="legal unit 1 (3-digit code)")
    unit1_factor: Decimal | None = Field(None, description="unit1 quantity per customs unit")
    unit2: str | None = Field(None, max_length=10)
    unit2_factor: Decimal | None = None
    gross_weight_kg: Decimal | None = None
    net_weight_kg: Decimal | None = None
    origin_country: str | None = Field(None, max_length=10,
                                       description="3-digit customs country code (ISO alpha-2 is converted)")
    brand: str | None = Field(None, max_length=200)
    gtin: str | None = Field(None, max_length=20)
    cost: Decimal | None = Field(None, description='purchase cost as a decimal in the currency ("12.50")')
    cost_currency: str | None = Field(None, max_length=3, description="ISO 4217 code")


class ProductCreate(ProductFields):
    sku: str = Field(max_length=100)
    active: bool = True


class ProductUpdate(ProductFields):
    sku: str | None = Field(None, max_length=100)
    active: bool | None = None


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sku: str
    name_zh: str
    name_en: str | None
    declared_name: str
    declared_elements: str | None
    hs_code: str
    customs_unit: str
    unit1: str | None
    unit1_factor: Decimal | None
    unit2: str | None
    unit2_factor: Decimal | None
    gross_weight_kg: Decimal | None
    net_weight_kg: Decimal | None
    origin_country: str | None
    brand: str | None
    gtin: str | None
    cost: Decimal | None
    cost_minor: int | None
    cost_currency: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class HsCodeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code10: str | None
    code8: str
    description_zh: str
    vat_rate_pct: Decimal | None
    rebate_rate_pct: Decimal | None
    valid_from: date | None
    valid_to: date | None
    unit1: str | None
    unit2: str | None
    legal_basis: str | None
    source: str
    confidence: str
    note: str | None


class RowErrorRead(BaseModel):
    row: int
    column: str
    value: str
    message: str
    message_zh: str


class ImportResultRead(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    encoding: str | None
