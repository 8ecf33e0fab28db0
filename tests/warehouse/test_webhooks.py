"""Webhooks on both databases: subscriptions (secret shown once), the outbox written with the change,
signed deliveries to a real local HTTP server, retries with backoff on an injected clock."""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from tests.customs.builders import add_products, principal_of
from tests.factories import login
from tests.warehouse.stock_builders import SHIP_TO
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse import stock_service as stock
from tradeloop.warehouse import webhooks
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.stock_schemas import (
    InboundCreate,
    InspectIn,
    LotAction,
    OutboundCreate,
    ReceiveIn,
    ReturnCreate,
    ShipIn,
)
from tradeloop.warehouse.webhook_models import WebhookAttempt, WebhookDelivery, WebhookSubscription

KEY = "test-secret"  # the server secret key of the test settings
HOOKS = "/api/v1/webhooks"


def admin(app, tenant) -> TestClient:
    c = TestClient(app)
    c.headers["X-CSRF-Token"] = login(c, tenant.users["admin"])
    return c


def subscribe(db, tenant, url: str, events: list[str]) -> tuple[WebhookSubscription, str]:
    with db.transaction() as s:
        return webhooks.create_subscription(s, principal=principal_of(tenant), url=url, event_types=events,
                                            description=None, server_secret_key=KEY)


def deliveries(db) -> list[WebhookDelivery]:
    with db.transaction(write=False) as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


@pytest.fixture
def exporter(db, world):
    add_products(db, world.a)
    return world.a


@pytest.fixture
def allocated(db, world, exporter):
    """An allocated outbound order of exporter a in the operator's warehouse."""
    p, wh = principal_of(exporter), world.operator.warehouse.id
    with db.transaction() as s:
        order = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
            {"sku": "SILK-SCARF-01", "expected_qty": 10}]))
        stock.receive_inbound(s, principal=p, inbound_id=order.id, data=ReceiveIn(close=True, lines=[
            {"line_no": 1, "received_qty": 10}]))
        return stock.create_outbound(s, principal=p, data=OutboundCreate(
            warehouse_id=wh, ship_to=SHIP_TO, lines=[{"sku": "SILK-SCARF-01", "qty": 3}], allocate=True))


def ship(db, tenant, order):
    with db.transaction() as s:
        stock.ship_outbound(s, principal=principal_of(tenant), outbound_id=order.id,
                            data=ShipIn(carrier="UPS", tracking_no="1Z999AA10123456784"))


class Receiver:
    """A local HTTP endpoint (http.server in a thread) that records what it is sent."""

    def __init__(self, status: int = 204):
        self.status, self.requests = status, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tradeloop"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class TestSignature:
    def test_a_known_vector_and_what_is_refused(self):
        secret, ts, body = "whsec_test", "1767225600", b'{"id":"1","type":"outbound.shipped"}'
        header = webhooks.sign(secret, ts, body)
        assert header == "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, "sha256").hexdigest()
        now = 1767225600 + 60
        assert webhooks.verify_signature(secret, ts, body, header, now=now)
        assert webhooks.verify_signature(secret, ts, body.decode(), f"sha256=00, {header}", now=now)  # rotation
        assert not webhooks.verify_signature(secret, ts, body + b" ", header, now=now)  # body changed
        assert not webhooks.verify_signature("whsec_other", ts, body, header, now=now)  # other secret
        assert not webhooks.verify_signature(secret, ts, body, header, now=now + 300)  # too old: a replay
        assert not webhooks.verify_signature(secret, "soon", body, header, now=now)
        assert not webhooks.verify_signature(secret, ts, body, "", now=now)

    def test_secrets_are_sealed_to_their_subscription_and_server_key(self):
        box, sub = webhooks.SecretBox(KEY), uuid.uuid4()
        token = box.seal("whsec_abc", sub)
        assert "whsec_abc" not in token and box.open(token, sub) == "whsec_abc"
        with pytest.raises(webhooks.InvalidTag):
            box.open(token, uuid.uuid4())
        with pytest.raises(webhooks.InvalidTag):
            webhooks.SecretBox("another server key").open(token, sub)

    @pytest.mark.parametrize(("url", "ok"), [
        ("https://erp.example.com/hooks", True), ("http://127.0.0.1:8080/x", True),
        ("http://erp.example.com/hooks", False), ("https://10.0.0.8/hooks", False), ("https://127.0.0.1/x", False),
        ("https://localhost/x", False), ("https://user:pw@erp.example.com/", False), ("ftp://erp.example.com", False),
        ("https://[::1]/x", False), ("https://erp.example.com/#x", False), ("", False)])
    def test_urls(self, url, ok):
        assert (webhooks.check_url(url) is None) is ok


class TestSubscriptionsApi:
    def test_secret_is_shown_once_and_never_again(self, app, db, world):
        c = admin(app, world.a)
        r = c.post(HOOKS, json={"url": "https://erp.example.com/hooks", "event_types": [
            "outbound.shipped", "return.closed", "outbound.shipped"], "description": "ERP"})
        assert r.status_code == 201, r.text
        created = r.json()
        secret = created["secret"]
        assert secret.startswith("whsec_") and created["secret_hint"] == secret[:10]
        assert created["event_types"] == ["outbound.shipped", "return.closed"]
        assert r.headers["location"] == f"{HOOKS}/{created['id']}"
        listed = c.get(HOOKS)
        assert [s["id"] for s in listed.json()["items"]] == [created["id"]]
        deliveries_page = c.get(f"{HOOKS}/{created['id']}/deliveries")
        audit = c.get("/api/v1/audit")
        for response in (listed, deliveries_page, audit):
            assert response.status_code == 200
            assert secret not in response.text and secret[10:] not in response.text
        with db.transaction(write=False) as s:
            stored = s.scalar(select(WebhookSubscription.secret_ciphertext))
            dump = " ".join(str(v) for row in s.execute(text("SELECT * FROM audit_log")) for v in row)
        assert secret not in stored and secret[10:] not in dump and stored not in dump

        assert c.delete(f"{HOOKS}/{created['id']}").status_code == 204
        assert c.get(HOOKS).json()["items"] == []
        assert c.delete(f"{HOOKS}/{created['id']}").status_code == 404
        assert c.get(f"{HOOKS}/{created['id']}/deliveries").status_code == 404
        actions = [e["action"] for e in c.get("/api/v1/audit").json()["items"]]
        assert actions[:2] == ["webhook.delete", "webhook.create"]

    def test_bad_input_is_a_field_error(self, app, world):
        c = admin(app, world.a)
        r = c.post(HOOKS, json={"url": "http://erp.example.com/hooks", "event_types": ["order.paid"]})
        assert r.status_code == 422
        assert {e["field"] for e in r.json()["errors"]} == {"url", "event_types[0]"}
        assert c.post(HOOKS, json={"url": "https://erp.example.com", "event_types": []}).status_code == 422

    def test_only_admins_of_the_enterprise(self, app, db, world):
        sub, _secret = subscribe(db, world.a, "https://erp.example.com/a", ["outbound.shipped"])
        viewer = TestClient(app)
        viewer.headers["X-CSRF-Token"] = login(viewer, world.a.users["operator"])
        assert viewer.get(HOOKS).status_code == 403
        assert viewer.post(HOOKS, json={"url": "https://x.example.com", "event_types": ["outbound.shipped"]}
                           ).status_code == 403
        other = admin(app, world.b)
        assert other.get(HOOKS).json()["items"] == []
        assert other.get(f"{HOOKS}/{sub.id}/deliveries").status_code == 404
        assert other.delete(f"{HOOKS}/{sub.id}").status_code == 404


class TestOutbox:
    def test_an_event_of_a_rolled_back_change_is_never_sent(self, db, world, allocated):
        subscribe(db, world.a, "http://127.0.0.1:9/unused", ["outbound.shipped"])
        with pytest.raises(RuntimeError), db.transaction() as s:
            stock.ship_outbound(s, principal=principal_of(world.a), outbound_id=allocated.id,
                                data=ShipIn(carrier="UPS", tracking_no="1Z"))
            assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 1  # written, not committed
            raise RuntimeError("the request failed after the change")
        assert deliveries(db) == []
        sent = []
        report = webhooks.dispatch_due(db, server_secret_key=KEY, post=lambda *a: sent.append(a) or 204)
        assert (report.attempted, sent) == (0, [])

    def test_exporter_and_operator_are_both_notified_others_not(self, db, world, allocated):
        a_sub, _ = subscribe(db, world.a, "https://a.example.com/hooks", ["outbound.shipped", "outbound.allocated"])
        op_sub, _ = subscribe(db, world.operator, "https://op.example.com/hooks", ["outbound.shipped"])
        subscribe(db, world.b, "https://b.example.com/hooks", ["outbound.shipped"])
        subscribe(db, world.a, "https://a.example.com/other", ["return.closed"])
        ship(db, world.a, allocated)
        rows = deliveries(db)
        assert sorted((str(d.subscription_id), d.event_type) for d in rows) == sorted(
            [(str(a_sub.id), "outbound.shipped"), (str(op_sub.id), "outbound.shipped")])
        assert rows[0].event_id == rows[1].event_id and rows[0].body == rows[1].body
        body = json.loads(rows[0].body)
        assert (body["type"], body["data"]["number"], body["data"]["status"]) == (
            "outbound.shipped", allocated.number, "shipped")
        assert body["data"]["tracking_no"] == "1Z999AA10123456784"

    def test_stock_events_of_each_kind(self, db, world, exporter, allocated):
        subscribe(db, world.a, "https://a.example.com/hooks", list(webhooks.EVENT_TYPES))
        p, wh = principal_of(world.a), world.operator.warehouse.id
        with db.transaction() as s:
            ib = stock.create_inbound(s, principal=p, data=InboundCreate(warehouse_id=wh, lines=[
                {"sku": "SILK-BLOUSE-02", "expected_qty": 5}]))
            stock.receive_inbound(s, principal=p, inbound_id=ib.id, data=ReceiveIn(lines=[
                {"line_no": 1, "received_qty": 2}]))
            stock.receive_inbound(s, principal=p, inbound_id=ib.id, data=ReceiveIn(close=True, lines=[
                {"line_no": 1, "received_qty": 3}]))
            stock.deliver_outbound(s, principal=p, outbound_id=stock.ship_outbound(
                s, principal=p, outbound_id=allocated.id, data=ShipIn(carrier="UPS", tracking_no="1")).id)
            ob = stock.create_outbound(s, principal=p, data=OutboundCreate(
                warehouse_id=wh, ship_to=SHIP_TO, lines=[{"sku": "SILK-BLOUSE-02", "qty": 1}], allocate=True))
            stock.cancel_outbound(s, principal=p, outbound_id=ob.id, reason="买家取消")
            rt = stock.create_return(s, principal=p, data=ReturnCreate(outbound_id=allocated.id, lines=[
                {"sku": "SILK-SCARF-01", "qty": 1}]))
            stock.receive_return(s, principal=p, return_id=rt.id)
            stock.inspect_return(s, principal=p, return_id=rt.id, data=InspectIn(lines=[
                {"line_no": 1, "disposition": "dispose"}]))
            lot = StockRepository(s, p).lot_rows(sku="SILK-BLOUSE-02")[0]
            stock.lot_action(s, principal=p, lot_id=lot.id, data=LotAction(kind="count", qty=4, reason="盘点"))
        assert [d.event_type for d in deliveries(db)] == [
            "inbound.received", "inbound.closed", "outbound.shipped", "outbound.delivered", "outbound.allocated",
            "outbound.cancelled", "return.closed", "stock.changed"]
        closed = json.loads(deliveries(db)[6].body)["data"]
        assert closed["lines"][0]["disposition"] == "dispose" and closed["status"] == "closed"
        changed = json.loads(deliveries(db)[7].body)["data"]
        assert (changed["sku"], changed["on_hand"], changed["available"]) == ("SILK-BLOUSE-02", 4, 4)


class TestDispatch:
    def test_a_delivery_to_a_local_server_carries_a_valid_signature(self, app, db, world, allocated):
        with Receiver(status=204) as receiver:
            sub, secret = subscribe(db, world.a, receiver.url, ["outbound.shipped"])
            ship(db, world.a, allocated)
            report = webhooks.dispatch_due(db, server_secret_key=KEY)
            assert (report.attempted, report.delivered) == (1, 1)
            assert webhooks.dispatch_due(db, server_secret_key=KEY).attempted == 0  # sent once
        [(headers, body)] = receiver.requests
        [row] = deliveries(db)
        assert headers["X-Tradeloop-Event"] == "outbound.shipped"
        assert headers["X-Tradeloop-Delivery"] == str(row.id)
        assert headers["Content-Type"].startswith("application/json")
        assert webhooks.verify_signature(secret, headers["X-Tradeloop-Timestamp"], body,
                                         headers["X-Tradeloop-Signature"])
        assert not webhooks.verify_signature(secret, headers["X-Tradeloop-Timestamp"], body.replace(b"1Z", b"2Z"),
                                             headers["X-Tradeloop-Signature"])
        assert abs(int(headers["X-Tradeloop-Timestamp"]) - time.time()) < 60
        assert json.loads(body)["data"]["number"] == allocated.number

        page = admin(app, world.a).get(f"{HOOKS}/{sub.id}/deliveries").json()["items"]
        assert [(d["status"], d["attempts"], d["last_status_code"]) for d in page] == [("delivered", 1, 204)]
        assert page[0]["payload"]["type"] == "outbound.shipped"
        assert [(h["status_code"], h["error"]) for h in page[0]["history"]] == [(204, None)]
        assert secret not in json.dumps(page)

    def test_a_failing_endpoint_is_retried_with_backoff_then_fails(self, app, db, world, allocated):
        sub, _secret = subscribe(db, world.a, "https://erp.example.com/hooks", ["outbound.shipped"])
        ship(db, world.a, allocated)
        t0 = deliveries(db)[0].next_attempt_at
        clock = {"now": t0}
        calls = []

        def post(url, body, headers, timeout):
            calls.append(clock["now"])
            if len(calls) == 3:
                raise TimeoutError("timed out")
            return 500

        def run(at):
            clock["now"] = at
            return webhooks.dispatch_due(db, server_secret_key=KEY, now=lambda: clock["now"], post=post)

        offsets = [timedelta(0)]
        for delay in webhooks.RETRY_DELAYS:
            offsets.append(offsets[-1] + delay)
        assert offsets[1:] == [timedelta(minutes=1), timedelta(minutes=6), timedelta(minutes=36),
                               timedelta(hours=2, minutes=36), timedelta(hours=14, minutes=36)]
        assert run(t0).attempted == 1
        for i, offset in enumerate(offsets[1:], start=2):
            assert run(t0 + offset - timedelta(seconds=1)).attempted == 0, "not due yet"
            report = run(t0 + offset)
            assert report.attempted == 1, (i, offset)
            assert (report.failed, report.retrying) == ((1, 0) if i == webhooks.MAX_ATTEMPTS else (0, 1))
        assert len(calls) == webhooks.MAX_ATTEMPTS == 6
        assert run(t0 + timedelta(days=30)).attempted == 0  # failed for good

        [row] = deliveries(db)
        assert (row.status, row.attempts, row.last_status_code, row.next_attempt_at) == ("failed", 6, 500, None)
        page = admin(app, world.a).get(f"{HOOKS}/{sub.id}/deliveries", params={"status": "failed"}).json()["items"]
        history = page[0]["history"]
        assert [h["status_code"] for h in history] == [500, 500, None, 500, 500, 500]
        assert history[2]["error"] == "TimeoutError: timed out" and history[0]["error"] == "HTTP 500"
        assert [datetime.fromisoformat(h["attempted_at"]) - t0 for h in history] == offsets

    def test_a_real_failing_server_and_a_deleted_subscription(self, db, world, allocated):
        with Receiver(status=503) as receiver:
            sub, _secret = subscribe(db, world.a, receiver.url, ["outbound.shipped"])
            ship(db, world.a, allocated)
            report = webhooks.dispatch_due(db, server_secret_key=KEY)
            assert (report.attempted, report.retrying) == (1, 1) and len(receiver.requests) == 1
            with db.transaction() as s:
                webhooks.delete_subscription(s, principal=principal_of(world.a), subscription_id=sub.id)
            later = datetime.now(UTC) + timedelta(hours=1)
            assert webhooks.dispatch_due(db, server_secret_key=KEY, now=lambda: later).attempted == 0
        [row] = deliveries(db)
        assert (row.status, row.attempts, row.last_status_code) == ("cancelled", 1, 503)

    def test_a_changed_server_key_fails_the_delivery_with_a_reason(self, db, world, allocated):
        subscribe(db, world.a, "https://erp.example.com/hooks", ["outbound.shipped"])
        ship(db, world.a, allocated)
        sent = []
        webhooks.dispatch_due(db, server_secret_key="rotated", post=lambda *a: sent.append(a) or 204)
        [row] = deliveries(db)
        assert sent == [] and row.status == "pending" and "cannot be decrypted" in row.last_error
        with db.transaction(write=False) as s:
            assert s.scalar(select(func.count()).select_from(WebhookAttempt)) == 1

    def test_a_claimed_delivery_is_not_sent_twice_by_concurrent_dispatchers(self, db, world, allocated):
        subscribe(db, world.a, "https://erp.example.com/hooks", ["outbound.shipped"])
        ship(db, world.a, allocated)
        sent, gate = [], threading.Event()

        def slow_post(url, body, headers, timeout):
            sent.append(headers["X-Tradeloop-Delivery"])
            gate.wait(5)
            return 200

        first = threading.Thread(target=webhooks.dispatch_due, args=(db,),
                                 kwargs={"server_secret_key": KEY, "post": slow_post})
        first.start()
        deadline = time.time() + 5
        while not sent and time.time() < deadline:
            time.sleep(0.01)
        second = webhooks.dispatch_due(db, server_secret_key=KEY, post=slow_post)  # while the first is sending
        gate.set()
        first.join()
        assert second.attempted == 0 and len(sent) == 1
        assert deliveries(db)[0].status == "delivered"


def test_creating_a_subscription_needs_manage(db, world):
    """Subscriptions are the enterprise's configuration: a principal without ``manage`` is refused."""
    from tradeloop.kit.errors import Forbidden

    viewer = replace(system_principal(), kind="user", role="operator", enterprise_id=world.a.enterprise.id,
                     is_platform_admin=False)
    with db.transaction() as s, pytest.raises(Forbidden):
        webhooks.create_subscription(s, principal=viewer, url="https://x.example.com", event_types=["stock.changed"],
                                     description=None, server_secret_key=KEY)
