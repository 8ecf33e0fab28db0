"""The warehouse JSON API as a client sees it: status codes, problem+json field errors, access between tenants."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import bearer, make_enterprise, make_warehouse, new_uscc
from tradeloop.audit.models import AuditLog
from tradeloop.identity import service as identity
from tradeloop.identity.models import ApiScope
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse import service as warehouses
from tradeloop.warehouse.models import Warehouse, WarehouseEvidence
from tradeloop.warehouse.schemas import ClientCreate

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
BODY = {"code": "DE-HAM-1", "name_zh": "汉堡仓", "name_en": "Hamburg warehouse", "country": "DE",
        "address": "Hafenstraße 1, 20457 Hamburg", "unlocode": "DEHAM", "area_m2": "2500.5", "tenure": "leased",
        "lease_start": "2024-01-01", "lease_end": "2027-12-31", "operator_name": "Hamburg Fulfilment GmbH"}
WH = "/api/v1/warehouses"


@dataclass
class Tenant:
    enterprise: object
    warehouse: object
    keys: dict = field(default_factory=dict)  # scope -> API key


@dataclass
class Tenants:
    a: Tenant  # manufacturer
    b: Tenant  # trader
    operator: Tenant  # warehouse operator; a stores goods in its warehouse


@pytest.fixture
def tenants(db) -> Tenants:
    """Like the shared ``world`` (same names, same client link) but with API keys only and no users, which
    makes it several times cheaper; these tests call the API with keys."""
    out = {}
    with db.transaction() as s:
        for key, kind, name in (("a", "manufacturer", "甲企业"), ("b", "trader", "乙企业"),
                                ("operator", "warehouse", "丙海外仓")):
            ent = make_enterprise(s, kind=kind, name=name)
            tenant = Tenant(ent, make_warehouse(s, ent, code=f"{key.upper()}-WH-1"))
            for scope in ApiScope:
                _row, tenant.keys[scope.value] = identity.create_api_key(
                    s, principal=replace(system_principal(), enterprise_id=ent.id), name=f"{key}-{scope.value}",
                    scope=scope)
            out[key] = tenant
        warehouses.add_client(s, principal=replace(system_principal(), enterprise_id=out["operator"].enterprise.id),
                              warehouse_id=out["operator"].warehouse.id,
                              data=ClientCreate(client_uscc=out["a"].enterprise.uscc, since=date(2025, 1, 1)))
    return Tenants(**out)


def problem(r, status=422) -> dict[str, dict]:
    """The field errors of a problem+json response, by field; each has an English and a Chinese message."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = {}
    for e in r.json().get("errors", []):
        assert e["message"] and e["message_zh"], e
        errors[e["field"]] = e
    return errors


def post_warehouse(client, key, **over):
    return client.post(WH, json={**BODY, **over}, headers=bearer(key))


def rows(db, model, **where) -> int:
    with db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return s.scalar(stmt)


def warehouse_audits(client, key, entity_id) -> list[dict]:
    return client.get("/api/v1/audit", params={"entity_id": entity_id}, headers=bearer(key)).json()["items"]


def upload(client, key, warehouse_id, data, *, filename="lease.pdf", declared="application/pdf", **form):
    return client.post(f"{WH}/{warehouse_id}/evidence", headers=bearer(key),
                       files={"file": (filename, data, declared)}, data={"kind": "lease", **form})


class TestCreateWarehouse:
    def test_created_readable_and_listed(self, client, tenants):
        key = tenants.a.keys["write"]
        r = post_warehouse(client, key)
        assert r.status_code == 201, r.text
        body = r.json()
        assert r.headers["location"] == f"{WH}/{body['id']}"
        assert body["access"] == "owner" and body["enterprise_id"] == str(tenants.a.enterprise.id)
        assert Decimal(body["area_m2"]) == Decimal("2500.5")
        assert (body["lease_start"], body["lease_end"]) == ("2024-01-01", "2027-12-31")
        got = client.get(r.headers["location"], headers=bearer(tenants.a.keys["read"]))
        assert got.status_code == 200 and got.json() == body
        listed = client.get(WH, params={"country": "de", "tenure": "leased", "q": "hamburg"},
                            headers=bearer(key)).json()["items"]
        assert [w["id"] for w in listed] == [body["id"]]

    def test_operator_by_uscc_copies_its_name(self, client, tenants):
        r = post_warehouse(client, tenants.a.keys["write"], operator_uscc=tenants.operator.enterprise.uscc,
                           operator_name=None)
        assert r.status_code == 201, r.text
        assert r.json()["operator_enterprise_id"] == str(tenants.operator.enterprise.id)
        assert r.json()["operator_name"] == "丙海外仓"

    def test_operator_uscc_must_be_a_warehouse_enterprise(self, client, tenants):
        for code in (tenants.b.enterprise.uscc, new_uscc()):
            errors = problem(post_warehouse(client, tenants.a.keys["write"], operator_uscc=code))
            assert list(errors) == ["operator_uscc"]
            assert "warehouse-operator" in errors["operator_uscc"]["message"]

    def test_a_warehouse_enterprise_operates_its_own_by_default(self, client, tenants):
        body = {k: v for k, v in BODY.items() if k != "operator_name"}
        r = client.post(WH, json=body, headers=bearer(tenants.operator.keys["write"]))
        assert r.status_code == 201, r.text
        assert r.json()["operator_enterprise_id"] == str(tenants.operator.enterprise.id)
        assert r.json()["operator_name"] == "丙海外仓"

    def test_failed_create_leaves_no_row_and_no_audit(self, client, tenants, db):
        eid = tenants.a.enterprise.id
        before = (rows(db, Warehouse, enterprise_id=eid), rows(db, AuditLog, enterprise_id=eid))
        for over in ({"country": "CN"}, {"lease_start": None}, {"code": tenants.a.warehouse.code.lower()},
                     {"area_m2": "-1"}):
            problem(post_warehouse(client, tenants.a.keys["write"], **over))
        assert (rows(db, Warehouse, enterprise_id=eid), rows(db, AuditLog, enterprise_id=eid)) == before

    def test_read_only_key_may_not_create(self, client, tenants, db):
        r = post_warehouse(client, tenants.a.keys["read"])
        assert r.status_code == 403
        assert rows(db, Warehouse, code=BODY["code"]) == 0


class TestWarehouseFieldErrors:
    def test_missing_required_fields_are_named(self, client, tenants):
        errors = problem(client.post(WH, json={"name_en": "x"}, headers=bearer(tenants.a.keys["write"])))
        assert {"code", "name_zh", "country", "address", "tenure"} <= set(errors)

    RULES = [
        ({"country": "CN", "unlocode": None}, "country", "outside China", "境外"),
        ({"country": "XX", "unlocode": None}, "country", "ISO 3166", "ISO 3166"),
        ({"country": "DEU", "unlocode": None}, "country", "ISO 3166", "ISO 3166"),
        ({"unlocode": "USLAX"}, "unlocode", "not in the warehouse country DE", "不一致"),
        ({"unlocode": "DE-HAM"}, "unlocode", "is not a UN/LOCODE", "UN/LOCODE"),
        ({"unlocode": "DEHA1"}, "unlocode", "is not a UN/LOCODE", "UN/LOCODE"),
        ({"lease_start": None}, "lease_start", "lease start date", "租期起始日"),
        ({"lease_end": None}, "lease_end", "lease end date", "租期截止日"),
        ({"lease_end": "2023-12-31"}, "lease_end", "after the lease start", "晚于起始日"),
        ({"tenure": "owned"}, "lease_start", "no lease period", "自有仓库"),
        ({"area_m2": "-10"}, "area_m2", "positive", "正数"),
        ({"code": "HAS SPACE"}, "code", "letters, digits", "仓库编码"),
        ({"name_zh": "  "}, "name_zh", "is required", "仓库名称为必填项"),
    ]

    def test_each_rule_names_its_field_in_both_languages(self, client, tenants, db):
        # One request per rule, in one test: a fixture per rule would cost more than the requests.
        for over, field_name, en, zh in self.RULES:
            errors = problem(post_warehouse(client, tenants.a.keys["write"], **over))
            assert list(errors) == [field_name], (over, errors)
            assert en in errors[field_name]["message"], (over, errors)
            assert zh in errors[field_name]["message_zh"], (over, errors)
        assert rows(db, Warehouse, code=BODY["code"]) == 0

    def test_malformed_values_are_named(self, client, tenants):
        errors = problem(post_warehouse(client, tenants.a.keys["write"], area_m2="lots", lease_start="2024-13-01",
                                        tenure="rented"))
        assert {"area_m2", "lease_start", "tenure"} <= set(errors)

    def test_code_is_unique_per_enterprise_ignoring_case(self, client, tenants):
        assert post_warehouse(client, tenants.a.keys["write"], code="de-ham-1").status_code == 201
        errors = problem(post_warehouse(client, tenants.a.keys["write"], code="DE-HAM-1"))
        assert list(errors) == ["code"]
        assert errors["code"]["message_zh"] == "仓库编码已被本企业其他仓库使用"
        assert post_warehouse(client, tenants.b.keys["write"], code="DE-HAM-1").status_code == 201


class TestUpdateWarehouse:
    def test_patch_keeps_unspecified_fields_and_audits_once(self, client, tenants):
        key = tenants.a.keys["write"]
        created = post_warehouse(client, key).json()
        r = client.patch(f"{WH}/{created['id']}", json={"contact": "ops@example.com"}, headers=bearer(key))
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["contact"] == "ops@example.com"
        skip = {"contact", "updated_at"}
        assert {k: v for k, v in changed.items() if k not in skip} == {
            k: v for k, v in created.items() if k not in skip}
        audit = warehouse_audits(client, key, created["id"])
        assert [a["action"] for a in audit] == ["warehouse.update", "warehouse.create"]
        assert audit[0]["before"]["contact"] is None and audit[0]["after"]["contact"] == "ops@example.com"
        assert audit[0]["before"]["code"] == audit[0]["after"]["code"] == "DE-HAM-1"

    def test_invalid_patch_changes_nothing(self, client, tenants):
        key = tenants.a.keys["write"]
        created = post_warehouse(client, key).json()
        errors = problem(client.patch(f"{WH}/{created['id']}", json={"name_zh": "改名", "lease_end": "2023-01-01"},
                                      headers=bearer(key)))
        assert list(errors) == ["lease_end"]
        assert client.get(f"{WH}/{created['id']}", headers=bearer(key)).json() == created
        assert [a["action"] for a in warehouse_audits(client, key, created["id"])] == ["warehouse.create"]

    def test_patch_to_a_siblings_code_is_rejected(self, client, tenants):
        key = tenants.a.keys["write"]
        created = post_warehouse(client, key).json()
        errors = problem(client.patch(f"{WH}/{created['id']}", json={"code": tenants.a.warehouse.code.lower()},
                                      headers=bearer(key)))
        assert list(errors) == ["code"]

    def test_another_tenant_cannot_patch(self, client, tenants):
        r = client.patch(f"{WH}/{tenants.a.warehouse.id}", json={"contact": "x"},
                         headers=bearer(tenants.b.keys["write"]))
        assert r.status_code == 404


class TestClients:
    def test_a_client_reads_the_warehouse_until_removed(self, client, tenants):
        owner, b = tenants.a.keys["write"], tenants.b.keys["read"]
        wid = str(tenants.a.warehouse.id)
        assert client.get(f"{WH}/{wid}", headers=bearer(b)).status_code == 404
        r = client.post(f"{WH}/{wid}/clients", json={"client_uscc": tenants.b.enterprise.uscc.lower(),
                                                     "since": "2025-02-01"}, headers=bearer(owner))
        assert r.status_code == 201, r.text
        link = r.json()
        assert link["client_enterprise_id"] == str(tenants.b.enterprise.id) and link["client_name"] == "乙企业"
        assert link["since"] == "2025-02-01"
        listed = client.get(f"{WH}/{wid}/clients", headers=bearer(owner)).json()["items"]
        assert [c["id"] for c in listed] == [link["id"]]

        seen = client.get(f"{WH}/{wid}", headers=bearer(b))
        assert seen.status_code == 200 and seen.json()["access"] == "client"
        mine = {w["id"]: w["access"] for w in client.get(WH, headers=bearer(b)).json()["items"]}
        assert mine[wid] == "client" and mine[str(tenants.b.warehouse.id)] == "owner"
        # Master data only: the client sees neither the evidence nor the filings nor the client list.
        for sub in ("evidence", "filings", "clients"):
            assert client.get(f"{WH}/{wid}/{sub}", headers=bearer(b)).status_code == 404

        assert client.delete(f"{WH}/{wid}/clients/{link['id']}", headers=bearer(owner)).status_code == 204
        assert client.get(f"{WH}/{wid}", headers=bearer(b)).status_code == 404
        assert wid not in {w["id"] for w in client.get(WH, headers=bearer(b)).json()["items"]}
        actions = [a["action"] for a in client.get("/api/v1/audit", headers=bearer(owner)).json()["items"]
                   if a["entity_type"] == "warehouse_client"]
        assert actions == ["warehouse.client_remove", "warehouse.client_add"]

    def test_unknown_uscc_own_enterprise_and_duplicates_are_refused(self, client, tenants):
        owner = tenants.a.keys["write"]
        url = f"{WH}/{tenants.a.warehouse.id}/clients"
        errors = problem(client.post(url, json={"client_uscc": new_uscc()}, headers=bearer(owner)))
        assert errors["client_uscc"]["message_zh"] == "平台上没有该统一社会信用代码的企业"
        errors = problem(client.post(url, json={"client_uscc": tenants.a.enterprise.uscc}, headers=bearer(owner)))
        assert errors["client_uscc"]["message_zh"] == "不能将本企业添加为客户"
        r = client.post(url, json={"client_uscc": tenants.b.enterprise.uscc}, headers=bearer(owner))
        assert r.status_code == 201
        r = client.post(url, json={"client_uscc": tenants.b.enterprise.uscc}, headers=bearer(owner))
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        assert len(client.get(url, headers=bearer(owner)).json()["items"]) == 1

    def test_removing_an_unknown_link_is_not_found(self, client, tenants):
        r = client.delete(f"{WH}/{tenants.a.warehouse.id}/clients/00000000-0000-7000-8000-000000000000",
                          headers=bearer(tenants.a.keys["write"]))
        assert r.status_code == 404


class TestUploadEvidence:
    def test_type_is_detected_from_the_bytes(self, client, tenants):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        for data, filename, declared, expected in (
                (PDF, "lease.pdf", "application/pdf", "application/pdf"),
                (PNG, "lease.pdf", "application/pdf", "image/png"),
                (JPEG, "deed.bin", "application/octet-stream", "image/jpeg")):
            r = upload(client, key, wid, data, filename=filename, declared=declared)
            assert r.status_code == 201, r.text
            body = r.json()
            assert (body["content_type"], body["filename"], body["size_bytes"]) == (expected, filename, len(data))
            assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert len(client.get(f"{WH}/{wid}/evidence", headers=bearer(key)).json()["items"]) == 3

    def test_text_named_pdf_and_empty_files_are_rejected(self, client, tenants, db):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        errors = problem(upload(client, key, wid, b"Dear landlord, ...", filename="x.pdf"))
        assert list(errors) == ["file"] and "PDF" in errors["file"]["message"]
        errors = problem(upload(client, key, wid, b"", filename="empty.pdf"))
        assert errors["file"]["message_zh"] == "文件为空"
        assert rows(db, WarehouseEvidence, warehouse_id=wid) == 0

    def test_a_file_over_the_limit_is_rejected(self, client, app, tenants, db, monkeypatch):
        monkeypatch.setattr(app.state.settings, "max_upload_bytes", 1024)
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        errors = problem(upload(client, key, wid, PDF + b"0" * 1024))
        assert list(errors) == ["file"] and "larger than the limit" in errors["file"]["message"]
        assert rows(db, WarehouseEvidence, warehouse_id=wid) == 0
        exact = PDF + b"0" * (1024 - len(PDF))
        assert upload(client, key, wid, exact).status_code == 201

    def test_the_same_file_twice_is_one_record_stored_once(self, client, app, tenants, db):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        first = upload(client, key, wid, PDF, filename="lease-2025.pdf")
        again = upload(client, key, wid, PDF, filename="copy.pdf")
        assert first.status_code == 201 and again.status_code in (200, 201)
        assert again.json() == first.json()
        assert rows(db, WarehouseEvidence, warehouse_id=wid) == 1
        sha = first.json()["sha256"]
        files_dir = app.state.settings.files_dir
        assert [p.relative_to(files_dir).as_posix() for p in files_dir.rglob("*") if p.is_file()] == [
            f"{sha[:2]}/{sha}"]
        assert (files_dir / sha[:2] / sha).read_bytes() == PDF

    def test_valid_to_before_valid_from_is_rejected(self, client, tenants):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        errors = problem(upload(client, key, wid, PDF, valid_from="2025-01-01", valid_to="2024-12-31"))
        assert list(errors) == ["valid_to"]
        r = upload(client, key, wid, PDF, valid_from="2025-01-01", valid_to="2027-12-31")
        assert r.status_code == 201 and (r.json()["valid_from"], r.json()["valid_to"]) == ("2025-01-01", "2027-12-31")

    def test_unknown_kind_is_rejected(self, client, tenants):
        r = client.post(f"{WH}/{tenants.a.warehouse.id}/evidence", headers=bearer(tenants.a.keys["write"]),
                        files={"file": ("a.pdf", PDF, "application/pdf")}, data={"kind": "passport"})
        assert "kind" in problem(r)


class TestDownloadEvidence:
    def test_owner_gets_the_exact_bytes_and_type(self, client, tenants):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        for data, name in ((PNG, "floorplan.pdf"), (PDF, "租赁合同.pdf")):
            ev = upload(client, key, wid, data, filename=name).json()
            r = client.get(f"{WH}/{wid}/evidence/{ev['id']}/content", headers=bearer(tenants.a.keys["read"]))
            assert r.status_code == 200
            assert r.content == data
            assert r.headers["content-type"] == ev["content_type"]
            assert "attachment" in r.headers["content-disposition"]

    def test_other_tenants_and_clients_get_404(self, client, tenants):
        # Exporter a is a client of the operator's warehouse: it may read the warehouse, not its files.
        op_key, wid = tenants.operator.keys["write"], tenants.operator.warehouse.id
        ev = upload(client, op_key, wid, PDF).json()
        url = f"{WH}/{wid}/evidence/{ev['id']}/content"
        assert client.get(f"{WH}/{wid}", headers=bearer(tenants.a.keys["read"])).status_code == 200
        for intruder in (tenants.a.keys["read"], tenants.b.keys["read"], tenants.b.keys["write"]):
            r = client.get(url, headers=bearer(intruder))
            assert r.status_code == 404 and PDF not in r.content
        # An existing file id under the wrong warehouse is not found either.
        assert client.get(f"{WH}/{tenants.a.warehouse.id}/evidence/{ev['id']}/content",
                          headers=bearer(tenants.a.keys["read"])).status_code == 404


class TestFilings:
    def _record(self, client, key, wid, **over):
        body = {"customs_office": "2248", "filing_no": "HWC2022001", "modes": "9810", "filed_on": "2022-05-01",
                **over}
        return client.post(f"{WH}/{wid}/filings", json=body, headers=bearer(key))

    def _event(self, client, key, wid, fid, status, on):
        return client.post(f"{WH}/{wid}/filings/{fid}/events", json={"status": status, "effective_on": on},
                           headers=bearer(key))

    def test_historic_filing_is_recorded_and_shown_as_lapsed(self, client, tenants):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        r = self._record(client, key, wid)
        assert r.status_code == 201, r.text
        f = r.json()
        assert f["status"] == "filed" and f["effective_status"] == "lapsed"
        assert [(e["status"], e["effective_on"]) for e in f["events"]] == [("filed", "2022-05-01")]
        listed = client.get(f"{WH}/{wid}/filings", headers=bearer(key)).json()["items"]
        assert [x["id"] for x in listed] == [f["id"]]

    def test_no_filing_after_announcement_167(self, client, tenants):
        errors = problem(self._record(client, tenants.a.keys["write"], tenants.a.warehouse.id, filed_on="2024-12-15"))
        assert list(errors) == ["filed_on"]
        assert "2024 No. 167" in errors["filed_on"]["message"]
        assert "第167号" in errors["filed_on"]["message_zh"]

    def test_no_filing_before_july_2020(self, client, tenants):
        errors = problem(self._record(client, tenants.a.keys["write"], tenants.a.warehouse.id, filed_on="2020-06-30"))
        assert list(errors) == ["filed_on"]

    def test_bad_office_and_modes(self, client, tenants):
        errors = problem(self._record(client, tenants.a.keys["write"], tenants.a.warehouse.id, customs_office="22A",
                                      modes="9610"))
        assert {"customs_office", "modes"} == set(errors)
        assert errors["customs_office"]["message_zh"] == "关区代码应为4位数字"

    def test_events_follow_the_transitions(self, client, tenants):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        fid = self._record(client, key, wid).json()["id"]
        assert "effective_on" in problem(self._event(client, key, wid, fid, "changed", "2022-04-30"))
        assert "effective_on" in problem(self._event(client, key, wid, fid, "changed", "2025-01-01"))
        assert "effective_on" in problem(self._event(client, key, wid, fid, "lapsed", "2024-12-31"))
        r = self._event(client, key, wid, fid, "changed", "2023-01-01")
        assert r.status_code == 201, r.text
        assert [e["status"] for e in r.json()["events"]] == ["filed", "changed"]
        r = self._event(client, key, wid, fid, "cancelled", "2023-09-01")
        assert r.status_code == 201 and r.json()["status"] == r.json()["effective_status"] == "cancelled"
        for status, on in (("changed", "2023-10-01"), ("lapsed", "2024-12-15"), ("filed", "2023-10-01")):
            assert "status" in problem(self._event(client, key, wid, fid, status, on))
        listed = client.get(f"{WH}/{wid}/filings", headers=bearer(key)).json()["items"][0]
        assert [e["status"] for e in listed["events"]] == ["filed", "changed", "cancelled"]

    def test_an_open_filing_lapses_on_2024_12_15(self, client, tenants):
        key, wid = tenants.a.keys["write"], tenants.a.warehouse.id
        fid = self._record(client, key, wid).json()["id"]
        r = self._event(client, key, wid, fid, "lapsed", "2024-12-15")
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "lapsed"
        assert "status" in problem(self._event(client, key, wid, fid, "changed", "2024-01-01"))
