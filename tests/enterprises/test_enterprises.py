"""Registering enterprises and editing the profile: field-level errors in the API and the pages."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.factories import csrf_from, login, new_uscc, page_login
from tradeloop.audit.models import AuditLog
from tradeloop.enterprises.models import Enterprise


class TestCreateEnterpriseApi:
    def test_platform_admin_registers_with_defaults(self, client, world):
        login(client, world.platform_admin)
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        uscc = new_uscc()
        r = client.post("/api/v1/admin/enterprises", headers={"X-CSRF-Token": csrf},
                        json={"uscc": uscc.lower(), "name_zh": "苏州新丝绸有限公司", "kind": "manufacturer",
                              "customs_code": "3205960abc", "industry_belts": ["吴江丝绸", "吴江丝绸", " "]})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["uscc"] == uscc and body["customs_code"] == "3205960ABC"
        assert body["rebate_method"] == "exempt_credit_refund"  # manufacturers: 免抵退
        assert body["industry_belts"] == ["吴江丝绸"]

    def test_bad_input_names_each_field_in_both_languages(self, client, world, db):
        login(client, world.platform_admin)
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        with db.transaction(write=False) as s:
            before = s.scalar(select(func.count()).select_from(Enterprise))
            audits = s.scalar(select(func.count()).select_from(AuditLog))
        r = client.post("/api/v1/admin/enterprises", headers={"X-CSRF-Token": csrf},
                        json={"uscc": "914403001922038217", "name_zh": " ", "kind": "trader",
                              "customs_code": "12345", "rebate_method": "exempt_credit_refund"})
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:tradeloop:problem:validation" and r.json()["status"] == 422
        errors = {e["field"]: e for e in r.json()["errors"]}
        assert set(errors) == {"uscc", "name_zh", "customs_code", "rebate_method"}
        assert "check character" in errors["uscc"]["message"] and "校验码" in errors["uscc"]["message_zh"]
        assert "外贸企业适用免退税" in errors["rebate_method"]["message_zh"]
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(Enterprise)) == before
            assert s.scalar(select(func.count()).select_from(AuditLog)) == audits

    def test_duplicate_uscc_and_customs_code(self, client, world):
        login(client, world.platform_admin)
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        r = client.post("/api/v1/admin/enterprises", headers={"X-CSRF-Token": csrf},
                        json={"uscc": world.a.enterprise.uscc, "name_zh": "重复", "kind": "trader"})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "uscc"

    def test_unknown_kind_is_a_field_error(self, client, world):
        login(client, world.platform_admin)
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        r = client.post("/api/v1/admin/enterprises", headers={"X-CSRF-Token": csrf},
                        json={"uscc": new_uscc(), "name_zh": "X", "kind": "bank"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"


class TestFirstAdmin:
    def test_platform_admin_gives_a_new_enterprise_its_admin(self, client, world):
        from fastapi.testclient import TestClient

        login(client, world.platform_admin)
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        ent = client.post("/api/v1/admin/enterprises", headers={"X-CSRF-Token": csrf},
                          json={"uscc": new_uscc(), "name_zh": "新外贸企业", "kind": "trader"}).json()
        r = client.post(f"/api/v1/admin/enterprises/{ent['id']}/admins", headers={"X-CSRF-Token": csrf},
                        json={"username": "boss", "display_name": "老板", "password": "a-long-password"})
        assert r.status_code == 201 and r.json()["role"] == "admin"
        boss = TestClient(client.app)
        login(boss, "boss", "a-long-password")
        assert boss.get("/api/v1/enterprise").json()["id"] == ent["id"]
        # the change is in the new tenant's audit log
        assert any(a["action"] == "member.add" for a in boss.get("/api/v1/audit").json()["items"])

    def test_unknown_enterprise_is_404(self, client, world):
        import uuid

        login(client, world.platform_admin)
        csrf = client.get("/api/v1/me").json()["csrf_token"]
        r = client.post(f"/api/v1/admin/enterprises/{uuid.uuid4()}/admins", headers={"X-CSRF-Token": csrf},
                        json={"username": "x1", "display_name": "x", "password": "a-long-password"})
        assert r.status_code == 404

    def test_register_page_with_first_admin_applies_nothing_when_the_admin_is_invalid(self, client, world, db):
        page_login(client, world.platform_admin)
        page = client.get("/admin/enterprises")
        with db.transaction(write=False) as s:
            before = s.scalar(select(func.count()).select_from(Enterprise))
        uscc = new_uscc()
        r = client.post("/admin/enterprises", data={"csrf_token": csrf_from(page.text), "uscc": uscc,
                                                    "name_zh": "带管理员企业", "kind": "trader",
                                                    "admin_username": "new.boss", "admin_password": "short"})
        assert r.status_code == 422 and 'data-error-for="admin_password"' in r.text
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(Enterprise)) == before
        r = client.post("/admin/enterprises", data={"csrf_token": csrf_from(page.text), "uscc": uscc,
                                                    "name_zh": "带管理员企业", "kind": "trader",
                                                    "admin_username": "new.boss", "admin_password": "long-enough-1"},
                        follow_redirects=False)
        assert r.status_code == 303
        from fastapi.testclient import TestClient

        boss = TestClient(client.app)
        login(boss, "new.boss", "long-enough-1")
        assert boss.get("/api/v1/enterprise").json()["uscc"] == uscc


class TestUpdateProfile:
    def test_admin_updates_and_audit_has_before_after(self, client, world, db):
        csrf = login(client, world.a.users["admin"])
        r = client.patch("/api/v1/enterprise", headers={"X-CSRF-Token": csrf},
                         json={"name_en": "Jia Silk Co.", "pilot_zone": "中国（苏州）跨境电子商务综合试验区"})
        assert r.status_code == 200, r.text
        assert r.json()["name_zh"] == "甲企业"  # untouched
        audit = client.get("/api/v1/audit", params={"action": "enterprise.update"}).json()["items"][0]
        assert audit["before"]["name_en"] is None and audit["after"]["name_en"] == "Jia Silk Co."
        assert audit["actor_label"] == world.a.users["admin"]
        assert audit["request_id"]

    def test_name_cannot_be_emptied(self, client, world):
        csrf = login(client, world.a.users["admin"])
        for value in (None, " "):
            r = client.patch("/api/v1/enterprise", headers={"X-CSRF-Token": csrf}, json={"name_zh": value})
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name_zh"

    def test_uscc_and_kind_cannot_change(self, client, world):
        csrf = login(client, world.a.users["admin"])
        r = client.patch("/api/v1/enterprise", headers={"X-CSRF-Token": csrf},
                         json={"uscc": new_uscc(), "kind": "trader"})
        assert r.status_code == 200
        assert r.json()["uscc"] == world.a.enterprise.uscc and r.json()["kind"] == "manufacturer"


class TestPages:
    def test_profile_form_shows_field_errors(self, client, world):
        page_login(client, world.a.users["admin"])
        page = client.get("/enterprise?edit=1")
        r = client.post("/enterprise", data={"csrf_token": csrf_from(page.text), "name_zh": "甲企业",
                                             "customs_code": "BAD", "rebate_method": "exempt_refund"})
        assert r.status_code == 422
        assert 'data-error-for="customs_code"' in r.text and "海关编码应为10位" in r.text
        assert 'data-error-for="rebate_method"' in r.text

    def test_admin_register_page_rejects_bad_uscc_in_english(self, client, world):
        page_login(client, world.platform_admin)
        client.cookies.set("lang", "en")
        page = client.get("/admin/enterprises")
        r = client.post("/admin/enterprises", data={"csrf_token": csrf_from(page.text), "uscc": "91350100M000100Y44",
                                                    "name_zh": "X", "kind": "trader"})
        assert r.status_code == 422
        assert 'data-error-for="uscc"' in r.text and "check character is wrong" in r.text

    def test_profile_form_with_an_unknown_rebate_method_is_a_field_error(self, client, world):
        page_login(client, world.a.users["admin"])
        page = client.get("/enterprise?edit=1")
        r = client.post("/enterprise", data={"csrf_token": csrf_from(page.text), "name_zh": "甲企业",
                                             "rebate_method": "cash_back"})
        assert r.status_code == 422 and 'data-error-for="rebate_method"' in r.text and "请从选项中选择" in r.text

    def test_viewer_cannot_edit_profile(self, client, world):
        page_login(client, world.a.users["viewer"])
        page = client.get("/enterprise")
        assert "?edit=1" not in page.text
        r = client.post("/enterprise", data={"csrf_token": csrf_from(page.text), "name_zh": "改名"},
                        headers={"Accept": "text/html"})
        assert r.status_code == 403
