"""Request plumbing shared by the API and the pages: database session, principal, CSRF, request id."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from tradeloop.kit.context import request_id_var
from tradeloop.kit.errors import DomainError, Forbidden, Unauthorized
from tradeloop.kit.i18n import locale_var, negotiate, timezone_var
from tradeloop.kit.security import new_csrf_token, tokens_equal
from tradeloop.kit.tenancy import Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: read-only for safe methods, ``BEGIN IMMEDIATE`` on SQLite otherwise.
    It commits when the endpoint returns, before the response is sent, and rolls back on any error."""
    with request.app.state.db.transaction(write=request.method not in SAFE_METHODS) as session:
        yield session


DB = Annotated[Session, Depends(get_db, scope="function")]


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def _resolve(request: Request, db: Session) -> tuple[Principal | None, bool]:
    """(principal, via_cookie)."""
    from tradeloop.identity import service as identity

    auth = request.headers.get("authorization")
    if auth:
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Unauthorized("Use 'Authorization: Bearer <API key>'.")
        principal = identity.principal_for_api_key(db, key=key.strip())
        if principal is None:
            raise Unauthorized("The API key is unknown or revoked.", message_zh="API密钥无效或已吊销")
        return principal, False
    uid = request.session.get("uid")
    if not uid:
        return None, False
    import uuid

    try:
        user_id = uuid.UUID(uid)
        enterprise_id = uuid.UUID(request.session["eid"]) if request.session.get("eid") else None
    except ValueError:
        request.session.clear()
        return None, False
    principal = identity.principal_for_user(db, user_id=user_id, enterprise_id=enterprise_id)
    if principal is None:
        request.session.clear()
    return principal, True


def api_principal(request: Request, db: DB) -> Principal:
    """API callers: a Bearer API key, or a logged-in browser session that sends ``X-CSRF-Token``."""
    principal, via_cookie = _resolve(request, db)
    if principal is None:
        raise Unauthorized("Log in or send an API key.", message_zh="请登录或提供API密钥")
    if via_cookie and request.method not in SAFE_METHODS and not tokens_equal(
        request.headers.get("x-csrf-token"), request.session.get("csrf")
    ):
        raise Forbidden("Missing or wrong X-CSRF-Token header.", message_zh="CSRF校验失败")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(api_principal)]


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


def page_principal(request: Request, db: DB) -> Principal:
    principal, _ = _resolve(request, db)
    if principal is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    request.state.principal = principal
    if principal.user_id:
        from tradeloop.identity.repository import IdentityRepository

        repo = IdentityRepository(db)
        user = repo.user(principal.user_id)
        request.state.user_display = user.display_name if user else principal.label
        request.state.memberships = [
            {"enterprise_id": str(m.enterprise_id), "name_zh": e.name_zh, "name_en": e.name_en, "role": m.role}
            for m, e in repo.memberships_of(principal.user_id)
        ]
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]


async def csrf_protect(request: Request) -> None:
    """Every page form posts the session's CSRF token (field ``csrf_token`` or header ``X-CSRF-Token``)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token")
    if not sent:
        form = await request.form()
        sent = form.get("csrf_token")
    if not tokens_equal(sent if isinstance(sent, str) else None, request.session.get("csrf")):
        raise Forbidden("The form has expired or was not sent by this site; reload the page and try again.",
                        message_zh="表单已过期或来源无效，请刷新页面后重试")


CSRF = Depends(csrf_protect)


async def form_data(request: Request) -> dict[str, str]:
    """The posted form's text fields (read once, here, so page handlers can stay synchronous and run
    their database work in the thread pool)."""
    form = await request.form()
    return {k: v if "password" in k else v.strip() for k, v in form.items() if isinstance(v, str)}


FormData = Annotated[dict, Depends(form_data)]


def login_redirect(next_url: str) -> str:
    return f"/login?next={quote(next_url)}"


class RequestContextMiddleware:
    """Sets the request id (``X-Request-ID``), the locale (cookie ``lang``, set by ``/lang/<code>``) and the
    time zone."""

    def __init__(self, app, settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        rid = headers.get("x-request-id", "")[:64] or secrets.token_hex(8)
        from http.cookies import SimpleCookie

        cookies = SimpleCookie()
        with contextlib.suppress(Exception):  # a malformed cookie header only loses the language choice
            cookies.load(headers.get("cookie", ""))
        lang = cookies["lang"].value if "lang" in cookies else None
        locale = negotiate(lang or self.settings.default_locale)
        scope.setdefault("state", {})
        scope["state"]["request_id"] = rid
        scope["state"]["locale"] = locale
        t1 = request_id_var.set(rid)
        t2 = locale_var.set(locale)
        t3 = timezone_var.set(self.settings.default_timezone)

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(t1)
            locale_var.reset(t2)
            timezone_var.reset(t3)


__all__ = ["DB", "CSRF", "CurrentPrincipal", "PagePrincipal", "DomainError", "LoginRequired", "csrf_token"]
