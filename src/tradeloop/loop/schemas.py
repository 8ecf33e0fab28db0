"""The closed loop in the API: per declaration and line, where the exported units are and what they sold for."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field


class Counts(BaseModel):
    exported: Decimal = Field(description="declared quantity (customs unit)")
    declared_value_minor: int = Field(description="declared line total, minor units of the declaration currency")
    received: int = Field(description="good units booked into stock at the warehouse")
    damaged: int = Field(description="damaged on arrival (not stocked)")
    short: int = Field(description="short minus over on closed inbound orders")
    in_transit: Decimal = Field(description="exported, not counted at a warehouse yet")
    on_hand: int
    allocated: int = Field(description="of on hand, reserved for open outbound orders")
    sold: int = Field(description="shipped to buyers, net of returned units")
    sold_linked: int = Field(description="of sold, units whose outbound order is linked to an imported sale")
    returned: int = Field(description="units the buyers sent back (restocked, disposed or sent home)")
    disposed: int
    returned_to_origin: int = Field(description="退运: sent back to China")
    losses: int = Field(description="damaged + short + adjustments and stock-count differences")
    sales_value: dict[str, int] = Field(description="realised value of the sold_linked units per sale currency "
                                        "(item price less promotions, minor units)")
    sales_value_cny: int | None = Field(description="the same in CNY fen at each sale's order-date rate; null "
                                        "when a rate is missing (see missing_rates)")
    missing_rates: list[str] = Field(description="'CUR YYYY-MM-DD' of every rate that was missing")
    abroad_by_age: dict[str, int] = Field(description="units on hand per age bucket (days since receipt)")
    paid_out: dict[str, int] = Field(description="what the platforms paid out for the sold units (their payout "
                                     "items net of fees and refunds), per currency, minor units")
    proceeds_received: dict[str, int] = Field(description="the part of paid_out received on a bank account "
                                              "(payouts matched to credits), per currency")
    settled: dict[str, int] = Field(description="the part of proceeds converted to CNY (结汇), per currency")
    settled_cny: int = Field(description="CNY fen the conversions gave for it")
    unpaid_over_90_days: int = Field(description="sold units whose sale is over 90 days old and whose payout is "
                                     "not received in full (deferred receipt to report, Class A)")
    balanced: bool = Field(description="exported = in transit + on hand + sold + disposed + returned to "
                           "China + losses")


class LineLoopRead(Counts):
    line_id: uuid.UUID
    gnum: int
    sku: str
    name: str
    currency: str


class DeclarationRef(BaseModel):
    id: uuid.UUID
    cop_no: str
    invt_no: str | None
    entry_id: str | None
    mode: str
    status: str
    ie_date: date
    currency: str
    warehouse_id: uuid.UUID | None


class TaxRead(BaseModel):
    claimed_minor: int = Field(0, description="export VAT rebate claimed (declared or approved), CNY fen")
    approved_minor: int = Field(0, description="rebate approved by the tax office")
    reversed_minor: int = Field(0, description="pre-rebate (HWC-YT) reversed at reconciliation")
    repay_due_minor: int = Field(0, description="rebate to repay for goods returned within 6 months")
    repaid_minor: int = 0
    overdue: list[dict] = Field(default_factory=list, description="pre-rebates past their reconciliation "
                                "deadline, repayments due (kind, message, message_zh …)")


class DeclarationLoopRead(BaseModel):
    declaration: DeclarationRef
    proceeds_due: date = Field(description="收汇 deadline: 30 April of the year after export")
    proceeds_overdue: bool = Field(description="past proceeds_due with realised sales not received in full")
    tax: TaxRead
    totals: Counts
    lines: list[LineLoopRead]


class LineageRead(BaseModel):
    declaration_id: uuid.UUID | None
    cop_no: str | None
    entry_id: str | None
    gnum: int | None
    declaration_line_id: uuid.UUID | None
    lot_id: uuid.UUID
    lot_code: str
    warehouse_id: uuid.UUID
    received_at: datetime
    qty: int
    state: str = Field(description="allocated (waiting to ship) or shipped")
