"""Closed-loop pages: the exported declarations with where their units are now, and one declaration's loop —
the stages (exported → received → sold), every line's counts and realised value, and the units still abroad
by age (库龄).

Every number comes from ``loop.service``, the functions the API answers with, so a page and the API never
disagree. Quantities are shown with all their decimals (customs quantities may have some); money is shown
from minor units with the currency's own number of decimals. A CNY value is shown only when every exchange
rate it needs is known; otherwise the page says which rates are missing.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from fastapi import APIRouter, Request

from tradeloop.kit.errors import NotFound, ValidationFailed
from tradeloop.kit.i18n import N_, fmt_number, pick
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.money import from_minor
from tradeloop.kit.pages import PER_PAGE_CHOICES, int_param, xlsx_response
from tradeloop.kit.templating import render
from tradeloop.kit.web import DB, PagePrincipal
from tradeloop.loop import service
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.warehouse.aging import LABELS as AGE_BUCKETS
from tradeloop.warehouse.repository import WarehouseRepository

router = APIRouter()

#: Where an exported unit is now: the terms of the conservation equation, in the order a unit moves.
STATES = (
    ("in_transit", N_("In transit")),
    ("on_hand", N_("On hand abroad")),
    ("sold", N_("Sold (net of returns)")),
    ("disposed", N_("Disposed")),
    ("returned_to_origin", N_("Returned to China")),
    ("losses", N_("Recorded losses")),
)
STATE_COLOURS = {"in_transit": "#8fb3de", "on_hand": "#2f6db5", "sold": "#3c9d5d", "disposed": "#b0b0b0",
                 "returned_to_origin": "#e0a100", "losses": "#d9622b"}
#: The stages of the loop (the funnel).
STAGES = (("exported", N_("Exported")), ("received", N_("Received into stock")), ("sold", N_("Sold (net of returns)")))
AGE_COLOURS = ("#3c9d5d", "#8cc63f", "#e0c200", "#f29a1d", "#d9622b", "#b42318")
#: The declarations an Excel export holds at most (one row per line).
EXPORT_LIMIT = 5_000


def qty(value: Decimal | int | None) -> str:
    """A quantity with all its decimals, never rounded (customs quantities may have up to 5)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        places = max(0, -value.normalize().as_tuple().exponent)
        return fmt_number(value, places)
    return fmt_number(value)


def _plain(value: Decimal | int) -> int | float:
    """A number for a chart (JSON): an int when whole."""
    return int(value) if value == int(value) else float(value)


class Money:
    """Minor units shown as amounts of their currency; the currencies' decimals are looked up once."""

    def __init__(self, db):
        self.refs = ReferenceLookup(db)

    def digits(self, currency: str | None) -> int:
        found = self.refs.minor_units(currency) if currency else None
        return 2 if found is None else found

    def amount(self, minor: int | None, currency: str | None) -> Decimal | None:
        return None if minor is None else from_minor(minor, self.digits(currency))

    def text(self, minor: int | None, currency: str | None) -> str:
        if minor is None:
            return ""
        return f"{fmt_number(self.amount(minor, currency), self.digits(currency))} {currency or ''}".strip()


def rate_gaps(keys: list[str]) -> list[dict]:
    """Missing rates ("USD 2026-03-14") per currency: how many days, the first and the last."""
    days: dict[str, list[str]] = {}
    for key in keys:
        currency, _sep, day = key.partition(" ")
        days.setdefault(currency, []).append(day)
    return [{"currency": c, "days": len(ds), "first": min(ds), "last": max(ds)} for c, ds in sorted(days.items())]


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _warehouses(db, principal) -> dict[uuid.UUID, object]:
    return {w.id: w for w in WarehouseRepository(db, principal).iterate()}


def _warehouse_text(warehouses: dict, warehouse_id, fallback: str | None = None) -> str:
    w = warehouses.get(warehouse_id)
    if w is not None:
        return f"{w.code} · {pick(w.name_zh, w.name_en)}"
    return fallback or ""


def _helpers(db) -> dict:
    return {"qty": qty, "money": Money(db), "states": [(k, _(v)) for k, v in STATES], "state_colours": STATE_COLOURS,
            "rate_gaps": rate_gaps,
            "age_buckets": list(AGE_BUCKETS)}


def _state_series(rows: list[tuple[str, dict]]) -> dict:
    """The chart of where the units are: one stacked bar per row (a line or a declaration)."""
    return {"categories": [name for name, _t in rows],
            "series": [{"name": _(label), "key": key, "type": "bar", "stack": "units",
                        "itemStyle": {"color": STATE_COLOURS[key]},
                        # a negative in-transit count (more counted than declared) is a violation the
                        # table shows; a stacked bar cannot draw it
                        "data": [max(0, _plain(t[key])) for _n, t in rows]} for key, label in STATES]}


# --- the list of exported declarations ------------------------------------------------------------------


@router.get("/loop")
def list_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    per_page = int_param(params, "per_page", PER_PAGE_CHOICES[0])
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    q, warehouse_id = (params.get("q") or "").strip() or None, _uuid(params.get("warehouse"))
    try:
        views, nxt = service.declarations_page(db, principal=principal, cursor=params.get("cursor") or None,
                                               limit=per_page, q=q, warehouse_id=warehouse_id)
    except ValidationFailed:  # a cursor that is not ours (edited URL): start again at the first page
        params.pop("cursor", None)
        views, nxt = service.declarations_page(db, principal=principal, cursor=None, limit=per_page, q=q,
                                               warehouse_id=warehouse_id)
    warehouses = _warehouses(db, principal)
    rows = [{"d": v.declaration, "t": v.totals, "lines": len(v.lines),
             "warehouse": warehouses[v.declaration.warehouse_id].code
             if v.declaration.warehouse_id in warehouses else (v.declaration.ebp_name or "")} for v in views]
    chart = _state_series([(r["d"].cop_no, r["t"]) for r in rows[:15]]) if rows else None
    months = service.by_month(db, principal=principal)
    month_chart = {"months": [m["month"] for m in months],
                   "series": [{"name": _(label), "key": key, "data": [_plain(m[key]) for m in months]}
                              for key, label in (("exported", N_("Exported")), ("received", N_("Received into stock")),
                                                 ("sold", N_("Sold")))],
                   "rebate": {"name": _("Rebate approved (CNY)"),
                              "data": [m["rebate_approved_minor"] / 100 for m in months]}} if months else None
    page_totals = {k: sum((r["t"][k] for r in rows), Decimal(0)) for k, _l in (*STAGES, *STATES)}
    return render(request, "loop/list.html", {
        "active": "loop", "rows": rows, "params": params, "next_cursor": nxt, "per_page": per_page,
        "warehouses": [(str(k), _warehouse_text(warehouses, k)) for k in warehouses], "chart": chart,
        "page_totals": page_totals, "stages": [(k, _(v)) for k, v in STAGES], "month_chart": month_chart,
        **_helpers(db)})


@router.get("/loop.xlsx")
def export(request: Request, principal: PagePrincipal, db: DB):
    """Every line of the matching exported declarations (newest first), with its loop counts and value."""
    params = dict(request.query_params)
    q, warehouse_id = (params.get("q") or "").strip() or None, _uuid(params.get("warehouse"))
    money, warehouses = Money(db), _warehouses(db, principal)
    header = [_("Internal no. (copNo)"), _("List no. (invtNo)"), _("Export declaration no. (entryId)"),
              _("Supervision mode"), _("Export date"), _("Overseas warehouse"), _("Line"), "SKU", _("Goods name"),
              _("Exported"), _("Declared value"), _("Currency"), _("Received into stock"), _("Damaged"), _("Short"),
              *(_(label) for _k, label in STATES), _("Returned by buyers"), _("Realised value"),
              _("Realised value (CNY)"), _("Balanced")]

    def rows():
        cursor, done = None, 0
        while done < EXPORT_LIMIT:
            views, cursor = service.declarations_page(db, principal=principal, cursor=cursor, limit=100, q=q,
                                                      warehouse_id=warehouse_id)
            for v in views:
                d = v.declaration
                for li in v.lines:
                    value = " · ".join(money.text(m, c) for c, m in sorted(li.sales_value.items()))
                    cny = money.amount(li.sales_value_cny, "CNY") if li.sales_value_cny is not None else \
                        _("Rate missing: %(rates)s", rates=", ".join(li.missing_rates))
                    yield [d.cop_no, d.invt_no or "", d.entry_id or "", d.mode, d.ie_date,
                           _warehouse_text(warehouses, d.warehouse_id, d.ebp_name), li.gnum, li.sku, li.name,
                           li.exported, money.amount(li.declared_value_minor, li.currency), li.currency, li.received,
                           li.damaged, li.short, *(getattr(li, k) for k, _l in STATES), li.returned, value, cny,
                           _("Yes") if li.balanced else _("No")]
            done += len(views)
            if cursor is None:
                break

    return xlsx_response("closed-loop.xlsx", header, rows())


# --- one declaration's loop ---------------------------------------------------------------------------


@router.get("/loop/declarations/{declaration_id}")
def declaration_page(declaration_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    view = service.one_declaration(db, principal=principal, declaration_id=declaration_id)
    d, totals = view.declaration, view.totals
    warehouse = None
    if d.warehouse_id:
        try:
            warehouse = WarehouseRepository(db, principal).get(d.warehouse_id)
        except NotFound:  # no longer a client of that warehouse: the declaration still names it (ebpName)
            warehouse = None
    line_rows = [(f"{li.gnum} · {li.sku}", {k: getattr(li, k) for k, _l in STATES}) for li in view.lines]
    chart = {
        "stages": [{"name": _(label), "value": _plain(totals[key]), "key": key} for key, label in STAGES],
        "lines": _state_series([("Σ " + _("Declaration"), totals), *line_rows]) if len(view.lines) > 1
        else _state_series(line_rows),
        "ages": {"categories": [_("%(range)s days", range=b) for b in AGE_BUCKETS],
                 "data": [{"value": totals["abroad_by_age"][b], "itemStyle": {"color": AGE_COLOURS[i]}}
                          for i, b in enumerate(AGE_BUCKETS)]},
    }
    return render(request, "loop/declaration.html", {
        "active": "loop", "d": d, "lines": view.lines, "t": totals, "chart": chart,
        "warehouse_text": f"{warehouse.code} · {pick(warehouse.name_zh, warehouse.name_en)}" if warehouse
        else (d.ebp_name or ""), "stages": [(k, _(v)) for k, v in STAGES], "tax": view.tax,
        "proceeds_due": view.proceeds_due, "proceeds_overdue": view.proceeds_overdue,
        "abroad_total": sum(totals["abroad_by_age"].values()), **_helpers(db)})
