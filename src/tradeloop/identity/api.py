"""Login for browser clients, the current principal, members and API keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from tradeloop.identity import service
from tradeloop.identity.repository import IdentityRepository, MemberRepository
from tradeloop.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    Me,
    MemberCreate,
    MemberRead,
    MembershipBrief,
    MemberUpdate,
    PasswordChange,
)
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.errors import DomainError, Problem
from tradeloop.kit.pagination import Page
from tradeloop.kit.security import new_csrf_token
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.web import DB, CurrentPrincipal, csrf_token

router = APIRouter(tags=["identity"])


def _me(db, principal: Principal, request: Request) -> Me:
    repo = IdentityRepository(db)
    user = repo.user(principal.user_id) if principal.user_id else None
    memberships = [
        MembershipBrief(enterprise_id=m.enterprise_id, enterprise_name=e.name_zh, role=m.role)
        for m, e in repo.memberships_of(user.id)
    ] if user else []
    region = principal.regulator_region
    return Me(
        kind=principal.kind, user_id=principal.user_id, username=user.username if user else None,
        display_name=user.display_name if user else None, enterprise_id=principal.enterprise_id,
        role=principal.role, api_scope=principal.api_scope, is_platform_admin=principal.is_platform_admin,
        regulator_region=region.__dict__ if region else None, memberships=memberships,
        csrf_token=csrf_token(request) if principal.kind == "user" else None,
    )


@router.post("/auth/login", response_model=Me)
def login(body: LoginRequest, request: Request, db: DB):
    """Log in with user name and password; sets the session cookie. Send the returned ``csrf_token`` as
    ``X-CSRF-Token`` on later unsafe requests made with the cookie."""
    settings = request.app.state.settings
    try:
        user = service.authenticate(db, username=body.username, password=body.password,
                                    client=request.client.host if request.client else None,
                                    max_failures=settings.login_max_failures,
                                    window_seconds=settings.login_failure_window_seconds)
    except DomainError as exc:
        # Returned, not raised: the recorded failure must commit with this request.
        headers = {"Retry-After": str(exc.extra.get("retry_after"))} if exc.status == 429 else None
        return Problem(exc.status, exc.title, exc.detail, exc.type_slug,
                       extra={k: v for k, v in exc.extra.items() if k != "retry_after"}).response(request, headers)
    request.session.clear()
    request.session.update({"uid": str(user.id), "csrf": new_csrf_token()})
    principal = service.principal_for_user(db, user_id=user.id, enterprise_id=None)
    if principal.enterprise_id:
        request.session["eid"] = str(principal.enterprise_id)
    return _me(db, principal, request)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request):
    request.session.clear()
    return Response(status_code=204)


@router.get("/me", response_model=Me)
def me(principal: CurrentPrincipal, request: Request, db: DB):
    return _me(db, principal, request)


def _member_read(m, u) -> MemberRead:
    return MemberRead(id=m.id, user_id=u.id, username=u.username, display_name=u.display_name, role=m.role,
                      created_at=m.created_at)


@router.post("/me/password", status_code=204)
def change_password(body: PasswordChange, principal: CurrentPrincipal, db: DB):
    """Change the logged-in user's password (API keys have none)."""
    service.change_password(db, principal=principal, current_password=body.current_password,
                            new_password=body.new_password)
    return Response(status_code=204)


@router.get("/members", response_model=Page[MemberRead])
def list_members(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    principal.tenant(Action.READ)
    rows, nxt = MemberRepository(db, principal).members_page(cursor=cursor, limit=limit)
    return Page(items=[_member_read(m, u) for m, u in rows], next_cursor=nxt)


@router.post("/members", response_model=MemberRead, status_code=201)
def add_member(body: MemberCreate, principal: CurrentPrincipal, db: DB):
    m, u = service.add_member(db, principal=principal, username=body.username, display_name=body.display_name,
                              password=body.password, role=body.role, email=body.email)
    return _member_read(m, u)


@router.patch("/members/{membership_id}", response_model=MemberRead)
def change_role(membership_id: uuid.UUID, body: MemberUpdate, principal: CurrentPrincipal, db: DB):
    m = service.change_role(db, principal=principal, membership_id=membership_id, role=body.role)
    _m, u = MemberRepository(db, principal).member(m.id)
    return _member_read(m, u)


@router.delete("/members/{membership_id}", status_code=204)
def remove_member(membership_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    service.remove_member(db, principal=principal, membership_id=membership_id)
    return Response(status_code=204)


@router.get("/api-keys", response_model=Page[ApiKeyRead])
def list_api_keys(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None):
    principal.tenant(Action.MANAGE)
    rows, nxt = MemberRepository(db, principal).api_keys_page(cursor=cursor, limit=limit)
    return Page(items=[ApiKeyRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_api_key(body: ApiKeyCreate, principal: CurrentPrincipal, db: DB):
    row, key = service.create_api_key(db, principal=principal, name=body.name, scope=body.scope)
    return ApiKeyCreated(**ApiKeyRead.model_validate(row).model_dump(), key=key)


@router.post("/api-keys/{api_key_id}/revoke", response_model=ApiKeyRead)
def revoke_api_key(api_key_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    return ApiKeyRead.model_validate(service.revoke_api_key(db, principal=principal, api_key_id=api_key_id))
