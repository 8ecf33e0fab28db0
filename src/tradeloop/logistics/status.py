"""A shipment's state as a function of the *set* of its tracking events.

Events are sorted by (event time, creation time, event id), a total order, so the same events give the
same timeline and the same state whatever order they arrived in. An event that another stored event
retracts no longer counts. From the counting events:

- departure, arrival and delivery are the first *actual* (ACT) event of that milestone; the arrival is
  the one at the final place (the last leg's ``to``; without legs, the destination warehouse's UN/LOCODE);
  a DCSA drop-off (DROP) there counts as the delivery;
- the ETA is the most recently created estimate (EST) of the arrival at the final destination, else
  the most recent plan (PLN) event, else the last leg's planned arrival;
- the status is ``delivered`` once delivered; ``exception`` while the latest actual event reports a
  problem (hold, delay, damage, loss, refusal); else ``arrived``, ``in_transit`` (moved on after
  departure: an arrival or departure elsewhere, transshipment, border crossing), ``departed`` or
  ``planned``;
- each leg's estimated and actual departure (arrival) come from the events at its ``from`` (``to``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from tradeloop.logistics.codes import DCSA_DROP, Classifier, Milestone, milestone
from tradeloop.logistics.models import ShipmentStatus


@dataclass(frozen=True)
class Seen:
    """What derivation needs of a stored event."""

    event_id: uuid.UUID
    event_created_at: datetime
    event_time: datetime
    classifier: str
    event_type: str
    event_code: str
    location: str | None = None
    retracts_event_id: uuid.UUID | None = None

    @property
    def milestone(self) -> Milestone:
        return milestone(self.event_type, self.event_code)

    @property
    def order(self) -> tuple:
        return (self.event_time, self.event_created_at, self.event_id)


@dataclass(frozen=True)
class LegPlan:
    sequence: int
    from_locode: str
    to_locode: str
    planned_departure: datetime | None = None
    planned_arrival: datetime | None = None


@dataclass(frozen=True)
class Route:
    legs: tuple[LegPlan, ...] = ()
    warehouse_locode: str | None = None

    @property
    def origin(self) -> str | None:
        return self.legs[0].from_locode if self.legs else None

    @property
    def destination(self) -> str | None:
        return self.legs[-1].to_locode if self.legs else None

    @property
    def planned_departure(self) -> datetime | None:
        return self.legs[0].planned_departure if self.legs else None

    @property
    def planned_arrival(self) -> datetime | None:
        return self.legs[-1].planned_arrival if self.legs else None

    @property
    def final_place(self) -> str | None:
        """The last leg's destination; without legs, the destination warehouse's UN/LOCODE."""
        return self.destination or self.warehouse_locode

    def is_final(self, location: str | None) -> bool:
        """An event without a location, or a route without a known end, is taken as at the final place."""
        return location is None or self.final_place is None or location == self.final_place


@dataclass(frozen=True)
class LegTimes:
    estimated_departure: datetime | None = None
    estimated_arrival: datetime | None = None
    actual_departure: datetime | None = None
    actual_arrival: datetime | None = None


@dataclass(frozen=True)
class Derived:
    status: str
    eta: datetime | None
    eta_source: str | None  # EST / PLN / PLAN
    planned_departure: datetime | None
    planned_arrival: datetime | None
    departed_at: datetime | None
    arrived_at: datetime | None
    delivered_at: datetime | None
    legs: dict[int, LegTimes] = field(default_factory=dict)

    @property
    def delay_minutes(self) -> int | None:
        if self.eta is None or self.planned_arrival is None:
            return None
        return int((self.eta - self.planned_arrival).total_seconds() // 60)


def counting(events: Iterable[Seen], retracted: set[uuid.UUID]) -> list[Seen]:
    """The events that still count, in timeline order."""
    return sorted((e for e in events if e.event_id not in retracted), key=lambda e: e.order)


def _is_delivery(e: Seen, route: Route) -> bool:
    if e.milestone == Milestone.DELIVERY:
        return True
    return e.event_code == DCSA_DROP and e.location is not None and e.location == route.final_place


def _first(events: list[Seen], pred) -> datetime | None:
    return next((e.event_time for e in events if pred(e)), None)


def _latest_created(events: list[Seen], pred) -> datetime | None:
    """The event time of the most recently created matching event (ties: latest event, then id)."""
    matching = [e for e in events if pred(e)]
    if not matching:
        return None
    return max(matching, key=lambda e: (e.event_created_at, e.event_time, e.event_id)).event_time


def _status(acts: list[Seen], route: Route, departed, arrived, delivered) -> str:
    if delivered:
        return ShipmentStatus.DELIVERED
    if acts and acts[-1].milestone == Milestone.EXCEPTION:
        return ShipmentStatus.EXCEPTION
    if arrived:
        return ShipmentStatus.ARRIVED
    moved_on = any(e.milestone == Milestone.TRANSIT
                   or (e.milestone == Milestone.ARRIVAL and not route.is_final(e.location))
                   or (e.milestone == Milestone.DEPARTURE and e.location is not None
                       and route.origin is not None and e.location != route.origin) for e in acts)
    if moved_on:
        return ShipmentStatus.IN_TRANSIT
    return ShipmentStatus.DEPARTED if departed else ShipmentStatus.PLANNED


def _at(kind: Milestone, location: str):
    return lambda e: e.milestone == kind and e.location == location


def _leg_times(events: list[Seen], leg: LegPlan) -> LegTimes:
    est = [e for e in events if e.classifier == Classifier.EST]
    act = [e for e in events if e.classifier == Classifier.ACT]
    departs, arrives = _at(Milestone.DEPARTURE, leg.from_locode), _at(Milestone.ARRIVAL, leg.to_locode)
    return LegTimes(estimated_departure=_latest_created(est, departs), estimated_arrival=_latest_created(est, arrives),
                    actual_departure=_first(act, departs), actual_arrival=_first(act, arrives))


def _eta(live: list[Seen], route: Route) -> tuple[datetime | None, str | None, datetime | None]:
    """(ETA, its source, planned arrival)."""
    def final_arrival(e: Seen) -> bool:
        return e.milestone == Milestone.ARRIVAL and route.is_final(e.location)

    est = _latest_created([e for e in live if e.classifier == Classifier.EST], final_arrival)
    pln = _latest_created([e for e in live if e.classifier == Classifier.PLN], final_arrival)
    planned = route.planned_arrival or pln
    if est is not None:
        return est, "EST", planned
    if pln is not None:
        return pln, "PLN", planned
    return planned, "PLAN" if planned else None, planned


def derive(events: Iterable[Seen], route: Route, retracted: set[uuid.UUID] | None = None) -> Derived:
    live = counting(events, retracted or set())
    acts = [e for e in live if e.classifier == Classifier.ACT]
    departed = _first(acts, lambda e: e.milestone == Milestone.DEPARTURE)
    delivered = _first(acts, lambda e: _is_delivery(e, route))
    arrived = _first(acts, lambda e: e.milestone == Milestone.ARRIVAL and route.is_final(e.location)) or delivered
    eta, source, planned_arrival = _eta(live, route)
    return Derived(status=_status(acts, route, departed, arrived, delivered), eta=eta, eta_source=source,
                   planned_departure=route.planned_departure, planned_arrival=planned_arrival,
                   departed_at=departed, arrived_at=arrived, delivered_at=delivered,
                   legs={leg.sequence: _leg_times(live, leg) for leg in route.legs})
