"""Customs pages: declarations (list, form, detail with documents, messages and receipts), the CEB message
viewer, monthly summaries (汇总申报) and the quarantine of inbound files.

Every change goes through ``customs.service`` inside the request's transaction; a refusal rolls the
transaction back and comes back as field errors on the form, or as a flash message on the detail page.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from lxml import etree

from tradeloop.catalog.repository import ProductRepository
from tradeloop.customs import service
from tradeloop.customs.ceb import reader
from tradeloop.customs.ceb.catalogue import MESSAGE_TYPES, status_text
from tradeloop.customs.ceb.safe import CebRefused
from tradeloop.customs.ceb.safe import parse as safe_parse
from tradeloop.customs.ceb.schema import CEB
from tradeloop.customs.gateway import exchange_config
from tradeloop.customs.messages import BEIJING, parse_return_time
from tradeloop.customs.models import Declaration, DeclarationStatus, Message, Mode, Quarantined, SummaryStatus
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.kit.errors import DomainError, NotFound, ValidationFailed
from tradeloop.kit.i18n import fmt_number, locale_var, ngettext, pick, timezone_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.money import from_minor
from tradeloop.kit.pages import error_messages, flash, int_param, offset_page, redirect
from tradeloop.kit.templating import declaration_status_label, render
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.reference.lookup import ReferenceLookup
from tradeloop.reference.repository import ReferenceRepository
from tradeloop.warehouse.repository import WarehouseRepository

router = APIRouter()

MODES = [m.value for m in (Mode.RETAIL, Mode.B2B_DIRECT, Mode.OVERSEAS_WAREHOUSE, Mode.BONDED)]
HEAD_FIELDS = ("warehouse_id", "order_no", "ebp_code", "ebp_name", "owner_code", "owner_name", "agent_code",
               "agent_name", "logistics_code", "logistics_name", "logistics_no", "customs_code", "port_code",
               "ie_date", "country", "pod", "traf_mode", "traf_name", "voyage_no", "bill_no", "trade_terms",
               "currency", "freight", "insured_fee", "wrap_type", "pack_no", "gross_weight_kg", "net_weight_kg",
               "statistics_flag", "license_no", "iac_code", "iac_name", "ems_no", "pay_code", "pay_name", "pay_no",
               "paid_at", "note")
#: Fields that only one mode uses; the form hides them for the others and they are not sent then.
PLATFORM_FIELDS = ("ebp_code", "ebp_name")  # every mode but 9810 (there the warehouse is the platform)
PAYMENT_FIELDS = ("pay_code", "pay_name", "pay_no", "paid_at")  # 9610
BONDED_FIELDS = ("iac_code", "iac_name", "ems_no")  # 1210
LINE_FIELDS = ("sku", "qty", "price", "item_record_no")
LINE_KEY = re.compile(r"lines-(\d{1,4})-(sku|qty|price|item_record_no)")
MONTH_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
SORTS = {"created": Declaration.id, "ie_date": Declaration.ie_date, "cop_no": Declaration.cop_no,
         "status": Declaration.status, "value": Declaration.goods_value_minor}
#: Package types (WRAP_TYPES) in English, for the English UI.
WRAP_TYPES_EN = {"1": "Wooden case", "2": "Carton", "3": "Drum", "4": "Bulk", "5": "Pallet", "6": "Bag",
                 "7": "Other"}
SUMMARY_MESSAGE_TYPES = {"CEB701", "CEB702", "CEB792"}
STATUS_BADGES = {
    DeclarationStatus.NEEDS_ACTION: "danger", DeclarationStatus.INSPECTION: "warn",
    DeclarationStatus.CANCEL_REQUESTED: "warn", DeclarationStatus.CLOSED: "ok", DeclarationStatus.SUMMARISED: "ok",
    DeclarationStatus.DECLARED: "ok", DeclarationStatus.RELEASED: "ok", DeclarationStatus.CANCELLED: "off",
    DeclarationStatus.DRAFT: "off",
}
STATUS_COLOURS = {"draft": "#9aa5b1", "submitted": "#5b8fd6", "needs_action": "#d64545", "accepted": "#2f6db5",
                  "inspection": "#e0a100", "released": "#3c9d5d", "closed": "#1f7a45", "cancel_requested": "#c77d00",
                  "cancelled": "#b0b0b0", "summarised": "#2a8f8f", "declared": "#14532d"}


def _today() -> date:
    return datetime.now(ZoneInfo(timezone_var.get())).date()


def _tabs(principal: Principal) -> bool:
    """Declarations and summaries belong to a tenant; a platform admin without one sees the quarantine only."""
    return principal.enterprise_id is not None and principal.can(Action.READ)


# --- labels ---------------------------------------------------------------------------------------


def _field_labels() -> dict[str, str]:
    return {
        "mode": _("Customs mode"), "warehouse_id": _("Overseas warehouse"), "order_no": _("Order / booking no."),
        "ebp_code": _("Platform code"), "ebp_name": _("Platform name"), "owner_code": _("Producer code"),
        "owner_name": _("Producer name"), "agent_code": _("Declaring agent code"),
        "agent_name": _("Declaring agent name"), "logistics_code": _("Logistics company code"),
        "logistics_name": _("Logistics company name"), "logistics_no": _("Waybill no."),
        "customs_code": _("Declaring customs office"), "port_code": _("Exit port customs"),
        "ie_date": _("Export date"), "country": _("Destination country"), "pod": _("Port of destination"),
        "traf_mode": _("Transport mode"), "traf_name": _("Vessel / flight name"), "voyage_no": _("Voyage no."),
        "bill_no": _("Bill of lading no."), "trade_terms": _("Trade terms"), "currency": _("Currency"),
        "freight": _("Freight"), "insured_fee": _("Insurance"), "wrap_type": _("Package type"),
        "pack_no": _("Packages"), "gross_weight_kg": _("Gross weight (kg)"), "net_weight_kg": _("Net weight (kg)"),
        "statistics_flag": _("Declaration type"), "license_no": _("Licence no."),
        "iac_code": _("Special-area enterprise code"), "iac_name": _("Special-area enterprise name"),
        "ems_no": _("Bonded account no."), "pay_code": _("Payment company code"),
        "pay_name": _("Payment company name"), "pay_no": _("Payment transaction no."),
        "paid_at": _("Paid at"), "note": _("Note"), "lines": _("Goods lines"), "reason": _("Reason"),
        "month": _("Month"), "resolution": _("Resolution"),
        "decl_agent_code": _("Customs broker code"), "decl_agent_name": _("Customs broker name"),
    }


def _line_field_labels() -> dict[str, str]:
    return {"sku": "SKU", "qty": _("Quantity"), "price": _("FOB unit price"),
            "item_record_no": _("Bonded item record no."), "gcode": _("HS code"), "customs_unit": _("Customs unit"),
            "unit1": _("Legal unit 1"), "unit2": _("Legal unit 2"), "bar_code": _("Barcode"),
            "gmodel": _("Specification"), "country": _("Final destination"), "note": _("Note")}


LINE_ERROR = re.compile(r"lines\[(\d+)\]\.(\w+)")


def _label_of(field: str) -> str:
    match = LINE_ERROR.fullmatch(field)
    if match:
        sub = _line_field_labels().get(match[2], match[2])
        return _("Line %(n)s", n=int(match[1]) + 1) + " · " + sub
    return _field_labels().get(field, field)


def _anchor(field: str) -> str:
    """The id of the input a field error belongs to (a product's own problem points at its SKU)."""
    match = LINE_ERROR.fullmatch(field)
    if match:
        return f"f-lines-{match[1]}-{match[2] if match[2] in LINE_FIELDS else 'sku'}"
    return f"f-{field}"


def _error_list(errors: dict[str, str]) -> list[dict]:
    return [{"field": k, "anchor": _anchor(k), "label": _label_of(k), "message": v}
            for k, v in errors.items() if k != "_"]


def _colon() -> str:
    return ": " if locale_var.get() == "en" else "："


def _refusal(exc: DomainError) -> str:
    """A refusal as one line for a flash message, in the page language."""
    messages = error_messages(exc)
    fields = [f"{item['label']}{_colon()}{item['message']}" for item in _error_list(messages)]
    return ("; " if locale_var.get() == "en" else "；").join(fields) if fields else messages["_"]


def status_badge(status: str) -> str:
    return STATUS_BADGES.get(status, "")


def _receipt_status(code: str | None) -> str:
    text = status_text(code)
    return pick(*text) if text else ""


def _message_type_name(code: str) -> str:
    mt = MESSAGE_TYPES.get(code)
    return pick(mt.name_zh, mt.name_en) if mt else ""


def exact(value: Decimal | None) -> str:
    """A quantity or unit price with all its decimals (up to the 5 customs allows), never rounded."""
    if value is None:
        return ""
    places = max(0, -value.normalize().as_tuple().exponent)
    return fmt_number(value, places)


# --- reference options ----------------------------------------------------------------------------


class Refs:
    """Names of the codes a declaration carries, looked up once per request."""

    def __init__(self, db):
        self.repo = ReferenceRepository(db)
        self.lookup = ReferenceLookup(db)
        self._units: dict[str, str] | None = None
        self._transport: list[tuple[str, str]] | None = None

    def units(self, iso: str | None) -> int:
        return (self.lookup.minor_units(iso) if iso else None) or 0

    def amount(self, minor: int | None, iso: str | None) -> Decimal | None:
        if minor is None:
            return None
        return from_minor(minor, self.units(iso))

    def country(self, code: str | None) -> str:
        row = self.repo.customs_country(code) if code else None
        return f"{pick(row.name_zh, row.name_en)}" if row else (code or "")

    def office(self, code: str | None) -> str:
        row = self.repo.customs_office(code) if code else None
        return row.name_zh if row else ""

    def unit(self, code: str | None) -> str:
        if self._units is None:
            self._units = {u.code: u.name_zh for u in self.repo.rows("units")}
        return self._units.get(code or "", code or "")

    def transport(self, code: str | None) -> str:
        return dict(self.transport_modes()).get(code or "", code or "")

    def transport_modes(self) -> list[tuple[str, str]]:
        if self._transport is None:
            self._transport = [(t.code, f"{t.code} {pick(t.name_zh or t.legacy_name_zh, t.name_en)}")
                               for t in self.repo.rows("transport_modes")]
        return self._transport

    def countries(self) -> list[tuple[str, str]]:
        rows = [c for c in self.repo.rows("countries") if c.iso_alpha2 and c.customs_code != service.CHINA]
        rows.sort(key=lambda c: c.iso_alpha2)
        return [(c.customs_code, f"{c.iso_alpha2} {pick(c.name_zh, c.name_en)} ({c.customs_code})") for c in rows]

    def currencies(self) -> list[tuple[str, str]]:
        seen: dict[str, str] = {}
        for c in self.repo.rows("currencies"):
            if c.iso_4217 and c.minor_units is not None and c.iso_4217 not in seen:
                seen[c.iso_4217] = f"{c.iso_4217} {pick(c.name_zh, c.name_en)}"
        return sorted(seen.items())

    def offices(self) -> list[tuple[str, str]]:
        return [(o.code, o.name_zh) for o in self.repo.rows("customs_offices")]


def _with(options: list[tuple[str, str]], value: str | None) -> list[tuple[str, str]]:
    """Keep a stored value selectable even when it is no longer among the options."""
    if value and value not in {v for v, _t in options}:
        return [(value, value), *options]
    return options


# --- list -----------------------------------------------------------------------------------------


def _date_param(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(params: dict) -> dict:
    status = params.get("status") or None
    mode = params.get("mode") or None
    return {"q": params.get("q") or None,
            "status": status if status in {s.value for s in DeclarationStatus} else None,
            "mode": mode if mode in MODES else None,
            "date_from": _date_param(params.get("date_from")), "date_to": _date_param(params.get("date_to"))}


@router.get("/customs")
def list_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = DeclarationRepository(db, principal)
    default_desc = "0" if params.get("sort") else "1"
    page = offset_page(db, repo.filtered(**_filters(params)), sort_columns=SORTS, sort=params.get("sort"),
                       desc=params.get("desc", default_desc) == "1", page=int_param(params, "page", 1),
                       per_page=int_param(params, "per_page", 20), default_sort="created")
    counts = repo.count_by_status()
    statuses = [s.value for s in DeclarationStatus]
    chart = [{"name": declaration_status_label(s), "value": counts[s], "status": s,
              "itemStyle": {"color": STATUS_COLOURS.get(s, "#2f6db5")}} for s in statuses if counts.get(s)]
    refs = Refs(db)
    rows = [{"d": d, "country": refs.country(d.country), "value": refs.amount(d.goods_value_minor, d.currency),
             "units": refs.units(d.currency)} for d in page.rows]
    return render(request, "customs/list.html", {
        "active": "customs", "tab": "declarations", "tabs": _tabs(principal), "page": page, "rows": rows,
        "params": params, "counts": counts, "total": sum(counts.values()), "statuses": statuses, "modes": MODES,
        "chart": chart, "can_write": principal.can(Action.WRITE), "badge": status_badge})


# --- form -----------------------------------------------------------------------------------------


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _form_of(db, decl: Declaration, lines) -> tuple[dict, list[dict]]:
    refs = Refs(db)
    form = {k: _plain(getattr(decl, k, None)) for k in HEAD_FIELDS if k not in ("freight", "insured_fee")}
    form["mode"] = decl.mode
    units = refs.units(decl.currency)
    form["freight"] = _plain(from_minor(decl.freight_minor, units)) if decl.freight_minor else ""
    form["insured_fee"] = _plain(from_minor(decl.insured_fee_minor, units)) if decl.insured_fee_minor else ""
    if decl.mode == Mode.OVERSEAS_WAREHOUSE:  # filled from the warehouse; the form does not show them
        form["ebp_code"] = form["ebp_name"] = ""
    if decl.owner_code == decl.ebc_code:  # "the enterprise itself" is the empty default
        form["owner_code"] = form["owner_name"] = ""
    if decl.agent_code == decl.ebc_code:
        form["agent_code"] = form["agent_name"] = ""
    for key in ("gross_weight_kg", "net_weight_kg"):  # derived from the products: stays derived when edited
        parts = [getattr(li, key) for li in lines]
        if parts and all(x is not None for x in parts) and sum(parts, Decimal(0)) == getattr(decl, key):
            form[key] = ""
    rows = [{"sku": li.item_no, "qty": _plain(li.qty), "price": _plain(li.price),
             "item_record_no": li.item_record_no or ""} for li in lines]
    return form, rows


def _posted(form: dict) -> tuple[dict, list[dict]]:
    """The head fields and the filled line rows of a posted form, in row order (gaps closed, so the
    service's ``lines[i]`` errors point at the rows as they are shown again)."""
    head = {k: form.get(k, "") for k in (*HEAD_FIELDS, "mode")}
    rows: dict[int, dict] = {}
    for key, value in form.items():
        match = LINE_KEY.fullmatch(key)
        if match:
            rows.setdefault(int(match[1]), {f: "" for f in LINE_FIELDS})[match[2]] = value
    lines = [rows[i] for i in sorted(rows) if any(rows[i][f] for f in ("sku", "qty", "price"))]
    return head, lines


def _service_values(head: dict, lines: list[dict], mode: str, *, with_mode: bool) -> dict:
    values: dict = {k: (head.get(k) or None) for k in HEAD_FIELDS}
    if with_mode:
        values["mode"] = head.get("mode") or None
    if mode == Mode.OVERSEAS_WAREHOUSE:
        values.update(dict.fromkeys(PLATFORM_FIELDS))
    else:
        values["warehouse_id"] = None
    if mode != Mode.RETAIL:
        values.update(dict.fromkeys(PAYMENT_FIELDS))
    if mode != Mode.BONDED:
        values.update(dict.fromkeys(BONDED_FIELDS))
    values["lines"] = [{"sku": li["sku"] or None, "qty": li["qty"] or None, "price": li["price"] or None,
                        "item_record_no": (li["item_record_no"] or None) if mode == Mode.BONDED else None}
                       for li in lines]
    return values


def _line_errors(errors: dict[str, str], count: int) -> list[dict]:
    """Per row: the errors of its inputs, and the product's own problems (HS code, units …) as one text."""
    labels = _line_field_labels()
    out = [{"other": []} for _i in range(count)]
    for key, message in errors.items():
        match = LINE_ERROR.fullmatch(key)
        if not match or int(match[1]) >= count:
            continue
        row, sub = out[int(match[1])], match[2]
        if sub in LINE_FIELDS:
            row[sub] = message
        else:
            row["other"].append(f"{labels.get(sub, sub)}{_colon()}{message}")
    return out


def _form_page(request, db, principal, *, form: dict, lines: list[dict], errors=None, decl=None,
               status_code=200):
    errors = errors or {}
    refs = Refs(db)
    products = [(p.sku, f"{p.sku} — {pick(p.name_zh, p.name_en)}")
                for p in ProductRepository(db, principal).iterate(active=True)]
    for li in lines:
        products = _with(products, li.get("sku"))
    warehouses = [(str(w.id), f"{w.code} · {pick(w.name_zh, w.name_en)}")
                  for w in WarehouseRepository(db, principal).iterate()]
    rows = lines or [{f: "" for f in LINE_FIELDS}]
    mode = decl.mode if decl is not None else form.get("mode", "")
    return render(request, "customs/form.html", {
        "active": "customs", "tab": "declarations", "tabs": _tabs(principal), "form": form, "lines": rows,
        "line_errors": _line_errors(errors, len(rows)), "errors": errors, "error_list": _error_list(errors),
        "decl": decl, "mode": mode, "modes": MODES,
        "title": _("Edit declaration %(cop_no)s", cop_no=decl.cop_no) if decl else _("New export declaration"),
        "keys_fixed": decl is not None and decl.status == DeclarationStatus.NEEDS_ACTION,
        "products": products, "warehouses": _with(warehouses, form.get("warehouse_id")),
        "countries": _with(refs.countries(), form.get("country")),
        "currencies": _with(refs.currencies(), form.get("currency")),
        "transport_modes": _with(refs.transport_modes(), form.get("traf_mode")), "offices": refs.offices(),
        "wrap_types": [(k, pick(v, WRAP_TYPES_EN.get(k))) for k, v in service.WRAP_TYPES.items()],
        "trade_terms": [(t, t) for t in service.TRADE_TERMS],
        "statistics_flags": [("B", _("B · summary declaration (汇总申报)")),
                             ("A", _("A · simplified declaration (简化申报), 9610 only"))],
        "max_lines": service.MAX_LINES}, status_code=status_code)


@router.get("/customs/new")
def new_page(request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    form = {"trade_terms": "FOB", "currency": "USD", "wrap_type": "2", "statistics_flag": "B",
            "ie_date": _today().isoformat(), "mode": request.query_params.get("mode", "")}
    return _form_page(request, db, principal, form=form, lines=[])


def _invalid(exc: ValidationFailed) -> dict[str, str]:
    errors = error_messages(exc)
    if len(errors) > 1:  # field errors: the banner says what to do, the summary lists them
        errors["_"] = _("The declaration was not saved: correct the fields listed below.")
    return errors


@router.post("/customs", dependencies=[CSRF])
def create(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    head, lines = _posted(form)
    mode = head.get("mode") or ""
    try:
        decl = service.create_declaration(db, principal=principal,
                                          data=_service_values(head, lines, mode, with_mode=True))
    except ValidationFailed as exc:
        db.rollback()
        return _form_page(request, db, principal, form=head, lines=lines, errors=_invalid(exc), status_code=422)
    flash(request, _("Declaration %(cop_no)s saved as a draft. Check it, then submit it to customs.",
                     cop_no=decl.cop_no))
    return redirect(f"/customs/{decl.id}")


# --- summaries (static paths before /customs/{declaration_id}) -------------------------------------


@router.get("/customs/summaries")
def summaries_page(request: Request, principal: PagePrincipal, db: DB):
    repo = DeclarationRepository(db, principal)
    month = request.query_params.get("month") or service.overdue_summary_month(_today())
    month_ok = MONTH_RE.fullmatch(month) is not None
    refs = Refs(db)
    groups = []
    if month_ok:
        for group in service.plan_summaries(db, principal=principal, month=month):
            customs_code, agent_code, ebc_code, owner_code, traf_mode, country, port_code = group.key
            values: dict[str, Decimal] = {}
            for d in group.declarations:
                values[d.currency] = values.get(d.currency, Decimal(0)) + refs.amount(d.goods_value_minor,
                                                                                       d.currency)
            groups.append({"customs_code": customs_code, "customs_name": refs.office(customs_code),
                           "agent_code": agent_code, "ebc_code": ebc_code, "owner_code": owner_code,
                           "traf_mode": refs.transport(traf_mode), "country": refs.country(country),
                           "port_code": port_code, "port_name": refs.office(port_code),
                           "lists": len(group.declarations), "declarations": group.declarations,
                           "values": [(cur, v, refs.units(cur)) for cur, v in sorted(values.items())]})
    summaries = repo.summaries()
    counts = repo.summary_counts([s.id for s in summaries])
    today = _today()
    rows = [{"s": s, "count": counts.get(s.id, 0), "country": refs.country(s.country),
             "overdue": today > s.due_date and s.status != SummaryStatus.DECLARED,
             "messages": repo.messages(s.id)} for s in summaries]
    return render(request, "customs/summaries.html", {
        "active": "customs", "tab": "summaries", "tabs": _tabs(principal), "month": month, "month_ok": month_ok,
        "groups": groups, "rows": rows, "can_write": principal.can(Action.WRITE),
        "due": service.due_date(month) if month_ok else None})


@router.post("/customs/summaries", dependencies=[CSRF])
def create_summaries(request: Request, principal: PagePrincipal, db: DB, form: FormData):
    month = form.get("month", "")
    back = f"/customs/summaries?month={quote(month)}"
    try:
        created = service.create_summaries(db, principal=principal, month=month,
                                           config=exchange_config(request.app.state.settings),
                                           decl_agent_code=form.get("decl_agent_code") or None,
                                           decl_agent_name=form.get("decl_agent_name") or None)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db.rollback()
        flash(request, _refusal(exc), "error")
        return redirect(back)
    if created:
        flash(request, ngettext("%(num)s summary application (CEB701) queued for customs.",
                                "%(num)s summary applications (CEB701) queued for customs.", len(created)))
    else:
        flash(request, _("No closed lists of %(month)s are waiting to be summarised.", month=month), "warning")
    return redirect(back)


# --- quarantine -----------------------------------------------------------------------------------


def _all_tenants(principal: Principal) -> bool:
    return principal.can(Action.PLATFORM)


@router.get("/customs/quarantine")
def quarantine_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    all_tenants = _all_tenants(principal)
    stmt = DeclarationRepository(db, principal).quarantine(open_only=params.get("resolved") != "1",
                                                           all_tenants=all_tenants)
    page = offset_page(db, stmt, sort_columns={"received": Quarantined.received_at}, sort="received", desc=True,
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 20),
                       default_sort="received")
    can_resolve = all_tenants or principal.can(Action.WRITE)
    return render(request, "customs/quarantine.html", {
        "active": "customs" if _tabs(principal) else "customs-quarantine", "tab": "quarantine",
        "tabs": _tabs(principal), "page": page, "params": params, "can_resolve": can_resolve,
        "all_tenants": all_tenants})


@router.get("/customs/quarantine/{item_id}/file")
def quarantine_file(item_id: uuid.UUID, principal: PagePrincipal, db: DB):
    item = DeclarationRepository(db, principal).quarantined(item_id, all_tenants=_all_tenants(principal))
    return Response(item.content, media_type="application/octet-stream",
                    headers={"Content-Disposition": _attachment(item.filename or f"{item.sha256[:12]}.xml")})


@router.post("/customs/quarantine/{item_id}/resolve", dependencies=[CSRF])
def resolve(item_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    all_tenants = _all_tenants(principal)
    DeclarationRepository(db, principal).quarantined(item_id, all_tenants=all_tenants)  # 404 before anything
    try:
        service.resolve_quarantined(db, principal=principal, item_id=item_id, resolution=form.get("resolution", ""),
                                    all_tenants=all_tenants)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db.rollback()
        flash(request, _refusal(exc), "error")
    else:
        flash(request, _("The file is marked as resolved; it stays stored."))
    return redirect("/customs/quarantine")


# --- messages -------------------------------------------------------------------------------------


def _attachment(filename: str) -> str:
    """Content-Disposition for a stored file name (received names come from outside: quoted, not trusted)."""
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:120] or "message.xml"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename[:200], safe='')}"


def _pretty(content: bytes) -> str:
    try:
        root = safe_parse(content)
    except CebRefused:
        return content.decode("utf-8", errors="replace")
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


def _facts(msg: Message) -> list[dict]:
    """What a message says, for the timeline: per record its status (receipts), appType (outbound), the
    numbers customs gave and its note. Read with the safe parser, without schema validation."""
    try:
        root = reader.parse_message(msg.content, source=msg.filename)
    except CebRefused:
        return []
    q = f"{{{CEB}}}"
    out = []
    for status in root.iter(f"{q}returnStatus", f"{q}decState"):
        parent = status.getparent()
        code = (status.text or "").strip()
        out.append({"code": code, "label": _receipt_status(code),
                    "info": (parent.findtext(f"{q}returnInfo") or "").strip(),
                    "time": parse_return_time((parent.findtext(f"{q}returnTime") or "").strip()),
                    "numbers": {k: v for k in ("preNo", "invtNo", "sumNo", "entryId")
                                if (v := (parent.findtext(f"{q}{k}") or "").strip())}})
    if not out:
        for app in root.iter(f"{q}appType"):
            out.append({"app_type": (app.text or "").strip()})
            break
    return out


def _message_owner_url(msg: Message) -> str:
    if msg.message_type in SUMMARY_MESSAGE_TYPES:
        return "/customs/summaries"
    return f"/customs/{msg.owner_id}" if msg.owner_id else "/customs"


@router.get("/customs/messages/{message_id}")
def message_page(message_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    msg = DeclarationRepository(db, principal).message(message_id)
    return render(request, "customs/message.html", {
        "active": "customs", "tab": "declarations", "tabs": _tabs(principal), "m": msg,
        "type_name": _message_type_name(msg.message_type), "xml": _pretty(msg.content), "facts": _facts(msg),
        "back": _message_owner_url(msg), "size": len(msg.content)})


@router.get("/customs/messages/{message_id}/download")
def message_download(message_id: uuid.UUID, principal: PagePrincipal, db: DB):
    msg = DeclarationRepository(db, principal).message(message_id)
    return Response(msg.content, media_type="application/xml", headers={"Content-Disposition": _attachment(
        msg.filename)})


# --- detail and actions ---------------------------------------------------------------------------


@router.get("/customs/{declaration_id}")
def detail(declaration_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    repo = DeclarationRepository(db, principal)
    decl = repo.get(declaration_id)
    lines = repo.lines(decl.id)
    refs = Refs(db)
    warehouse = None
    if decl.warehouse_id:
        try:
            warehouse = WarehouseRepository(db, principal).get(decl.warehouse_id)
        except NotFound:  # no longer a client of that warehouse: the declaration still names it (ebpName)
            warehouse = None
    summary = repo.summary(decl.summary_id) if decl.summary_id else None
    documents = [{"d": d, "label": _receipt_status(d.status_code), "time": parse_return_time(d.status_time),
                  "type_name": _message_type_name(d.message_type)} for d in repo.documents(decl.id)]
    # The summary application's messages (CEB701 out, 702/792 in) belong to this declaration's story too:
    # the export declaration number arrives with them.
    messages = repo.messages(decl.id) + (repo.messages(summary.id) if summary else [])
    messages.sort(key=lambda m: (m.created_at, m.id))
    timeline = [{"m": m, "type_name": _message_type_name(m.message_type), "facts": _facts(m)} for m in messages]
    units = refs.units(decl.currency)
    can_write = principal.can(Action.WRITE)
    status = decl.status
    return render(request, "customs/detail.html", {
        "active": "customs", "tab": "declarations", "tabs": _tabs(principal), "d": decl, "lines": lines,
        "refs": refs, "units": units, "warehouse": warehouse, "summary": summary, "documents": documents,
        "timeline": timeline, "badge": status_badge, "can_write": can_write, "exact": exact,
        "wrap_type": pick(service.WRAP_TYPES.get(decl.wrap_type, decl.wrap_type),
                          WRAP_TYPES_EN.get(decl.wrap_type)),
        "can_edit": can_write and status in service.EDITABLE,
        "can_submit": can_write and status in service.EDITABLE,
        "can_delete": can_write and status == DeclarationStatus.DRAFT,
        "can_cancel": can_write and (status in service.CANCELLABLE_AT_CUSTOMS
                                     or status == DeclarationStatus.NEEDS_ACTION)})


@router.get("/customs/{declaration_id}/edit")
def edit_page(declaration_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    principal.tenant(Action.WRITE)
    repo = DeclarationRepository(db, principal)
    decl = repo.get(declaration_id)
    if decl.status not in service.EDITABLE:
        flash(request, _("Only a draft or a declaration customs sent back can be changed."), "error")
        return redirect(f"/customs/{decl.id}")
    form, lines = _form_of(db, decl, repo.lines(decl.id))
    return _form_page(request, db, principal, form=form, lines=lines, decl=decl)


@router.post("/customs/{declaration_id}/edit", dependencies=[CSRF])
def edit(declaration_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    repo = DeclarationRepository(db, principal)
    decl = repo.get(declaration_id)  # another tenant's id is a 404 before anything else
    head, lines = _posted(form)
    head["mode"] = decl.mode
    try:
        service.update_declaration(db, principal=principal, declaration_id=declaration_id,
                                   data=_service_values(head, lines, decl.mode, with_mode=False))
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db.rollback()
        if exc.status == 409:
            flash(request, _refusal(exc), "error")
            return redirect(f"/customs/{declaration_id}")
        decl = repo.get(declaration_id)
        return _form_page(request, db, principal, form=head, lines=lines, errors=_invalid(exc), decl=decl,
                          status_code=422)
    flash(request, _("Declaration saved."))
    return redirect(f"/customs/{declaration_id}")


def _act(request, db, action, done) -> None:
    """Run one service action from a button on the detail page; a refusal is flashed and rolled back."""
    try:
        result = action()
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db.rollback()
        flash(request, _refusal(exc), "error")
    else:
        flash(request, done(result) if callable(done) else done)


@router.post("/customs/{declaration_id}/submit", dependencies=[CSRF])
def submit(declaration_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    decl = DeclarationRepository(db, principal).get(declaration_id)
    correction = decl.status == DeclarationStatus.NEEDS_ACTION
    _act(request, db, lambda: service.submit_declaration(
        db, principal=principal, declaration_id=declaration_id, config=exchange_config(request.app.state.settings)),
        _("Corrected declaration resubmitted (appType 2); its messages are queued for the customs data exchange.")
        if correction else _("Declaration submitted; its messages are queued for the customs data exchange."))
    return redirect(f"/customs/{declaration_id}")


@router.post("/customs/{declaration_id}/cancel", dependencies=[CSRF])
def cancel(declaration_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    DeclarationRepository(db, principal).get(declaration_id)
    _act(request, db, lambda: service.cancel_declaration(
        db, principal=principal, declaration_id=declaration_id, reason=form.get("reason", ""),
        config=exchange_config(request.app.state.settings)),
        lambda d: _("Cancellation application (CEB605) queued for customs.")
        if d.status == DeclarationStatus.CANCEL_REQUESTED else _("Declaration withdrawn; nothing was sent to customs."))
    return redirect(f"/customs/{declaration_id}")


@router.post("/customs/{declaration_id}/delete", dependencies=[CSRF])
def delete(declaration_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    decl = DeclarationRepository(db, principal).get(declaration_id)
    cop_no = decl.cop_no
    try:
        service.delete_draft(db, principal=principal, declaration_id=declaration_id)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db.rollback()
        flash(request, _refusal(exc), "error")
        return redirect(f"/customs/{declaration_id}")
    flash(request, _("Draft %(cop_no)s deleted.", cop_no=cop_no))
    return redirect("/customs")
