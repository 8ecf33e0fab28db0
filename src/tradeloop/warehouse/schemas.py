from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from tradeloop.warehouse.models import FilingStatus, Tenure


class WarehouseFields(BaseModel):
    code: str | None = Field(None, description="Short code unique within the enterprise, e.g. US-LAX-1")
    name_zh: str | None = None
    name_en: str | None = None
    operator_uscc: str | None = Field(
        None, description="USCC of the operating enterprise when it is registered on this platform"
    )
    operator_name: str | None = Field(None, description="Name of the operator when it is not on the platform")
    country: str | None = Field(None, description="ISO 3166-1 alpha-2 country code")
    address: str | None = None
    unlocode: str | None = Field(None, description="UN/LOCODE of the nearest location, e.g. USLAX")
    area_m2: Decimal | None = Field(None, description="Floor area in square metres")
    tenure: Tenure | None = Field(None, description="owned (自有) or leased (租赁)")
    lease_start: date | None = None
    lease_end: date | None = None
    contact: str | None = None


class WarehouseCreate(WarehouseFields):
    code: str
    name_zh: str
    country: str
    address: str
    tenure: Tenure


class WarehouseUpdate(WarehouseFields):
    pass


class WarehouseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    enterprise_id: uuid.UUID
    access: str = Field(description="owner: registered by your enterprise; client: you store goods there")
    code: str
    name_zh: str
    name_en: str | None
    operator_enterprise_id: uuid.UUID | None
    operator_name: str
    country: str
    address: str
    unlocode: str | None
    area_m2: Decimal | None
    tenure: str
    lease_start: date | None
    lease_end: date | None
    contact: str | None
    created_at: datetime
    updated_at: datetime


class ClientCreate(BaseModel):
    client_uscc: str
    since: date | None = None


class ClientRead(BaseModel):
    id: uuid.UUID
    warehouse_id: uuid.UUID
    client_enterprise_id: uuid.UUID
    client_name: str
    since: date | None
    created_at: datetime


class EvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    warehouse_id: uuid.UUID
    kind: str
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    valid_from: date | None
    valid_to: date | None
    created_at: datetime


class FilingCreate(BaseModel):
    customs_office: str = Field(description="4-digit customs office code (关区代码) where it was filed")
    filing_no: str | None = None
    modes: str = Field("9810", description="Modes filed: 9810, 1210 or both, comma separated")
    filed_on: date


class FilingEventCreate(BaseModel):
    status: FilingStatus
    effective_on: date
    note: str | None = None


class FilingEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    effective_on: date
    note: str | None
    created_at: datetime


class FilingRead(BaseModel):
    id: uuid.UUID
    warehouse_id: uuid.UUID
    customs_office: str
    filing_no: str | None
    modes: str
    status: str
    effective_status: str = Field(
        description="status as of today: a filing still open on 2024-12-15 lapsed when GACC 2024 No.167 "
        "abolished the filing"
    )
    filed_on: date
    events: list[FilingEventRead]
