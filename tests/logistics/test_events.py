"""Tracking events through the service on SQLite and PostgreSQL: each applied once, corrections, order
independence, per-event rejection in a batch, all-or-nothing files, concurrency, the late list."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.customs.builders import principal_of
from tests.logistics.builders import T0, apply, create_shipment, event, load, shipment_body
from tradeloop.audit.models import AuditLog
from tradeloop.kit.models import utcnow
from tradeloop.kit.tables import ImportRejected
from tradeloop.logistics import events, service
from tradeloop.logistics.formats.events import COLUMNS
from tradeloop.logistics.models import TrackingEvent
from tradeloop.logistics.repository import ShipmentRepository


def outcomes(result) -> list[str]:
    return [r.outcome for r in result.results]


def audit_rows(db) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditLog))


def stored(db, tenant, shipment) -> list[TrackingEvent]:
    with db.transaction(write=False) as s:
        return ShipmentRepository(s, principal_of(tenant)).events(shipment.id)


@pytest.fixture
def shipment(db, world):
    return create_shipment(db, world.a, shipment_body(world))


class TestApplyOnce:
    def test_inserted_then_duplicate_changes_nothing(self, db, world, shipment):
        depa = event(shipment, "DEPA", T0 + timedelta(hours=6), location="CNSHA")
        assert outcomes(apply(db, world.a, [depa])) == ["inserted"]
        after_first = audit_rows(db)
        again = apply(db, world.a, [depa, depa])
        assert outcomes(again) == ["duplicate", "duplicate"]
        assert audit_rows(db) == after_first and len(stored(db, world.a, shipment)) == 1
        assert load(db, world.a, shipment.id).status == "departed"

    def test_the_same_id_with_other_content_is_rejected(self, db, world, shipment):
        depa = event(shipment, "DEPA", T0, location="CNSHA")
        apply(db, world.a, [depa])
        result = apply(db, world.a, [{**depa, "event_time": (T0 + timedelta(hours=1)).isoformat()}])
        assert outcomes(result) == ["rejected"] and "retracts it" in result.results[0].reason

    def test_the_same_instant_in_another_offset_is_still_another_event(self, db, world, shipment):
        depa = event(shipment, "DEPA", T0, location="CNSHA")
        apply(db, world.a, [depa])
        beijing = T0.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).isoformat()
        assert outcomes(apply(db, world.a, [{**depa, "event_time": beijing}])) == ["rejected"]

    def test_one_audit_row_per_shipment_touched(self, db, world, shipment):
        other = create_shipment(db, world.a, shipment_body(world))
        before = audit_rows(db)
        apply(db, world.a, [event(shipment, "DEPA", T0, location="CNSHA"), event(other, "DEPA", T0, location="CNSHA"),
                            event(shipment, "ARRI", T0 + timedelta(days=14), location="USLAX")])
        assert audit_rows(db) == before + 2
        with db.transaction(write=False) as s:
            row = s.scalar(select(AuditLog).where(AuditLog.entity_id == str(shipment.id),
                                                  AuditLog.action == "logistics.shipment.events"))
        assert row.before["status"] == "planned" and row.after["status"] == "in_transit"
        assert len(row.after["events"]) == 2


class TestCorrections:
    def test_a_correction_retracts_the_event_it_names(self, db, world, shipment):
        wrong = event(shipment, "ARRI", T0 + timedelta(days=16), location="USONT")
        apply(db, world.a, [wrong])
        assert load(db, world.a, shipment.id).status == "arrived"
        fix = event(shipment, "ARRI", T0 + timedelta(days=14), location="USLAX", retracts_event_id=wrong["event_id"])
        result = apply(db, world.a, [fix])
        assert outcomes(result) == ["retracted"] and result.results[0].note is None
        assert load(db, world.a, shipment.id).status == "in_transit"
        assert len(stored(db, world.a, shipment)) == 2  # the retracted one stays stored

    def test_a_correction_that_arrives_first_still_wins(self, db, world, shipment):
        wrong = event(shipment, "ARRI", T0 + timedelta(days=16), location="USONT")
        fix = event(shipment, "ARRI", T0 + timedelta(days=14), location="USLAX", retracts_event_id=wrong["event_id"])
        early = apply(db, world.a, [fix])
        assert outcomes(early) == ["retracted"] and "not known yet" in early.results[0].reason
        assert outcomes(apply(db, world.a, [wrong])) == ["inserted"]
        assert load(db, world.a, shipment.id).status == "in_transit"

    def test_a_correction_may_move_an_event_to_another_shipment(self, db, world, shipment):
        other = create_shipment(db, world.a, shipment_body(world))
        misfiled = event(shipment, "DEPA", T0, location="CNSHA")
        apply(db, world.a, [misfiled])
        apply(db, world.a, [event(other, "DEPA", T0, location="CNSHA", retracts_event_id=misfiled["event_id"])])
        assert load(db, world.a, shipment.id).status == "planned"
        assert load(db, world.a, other.id).status == "departed"


JOURNEY = [("DEPA", 0.5, "CNSHA", "ACT"), ("LOAD", 0.2, "CNSHA", "ACT"), ("ARRI", 17, "USONT", "EST"),
           ("ARRI", 14.5, "USLAX", "ACT"), ("DEPA", 15, "USLAX", "ACT"), ("ARRI", 16.5, "USONT", "ACT")]


class TestOrderIndependence:
    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(order=st.permutations(range(len(JOURNEY))))
    def test_any_arrival_order_gives_the_same_timeline_and_status(self, db, world, order):
        def batches(shipment, ids):
            return [event(shipment, code, T0 + timedelta(days=day), location=loc, classifier=cls,
                          event_type="EQUIPMENT" if code == "LOAD" else "TRANSPORT",
                          created=T0 + timedelta(days=i), event_id=ids[i])
                    for i, (code, day, loc, cls) in enumerate(JOURNEY)]

        ids = [uuid.uuid4() for _ in JOURNEY]
        in_order = create_shipment(db, world.a, shipment_body(world))
        apply(db, world.a, batches(in_order, ids))
        shuffled = create_shipment(db, world.a, shipment_body(world))
        ids2 = [uuid.uuid4() for _ in JOURNEY]
        for i in order:  # one event per request, in the shuffled order
            apply(db, world.a, [batches(shuffled, ids2)[i]])
        a, b = load(db, world.a, in_order.id), load(db, world.a, shuffled.id)
        fields = ("status", "eta", "eta_source", "departed_at", "arrived_at", "delivered_at", "delay_minutes")
        assert [getattr(a.shipment, f) for f in fields] == [getattr(b.shipment, f) for f in fields]
        assert [(x.actual_departure, x.actual_arrival) for x in a.legs] == \
            [(x.actual_departure, x.actual_arrival) for x in b.legs]
        assert a.shipment.status == "arrived"

        def timeline(shipment):
            rows = sorted(stored(db, world.a, shipment), key=lambda e: (e.event_time, e.event_created_at, e.event_id))
            return [(e.event_code, e.event_time) for e in rows]
        assert timeline(in_order) == timeline(shuffled)


class TestRejectedOnTheirOwn:
    def test_a_malformed_event_rejects_only_itself(self, db, world, shipment):
        good = event(shipment, "DEPA", T0, location="CNSHA")
        result = apply(db, world.a, [
            "not an object",
            {**event(shipment, "ARRI", T0), "event_time": "2026-03-02T08:00:00"},  # no offset
            event(shipment, "LOAD", T0, event_type="EQUIPMENT", container_no="CSQU3054384"),
            event(shipment, "XXXX", T0),
            event(shipment, "DEPA", T0, mode="air"),  # air reports with Rec. 24 codes
            event(shipment, "DEPA", utcnow() + timedelta(days=2)),  # an actual event in the future
            {**event(shipment, "DEPA", T0), "shipment_number": "SH000000NONE"},
            good])
        assert outcomes(result) == ["rejected"] * 7 + ["inserted"]
        fields = [[e.field for e in r.errors] for r in result.results[:7]]
        assert fields == [["event"], ["event_time"], ["container_no"], ["event_code"], ["event_code"], ["event_time"],
                          ["shipment"]]
        assert "check digit" in result.results[2].reason and "校验位" in result.results[2].reason_zh
        assert [e.event_id for e in stored(db, world.a, shipment)] == [uuid.UUID(good["event_id"])]

    def test_another_tenants_shipment_is_unknown(self, db, world, shipment):
        result = apply(db, world.b, [{**event(shipment, "DEPA", T0), "shipment_number": None,
                                      "shipment_id": str(shipment.id)}])
        assert outcomes(result) == ["rejected"] and result.results[0].errors[0].field == "shipment"
        assert load(db, world.a, shipment.id).status == "planned"

    def test_events_find_their_shipment_by_bl_awb_or_container(self, db, world, shipment):
        by_container = {**event(shipment, "LOAD", T0, event_type="EQUIPMENT"), "shipment_number": None,
                        "container_no": "CSQU 305438 3"}
        by_bl = {**event(shipment, "DEPA", T0 + timedelta(hours=2), location="CNSHA"), "shipment_number": None,
                 "bl_no": "cosu6312345670"}
        result = apply(db, world.a, [by_container, by_bl])
        assert outcomes(result) == ["inserted", "inserted"]
        assert {r.shipment_id for r in result.results} == {shipment.id}
        create_shipment(db, world.a, shipment_body(world))  # now two shipments carry the container
        again = apply(db, world.a, [{**by_container, "event_id": str(uuid.uuid4())}])
        assert "several shipments" in again.results[0].reason


class TestConcurrency:
    def test_concurrent_batches_for_one_shipment_lose_nothing(self, db, world, shipment):
        batches = [[event(shipment, "DEPA", T0, location="CNSHA")],
                   [event(shipment, "ARRI", T0 + timedelta(days=14), location="USLAX")],
                   [event(shipment, "DEPA", T0 + timedelta(days=15), location="USLAX")],
                   [event(shipment, "ARRI", T0 + timedelta(days=16), location="USONT")]]
        same = event(shipment, "LOAD", T0, event_type="EQUIPMENT")
        batches += [[same]] * 4
        barrier, results = threading.Barrier(len(batches)), []

        def send(batch):
            barrier.wait()
            results.append(outcomes(apply(db, world.a, batch)))

        threads = [threading.Thread(target=send, args=(b,)) for b in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        flat = sorted(o for r in results for o in r)
        assert flat == ["duplicate"] * 3 + ["inserted"] * 5
        assert len(stored(db, world.a, shipment)) == 5
        assert load(db, world.a, shipment.id).status == "arrived"


def csv_file(rows: list[dict], header_zh: bool = False) -> bytes:
    keys = [k for k, _en, _zh in COLUMNS]
    header = [zh if header_zh else en for _k, en, zh in COLUMNS]
    lines = [",".join(header)] + [",".join(str(r.get(k) or "") for k in keys) for r in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


class TestImportFile:
    def test_a_good_file_applies_and_again_changes_nothing(self, db, world, shipment):
        rows = [event(shipment, "DEPA", T0, location="CNSHA", mode="sea", vessel_name="COSCO SHIPPING ARIES",
                      voyage_no="045E"),
                event(shipment, "ARRI", T0 + timedelta(days=16), classifier="EST", location="USONT",
                      created=T0 + timedelta(days=1))]
        data = csv_file(rows, header_zh=True)
        with db.transaction() as s:
            result = events.import_events(s, principal=principal_of(world.a), filename="e.csv", data=data)
        assert outcomes(result) == ["inserted", "inserted"]
        with db.transaction() as s:
            again = events.import_events(s, principal=principal_of(world.a), filename="e.csv", data=data)
        assert outcomes(again) == ["duplicate", "duplicate"]
        assert {e.source for e in stored(db, world.a, shipment)} == {"csv"}

    def test_a_file_with_any_error_applies_nothing(self, db, world, shipment):
        rows = [event(shipment, "DEPA", T0, location="CNSHA"),
                event(shipment, "LOAD", T0, event_type="EQUIPMENT", container_no="CSQU3054384"),
                event(shipment, "ARRI", T0, location="US-LAX")]
        with db.transaction() as s, pytest.raises(ImportRejected) as info:
            events.import_events(s, principal=principal_of(world.a), filename="e.csv", data=csv_file(rows))
        report = [(e.row, e.column, e.value) for e in info.value.row_errors]
        assert report == [(3, "Container", "CSQU3054384"), (4, "Location", "US-LAX")]
        assert stored(db, world.a, shipment) == []

    def test_unknown_columns_and_duplicate_ids_in_one_file_are_row_errors(self, db, world, shipment):
        row = event(shipment, "DEPA", T0, location="CNSHA")
        data = csv_file([row, {**row, "location": "CNNGB"}]).replace(b"Remark", b"Remarks")
        with db.transaction() as s, pytest.raises(ImportRejected) as info:
            events.import_events(s, principal=principal_of(world.a), filename="e.csv", data=data)
        assert [(e.row, e.column) for e in info.value.row_errors] == [(1, "Remarks"), (3, "Event ID")]


class TestLate:
    def test_late_shipments_and_days_late(self, db, world):
        now = utcnow()
        overdue = create_shipment(db, world.a, shipment_body(world, legs=[
            {"mode": "sea", "from_locode": "CNSHA", "to_locode": "USLAX",
             "planned_departure": (now - timedelta(days=20)).isoformat(),
             "planned_arrival": (now - timedelta(days=3)).isoformat()}]))
        slipping = create_shipment(db, world.a, shipment_body(world, legs=[
            {"mode": "sea", "from_locode": "CNSHA", "to_locode": "USLAX",
             "planned_departure": (now - timedelta(days=5)).isoformat(),
             "planned_arrival": (now + timedelta(days=5)).isoformat()}]))
        on_time = create_shipment(db, world.a, shipment_body(world, legs=[
            {"mode": "sea", "from_locode": "CNSHA", "to_locode": "USLAX",
             "planned_departure": (now - timedelta(days=5)).isoformat(),
             "planned_arrival": (now + timedelta(days=5)).isoformat()}]))
        arrived = create_shipment(db, world.a, shipment_body(world, legs=[
            {"mode": "sea", "from_locode": "CNSHA", "to_locode": "USLAX",
             "planned_departure": (now - timedelta(days=20)).isoformat(),
             "planned_arrival": (now - timedelta(days=3)).isoformat()}]))
        apply(db, world.a, [
            event(slipping, "ARRI", now + timedelta(days=7, hours=12), classifier="EST", location="USLAX",
                  created=now - timedelta(hours=1)),
            event(on_time, "ARRI", now + timedelta(days=5, hours=12), classifier="EST", location="USLAX",
                  created=now - timedelta(hours=1)),
            event(arrived, "ARRI", now - timedelta(days=2), location="USLAX")])
        with db.transaction(write=False) as s:
            repo = ShipmentRepository(s, principal_of(world.a))
            rows = list(s.scalars(repo.late(now=now, threshold_minutes=24 * 60)))
            late = {r.id: service.lateness(r, now=now, threshold=timedelta(hours=24)) for r in rows}
            assert set(late) == {overdue.id, slipping.id}
            assert (str(late[overdue.id].days_late), late[overdue.id].reasons) == ("3.0", ["eta_passed"])
            assert (str(late[slipping.id].days_late), late[slipping.id].reasons) == ("2.5", ["estimate_after_plan"])
            lenient = repo.late(now=now, threshold_minutes=3 * 24 * 60)
            assert [r.id for r in s.scalars(lenient)] == [overdue.id]
            assert list(s.scalars(ShipmentRepository(s, principal_of(world.b)).late(now=now, threshold_minutes=0))) \
                == []
