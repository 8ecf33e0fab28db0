"""Audit rows: one per change, in the same transaction; gone when the change is rolled back."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tests.factories import bearer, login
from tradeloop.audit.models import AuditLog
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse import service as warehouses
from tradeloop.warehouse.models import Warehouse
from tradeloop.warehouse.schemas import WarehouseCreate, WarehouseUpdate


def _count(db, model=AuditLog, **where):
    with db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return s.scalar(stmt)


def _body(code="AUD-1"):
    return {"code": code, "name_zh": "审计仓", "country": "US", "address": "1 Main St", "tenure": "owned",
            "operator_name": "X"}


class TestAuditRowPerMutation:
    def test_each_api_mutation_writes_one_row_with_actor_and_request_id(self, client, world):
        key = world.a.keys["write"]
        r = client.post("/api/v1/warehouses", json=_body(), headers={**bearer(key), "X-Request-ID": "req-123"})
        assert r.status_code == 201
        wid = r.json()["id"]
        client.patch(f"/api/v1/warehouses/{wid}", json={"contact": "c@example.com"}, headers=bearer(key))
        rows = client.get("/api/v1/audit", params={"entity_id": wid}, headers=bearer(key)).json()["items"]
        assert [r["action"] for r in rows] == ["warehouse.update", "warehouse.create"]
        update, create = rows
        assert create["request_id"] == "req-123"
        assert create["actor_type"] == "api_key" and create["actor_label"] == "api-key:a-write"
        assert create["before"] is None and create["after"]["code"] == "AUD-1"
        assert update["before"]["contact"] is None and update["after"]["contact"] == "c@example.com"

    def test_secrets_never_reach_the_audit_log(self, client, world, db):
        csrf = login(client, world.a.users["admin"])
        r = client.post("/api/v1/api-keys", json={"name": "ci", "scope": "write"}, headers={"X-CSRF-Token": csrf})
        key = r.json()["key"]
        client.post("/api/v1/members", headers={"X-CSRF-Token": csrf},
                    json={"username": "newbie", "display_name": "新人", "password": "s3cret-password!",
                          "role": "viewer"})
        rows = client.get("/api/v1/audit").json()["items"]
        text = str(rows)
        assert key not in text and "s3cret-password!" not in text and "key_hash" not in text
        assert "password_hash" not in text

    def test_audit_is_per_tenant(self, client, world):
        client.post("/api/v1/warehouses", json=_body("AUD-A"), headers=bearer(world.a.keys["write"]))
        rows = client.get("/api/v1/audit", headers=bearer(world.b.keys["read"])).json()["items"]
        assert all("AUD-A" not in str(r) for r in rows)


class TestRollback:
    def test_audit_row_rolls_back_with_the_change(self, db, world):
        principal = replace(system_principal(), enterprise_id=world.a.enterprise.id)
        before = _count(db)
        with pytest.raises(RuntimeError), db.transaction() as s:
            warehouses.create_warehouse(s, principal=principal, data=WarehouseCreate(**_body("RB-1")))
            assert s.scalar(select(func.count()).select_from(AuditLog)) == before + 1  # written in the transaction
            raise RuntimeError("something later in the same transaction fails")
        assert _count(db) == before
        assert _count(db, Warehouse, code="RB-1") == 0

    def test_failed_validation_writes_nothing(self, client, world, db):
        before = _count(db)
        r = client.post("/api/v1/warehouses", json={**_body(), "country": "CN"}, headers=bearer(world.a.keys["write"]))
        assert r.status_code == 422
        assert _count(db) == before

    def test_update_that_fails_keeps_old_values(self, db, world):
        principal = replace(system_principal(), enterprise_id=world.a.enterprise.id)
        wid = world.a.warehouse.id
        from tradeloop.kit.errors import ValidationFailed

        with pytest.raises(ValidationFailed), db.transaction() as s:
            warehouses.update_warehouse(s, principal=principal, warehouse_id=wid,
                                        data=WarehouseUpdate(tenure="leased"))  # leased needs lease dates
        with db.transaction(write=False) as s:
            assert s.get(Warehouse, (world.a.enterprise.id, wid)).tenure == "owned"


class TestAuditApiFilters:
    def test_date_times_without_zone_are_utc(self, client, world):
        headers = bearer(world.a.keys["read"])
        everything = client.get("/api/v1/audit", headers=headers).json()["items"]
        r = client.get("/api/v1/audit", params={"since": "2000-01-01T00:00:00"}, headers=headers)
        assert r.status_code == 200 and len(r.json()["items"]) == len(everything)
        r = client.get("/api/v1/audit", params={"until": "2000-01-01T00:00:00+08:00"}, headers=headers)
        assert r.status_code == 200 and r.json()["items"] == []

    def test_excel_export_keeps_formulas_as_text(self, client, world):
        import io

        from openpyxl import load_workbook

        from tests.factories import page_login

        client.post("/api/v1/warehouses", headers=bearer(world.a.keys["write"]),
                    json={**_body("XL-1"), "name_zh": '=HYPERLINK("http://evil.example","点我")'})
        page_login(client, world.a.users["viewer"])
        for url in ("/warehouses.xlsx", "/audit.xlsx"):
            wb = load_workbook(io.BytesIO(client.get(url).content))
            cells = [c for row in wb.active.iter_rows() for c in row if isinstance(c.value, str)
                     and c.value.startswith("=HYPERLINK")]
            if url == "/warehouses.xlsx":
                assert cells, "the name is exported"
            assert all(c.data_type == "s" for c in cells), url
