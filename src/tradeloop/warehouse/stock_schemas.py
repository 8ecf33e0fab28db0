from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

Qty = int
#: Largest quantity of one line or count (units); beyond it is a typing error, not stock.
MAX_QTY = 999_999_999


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InboundLineIn(_In):
    sku: str | None = Field(None, max_length=64, description="SKU; default: the declaration line's item no.")
    declaration_line_id: uuid.UUID | None = Field(None, description="the customs declaration line (the lot)")
    expected_qty: Qty = Field(gt=0, le=MAX_QTY)
    lot_code: str | None = Field(None, max_length=80)


class InboundCreate(_In):
    warehouse_id: uuid.UUID | None = Field(None, description="default: the shipment's destination warehouse")
    shipment_id: uuid.UUID | None = Field(None, description="the headhaul shipment (头程) the goods arrive with; "
                                          "without lines, the lines are the declaration lines it carries")
    reference: str | None = Field(None, max_length=100)
    expected_at: datetime | None = None
    note: str | None = Field(None, max_length=1000)
    lines: list[InboundLineIn] = Field(default_factory=list, max_length=1000)


class ReceiveLineIn(_In):
    line_no: int
    received_qty: Qty = Field(0, ge=0, le=MAX_QTY, description="good units counted in this receipt (added to stock)")
    damaged_qty: Qty = Field(0, ge=0, le=MAX_QTY, description="damaged units counted (not added to stock)")
    reason: str | None = Field(None, max_length=500, description="required when the closed count differs")


class ReceiveIn(_In):
    lines: list[ReceiveLineIn] = Field(default_factory=list, max_length=1000)
    close: bool = Field(False, description="final count: short/over/damaged become discrepancies")
    received_at: datetime | None = Field(None, description="when the units were counted, if recorded later "
                                         "(default: now; never in the future)")


class InboundLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_no: int
    sku: str
    declaration_id: uuid.UUID | None
    declaration_line_id: uuid.UUID | None
    lot_code: str | None
    expected_qty: int
    received_qty: int
    damaged_qty: int
    short_qty: int
    over_qty: int
    discrepancy_reason: str | None
    lot_id: uuid.UUID | None


class InboundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    enterprise_id: uuid.UUID
    number: str
    warehouse_id: uuid.UUID
    shipment_id: uuid.UUID | None
    reference: str | None
    status: str
    expected_at: datetime | None
    received_at: datetime | None
    note: str | None
    created_at: datetime
    lines: list[InboundLineRead] = []


class Address(_In):
    name: str = Field(min_length=1, max_length=200)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166 alpha-2")
    address: str = Field(min_length=1, max_length=1000)
    postcode: str | None = Field(None, max_length=20)


class OutboundLineIn(_In):
    sku: str = Field(min_length=1, max_length=64)
    qty: Qty = Field(gt=0, le=MAX_QTY)


class OutboundCreate(_In):
    warehouse_id: uuid.UUID
    reference: str | None = Field(None, max_length=100, description="sales channel order id")
    ship_to: Address
    lines: list[OutboundLineIn] = Field(min_length=1, max_length=500)
    note: str | None = Field(None, max_length=1000)
    allocate: bool = Field(False, description="allocate stock (FIFO) in the same transaction; 409 if short")


class ShipIn(_In):
    carrier: str = Field(min_length=1, max_length=100)
    tracking_no: str = Field(min_length=1, max_length=100)
    shipped_at: datetime | None = None


class DeliverIn(_In):
    delivered_at: datetime | None = None


class CancelIn(_In):
    reason: str = Field(min_length=1, max_length=1000)


class AllocationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_id: uuid.UUID
    lot_id: uuid.UUID
    qty: int
    state: str


class OutboundLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    line_no: int
    sku: str
    qty: int


class OutboundRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    enterprise_id: uuid.UUID
    number: str
    warehouse_id: uuid.UUID
    status: str
    reference: str | None
    ship_to_name: str
    ship_to_country: str
    carrier: str | None
    tracking_no: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    lines: list[OutboundLineRead] = []
    allocations: list[AllocationRead] = []


class ReturnLineIn(_In):
    sku: str = Field(min_length=1, max_length=64)
    qty: Qty = Field(gt=0, le=MAX_QTY)


class ReturnCreate(_In):
    warehouse_id: uuid.UUID | None = Field(None, description="default: the outbound order's warehouse")
    outbound_id: uuid.UUID | None = Field(None, description="the order the goods were shipped with (lineage)")
    reason: str | None = Field(None, max_length=1000)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=500)


class InspectLineIn(_In):
    line_no: int
    condition: str | None = Field(None, max_length=100)
    disposition: str = Field(description="restock, dispose or return_to_origin")


class InspectIn(_In):
    lines: list[InspectLineIn] = Field(min_length=1, max_length=500)


class ReturnLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    line_no: int
    sku: str
    lot_id: uuid.UUID | None
    qty: int
    condition: str | None
    disposition: str | None


class ReturnRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    enterprise_id: uuid.UUID
    number: str
    warehouse_id: uuid.UUID
    outbound_id: uuid.UUID | None
    status: str
    reason: str | None
    received_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    lines: list[ReturnLineRead] = []


class LotAction(_In):
    """A change of one lot's stock: adjustment, disposal, return to China (退运), transfer or count."""

    kind: str = Field(description="adjust, dispose, return_to_origin, transfer, count")
    qty: Qty | None = Field(None, ge=-MAX_QTY, le=MAX_QTY,
                            description="units (signed for adjust); for count: the counted on-hand")
    reason: str = Field(min_length=1, max_length=500)
    to_warehouse_id: uuid.UUID | None = Field(None, description="transfer: the receiving warehouse")


class LotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    enterprise_id: uuid.UUID
    warehouse_id: uuid.UUID
    sku: str
    lot_code: str
    declaration_id: uuid.UUID | None
    declaration_line_id: uuid.UUID | None
    received_at: datetime
    on_hand: int
    allocated: int
    available: int = 0


class StockRow(BaseModel):
    enterprise_id: uuid.UUID
    warehouse_id: uuid.UUID
    sku: str
    on_hand: int
    allocated: int
    available: int
    lots: int
    oldest_receipt: datetime


class MovementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    lot_id: uuid.UUID
    warehouse_id: uuid.UUID
    sku: str
    kind: str
    qty: int
    d_on_hand: int
    d_allocated: int
    document_type: str
    document_no: str | None
    reason: str | None
    occurred_at: datetime
    actor: str
    on_hand_after: int | None = None
