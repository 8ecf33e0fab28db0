"""Every API endpoint, tried with another tenant's ids and with each role.

The list of operations is read from the OpenAPI document, so an endpoint added without an entry here
fails ``TestMatrixCoversEveryEndpoint``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

import pytest
from fastapi.testclient import TestClient

from tests.factories import PASSWORD, bearer, new_uscc
from tradeloop.catalog import service as catalog
from tradeloop.catalog.schemas import ProductCreate
from tradeloop.identity.repository import MemberRepository
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse import service as warehouses
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.schemas import FilingCreate

PDF = b"%PDF-1.4\n%test\n"


def _warehouse_body():
    return {"code": f"M-{uuid.uuid4().hex[:8]}", "name_zh": "矩阵仓", "country": "DE", "address": "Hafenstr. 1",
            "tenure": "owned", "operator_name": "X GmbH"}


def _product_body():
    return {"sku": f"M-{uuid.uuid4().hex[:8]}", "name_zh": "矩阵围巾", "declared_name": "围巾",
            "hs_code": "6214100090", "customs_unit": "011"}


def _products_csv() -> bytes:
    """One new product per call: an allowed import changes exactly one row (one audit row)."""
    return (f"SKU,中文名称,申报品名,HS编码,申报计量单位\nM-{uuid.uuid4().hex[:8]},矩阵围巾,围巾,6214100090,011\n"
            .encode())


# (method, path) -> (permission, body builder or None, is multipart)
OPERATIONS = {
    ("POST", "/api/v1/auth/login"): ("public", None),
    ("POST", "/api/v1/auth/logout"): ("public", None),
    ("GET", "/api/v1/me"): ("auth", None),
    ("POST", "/api/v1/me/password"): ("user", lambda w: {"current_password": PASSWORD,
                                                         "new_password": f"new-{uuid.uuid4().hex[:8]}"}),
    ("GET", "/api/v1/members"): ("read", None),
    ("POST", "/api/v1/members"): ("manage", lambda w: {"username": f"u{uuid.uuid4().hex[:8]}", "display_name": "新人",
                                                       "password": "long enough pw", "role": "viewer"}),
    ("PATCH", "/api/v1/members/{membership_id}"): ("manage", lambda w: {"role": "operator"}),
    ("DELETE", "/api/v1/members/{membership_id}"): ("manage", None),
    ("GET", "/api/v1/api-keys"): ("manage", None),
    ("POST", "/api/v1/api-keys"): ("manage", lambda w: {"name": "k", "scope": "read"}),
    ("POST", "/api/v1/api-keys/{api_key_id}/revoke"): ("manage", None),
    ("GET", "/api/v1/enterprise"): ("read", None),
    ("PATCH", "/api/v1/enterprise"): ("manage", lambda w: {"city": "苏州市"}),
    ("GET", "/api/v1/admin/enterprises"): ("platform", None),
    ("POST", "/api/v1/admin/enterprises"): ("platform", lambda w: {"uscc": new_uscc(), "name_zh": "新企业",
                                                                   "kind": "trader"}),
    ("GET", "/api/v1/admin/enterprises/{enterprise_id}"): ("platform", None),
    ("POST", "/api/v1/admin/enterprises/{enterprise_id}/admins"): ("platform", lambda w: {
        "username": f"adm{uuid.uuid4().hex[:8]}", "display_name": "首位管理员", "password": "long enough pw"}),
    ("GET", "/api/v1/catalog/products"): ("read", None),
    ("POST", "/api/v1/catalog/products"): ("write", lambda w: _product_body()),
    ("POST", "/api/v1/catalog/products/import"): ("write", "products-file"),
    ("GET", "/api/v1/catalog/products/{product_id}"): ("read", None),
    ("PATCH", "/api/v1/catalog/products/{product_id}"): ("write", lambda w: {
        "brand": f"B{uuid.uuid4().hex[:6]}"}),
    ("GET", "/api/v1/catalog/hs-codes"): ("auth", None),
    ("GET", "/api/v1/warehouses"): ("read", None),
    ("POST", "/api/v1/warehouses"): ("write", lambda w: _warehouse_body()),
    ("GET", "/api/v1/warehouses/{warehouse_id}"): ("read", None),
    ("PATCH", "/api/v1/warehouses/{warehouse_id}"): ("write", lambda w: {"contact": "ops@example.com"}),
    ("GET", "/api/v1/warehouses/{warehouse_id}/clients"): ("read", None),
    ("POST", "/api/v1/warehouses/{warehouse_id}/clients"): ("write", lambda w: {"client_uscc": w.spare_uscc}),
    ("DELETE", "/api/v1/warehouses/{warehouse_id}/clients/{client_id}"): ("write", None),
    ("GET", "/api/v1/warehouses/{warehouse_id}/evidence"): ("read", None),
    ("POST", "/api/v1/warehouses/{warehouse_id}/evidence"): ("write", "multipart"),
    ("GET", "/api/v1/warehouses/{warehouse_id}/evidence/{evidence_id}/content"): ("read", None),
    ("GET", "/api/v1/warehouses/{warehouse_id}/filings"): ("read", None),
    ("POST", "/api/v1/warehouses/{warehouse_id}/filings"): ("write", lambda w: {
        "customs_office": "2248", "modes": "9810", "filed_on": "2023-03-01"}),
    ("POST", "/api/v1/warehouses/{warehouse_id}/filings/{filing_id}/events"): ("write", lambda w: {
        "status": "changed", "effective_on": "2023-06-01", "note": "扩建"}),
    ("GET", "/api/v1/customs/declarations"): ("read", None),
    ("POST", "/api/v1/customs/declarations"): ("write", lambda w: _declaration_body(w)),
    ("GET", "/api/v1/customs/declarations/{declaration_id}"): ("read", None),
    ("PATCH", "/api/v1/customs/declarations/{declaration_id}"): ("write", lambda w: {
        "note": f"N{uuid.uuid4().hex[:6]}"}),
    ("DELETE", "/api/v1/customs/declarations/{declaration_id}"): ("write", None),
    ("POST", "/api/v1/customs/declarations/{declaration_id}/submit"): ("write", None),
    ("POST", "/api/v1/customs/declarations/{declaration_id}/cancel"): ("write", lambda w: {"reason": "买家取消"}),
    ("GET", "/api/v1/customs/declarations/{declaration_id}/messages"): ("read", None),
    ("GET", "/api/v1/customs/messages/{message_id}/xml"): ("read", None),
    ("GET", "/api/v1/customs/summaries"): ("read", None),
    ("POST", "/api/v1/customs/summaries"): ("write", lambda w: {"month": w.ids["month"]}),
    ("GET", "/api/v1/customs/summaries/{summary_id}"): ("read", None),
    ("POST", "/api/v1/customs/inbox"): ("write", "receipt-file"),
    ("GET", "/api/v1/customs/quarantine"): ("read", None),
    ("GET", "/api/v1/customs/quarantine/{item_id}/file"): ("read", None),
    ("POST", "/api/v1/customs/quarantine/{item_id}/resolve"): ("write", lambda w: {"resolution": "已核实"}),
    ("GET", "/api/v1/customs/admin/quarantine"): ("platform", None),
    ("GET", "/api/v1/customs/admin/quarantine/{item_id}/file"): ("platform", None),
    ("POST", "/api/v1/customs/admin/quarantine/{item_id}/resolve"): ("platform", lambda w: {"resolution": "已核实"}),
    ("GET", "/api/v1/audit"): ("read", None),
    ("GET", "/api/v1/reference/datasets"): ("auth", None),
    ("GET", "/api/v1/reference/{dataset}"): ("auth", None),
    ("GET", "/api/v1/stats/overview"): ("stats", None),
}

ALLOWED = {
    "read": {"admin", "operator", "viewer", "warehouse_operator", "key_read", "key_write"},
    "write": {"admin", "operator", "warehouse_operator", "key_write"},
    "manage": {"admin"},
    "platform": {"platform"},
    "stats": {"regulator", "platform"},
    "auth": {"admin", "operator", "viewer", "warehouse_operator", "key_read", "key_write", "regulator", "platform"},
    "user": {"admin", "operator", "viewer", "warehouse_operator", "regulator", "platform"},
}
ROLES = ["anonymous", "regulator", "platform", "key_read", "viewer", "operator", "warehouse_operator", "key_write",
         "admin"]


@dataclass
class Targets:
    ids: dict
    spare_uscc: str
    secrets: list  # strings of tenant a that must never reach another tenant


def _targets(db, world) -> Targets:
    """Objects of tenant a (the victim) for every path parameter."""
    a = world.a
    system = replace(system_principal(), enterprise_id=a.enterprise.id)
    with db.transaction() as s:
        members = MemberRepository(s, system).members()
        viewer_membership = next(m for m, u in members if u.username == a.users["viewer"])
        keys, _ = MemberRepository(s, system).api_keys_page(cursor=None, limit=10)
        key = next(k for k in keys if k.scope == "read")
        from tradeloop.kit.files import FileStore

        evidence = warehouses.add_evidence(s, principal=system, store=FileStore(_files_root()), max_bytes=10_000,
                                           warehouse_id=a.warehouse.id, kind="lease", filename="a-lease.pdf",
                                           data=PDF)
        filing = warehouses.record_filing(s, principal=system, warehouse_id=a.warehouse.id, data=FilingCreate(
            customs_office="2248", modes="9810", filed_on="2022-05-01"))
        from tradeloop.warehouse.schemas import ClientCreate

        link = warehouses.add_client(s, principal=system, warehouse_id=a.warehouse.id,
                                     data=ClientCreate(client_uscc=world.operator.enterprise.uscc))
        clients = WarehouseRepository(s, system).clients(a.warehouse.id)
        assert link in clients
        product = catalog.create_product(s, principal=system, data=ProductCreate(
            sku="A-SECRET-SKU-1", name_zh="甲企业的围巾", declared_name="围巾", hs_code="6214100090",
            customs_unit="011", unit1="011", unit1_factor=1, gross_weight_kg="0.1", net_weight_kg="0.08"))
    customs = _customs_targets(db, world, system)
    ids = {"membership_id": viewer_membership.id, "api_key_id": key.id, "enterprise_id": a.enterprise.id,
           "warehouse_id": a.warehouse.id, "client_id": link.id, "evidence_id": evidence.id,
           "filing_id": filing.id, "dataset": "countries", "product_id": product.id, **customs}
    secrets = [str(a.warehouse.id), a.warehouse.code, str(evidence.id), str(filing.id), str(viewer_membership.id),
               a.enterprise.uscc, str(key.id), str(link.id), str(product.id), product.sku,
               *(str(customs[k]) for k in ("declaration_id", "message_id", "summary_id", "item_id")),
               customs["cop_no"]]
    return Targets(ids, world.b.enterprise.uscc, secrets)


def _declaration_body(w) -> dict:
    return {"mode": "9810", "warehouse_id": str(w.ids["warehouse_id"]), "logistics_code": "3205980001",
            "logistics_name": "苏州国际货运代理有限公司", "logistics_no": f"L{uuid.uuid4().hex[:12]}",
            "customs_code": "2305", "port_code": "2201", "ie_date": "2026-11-02", "country": "US", "pod": "USLA",
            "traf_mode": "2", "currency": "USD", "wrap_type": "2", "pack_no": 1,
            "lines": [{"sku": "A-SECRET-SKU-1", "qty": "10", "price": "5"}]}


def _customs_targets(db, world, system) -> dict:
    """A draft (the target of changes), a closed and summarised declaration (messages, summary), a closed
    one waiting for its summary (so creating a summary succeeds once) and a quarantined upload."""
    from tradeloop.customs import gateway, inbound, service
    from tradeloop.customs.gateway import ExchangeFolders
    from tradeloop.customs.simulator import CustomsSimulator

    folders = ExchangeFolders(_files_root().parent / "matrix-exchange").ensure()
    config = service.ExchangeConfig()
    targets = Targets({"warehouse_id": world.a.warehouse.id}, "", [])

    def closed():
        with db.transaction() as s:
            decl = service.create_declaration(s, principal=system, data=_declaration_body(targets))
            service.submit_declaration(s, principal=system, declaration_id=decl.id, config=config)
        gateway.dispatch(db, folders)
        CustomsSimulator(folders).run_once()
        gateway.poll(db, folders)
        return decl

    first = closed()
    with db.transaction(write=False) as s:
        from tradeloop.customs.repository import DeclarationRepository

        repo = DeclarationRepository(s, system)
        first = repo.get(first.id)
        month = first.closed_at.astimezone(service.build.BEIJING).strftime("%Y-%m")
        message = repo.messages(first.id)[0]
    with db.transaction() as s:
        [summary] = service.create_summaries(s, principal=system, month=month, config=config)
    closed()
    with db.transaction() as s:
        draft = service.create_declaration(s, principal=system, data=_declaration_body(targets))
        item = inbound.upload_receipt(s, principal=system, filename="a-junk.xml", data=b"<not-xml", max_bytes=1000)
    return {"declaration_id": draft.id, "cop_no": draft.cop_no, "message_id": message.id, "summary_id": summary.id,
            "month": month, "item_id": item.quarantine_id}


_FILES = {}


def _files_root():
    return _FILES["root"]


@pytest.fixture
def targets(db, world, settings):
    _FILES["root"] = settings.files_dir
    return _targets(db, world)


def _clients(app, world, tenant):
    """A logged-in client per role of ``tenant`` (and regulator, platform admin, anonymous)."""
    out = {}
    logins = [(role, tenant.users[role]) for role in ("admin", "operator", "viewer", "warehouse_operator")]
    logins += [("regulator", world.regulator), ("platform", world.platform_admin)]
    for role, username in logins:
        c = TestClient(app)
        r = c.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        out[role] = c
    for scope in ("read", "write"):
        c = TestClient(app)
        c.headers.update(bearer(tenant.keys[scope]))
        out[f"key_{scope}"] = c
    out["anonymous"] = TestClient(app)
    return out


def _call(client, method, path, ids, body_spec, world):
    url = path.format(**{k: v for k, v in ids.items()})
    if body_spec == "products-file":
        return client.request(method, url, files={"file": ("products.csv", _products_csv(), "text/csv")})
    if body_spec == "receipt-file":
        return client.request(method, url, files={"file": ("r.xml", b"<junk " + uuid.uuid4().bytes.hex().encode(),
                                                           "text/xml")})
    if body_spec == "multipart":
        return client.request(method, url, files={"file": ("x.pdf", PDF + uuid.uuid4().bytes, "application/pdf")},
                              data={"kind": "lease"})
    body = body_spec(world) if callable(body_spec) else None
    return client.request(method, url, json=body)


def _audit_count(db) -> int:
    from sqlalchemy import func, select

    from tradeloop.audit.models import AuditLog

    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditLog))


class TestMatrixCoversEveryEndpoint:
    def test_operations_match_openapi(self, app):
        found = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() if p.startswith("/api/v1/")
                 for m in ops}
        assert found == set(OPERATIONS), "add new endpoints to OPERATIONS with their permission"


TENANT_OPS = [op for op, (perm, _b) in OPERATIONS.items()
              if perm not in ("public", "platform", "stats", "auth", "user")]


class TestAnotherTenantsIds:
    @pytest.mark.parametrize("op", [op for op in TENANT_OPS if "{" in op[1]], ids=lambda o: f"{o[0]} {o[1]}")
    def test_other_tenant_gets_404_and_no_data(self, app, world, targets, op):
        method, path = op
        _perm, body = OPERATIONS[op]
        intruders = _clients(app, world, world.b)
        for role in ("admin", "key_write", "viewer"):
            r = _call(intruders[role], method, path, targets.ids, body, targets)
            assert r.status_code in (403, 404), (role, r.status_code, r.text)
            # The problem document echoes the requested path ("instance"); anything else is a leak.
            echoed = r.text.replace(r.request.url.path, "")
            for secret in targets.secrets:
                assert secret not in echoed, (role, secret)

    @pytest.mark.parametrize("op", [op for op in TENANT_OPS if "{" not in op[1] and op[0] == "GET"],
                             ids=lambda o: f"{o[0]} {o[1]}")
    def test_other_tenant_lists_hold_no_data(self, app, world, targets, op):
        method, path = op
        intruders = _clients(app, world, world.b)
        for role in ("admin", "key_read"):
            r = _call(intruders[role], method, path, targets.ids, None, targets)
            assert r.status_code in (200, 403), r.text
            for secret in targets.secrets:
                assert secret not in r.text, (role, path, secret)

    def test_regulator_sees_aggregates_only(self, app, world, targets):
        c = _clients(app, world, world.a)["regulator"]
        r = c.get("/api/v1/stats/overview")
        assert r.status_code == 200
        body = r.json()
        assert body["enterprises_total"] == 3  # all three are in 江苏省苏州市
        for secret in targets.secrets:
            assert secret not in r.text


class TestRoles:
    @pytest.mark.parametrize("op", sorted(op for op, (perm, _b) in OPERATIONS.items() if perm != "public"),
                             ids=lambda o: f"{o[0]} {o[1]}")
    def test_each_role(self, app, db, world, targets, op):
        method, path = op
        perm, body = OPERATIONS[op]
        clients = _clients(app, world, world.a)
        allowed = ALLOWED[perm]
        # Denials first: they must change nothing, so the allowed calls after them still find their targets.
        for role in [r for r in ROLES if r not in allowed]:
            r = _call(clients[role], method, path, targets.ids, body, targets)
            expected = 401 if role == "anonymous" else 403
            assert r.status_code == expected, (role, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        audited = 0
        for role in [r for r in ROLES if r in allowed]:
            before = _audit_count(db)
            r = _call(clients[role], method, path, targets.ids, body, targets)
            assert r.status_code not in (401, 403) and r.status_code < 500, (role, r.status_code, r.text)
            if method == "GET":
                assert _audit_count(db) == before, "a read wrote an audit row"
            elif r.status_code < 300:
                assert _audit_count(db) == before + 1, f"{method} {path} by {role}: one audit row per change"
                audited += 1
        if method != "GET":
            assert audited, f"no allowed role changed anything through {method} {path}"


class TestWarehouseClientAccess:
    def test_client_reads_master_data_but_nothing_else(self, app, world):
        a = _clients(app, world, world.a)["admin"]
        op_wh = world.operator.warehouse.id
        r = a.get(f"/api/v1/warehouses/{op_wh}")
        assert r.status_code == 200 and r.json()["access"] == "client"
        assert r.json()["id"] in {w["id"] for w in a.get("/api/v1/warehouses").json()["items"]}
        for sub in ("clients", "evidence", "filings"):
            assert a.get(f"/api/v1/warehouses/{op_wh}/{sub}").status_code == 404
        assert a.patch(f"/api/v1/warehouses/{op_wh}", json={"contact": "x"}).status_code == 404
        b = _clients(app, world, world.b)["admin"]
        assert b.get(f"/api/v1/warehouses/{op_wh}").status_code == 404


#: Page URLs that name an object; another tenant gets 404 on each, GET and POST alike.
PAGE_URLS = [
    ("GET", "/catalog/{product_id}/edit"),
    ("POST", "/catalog/{product_id}/edit"),
    ("POST", "/catalog/{product_id}/deactivate"),
    ("GET", "/warehouses/{warehouse_id}"),
    ("GET", "/warehouses/{warehouse_id}/edit"),
    ("POST", "/warehouses/{warehouse_id}/edit"),
    ("POST", "/warehouses/{warehouse_id}/clients"),
    ("POST", "/warehouses/{warehouse_id}/clients/{client_id}/remove"),
    ("POST", "/warehouses/{warehouse_id}/evidence"),
    ("GET", "/warehouses/{warehouse_id}/evidence/{evidence_id}"),
    ("POST", "/warehouses/{warehouse_id}/filings"),
    ("POST", "/warehouses/{warehouse_id}/filings/{filing_id}/events"),
    ("POST", "/users/{membership_id}/role"),
    ("POST", "/users/{membership_id}/remove"),
    ("POST", "/api-keys/{api_key_id}/revoke"),
]


class TestPagesWithAnotherTenantsIds:
    @pytest.mark.parametrize("op", PAGE_URLS, ids=lambda o: f"{o[0]} {o[1]}")
    def test_404_and_nothing_changes(self, app, db, world, targets, op):
        from tests.factories import csrf_from, page_login

        method, path = op
        c = TestClient(app)
        page_login(c, world.b.users["admin"])
        token = csrf_from(c.get("/users").text)
        url = path.format(**targets.ids)
        before = _audit_count(db)
        if method == "GET":
            r = c.get(url, headers={"Accept": "text/html"})
        elif path.endswith("/evidence"):
            r = c.post(url, data={"csrf_token": token, "kind": "lease"},
                       files={"file": ("x.pdf", PDF + b"b", "application/pdf")}, headers={"Accept": "text/html"})
        else:
            r = c.post(url, data={"csrf_token": token, "role": "operator", "client_uscc": world.b.enterprise.uscc,
                                  "customs_office": "2248", "modes": "9810", "filed_on": "2023-01-01",
                                  "status": "changed", "effective_on": "2023-02-01", "code": "X", "name_zh": "X",
                                  "country": "DE", "address": "x", "tenure": "owned", "operator_name": "x"},
                       headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 404, (r.status_code, r.text[:300])
        assert _audit_count(db) == before
        for secret in targets.secrets:
            assert secret not in r.text.replace(url, "")
