from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tradeloop.identity.models import ApiScope, Role


class LoginRequest(BaseModel):
    username: str
    password: str


class PasswordChange(BaseModel):
    current_password: str
    new_password: str


class MemberCreate(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=200)
    password: str
    email: str | None = None
    role: Role


class AdminCreate(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    display_name: str = Field(min_length=1, max_length=200)
    password: str
    email: str | None = None


class MemberUpdate(BaseModel):
    role: Role


class MemberRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    username: str
    display_name: str
    role: str
    created_at: datetime


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scope: ApiScope


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="Shown once; only its hash is stored.")


class MembershipBrief(BaseModel):
    enterprise_id: uuid.UUID
    enterprise_name: str
    role: str


class Me(BaseModel):
    kind: str
    user_id: uuid.UUID | None
    username: str | None
    display_name: str | None
    enterprise_id: uuid.UUID | None
    role: str | None
    api_scope: str | None
    is_platform_admin: bool
    regulator_region: dict | None
    memberships: list[MembershipBrief] = []
    csrf_token: str | None = None
