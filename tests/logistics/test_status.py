"""A shipment's state from the set of its events: order-independent, retractions, ETA, late, exceptions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tradeloop.logistics.status import LegPlan, Route, Seen, counting, derive

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ROUTE = Route((LegPlan(1, "CNSHA", "USLAX", T0, T0 + timedelta(days=14)),
               LegPlan(2, "USLAX", "USONT", T0 + timedelta(days=15), T0 + timedelta(days=16))), "USONT")


def ev(code: str, day: float, *, classifier="ACT", event_type="TRANSPORT", location=None, created: float | None = None,
       retracts=None, n: int | None = None) -> Seen:
    at = T0 + timedelta(days=day)
    return Seen(event_id=uuid.UUID(int=n if n is not None else hash((code, day, classifier, location)) & (2**64 - 1)),
                event_created_at=T0 + timedelta(days=created if created is not None else day), event_time=at,
                classifier=classifier, event_type=event_type, event_code=code, location=location,
                retracts_event_id=retracts)


def journey() -> list[Seen]:
    """A sea leg, a corrected departure, two estimates, transshipment and delivery by road."""
    wrong = ev("DEPA", 0.3, location="CNSHA", n=1)
    return [
        ev("ARRI", 14, classifier="PLN", location="USONT", created=-5, n=2),
        wrong,
        ev("DEPA", 0.5, location="CNSHA", retracts=wrong.event_id, n=3),
        ev("LOAD", 0.2, event_type="EQUIPMENT", location="CNSHA", n=4),
        ev("ARRI", 16, classifier="EST", location="USONT", created=3, n=5),
        ev("ARRI", 17.5, classifier="EST", location="USONT", created=9, n=6),
        ev("ARRI", 15.5, location="USLAX", n=7),
        ev("DEPA", 16, location="USLAX", n=8),
        ev("1", 17, location="USONT", n=9),
        ev("21", 17.2, location="USONT", n=10),
    ]


def retracted(events):
    return {e.retracts_event_id for e in events if e.retracts_event_id}


class TestOrderDoesNotMatter:
    @given(st.permutations(journey()))
    def test_any_arrival_order_gives_the_same_timeline_and_state(self, shuffled):
        expected, ordered = derive(journey(), ROUTE, retracted(journey())), counting(journey(), retracted(journey()))
        assert derive(shuffled, ROUTE, retracted(shuffled)) == expected
        assert counting(shuffled, retracted(shuffled)) == ordered
        assert expected.status == "delivered"

    @given(st.permutations(journey()[:7]))
    def test_prefixes_too(self, shuffled):
        assert derive(shuffled, ROUTE, retracted(shuffled)) == derive(journey()[:7], ROUTE, retracted(journey()))


class TestDerive:
    def test_planned_without_events(self):
        d = derive([], ROUTE)
        assert (d.status, d.eta, d.eta_source) == ("planned", T0 + timedelta(days=16), "PLAN")
        assert d.planned_departure == T0 and d.delay_minutes == 0

    def test_departure_and_transit(self):
        dep = ev("DEPA", 0.5, location="CNSHA")
        assert derive([dep], ROUTE).status == "departed"
        assert derive([dep, ev("ARRI", 14, location="USLAX")], ROUTE).status == "in_transit"
        assert derive([dep, ev("16", 3)], ROUTE).status == "in_transit"  # crossed a border

    def test_arrival_counts_at_the_final_place_only(self):
        d = derive([ev("ARRI", 17, location="USONT")], ROUTE)
        assert d.status == "arrived" and d.arrived_at == T0 + timedelta(days=17)

    def test_retracted_event_no_longer_counts(self):
        dep = ev("DEPA", 0.5, location="CNSHA", n=1)
        fix = ev("DEPA", 0.7, location="CNSHA", retracts=dep.event_id, n=2)
        d = derive([dep, fix], ROUTE, {dep.event_id})
        assert d.departed_at == T0 + timedelta(days=0.7)
        assert counting([dep, fix], {dep.event_id}) == [fix]

    def test_eta_is_the_most_recently_created_estimate(self):
        early = ev("ARRI", 18, classifier="EST", location="USONT", created=2, n=1)
        late_but_old = ev("ARRI", 20, classifier="EST", location="USONT", created=1, n=2)
        d = derive([early, late_but_old], ROUTE)
        assert (d.eta, d.eta_source) == (T0 + timedelta(days=18), "EST")
        assert d.delay_minutes == 2 * 24 * 60

    def test_estimate_elsewhere_is_not_the_eta(self):
        d = derive([ev("ARRI", 20, classifier="EST", location="USLAX")], ROUTE)
        assert d.eta_source == "PLAN" and d.legs[1].estimated_arrival == T0 + timedelta(days=20)

    def test_leg_times(self):
        d = derive([ev("DEPA", 0.5, location="CNSHA"), ev("ARRI", 15, location="USLAX"),
                    ev("DEPA", 15.5, location="USLAX", classifier="EST")], ROUTE)
        assert d.legs[1].actual_departure == T0 + timedelta(days=0.5)
        assert d.legs[1].actual_arrival == T0 + timedelta(days=15)
        assert d.legs[2].estimated_departure == T0 + timedelta(days=15.5) and d.legs[2].actual_departure is None

    def test_exception_while_the_latest_actual_event_reports_a_problem(self):
        dep, hold = ev("DEPA", 0.5, location="CNSHA"), ev("HOLD", 3, event_type="SHIPMENT")
        assert derive([dep, hold], ROUTE).status == "exception"
        assert derive([dep, hold, ev("RELS", 4, event_type="SHIPMENT")], ROUTE).status == "departed"
        assert derive([dep, ev("20", 2, event_type="TRANSPORT")], ROUTE).status == "exception"

    def test_dcsa_drop_off_at_the_destination_is_the_delivery(self):
        d = derive([ev("DROP", 17, event_type="EQUIPMENT", location="USONT")], ROUTE)
        assert d.status == "delivered" and d.arrived_at == d.delivered_at
        assert derive([ev("DROP", 1, event_type="EQUIPMENT", location="CNSHA")], ROUTE).status == "planned"

    def test_without_legs_the_warehouse_is_the_destination(self):
        route = Route((), "DEHAM")
        assert derive([ev("ARRI", 3, location="DEBRV")], route).status == "in_transit"
        assert derive([ev("ARRI", 4, location="DEHAM")], route).status == "arrived"

    def test_plan_event_gives_the_planned_arrival_when_the_legs_have_none(self):
        d = derive([ev("ARRI", 9, classifier="PLN", location="DEHAM")], Route((), "DEHAM"))
        assert (d.eta_source, d.planned_arrival) == ("PLN", T0 + timedelta(days=9))
