"""The sales API: import jobs (upload, progress, result, error report), order lines with filters, column
profiles, unknown SKUs, and tenant isolation (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import replace

import pytest

from tests.factories import bearer
from tests.sales.conftest import CATALOGUE, FIXTURES, add_products
from tradeloop.kit.tenancy import system_principal


def catalogue_of(db, tenant) -> dict:
    return add_products(db, replace(system_principal(), enterprise_id=tenant.enterprise.id), CATALOGUE)


def upload(client, key, name, channel, **form):
    return client.post("/api/v1/sales/imports", headers=bearer(key),
                       files={"file": (name, (FIXTURES / name).read_bytes(), "text/plain")},
                       data={"channel": channel, **form})


def wait(client, key, job_id, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/v1/sales/imports/{job_id}", headers=bearer(key)).json()
        if body["status"] in ("succeeded", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


class TestImportJob:
    def test_upload_progress_result_and_lines(self, client, db, world):
        catalogue_of(db, world.a)
        key = world.a.keys["write"]
        r = upload(client, key, "amazon_all_orders.txt", "amazon")
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/api/v1/sales/imports/{job['id']}"
        assert job["status"] in ("queued", "running", "succeeded") and job["filename"] == "amazon_all_orders.txt"
        done = wait(client, key, job["id"])
        assert done["status"] == "succeeded" and done["error"] is None
        result = done["result"]
        assert {k: result[k] for k in ("read", "inserted", "updated", "unchanged", "rejected")} == {
            "read": 9, "inserted": 9, "updated": 0, "unchanged": 0, "rejected": 0}
        assert [(w["row"], w["value"]) for w in result["warnings"]] == [(8, "MYSTERY-SKU-9")]
        assert done["progress"]["read"] == 9 and done["progress"]["unit"] == "bytes"
        assert done["progress"]["done"] == done["progress"]["total"] == (FIXTURES / "amazon_all_orders.txt").stat(
        ).st_size
        lines = client.get("/api/v1/sales/orders", headers=bearer(key), params={"import_id": job["id"]}).json()
        assert len(lines["items"]) == 9
        first = next(i for i in lines["items"] if i["external_order_id"] == "111-0000001-0000001"
                     and i["sku"] == "SILK-TIE-02")
        assert (first["item_price"], first["shipping"], first["other"], first["currency"]) == (
            "19.99", "3.99", "2.70", "USD")
        assert first["order_date"].startswith("2026-01-15T09:12:33") and first["sku_unknown"] is False
        # The same file again: nothing changes.
        again = wait(client, key, upload(client, key, "amazon_all_orders.txt", "amazon").json()["id"])
        assert (again["result"]["inserted"], again["result"]["updated"], again["result"]["unchanged"]) == (0, 0, 9)
        listed = client.get("/api/v1/sales/imports", headers=bearer(key)).json()["items"]
        assert [i["id"] for i in listed] == [again["id"], job["id"]]

    def test_bad_rows_report_and_csv(self, client, db, world):
        catalogue_of(db, world.a)
        key = world.a.keys["write"]
        done = wait(client, key, upload(client, key, "amazon_bad_rows.txt", "amazon").json()["id"])
        assert done["status"] == "succeeded"
        assert (done["result"]["inserted"], done["result"]["rejected"]) == (2, 7)
        r = client.get(f"/api/v1/sales/imports/{done['id']}/errors", headers=bearer(key))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["row", "column", "value", "reason", "reason_zh"]
        assert [row[:3] for row in rows[1:3]] == [["3", "purchase-date", "15/01/2026 09:12"], ["4", "quantity", "two"]]

    def test_fatal_file_fails_the_job_and_applies_nothing(self, client, world):
        key = world.a.keys["write"]
        done = wait(client, key, upload(client, key, "amazon_missing_column.txt", "amazon").json()["id"])
        assert done["status"] == "failed" and done["result"]["fatal"] is True
        assert done["error"].startswith("Nothing was imported: the required column 'item-price'")
        assert [(e["row"], e["column"]) for e in done["result"]["errors"]] == [(1, "item-price")]
        assert client.get("/api/v1/sales/orders", headers=bearer(key)).json()["items"] == []

    @pytest.mark.parametrize(("form", "field"), [({"channel": "walmart"}, "channel"),
                                                 ({"channel": "generic"}, "profile"),
                                                 ({"channel": "generic", "profile": "nope"}, "profile"),
                                                 ({"channel": "amazon", "timezone": "Mars/Olympus"}, "timezone")])
    def test_bad_requests_queue_nothing(self, client, world, form, field):
        key = world.a.keys["write"]
        r = client.post("/api/v1/sales/imports", headers=bearer(key),
                        files={"file": ("a.txt", b"x\ty\n", "text/plain")}, data=form)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
        assert client.get("/api/v1/sales/imports", headers=bearer(key)).json()["items"] == []

    def test_empty_file(self, client, world):
        r = client.post("/api/v1/sales/imports", headers=bearer(world.a.keys["write"]),
                        files={"file": ("a.txt", b"", "text/plain")}, data={"channel": "amazon"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"

    def test_generic_with_a_saved_profile(self, client, db, world):
        catalogue_of(db, world.a)
        key = world.a.keys["write"]
        profile = json.loads((FIXTURES / "generic_profile.json").read_text(encoding="utf-8"))
        assert client.post("/api/v1/sales/profiles", headers=bearer(key), json=profile).status_code == 201
        r = client.post("/api/v1/sales/imports", headers=bearer(key), data={"channel": "generic",
                                                                            "profile": profile["name"]},
                        files={"file": ("orders.xlsx", (FIXTURES / "generic.xlsx").read_bytes(),
                                        "application/octet-stream")})
        done = wait(client, key, r.json()["id"])
        assert done["status"] == "succeeded", (done["error"], done["result"])
        assert done["result"]["inserted"] == 4
        assert done["progress"]["unit"] == "rows"
        lines = client.get("/api/v1/sales/orders", headers=bearer(key), params={"channel": "own_site"}).json()
        assert {i["external_order_id"] for i in lines["items"]} == {"SO-0001", "SO-0002", "SO-0003"}


class TestOrderLines:
    @pytest.fixture
    def imported(self, client, db, world):
        catalogue_of(db, world.a)
        key = world.a.keys["write"]
        for name, channel in (("amazon_all_orders.txt", "amazon"), ("shopify_orders.csv", "shopify")):
            assert wait(client, key, upload(client, key, name, channel).json()["id"])["status"] == "succeeded"
        return key

    def ids(self, client, key, **params):
        body = client.get("/api/v1/sales/orders", headers=bearer(key), params=params).json()
        return sorted((i["external_order_id"], i["line_id"]) for i in body["items"])

    def test_filters(self, client, imported):
        key = imported
        assert len(self.ids(client, key)) == 15
        assert len(self.ids(client, key, channel="shopify")) == 6
        assert self.ids(client, key, status="refunded") == [("#1002", "2"), ("#1004", "1")]
        assert self.ids(client, key, sku_unknown="true") == [("113-0000005-0000005", "MYSTERY-SKU-9")]
        assert self.ids(client, key, sku="SILK-PJ-03") == [("111-0000002-0000002", "SILK-PJ-03"),
                                                           ("111-0000003-0000003", "SILK-PJ-03")]
        # UTC days of the order date, both ends included.
        assert self.ids(client, key, date_from="2026-01-18", date_to="2026-01-18") == [
            ("#1004", "1"), ("113-0000005-0000005", "MYSTERY-SKU-9")]
        assert self.ids(client, key, order_id="#1001") == [("#1001", "1"), ("#1001", "2")]
        assert len(self.ids(client, key, fulfillment_channel="AFN")) == 5

    def test_cursor_paging(self, client, imported):
        key = imported
        seen, cursor = [], None
        while True:
            body = client.get("/api/v1/sales/orders", headers=bearer(key),
                              params={"limit": 4, **({"cursor": cursor} if cursor else {})}).json()
            seen += [i["id"] for i in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 15

    def test_unknown_skus(self, client, imported):
        body = client.get("/api/v1/sales/unknown-skus", headers=bearer(imported)).json()
        assert [(r["sku"], r["lines"], r["units"], r["in_catalogue"]) for r in body] == [
            ("MYSTERY-SKU-9", 1, 3, False)]


class TestProfiles:
    def test_crud_and_validation(self, client, world):
        key = world.a.keys["write"]
        bad = client.post("/api/v1/sales/profiles", headers=bearer(key), json={
            "name": "x", "columns": {"order_id": "No", "nonsense": "y"}, "timezone": "Nowhere/City",
            "date_format": "dd/mm", "default_currency": "ZZZ"})
        assert bad.status_code == 422
        fields = {e["field"] for e in bad.json()["errors"]}
        assert {"columns.nonsense", "columns.order_date", "columns.sku", "columns.quantity", "columns.item_price",
                "timezone", "date_format", "default_currency"} <= fields
        profile = json.loads((FIXTURES / "generic_profile.json").read_text(encoding="utf-8"))
        created = client.post("/api/v1/sales/profiles", headers=bearer(key), json=profile)
        assert created.status_code == 201
        pid = created.json()["id"]
        assert client.post("/api/v1/sales/profiles", headers=bearer(key), json=profile).status_code == 422
        changed = client.patch(f"/api/v1/sales/profiles/{pid}", headers=bearer(key),
                               json={"timezone": "Europe/Berlin", "decimal_comma": True})
        assert changed.status_code == 200
        assert (changed.json()["timezone"], changed.json()["decimal_comma"], changed.json()["columns"]) == (
            "Europe/Berlin", True, profile["columns"])
        assert [p["id"] for p in client.get("/api/v1/sales/profiles", headers=bearer(key)).json()["items"]] == [pid]
        assert client.delete(f"/api/v1/sales/profiles/{pid}", headers=bearer(key)).status_code == 204
        assert client.get(f"/api/v1/sales/profiles/{pid}", headers=bearer(key)).status_code == 404

    def test_read_key_may_not_write(self, client, world):
        r = client.post("/api/v1/sales/profiles", headers=bearer(world.a.keys["read"]), json={"name": "x"})
        assert r.status_code == 403


class TestTenantIsolation:
    def test_another_enterprise_sees_nothing(self, client, db, world):
        catalogue_of(db, world.a)
        key_a, key_b = world.a.keys["write"], world.b.keys["write"]
        job = wait(client, key_a, upload(client, key_a, "amazon_bad_rows.txt", "amazon").json()["id"])
        profile = client.post("/api/v1/sales/profiles", headers=bearer(key_a), json=json.loads(
            (FIXTURES / "generic_profile.json").read_text(encoding="utf-8"))).json()
        for path in (f"/api/v1/sales/imports/{job['id']}", f"/api/v1/sales/imports/{job['id']}/errors",
                     f"/api/v1/sales/profiles/{profile['id']}"):
            assert client.get(path, headers=bearer(key_b)).status_code == 404
        assert client.patch(f"/api/v1/sales/profiles/{profile['id']}", headers=bearer(key_b),
                            json={"timezone": "UTC"}).status_code == 404
        assert client.delete(f"/api/v1/sales/profiles/{profile['id']}", headers=bearer(key_b)).status_code == 404
        for path in ("/api/v1/sales/orders", "/api/v1/sales/imports", "/api/v1/sales/profiles",
                     "/api/v1/sales/unknown-skus"):
            body = client.get(path, headers=bearer(key_b)).text
            assert "111-0000020-0000020" not in body and job["id"] not in body and profile["id"] not in body
        # b's generic import cannot use a's profile.
        r = client.post("/api/v1/sales/imports", headers=bearer(key_b), data={"channel": "generic",
                                                                              "profile": profile["name"]},
                        files={"file": ("o.xlsx", (FIXTURES / "generic.xlsx").read_bytes(), "text/plain")})
        assert r.status_code == 422
