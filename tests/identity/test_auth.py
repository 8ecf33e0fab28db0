"""Logging in, sessions, CSRF, throttling, API keys, memberships."""

from __future__ import annotations

from tests.factories import PASSWORD, bearer, csrf_from, login, page_login


class TestLogin:
    def test_api_login_sets_a_hardened_session_cookie(self, client, world):
        r = client.post("/api/v1/auth/login", json={"username": world.a.users["admin"], "password": PASSWORD})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        me = client.get("/api/v1/me").json()
        assert me["role"] == "admin" and me["enterprise_id"] == str(world.a.enterprise.id)

    def test_wrong_password_and_unknown_user_look_the_same(self, client, world):
        r1 = client.post("/api/v1/auth/login", json={"username": world.a.users["admin"], "password": "nope"})
        r2 = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope"})
        assert r1.status_code == r2.status_code == 401
        assert r1.json()["detail"] == r2.json()["detail"]

    def test_throttled_after_repeated_failures_even_with_the_right_password(self, client, world, settings):
        user = world.a.users["viewer"]
        for _ in range(settings.login_max_failures):
            assert client.post("/api/v1/auth/login", json={"username": user, "password": "bad"}).status_code == 401
        r = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
        assert r.status_code == 429 and "retry-after" in r.headers
        # another user from the same address is throttled too (per-address counter)
        r = client.post("/api/v1/auth/login", json={"username": world.b.users["viewer"], "password": PASSWORD})
        assert r.status_code == 429

    def test_parallel_guesses_cannot_pass_the_limit(self, db, world, settings, monkeypatch):
        import threading
        import time

        from tradeloop.identity import service as identity
        from tradeloop.kit import security
        from tradeloop.kit.errors import TooManyRequests, Unauthorized

        real_verify = security.verify_password

        def slow_verify(password_hash, password):  # as slow as a real argon2id check: a wide race window
            time.sleep(0.05)
            return real_verify(password_hash, password)

        monkeypatch.setattr(security, "verify_password", slow_verify)
        outcomes, start = [], threading.Barrier(12)

        def guess(i):
            start.wait()
            try:
                with db.transaction() as s:
                    try:
                        identity.authenticate(s, username=world.b.users["viewer"], password=f"guess-{i}",
                                              client=f"10.0.0.{i}", max_failures=settings.login_max_failures,
                                              window_seconds=600)
                    except Unauthorized:
                        outcomes.append(401)  # the failure row commits with the transaction
            except TooManyRequests:
                outcomes.append(429)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count(401) == settings.login_max_failures, outcomes  # the rest refused unchecked
        assert outcomes.count(429) == 12 - settings.login_max_failures

    def test_page_login_needs_the_forms_csrf_token(self, client, world):
        client.get("/login")
        r = client.post("/login", data={"username": world.a.users["admin"], "password": PASSWORD},
                        headers={"Accept": "text/html"})
        assert r.status_code == 403
        r = page_login(client, world.a.users["admin"])
        assert r.status_code == 303 and r.headers["location"] == "/"

    def test_page_login_error_is_shown_in_chinese(self, client, world):
        r = page_login(client, world.a.users["admin"], "wrong-password")
        assert r.status_code == 401 and "用户名或密码错误" in r.text

    def test_login_never_redirects_off_site(self, client, world):
        page = client.get("/login?next=https://evil.example/")
        assert 'value="/"' in page.text
        r = client.post("/login", data={"username": world.a.users["admin"], "password": PASSWORD,
                                        "next": "//evil.example", "csrf_token": csrf_from(page.text)},
                        follow_redirects=False)
        assert r.headers["location"] == "/"

    def test_pages_redirect_to_login_and_back(self, client, world):
        r = client.get("/warehouses?country=US", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/warehouses%3Fcountry%3DUS"

    def test_logout_ends_the_session(self, client, world):
        csrf = login(client, world.a.users["admin"])
        assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert client.get("/api/v1/me").status_code == 401


class TestCsrf:
    def test_cookie_session_needs_csrf_header_for_unsafe_api_calls(self, client, world):
        csrf = login(client, world.a.users["admin"])
        assert client.patch("/api/v1/enterprise", json={"city": "X"}).status_code == 403
        forged = client.patch("/api/v1/enterprise", json={"city": "X"}, headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403
        ok = client.patch("/api/v1/enterprise", json={"city": "X"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200

    def test_api_keys_need_no_csrf(self, client, world):
        r = client.patch(f"/api/v1/warehouses/{world.a.warehouse.id}", json={"contact": "x"},
                         headers=bearer(world.a.keys["write"]))
        assert r.status_code == 200


class TestApiKeys:
    def test_created_key_works_and_revocation_is_immediate(self, client, world):
        csrf = login(client, world.a.users["admin"])
        created = client.post("/api/v1/api-keys", json={"name": "erp", "scope": "write"},
                              headers={"X-CSRF-Token": csrf}).json()
        key = created["key"]
        assert key.startswith("tl_") and created["prefix"] == key[:10]
        listed = client.get("/api/v1/api-keys").json()["items"]
        assert "key" not in listed[0] and all(key not in str(k) for k in listed)
        from fastapi.testclient import TestClient

        machine = TestClient(client.app)
        assert machine.get("/api/v1/warehouses", headers=bearer(key)).status_code == 200
        client.post(f"/api/v1/api-keys/{created['id']}/revoke", headers={"X-CSRF-Token": csrf})
        r = machine.get("/api/v1/warehouses", headers=bearer(key))
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"

    def test_unknown_key_and_wrong_scheme(self, client):
        assert client.get("/api/v1/me", headers=bearer("tl_nope")).status_code == 401
        assert client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401

    def test_read_key_cannot_write(self, client, world):
        r = client.post("/api/v1/warehouses", headers=bearer(world.a.keys["read"]),
                        json={"code": "K", "name_zh": "K", "country": "US", "address": "x", "tenure": "owned",
                              "operator_name": "x"})
        assert r.status_code == 403


class TestMembers:
    def test_admin_adds_a_user_who_can_log_in(self, client, world):
        csrf = login(client, world.a.users["admin"])
        r = client.post("/api/v1/members", headers={"X-CSRF-Token": csrf},
                        json={"username": "li.lei", "display_name": "李雷", "password": "a-long-password",
                              "role": "operator"})
        assert r.status_code == 201
        from fastapi.testclient import TestClient

        other = TestClient(client.app)
        r = other.post("/api/v1/auth/login", json={"username": "LI.LEI", "password": "a-long-password"})
        assert r.status_code == 200  # user names are matched without case
        assert other.get("/api/v1/me").json()["role"] == "operator"

    def test_new_user_field_errors(self, client, world):
        csrf = login(client, world.a.users["admin"])
        r = client.post("/api/v1/members", headers={"X-CSRF-Token": csrf},
                        json={"username": world.b.users["admin"], "display_name": "x", "password": "short",
                              "role": "viewer"})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"username", "password"}

    def test_the_last_admin_stays(self, client, world):
        csrf = login(client, world.a.users["admin"])
        members = client.get("/api/v1/members").json()["items"]
        admin = next(m for m in members if m["role"] == "admin")
        r = client.patch(f"/api/v1/members/{admin['id']}", json={"role": "viewer"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 409
        assert client.delete(f"/api/v1/members/{admin['id']}", headers={"X-CSRF-Token": csrf}).status_code == 409

    def test_removed_member_loses_access_at_once(self, client, world):
        from fastapi.testclient import TestClient

        viewer = TestClient(client.app)
        login(viewer, world.a.users["viewer"])
        assert viewer.get("/api/v1/warehouses").status_code == 200
        csrf = login(client, world.a.users["admin"])
        member = next(m for m in client.get("/api/v1/members").json()["items"]
                      if m["username"] == world.a.users["viewer"])
        assert client.delete(f"/api/v1/members/{member['id']}", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert viewer.get("/api/v1/warehouses").status_code == 403  # logged in, but no tenant any more


class TestChangePassword:
    def test_change_then_log_in_with_the_new_one(self, client, world):
        from fastapi.testclient import TestClient

        csrf = login(client, world.a.users["viewer"])
        r = client.post("/api/v1/me/password", headers={"X-CSRF-Token": csrf},
                        json={"current_password": PASSWORD, "new_password": "a-new-passphrase"})
        assert r.status_code == 204
        other = TestClient(client.app)
        assert other.post("/api/v1/auth/login", json={"username": world.a.users["viewer"],
                                                      "password": PASSWORD}).status_code == 401
        login(other, world.a.users["viewer"], "a-new-passphrase")
        audit = client.get("/api/v1/audit", params={"action": "user.password_change"}).json()["items"]
        assert len(audit) == 1 and "a-new-passphrase" not in str(audit)

    def test_wrong_current_and_short_new_are_field_errors(self, client, world):
        csrf = login(client, world.a.users["viewer"])
        r = client.post("/api/v1/me/password", headers={"X-CSRF-Token": csrf},
                        json={"current_password": "wrong", "new_password": "short"})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"current_password", "new_password"}

    def test_api_keys_have_no_password(self, client, world):
        r = client.post("/api/v1/me/password", headers=bearer(world.a.keys["write"]),
                        json={"current_password": "x", "new_password": "long-enough-pw"})
        assert r.status_code == 403

    def test_account_page(self, client, world):
        page_login(client, world.a.users["viewer"])
        page = client.get("/account")
        assert "修改密码" in page.text
        r = client.post("/account/password", data={"csrf_token": csrf_from(page.text),
                                                    "current_password": "wrong", "new_password": "x"})
        assert r.status_code == 422 and 'data-error-for="current_password"' in r.text
        r = client.post("/account/password", data={"csrf_token": csrf_from(page.text), "current_password": PASSWORD,
                                                    "new_password": "another-passphrase"}, follow_redirects=False)
        assert r.status_code == 303
