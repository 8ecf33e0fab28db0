"""Webhooks: subscriptions, the transactional outbox, the dispatcher, and signatures.

* **Outbox.** ``emit`` is called by the stock services in the transaction of the change it reports and
  adds one ``webhook_deliveries`` row per matching subscription of the parties (the exporter whose stock
  it is and the operator of the warehouse). The row commits with the change or is rolled back with it, so
  no event is lost and none is sent for a change that did not happen.
* **Dispatcher.** ``dispatch_due`` (called by a background worker, or by tests with their own clock and
  HTTP function) claims due rows in a short transaction, POSTs them with no transaction open, and records
  each attempt. A 2xx answer within the timeout is success; anything else is retried after 1 min, 5 min,
  30 min, 2 h and 12 h, and after the sixth failed attempt the delivery is ``failed``. A worker that dies
  between claim and record leaves the row claimed for ``LEASE``; then it is sent again, so delivery is
  *at least once*: receivers de-duplicate by ``X-Tradeloop-Delivery``.
* **Signature.** ``X-Tradeloop-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`` with the
  subscription's secret, ``X-Tradeloop-Timestamp`` the Unix time of the attempt. ``verify_signature`` is
  what a receiver runs (Python; the recipe is in docs/warehouse-api.md).
* **Secrets.** HMAC needs the secret itself, so it cannot be stored as a hash the way API keys are. It is
  stored AES-GCM encrypted under a key derived from the server's secret key (``SecretBox``), bound to its
  subscription id, so a copy of the database (a backup, a replica, a query bug) does not hand out the
  means to forge deliveries. It is shown once, at creation, and never returned again. Rotating the server
  secret key makes stored secrets unreadable: their deliveries fail with a clear error and the
  subscriptions must be created again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.kit.db import Database
from tradeloop.kit.errors import Conflict, NotFound
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.pagination import paginate
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean
from tradeloop.warehouse.stock_models import (
    Allocation,
    InboundLine,
    InboundOrder,
    OutboundLine,
    OutboundOrder,
    ReturnLine,
    ReturnOrder,
    StockLot,
)
from tradeloop.warehouse.stock_schemas import (
    AllocationRead,
    InboundLineRead,
    InboundRead,
    LotRead,
    OutboundLineRead,
    OutboundRead,
    ReturnLineRead,
    ReturnRead,
)
from tradeloop.warehouse.webhook_models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

EVENT_TYPES: tuple[str, ...] = (
    "inbound.received",  # units counted into stock by a receipt that does not close the count
    "inbound.closed",  # the count is final (the closing receipt's units included)
    "outbound.allocated",
    "outbound.shipped",
    "outbound.delivered",
    "outbound.cancelled",
    "return.closed",  # inspected; each line has its disposition
    "stock.changed",  # a lot action: adjustment, disposal, return to origin, transfer, count
)
#: Delays before the 2nd … 6th attempt; after the 6th failure the delivery is failed.
RETRY_DELAYS: tuple[timedelta, ...] = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
                                       timedelta(hours=2), timedelta(hours=12))
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
#: How long a claimed delivery stays invisible to other dispatchers (longer than any attempt takes).
LEASE = timedelta(minutes=5)
DEFAULT_TIMEOUT = 10.0
MAX_SUBSCRIPTIONS = 20
SECRET_PREFIX = "whsec_"
USER_AGENT = "tradeloop-webhooks/1"


# --- secrets and signatures ----------------------------------------------------------------------


class SecretBox:
    """AES-256-GCM under a key derived (HKDF-SHA256) from the server's secret key; the subscription id is
    the associated data, so a ciphertext copied onto another row does not open."""

    def __init__(self, server_secret_key: str):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"tradeloop/webhook-secrets/v1").derive(server_secret_key.encode())
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, subscription_id: uuid.UUID) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), subscription_id.bytes)
        return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, token: str, subscription_id: uuid.UUID) -> str:
        """The secret; raises ``InvalidTag`` when the server key changed or the row was tampered with."""
        version, _, data = token.partition(".")
        if version != "v1":
            raise InvalidTag()
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        return self._aead.decrypt(raw[:12], raw[12:], subscription_id.bytes).decode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Tradeloop-Signature`` value: ``sha256=`` + hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str, body: bytes | str, header: str, tolerance: int = 300, *,
                     now: float | None = None) -> bool:
    """True when ``header`` (``X-Tradeloop-Signature``) signs ``body`` at ``timestamp``
    (``X-Tradeloop-Timestamp``) with ``secret``, and the timestamp is within ``tolerance`` seconds of
    ``now`` (default: the current time), which stops a captured request from being replayed later.
    ``body`` must be the raw request body, before any JSON parsing. The header may carry several
    comma-separated ``sha256=`` values; one match is enough."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        return False
    raw = body.encode() if isinstance(body, str) else body
    expected = sign(secret, timestamp, raw)
    return any(hmac.compare_digest(expected, part.strip()) for part in (header or "").split(","))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- subscriptions --------------------------------------------------------------------------------


def check_url(url: str | None) -> tuple[str, str] | None:
    """None when ``url`` may receive deliveries, else (English, Chinese) reasons. https to a public host,
    or http://127.0.0.1 (local development and tests). Literal private, loopback and link-local addresses
    are refused for https: the server must not be pointed at its own network."""
    if not url:
        return ("is required", "为必填项")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port
    except ValueError:
        return ("is not a URL", "不是有效的URL")
    if parts.username or parts.password:
        return ("must not contain credentials", "不能包含用户名或密码")
    if parts.fragment:
        return ("must not contain a fragment (#…)", "不能包含#片段")
    if parts.scheme == "http":
        if host == "127.0.0.1":
            return None
        return ("must use https (http only to 127.0.0.1 for local tests)", "须使用https（http仅限127.0.0.1本地测试）")
    if parts.scheme != "https" or not host:
        return ("must be an https URL", "须为https地址")
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return ("must not point at this server's own network", "不能指向本机或内网地址")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not ip.is_global:
        return ("must not point at this server's own network", "不能指向本机或内网地址")
    return None


def _snapshot(sub: WebhookSubscription) -> dict:
    """Audit form: never the secret, not even encrypted."""
    return {k: v for k, v in audit.snapshot(sub).items() if k != "secret_ciphertext"}


def create_subscription(session: Session, *, principal: Principal, url: str, event_types: list[str],
                        description: str | None, server_secret_key: str) -> tuple[WebhookSubscription, str]:
    """A subscription of the admin's enterprise; returns it and its secret (shown once, stored encrypted)."""
    enterprise_id = principal.tenant(Action.MANAGE)
    errors = Errors()
    url = (url or "").strip()
    problem = check_url(url)
    if problem:
        errors.add("url", *problem)
    for i, kind in enumerate(event_types):
        errors.one_of(f"event_types[{i}]", kind, EVENT_TYPES, "事件类型")
    errors.max_len("description", clean(description), 200)
    errors.raise_if_any()
    if WebhookRepository(session, principal).active_count() >= MAX_SUBSCRIPTIONS:
        raise Conflict(f"An enterprise may have at most {MAX_SUBSCRIPTIONS} webhook subscriptions.",
                       message_zh=f"每个企业最多{MAX_SUBSCRIPTIONS}个Webhook订阅")
    secret = new_secret()
    row = WebhookSubscription(enterprise_id=enterprise_id, id=uuid7(), url=url,
                              event_types=list(dict.fromkeys(event_types)), description=clean(description),
                              secret_hint=secret[:10], active=True)
    row.secret_ciphertext = SecretBox(server_secret_key).seal(secret, row.id)
    session.add(row)
    session.flush()
    audit.record(session, principal=principal, action="webhook.create", entity_type="webhook_subscription",
                 entity_id=row.id, after=_snapshot(row))
    return row, secret


def delete_subscription(session: Session, *, principal: Principal, subscription_id: uuid.UUID) -> None:
    """Stops the subscription: it no longer matches events and its pending deliveries are cancelled. The
    row and its delivery history stay (deleted subscriptions answer 404)."""
    principal.tenant(Action.MANAGE)
    row = WebhookRepository(session, principal).subscription(subscription_id, for_update=True)
    before = _snapshot(row)
    row.active, row.deleted_at = False, utcnow()
    session.execute(update(WebhookDelivery).where(
        WebhookDelivery.enterprise_id == row.enterprise_id, WebhookDelivery.subscription_id == row.id,
        WebhookDelivery.status == DeliveryStatus.PENDING).values(
        status=DeliveryStatus.CANCELLED, next_attempt_at=None, updated_at=utcnow()))
    session.flush()
    audit.record(session, principal=principal, action="webhook.delete", entity_type="webhook_subscription",
                 entity_id=row.id, before=before, after=_snapshot(row))


class WebhookRepository:
    """The tenant's own subscriptions and deliveries (they are configuration: ``manage``)."""

    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal

    @property
    def me(self) -> uuid.UUID:
        return self.principal.tenant(Action.MANAGE)

    def _subscriptions(self):
        return select(WebhookSubscription).where(WebhookSubscription.enterprise_id == self.me,
                                                 WebhookSubscription.deleted_at.is_(None))

    def subscriptions_page(self, *, cursor: str | None, limit: int | None):
        return paginate(self.session, self._subscriptions(), WebhookSubscription.id, cursor=cursor, limit=limit)

    def active_count(self) -> int:
        return len(list(self.session.scalars(self._subscriptions().with_only_columns(WebhookSubscription.id))))

    def subscription(self, subscription_id: uuid.UUID, *, for_update: bool = False) -> WebhookSubscription:
        stmt = self._subscriptions().where(WebhookSubscription.id == subscription_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self.session.scalar(stmt)
        if row is None:
            raise NotFound("Webhook subscription not found.", message_zh="未找到该Webhook订阅")
        return row

    def deliveries_page(self, subscription_id: uuid.UUID, *, cursor: str | None, limit: int | None,
                        status: str | None = None):
        sub = self.subscription(subscription_id)
        stmt = select(WebhookDelivery).where(WebhookDelivery.enterprise_id == sub.enterprise_id,
                                             WebhookDelivery.subscription_id == sub.id)
        if status:
            stmt = stmt.where(WebhookDelivery.status == status)
        return paginate(self.session, stmt, WebhookDelivery.id, cursor=cursor, limit=limit)

    def attempts(self, deliveries: list[WebhookDelivery]) -> dict[uuid.UUID, list[WebhookAttempt]]:
        out: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
        if deliveries:
            rows = self.session.scalars(select(WebhookAttempt).where(
                WebhookAttempt.enterprise_id == self.me, WebhookAttempt.delivery_id.in_(list(out)))
                .order_by(WebhookAttempt.id))
            for row in rows:
                out[row.delivery_id].append(row)
        return out


# --- the outbox -----------------------------------------------------------------------------------


def parties(row) -> set[uuid.UUID]:
    """Who hears about a stock document or lot: the exporter whose stock it is and the warehouse operator."""
    return {row.enterprise_id, row.warehouse_owner_id}


def snapshot(session: Session, row) -> Callable[[], dict]:
    """The event payload of a document or lot, in the stock API's JSON shape; deferred, so a change nobody
    subscribed to costs no extra queries."""
    return lambda: _document(session, row)


def _lines(session: Session, model, parent_column, row) -> list:
    return list(session.scalars(select(model).where(model.enterprise_id == row.enterprise_id,
                                                    getattr(model, parent_column) == row.id)
                                .order_by(model.line_no)))


def _fields(schema, row, *skip: str) -> dict:
    return {k: getattr(row, k) for k in schema.model_fields if k not in skip}


def _document(session: Session, row) -> dict:
    session.flush()
    if isinstance(row, InboundOrder):
        lines = [InboundLineRead.model_validate(li) for li in _lines(session, InboundLine, "inbound_id", row)]
        model = InboundRead.model_validate({**_fields(InboundRead, row, "lines"), "lines": lines})
    elif isinstance(row, OutboundOrder):
        allocations = session.scalars(select(Allocation).where(
            Allocation.enterprise_id == row.enterprise_id, Allocation.outbound_id == row.id).order_by(Allocation.id))
        model = OutboundRead.model_validate({
            **_fields(OutboundRead, row, "lines", "allocations"),
            "lines": [OutboundLineRead.model_validate(li) for li in _lines(session, OutboundLine, "outbound_id", row)],
            "allocations": [AllocationRead.model_validate(a) for a in allocations]})
    elif isinstance(row, ReturnOrder):
        lines = [ReturnLineRead.model_validate(li) for li in _lines(session, ReturnLine, "return_id", row)]
        model = ReturnRead.model_validate({**_fields(ReturnRead, row, "lines"), "lines": lines})
    elif isinstance(row, StockLot):
        model = LotRead.model_validate({**_fields(LotRead, row, "available"), "available": row.on_hand - row.allocated})
    else:  # pragma: no cover - a programming error
        raise TypeError(f"no webhook payload for {type(row).__name__}")
    return model.model_dump(mode="json")


def subscribed(session: Session, enterprise_ids: Iterable[uuid.UUID | None], event_type: str) -> bool:
    """Whether any active subscription of ``enterprise_ids`` wants ``event_type`` (bulk writers ask once,
    then emit per document only when someone listens)."""
    ids = {e for e in enterprise_ids if e is not None}
    return bool(ids) and any(event_type in (s.event_types or []) for s in session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.enterprise_id.in_(ids),
                                          WebhookSubscription.active.is_(True))))


def emit(session: Session, enterprise_ids: Iterable[uuid.UUID | None], event_type: str,
         payload: dict | Callable[[], dict]) -> list[WebhookDelivery]:
    """Queue ``event_type`` for every active subscription of ``enterprise_ids`` that wants it, in the
    caller's transaction (the outbox). ``payload`` may be a zero-argument callable, called only when
    someone subscribed."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    ids = {e for e in enterprise_ids if e is not None}
    subs = [s for s in session.scalars(select(WebhookSubscription).where(
        WebhookSubscription.enterprise_id.in_(ids), WebhookSubscription.active.is_(True)))
        if event_type in (s.event_types or [])] if ids else []
    if not subs:
        return []
    now, event_id = utcnow(), uuid7()
    data = payload() if callable(payload) else payload
    body = json.dumps({"id": str(event_id), "type": event_type, "created_at": now.isoformat(), "data": data},
                      ensure_ascii=False, separators=(",", ":"), default=str)
    out = []
    for sub in sorted(subs, key=lambda s: (str(s.enterprise_id), str(s.id))):
        row = WebhookDelivery(enterprise_id=sub.enterprise_id, id=uuid7(), subscription_id=sub.id,
                              event_id=event_id, event_type=event_type, body=body, status=DeliveryStatus.PENDING,
                              attempts=0, next_attempt_at=now)
        session.add(row)
        out.append(row)
    return out


# --- the dispatcher -------------------------------------------------------------------------------


#: ``post(url, body, headers, timeout) -> HTTP status``; raises on a network error or timeout.
Post = Callable[[str, bytes, dict[str, str], float], int]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: following it could lead the server into its own network."""

    def redirect_request(self, *args, **kwargs):
        return None


_LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
_OPENER = urllib.request.build_opener(_NoRedirect)  # honours the environment's proxy settings


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST with the standard library: no redirects, ``timeout`` seconds per socket operation."""
    opener = _LOOPBACK_OPENER if urlsplit(url).hostname == "127.0.0.1" else _OPENER
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


@dataclass
class DispatchReport:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Job:
    enterprise_id: uuid.UUID
    delivery_id: uuid.UUID
    subscription_id: uuid.UUID
    event_type: str
    body: str
    url: str
    secret_ciphertext: str


def _claim(db: Database, now: datetime, limit: int) -> list[_Job]:
    """Due deliveries of active subscriptions, hidden from other dispatchers for ``LEASE`` (``SKIP LOCKED``
    on PostgreSQL; SQLite's write lock serialises dispatchers)."""
    with db.transaction() as s:
        rows = s.execute(select(WebhookDelivery, WebhookSubscription.url, WebhookSubscription.secret_ciphertext)
                         .join(WebhookSubscription, (WebhookSubscription.enterprise_id == WebhookDelivery.enterprise_id)
                               & (WebhookSubscription.id == WebhookDelivery.subscription_id))
                         .where(WebhookDelivery.status == DeliveryStatus.PENDING,
                                WebhookDelivery.next_attempt_at <= now, WebhookSubscription.active.is_(True))
                         .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
                         .with_for_update(of=WebhookDelivery, skip_locked=True)).all()
        jobs = []
        for delivery, url, ciphertext in rows:
            delivery.next_attempt_at = now + LEASE
            jobs.append(_Job(delivery.enterprise_id, delivery.id, delivery.subscription_id, delivery.event_type,
                             delivery.body, url, ciphertext))
    return jobs


def _record(db: Database, job: _Job, *, at: datetime, status_code: int | None, error: str | None,
            duration_ms: int) -> str:
    with db.transaction() as s:
        row = s.scalar(select(WebhookDelivery).where(WebhookDelivery.enterprise_id == job.enterprise_id,
                                                     WebhookDelivery.id == job.delivery_id).with_for_update())
        if row is None or row.status != DeliveryStatus.PENDING:
            return "gone"  # cancelled (subscription deleted) while it was being sent
        s.add(WebhookAttempt(enterprise_id=row.enterprise_id, id=uuid7(), delivery_id=row.id, attempted_at=at,
                             status_code=status_code, error=error, duration_ms=duration_ms))
        row.attempts += 1
        row.last_status_code, row.last_error = status_code, error
        if error is None:
            row.status, row.delivered_at, row.next_attempt_at = DeliveryStatus.DELIVERED, at, None
        elif row.attempts >= MAX_ATTEMPTS:
            row.status, row.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            row.next_attempt_at = at + RETRY_DELAYS[row.attempts - 1]
        return row.status if row.status != DeliveryStatus.PENDING else "retrying"


def dispatch_due(db: Database, *, server_secret_key: str, now: Callable[[], datetime] = utcnow,
                 post: Post = http_post, limit: int = 100, timeout: float = DEFAULT_TIMEOUT) -> DispatchReport:
    """Send the deliveries that are due at ``now()``; returns what happened. Call it repeatedly (a worker
    loop, a scheduled job); ``now`` and ``post`` are injectable for tests."""
    report = DispatchReport()
    box = SecretBox(server_secret_key)
    for job in _claim(db, now(), limit):
        at = now()
        timestamp = str(int(at.timestamp()))
        body = job.body.encode()
        started = time.monotonic()
        status_code, error = None, None
        try:
            secret = box.open(job.secret_ciphertext, job.subscription_id)
        except (InvalidTag, ValueError):
            error = "the signing secret cannot be decrypted (the server secret key changed?); create the " \
                    "subscription again"
        else:
            headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                       "X-Tradeloop-Event": job.event_type, "X-Tradeloop-Delivery": str(job.delivery_id),
                       "X-Tradeloop-Timestamp": timestamp, "X-Tradeloop-Signature": sign(secret, timestamp, body)}
            try:
                status_code = post(job.url, body, headers, timeout)
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}"
            except Exception as exc:  # noqa: BLE001 - any failure to deliver is recorded and retried
                error = f"{exc.__class__.__name__}: {exc}"[:500]
        outcome = _record(db, job, at=at, status_code=status_code, error=error,
                          duration_ms=int((time.monotonic() - started) * 1000))
        if outcome == "gone":
            continue
        report.attempted += 1
        if outcome == DeliveryStatus.DELIVERED:
            report.delivered += 1
        elif outcome == DeliveryStatus.FAILED:
            report.failed += 1
        else:
            report.retrying += 1
    return report


class DispatchWorker:
    """Runs ``dispatch_due`` every ``interval`` seconds in a background thread."""

    def __init__(self, db: Database, *, server_secret_key: str, interval: float = 5.0, **options: Any):
        self.db, self.key, self.interval, self.options = db, server_secret_key, interval, options
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                dispatch_due(self.db, server_secret_key=self.key, **self.options)
            except Exception:  # keep the worker alive; the next round retries
                log.exception("webhook dispatch round failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
