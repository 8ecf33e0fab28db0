"""Shipments built through the real services: a submitted 9810 declaration of tenant a to carry, events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.customs.builders import add_products, body_9810, create, principal_of, submit
from tradeloop.logistics import events, service
from tradeloop.logistics.repository import ShipmentRepository

API = "/api/v1/logistics"
#: A past moment the tests' event times are counted from (actual events may not lie in the future).
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def submitted_9810(db, world, **extra):
    """A 9810 declaration of tenant a, submitted to customs: SILK-SCARF-01 × 500, SILK-BLOUSE-02 × 120."""
    add_products(db, world.a)
    decl = create(db, world.a, body_9810(world, **extra))
    submit(db, world.a, decl.id)
    return decl


def another_9810(db, world, **extra):
    """A second declaration (products exist already)."""
    decl = create(db, world.a, body_9810(world, logistics_no=f"SZX{uuid.uuid4().hex[:10]}", **extra))
    submit(db, world.a, decl.id)
    return decl


def sea_legs(start: datetime = T0) -> list[dict]:
    return [{"mode": "sea", "from_locode": "CNSHA", "to_locode": "USLAX", "carrier_name": "COSCO",
             "carrier_scac": "COSU", "vessel_name": "COSCO SHIPPING ARIES", "voyage_no": "045E",
             "distance_km": "10470.5",
             "planned_departure": start.isoformat(), "planned_arrival": (start + timedelta(days=14)).isoformat()},
            {"mode": "road", "from_locode": "USLAX", "to_locode": "USONT",
             "planned_departure": (start + timedelta(days=15)).isoformat(),
             "planned_arrival": (start + timedelta(days=16)).isoformat()}]


def shipment_body(world, decl=None, **extra) -> dict:
    body = {"warehouse_id": str(world.operator.warehouse.id), "bl_no": "COSU6312345670",
            "containers": [{"container_no": "CSQU3054383", "seal_no": "CN123456", "size_type": "45G1"}],
            "legs": sea_legs(), "lines": [{"declaration_id": str(decl.id)}] if decl is not None else []}
    body.update(extra)
    return body


def create_shipment(db, tenant, body: dict):
    with db.transaction() as s:
        return service.create_shipment(s, principal=principal_of(tenant), data=body)


def load(db, tenant, shipment_id):
    with db.transaction(write=False) as s:
        return ShipmentRepository(s, principal_of(tenant)).load(shipment_id)


def event(shipment, code: str, at: datetime, *, classifier: str = "ACT", event_type: str = "TRANSPORT",
          location: str | None = None, created: datetime | None = None, event_id=None, **extra) -> dict:
    body = {"event_id": str(event_id or uuid.uuid4()), "shipment_number": shipment.number,
            "event_created_at": (created or at).isoformat(), "event_time": at.isoformat(),
            "classifier": classifier, "event_type": event_type, "event_code": code}
    if location:
        body["location"] = location
    body.update(extra)
    return body


def apply(db, tenant, batch: list[dict]):
    with db.transaction() as s:
        return events.apply_events(s, principal=principal_of(tenant), events=batch)
