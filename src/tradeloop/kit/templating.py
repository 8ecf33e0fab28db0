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
                          "catalog")


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
}


EVIDENCE_KIND_LABELS = {"lease": N_("Lease"), "ownership": N_("Ownership"), "other": N_("Other")}
FILING_STATUS_LABELS = {
    "filed": N_("Filed"),
    "changed": N_("Changed"),
    "cancelled": N_("Cancelled"),
    "lapsed": N_("Lapsed (filing abolished)"),
}


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
