from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class LineIn(BaseModel):
    """A declaration line taken from the catalogue: the product gives HS code, names, units, weights."""

    model_config = ConfigDict(extra="forbid")

    sku: str | None = Field(None, max_length=100, description="SKU of a catalogue product (or product_id)")
    product_id: uuid.UUID | None = None
    qty: Decimal = Field(description="quantity in the product's customs unit")
    price: Decimal = Field(description="FOB unit price in the declaration currency (at most 5 decimals)")
    bar_code: str | None = Field(None, max_length=100, description='default: the GTIN, else "无"')
    gmodel: str | None = Field(None, max_length=500, description="规格型号; default: the declared elements")
    country: str | None = Field(None, max_length=10, description="final destination; default: the head's")
    item_record_no: str | None = Field(None, max_length=60, description="账册备案料号 (1210)")
    note: str | None = Field(None, max_length=1000)


class DeclarationFields(BaseModel):
    """Types only; the service validates every code against the reference tables and the CEB lengths."""

    model_config = ConfigDict(extra="forbid")

    order_no: str | None = Field(None, max_length=120, description="platform order no.; generated when empty "
                                 "(for 9810 the 订仓单编号)")
    ebp_code: str | None = Field(None, max_length=40, description='platform code; "无" for an overseas platform')
    ebp_name: str | None = Field(None, max_length=200)
    warehouse_id: uuid.UUID | None = Field(None, description="9810: the overseas warehouse (its name is ebpName)")
    owner_code: str | None = Field(None, max_length=40, description='producer; default the enterprise; "NO" if '
                                   "not registered with customs")
    owner_name: str | None = Field(None, max_length=200)
    agent_code: str | None = Field(None, max_length=40, description="declaring agent; default the enterprise")
    agent_name: str | None = Field(None, max_length=200)
    logistics_code: str | None = Field(None, max_length=40)
    logistics_name: str | None = Field(None, max_length=200)
    logistics_no: str | None = Field(None, max_length=64, description="waybill number (CEB505 logisticsNo)")
    customs_code: str | None = Field(None, max_length=8, description="申报地海关, 4 digits")
    port_code: str | None = Field(None, max_length=8, description="出口口岸海关, 4 digits")
    ie_date: date | None = None
    country: str | None = Field(None, max_length=10, description="运抵国: 3-digit customs code or ISO alpha-2")
    pod: str | None = Field(None, max_length=8, description="指运港 code")
    traf_mode: str | None = Field(None, max_length=2, description="transport mode code (ref_transport_modes)")
    traf_name: str | None = Field(None, max_length=200)
    voyage_no: str | None = Field(None, max_length=64)
    bill_no: str | None = Field(None, max_length=74)
    trade_terms: str | None = Field(None, max_length=3, description="FOB, CIF, CFR, EXW …")
    currency: str | None = Field(None, max_length=3, description="ISO 4217")
    freight: Decimal | None = None
    insured_fee: Decimal | None = None
    wrap_type: str | None = Field(None, max_length=2, description="package type code")
    pack_no: int | None = None
    gross_weight_kg: Decimal | None = Field(None, description="default: sum of the products' gross weights")
    net_weight_kg: Decimal | None = None
    statistics_flag: str | None = Field(None, max_length=1, description="A 简化申报 / B 汇总申报 (default B)")
    license_no: str | None = Field(None, max_length=40)
    iac_code: str | None = Field(None, max_length=40)
    iac_name: str | None = Field(None, max_length=200)
    ems_no: str | None = Field(None, max_length=60)
    pay_code: str | None = Field(None, max_length=40)
    pay_name: str | None = Field(None, max_length=200)
    pay_no: str | None = Field(None, max_length=120)
    paid_at: datetime | None = None
    note: str | None = Field(None, max_length=1000)
    lines: list[LineIn] | None = None


class DeclarationCreate(DeclarationFields):
    mode: str = Field(description="9610, 9710, 9810 or 1210")


class DeclarationUpdate(DeclarationFields):
    pass


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class LineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    gnum: int
    product_id: uuid.UUID | None
    item_no: str
    item_name: str | None
    gcode: str
    gname: str
    gmodel: str
    bar_code: str
    country: str
    qty: Decimal
    unit: str
    qty1: Decimal
    unit1: str
    qty2: Decimal | None
    unit2: str | None
    price: Decimal
    total: Decimal
    decl_seq_no: str | None
    entry_id: str | None
    gseqno: int | None


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    message_type: str
    match_key: str
    app_type: str
    status_code: str | None
    status_label: str | None = None
    status_info: str | None
    status_time: str | None


class DeclarationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    mode: str
    status: str
    action_reason: str | None
    cop_no: str
    order_no: str
    order_type: str
    ebp_code: str
    ebp_name: str
    ebc_code: str
    ebc_name: str
    owner_code: str
    owner_name: str
    agent_code: str
    agent_name: str
    logistics_code: str
    logistics_name: str
    logistics_no: str
    warehouse_id: uuid.UUID | None
    customs_code: str
    port_code: str
    ie_date: date
    country: str
    pod: str
    traf_mode: str
    traf_name: str | None
    voyage_no: str | None
    bill_no: str | None
    trade_terms: str
    currency: str
    freight: Decimal
    insured_fee: Decimal
    goods_value: Decimal
    wrap_type: str
    pack_no: int
    gross_weight_kg: Decimal
    net_weight_kg: Decimal
    statistics_flag: str
    pre_no: str | None
    invt_no: str | None
    entry_id: str | None
    summary_id: uuid.UUID | None
    revision: int
    submitted_at: datetime | None
    released_at: datetime | None
    closed_at: datetime | None
    note: str | None
    created_at: datetime
    lines: list[LineRead] = []
    documents: list[DocumentRead] = []


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    direction: str
    message_type: str
    guid: str
    filename: str
    sha256: str
    dispatched_at: datetime | None
    summary: str | None
    created_at: datetime


class QuarantineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    enterprise_id: uuid.UUID | None
    filename: str
    sha256: str
    size_bytes: int
    reason_kind: str
    reason: str
    message_type: str | None
    received_at: datetime
    resolved_at: datetime | None
    resolution: str | None


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: str = Field(min_length=1, max_length=1000)


class SummaryPlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM: the month the lists closed in")
    decl_agent_code: str | None = Field(None, max_length=40, description="报关单位; default the declaring agent")
    decl_agent_name: str | None = Field(None, max_length=200)


class SummaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    cop_no: str
    month: str
    due_date: date
    status: str
    customs_code: str
    ebc_code: str
    owner_code: str
    traf_mode: str
    country: str
    port_code: str
    agent_code: str
    decl_agent_code: str
    sum_no: str | None
    decl_seq_no: str | None
    entry_id: str | None
    dec_state: str | None
    action_reason: str | None
    submitted_at: datetime | None
    declarations: int = 0
