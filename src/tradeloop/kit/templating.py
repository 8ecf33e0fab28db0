"""Jinja2 environment shared by every module's pages (templates live in ``<module>/templates``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from tradeloop.kit import i18n
from tradeloop.kit.i18n import N_

MODULES_WITH_TEMPLATES = ("shell", "enterprises", "identity", "warehouse", "audit", "insights", "reference",
                          "catalog", "customs", "logistics", "sales", "loop", "finance", "tax")


def _template_dirs() -> list[str]:
    root = Path(str(resources.files("tradeloop")))
    return [str(root / m / "templates") for m in MODULES_WITH_TEMPLATES if (root / m / "templates").is_dir()]


def merge_query(params: dict, **changes) -> str:
    """The current query string with some parameters changed (empty values dropped)."""
    merged = {**{k: v for k, v in params.items()}, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


ROLE_LABELS = {
    "admin": N_("Enterprise admin"),
    "operator": N_("Operator"),
    "viewer": N_("Viewer"),
    "warehouse_operator": N_("Warehouse operator"),
}


KIND_LABELS = {
    "manufacturer": N_("Manufacturer"),
    "trader": N_("Trader"),
    "warehouse": N_("Overseas warehouse operator"),
    "logistics": N_("Logistics company"),
    "platform": N_("E-commerce platform"),
}
REBATE_LABELS = {"exempt_credit_refund": N_("Exempt, credit and refund"), "exempt_refund": N_("Exempt and refund")}
ACTION_LABELS = {
    "enterprise.create": N_("Enterprise registered"),
    "enterprise.update": N_("Enterprise profile changed"),
    "user.create": N_("User created"),
    "user.password_change": N_("Password changed"),
    "membership.create": N_("Membership granted"),
    "member.add": N_("User added"),
    "member.change_role": N_("Role changed"),
    "member.remove": N_("User removed"),
    "regulator_scope.create": N_("Regulator scope set"),
    "api_key.create": N_("API key created"),
    "api_key.revoke": N_("API key revoked"),
    "warehouse.create": N_("Warehouse registered"),
    "warehouse.update": N_("Warehouse changed"),
    "warehouse.client_add": N_("Client added to warehouse"),
    "warehouse.client_remove": N_("Client removed from warehouse"),
    "warehouse.evidence_add": N_("Evidence file uploaded"),
    "warehouse.filing_record": N_("Customs filing recorded"),
    "warehouse.filing_event": N_("Customs filing status changed"),
    "reference.load": N_("Reference data loaded"),
    "product.create": N_("Product created"),
    "product.update": N_("Product changed"),
    "product.deactivate": N_("Product deactivated"),
    "customs.declaration.create": N_("Export declaration created"),
    "customs.declaration.update": N_("Export declaration changed"),
    "customs.declaration.delete": N_("Draft declaration deleted"),
    "customs.declaration.submit": N_("Export declaration submitted to customs"),
    "customs.declaration.correct": N_("Corrected declaration resubmitted (appType 2)"),
    "customs.declaration.cancel": N_("Export declaration cancelled"),
    "customs.declaration.status": N_("Declaration status changed by a customs receipt"),
    "customs.summary.create": N_("Summary application created"),
    "customs.summary.status": N_("Summary application status changed"),
    "customs.quarantine.resolve": N_("Quarantined customs file resolved"),
    "customs.inbox.upload": N_("Customs receipt uploaded"),
    "customs.quarantine.reprocess": N_("Quarantined customs file read again"),
    "customs.summary.withdraw": N_("Rejected summary application withdrawn"),
    "stock.inbound.create": N_("Inbound order created"),
    "stock.inbound.receive": N_("Inbound goods counted"),
    "stock.outbound.create": N_("Outbound order created"),
    "stock.outbound.allocate": N_("Stock allocated to an outbound order"),
    "stock.outbound.pick": N_("Outbound order picked"),
    "stock.outbound.ship": N_("Outbound order shipped"),
    "stock.outbound.deliver": N_("Outbound order delivered"),
    "stock.outbound.cancel": N_("Outbound order cancelled"),
    "stock.return.create": N_("Return order created"),
    "stock.return.receive": N_("Return received"),
    "stock.return.inspect": N_("Return inspected and disposed"),
    "stock.lot.adjust": N_("Stock adjusted"),
    "stock.lot.dispose": N_("Stock disposed"),
    "stock.lot.return_to_origin": N_("Stock returned to China"),
    "stock.lot.transfer": N_("Stock transferred"),
    "stock.lot.count": N_("Stock counted"),
    "logistics.shipment.create": N_("Shipment created"),
    "logistics.shipment.update": N_("Shipment changed"),
    "logistics.shipment.delete": N_("Shipment deleted"),
    "logistics.shipment.events": N_("Tracking events applied to a shipment"),
    "sales.orders.import": N_("Order file imported"),
    "sales.orders.link_skus": N_("Sales lines linked to the catalogue"),
    "sales.profile.create": N_("Import column profile created"),
    "sales.profile.update": N_("Import column profile changed"),
    "sales.profile.delete": N_("Import column profile deleted"),
}


EVIDENCE_KIND_LABELS = {"lease": N_("Lease"), "ownership": N_("Ownership"), "other": N_("Other")}
FILING_STATUS_LABELS = {
    "filed": N_("Filed"),
    "changed": N_("Changed"),
    "cancelled": N_("Cancelled"),
    "lapsed": N_("Lapsed (filing abolished)"),
}


#: Customs supervision modes (监管方式) by their official Chinese names.
CUSTOMS_MODE_LABELS = {
    "9610": N_("Cross-border e-commerce retail export (跨境贸易电子商务)"),
    "9710": N_("Cross-border e-commerce B2B direct export (跨境电商B2B直接出口)"),
    "9810": N_("Cross-border e-commerce export to overseas warehouses (跨境电商出口海外仓)"),
    "1210": N_("Bonded cross-border e-commerce (保税跨境贸易电子商务)"),
}
DECLARATION_STATUS_LABELS = {
    "draft": N_("Draft"),
    "submitted": N_("Submitted, awaiting receipts"),
    "needs_action": N_("Needs action"),
    "accepted": N_("Accepted by customs"),
    "inspection": N_("Inspection"),
    "released": N_("Released"),
    "closed": N_("Closed (departed)"),
    "cancel_requested": N_("Cancellation requested"),
    "cancelled": N_("Cancelled (撤销)"),
    "summarised": N_("Summarised"),
    "declared": N_("Export declaration issued"),
}
SUMMARY_STATUS_LABELS = {
    "draft": N_("Draft"),
    "submitted": N_("Submitted, awaiting receipts"),
    "needs_action": N_("Needs action"),
    "accepted": N_("Summary accepted"),
    "declared": N_("Export declaration issued"),
}
CUSTOMS_DOCUMENT_LABELS = {
    "order": N_("E-commerce order"),
    "payment": N_("Payment receipt"),
    "waybill": N_("Waybill"),
    "list": N_("Export inventory list"),
    "bill": N_("Master/sub bill"),
    "cancel": N_("List cancellation"),
    "refund": N_("Return application"),
    "summary": N_("Summary application"),
}
QUARANTINE_REASON_LABELS = {
    "malformed": N_("Not well-formed XML"),
    "unsafe": N_("Refused as unsafe"),
    "unknown_root": N_("Not a customs export message"),
    "too_large": N_("Too large"),
    "unmatched": N_("Matches no declaration"),
    "not_applicable": N_("Not applicable"),
}


def customs_mode_label(mode: str | None) -> str:
    """``9810 跨境电商出口海外仓``: the code with the mode's official name."""
    return f"{mode} {_label(CUSTOMS_MODE_LABELS, mode)}" if mode in CUSTOMS_MODE_LABELS else (mode or "")


def declaration_status_label(status: str | None) -> str:
    return _label(DECLARATION_STATUS_LABELS, status)


def summary_status_label(status: str | None) -> str:
    return _label(SUMMARY_STATUS_LABELS, status)


def customs_document_label(kind: str | None) -> str:
    return _label(CUSTOMS_DOCUMENT_LABELS, kind)


def quarantine_reason_label(kind: str | None) -> str:
    return _label(QUARANTINE_REASON_LABELS, kind)


def evidence_kind_label(kind: str | None) -> str:
    return _label(EVIDENCE_KIND_LABELS, kind)


def filing_status_label(status: str | None) -> str:
    return _label(FILING_STATUS_LABELS, status)


def _label(table: dict[str, str], key: str | None) -> str:
    return i18n.gettext(table[key]) if key in table else (key or "")


def kind_label(kind: str | None) -> str:
    return _label(KIND_LABELS, kind)


def rebate_label(method: str | None) -> str:
    return _label(REBATE_LABELS, method)


def action_label(action: str | None) -> str:
    return _label(ACTION_LABELS, action)


def role_label(role: str | None) -> str:
    return i18n.gettext(ROLE_LABELS[role]) if role in ROLE_LABELS else (role or "")


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in _template_dirs()]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.filters["merge_query"] = merge_query
    env.globals.update(
        role_label=role_label,
        kind_label=kind_label,
        rebate_label=rebate_label,
        action_label=action_label,
        filing_status_label=filing_status_label,
        evidence_kind_label=evidence_kind_label,
        customs_mode_label=customs_mode_label,
        declaration_status_label=declaration_status_label,
        summary_status_label=summary_status_label,
        customs_document_label=customs_document_label,
        quarantine_reason_label=quarantine_reason_label,
        fmt_datetime=i18n.fmt_datetime,
        fmt_date=i18n.fmt_date,
        fmt_number=i18n.fmt_number,
        pick=i18n.pick,
        current_locale=lambda: i18n.locale_var.get(),
    )
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200):
    from tradeloop.kit.pages import pop_flashes
    from tradeloop.kit.web import csrf_token
    from tradeloop.shell.nav import nav_for

    ctx = dict(context or {})
    principal = getattr(request.state, "principal", None)
    ctx.setdefault("principal", principal)
    ctx["nav"] = nav_for(principal)
    ctx["memberships"] = getattr(request.state, "memberships", [])
    ctx["user_display"] = getattr(request.state, "user_display", None)
    ctx["flashes"] = pop_flashes(request)
    ctx["request_path"] = request.url.path
    ctx["csrf_token"] = csrf_token(request)
    ctx["locale"] = i18n.locale_var.get()
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status_code)
