"""Test data built through the real services."""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from tradeloop.enterprises import service as enterprises
from tradeloop.enterprises.schemas import EnterpriseCreate
from tradeloop.enterprises.uscc import CHARSET, check_character
from tradeloop.identity import service as identity
from tradeloop.identity.models import ApiScope, Role
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse import service as warehouses
from tradeloop.warehouse.schemas import ClientCreate, WarehouseCreate

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def new_uscc(division: str = "320509") -> str:
    n = next(_counter)
    digits = []
    for _ in range(8):
        n, r = divmod(n, len(CHARSET))
        digits.append(CHARSET[r])
    first17 = "91" + division + "M" + "".join(reversed(digits))
    return first17 + check_character(first17)


@dataclass
class Tenant:
    enterprise: object
    users: dict = field(default_factory=dict)  # role -> username
    keys: dict = field(default_factory=dict)  # scope -> key
    warehouse: object = None


@dataclass
class World:
    a: Tenant
    b: Tenant
    operator: Tenant
    regulator: str
    platform_admin: str


def make_enterprise(s, *, kind="manufacturer", name="测试企业", **extra):
    return enterprises.create_enterprise(s, principal=system_principal(), data=EnterpriseCreate(
        uscc=new_uscc(), name_zh=name, kind=kind, **extra))


def make_warehouse(s, enterprise, *, code="US-LAX-1", country="US", **extra):
    principal = replace(system_principal(), enterprise_id=enterprise.id)
    values = dict(code=code, name_zh="洛杉矶仓", name_en="LA warehouse", country=country,
                  address="1 Harbor Way, Los Angeles, CA", unlocode="USLAX", area_m2=Decimal("1000"),
                  tenure="owned", operator_name="Harbor 3PL")
    values.update(extra)
    return warehouses.create_warehouse(s, principal=principal, data=WarehouseCreate(**values))


def build_world(db) -> World:
    system = system_principal()
    with db.transaction() as s:
        tenants = {}
        for key, kind, name in (("a", "manufacturer", "甲企业"), ("b", "trader", "乙企业"),
                                ("operator", "warehouse", "丙海外仓")):
            ent = make_enterprise(s, kind=kind, name=name, province="江苏省", city="苏州市",
                                  district="吴江区" if key == "a" else "姑苏区")
            tenant = Tenant(ent)
            for role in Role:
                username = f"{key}-{role.value}"
                user = identity.create_user(s, principal=system, username=username, display_name=username,
                                            password=PASSWORD)
                identity.grant_membership(s, principal=system, user=user, enterprise_id=ent.id, role=role)
                tenant.users[role.value] = username
            as_tenant = replace(system, enterprise_id=ent.id)
            for scope in ApiScope:
                _row, key_value = identity.create_api_key(s, principal=as_tenant, name=f"{key}-{scope.value}",
                                                          scope=scope)
                tenant.keys[scope.value] = key_value
            tenant.warehouse = make_warehouse(s, ent, code=f"{key.upper()}-WH-1")
            tenants[key] = tenant
        regulator = identity.create_user(s, principal=system, username="regulator", display_name="监管",
                                         password=PASSWORD)
        identity.set_regulator_scope(s, principal=system, user=regulator, authority="苏州市商务局",
                                     province="江苏省", city="苏州市")
        identity.create_user(s, principal=system, username="platform", display_name="平台",
                             password=PASSWORD, is_platform_admin=True)
        # Exporter a stores goods in the operator's warehouse.
        warehouses.add_client(s, principal=replace(system, enterprise_id=tenants["operator"].enterprise.id),
                              warehouse_id=tenants["operator"].warehouse.id,
                              data=ClientCreate(client_uscc=tenants["a"].enterprise.uscc, since=date(2025, 1, 1)))
    return World(tenants["a"], tenants["b"], tenants["operator"], "regulator", "platform")


@contextmanager
def scratch(db):
    """A write session that is always rolled back: many attempts against one database, and nothing
    reaches the tables kept between tests (reference data)."""
    session = db.write_sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def login(client, username: str, password: str = PASSWORD) -> str:
    """Log in through the JSON API; returns the CSRF token for later unsafe requests."""
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def page_login(client, username: str, password: str = PASSWORD):
    """Log in through the login form (with its CSRF token), as a browser does."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": "/"}, follow_redirects=False)


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
