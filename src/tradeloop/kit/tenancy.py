"""Who is acting, for which tenant, and what they may do.

A :class:`Principal` is built once per request (session cookie or API key) or per CLI command. Every
repository starts its queries from ``principal.enterprise_id``; every service checks an
:class:`Action` first. This is the one place deciding what an enterprise user, an API key, a regulator
or a platform admin may read or change.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from tradeloop.kit.errors import Forbidden


class Action(enum.StrEnum):
    READ = "read"  # read the tenant's own data
    WRITE = "write"  # change the tenant's business data
    MANAGE = "manage"  # users, API keys, enterprise profile
    PLATFORM = "platform"  # enterprises across tenants, reference data
    STATS = "stats"  # aggregates over a region (regulators)


TENANT_ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "admin": frozenset({Action.READ, Action.WRITE, Action.MANAGE}),
    "operator": frozenset({Action.READ, Action.WRITE}),
    "warehouse_operator": frozenset({Action.READ, Action.WRITE}),
    "viewer": frozenset({Action.READ}),
}
API_SCOPE_ACTIONS: dict[str, frozenset[Action]] = {
    "read": frozenset({Action.READ}),
    "write": frozenset({Action.READ, Action.WRITE}),
}


@dataclass(frozen=True)
class Region:
    province: str
    city: str | None = None
    district: str | None = None


@dataclass(frozen=True)
class Principal:
    kind: str  # "user", "api_key" or "system"
    label: str
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    enterprise_id: uuid.UUID | None = None
    role: str | None = None
    api_scope: str | None = None
    is_platform_admin: bool = False
    regulator_region: Region | None = None

    @property
    def actions(self) -> frozenset[Action]:
        granted: set[Action] = set()
        if self.enterprise_id is not None:
            if self.kind == "api_key" and self.api_scope:
                granted |= API_SCOPE_ACTIONS[self.api_scope]
            elif self.role:
                granted |= TENANT_ROLE_ACTIONS[self.role]
            elif self.kind == "system":
                granted |= {Action.READ, Action.WRITE, Action.MANAGE}
        if self.is_platform_admin:
            granted |= {Action.PLATFORM, Action.STATS}
        if self.regulator_region is not None:
            granted.add(Action.STATS)
        return frozenset(granted)

    def can(self, action: Action) -> bool:
        return action in self.actions

    def require(self, action: Action) -> uuid.UUID | None:
        """Raise 403 unless allowed; returns the tenant id for tenant actions."""
        if not self.can(action):
            raise Forbidden(f"This account may not perform '{action}' here.",
                            required=str(action), message_zh="当前账户无此操作权限")
        return self.enterprise_id

    def tenant(self, action: Action = Action.READ) -> uuid.UUID:
        """The tenant id, after checking ``action``; tenant data needs a tenant."""
        self.require(action)
        if self.enterprise_id is None:  # pragma: no cover - guarded by actions
            raise Forbidden("No enterprise selected.")
        return self.enterprise_id


def system_principal(enterprise_id: uuid.UUID | None = None, label: str = "system") -> Principal:
    """For the CLI and the demo: acts with full rights, audited under its label."""
    return Principal(kind="system", label=label, enterprise_id=enterprise_id, is_platform_admin=True)
