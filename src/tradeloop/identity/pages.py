"""Login, logout, users and roles, API keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Form, Request

from tradeloop.identity import service
from tradeloop.identity.models import ApiScope, Role
from tradeloop.identity.repository import MemberRepository
from tradeloop.kit.errors import DomainError, ValidationFailed
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import error_messages, flash, redirect
from tradeloop.kit.security import new_csrf_token
from tradeloop.kit.templating import render, role_label
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.shell.pages import safe_next

router = APIRouter()


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    return render(request, "login.html", {"next": safe_next(next), "errors": {}, "username": ""})


@router.post("/login", dependencies=[CSRF])
def login(request: Request, db: DB, username: str = Form(""), password: str = Form(""), next: str = Form("/")):
    settings = request.app.state.settings
    try:
        user = service.authenticate(db, username=username, password=password,
                                    client=request.client.host if request.client else None,
                                    max_failures=settings.login_max_failures,
                                    window_seconds=settings.login_failure_window_seconds)
    except DomainError as exc:
        # Rendered, not raised, so the recorded failure commits.
        return render(request, "login.html", {"next": safe_next(next), "errors": error_messages(exc),
                                              "username": username}, status_code=exc.status)
    request.session.clear()
    request.session.update({"uid": str(user.id), "csrf": new_csrf_token()})
    principal = service.principal_for_user(db, user_id=user.id, enterprise_id=None)
    if principal and principal.enterprise_id:
        request.session["eid"] = str(principal.enterprise_id)
    return redirect(safe_next(next))


@router.post("/logout", dependencies=[CSRF])
def logout(request: Request):
    request.session.clear()
    return redirect("/login")


@router.get("/account")
def account(request: Request, principal: PagePrincipal):
    return render(request, "account.html", {"active": "account", "errors": {}})


@router.post("/account/password", dependencies=[CSRF])
def change_password(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    try:
        service.change_password(db, principal=principal, current_password=form.get("current_password", ""),
                                new_password=form.get("new_password", ""))
    except ValidationFailed as exc:
        db.rollback()
        return render(request, "account.html", {"active": "account", "errors": error_messages(exc)},
                      status_code=422)
    flash(request, _("Password changed."))
    return redirect("/account")


def _roles():
    return [(r.value, role_label(r.value)) for r in Role]


def _users_page(request, db, principal, *, errors=None, form=None, status_code=200):
    members = MemberRepository(db, principal).members()
    return render(request, "users.html", {"active": "users", "members": members, "roles": _roles(),
                                          "errors": errors or {}, "form": form or {},
                                          "can_manage": principal.can(Action.MANAGE)}, status_code=status_code)


@router.get("/users")
def users(request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.READ)
    return _users_page(request, db, principal)


@router.post("/users", dependencies=[CSRF])
def add_user(request: Request, principal: PagePrincipal, db: DB, username: str = Form(""),
             display_name: str = Form(""), password: str = Form(""), role: str = Form("viewer"),
             email: str = Form("")):
    form = {"username": username, "display_name": display_name, "role": role, "email": email}
    try:
        _m, user = service.add_member(db, principal=principal, username=username, display_name=display_name,
                                      password=password, role=role, email=email or None)
    except DomainError as exc:
        if exc.status != 422:
            raise
        db.rollback()
        return _users_page(request, db, principal, errors=error_messages(exc), form=form, status_code=422)
    flash(request, _("User %(name)s added.", name=user.username))
    return redirect("/users")


@router.post("/users/{membership_id}/role", dependencies=[CSRF])
def change_role(membership_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB,
                role: str = Form(...)):
    if role not in [r.value for r in Role]:
        flash(request, _("Unknown role."), "error")
        return redirect("/users")
    try:
        service.change_role(db, principal=principal, membership_id=membership_id, role=Role(role))
    except DomainError as exc:
        if exc.status != 409:
            raise
        db.rollback()
        flash(request, error_messages(exc)["_"], "error")
        return redirect("/users")
    flash(request, _("Role changed."))
    return redirect("/users")


@router.post("/users/{membership_id}/remove", dependencies=[CSRF])
def remove_user(membership_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    try:
        service.remove_member(db, principal=principal, membership_id=membership_id)
    except DomainError as exc:
        if exc.status != 409:
            raise
        db.rollback()
        flash(request, error_messages(exc)["_"], "error")
        return redirect("/users")
    flash(request, _("User removed from the enterprise."))
    return redirect("/users")


def _keys_page(request, db, principal, *, new_key=None, errors=None, status_code=200):
    principal.tenant(Action.MANAGE)
    rows, _next = MemberRepository(db, principal).api_keys_page(cursor=None, limit=500)
    return render(request, "api_keys.html", {"active": "api-keys", "keys": rows, "new_key": new_key,
                                             "scopes": [(s.value, s.value) for s in ApiScope],
                                             "errors": errors or {}}, status_code=status_code)


@router.get("/api-keys")
def api_keys(request: Request, principal: PagePrincipal, db: DB):
    return _keys_page(request, db, principal)


@router.post("/api-keys", dependencies=[CSRF])
def create_api_key(request: Request, principal: PagePrincipal, db: DB, name: str = Form(""),
                   scope: str = Form("read")):
    try:
        _row, key = service.create_api_key(db, principal=principal, name=name, scope=scope)
    except DomainError as exc:
        if exc.status != 422:
            raise
        db.rollback()
        return _keys_page(request, db, principal, errors=error_messages(exc), status_code=422)
    return _keys_page(request, db, principal, new_key=key)


@router.post("/api-keys/{api_key_id}/revoke", dependencies=[CSRF])
def revoke_api_key(api_key_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    service.revoke_api_key(db, principal=principal, api_key_id=api_key_id)
    flash(request, _("API key revoked."))
    return redirect("/api-keys")
