"""The logistics JSON API end to end, and tenant isolation."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.factories import bearer
from tests.logistics.builders import API, T0, create_shipment, event, shipment_body, submitted_9810
from tradeloop.kit.models import utcnow


def test_shipment_lifecycle_over_the_api(client, db, world):
    decl = submitted_9810(db, world)
    h = bearer(world.a.keys["write"])
    r = client.post(f"{API}/shipments", json=shipment_body(world, decl), headers=h)
    assert r.status_code == 201, r.text
    shipment = r.json()
    assert r.headers["Location"].endswith(shipment["id"])
    assert shipment["status"] == "planned" and shipment["eta_source"] == "PLAN"
    assert [(li["item_no"], li["qty"], li["declared_qty"], li["unit"]) for li in shipment["lines"]] == [
        ("SILK-SCARF-01", "500.00000", "500.00000", "011"), ("SILK-BLOUSE-02", "120.00000", "120.00000", "011")]
    assert [leg["to_locode"] for leg in shipment["legs"]] == ["USLAX", "USONT"]

    bad = client.post(f"{API}/shipments", json=shipment_body(world, containers=[{"container_no": "MSCU6639871"}]),
                      headers=h)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "containers[0].container_no"

    sid, number = shipment["id"], shipment["number"]
    wrong = {"event_id": str(uuid.uuid4()), "shipment_id": sid, "event_created_at": T0.isoformat(),
             "event_time": (T0 + timedelta(days=16)).isoformat(), "classifier": "ACT", "event_type": "TRANSPORT",
             "event_code": "ARRI", "location": "USONT"}
    batch = {"events": [
        {"event_id": str(uuid.uuid4()), "shipment_number": number, "event_created_at": "2026-03-02T16:00:00+08:00",
         "event_time": "2026-03-02T18:30:00+08:00", "classifier": "ACT", "event_type": "TRANSPORT",
         "event_code": "DEPA", "mode": "VESSEL", "location": "CNSHA", "vessel_name": "COSCO SHIPPING ARIES",
         "voyage_no": "045E"},
        wrong,
        {**wrong, "event_id": str(uuid.uuid4()), "retracts_event_id": wrong["event_id"],
         "event_time": (T0 + timedelta(days=14)).isoformat(), "location": "USLAX"},
        {"event_id": "not-a-uuid", "shipment_number": number},
        wrong, ["not", "an", "object"]]}
    r = client.post(f"{API}/events", json=batch, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["outcome"] for x in body["results"]] == ["inserted", "inserted", "retracted", "rejected", "duplicate",
                                                       "rejected"]
    assert (body["inserted"], body["retracted"], body["rejected"], body["duplicate"]) == (2, 1, 2, 1)
    rejected = body["results"][3]
    assert {e["field"] for e in rejected["errors"]} >= {"event_id", "event_time", "classifier"}

    timeline = client.get(f"{API}/shipments/{sid}/events", headers=h).json()
    assert timeline["status"] == "in_transit"
    assert [(e["event_code"], e["counts"]) for e in timeline["events"]] == [
        ("DEPA", True), ("ARRI", True), ("ARRI", False)]
    assert timeline["events"][0]["event_time"] == "2026-03-02T18:30:00+08:00"
    assert timeline["events"][0]["mode"] == "sea" and len(timeline["events"][0]["payload_sha256"]) == 64
    assert timeline["events"][2]["retracted_by"] == batch["events"][2]["event_id"]

    listed = client.get(f"{API}/shipments", params={"q": "CSQU3054383", "status": "in_transit"}, headers=h).json()
    assert [s["id"] for s in listed["items"]] == [sid]
    assert client.get(f"{API}/shipments", params={"mode": "air"}, headers=h).json()["items"] == []

    r = client.patch(f"{API}/shipments/{sid}", json={"lines": []}, headers=h)
    assert r.status_code == 409  # the goods are fixed once it has left
    r = client.patch(f"{API}/shipments/{sid}", json={"reference": "PO-2026-11"}, headers=h)
    assert r.status_code == 200 and r.json()["reference"] == "PO-2026-11" and len(r.json()["lines"]) == 2
    assert client.delete(f"{API}/shipments/{sid}", headers=h).status_code == 409


def test_csv_import_over_the_api(client, db, world):
    shipment = create_shipment(db, world.a, shipment_body(world))
    h = bearer(world.a.keys["write"])
    row = event(shipment, "DEPA", T0, location="CNSHA")
    good = ("event_id,shipment_number,event_created_at,event_time,classifier,event_type,event_code,location\n"
            f"{row['event_id']},{shipment.number},{row['event_created_at']},{row['event_time']},ACT,TRANSPORT,DEPA,"
            "CNSHA\n").encode()
    r = client.post(f"{API}/events/import", files={"file": ("e.csv", good, "text/csv")}, headers=h)
    assert r.status_code == 200 and r.json()["inserted"] == 1
    bad = good.replace(b"CNSHA", b"CNSH1").replace(row["event_id"].encode(), str(uuid.uuid4()).encode())
    r = client.post(f"{API}/events/import", files={"file": ("e.csv", bad, "text/csv")}, headers=h)
    assert r.status_code == 422
    assert [(e["row"], e["column"], e["value"]) for e in r.json()["row_errors"]] == [(2, "location", "CNSH1")]


def test_late_list_over_the_api(client, db, world):
    now = utcnow()
    late = create_shipment(db, world.a, shipment_body(world, legs=[
        {"mode": "air", "from_locode": "CNPVG", "to_locode": "DEFRA", "flight_no": "CA931",
         "planned_departure": (now - timedelta(days=3)).isoformat(),
         "planned_arrival": (now - timedelta(days=2)).isoformat()}]))
    r = client.get(f"{API}/late", headers=bearer(world.a.keys["read"]))
    assert r.status_code == 200
    [item] = r.json()["items"]
    assert (item["id"], item["days_late"], item["reasons"]) == (str(late.id), "2.0", ["eta_passed"])
    assert client.get(f"{API}/late", headers=bearer(world.b.keys["read"])).json()["items"] == []


def test_another_tenants_shipment_is_not_found(client, db, world):
    shipment = create_shipment(db, world.a, shipment_body(world))
    hb = bearer(world.b.keys["write"])
    for method, path, body in (("GET", f"/shipments/{shipment.id}", None),
                               ("GET", f"/shipments/{shipment.id}/events", None),
                               ("PATCH", f"/shipments/{shipment.id}", {"reference": "x"}),
                               ("DELETE", f"/shipments/{shipment.id}", None)):
        r = client.request(method, f"{API}{path}", json=body, headers=hb)
        assert r.status_code == 404, (method, path, r.text)
        assert shipment.number not in r.text
    assert client.get(f"{API}/shipments", headers=hb).json()["items"] == []
    r = client.post(f"{API}/events", json={"events": [event(shipment, "DEPA", T0)]}, headers=hb)
    assert r.json()["results"][0]["outcome"] == "rejected"
    assert client.get(f"{API}/shipments/{shipment.id}", headers=bearer(world.a.keys["read"])).json()["status"] == \
        "planned"
