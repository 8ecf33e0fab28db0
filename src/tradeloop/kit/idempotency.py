"""``Idempotency-Key`` on POST requests to the API.

The first request with a key reserves it (a row without a response) in its own transaction, runs, and
stores its response; a retry with the same key and the same request gets the stored response back
(header ``Idempotent-Replayed: true``) without running again. The same key with a different request is
rejected (422); a retry while the first is still running gets 409. Keys are kept per credential, so two
clients never collide. Responses with status 5xx are not kept, so the client may retry them. A key is
remembered for ``KEY_LIFETIME`` (24 hours, as payment APIs do); after that the same key runs again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from anyio import to_thread
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from tradeloop.kit.errors import PROBLEM_JSON
from tradeloop.kit.idempotency_models import IdempotencyRecord
from tradeloop.kit.models import utcnow
from tradeloop.kit.security import credential_scope

KEPT_HEADERS = ("content-type", "location")
KEY_LIFETIME = timedelta(hours=24)
#: Request bodies are held in memory to fingerprint them: at most the upload limit plus this much.
MAX_OVERHEAD_BYTES = 64 * 1024


class IdempotencyStore:
    """The queries of the idempotency table (run in worker threads by the middleware)."""

    def __init__(self, db):
        self.db = db

    def reserve(self, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """None when reserved for this request; else the existing record."""
        try:
            with self.db.transaction() as s:
                s.execute(delete(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.created_at < utcnow() - KEY_LIFETIME))
                s.add(IdempotencyRecord(scope=scope, key=key, fingerprint=fingerprint))
            return None
        except IntegrityError:
            with self.db.transaction(write=False) as s:
                row = s.scalar(select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key))
                if row is None:  # released between our insert and read: let the caller retry
                    raise
                s.expunge(row)
                return row

    def complete(self, scope: str, key: str, status: int, headers: dict, body: bytes) -> None:
        with self.db.transaction() as s:
            row = s.get(IdempotencyRecord, (scope, key))
            if row is not None:
                row.status_code, row.headers, row.body = status, headers, body

    def release(self, scope: str, key: str) -> None:
        with self.db.transaction() as s:
            s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key))


async def _problem(send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class IdempotencyMiddleware:
    def __init__(self, app, prefix: str = "/api/v1/"):
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        key = headers.get("idempotency-key")
        if key is None:
            return await self.app(scope, receive, send)
        if not key or len(key) > 255:
            return await _problem(send, 400, "Bad Idempotency-Key", "The key must be 1-255 characters.")
        session = scope.get("session") or {}
        cred = credential_scope(headers.get("authorization"), session.get("uid"))
        if cred is None:
            return await self.app(scope, receive, send)  # unauthenticated: the endpoint answers 401

        chunks = []
        size = 0
        limit = scope["app"].state.settings.max_upload_bytes + MAX_OVERHEAD_BYTES
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await _problem(send, 413, "Request too large",
                                      "The request body is larger than this server accepts.")
            more = message.get("more_body", False)
        body = b"".join(chunks)
        fingerprint = hashlib.sha256(
            b"\0".join([scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        store = IdempotencyStore(scope["app"].state.db)
        existing = await to_thread.run_sync(store.reserve, cred, key, fingerprint)
        if existing is not None:
            if existing.fingerprint != fingerprint:
                return await _problem(send, 422, "Idempotency-Key reused",
                                      "This key was already used for a different request.")
            if existing.status_code is None:
                return await _problem(send, 409, "Request in progress",
                                      "A request with this key is still being processed; retry later.")
            out = [(k.encode(), v.encode()) for k, v in (existing.headers or {}).items()]
            out += [(b"idempotent-replayed", b"true"), (b"content-length", str(len(existing.body or b"")).encode())]
            await send({"type": "http.response.start", "status": existing.status_code, "headers": out})
            await send({"type": "http.response.body", "body": existing.body or b""})
            return

        replayed = False

        async def replay_receive():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        # The response is held back until it is stored, so a retry never finds the key still pending
        # after the client has seen the answer.
        status = 500
        resp_headers: dict[str, str] = {}
        resp_body: list[bytes] = []
        held: list[dict] = []

        async def capture(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for k, v in message.get("headers", []):
                    name = k.decode().lower()
                    if name in KEPT_HEADERS:
                        resp_headers[name] = v.decode("latin-1")
            elif message["type"] == "http.response.body":
                resp_body.append(message.get("body", b""))
            held.append(message)

        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:
            await to_thread.run_sync(store.release, cred, key)
            raise
        if status >= 500 or status in (401, 403):
            # Server errors may be retried; an unknown credential must not be able to fill the table.
            await to_thread.run_sync(store.release, cred, key)
        else:
            await to_thread.run_sync(store.complete, cred, key, status, resp_headers, b"".join(resp_body))
        for message in held:
            await send(message)
