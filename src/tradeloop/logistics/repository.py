"""Queries of shipments, their lines, legs, containers and tracking events.

Every query starts from the exporter's tenant (``readable()``). The one other reader is the keeper of the
destination warehouse (``inbound()``): an overseas warehouse operator sees the shipments addressed to a
warehouse it keeps, to receive them, and nothing else of the exporter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from tradeloop.customs.models import Declaration, DeclarationLine
from tradeloop.kit.errors import NotFound
from tradeloop.kit.pagination import paginate
from tradeloop.kit.sql import contains_any
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.logistics.models import (
    Shipment,
    ShipmentContainer,
    ShipmentLeg,
    ShipmentLine,
    ShipmentStatus,
    TrackingEvent,
)
from tradeloop.logistics.status import Seen
from tradeloop.warehouse.models import Warehouse

NOT_ARRIVED = (Shipment.arrived_at.is_(None), Shipment.delivered_at.is_(None))


@dataclass
class CarriedLine:
    """A shipment line with the declaration line it carries (unit, declared quantity, names)."""

    line: ShipmentLine
    declaration: Declaration
    declared: DeclarationLine


@dataclass
class LoadedShipment:
    """A shipment with everything the pages, the API and the inbound receiving need."""

    shipment: Shipment
    warehouse: Warehouse | None
    lines: list[CarriedLine]
    legs: list[ShipmentLeg]
    containers: list[ShipmentContainer]

    @property
    def status(self) -> str:
        return self.shipment.status

    def by_declaration_line(self) -> dict[uuid.UUID, ShipmentLine]:
        return {c.line.declaration_line_id: c.line for c in self.lines}


class ShipmentRepository:
    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.READ)

    # --- shipments ------------------------------------------------------------------------------

    def readable(self) -> Select:
        return select(Shipment).where(Shipment.enterprise_id == self.me)

    def inbound(self) -> Select:
        """Shipments of any exporter addressed to a warehouse this enterprise keeps."""
        return select(Shipment).where(Shipment.warehouse_enterprise_id == self.me)

    def get(self, shipment_id: uuid.UUID, *, for_update: bool = False, inbound: bool = False) -> Shipment:
        stmt = (self.inbound() if inbound else self.readable()).where(Shipment.id == shipment_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Shipment not found.", message_zh="未找到该运单")
        return row

    def find(self, shipment_id: uuid.UUID) -> Shipment | None:
        return self.session.scalar(self.readable().where(Shipment.id == shipment_id))

    def by_number(self, number: str) -> Shipment | None:
        return self.session.scalar(self.readable().where(Shipment.number == number))

    def matching(self, *, bl_no: str | None = None, awb_no: str | None = None,
                 container_no: str | None = None) -> list[Shipment]:
        """Shipments carrying a transport document or a container (to attach an event to)."""
        stmt = self.readable()
        if bl_no:
            stmt = stmt.where(Shipment.bl_no == bl_no)
        elif awb_no:
            stmt = stmt.where(Shipment.awb_no == awb_no)
        elif container_no:
            stmt = stmt.where(self._carries(container_no))
        else:
            return []
        return list(self.session.scalars(stmt.limit(3)))

    def lock(self, shipment_ids) -> dict[uuid.UUID, Shipment]:
        """Lock shipments in id order (PostgreSQL row locks; SQLite writers are serialised already), so
        two requests applying events to the same shipment take turns and neither loses the other's."""
        rows = self.session.scalars(self.readable().where(Shipment.id.in_(sorted(set(shipment_ids))))
                                    .order_by(Shipment.id).with_for_update())
        return {s.id: s for s in rows}

    def _carries(self, container_no: str):
        return exists().where(ShipmentContainer.enterprise_id == Shipment.enterprise_id,
                              ShipmentContainer.shipment_id == Shipment.id,
                              ShipmentContainer.container_no == container_no)

    def filtered(self, *, q: str | None = None, status: str | None = None, mode: str | None = None,
                 warehouse_id: uuid.UUID | None = None) -> Select:
        stmt = self.readable()
        if q:
            text = q.strip()
            stmt = stmt.where(or_(contains_any([Shipment.number, Shipment.reference, Shipment.bl_no,
                                                Shipment.awb_no], text), self._carries(text.upper())))
        if status:
            stmt = stmt.where(Shipment.status == status)
        if mode:
            stmt = stmt.where(exists().where(ShipmentLeg.enterprise_id == Shipment.enterprise_id,
                                             ShipmentLeg.shipment_id == Shipment.id, ShipmentLeg.mode == mode))
        if warehouse_id:
            stmt = stmt.where(Shipment.warehouse_id == warehouse_id)
        return stmt

    def page(self, *, cursor: str | None, limit: int | None, **filters):
        return paginate(self.session, self.filtered(**filters), Shipment.id, cursor=cursor, limit=limit)

    def count_by_status(self) -> dict[str, int]:
        rows = self.session.execute(select(Shipment.status, func.count()).where(Shipment.enterprise_id == self.me)
                                    .group_by(Shipment.status))
        return {status: n for status, n in rows}

    def late(self, *, now: datetime, threshold_minutes: int) -> Select:
        """Not yet arrived, and the ETA has passed or the latest estimate is later than planned by more
        than the threshold."""
        return self.readable().where(*NOT_ARRIVED, Shipment.eta.is_not(None), or_(
            Shipment.eta < now, Shipment.delay_minutes > threshold_minutes))

    def late_page(self, *, cursor: str | None, limit: int | None, now: datetime, threshold_minutes: int):
        return paginate(self.session, self.late(now=now, threshold_minutes=threshold_minutes), Shipment.id,
                        cursor=cursor, limit=limit)

    # --- what a shipment holds (``owner``: the exporter, when read for the warehouse keeper) ----------

    def _of(self, model, shipment_id: uuid.UUID, owner: uuid.UUID | None = None):
        return select(model).where(model.enterprise_id == (owner or self.me), model.shipment_id == shipment_id)

    def lines(self, shipment_id: uuid.UUID) -> list[ShipmentLine]:
        return list(self.session.scalars(self._of(ShipmentLine, shipment_id).order_by(ShipmentLine.id)))

    def legs(self, shipment_id: uuid.UUID, *, owner: uuid.UUID | None = None) -> list[ShipmentLeg]:
        return list(self.session.scalars(self._of(ShipmentLeg, shipment_id, owner).order_by(ShipmentLeg.sequence)))

    def containers(self, shipment_id: uuid.UUID, *, owner: uuid.UUID | None = None) -> list[ShipmentContainer]:
        return list(self.session.scalars(self._of(ShipmentContainer, shipment_id, owner)
                                         .order_by(ShipmentContainer.container_no)))

    def carried(self, shipment_id: uuid.UUID, *, owner: uuid.UUID | None = None) -> list[CarriedLine]:
        rows = self.session.execute(
            select(ShipmentLine, Declaration, DeclarationLine)
            .join(DeclarationLine, (DeclarationLine.enterprise_id == ShipmentLine.enterprise_id)
                  & (DeclarationLine.id == ShipmentLine.declaration_line_id))
            .join(Declaration, (Declaration.enterprise_id == DeclarationLine.enterprise_id)
                  & (Declaration.id == DeclarationLine.declaration_id))
            .where(ShipmentLine.enterprise_id == (owner or self.me), ShipmentLine.shipment_id == shipment_id)
            .order_by(Declaration.cop_no, DeclarationLine.gnum))
        return [CarriedLine(line, decl, declared) for line, decl, declared in rows]

    def legs_of(self, shipment_ids) -> dict[uuid.UUID, list[ShipmentLeg]]:
        out: dict[uuid.UUID, list[ShipmentLeg]] = {sid: [] for sid in shipment_ids}
        if out:
            for leg in self.session.scalars(select(ShipmentLeg).where(
                    ShipmentLeg.enterprise_id == self.me, ShipmentLeg.shipment_id.in_(list(out)))
                    .order_by(ShipmentLeg.sequence)):
                out[leg.shipment_id].append(leg)
        return out

    def shippable_lines(self, not_shippable, *, limit: int = 100) -> list[tuple[Declaration, DeclarationLine]]:
        """Lines of the tenant's latest declarations whose status allows shipping them."""
        latest = select(Declaration.id).where(Declaration.enterprise_id == self.me,
                                              Declaration.status.not_in(list(not_shippable))) \
            .order_by(Declaration.id.desc()).limit(limit).subquery()
        rows = self.session.execute(
            select(Declaration, DeclarationLine)
            .join(DeclarationLine, (DeclarationLine.enterprise_id == Declaration.enterprise_id)
                  & (DeclarationLine.declaration_id == Declaration.id))
            .where(Declaration.enterprise_id == self.me, Declaration.id.in_(select(latest.c.id)))
            .order_by(Declaration.id.desc(), DeclarationLine.gnum))
        return [(decl, line) for decl, line in rows]

    def has_events(self, shipment_id: uuid.UUID) -> bool:
        return self.session.scalar(self._of(TrackingEvent, shipment_id).limit(1)) is not None

    def shipped_qty(self, declaration_line_ids, *, except_shipment_id: uuid.UUID | None = None
                    ) -> dict[uuid.UUID, Decimal]:
        """Quantity of each declaration line already on shipments (other than ``except_shipment_id``)."""
        ids = list(set(declaration_line_ids))
        if not ids:
            return {}
        stmt = select(ShipmentLine.declaration_line_id, func.sum(ShipmentLine.qty)).where(
            ShipmentLine.enterprise_id == self.me, ShipmentLine.declaration_line_id.in_(ids))
        if except_shipment_id is not None:
            stmt = stmt.where(ShipmentLine.shipment_id != except_shipment_id)
        rows = self.session.execute(stmt.group_by(ShipmentLine.declaration_line_id))
        return {line_id: Decimal(str(total)) for line_id, total in rows}

    def load(self, shipment_id: uuid.UUID, *, inbound: bool = False) -> LoadedShipment:
        """The shipment with its lines (per declaration line), legs, containers and destination warehouse.
        With ``inbound`` the caller is the keeper of the destination warehouse, not the exporter."""
        shipment = self.get(shipment_id, inbound=inbound)
        owner = shipment.enterprise_id
        warehouse = self.session.get(Warehouse, (shipment.warehouse_enterprise_id, shipment.warehouse_id)) \
            if shipment.warehouse_id else None
        return LoadedShipment(shipment, warehouse, self.carried(shipment.id, owner=owner),
                              self.legs(shipment.id, owner=owner), self.containers(shipment.id, owner=owner))

    # --- events ---------------------------------------------------------------------------------

    def events(self, shipment_id: uuid.UUID) -> list[TrackingEvent]:
        return list(self.session.scalars(self._of(TrackingEvent, shipment_id)))

    def events_by_id(self, event_ids) -> dict[uuid.UUID, TrackingEvent]:
        ids = list(set(event_ids))
        if not ids:
            return {}
        rows = self.session.scalars(select(TrackingEvent).where(TrackingEvent.enterprise_id == self.me,
                                                                TrackingEvent.event_id.in_(ids)))
        return {e.event_id: e for e in rows}

    def retractions_of(self, event_ids) -> dict[uuid.UUID, uuid.UUID]:
        """retracted event id -> the event retracting it (the first one stored), over the whole tenant."""
        ids = list(set(event_ids))
        if not ids:
            return {}
        rows = self.session.execute(select(TrackingEvent.retracts_event_id, TrackingEvent.event_id).where(
            TrackingEvent.enterprise_id == self.me, TrackingEvent.retracts_event_id.in_(ids))
            .order_by(TrackingEvent.received_at, TrackingEvent.id))
        out: dict[uuid.UUID, uuid.UUID] = {}
        for retracted, by in rows:
            out.setdefault(retracted, by)
        return out

    def seen(self, shipment_id: uuid.UUID) -> tuple[list[Seen], dict[uuid.UUID, uuid.UUID]]:
        """The shipment's events for derivation, and which of them are retracted (by which event)."""
        events = [seen_of(e) for e in self.events(shipment_id)]
        return events, self.retractions_of([e.event_id for e in events])


def seen_of(e: TrackingEvent) -> Seen:
    return Seen(event_id=e.event_id, event_created_at=e.event_created_at, event_time=e.event_time,
                classifier=e.classifier, event_type=e.event_type, event_code=e.event_code, location=e.location,
                retracts_event_id=e.retracts_event_id)


__all__ = ["CarriedLine", "LoadedShipment", "ShipmentRepository", "ShipmentStatus", "seen_of"]
