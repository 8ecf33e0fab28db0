"""Every API endpoint, tried with another tenant's ids and with each role.

The list of operations is read from the OpenAPI document, so an endpoint added without an entry here
fails ``TestMatrixCoversEveryEndpoint``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

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
    ("POST", "/api/v1/customs/summaries/{summary_id}/withdraw"): ("write", None),
    ("POST", "/api/v1/customs/inbox"): ("manage", "receipt-file"),
    ("POST", "/api/v1/customs/quarantine/{item_id}/reprocess"): ("write", None),
    ("POST", "/api/v1/customs/admin/quarantine/{item_id}/reprocess"): ("platform", None),
    ("GET", "/api/v1/customs/quarantine"): ("read", None),
    ("GET", "/api/v1/customs/quarantine/{item_id}/file"): ("read", None),
    ("POST", "/api/v1/customs/quarantine/{item_id}/resolve"): ("write", lambda w: {"resolution": "已核实"}),
    ("GET", "/api/v1/customs/admin/quarantine"): ("platform", None),
    ("GET", "/api/v1/customs/admin/quarantine/{item_id}/file"): ("platform", None),
    ("POST", "/api/v1/customs/admin/quarantine/{item_id}/resolve"): ("platform", lambda w: {"resolution": "已核实"}),
    ("GET", "/api/v1/stock"): ("read", None),
    ("GET", "/api/v1/stock/skus/{sku}"): ("read", None),
    ("GET", "/api/v1/stock/lots"): ("read", None),
    ("GET", "/api/v1/stock/lots/{lot_id}"): ("read", None),
    ("POST", "/api/v1/stock/lots/{lot_id}/actions"): ("write", lambda w: {"kind": "adjust", "qty": 1,
                                                                          "reason": "盘点差异"}),
    ("GET", "/api/v1/stock/movements"): ("read", None),
    ("POST", "/api/v1/inbound"): ("write", lambda w: {"warehouse_id": str(w.ids["warehouse_id"]), "lines": [
        {"sku": "A-SECRET-SKU-1", "expected_qty": 5}]}),
    ("GET", "/api/v1/inbound"): ("read", None),
    ("GET", "/api/v1/inbound/{inbound_id}"): ("read", None),
    ("POST", "/api/v1/inbound/{inbound_id}/receive"): ("write", lambda w: {"lines": [
        {"line_no": 1, "received_qty": 1}]}),
    ("POST", "/api/v1/outbound"): ("write", lambda w: _outbound_body(w)),
    ("POST", "/api/v1/outbound/import"): ("write", "outbound-file"),
    ("GET", "/api/v1/outbound"): ("read", None),
    ("GET", "/api/v1/outbound/{outbound_id}"): ("read", None),
    ("POST", "/api/v1/outbound/{outbound_id}/allocate"): ("write", None),
    ("POST", "/api/v1/outbound/{outbound_id}/pick"): ("write", None),
    ("POST", "/api/v1/outbound/{outbound_id}/ship"): ("write", lambda w: {"carrier": "UPS",
                                                                          "tracking_no": "1Z0000000000000001"}),
    ("POST", "/api/v1/outbound/{outbound_id}/deliver"): ("write", lambda w: {}),
    ("POST", "/api/v1/outbound/{outbound_id}/cancel"): ("write", lambda w: {"reason": "买家取消"}),
    ("POST", "/api/v1/returns"): ("write", lambda w: {"warehouse_id": str(w.ids["warehouse_id"]), "lines": [
        {"sku": "A-SECRET-SKU-1", "qty": 1}]}),
    ("GET", "/api/v1/returns"): ("read", None),
    ("GET", "/api/v1/returns/{return_id}"): ("read", None),
    ("POST", "/api/v1/returns/{return_id}/receive"): ("write", None),
    ("POST", "/api/v1/returns/{return_id}/inspect"): ("write", lambda w: {"lines": [
        {"line_no": 1, "disposition": "restock"}]}),
    ("GET", "/api/v1/logistics/shipments"): ("read", None),
    ("POST", "/api/v1/logistics/shipments"): ("write", lambda w: _shipment_body()),
    ("GET", "/api/v1/logistics/shipments/{shipment_id}"): ("read", None),
    ("PATCH", "/api/v1/logistics/shipments/{shipment_id}"): ("write", lambda w: {
        "reference": f"R{uuid.uuid4().hex[:6]}"}),
    ("DELETE", "/api/v1/logistics/shipments/{shipment_id}"): ("write", None),
    ("GET", "/api/v1/logistics/shipments/{shipment_id}/events"): ("read", None),
    ("POST", "/api/v1/logistics/events"): ("write", lambda w: {"events": [_tracking_event(w)]}),
    ("POST", "/api/v1/logistics/events/import"): ("write", "events-file"),
    ("GET", "/api/v1/logistics/late"): ("read", None),
    ("GET", "/api/v1/wms/skus"): ("read", None),
    ("POST", "/api/v1/wms/skus"): ("write", lambda w: {"sku": f"W-{uuid.uuid4().hex[:8]}", "declared_name_zh": "矩阵杯",
                                                       "hs_code": "6214100090", "customs_unit": "011"}),
    ("POST", "/api/v1/wms/inbound-orders"): ("write", lambda w: {"warehouse_id": str(w.ids["warehouse_id"]), "lines": [
        {"sku": "A-SECRET-SKU-1", "expected_qty": 5}]}),
    ("GET", "/api/v1/wms/inbound-orders/{number}"): ("read", None),
    ("POST", "/api/v1/wms/outbound-orders"): ("write", lambda w: _outbound_body(w)),
    ("GET", "/api/v1/wms/outbound-orders/{number}"): ("read", None),
    ("POST", "/api/v1/wms/outbound-orders/{number}/cancel"): ("write", lambda w: {"reason": "买家取消"}),
    ("GET", "/api/v1/wms/inventory"): ("read", None),
    ("GET", "/api/v1/wms/inventory/log"): ("read", None),
    ("GET", "/api/v1/wms/inventory/age"): ("read", None),
    ("POST", "/api/v1/wms/returns"): ("write", lambda w: {"warehouse_id": str(w.ids["warehouse_id"]), "lines": [
        {"sku": "A-SECRET-SKU-1", "qty": 1}]}),
    ("GET", "/api/v1/wms/returns/{number}"): ("read", None),
    ("POST", "/api/v1/wms/returns/{number}/disposition"): ("write", lambda w: {"lines": [
        {"line_no": 1, "disposition": "restock"}]}),
    ("POST", "/api/v1/webhooks"): ("manage", lambda w: {"url": "https://erp.example.com/hooks",
                                                        "event_types": ["outbound.shipped"]}),
    ("GET", "/api/v1/webhooks"): ("manage", None),
    ("DELETE", "/api/v1/webhooks/{subscription_id}"): ("manage", None),
    ("GET", "/api/v1/webhooks/{subscription_id}/deliveries"): ("manage", None),
    ("GET", "/api/v1/sales/orders"): ("read", None),
    ("POST", "/api/v1/sales/imports"): ("write", "sales-orders-file"),
    ("GET", "/api/v1/sales/imports"): ("read", None),
    ("GET", "/api/v1/sales/imports/{import_id}"): ("read", None),
    ("GET", "/api/v1/sales/imports/{import_id}/errors"): ("read", None),
    ("GET", "/api/v1/sales/profiles"): ("read", None),
    ("POST", "/api/v1/sales/profiles"): ("write", lambda w: _sales_profile_body(f"P-{uuid.uuid4().hex[:8]}")),
    ("GET", "/api/v1/sales/profiles/{profile_id}"): ("read", None),
    ("PATCH", "/api/v1/sales/profiles/{profile_id}"): ("write", lambda w: {"name": f"P-{uuid.uuid4().hex[:8]}"}),
    ("DELETE", "/api/v1/sales/profiles/{profile_id}"): ("write", None),
    ("GET", "/api/v1/sales/unknown-skus"): ("read", None),
    ("POST", "/api/v1/sales/fulfilments"): ("write", lambda w: {"warehouse_id": str(w.ids["warehouse_id"])}),
    ("GET", "/api/v1/loop/declarations"): ("read", None),
    ("GET", "/api/v1/finance/rates"): ("auth", None),
    ("POST", "/api/v1/finance/matching/auto"): ("write", lambda w: {}),
    ("POST", "/api/v1/tax/invoices"): ("write", "invoices-file"),
    ("POST", "/api/v1/finance/settlements"): ("write", "settlement-file"),
    ("POST", "/api/v1/finance/statements"): ("write", "statement-file"),
    ("GET", "/api/v1/finance/statements"): ("read", None),
    ("GET", "/api/v1/finance/statements/{statement_id}"): ("read", None),
    ("GET", "/api/v1/finance/bank-entries"): ("read", None),
    ("GET", "/api/v1/finance/payouts"): ("read", None),
    ("GET", "/api/v1/finance/payouts/{payout_id}"): ("read", None),
    ("GET", "/api/v1/finance/payout-profiles"): ("read", None),
    ("POST", "/api/v1/finance/payout-profiles"): ("write", lambda w: {
        "name": f"p-{uuid.uuid4().hex[:8]}", "columns": {"payout_id": "单号", "date": "日期", "gross": "金额",
                                                         "currency": "币种"}}),
    ("GET", "/api/v1/finance/payout-profiles/{profile_id}"): ("read", None),
    ("PATCH", "/api/v1/finance/payout-profiles/{profile_id}"): ("write", lambda w: {
        "name": f"p-{uuid.uuid4().hex[:8]}"}),
    ("DELETE", "/api/v1/finance/payout-profiles/{profile_id}"): ("write", None),
    ("GET", "/api/v1/tax/invoices"): ("read", None),
    ("GET", "/api/v1/tax/invoices/{invoice_id}"): ("read", None),
    ("GET", "/api/v1/tax/allocations"): ("read", None),
    ("POST", "/api/v1/tax/allocations/auto"): ("write", lambda w: {}),
    ("POST", "/api/v1/tax/allocations"): ("write", lambda w: {
        "invoice_line_id": str(w.ids["spare_invoice_line_id"]),
        "declaration_line_id": str(w.ids["declaration_line_id"]), "qty": "1"}),
    ("DELETE", "/api/v1/tax/allocations/{allocation_id}"): ("write", None),
    ("GET", "/api/v1/tax/calc"): ("auth", None),
    ("GET", "/api/v1/tax/candidates"): ("read", None),
    ("GET", "/api/v1/tax/claims"): ("read", None),
    ("POST", "/api/v1/tax/claims"): ("write", lambda w: {
        "method": "trader", "business_type": "HWC-YT", "period": "2026-09",
        "lines": [{"declaration_line_id": str(w.ids["spare_claim_line_id"])}]}),
    ("GET", "/api/v1/tax/claims/{claim_id}"): ("read", None),
    ("POST", "/api/v1/tax/claims/{claim_id}/declare"): ("write", None),
    ("POST", "/api/v1/tax/claims/{claim_id}/approve"): ("write", lambda w: {"approved_minor": 1}),
    ("POST", "/api/v1/tax/claims/{claim_id}/reject"): ("write", lambda w: {"reason": "撤回草稿"}),
    ("POST", "/api/v1/tax/claims/{claim_id}/reconcile"): ("write", lambda w: {"as_of": date.today().isoformat()}),
    ("GET", "/api/v1/tax/claims/{claim_id}/files/{detail}"): ("read", None),
    ("GET", "/api/v1/tax/repayments"): ("read", None),
    ("POST", "/api/v1/tax/repayments/scan"): ("write", None),
    ("POST", "/api/v1/tax/repayments/{repayment_id}/repaid"): ("write", lambda w: {
        "certificate_no": "补税证明-0001", "repaid_on": date.today().isoformat()}),
    ("GET", "/api/v1/tax/proceeds-evidence"): ("read", None),
    ("POST", "/api/v1/tax/proceeds-evidence"): ("write", lambda w: {
        "declaration_line_id": str(w.ids["spare_claim_line_id"]), "kind": "deemed", "reason": "视同收汇"}),
    ("DELETE", "/api/v1/tax/proceeds-evidence/{evidence_id}"): ("write", None),
    ("GET", "/api/v1/finance/bank-entries/{entry_id}/suggestions"): ("read", None),
    ("GET", "/api/v1/finance/bank-entries/{entry_id}/matches"): ("read", None),
    ("POST", "/api/v1/finance/bank-entries/{entry_id}/ignore"): ("write", lambda w: {"reason": "内部划转"}),
    ("POST", "/api/v1/finance/matches"): ("write", lambda w: {
        "bank_entry_id": str(w.ids["entry_id"]), "payout_id": str(w.ids["payout_id"]), "amount_minor": 1}),
    ("DELETE", "/api/v1/finance/matches/{match_id}"): ("write", None),
    ("POST", "/api/v1/finance/fx-settlements"): ("write", lambda w: {
        "reference": f"FX-{uuid.uuid4().hex[:10]}", "settled_on": "2026-03-10", "currency": "USD",
        "amount_minor": 1, "cny_minor": 7}),
    ("GET", "/api/v1/finance/fx-settlements"): ("read", None),
    ("GET", "/api/v1/finance/receivables"): ("read", None),
    ("GET", "/api/v1/finance/receivables/sales"): ("read", None),
    ("GET", "/api/v1/finance/receivables/payouts"): ("read", None),
    ("GET", "/api/v1/finance/receivables/declarations"): ("read", None),
    ("GET", "/api/v1/finance/receivables/alerts"): ("read", None),
    ("GET", "/api/v1/finance/rates/convert"): ("auth", None),
    ("POST", "/api/v1/finance/rates/ecb"): ("platform", lambda w: {"since": "2026-10-29", "until": "2026-10-30"}),
    ("POST", "/api/v1/finance/rates/import"): ("platform", "rates-file"),
    ("GET", "/api/v1/loop/declarations/{declaration_id}"): ("read", None),
    ("GET", "/api/v1/loop/sales-lines/{sales_line_id}/lineage"): ("read", None),
    ("GET", "/api/v1/audit"): ("read", None),
    ("GET", "/api/v1/reference/datasets"): ("auth", None),
    ("GET", "/api/v1/reference/{dataset}"): ("auth", None),
    ("GET", "/api/v1/stats/overview"): ("stats", None),
}

#: Steps that need their document in another state than the default target: path parameter → target key.
PATH_IDS = {
    ("DELETE", "/api/v1/tax/proceeds-evidence/{evidence_id}"): {"evidence_id": "proceeds_evidence_id"},
    ("POST", "/api/v1/tax/claims/{claim_id}/approve"): {"claim_id": "declared_claim_id"},
    ("POST", "/api/v1/tax/claims/{claim_id}/reconcile"): {"claim_id": "approved_claim_id"},
    ("GET", "/api/v1/finance/payout-profiles/{profile_id}"): {"profile_id": "payout_profile_id"},
    ("PATCH", "/api/v1/finance/payout-profiles/{profile_id}"): {"profile_id": "payout_profile_id"},
    ("DELETE", "/api/v1/finance/payout-profiles/{profile_id}"): {"profile_id": "payout_profile_id"},
    ("GET", "/api/v1/finance/payouts/{payout_id}"): {"payout_id": "imported_payout_id"},
    ("POST", "/api/v1/finance/bank-entries/{entry_id}/ignore"): {"entry_id": "ignorable_entry_id"},
    ("GET", "/api/v1/loop/declarations/{declaration_id}"): {"declaration_id": "exported_declaration_id"},
    ("POST", "/api/v1/customs/summaries/{summary_id}/withdraw"): {"summary_id": "rejected_summary_id"},
    ("POST", "/api/v1/outbound/{outbound_id}/pick"): {"outbound_id": "allocated_outbound_id"},
    ("POST", "/api/v1/outbound/{outbound_id}/ship"): {"outbound_id": "allocated_outbound_id"},
    ("POST", "/api/v1/outbound/{outbound_id}/deliver"): {"outbound_id": "shipped_outbound_id"},
    ("POST", "/api/v1/returns/{return_id}/inspect"): {"return_id": "received_return_id"},
    ("GET", "/api/v1/wms/inbound-orders/{number}"): {"number": "inbound_number"},
    ("GET", "/api/v1/wms/outbound-orders/{number}"): {"number": "outbound_number"},
    ("POST", "/api/v1/wms/outbound-orders/{number}/cancel"): {"number": "outbound_number"},
    ("GET", "/api/v1/wms/returns/{number}"): {"number": "return_number"},
    ("POST", "/api/v1/wms/returns/{number}/disposition"): {"number": "received_return_number"},
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


#: Groups of targets, each built only for the operations that need it (building them all for every one of
#: the matrix's hundreds of cases took several seconds a case).
GROUPS = frozenset({"customs", "stock", "sales", "finance", "tax", "logistics"})


def groups_for(path: str) -> set[str]:
    """The target groups an operation (API path or page URL) addresses."""
    p = path.removeprefix("/api/v1")
    if p.startswith(("/customs", "/loop/declarations")):
        return {"customs"}
    if p.startswith("/loop/sales-lines"):
        return {"sales"}
    if p.startswith("/tax"):
        return {"customs", "tax"}
    if p.startswith("/finance"):
        return {"finance"}
    if p.startswith("/sales"):
        return {"sales"}
    if p.startswith(("/stock", "/inbound", "/outbound", "/returns", "/wms", "/webhooks")):
        return {"stock"}
    if p.startswith("/logistics"):
        return {"logistics"}
    return set()


def _targets(db, world, groups: set[str] | None = None) -> Targets:
    """Objects of tenant a (the victim) for the path parameters of ``groups`` (default: all)."""
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
    ids = {"membership_id": viewer_membership.id, "api_key_id": key.id, "enterprise_id": a.enterprise.id,
           "warehouse_id": a.warehouse.id, "client_id": link.id, "evidence_id": evidence.id,
           "filing_id": filing.id, "dataset": "countries", "product_id": product.id}
    secrets = [str(a.warehouse.id), a.warehouse.code, str(evidence.id), str(filing.id), str(viewer_membership.id),
               a.enterprise.uscc, str(key.id), str(link.id), str(product.id), product.sku]
    groups = GROUPS if groups is None else groups

    def add(found: dict, *secret_keys: str, extra: tuple = ()) -> None:
        ids.update(found)
        secrets.extend([*(str(found[k]) for k in secret_keys), *extra])

    if "customs" in groups:
        found = _customs_targets(db, world, system)
        add(found, "declaration_id", "message_id", "summary_id", "item_id", "exported_declaration_id", "cop_no")
    if "stock" in groups:
        add(_stock_targets(db, world, system), "lot_id", "inbound_id", "outbound_id", "return_id")
        add(_wms_targets(db, system, ids), "subscription_id", extra=("a-secret-hooks.example.com",))
    if "sales" in groups:
        add(_sales_targets(db, system), "import_id", "profile_id", "sales_line_id",
            extra=("A-SECRET-ORDER-1", "A-SECRET-PROFILE"))
    if "finance" in groups:
        add(_finance_targets(db, system), "entry_id", "payout_id", "match_id", "statement_id")
        add(_payout_targets(db, system), "imported_payout_id", "payout_profile_id",
            extra=("A-SECRET-SETTLEMENT-1", "a-secret-profile"))
    if "tax" in groups:
        add(_tax_targets(db, system, ids["exported_declaration_id"]), "invoice_id", "allocation_id")
        add(_rebate_targets(db, system, a.warehouse.id), "claim_id", "declared_claim_id", "approved_claim_id",
            "proceeds_evidence_id", "repayment_id")
    if "logistics" in groups:
        add(_logistics_targets(db, system), "shipment_id", "shipment_number")
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
        [rejected] = service.create_summaries(s, principal=system, month=month, config=config)
    from tests.customs.builders import reject_summary

    gateway.dispatch(db, folders)
    for sent in folders.outbox.glob("CEB701*"):
        sent.unlink()  # customs answers this one with a rejection, not the simulator's acceptance
    reject_summary(db, rejected)
    closed()
    with db.transaction() as s:
        draft = service.create_declaration(s, principal=system, data=_declaration_body(targets))
        item = inbound.upload_receipt(s, principal=system, filename="a-junk.xml", data=b"<not-xml", max_bytes=1000)
    return {"declaration_id": draft.id, "exported_declaration_id": first.id, "cop_no": draft.cop_no,
            "message_id": message.id, "summary_id": summary.id,
            "rejected_summary_id": rejected.id, "month": month, "item_id": item.quarantine_id}


def _outbound_body(w) -> dict:
    return {"warehouse_id": str(w.ids["warehouse_id"]), "ship_to": {"name": "Jane Roe", "country": "US",
                                                                    "address": "1 Main St"},
            "lines": [{"sku": "A-SECRET-SKU-1", "qty": 1}]}


def _stock_targets(db, world, system) -> dict:
    """Stock of tenant a in its own warehouse, and its documents in each state a step needs."""
    from tradeloop.warehouse import stock_service as stock
    from tradeloop.warehouse.stock_schemas import InboundCreate, OutboundCreate, ReceiveIn, ReturnCreate, ShipIn

    wh = world.a.warehouse.id
    targets = Targets({"warehouse_id": wh}, "", [])
    with db.transaction() as s:
        received = stock.create_inbound(s, principal=system, data=InboundCreate(warehouse_id=wh, lines=[
            {"sku": "A-SECRET-SKU-1", "expected_qty": 100}]))
        stock.receive_inbound(s, principal=system, inbound_id=received.id, data=ReceiveIn(close=True, lines=[
            {"line_no": 1, "received_qty": 100}]))
        expected = stock.create_inbound(s, principal=system, data=InboundCreate(warehouse_id=wh, lines=[
            {"sku": "A-SECRET-SKU-1", "expected_qty": 50}]))
        created = stock.create_outbound(s, principal=system, data=OutboundCreate(**_outbound_body(targets)))
        allocated = stock.create_outbound(s, principal=system, data=OutboundCreate(**_outbound_body(targets),
                                                                                   allocate=True))
        shipped = stock.create_outbound(s, principal=system, data=OutboundCreate(**_outbound_body(targets),
                                                                                 allocate=True))
        stock.ship_outbound(s, principal=system, outbound_id=shipped.id, data=ShipIn(carrier="UPS", tracking_no="1"))
        ret = stock.create_return(s, principal=system, data=ReturnCreate(warehouse_id=wh, lines=[
            {"sku": "A-SECRET-SKU-1", "qty": 1}]))
        received_ret = stock.create_return(s, principal=system, data=ReturnCreate(warehouse_id=wh, lines=[
            {"sku": "A-SECRET-SKU-1", "qty": 1}]))
        stock.receive_return(s, principal=system, return_id=received_ret.id)
        from tradeloop.warehouse.stock_repository import StockRepository

        lot = StockRepository(s, system).lot_rows(sku="A-SECRET-SKU-1")[0]
    return {"sku": "A-SECRET-SKU-1", "lot_id": lot.id, "inbound_id": expected.id, "outbound_id": created.id,
            "allocated_outbound_id": allocated.id, "shipped_outbound_id": shipped.id, "return_id": ret.id,
            "received_return_id": received_ret.id}



def _shipment_body() -> dict:
    return {"bl_no": "COSU6312345670", "containers": [{"container_no": "CSQU3054383"}],
            "legs": [{"mode": "sea", "from_locode": "CNSHA", "to_locode": "USLAX"}]}


def _tracking_event(w) -> dict:
    """A new actual departure of tenant a's shipment each call: one audit row (the shipment's)."""
    return {"event_id": str(uuid.uuid4()), "shipment_number": w.ids["shipment_number"], "classifier": "ACT",
            "event_created_at": "2026-03-02T16:00:00+08:00", "event_time": "2026-03-02T18:00:00+08:00",
            "event_type": "TRANSPORT", "event_code": "DEPA", "location": "CNSHA"}


def _logistics_targets(db, system) -> dict:
    """A planned shipment of tenant a without events (so it may also be deleted)."""
    from tradeloop.logistics import service as logistics

    with db.transaction() as s:
        shipment = logistics.create_shipment(s, principal=system, data=_shipment_body())
    return {"shipment_id": shipment.id, "shipment_number": shipment.number}

def _wms_targets(db, system, ids) -> dict:
    """Numbers of the stock targets (the WMS API addresses documents by number) and a webhook subscription."""
    from tradeloop.warehouse import webhooks
    from tradeloop.warehouse.stock_repository import StockRepository

    with db.transaction() as s:
        repo = StockRepository(s, system)
        sub, _secret = webhooks.create_subscription(s, principal=system, url="https://a-secret-hooks.example.com/x",
                                                    event_types=["outbound.shipped"], description=None,
                                                    server_secret_key="test-secret")
        return {"inbound_number": repo.inbound(ids["inbound_id"]).number,
                "outbound_number": repo.outbound(ids["outbound_id"]).number,
                "return_number": repo.return_order(ids["return_id"]).number,
                "received_return_number": repo.return_order(ids["received_return_id"]).number,
                "subscription_id": sub.id}


def _sales_profile_body(name: str) -> dict:
    return {"name": name, "columns": {"order_id": "单号", "order_date": "日期", "sku": "SKU", "quantity": "数量",
                                      "item_price": "金额"}, "default_currency": "USD"}


def _sales_orders_tsv(order_id: str, date: str = "2026-01-15T09:00:00+00:00") -> bytes:
    return ("amazon-order-id\tpurchase-date\torder-status\tsku\tquantity\tcurrency\titem-price\n"
            f"{order_id}\t{date}\tShipped\tA-SECRET-SKU-1\t1\tUSD\t9.99\n").encode()


def _sales_targets(db, system) -> dict:
    """An import of tenant a (run here, as its job does; one bad row for the error report) and a profile."""
    import io

    from tradeloop.kit import jobs
    from tradeloop.sales import service as sales

    data = _sales_orders_tsv("A-SECRET-ORDER-1") + _sales_orders_tsv("A-SECRET-ORDER-2", "x").split(b"\n", 1)[1]
    with db.transaction() as s:
        job = sales.start_import(s, principal=system, data_dir=_files_root().parent, upload=io.BytesIO(data),
                                 filename="a-orders.txt", channel="amazon")
        profile = sales.create_profile(s, principal=system, data=_sales_profile_body("A-SECRET-PROFILE"))
    jobs.run(db, job, sales.run_import_job)
    from tradeloop.sales.repository import SalesRepository

    with db.transaction(write=False) as s:
        [line] = s.scalars(SalesRepository(s, system).filtered(order_id="A-SECRET-ORDER-1")).all()
    return {"import_id": job.id, "profile_id": profile.id, "sales_line_id": line.id}


def _statement_file() -> bytes:
    """A new MT940 on every call, so each allowed POST changes something."""
    n = uuid.uuid4().int % 10**8
    amount = f"{1 + n % 99999},{n % 100:02d}"
    return (f":20:M{n}\r\n:25:DE44500105175407324931\r\n:28C:1/1\r\n:60F:C260313EUR0,00\r\n"
            f":61:2603140314C{amount}NTRFNONREF//M{n}\r\n:86:MATRIX\r\n:62F:C260314EUR{amount}\r\n-\r\n").encode()


def _settlement_tsv(sid: str) -> bytes:
    return ("settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t"
            "transaction-type\torder-id\tamount-type\tamount-description\tamount\tposted-date\tsku\t"
            "quantity-purchased\n"
            f"{sid}\t2026-01-01T00:00:00+00:00\t2026-01-15T00:00:00+00:00\t2026-01-17T00:00:00+00:00\t9.99\tUSD"
            "\t\t\t\t\t\t\t\t\n"
            f"{sid}\t\t\t\t\tUSD\tOrder\tA-SECRET-ORDER-1\tItemPrice\tPrincipal\t9.99\t2026-01-02\t"
            "A-SECRET-SKU-1\t1\n").encode()


def _payout_targets(db, system) -> dict:
    from tradeloop.finance import payouts

    with db.transaction() as s:
        res = payouts.import_settlement(s, principal=system, filename="a.txt",
                                        data=_settlement_tsv("A-SECRET-SETTLEMENT-1"), channel="amazon")
        prof = payouts.create_profile(s, principal=system, data={
            "name": "a-secret-profile", "columns": {"payout_id": "单号", "date": "日期", "gross": "金额",
                                                    "currency": "币种"}})
    return {"imported_payout_id": uuid.UUID(res.details[0]["id"]), "payout_profile_id": prof.id}


def _invoices_csv(number: str) -> bytes:
    from tradeloop.enterprises.uscc import check_character

    seller = "91320509MA7HCRF1W" + check_character("91320509MA7HCRF1W")
    return ("发票代码,发票号码,开票日期,销方税号,货物或应税劳务名称,规格型号,数量,金额,税率,税额\n"
            f"3200261130,{number},2026-10-08,{seller},*纺织产品*丝巾,A-SECRET-SKU-1,100,1000.00,13%,130.00\n").encode()


def _tax_targets(db, system, declaration_id) -> dict:
    """An imported purchase invoice of tenant a and one unit of it allocated to its exported declaration."""
    from sqlalchemy import select

    from tradeloop.customs.models import DeclarationLine
    from tradeloop.tax import invoices
    from tradeloop.tax.models import PurchaseInvoiceLine

    with db.transaction() as s:
        invoices.import_invoices(s, principal=system, filename="a.csv", data=_invoices_csv("99990001"))
        invoices.import_invoices(s, principal=system, filename="b.csv", data=_invoices_csv("99990002"))
        line, spare = s.scalars(select(PurchaseInvoiceLine).where(
            PurchaseInvoiceLine.enterprise_id == system.enterprise_id).order_by(PurchaseInvoiceLine.id)).all()
        decl_line = s.scalar(select(DeclarationLine).where(DeclarationLine.declaration_id == declaration_id))
        allocation = invoices.allocate(s, principal=system, invoice_line_id=line.id, declaration_line_id=decl_line.id,
                                       qty=Decimal(1))
    return {"invoice_id": line.invoice_id, "invoice_line_id": line.id, "spare_invoice_line_id": spare.id,
            "declaration_line_id": decl_line.id,
            "allocation_id": allocation.id}


def _rebate_targets(db, system, warehouse_id) -> dict:
    """Rebate claims of tenant a: a 9810 declaration of four lines released by the simulator, its entryId set
    directly (the summary round trip is the customs tests' business and would consume the matrix's closed
    declaration waiting for its summary), a purchase invoice per line; a draft, a declared and an approved
    pre-rebate (HWC-YT), a spare line for creating one, proceeds evidence, and a due repayment (inserted
    directly: the returns scan has its own tests)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from tradeloop.customs import gateway
    from tradeloop.customs import service as customs_service
    from tradeloop.customs.gateway import ExchangeFolders
    from tradeloop.customs.models import Declaration, DeclarationLine
    from tradeloop.customs.simulator import CustomsSimulator
    from tradeloop.enterprises.uscc import check_character
    from tradeloop.kit.ids import uuid7
    from tradeloop.tax import claims, invoices
    from tradeloop.tax.claim_models import RebateRepayment
    from tradeloop.tax.claim_repository import ClaimRepository

    skus = [f"A-TAX-SKU-{n}" for n in range(1, 5)]
    folders = ExchangeFolders(_files_root().parent / "rebate-exchange").ensure()
    with db.transaction() as s:
        for sku in skus:
            catalog.create_product(s, principal=system, data=ProductCreate(
                sku=sku, name_zh="甲企业的丝巾", declared_name="围巾", hs_code="6214100090", customs_unit="011",
                unit1="011", unit1_factor=1, gross_weight_kg="0.1", net_weight_kg="0.08"))
        body = {"mode": "9810", "warehouse_id": str(warehouse_id), "logistics_code": "3205980001",
                "logistics_name": "苏州国际货运代理有限公司", "logistics_no": f"L{uuid.uuid4().hex[:12]}",
                "customs_code": "2305", "port_code": "2201", "ie_date": "2026-09-01", "country": "US", "pod": "USLA",
                "traf_mode": "2", "currency": "USD", "wrap_type": "2", "pack_no": 1,
                "lines": [{"sku": sku, "qty": "10", "price": "5"} for sku in skus]}
        decl = customs_service.create_declaration(s, principal=system, data=body)
        customs_service.submit_declaration(s, principal=system, declaration_id=decl.id,
                                           config=customs_service.ExchangeConfig())
    gateway.dispatch(db, folders)
    CustomsSimulator(folders).run_once()
    gateway.poll(db, folders)
    seller = "91320509MA7HCRF1W" + check_character("91320509MA7HCRF1W")
    with db.transaction() as s:
        entry = "230520260000999999"
        s.get(Declaration, (system.enterprise_id, decl.id)).entry_id = entry
        lines = list(s.scalars(select(DeclarationLine).where(DeclarationLine.declaration_id == decl.id)
                               .order_by(DeclarationLine.gnum)))
        for li in lines:
            li.entry_id = entry
        csv = "发票代码,发票号码,开票日期,销方税号,货物或应税劳务名称,规格型号,数量,金额,税率,税额\n" + "".join(
            f"3200261130,9999100{n},2026-08-20,{seller},*纺织产品*丝巾,{sku},10,100.00,13%,13.00\n"
            for n, sku in enumerate(skus, start=1))
        invoices.import_invoices(s, principal=system, filename="a-tax.csv", data=csv.encode())
        invoices.auto_allocate(s, principal=system, declaration_ids=[decl.id])

        def pre(line):
            return claims.create_claim(s, principal=system, method="trader", business_type="HWC-YT", period="2026-09",
                                       lines=[claims.LineRequest(line.id, Decimal(10))])

        draft, declared, approved = pre(lines[0]), pre(lines[1]), pre(lines[2])
        claims.declare(s, principal=system, claim_id=declared.id)
        claims.declare(s, principal=system, claim_id=approved.id)
        claims.approve(s, principal=system, claim_id=approved.id, approved_minor=approved.refund_minor,
                       approved_on=date(2026, 9, 10))
        evidence = claims.record_proceeds(s, principal=system, declaration_line_id=lines[0].id, kind="deemed",
                                          reason="甲企业视同收汇")
        claim_line = ClaimRepository(s, system).lines(approved.id)[0]
        repayment = RebateRepayment(
            enterprise_id=system.enterprise_id, id=uuid7(), claim_id=approved.id, claim_line_id=claim_line.id,
            declaration_id=decl.id, declaration_line_id=lines[2].id, movement_id=uuid7(),
            movement_kind="return_to_origin", returned_at=datetime(2026, 10, 1, tzinfo=UTC), qty=Decimal(1),
            amount_minor=13, status="due")
        s.add(repayment)
    return {"claim_id": draft.id, "declared_claim_id": declared.id, "approved_claim_id": approved.id,
            "spare_claim_line_id": lines[3].id, "proceeds_evidence_id": evidence.id, "repayment_id": repayment.id,
            "detail": "export-goods"}


def _finance_targets(db, system) -> dict:
    """A bank statement with two credits and a payout of tenant a (built directly: the importers have their
    own tests), one credit matched to the payout through the service."""
    from tradeloop.finance import matching
    from tradeloop.finance.money_models import BankEntry, BankStatement, Payout
    from tradeloop.kit.ids import uuid7

    me = system.enterprise_id
    with db.transaction() as s:
        statement = BankStatement(enterprise_id=me, id=uuid7(), format="camt.053", account="A-SECRET-IBAN",
                                  currency="USD", filename="a.xml", file_sha256=uuid.uuid4().hex * 2)
        s.add(statement)
        s.flush()
        entries = [BankEntry(enterprise_id=me, id=uuid7(), statement_id=statement.id, account="A-SECRET-IBAN",
                             booking_date=date(2026, 3, 10), direction="credit", amount_minor=amount, currency="USD",
                             bank_ref=f"A-SECRET-REF-{i}", matched_minor=0, status="unmatched")
                   for i, amount in enumerate((500_00, 700_00, 900_00))]
        payout = Payout(enterprise_id=me, id=uuid7(), source="amazon", settlement_id="A-SECRET-SETTLEMENT",
                        deposit_date=date(2026, 3, 9), currency="USD", total_minor=2000_00, received_minor=0,
                        status="open")
        s.add_all([*entries, payout])
    with db.transaction() as s:
        m = matching.match(s, principal=system, entry_id=entries[2].id, payout_id=payout.id)
    return {"entry_id": entries[0].id, "ignorable_entry_id": entries[1].id, "payout_id": payout.id,
            "match_id": m.id, "statement_id": statement.id}


def _wait_sales_import(client, job_id, timeout=60.0):
    """An import runs as a background job and audits when it is done: wait for it."""
    import time

    deadline = time.monotonic() + timeout
    while client.get(f"/api/v1/sales/imports/{job_id}").json()["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, "the import job did not finish"
        time.sleep(0.05)


_FILES = {}


def _files_root():
    return _FILES["root"]


@pytest.fixture
def targets(request, db, world, settings):
    """All targets, or — for the cases of one operation (an ``op`` parameter) that address ids — only the
    groups that operation needs; list and regulator cases always get every group, so their check for
    leaked secrets covers every module."""
    _FILES["root"] = settings.files_dir
    op = getattr(getattr(request.node, "callspec", None), "params", {}).get("op")
    if op is None or (request.node.originalname == "test_other_tenant_lists_hold_no_data"):
        return _targets(db, world)
    return _targets(db, world, groups_for(op[1]))


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
    chosen = {name: ids[key] for name, key in PATH_IDS.get((method, path), {}).items()}
    url = path.format(**{**ids, **chosen})
    if body_spec == "products-file":
        return client.request(method, url, files={"file": ("products.csv", _products_csv(), "text/csv")})
    if body_spec == "outbound-file":
        csv = f"订单号,SKU,数量,收件人,国家,地址\nM-{uuid.uuid4().hex[:8]},A-SECRET-SKU-1,1,Jane,US,1 Main St\n"
        return client.request(method, url, files={"file": ("o.csv", csv.encode(), "text/csv")},
                              data={"warehouse_id": str(ids["warehouse_id"])})
    if body_spec == "events-file":
        event = _tracking_event(world)
        csv = ",".join(event) + "\n" + ",".join(event.values()) + "\n"
        return client.request(method, url, files={"file": ("events.csv", csv.encode(), "text/csv")})
    if body_spec == "sales-orders-file":
        r = client.request(method, url, data={"channel": "amazon"}, files={
            "file": ("orders.txt", _sales_orders_tsv(f"M-{uuid.uuid4().hex[:12]}"), "text/plain")})
        if r.status_code == 202:
            _wait_sales_import(client, r.json()["id"])
        return r
    if body_spec == "statement-file":
        return client.request(method, url, files={"file": ("s.sta", _statement_file(), "text/plain")})
    if body_spec == "settlement-file":
        return client.request(method, url, data={"channel": "amazon"}, files={
            "file": ("s.txt", _settlement_tsv(f"M-{uuid.uuid4().hex[:12]}"), "text/plain")})
    if body_spec == "invoices-file":
        return client.request(method, url, files={"file": ("i.csv", _invoices_csv(f"{uuid.uuid4().int % 10**8:08d}"),
                                                           "text/csv")})
    if body_spec == "rates-file":
        day = f"2025-{1 + uuid.uuid4().int % 12:02d}-{1 + uuid.uuid4().int % 28:02d}"
        return client.request(method, url, data={"source": "manual"}, files={
            "file": ("rates.csv", f"date,USD/CNY\n{day},7.{uuid.uuid4().int % 10000:04d}\n".encode(), "text/csv")})
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
    ("GET", "/customs/{declaration_id}"),
    ("GET", "/customs/{declaration_id}/edit"),
    ("POST", "/customs/{declaration_id}/edit"),
    ("POST", "/customs/{declaration_id}/submit"),
    ("POST", "/customs/{declaration_id}/cancel"),
    ("POST", "/customs/{declaration_id}/delete"),
    ("GET", "/customs/messages/{message_id}"),
    ("GET", "/customs/messages/{message_id}/download"),
    ("GET", "/customs/quarantine/{item_id}/file"),
    ("POST", "/customs/quarantine/{item_id}/resolve"),
    ("GET", "/logistics/{shipment_id}"),
    ("GET", "/logistics/{shipment_id}/edit"),
    ("POST", "/logistics/{shipment_id}/edit"),
    ("GET", "/logistics/{shipment_id}/timeline"),
    ("POST", "/logistics/{shipment_id}/events"),
    ("POST", "/logistics/{shipment_id}/delete"),
    ("GET", "/stock/lots/{lot_id}"),
    ("POST", "/stock/lots/{lot_id}/actions"),
    ("GET", "/stock/movements?lot={lot_id}"),
    ("GET", "/stock/movements.xlsx?lot={lot_id}"),
    ("GET", "/stock/inbound/{inbound_id}"),
    ("POST", "/stock/inbound/{inbound_id}/receive"),
    ("GET", "/stock/outbound/{outbound_id}"),
    ("POST", "/stock/outbound/{outbound_id}/allocate"),
    ("POST", "/stock/outbound/{allocated_outbound_id}/pick"),
    ("POST", "/stock/outbound/{allocated_outbound_id}/ship"),
    ("POST", "/stock/outbound/{shipped_outbound_id}/deliver"),
    ("POST", "/stock/outbound/{allocated_outbound_id}/cancel"),
    ("GET", "/stock/returns/{return_id}"),
    ("POST", "/stock/returns/{return_id}/receive"),
    ("POST", "/stock/returns/{received_return_id}/inspect"),
    ("GET", "/sales/imports/{import_id}"),
    ("GET", "/sales/imports/{import_id}/progress"),
    ("GET", "/sales/imports/{import_id}/errors.csv"),
    ("GET", "/sales/profiles/{profile_id}/edit"),
    ("POST", "/sales/profiles/{profile_id}/edit"),
    ("POST", "/sales/profiles/{profile_id}/delete"),
    ("GET", "/loop/declarations/{exported_declaration_id}"),
    ("GET", "/finance/bank-entries/{entry_id}"),
    ("POST", "/finance/bank-entries/{entry_id}/match"),
    ("POST", "/finance/bank-entries/{ignorable_entry_id}/ignore"),
    ("POST", "/finance/bank-entries/{entry_id}/unignore"),
    ("POST", "/finance/matches/{match_id}/undo"),
    ("GET", "/finance/fx-settlements?entry={entry_id}"),
    ("GET", "/finance/payouts/{payout_id}"),
    ("GET", "/finance/payouts/{imported_payout_id}"),
    ("GET", "/tax/invoices/{invoice_id}"),
    ("POST", "/tax/allocations/{allocation_id}/undo"),
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
                                  "country": "DE", "address": "x", "tenure": "owned", "operator_name": "x",
                                  "reason": "x", "resolution": "x", "kind": "adjust", "qty": "1", "carrier": "x",
                                  "tracking_no": "x", "lines-0-received_qty": "1", "lines-0-disposition": "restock"},
                       headers={"Accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 404, (r.status_code, r.text[:300])
        assert _audit_count(db) == before
        for secret in targets.secrets:
            assert secret not in r.text.replace(url, "")
