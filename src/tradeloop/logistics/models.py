"""Headhaul shipments (头程) and their tracking events.

A shipment belongs to the exporter (``enterprise_id``). It carries quantities of customs declaration
lines (``shipment_lines``), travels over legs (``shipment_legs``) in containers (``shipment_containers``)
and is followed by tracking events modelled on DCSA Track & Trace v3 (``tracking_events``). What a
shipment is doing — its status, ETA, departure, arrival and delivery, and each leg's estimated and
actual times — is derived from the events that still count (not retracted), sorted by event time, so
events that arrive twice or out of order leave the same result (``logistics.status``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from tradeloop.kit.db import Base
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import UTCDateTime, created_column, updated_column


class ShipmentStatus(enum.StrEnum):
    PLANNED = "planned"  # no actual movement yet
    DEPARTED = "departed"  # left the origin
    IN_TRANSIT = "in_transit"  # moved on after departure (transshipment, border, later leg)
    ARRIVED = "arrived"  # arrived at the final destination
    DELIVERED = "delivered"  # delivered to the destination warehouse
    EXCEPTION = "exception"  # the latest actual event reports a problem (hold, delay, damage, loss)


class Mode(enum.StrEnum):
    SEA = "sea"
    AIR = "air"
    RAIL = "rail"
    ROAD = "road"
    EXPRESS = "express"


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "number"),
        ForeignKeyConstraint(["enterprise_id"], ["enterprises.id"], ondelete="CASCADE"),
        Index("ix_shipments_status", "enterprise_id", "status"),
        Index("ix_shipments_bl_no", "enterprise_id", "bl_no"),
        Index("ix_shipments_awb_no", "enterprise_id", "awb_no"),
        Index("ix_shipments_warehouse", "warehouse_enterprise_id", "warehouse_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    #: SH + Beijing date (YYMMDD) + 4-digit sequence of the day, unique per enterprise.
    number: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default=ShipmentStatus.PLANNED)
    #: Destination overseas warehouse: kept by ``warehouse_enterprise_id`` (the exporter or its operator).
    warehouse_enterprise_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    warehouse_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reference: Mapped[str | None] = mapped_column(String(60))  # the forwarder's or the exporter's own ref
    bl_no: Mapped[str | None] = mapped_column(String(20))  # bill of lading (DCSA transportDocumentReference)
    awb_no: Mapped[str | None] = mapped_column(String(12))  # air waybill, "176-12345675"
    note: Mapped[str | None] = mapped_column(Text)
    #: Derived (logistics.status): the plan of the legs, the ETA and what the events say happened.
    planned_departure: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_arrival: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eta_source: Mapped[str | None] = mapped_column(String(4))  # EST, PLN or PLAN (the legs' plan)
    #: ETA minus planned arrival, in minutes (positive: later than planned).
    delay_minutes: Mapped[int | None] = mapped_column(Integer)
    departed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()


class ShipmentLine(Base):
    """A quantity of one declaration line on this shipment; a line may be split over several shipments,
    never beyond its declared quantity."""

    __tablename__ = "shipment_lines"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "shipment_id", "declaration_line_id"),
        ForeignKeyConstraint(["enterprise_id", "shipment_id"], ["shipments.enterprise_id", "shipments.id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["enterprise_id", "declaration_line_id"],
                             ["customs_declaration_lines.enterprise_id", "customs_declaration_lines.id"]),
        Index("ix_shipment_lines_declaration_line", "enterprise_id", "declaration_line_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    shipment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    declaration_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    declaration_line_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    item_no: Mapped[str] = mapped_column(String(20))  # SKU, as declared
    qty: Mapped[Decimal] = mapped_column(Numeric(19, 5, asdecimal=True))  # in the line's customs unit


class ShipmentLeg(Base):
    __tablename__ = "shipment_legs"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "shipment_id", "sequence"),
        ForeignKeyConstraint(["enterprise_id", "shipment_id"], ["shipments.enterprise_id", "shipments.id"],
                             ondelete="CASCADE"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    shipment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, …
    mode: Mapped[str] = mapped_column(String(10))
    from_locode: Mapped[str] = mapped_column(String(5))
    to_locode: Mapped[str] = mapped_column(String(5))
    carrier_name: Mapped[str | None] = mapped_column(String(100))
    carrier_scac: Mapped[str | None] = mapped_column(String(4))
    vessel_name: Mapped[str | None] = mapped_column(String(100))
    voyage_no: Mapped[str | None] = mapped_column(String(20))
    flight_no: Mapped[str | None] = mapped_column(String(10))
    distance_km: Mapped[Decimal | None] = mapped_column(Numeric(12, 3, asdecimal=True))
    planned_departure: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_arrival: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Derived from the events at the leg's ends (latest estimate, first actual).
    estimated_departure: Mapped[datetime | None] = mapped_column(UTCDateTime)
    estimated_arrival: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_departure: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_arrival: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShipmentContainer(Base):
    __tablename__ = "shipment_containers"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "shipment_id", "container_no"),
        ForeignKeyConstraint(["enterprise_id", "shipment_id"], ["shipments.enterprise_id", "shipments.id"],
                             ondelete="CASCADE"),
        Index("ix_shipment_containers_number", "enterprise_id", "container_no"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    shipment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    container_no: Mapped[str] = mapped_column(String(11))  # ISO 6346, check digit verified
    seal_no: Mapped[str | None] = mapped_column(String(15))
    size_type: Mapped[str | None] = mapped_column(String(4))  # ISO 6346 size and type code, e.g. 45G1


class TrackingEvent(Base):
    """One event as the sender sent it (DCSA TNT v3 metadata + payload, flattened). Never updated: a
    correction is a new event that retracts this one, which then stays stored but no longer counts."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "event_id"),
        ForeignKeyConstraint(["enterprise_id", "shipment_id"], ["shipments.enterprise_id", "shipments.id"]),
        Index("ix_tracking_events_shipment", "enterprise_id", "shipment_id", "event_time"),
        Index("ix_tracking_events_retracts", "enterprise_id", "retracts_event_id"),
    )

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7)
    shipment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # DCSA eventID, the sender's idempotency key
    retracts_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # DCSA retractedEventID
    event_created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # DCSA eventCreatedDateTime
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)  # DCSA eventDateTime, in UTC
    tz_offset: Mapped[str] = mapped_column(String(6))  # the offset it was given with, "+08:00"
    classifier: Mapped[str] = mapped_column(String(3))  # ACT / EST / PLN
    event_type: Mapped[str] = mapped_column(String(10))  # TRANSPORT / EQUIPMENT / SHIPMENT
    event_code: Mapped[str] = mapped_column(String(4))
    code_list: Mapped[str] = mapped_column(String(5))  # DCSA or REC24 (UN/ECE Rec. 24)
    mode: Mapped[str | None] = mapped_column(String(10))
    location: Mapped[str | None] = mapped_column(String(5))  # UN/LOCODE
    container_no: Mapped[str | None] = mapped_column(String(11))
    bl_no: Mapped[str | None] = mapped_column(String(20))
    awb_no: Mapped[str | None] = mapped_column(String(12))
    vessel_name: Mapped[str | None] = mapped_column(String(100))
    voyage_no: Mapped[str | None] = mapped_column(String(20))
    flight_no: Mapped[str | None] = mapped_column(String(10))
    remark: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))  # api / csv / form
    payload_sha256: Mapped[str] = mapped_column(String(64))  # of the event as received (canonical JSON)
    received_at: Mapped[datetime] = created_column()
