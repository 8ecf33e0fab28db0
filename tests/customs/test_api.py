"""The customs JSON API end to end: create, submit, exchange, read the timeline, upload a receipt by hand."""

from __future__ import annotations

from tests.customs.builders import add_products, body_9810, exchange_round
from tests.factories import bearer, login
from tradeloop.customs.ceb import schema
from tradeloop.customs.gateway import ExchangeFolders
from tradeloop.customs.simulator import CustomsSimulator

API = "/api/v1/customs"


def test_declaration_lifecycle_over_the_api(app, client, db, world):
    add_products(db, world.a)
    h = bearer(world.a.keys["write"])
    r = client.post(f"{API}/declarations", json=body_9810(world), headers=h)
    assert r.status_code == 201, r.text
    decl = r.json()
    assert decl["status"] == "draft" and decl["goods_value"] == "8138.00" and len(decl["lines"]) == 2
    assert r.headers["Location"].endswith(decl["id"])

    bad = client.post(f"{API}/declarations", json=body_9810(world, currency="ABC"), headers=h)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert {"field": "currency"}.items() <= bad.json()["errors"][0].items()

    r = client.post(f"{API}/declarations/{decl['id']}/submit", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    assert client.post(f"{API}/declarations/{decl['id']}/submit", headers=h).status_code == 409

    folders = ExchangeFolders.from_settings(app.state.settings)
    exchange_round(db, folders, CustomsSimulator(folders))
    detail = client.get(f"{API}/declarations/{decl['id']}", headers=h).json()
    assert detail["status"] == "closed" and detail["invt_no"]
    docs = {d["kind"]: d for d in detail["documents"]}
    assert docs["list"]["status_code"] == "899" and docs["list"]["status_label"]

    messages = client.get(f"{API}/declarations/{decl['id']}/messages", headers=h).json()
    outgoing = [m for m in messages if m["direction"] == "out"]
    incoming = [m for m in messages if m["direction"] == "in"]
    assert [m["message_type"] for m in outgoing] == ["CEB303", "CEB505", "CEB603"]
    assert {m["message_type"] for m in incoming} == {"CEB304", "CEB506", "CEB604"}
    xml = client.get(f"{API}/messages/{outgoing[-1]['id']}/xml?download=true", headers=h)
    assert xml.headers["content-type"].startswith("application/xml")
    assert "attachment" in xml.headers["content-disposition"] and schema.validate(xml.content) == []

    listed = client.get(f"{API}/declarations", params={"status": "closed", "q": decl["cop_no"]}, headers=h).json()
    assert [d["id"] for d in listed["items"]] == [decl["id"]]
    assert client.get(f"{API}/declarations", params={"mode": "9610"}, headers=h).json()["items"] == []

    # a receipt uploaded by hand (enterprise admins only) that was already received changes nothing
    receipt = client.get(f"{API}/messages/{incoming[0]['id']}/xml", headers=h).content
    assert client.post(f"{API}/inbox", files={"file": ("r.xml", receipt, "text/xml")}, headers=h).status_code == 403
    admin = {"X-CSRF-Token": login(client, world.a.users["admin"])}
    up = client.post(f"{API}/inbox", files={"file": ("r.xml", receipt, "text/xml")}, headers=admin)
    assert up.status_code == 200 and up.json()["outcome"] == "duplicate"


def test_uploaded_junk_goes_to_the_uploaders_quarantine_only(app, client, world):
    from fastapi.testclient import TestClient

    ha, hb = bearer(world.a.keys["write"]), bearer(world.b.keys["write"])
    with TestClient(app) as admin:
        token = login(admin, world.a.users["admin"])
        up = admin.post(f"{API}/inbox", files={"file": ("x.xml", b"<?xml version='1.0'?><a>", "text/xml")},
                        headers={"X-CSRF-Token": token})
    assert up.json()["outcome"] == "quarantined"
    mine = client.get(f"{API}/quarantine", headers=ha).json()["items"]
    assert [i["reason_kind"] for i in mine] == ["malformed"]
    assert client.get(f"{API}/quarantine", headers=hb).json()["items"] == []
    item = mine[0]["id"]
    assert client.get(f"{API}/quarantine/{item}/file", headers=hb).status_code == 404
    assert client.get(f"{API}/quarantine/{item}/file", headers=ha).content == b"<?xml version='1.0'?><a>"
    r = client.post(f"{API}/quarantine/{item}/resolve", json={"resolution": "对方发错文件"}, headers=ha)
    assert r.status_code == 200 and r.json()["resolved_at"]
    assert client.get(f"{API}/quarantine", headers=ha).json()["items"] == []
