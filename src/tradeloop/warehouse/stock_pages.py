"""Stock pages: stock by warehouse and SKU with its lots in FIFO order, inventory age (库龄), the movement
ledger with a running balance, inbound (入库单), outbound (出库单) and return (退货单) orders, and lot actions.

Two parties use them: the exporter whose stock it is, and the operator of the warehouse it lies in (the
repository decides which rows each sees). Every change goes through ``warehouse.stock_service`` inside the
request's transaction; a refusal rolls the transaction back and comes back as field errors on the form, or
as a flash message on the detail page (an allocation without enough stock: the 409's reason).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy import Select, func, select

from tradeloop.catalog.repository import ProductRepository
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.kit.errors import DomainError, FieldError, ValidationFailed, from_pydantic
from tradeloop.kit.i18n import N_, pick, timezone_var
from tradeloop.kit.i18n import gettext as _
from tradeloop.kit.pages import (
    PER_PAGE_CHOICES,
    OffsetPage,
    error_messages,
    flash,
    int_param,
    offset_page,
    redirect,
    xlsx_response,
)
from tradeloop.kit.templating import render
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.web import CSRF, DB, FormData, PagePrincipal
from tradeloop.warehouse import stock_service as service
from tradeloop.warehouse.aging import BUCKETS, LABELS, age_days, bucket
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.stock_models import (
    Disposition,
    InboundOrder,
    InboundStatus,
    OutboundOrder,
    OutboundStatus,
    ReturnOrder,
    ReturnStatus,
    StockLot,
    StockMovement,
)
from tradeloop.warehouse.stock_repository import StockRepository
from tradeloop.warehouse.stock_schemas import CancelIn, InspectIn, LotAction, ReceiveIn, ShipIn

router = APIRouter()

# --- labels ---------------------------------------------------------------------------------------

MOVEMENT_KIND_LABELS = {
    "receipt": N_("Inbound receipt"),
    "allocate": N_("Allocated to an order"),
    "release": N_("Allocation released"),
    "outbound": N_("Shipped out"),
    "return_restock": N_("Return restocked"),
    "return_dispose": N_("Return disposed"),
    "return_origin_ret": N_("Return sent back to China"),
    "dispose": N_("Disposed"),
    "return_to_origin": N_("Returned to China (退运)"),
    "adjust_in": N_("Adjustment (+)"),
    "adjust_out": N_("Adjustment (−)"),
    "transfer_out": N_("Transfer out"),
    "transfer_in": N_("Transfer in"),
    "count_gain": N_("Stock count surplus"),
    "count_loss": N_("Stock count loss"),
}
DOCUMENT_TYPE_LABELS = {
    "inbound": N_("Inbound order"),
    "outbound": N_("Outbound order"),
    "return": N_("Return order"),
    "adjust": N_("Stock adjustment"),
    "dispose": N_("Disposal"),
    "return_to_origin": N_("Return to China"),
    "transfer": N_("Transfer"),
    "count": N_("Stock count"),
}
INBOUND_STATUS_LABELS = {
    "expected": N_("Awaiting receipt"),
    "receiving": N_("Receiving"),
    "received": N_("Received (closed)"),
    "cancelled": N_("Cancelled"),
}
OUTBOUND_STATUS_LABELS = {
    "created": N_("Created"),
    "allocated": N_("Stock allocated"),
    "picked": N_("Picked"),
    "shipped": N_("Shipped"),
    "delivered": N_("Delivered"),
    "cancelled": N_("Cancelled"),
}
RETURN_STATUS_LABELS = {
    "expected": N_("Awaiting return"),
    "received": N_("Received, awaiting inspection"),
    "closed": N_("Inspected and settled"),
}
DISPOSITION_LABELS = {
    "restock": N_("Restock (重新上架)"),
    "dispose": N_("Dispose (销毁)"),
    "return_to_origin": N_("Return to China (退运回国)"),
}
LOT_ACTION_LABELS = {
    "adjust": N_("Adjust (signed units)"),
    "dispose": N_("Dispose"),
    "return_to_origin": N_("Return to China (退运)"),
    "transfer": N_("Transfer to another warehouse"),
    "count": N_("Stock count (counted units)"),
}
ALLOCATION_STATE_LABELS = {"allocated": N_("Allocated"), "shipped": N_("Shipped"), "released": N_("Released")}
STATUS_LABELS = {"inbound": INBOUND_STATUS_LABELS, "outbound": OUTBOUND_STATUS_LABELS, "return": RETURN_STATUS_LABELS}
STATUS_BADGES = {"expected": "", "receiving": "warn", "received": "ok", "cancelled": "off", "created": "",
                 "allocated": "warn", "picked": "warn", "shipped": "ok", "delivered": "ok", "closed": "ok"}
DOCUMENT_URLS = {"inbound": "/stock/inbound/", "outbound": "/stock/outbound/", "return": "/stock/returns/"}


def _label(table: dict[str, str], key: str | None) -> str:
    return _(table[key]) if key in table else (key or "")


def movement_label(kind: str | None) -> str:
    return _label(MOVEMENT_KIND_LABELS, kind)


def document_label(kind: str | None) -> str:
    return _label(DOCUMENT_TYPE_LABELS, kind)


def status_label(document: str, status: str | None) -> str:
    return _label(STATUS_LABELS[document], status)


def disposition_label(value: str | None) -> str:
    return _label(DISPOSITION_LABELS, value)


def allocation_label(state: str | None) -> str:
    return _label(ALLOCATION_STATE_LABELS, state)


# --- inventory age (库龄) --------------------------------------------------------------------------

AGE_COLOURS = ("#3c9d5d", "#8cc63f", "#e0c200", "#f29a1d", "#d9622b", "#b42318")


def bucket_names() -> list[str]:
    return list(LABELS)


def bucket_index(days: int) -> int:
    """The position in BUCKETS of an age in days (30 → 0–30, 31 → 31–60, 365 → 181–365, 366 → >365)."""
    return LABELS.index(bucket(days))


@dataclass
class AgeRow:
    enterprise_id: uuid.UUID
    warehouse_id: uuid.UUID
    sku: str
    units: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))

    @property
    def total(self) -> int:
        return sum(self.units)


def age_table(lots: Iterable, today: date, tz: str) -> tuple[list[AgeRow], list[int]]:
    """Units on hand per age bucket for each (exporter, warehouse, SKU), by each lot's receipt date in ``tz``;
    rows sorted by SKU, then warehouse; and the totals per bucket. Pure: ``lots`` need ``enterprise_id``,
    ``warehouse_id``, ``sku``, ``on_hand`` and ``received_at``."""
    rows: dict[tuple, AgeRow] = {}
    totals = [0] * len(BUCKETS)
    for lot in lots:
        if lot.on_hand <= 0:
            continue
        key = (lot.sku, str(lot.warehouse_id), str(lot.enterprise_id))
        row = rows.setdefault(key, AgeRow(lot.enterprise_id, lot.warehouse_id, lot.sku))
        b = bucket_index(age_days(lot.received_at, today, tz))
        row.units[b] += lot.on_hand
        totals[b] += lot.on_hand
    return [rows[k] for k in sorted(rows)], totals


def _tz() -> str:
    return timezone_var.get()


def _today() -> date:
    return datetime.now(ZoneInfo(_tz())).date()


def _local_date(value: datetime | None) -> date | None:
    return value.astimezone(ZoneInfo(_tz())).date() if value else None


# --- shared -------------------------------------------------------------------------------------


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


class Names:
    """Names of the warehouses and exporters that rows refer to, looked up once per request."""

    def __init__(self, db, principal: Principal):
        self.principal = principal
        self.warehouses = {w.id: w for w in WarehouseRepository(db, principal).iterate()}
        self._db = db
        self._owners: dict[uuid.UUID, str] = {}

    def warehouse(self, warehouse_id) -> str:
        w = self.warehouses.get(warehouse_id)
        return f"{w.code} · {pick(w.name_zh, w.name_en)}" if w else str(warehouse_id)[:8]

    def warehouse_code(self, warehouse_id) -> str:
        w = self.warehouses.get(warehouse_id)
        return w.code if w else str(warehouse_id)[:8]

    def warehouse_name(self, warehouse_id) -> str:
        w = self.warehouses.get(warehouse_id)
        return pick(w.name_zh, w.name_en) if w else ""

    def options(self) -> list[tuple[str, str]]:
        return [(str(k), self.warehouse(k)) for k in self.warehouses]

    def load_owners(self, ids) -> None:
        wanted = {i for i in ids if i and i != self.principal.enterprise_id and i not in self._owners}
        if wanted:
            self._owners.update(EnterpriseRepository(self._db, self.principal).names(wanted))

    def owner(self, enterprise_id) -> str:
        if enterprise_id == self.principal.enterprise_id:
            return _("Our enterprise")
        return self._owners.get(enterprise_id, str(enterprise_id)[:8])


def _base(principal: Principal, tab: str, **extra) -> dict:
    return {"active": "stock", "tab": tab, "can_write": principal.can(Action.WRITE), "me": principal.enterprise_id,
            "movement_label": movement_label, "document_label": document_label, "status_label": status_label,
            "disposition_label": disposition_label, "allocation_label": allocation_label,
            "badge": lambda s: STATUS_BADGES.get(s, ""), "document_urls": DOCUMENT_URLS, **extra}


def _refusal(exc: DomainError, labels: dict[str, str] | None = None) -> str:
    """A refusal as one line for a flash message, in the page language."""
    messages = error_messages(exc)
    labels = labels or {}
    fields = [f"{labels.get(k, k)}：{v}" for k, v in messages.items() if k != "_"]
    return "；".join(fields) if fields else messages["_"]


def _act(request: Request, db, action, done: str) -> bool:
    """Run one service step from a button; a refusal (409, 422) is rolled back and flashed."""
    try:
        action()
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db.rollback()
        flash(request, _refusal(exc, _field_labels()), "error")
        return False
    flash(request, done)
    return True


def _field_labels() -> dict[str, str]:
    return {"carrier": _("Carrier"), "tracking_no": _("Tracking no."), "reason": _("Reason"), "qty": _("Units"),
            "kind": _("Action"), "to_warehouse_id": _("Target warehouse"), "lines": _("Lines")}


def _aggregate_page(db, stmt: Select, *, sorts: dict[str, str], sort: str | None, desc: bool, page: int,
                    per_page: int, default_sort: str, tiebreak: list[str]) -> tuple[OffsetPage, dict]:
    """offset_page for a GROUP BY statement: sorted by a whitelisted output column, ties broken by the
    group keys (pages never overlap); also the totals of the summed columns over every page."""
    sort = sort if sort in sorts else default_sort
    per_page = per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0]
    sub = stmt.subquery()
    totals_row = db.execute(select(func.count(), func.coalesce(func.sum(sub.c.on_hand), 0),
                                   func.coalesce(func.sum(sub.c.allocated), 0),
                                   func.coalesce(func.sum(sub.c.available), 0),
                                   func.coalesce(func.sum(sub.c.lots), 0)).select_from(sub)).one()
    total = int(totals_row[0])
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    cols = stmt.selected_columns
    primary = cols[sorts[sort]]
    order = [primary.desc() if desc else primary.asc(), *(cols[k].asc() for k in tiebreak)]
    rows = list(db.execute(stmt.order_by(*order).offset((page - 1) * per_page).limit(per_page)))
    totals = {"rows": total, "on_hand": int(totals_row[1]), "allocated": int(totals_row[2]),
              "available": int(totals_row[3]), "lots": int(totals_row[4])}
    return OffsetPage(rows, total, page, per_page, sort, desc), totals


# --- stock by warehouse and SKU -------------------------------------------------------------------

STOCK_SORTS = {"sku": "sku", "on_hand": "on_hand", "allocated": "allocated", "available": "available",
               "lots": "lots", "oldest": "oldest"}


def _stock_filters(params: dict) -> dict:
    return {"warehouse_id": _uuid(params.get("warehouse")), "q": params.get("q") or None}


@router.get("/stock")
def stock_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = StockRepository(db, principal)
    page, totals = _aggregate_page(
        db, repo.balance_rows(**_stock_filters(params)), sorts=STOCK_SORTS, sort=params.get("sort"),
        desc=params.get("desc") == "1", page=int_param(params, "page", 1),
        per_page=int_param(params, "per_page", 20), default_sort="sku", tiebreak=["sku", "warehouse_id",
                                                                                   "enterprise_id"])
    names = Names(db, principal)
    names.load_owners(r.enterprise_id for r in page.rows)
    today, tz = _today(), _tz()
    rows = [{"r": r, "age": age_days(r.oldest, today, tz), "oldest": _local_date(r.oldest),
             "warehouse": names.warehouse(r.warehouse_id), "code": names.warehouse_code(r.warehouse_id),
             "owner": names.owner(r.enterprise_id)} for r in page.rows]
    return render(request, "stock/list.html", _base(
        principal, "stock", page=page, rows=rows, totals=totals, params=params, warehouses=names.options(),
        show_owner=any(r.enterprise_id != principal.enterprise_id for r in page.rows)))


@router.get("/stock.xlsx")
def stock_export(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    stmt = StockRepository(db, principal).balance_rows(**_stock_filters(params))
    cols = stmt.selected_columns
    rows = list(db.execute(stmt.order_by(cols.sku, cols.warehouse_id, cols.enterprise_id)))
    names = Names(db, principal)
    names.load_owners(r.enterprise_id for r in rows)
    today, tz = _today(), _tz()
    header = ["SKU", _("Warehouse code"), _("Warehouse name"), _("Stock owner"), _("On hand"), _("Allocated units"),
              _("Available"), _("Lots"), _("Oldest receipt"), _("Age of the oldest lot (days)")]
    return xlsx_response("stock.xlsx", header, (
        [r.sku, names.warehouse_code(r.warehouse_id), names.warehouse_name(r.warehouse_id),
         names.owner(r.enterprise_id), int(r.on_hand), int(r.allocated), int(r.available), int(r.lots),
         _local_date(r.oldest), age_days(r.oldest, today, tz)] for r in rows))


def _lot_row(lot: StockLot, names: Names, principal: Principal, today: date, tz: str) -> dict:
    return {"lot": lot, "warehouse": names.warehouse(lot.warehouse_id), "owner": names.owner(lot.enterprise_id),
            "age": age_days(lot.received_at, today, tz), "available": lot.on_hand - lot.allocated,
            "declaration_url": f"/customs/{lot.declaration_id}"
            if lot.declaration_id and lot.enterprise_id == principal.enterprise_id else None}


@router.get("/stock/lots")
def sku_page(request: Request, principal: PagePrincipal, db: DB):
    """One SKU: its lots oldest receipt first (the FIFO order in which outbound orders take them)."""
    params = dict(request.query_params)
    sku = (params.get("sku") or "").strip()
    if not sku:
        return redirect("/stock")
    warehouse_id, owner = _uuid(params.get("warehouse")), _uuid(params.get("owner"))
    show_all = params.get("all") == "1"
    repo = StockRepository(db, principal)
    lots = [lot for lot in repo.lot_rows(sku=sku, warehouse_id=warehouse_id, in_stock=not show_all)
            if owner is None or lot.enterprise_id == owner]
    names = Names(db, principal)
    names.load_owners(lot.enterprise_id for lot in lots)
    today, tz = _today(), _tz()
    product = ProductRepository(db, principal).by_sku([sku]).get(sku) if principal.enterprise_id else None
    rows = [_lot_row(lot, names, principal, today, tz) for lot in lots]
    totals = {"on_hand": sum(lot.on_hand for lot in lots), "allocated": sum(lot.allocated for lot in lots)}
    totals["available"] = totals["on_hand"] - totals["allocated"]
    return render(request, "stock/sku.html", _base(
        principal, "stock", sku=sku, product=product, rows=rows, totals=totals, params=params,
        warehouse=names.warehouse(warehouse_id) if warehouse_id else None, show_all=show_all,
        show_owner=any(lot.enterprise_id != principal.enterprise_id for lot in lots)))


def _may_hold(db, principal: Principal, warehouse, owner_id: uuid.UUID) -> bool:
    """Whether a transfer may move the owner's goods into ``warehouse``: the stock stays the exporter's, so
    only into a warehouse the exporter owns or uses (an operator offers its warehouses the exporter uses)."""
    if owner_id == principal.enterprise_id:
        return True
    return warehouse.enterprise_id == principal.enterprise_id and WarehouseRepository(
        db, principal).client_link_exists(warehouse.id, owner_id)


def _lot_page(request, db, principal: Principal, lot: StockLot, *, form=None, errors=None, status_code=200):
    names = Names(db, principal)
    names.load_owners([lot.enterprise_id])
    row = _lot_row(lot, names, principal, _today(), _tz())
    targets = [(str(w.id), names.warehouse(w.id)) for w in names.warehouses.values()
               if w.id != lot.warehouse_id and _may_hold(db, principal, w, lot.enterprise_id)]
    return render(request, "stock/lot.html", _base(
        principal, "stock", row=row, lot=lot, form=form or {"kind": "adjust"}, errors=errors or {},
        actions=[(k, _(v)) for k, v in LOT_ACTION_LABELS.items()], targets=targets,
        show_owner=lot.enterprise_id != principal.enterprise_id), status_code=status_code)


@router.get("/stock/lots/{lot_id}")
def lot_page(lot_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    lot = StockRepository(db, principal).lot(lot_id)
    return _lot_page(request, db, principal, lot)


LOT_ACTION_DONE = {
    "adjust": N_("Lot %(code)s adjusted."),
    "dispose": N_("Disposal of %(qty)s units of lot %(code)s recorded."),
    "return_to_origin": N_("Return to China of %(qty)s units of lot %(code)s recorded."),
    "transfer": N_("%(qty)s units of lot %(code)s transferred."),
    "count": N_("Stock count of lot %(code)s recorded."),
}


@router.post("/stock/lots/{lot_id}/actions", dependencies=[CSRF])
def lot_action(lot_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    repo = StockRepository(db, principal)
    lot = repo.lot(lot_id)  # another tenant's lot is a 404 before anything else
    principal.tenant(Action.WRITE)
    kind = form.get("kind", "")
    posted = {k: form.get(k, "") for k in ("kind", "qty", "reason", "to_warehouse_id")}
    errors: dict[str, str] = {}
    qty: int | None = None
    if kind not in LOT_ACTION_LABELS:
        errors["kind"] = _("Choose one of the actions.")
    if not re.fullmatch(r"[+-]?\d{1,12}", posted["qty"]):
        errors["qty"] = _("Enter a whole number of units.")
    else:
        qty = int(posted["qty"])
    if not posted["reason"]:
        errors["reason"] = _("A reason is required.")
    elif len(posted["reason"]) > 500:
        errors["reason"] = _("At most %(n)s characters.", n=500)
    to_warehouse = _uuid(posted["to_warehouse_id"]) if kind == "transfer" else None
    if not errors:
        try:
            data = LotAction(kind=kind, qty=qty, reason=posted["reason"], to_warehouse_id=to_warehouse)
            service.lot_action(db, principal=principal, lot_id=lot.id, data=data)
        except ValidationError as exc:
            errors = error_messages(from_pydantic(exc))
        except DomainError as exc:
            if exc.status not in (409, 422):
                raise
            db.rollback()
            errors = error_messages(exc)
    if errors:
        db.rollback()
        if len(errors) > 1 or "_" not in errors:  # field errors: the banner says what to do
            errors["_"] = _("The lot was not changed: correct the fields below.")
        lot = StockRepository(db, principal).lot(lot_id)
        return _lot_page(request, db, principal, lot, form=posted, errors=errors, status_code=422)
    flash(request, _(LOT_ACTION_DONE[kind], code=lot.lot_code, qty=abs(qty or 0)))
    return redirect(f"/stock/lots/{lot_id}")


# --- inventory age --------------------------------------------------------------------------------


def _age(db, principal: Principal, params: dict):
    lots = StockRepository(db, principal).lot_rows(warehouse_id=_uuid(params.get("warehouse")),
                                                   q=params.get("q") or None)
    return age_table(lots, _today(), _tz())


@router.get("/stock/age")
def age_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    rows, totals = _age(db, principal, params)
    names = Names(db, principal)
    names.load_owners(r.enterprise_id for r in rows)
    show_owner = any(r.enterprise_id != principal.enterprise_id for r in rows)

    def category(r: AgeRow) -> str:
        text = f"{r.sku} · {names.warehouse_code(r.warehouse_id)}"
        return f"{text} · {names.owner(r.enterprise_id)}" if show_owner else text

    buckets = bucket_names()
    chart = {"categories": [category(r) for r in rows],
             "series": [{"name": _("%(range)s days", range=b), "type": "bar", "stack": "age",
                         "itemStyle": {"color": AGE_COLOURS[i]}, "data": [r.units[i] for r in rows]}
                        for i, b in enumerate(buckets)]}
    return render(request, "stock/age.html", _base(
        principal, "age", rows=[{"r": r, "warehouse": names.warehouse(r.warehouse_id),
                                 "code": names.warehouse_code(r.warehouse_id), "owner": names.owner(r.enterprise_id)}
                                for r in rows],
        totals=totals, grand_total=sum(totals), buckets=buckets, chart=chart, params=params,
        warehouses=names.options(), show_owner=show_owner, today=_today()))


@router.get("/stock/age.xlsx")
def age_export(request: Request, principal: PagePrincipal, db: DB):
    rows, totals = _age(db, principal, dict(request.query_params))
    names = Names(db, principal)
    names.load_owners(r.enterprise_id for r in rows)
    buckets = [_("%(range)s days", range=b) for b in bucket_names()]
    header = ["SKU", _("Warehouse code"), _("Warehouse name"), _("Stock owner"), *buckets, _("Totals")]
    out = [[r.sku, names.warehouse_code(r.warehouse_id), names.warehouse_name(r.warehouse_id),
            names.owner(r.enterprise_id), *r.units, r.total] for r in rows]
    out.append([_("Totals"), None, None, None, *totals, sum(totals)])
    return xlsx_response("stock-age.xlsx", header, out)


# --- movement history -----------------------------------------------------------------------------


def _ledger_scope(repo: StockRepository, params: dict) -> tuple[dict, StockLot | None]:
    """What the ledger is narrowed to: a lot, or a SKU (optionally in one warehouse, of one exporter)."""
    lot_id = _uuid(params.get("lot"))
    if lot_id:
        lot = repo.lot(lot_id)
        return {"lot_id": lot.id}, lot
    sku = (params.get("sku") or "").strip() or None
    return {"sku": sku, "warehouse_id": _uuid(params.get("warehouse")) if sku else None,
            "enterprise_id": _uuid(params.get("owner")) if sku else None}, None


def _movement_row(m: StockMovement, balance: int | None) -> dict:
    url = DOCUMENT_URLS.get(m.document_type)
    return {"m": m, "balance": balance, "document_url": f"{url}{m.document_id}" if url and m.document_id else None}


@router.get("/stock/movements")
def movements_page(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = StockRepository(db, principal)
    scope, lot = _ledger_scope(repo, params)
    running = bool(scope.get("lot_id") or scope.get("sku"))
    page = offset_page(db, repo.ledger(**scope), sort_columns={"id": StockMovement.id}, sort="id", desc=False,
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 50),
                       default_sort="id")
    start = repo.ledger_on_hand_before(page.rows[0].id, **scope) if running and page.rows else None
    balance = start
    rows = []
    for m in page.rows:
        if balance is not None:
            balance += m.d_on_hand
        rows.append(_movement_row(m, balance))
    names = Names(db, principal)
    names.load_owners({m.enterprise_id for m in page.rows} | ({lot.enterprise_id} if lot else set()))
    return render(request, "stock/movements.html", _base(
        principal, "stock", page=page, rows=rows, params=params, lot=lot, scope=scope, running=running,
        lots=repo.lots_by_ids(m.lot_id for m in page.rows) if lot is None else {},
        names=names, warehouses=names.options(), start=start,
        show_owner=any(m.enterprise_id != principal.enterprise_id for m in page.rows)))


@router.get("/stock/movements.xlsx")
def movements_export(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = StockRepository(db, principal)
    scope, _lot = _ledger_scope(repo, params)
    running = bool(scope.get("lot_id") or scope.get("sku"))
    names = Names(db, principal)
    tz = ZoneInfo(_tz())
    header = [_("Time"), "SKU", _("Warehouse code"), _("Lot"), _("Movement"), _("Units"), _("On hand change"),
              _("Allocated change"), _("On hand after"), _("Document type"), _("Document no."), _("Reason"),
              _("Actor")]
    movements = list(db.scalars(repo.ledger(**scope)))
    lots = repo.lots_by_ids(m.lot_id for m in movements)

    def rows():
        balance = 0
        for m in movements:
            balance += m.d_on_hand
            yield [m.occurred_at.astimezone(tz).replace(tzinfo=None), m.sku, names.warehouse_code(m.warehouse_id),
                   lots[m.lot_id].lot_code if m.lot_id in lots else "", movement_label(m.kind), int(m.qty),
                   int(m.d_on_hand), int(m.d_allocated), balance if running else None,
                   document_label(m.document_type), m.document_no or "", m.reason or "", m.actor]

    return xlsx_response("stock-movements.xlsx", header, rows())


# --- inbound orders -------------------------------------------------------------------------------

INBOUND_SORTS = {"created": InboundOrder.id, "number": InboundOrder.number, "status": InboundOrder.status,
                 "expected_at": InboundOrder.expected_at}


def _status_param(params: dict, enum) -> str | None:
    status = params.get("status") or None
    return status if status in {s.value for s in enum} else None


@router.get("/stock/inbound")
def inbound_list(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = StockRepository(db, principal)
    stmt = repo.inbounds(status=_status_param(params, InboundStatus), warehouse_id=_uuid(params.get("warehouse")))
    page = offset_page(db, stmt, sort_columns=INBOUND_SORTS, sort=params.get("sort"),
                       desc=params.get("desc", "0" if params.get("sort") else "1") == "1",
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 20),
                       default_sort="created")
    names = Names(db, principal)
    names.load_owners(o.enterprise_id for o in page.rows)
    totals = repo.inbound_totals(o.id for o in page.rows)
    counts = repo.status_counts(InboundOrder)
    return render(request, "stock/inbound_list.html", _base(
        principal, "inbound", page=page, params=params, names=names, totals=totals, counts=counts,
        statuses=[s.value for s in InboundStatus], total=sum(counts.values()), warehouses=names.options(),
        show_owner=any(o.enterprise_id != principal.enterprise_id for o in page.rows)))


def _inbound_page(request, db, principal: Principal, order: InboundOrder, *, form=None, errors=None,
                  status_code=200):
    repo = StockRepository(db, principal)
    lines = repo.inbound_lines(order)
    names = Names(db, principal)
    names.load_owners([order.enterprise_id])
    lots = repo.lots_by_ids(li.lot_id for li in lines)
    errors = errors or {}
    line_errors = [{k: errors.get(f"lines[{i}].{k}") for k in ("received_qty", "damaged_qty", "reason", "line_no")}
                   for i in range(len(lines))]
    return render(request, "stock/inbound_detail.html", _base(
        principal, "inbound", o=order, lines=lines, lots=lots, names=names, form=form or {}, errors=errors,
        line_errors=line_errors, is_open=order.status in (InboundStatus.EXPECTED, InboundStatus.RECEIVING),
        mine=order.enterprise_id == principal.enterprise_id), status_code=status_code)


@router.get("/stock/inbound/{inbound_id}")
def inbound_detail(inbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    order = StockRepository(db, principal).inbound(inbound_id)
    return _inbound_page(request, db, principal, order)


def _count(value: str, errors: dict, key: str) -> int:
    value = (value or "").strip()
    if value == "":
        return 0
    if not re.fullmatch(r"\d{1,12}", value):
        errors[key] = _("Enter a whole number of units, 0 or more.")
        return 0
    return int(value)


@router.post("/stock/inbound/{inbound_id}/receive", dependencies=[CSRF])
def inbound_receive(inbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    repo = StockRepository(db, principal)
    order = repo.inbound(inbound_id)
    principal.tenant(Action.WRITE)
    lines = repo.inbound_lines(order)
    errors: dict[str, str] = {}
    given = []
    for i, line in enumerate(lines):
        received = _count(form.get(f"lines-{i}-received_qty", ""), errors, f"lines[{i}].received_qty")
        damaged = _count(form.get(f"lines-{i}-damaged_qty", ""), errors, f"lines[{i}].damaged_qty")
        reason = form.get(f"lines-{i}-reason", "")[:500]
        given.append({"line_no": line.line_no, "received_qty": received, "damaged_qty": damaged,
                      "reason": reason or None})
    close = form.get("close") in ("1", "on", "true")
    if not errors:
        try:
            service.receive_inbound(db, principal=principal, inbound_id=order.id,
                                    data=ReceiveIn(lines=given, close=close))
        except DomainError as exc:
            if exc.status == 409:
                db.rollback()
                flash(request, _refusal(exc), "error")
                return redirect(f"/stock/inbound/{inbound_id}")
            if exc.status != 422:
                raise
            errors = error_messages(exc)
    if errors:
        db.rollback()
        errors["_"] = _("Nothing was received: correct the lines marked below.")
        order = StockRepository(db, principal).inbound(inbound_id)
        return _inbound_page(request, db, principal, order, form=dict(form), errors=errors, status_code=422)
    number = order.number
    flash(request, _("Inbound order %(number)s received and closed.", number=number) if close
          else _("Receipt recorded on %(number)s; the order stays open for further counts.", number=number))
    return redirect(f"/stock/inbound/{inbound_id}")


# --- outbound orders ------------------------------------------------------------------------------

OUTBOUND_SORTS = {"created": OutboundOrder.id, "number": OutboundOrder.number, "status": OutboundOrder.status,
                  "shipped_at": OutboundOrder.shipped_at}


@router.get("/stock/outbound")
def outbound_list(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = StockRepository(db, principal)
    stmt = repo.outbounds(status=_status_param(params, OutboundStatus), warehouse_id=_uuid(params.get("warehouse")),
                          q=params.get("q") or None)
    page = offset_page(db, stmt, sort_columns=OUTBOUND_SORTS, sort=params.get("sort"),
                       desc=params.get("desc", "0" if params.get("sort") else "1") == "1",
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 20),
                       default_sort="created")
    names = Names(db, principal)
    names.load_owners(o.enterprise_id for o in page.rows)
    counts = repo.status_counts(OutboundOrder)
    return render(request, "stock/outbound_list.html", _base(
        principal, "outbound", page=page, params=params, names=names,
        totals=repo.outbound_totals(o.id for o in page.rows), counts=counts,
        statuses=[s.value for s in OutboundStatus], total=sum(counts.values()), warehouses=names.options(),
        show_owner=any(o.enterprise_id != principal.enterprise_id for o in page.rows)))


@router.get("/stock/outbound/{outbound_id}")
def outbound_detail(outbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    repo = StockRepository(db, principal)
    order = repo.outbound(outbound_id)
    lines = repo.outbound_lines(order)
    allocations = repo.allocations(order)
    lots = repo.lots_by_ids(a.lot_id for a in allocations)
    names = Names(db, principal)
    names.load_owners([order.enterprise_id])
    today, tz = _today(), _tz()
    per_line: dict[uuid.UUID, dict[str, int]] = {}
    for a in allocations:
        per_line.setdefault(a.line_id, {}).setdefault(a.state, 0)
        per_line[a.line_id][a.state] += a.qty
    line_no = {li.id: li.line_no for li in lines}
    rows = [{"a": a, "line_no": line_no.get(a.line_id), "lot": lots.get(a.lot_id),
             "row": _lot_row(lots[a.lot_id], names, principal, today, tz) if a.lot_id in lots else None}
            for a in allocations]
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    rows.sort(key=lambda r: (r["line_no"] or 0, r["lot"].received_at if r["lot"] else far, r["a"].id))
    status = order.status
    return render(request, "stock/outbound_detail.html", _base(
        principal, "outbound", o=order, lines=lines, per_line=per_line, allocations=rows, names=names,
        can_allocate=status == OutboundStatus.CREATED, can_pick=status == OutboundStatus.ALLOCATED,
        can_ship=status in (OutboundStatus.ALLOCATED, OutboundStatus.PICKED),
        can_deliver=status == OutboundStatus.SHIPPED,
        can_cancel=status in (OutboundStatus.CREATED, OutboundStatus.ALLOCATED, OutboundStatus.PICKED),
        show_owner=order.enterprise_id != principal.enterprise_id))


def _outbound_step(request, db, principal: Principal, outbound_id: uuid.UUID, step, done: str):
    order = StockRepository(db, principal).outbound(outbound_id)  # 404 for another tenant's order
    principal.tenant(Action.WRITE)
    _act(request, db, lambda: step(order), _(done, number=order.number))
    return redirect(f"/stock/outbound/{outbound_id}")


@router.post("/stock/outbound/{outbound_id}/allocate", dependencies=[CSRF])
def outbound_allocate(outbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    return _outbound_step(request, db, principal, outbound_id, lambda o: service.allocate_outbound(
        db, principal=principal, outbound_id=o.id), N_("Stock allocated to %(number)s, oldest lots first."))


@router.post("/stock/outbound/{outbound_id}/pick", dependencies=[CSRF])
def outbound_pick(outbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    return _outbound_step(request, db, principal, outbound_id, lambda o: service.pick_outbound(
        db, principal=principal, outbound_id=o.id), N_("%(number)s picked."))


def _validated(model, **values):
    """The step's input model; an empty required field is a field error in both languages."""
    missing = [FieldError(k, "is required", "为必填项") for k, v in values.items() if not v]
    if missing:
        raise ValidationFailed("Required fields are empty.", errors=missing)
    try:
        return model(**values)
    except ValidationError as exc:
        raise from_pydantic(exc) from None


@router.post("/stock/outbound/{outbound_id}/ship", dependencies=[CSRF])
def outbound_ship(outbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    return _outbound_step(request, db, principal, outbound_id, lambda o: service.ship_outbound(
        db, principal=principal, outbound_id=o.id, data=_validated(
            ShipIn, carrier=form.get("carrier", ""), tracking_no=form.get("tracking_no", ""))),
        N_("%(number)s shipped; its units left the stock."))


@router.post("/stock/outbound/{outbound_id}/deliver", dependencies=[CSRF])
def outbound_deliver(outbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    return _outbound_step(request, db, principal, outbound_id, lambda o: service.deliver_outbound(
        db, principal=principal, outbound_id=o.id), N_("%(number)s marked as delivered."))


@router.post("/stock/outbound/{outbound_id}/cancel", dependencies=[CSRF])
def outbound_cancel(outbound_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    return _outbound_step(request, db, principal, outbound_id, lambda o: service.cancel_outbound(
        db, principal=principal, outbound_id=o.id,
        reason=_validated(CancelIn, reason=form.get("reason", "")).reason),
        N_("%(number)s cancelled; allocated units were released."))


# --- returns --------------------------------------------------------------------------------------

RETURN_SORTS = {"created": ReturnOrder.id, "number": ReturnOrder.number, "status": ReturnOrder.status}


@router.get("/stock/returns")
def returns_list(request: Request, principal: PagePrincipal, db: DB):
    params = dict(request.query_params)
    repo = StockRepository(db, principal)
    page = offset_page(db, repo.returns(status=_status_param(params, ReturnStatus)), sort_columns=RETURN_SORTS,
                       sort=params.get("sort"), desc=params.get("desc", "0" if params.get("sort") else "1") == "1",
                       page=int_param(params, "page", 1), per_page=int_param(params, "per_page", 20),
                       default_sort="created")
    names = Names(db, principal)
    names.load_owners(o.enterprise_id for o in page.rows)
    counts = repo.status_counts(ReturnOrder)
    return render(request, "stock/returns_list.html", _base(
        principal, "returns", page=page, params=params, names=names,
        totals=repo.return_totals(o.id for o in page.rows), counts=counts,
        statuses=[s.value for s in ReturnStatus], total=sum(counts.values()),
        show_owner=any(o.enterprise_id != principal.enterprise_id for o in page.rows)))


def _return_page(request, db, principal: Principal, order: ReturnOrder, *, form=None, errors=None, status_code=200):
    repo = StockRepository(db, principal)
    lines = repo.return_lines(order)
    lots = repo.lots_by_ids(li.lot_id for li in lines)
    names = Names(db, principal)
    names.load_owners([order.enterprise_id])
    outbound = repo.outbound(order.outbound_id) if order.outbound_id else None
    errors = errors or {}
    line_errors = [{k: errors.get(f"lines[{i}].{k}") for k in ("disposition", "condition")}
                   for i in range(len(lines))]
    return render(request, "stock/return_detail.html", _base(
        principal, "returns", o=order, lines=lines, lots=lots, names=names, outbound=outbound, form=form or {},
        errors=errors, line_errors=line_errors,
        dispositions=[(d.value, disposition_label(d.value)) for d in Disposition],
        show_owner=order.enterprise_id != principal.enterprise_id), status_code=status_code)


@router.get("/stock/returns/{return_id}")
def return_detail(return_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    order = StockRepository(db, principal).return_order(return_id)
    return _return_page(request, db, principal, order)


@router.post("/stock/returns/{return_id}/receive", dependencies=[CSRF])
def return_receive(return_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB):
    order = StockRepository(db, principal).return_order(return_id)
    principal.tenant(Action.WRITE)
    _act(request, db, lambda: service.receive_return(db, principal=principal, return_id=order.id),
         _("Return %(number)s received; inspect it to restock, dispose or send it back.", number=order.number))
    return redirect(f"/stock/returns/{return_id}")


@router.post("/stock/returns/{return_id}/inspect", dependencies=[CSRF])
def return_inspect(return_id: uuid.UUID, request: Request, principal: PagePrincipal, db: DB, form: FormData):
    repo = StockRepository(db, principal)
    order = repo.return_order(return_id)
    principal.tenant(Action.WRITE)
    lines = repo.return_lines(order)
    given = [{"line_no": li.line_no, "condition": form.get(f"lines-{i}-condition", "")[:100] or None,
              "disposition": form.get(f"lines-{i}-disposition", "")} for i, li in enumerate(lines)]
    errors: dict[str, str] = {}
    try:
        service.inspect_return(db, principal=principal, return_id=order.id, data=InspectIn(lines=given))
    except ValidationError as exc:
        errors = error_messages(from_pydantic(exc))
    except DomainError as exc:
        if exc.status == 409:
            db.rollback()
            flash(request, _refusal(exc), "error")
            return redirect(f"/stock/returns/{return_id}")
        if exc.status != 422:
            raise
        errors = error_messages(exc)
    if errors:
        db.rollback()
        errors["_"] = _("Nothing was settled: choose a disposition for every line.")
        order = StockRepository(db, principal).return_order(return_id)
        return _return_page(request, db, principal, order, form=dict(form), errors=errors, status_code=422)
    flash(request, _("Return %(number)s inspected and settled.", number=order.number))
    return redirect(f"/stock/returns/{return_id}")

