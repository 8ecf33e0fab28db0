"""Navigation of the web shell. Modules that later issues build show what they will hold."""

from __future__ import annotations

from dataclasses import dataclass

from tradeloop.kit.i18n import N_
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.tenancy import Action, Principal


@dataclass(frozen=True)
class NavItem:
    key: str
    href: str
    label: str
    needs: Action | None = Action.READ
    coming: str | None = None  # what the module will do, for modules not built yet


LOOP = [
    NavItem("home", "/", N_("Overview"), None),
    NavItem("catalog", "/catalog", N_("Catalogue")),
    NavItem("customs", "/customs", N_("Customs")),
    NavItem("logistics", "/logistics", N_("Shipments")),
    NavItem("warehouses", "/warehouses", N_("Overseas warehouses")),
    # Sub-links (库存, 库龄, 入库单, 出库单, 退货单) are the tab bar of the stock pages (stock/_tabs.html).
    NavItem("stock", "/stock", N_("Stock")),
    # Sub-links (订单行, 导入订单, 列映射方案, 未知SKU) are the tab bar of the sales pages (sales/_tabs.html).
    NavItem("sales", "/sales", N_("Sales")),
    # Per export declaration: exported, received, on hand, sold, returned (loop/pages.py).
    NavItem("loop", "/loop", N_("Closed loop")),
    # Sub-links (收汇, 银行对账单, 平台结算, 结汇, 汇率) are the tab bar of the finance pages (finance/_tabs.html).
    NavItem("finance", "/finance/bank-entries", N_("Proceeds & FX")),
    # Sub-links (进项发票, 退税计算器) are the tab bar of the tax pages (tax/_tabs.html).
    NavItem("tax", "/tax/invoices", N_("Export VAT rebates")),
    NavItem("carbon", "/m/carbon", N_("Carbon"),
            coming=N_("Transport emissions per shipment and product following ISO 14083 / GLEC.")),
]
SETTINGS = [
    NavItem("enterprise", "/enterprise", N_("Enterprise profile")),
    NavItem("users", "/users", N_("Users & roles")),
    NavItem("api-keys", "/api-keys", N_("API keys"), Action.MANAGE),
    NavItem("audit", "/audit", N_("Audit log")),
    NavItem("reference", "/reference", N_("Reference data"), None),
]
OVERSIGHT = [
    NavItem("insights", "/insights", N_("Statistics"), Action.STATS),
    NavItem("admin-enterprises", "/admin/enterprises", N_("Enterprises"), Action.PLATFORM),
    # Inbound customs files no tenant could be found for are only visible here (tenants see their own
    # under Customs).
    NavItem("customs-quarantine", "/customs/quarantine", N_("Customs quarantine"), Action.PLATFORM),
    # Reference data every user reads (tenants reach it from the finance tabs); platform admins load it here.
    NavItem("rates", "/finance/rates", N_("Exchange rates"), Action.PLATFORM),
]


def visible(items: list[NavItem], principal: Principal | None) -> list[dict]:
    out = []
    for item in items:
        if principal is None:
            continue
        if item.needs is not None and not principal.can(item.needs):
            continue
        out.append({"key": item.key, "href": item.href, "label": _(item.label), "coming": bool(item.coming)})
    return out


def nav_for(principal: Principal | None) -> dict[str, list[dict]]:
    return {"loop": visible(LOOP, principal), "settings": visible(SETTINGS, principal),
            "oversight": visible(OVERSIGHT, principal)}


def coming_item(key: str) -> NavItem | None:
    return next((i for i in LOOP if i.key == key and i.coming), None)
