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
    NavItem("customs", "/m/customs", N_("Customs"),
            coming=N_("Export declarations for 9610, 9710, 9810 and 1210 over the official CEB messages, "
                      "receipts, monthly summary declarations and the declaration number.")),
    NavItem("logistics", "/m/logistics", N_("Shipments"),
            coming=N_("Headhaul shipments with legs, containers and DCSA-style tracking events; late "
                      "shipments against their ETA.")),
    NavItem("warehouses", "/warehouses", N_("Overseas warehouses")),
    NavItem("stock", "/m/stock", N_("Stock"),
            coming=N_("The stock ledger by warehouse, SKU and lot: inbound, outbound, returns, inventory age.")),
    NavItem("sales", "/m/sales", N_("Sales"),
            coming=N_("Marketplace and own-site orders imported from Amazon, Shopify and eBay files, linked "
                      "to the exports that carried the goods.")),
    NavItem("finance", "/m/finance", N_("Proceeds & FX"),
            coming=N_("Payouts, bank statements (camt.053, MT940), matching, FX settlement and receivables "
                      "aging.")),
    NavItem("tax", "/m/tax", N_("Export VAT rebates"),
            coming=N_("Purchase invoices, rebate computation, 9810 pre-rebate (HWC-YT) and declaration "
                      "files.")),
    NavItem("loop", "/m/loop", N_("Closed loop"),
            coming=N_("Per declaration: exported, received, sold, paid, settled and rebated, with what is "
                      "overdue.")),
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
