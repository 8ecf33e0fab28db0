"""``Idempotency-Key`` on API POSTs: a retry replays, a different request with the same key is refused."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from tests.factories import bearer
from tradeloop.warehouse.models import Warehouse


def _body(code):
    return {"code": code, "name_zh": "幂等仓", "country": "US", "address": "1 Main St", "tenure": "owned",
            "operator_name": "X"}


def _warehouses(db, code):
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(Warehouse).where(Warehouse.code == code))


class TestIdempotencyKey:
    def test_retry_replays_the_first_response(self, client, world, db):
        headers = {**bearer(world.a.keys["write"]), "Idempotency-Key": "k-1"}
        first = client.post("/api/v1/warehouses", json=_body("IDEM-1"), headers=headers)
        second = client.post("/api/v1/warehouses", json=_body("IDEM-1"), headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert second.headers["idempotent-replayed"] == "true"
        assert second.headers["location"] == first.headers["location"]
        assert _warehouses(db, "IDEM-1") == 1

    def test_same_key_different_request_is_rejected(self, client, world, db):
        headers = {**bearer(world.a.keys["write"]), "Idempotency-Key": "k-2"}
        assert client.post("/api/v1/warehouses", json=_body("IDEM-2"), headers=headers).status_code == 201
        r = client.post("/api/v1/warehouses", json=_body("IDEM-3"), headers=headers)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert _warehouses(db, "IDEM-3") == 0

    def test_keys_are_per_client(self, client, world, db):
        r1 = client.post("/api/v1/warehouses", json=_body("IDEM-4"),
                         headers={**bearer(world.a.keys["write"]), "Idempotency-Key": "shared"})
        r2 = client.post("/api/v1/warehouses", json=_body("IDEM-4"),
                         headers={**bearer(world.b.keys["write"]), "Idempotency-Key": "shared"})
        assert r1.status_code == r2.status_code == 201
        assert r1.json()["id"] != r2.json()["id"]

    def test_error_responses_are_replayed_but_not_server_errors(self, client, world):
        headers = {**bearer(world.a.keys["write"]), "Idempotency-Key": "k-bad"}
        bad = {**_body("IDEM-5"), "country": "CN"}
        first = client.post("/api/v1/warehouses", json=bad, headers=headers)
        second = client.post("/api/v1/warehouses", json=bad, headers=headers)
        assert first.status_code == second.status_code == 422
        assert second.headers.get("idempotent-replayed") == "true"

    def test_without_a_key_every_post_runs(self, client, world, db):
        headers = bearer(world.a.keys["write"])
        assert client.post("/api/v1/warehouses", json=_body("IDEM-6"), headers=headers).status_code == 201
        assert client.post("/api/v1/warehouses", json=_body("IDEM-6"), headers=headers).status_code == 422

    def test_concurrent_retries_create_one_warehouse(self, client, world, db):
        headers = {**bearer(world.a.keys["write"]), "Idempotency-Key": "k-race"}
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _i: client.post("/api/v1/warehouses", json=_body("IDEM-7"),
                                                           headers=headers), range(4)))
        codes = sorted(r.status_code for r in results)
        assert set(codes) <= {201, 409}, codes
        assert 201 in codes
        assert _warehouses(db, "IDEM-7") == 1

    def test_overlong_key_is_refused(self, client, world):
        r = client.post("/api/v1/warehouses", json=_body("IDEM-8"),
                        headers={**bearer(world.a.keys["write"]), "Idempotency-Key": "x" * 256})
        assert r.status_code == 400

    def test_a_key_expires_after_its_lifetime(self, client, world, db, monkeypatch):
        from tradeloop.kit import idempotency

        headers = {**bearer(world.a.keys["write"]), "Idempotency-Key": "k-old"}
        assert client.post("/api/v1/warehouses", json=_body("IDEM-9"), headers=headers).status_code == 201
        monkeypatch.setattr(idempotency, "KEY_LIFETIME", idempotency.KEY_LIFETIME * 0)
        # Past its lifetime the key is forgotten: the request runs again (and meets the duplicate code).
        r = client.post("/api/v1/warehouses", json=_body("IDEM-9"), headers=headers)
        assert r.status_code == 422 and "idempotent-replayed" not in r.headers

    def test_unknown_credentials_leave_nothing_stored(self, client, db):
        from sqlalchemy import func, select

        from tradeloop.kit.idempotency_models import IdempotencyRecord

        for i in range(3):
            r = client.post("/api/v1/warehouses", json=_body("X"),
                            headers={"Authorization": f"Bearer junk-{i}", "Idempotency-Key": "k"})
            assert r.status_code == 401
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0

    def test_oversized_body_is_refused_before_it_is_held(self, client, world, app):
        app.state.settings.max_upload_bytes = 1000
        r = client.post("/api/v1/warehouses", content=b"x" * 200_000,
                        headers={**bearer(world.a.keys["write"]), "Idempotency-Key": "big",
                                 "Content-Type": "application/json"})
        assert r.status_code == 413
