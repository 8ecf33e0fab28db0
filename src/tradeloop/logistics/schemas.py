"""Request and response shapes of shipments and tracking events. Types only: the service checks the rest
(UN/LOCODEs, ISO 6346 check digits, air waybill check digits, declared quantities)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LegIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: str = Field(description="sea, air, rail, road or express (DCSA VESSEL/TRUCK/RAIL/BARGE accepted)")
    from_locode: str = Field(max_length=10, description="UN/LOCODE, e.g. CNSHA")
    to_locode: str = Field(max_length=10, description="UN/LOCODE, e.g. USLAX")
    carrier_name: str | None = Field(None, max_length=200)
    carrier_scac: str | None = Field(None, max_length=10, description="SCAC (2–4 letters), or the IATA code")
    vessel_name: str | None = Field(None, max_length=200)
    voyage_no: str | None = Field(None, max_length=40)
    flight_no: str | None = Field(None, max_length=20, description="e.g. CA1041")
    distance_km: Decimal | None = None
    planned_departure: datetime | None = Field(None, description="with its UTC offset; naive times are read in "
                                               "the configured time zone")
    planned_arrival: datetime | None = None


class ContainerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    container_no: str = Field(max_length=20, description="ISO 6346 with a valid check digit, e.g. CSQU3054383")
    seal_no: str | None = Field(None, max_length=30)
    size_type: str | None = Field(None, max_length=4, description="ISO 6346 size and type code, e.g. 45G1")


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    declaration_id: uuid.UUID
    declaration_line_id: uuid.UUID | None = Field(None, description="omitted: every line of the declaration")
    qty: Decimal | None = Field(None, description="default: what no other shipment carries yet (the full line "
                                "quantity the first time)")


class ShipmentFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse_id: uuid.UUID | None = Field(None, description="destination overseas warehouse you own or use")
    reference: str | None = Field(None, max_length=120)
    bl_no: str | None = Field(None, max_length=40, description="bill of lading number")
    awb_no: str | None = Field(None, max_length=20, description="air waybill: 3-digit prefix + 8-digit serial")
    note: str | None = Field(None, max_length=1000)
    legs: list[LegIn] | None = Field(None, description="replaces the legs when given")
    containers: list[ContainerIn] | None = Field(None, description="replaces the containers when given")
    lines: list[LineIn] | None = Field(None, description="replaces the carried lines when given (before "
                                       "departure only)")


class ShipmentCreate(ShipmentFields):
    pass


class ShipmentUpdate(ShipmentFields):
    pass


class LegRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sequence: int
    mode: str
    from_locode: str
    to_locode: str
    carrier_name: str | None
    carrier_scac: str | None
    vessel_name: str | None
    voyage_no: str | None
    flight_no: str | None
    distance_km: Decimal | None
    planned_departure: datetime | None
    planned_arrival: datetime | None
    estimated_departure: datetime | None
    estimated_arrival: datetime | None
    actual_departure: datetime | None
    actual_arrival: datetime | None


class ContainerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    container_no: str
    seal_no: str | None
    size_type: str | None


class ShipmentLineRead(BaseModel):
    id: uuid.UUID
    declaration_id: uuid.UUID
    declaration_cop_no: str
    declaration_line_id: uuid.UUID
    gnum: int
    item_no: str
    item_name: str | None
    qty: Decimal
    unit: str
    declared_qty: Decimal


class ShipmentRead(BaseModel):
    id: uuid.UUID
    number: str
    status: str
    warehouse_id: uuid.UUID | None
    reference: str | None
    bl_no: str | None
    awb_no: str | None
    note: str | None
    planned_departure: datetime | None
    planned_arrival: datetime | None
    eta: datetime | None
    eta_source: str | None = Field(description="EST (latest carrier estimate), PLN (plan event) or PLAN (legs)")
    departed_at: datetime | None
    arrived_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    legs: list[LegRead] = []
    containers: list[ContainerRead] = []
    lines: list[ShipmentLineRead] = []


class EventIn(BaseModel):
    """One tracking event (DCSA Track & Trace v3, flattened). Documented here; the batch endpoint reads
    each event on its own, so one malformed event is rejected alone."""

    event_id: uuid.UUID = Field(description="the sender's id; the same id again is a duplicate")
    retracts_event_id: uuid.UUID | None = Field(None, description="the event this one corrects")
    event_created_at: datetime = Field(description="when the sender created the event (with offset)")
    event_time: datetime = Field(description="when it happened (ACT) or will (EST/PLN), with its UTC offset")
    classifier: str = Field(description="ACT, EST or PLN")
    event_type: str = Field(description="TRANSPORT, EQUIPMENT or SHIPMENT")
    event_code: str = Field(description="DCSA code (ARRI, DEPA, LOAD, DISC, GTIN, GTOT, STUF, STRP, PICK, DROP, "
                            "INSP, RSEA, RMVD; shipment codes) or a UN/ECE Rec. 24 number (1, 21, 24 …)")
    mode: str | None = Field(None, description="sea, air, rail, road, express (or VESSEL, TRUCK, RAIL, BARGE, "
                             "AIR, PARCEL)")
    location: str | None = Field(None, description="UN/LOCODE")
    shipment_id: uuid.UUID | None = None
    shipment_number: str | None = Field(None, description="or name the shipment by its number …")
    bl_no: str | None = Field(None, description="… or by a B/L, air waybill or container it alone carries")
    awb_no: str | None = None
    container_no: str | None = Field(None, description="ISO 6346, check digit verified")
    vessel_name: str | None = None
    voyage_no: str | None = None
    flight_no: str | None = None
    remark: str | None = None


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"description": "items have the shape of EventIn"})

    events: list[Any] = Field(min_length=1, max_length=1000,
                              description="1–1000 events, each shaped like EventIn (a malformed one is rejected alone)")


class EventOutcomeRead(BaseModel):
    index: int = Field(description="position in the batch (0-based) or row number of the file")
    event_id: str | None
    outcome: str = Field(description="inserted, duplicate, retracted or rejected")
    shipment_id: uuid.UUID | None = None
    reason: str | None = None
    reason_zh: str | None = None
    errors: list[dict[str, str]] = []


class BatchRead(BaseModel):
    inserted: int
    duplicate: int
    retracted: int
    rejected: int
    results: list[EventOutcomeRead]


class EventRead(BaseModel):
    event_id: uuid.UUID
    retracts_event_id: uuid.UUID | None
    counts: bool = Field(description="false when another event retracted it")
    retracted_by: uuid.UUID | None
    event_created_at: datetime
    event_time: datetime = Field(description="in the offset it was sent with")
    classifier: str
    event_type: str
    event_code: str
    code_list: str
    milestone: str
    mode: str | None
    location: str | None
    container_no: str | None
    bl_no: str | None
    awb_no: str | None
    vessel_name: str | None
    voyage_no: str | None
    flight_no: str | None
    remark: str | None
    source: str
    payload_sha256: str


class TimelineRead(BaseModel):
    shipment_id: uuid.UUID
    number: str
    status: str
    eta: datetime | None
    events: list[EventRead]


class LateRead(BaseModel):
    id: uuid.UUID
    number: str
    status: str
    warehouse_id: uuid.UUID | None
    planned_arrival: datetime | None
    eta: datetime | None
    eta_source: str | None
    days_late: Decimal = Field(description="max(now, ETA) − min(ETA, planned arrival), in days (1 decimal)")
    reasons: list[str] = Field(description="eta_passed and/or estimate_after_plan")
