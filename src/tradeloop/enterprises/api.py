"""The current enterprise's profile; enterprises across tenants for platform admins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from tradeloop.enterprises import service
from tradeloop.enterprises.models import EnterpriseKind
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.enterprises.schemas import EnterpriseCreate, EnterpriseRead, EnterpriseUpdate
from tradeloop.identity import service as identity
from tradeloop.identity.schemas import AdminCreate, MemberRead
from tradeloop.kit.api import Cursor, Limit
from tradeloop.kit.pagination import Page
from tradeloop.kit.tenancy import Action
from tradeloop.kit.web import DB, CurrentPrincipal

router = APIRouter(tags=["enterprises"])


@router.get("/enterprise", response_model=EnterpriseRead)
def get_profile(principal: CurrentPrincipal, db: DB):
    return EnterpriseRepository(db, principal).get(principal.tenant(Action.READ))


@router.patch("/enterprise", response_model=EnterpriseRead)
def update_profile(body: EnterpriseUpdate, principal: CurrentPrincipal, db: DB):
    return service.update_profile(db, principal=principal, data=body)


@router.get("/admin/enterprises", response_model=Page[EnterpriseRead])
def list_enterprises(principal: CurrentPrincipal, db: DB, cursor: Cursor = None, limit: Limit = None,
                     kind: Annotated[EnterpriseKind | None, Query()] = None, q: str | None = None):
    principal.require(Action.PLATFORM)
    rows, nxt = EnterpriseRepository(db, principal).page(cursor=cursor, limit=limit, kind=kind, q=q)
    return Page(items=[EnterpriseRead.model_validate(r) for r in rows], next_cursor=nxt)


@router.post("/admin/enterprises", response_model=EnterpriseRead, status_code=201)
def create_enterprise(body: EnterpriseCreate, principal: CurrentPrincipal, db: DB):
    return service.create_enterprise(db, principal=principal, data=body)


@router.post("/admin/enterprises/{enterprise_id}/admins", response_model=MemberRead, status_code=201)
def add_enterprise_admin(enterprise_id: uuid.UUID, body: AdminCreate, principal: CurrentPrincipal, db: DB):
    """Create a user as admin of the enterprise (typically its first admin)."""
    m, u = identity.add_enterprise_admin(db, principal=principal, enterprise_id=enterprise_id,
                                         username=body.username, display_name=body.display_name,
                                         password=body.password, email=body.email)
    return MemberRead(id=m.id, user_id=u.id, username=u.username, display_name=u.display_name, role=m.role,
                      created_at=m.created_at)


@router.get("/admin/enterprises/{enterprise_id}", response_model=EnterpriseRead)
def get_enterprise(enterprise_id: uuid.UUID, principal: CurrentPrincipal, db: DB):
    principal.require(Action.PLATFORM)
    return EnterpriseRepository(db, principal).get(enterprise_id)
