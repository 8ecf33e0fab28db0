"""Shipments: create, change, delete, and the refresh of what their events say. Every change is one
audited function; tracking events are applied by ``logistics.events``.

A shipment carries quantities of customs declaration lines. A line may be split over several shipments,
but the quantities on all shipments never exceed what was declared: the declaration row is locked while
its lines are allocated (PostgreSQL ``SELECT … FOR UPDATE``; SQLite writers hold the write lock), so two
shipments created at once cannot both take the last units.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.customs.models import Declaration, DeclarationLine, DeclarationStatus
from tradeloop.customs.repository import DeclarationRepository
from tradeloop.kit.errors import Conflict, NotFound
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.logistics import codes
from tradeloop.logistics.checks import Checker
from tradeloop.logistics.models import Mode, Shipment, ShipmentContainer, ShipmentLeg, ShipmentLine, ShipmentStatus
from tradeloop.logistics.repository import ShipmentRepository
from tradeloop.logistics.schemas import ShipmentCreate, ShipmentUpdate
from tradeloop.logistics.status import Derived, LegPlan, Route, derive
from tradeloop.warehouse.models import Warehouse
from tradeloop.warehouse.repository import WarehouseRepository

MAX_LEGS = 20
MAX_CONTAINERS = 200
MAX_LINES = 500
#: Declarations whose lines may be shipped: customs has them (a draft or a rejected declaration may still
#: have its lines replaced, a cancelled one exports nothing).
NOT_SHIPPABLE = {DeclarationStatus.DRAFT, DeclarationStatus.NEEDS_ACTION, DeclarationStatus.CANCEL_REQUESTED,
                 DeclarationStatus.CANCELLED}
HEAD = ("warehouse_id", "reference", "bl_no", "awb_no", "note")
LEG_FIELDS = ("mode", "from_locode", "to_locode", "carrier_name", "carrier_scac", "vessel_name", "voyage_no",
              "flight_no", "distance_km", "planned_departure", "planned_arrival")
DERIVED = ("status", "planned_departure", "planned_arrival", "eta", "eta_source", "delay_minutes", "departed_at",
           "arrived_at", "delivered_at")
NUMBER_PREFIX = "SH"
BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class Checked:
    head: dict
    legs: list[dict] | None = None
    containers: list[dict] | None = None
    lines: list[dict] | None = None


def _given(data) -> dict:
    return dict(data) if isinstance(data, dict) else data.model_dump(exclude_unset=True)


class _Check:
    """Validates a whole shipment (head, legs, containers, carried lines) and reports every error at once."""

    def __init__(self, session: Session, principal: Principal):
        self.session = session
        self.principal = principal
        self.chk = Checker(session)
        self.errors = self.chk.errors

    def run(self, given: dict, current: Shipment | None) -> Checked:
        chk = self.chk
        out = Checked(head={})
        out.head["warehouse_id"], out.head["warehouse_enterprise_id"] = self._destination(given, current)
        values = {k: given[k] if k in given else getattr(current, k, None) for k in HEAD}
        out.head["reference"] = chk.text("reference", values["reference"], "参考号", 60)
        out.head["bl_no"] = chk.bl("bl_no", values["bl_no"])
        out.head["awb_no"] = chk.awb("awb_no", values["awb_no"])
        out.head["note"] = chk.text("note", values["note"], "备注", 1000)
        if given.get("legs") is not None:
            out.legs = self._list("legs", given["legs"], MAX_LEGS, self._leg)
        if given.get("containers") is not None:
            out.containers = self._containers(given["containers"])
        if given.get("lines") is not None:
            out.lines = _Lines(self, current.id if current else None).run(given["lines"])
        self.errors.raise_if_any("The shipment has invalid fields.")
        return out

    def _destination(self, given: dict, current: Shipment | None) -> tuple[uuid.UUID | None, uuid.UUID | None]:
        """(warehouse id, its keeper). A new destination must be a warehouse the exporter owns or uses; an
        unchanged one stays even if the exporter has since stopped using it."""
        kept = (current.warehouse_id, current.warehouse_enterprise_id) if current else (None, None)
        if "warehouse_id" not in given:
            return kept
        warehouse_id = self.chk.uuid("warehouse_id", given["warehouse_id"], "目的海外仓")
        if warehouse_id is None or warehouse_id == kept[0]:
            return (None, None) if warehouse_id is None else kept
        try:
            warehouse = WarehouseRepository(self.session, self.principal).get(warehouse_id)
        except NotFound:
            self.errors.add("warehouse_id", "is not a warehouse you own or use", "不是本企业自有或使用的海外仓")
            return None, None
        return warehouse.id, warehouse.enterprise_id

    def _list(self, name: str, items: list, limit: int, check) -> list[dict]:
        if len(items) > limit:
            self.errors.add(name, f"must have at most {limit} entries", f"最多{limit}项")
            return []
        return [check(f"{name}[{i}]", _given(raw)) for i, raw in enumerate(items)]

    def _leg(self, p: str, raw: dict) -> dict:
        chk = self.chk
        leg = {"mode": chk.choice(f"{p}.mode", raw.get("mode"), [m.value for m in Mode], "运输方式", required=True,
                                  aliases=codes.MODE_ALIASES),
               "from_locode": chk.locode(f"{p}.from_locode", raw.get("from_locode"), "起运地", required=True),
               "to_locode": chk.locode(f"{p}.to_locode", raw.get("to_locode"), "目的地", required=True),
               "carrier_name": chk.text(f"{p}.carrier_name", raw.get("carrier_name"), "承运人", 100),
               "carrier_scac": chk.text(f"{p}.carrier_scac", raw.get("carrier_scac"), "承运人代码", 4, upper=True,
                                        pattern=codes.SCAC_RE),
               "vessel_name": chk.text(f"{p}.vessel_name", raw.get("vessel_name"), "船名", 100, upper=True),
               "voyage_no": chk.text(f"{p}.voyage_no", raw.get("voyage_no"), "航次", 20, upper=True,
                                     pattern=codes.VOYAGE_RE),
               "flight_no": chk.text(f"{p}.flight_no", raw.get("flight_no"), "航班号", 10, upper=True,
                                     pattern=codes.FLIGHT_RE),
               "distance_km": chk.decimal(f"{p}.distance_km", raw.get("distance_km"), "距离", 3),
               "planned_departure": chk.when(f"{p}.planned_departure", raw.get("planned_departure"), "计划出发时间"),
               "planned_arrival": chk.when(f"{p}.planned_arrival", raw.get("planned_arrival"), "计划到达时间")}
        if leg["from_locode"] and leg["from_locode"] == leg["to_locode"]:
            self.errors.add(f"{p}.to_locode", "must differ from the place of departure", "目的地不能与起运地相同")
        if leg["planned_departure"] and leg["planned_arrival"] and leg["planned_arrival"] < leg["planned_departure"]:
            self.errors.add(f"{p}.planned_arrival", "must not be before the planned departure",
                            "计划到达不能早于计划出发")
        return leg

    def _containers(self, items: list) -> list[dict]:
        out = self._list("containers", items, MAX_CONTAINERS, self._container)
        seen: set[str] = set()
        for i, c in enumerate(out):
            if c["container_no"] and c["container_no"] in seen:
                self.errors.add(f"containers[{i}].container_no", "appears twice", "集装箱号重复")
            seen.add(c["container_no"])
        return out

    def _container(self, p: str, raw: dict) -> dict:
        return {"container_no": self.chk.container(f"{p}.container_no", raw.get("container_no"), required=True),
                "seal_no": self.chk.text(f"{p}.seal_no", raw.get("seal_no"), "封条号", 15, upper=True),
                "size_type": self.chk.text(f"{p}.size_type", raw.get("size_type"), "箱型代码", 4, upper=True,
                                           pattern=codes.SIZE_TYPE_RE)}


@dataclass
class _Wanted:
    prefix: str
    line: DeclarationLine
    qty: Decimal | None
    explicit: bool


class _Lines:
    """The declaration lines a shipment carries, each within what is left to ship of it."""

    def __init__(self, check: _Check, shipment_id: uuid.UUID | None):
        self.check = check
        self.chk = check.chk
        self.errors = check.errors
        self.shipment_id = shipment_id
        self.customs = DeclarationRepository(check.session, check.principal)
        self.declarations: dict[uuid.UUID, tuple[Declaration, dict[uuid.UUID, DeclarationLine]] | None] = {}

    def run(self, given: list) -> list[dict]:
        if len(given) > MAX_LINES:
            self.errors.add("lines", f"must have at most {MAX_LINES} entries", f"最多{MAX_LINES}项")
            return []
        wanted = [w for i, raw in enumerate(given) for w in self._wanted(f"lines[{i}]", _given(raw))]
        shipped = ShipmentRepository(self.check.session, self.check.principal).shipped_qty(
            [w.line.id for w in wanted], except_shipment_id=self.shipment_id)
        out, seen = [], set()
        for w in wanted:
            if w.line.id in seen:
                self.errors.add(f"{w.prefix}.declaration_line_id", "appears twice", "同一申报商品项重复")
                continue
            seen.add(w.line.id)
            line = self._allocate(w, w.line.qty - shipped.get(w.line.id, Decimal(0)))
            if line is not None:
                out.append(line)
        if given and not out and not self.errors.items:
            self.errors.add("lines", "nothing is left to ship on these declarations", "这些申报单已无待发运数量")
        return out

    def _allocate(self, w: _Wanted, left: Decimal) -> dict | None:
        qty = w.qty
        if qty is None:
            if left <= 0:
                if w.explicit:
                    self.errors.add(f"{w.prefix}.qty", "nothing is left to ship of this line", "该商品项已无待发运数量")
                return None
            qty = left
        elif qty > left:
            self.errors.add(f"{w.prefix}.qty", f"exceeds what is left to ship of line {w.line.gnum}: "
                            f"{_plain(max(left, Decimal(0)))} of {_plain(w.line.qty)} declared",
                            f"超过第{w.line.gnum}项待发运数量：申报{_plain(w.line.qty)}，"
                            f"尚可发运{_plain(max(left, Decimal(0)))}")
            return None
        return {"declaration_id": w.line.declaration_id, "declaration_line_id": w.line.id,
                "item_no": w.line.item_no, "qty": qty}

    def _wanted(self, p: str, raw: dict) -> list[_Wanted]:
        did = self.chk.uuid(f"{p}.declaration_id", raw.get("declaration_id"), "申报单", required=True)
        found = self._declaration(p, did) if did else None
        if found is None:
            return []
        lid = self.chk.uuid(f"{p}.declaration_line_id", raw.get("declaration_line_id"), "申报商品项")
        qty = self.chk.decimal(f"{p}.qty", raw.get("qty"), "数量", 5)
        _decl, lines = found
        if lid is None:
            if qty is not None:
                self.errors.add(f"{p}.declaration_line_id", "is required with a quantity", "填写数量时须指定申报商品项")
            return [_Wanted(p, line, None, False) for line in lines.values()]
        if lid not in lines:
            self.errors.add(f"{p}.declaration_line_id", "is not a line of this declaration", "不是该申报单的商品项")
            return []
        return [_Wanted(p, lines[lid], qty, True)]

    def _declaration(self, p: str, declaration_id: uuid.UUID):
        if declaration_id not in self.declarations:
            try:
                decl = self.customs.get(declaration_id, for_update=True)  # allocations of its lines take turns
            except NotFound:
                self.errors.add(f"{p}.declaration_id", "is not a declaration of your enterprise", "不是本企业的申报单")
                self.declarations[declaration_id] = None
                return None
            if decl.status in NOT_SHIPPABLE:
                self.errors.add(f"{p}.declaration_id", f"is in status {decl.status}: only declarations submitted "
                                "to customs (and not cancelled) can be shipped",
                                "只有已向海关申报且未撤销的申报单可以发运")
                self.declarations[declaration_id] = None
                return None
            self.declarations[declaration_id] = (decl, {li.id: li for li in self.customs.lines(decl.id)})
        return self.declarations[declaration_id]


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


# --- derived state ------------------------------------------------------------------------------


def _route(session: Session, repo: ShipmentRepository, shipment: Shipment) -> Route:
    legs = tuple(LegPlan(leg.sequence, leg.from_locode, leg.to_locode, leg.planned_departure, leg.planned_arrival)
                 for leg in repo.legs(shipment.id))
    warehouse = session.get(Warehouse, (shipment.warehouse_enterprise_id, shipment.warehouse_id)) \
        if shipment.warehouse_id else None
    return Route(legs, warehouse.unlocode if warehouse else None)


def derived_of(shipment: Shipment) -> dict:
    return audit.snapshot({k: getattr(shipment, k) for k in DERIVED})


def refresh(session: Session, principal: Principal, shipment: Shipment) -> Derived:
    """Recompute the shipment's (and its legs') derived fields from its events that still count."""
    repo = ShipmentRepository(session, principal)
    events, retractions = repo.seen(shipment.id)
    result = derive(events, _route(session, repo, shipment), set(retractions))
    for key in DERIVED:
        setattr(shipment, key, getattr(result, key))
    for leg in repo.legs(shipment.id):
        times = result.legs[leg.sequence]
        leg.estimated_departure, leg.estimated_arrival = times.estimated_departure, times.estimated_arrival
        leg.actual_departure, leg.actual_arrival = times.actual_departure, times.actual_arrival
    session.flush()
    return result


# --- shipments ----------------------------------------------------------------------------------


def snapshot(session: Session, principal: Principal, shipment: Shipment) -> dict:
    repo = ShipmentRepository(session, principal)
    out = audit.snapshot(shipment)
    out["legs"] = [audit.snapshot(x) for x in repo.legs(shipment.id)]
    out["containers"] = [audit.snapshot(x) for x in repo.containers(shipment.id)]
    out["lines"] = [audit.snapshot(x) for x in repo.lines(shipment.id)]
    return out


def _next_number(session: Session, enterprise_id: uuid.UUID) -> str:
    prefix = NUMBER_PREFIX + utcnow().astimezone(BEIJING).strftime("%y%m%d")
    last = session.scalar(select(Shipment.number).where(
        Shipment.enterprise_id == enterprise_id, Shipment.number.like(f"{prefix}%"))
        .order_by(func.length(Shipment.number).desc(), Shipment.number.desc()).limit(1))
    return f"{prefix}{int(last[len(prefix):]) + 1 if last else 1:04d}"


def _insert_numbered(session: Session, enterprise_id: uuid.UUID) -> Shipment:
    """A new shipment row with the next number of the day. Two writers may read the same last number
    (PostgreSQL); the unique key refuses the second, which takes the next number inside a savepoint."""
    for _attempt in range(10):
        shipment = Shipment(enterprise_id=enterprise_id, id=uuid7(), number=_next_number(session, enterprise_id),
                            status=ShipmentStatus.PLANNED)
        try:
            with session.begin_nested():
                session.add(shipment)
                session.flush()
            return shipment
        except IntegrityError:
            continue
    raise Conflict("Could not number the shipment under concurrent requests; try again.",
                   message_zh="并发请求过多，未能生成运单号，请重试")


def _replace(session: Session, repo: ShipmentRepository, shipment: Shipment, checked: Checked) -> None:
    children = ((checked.legs, repo.legs, ShipmentLeg), (checked.containers, repo.containers, ShipmentContainer),
                (checked.lines, repo.lines, ShipmentLine))
    for values, current, model in children:
        if values is None:
            continue
        for row in current(shipment.id):
            session.delete(row)
        session.flush()
        for i, item in enumerate(values, start=1):
            extra = {"sequence": i} if model is ShipmentLeg else {}
            session.add(model(enterprise_id=shipment.enterprise_id, id=uuid7(), shipment_id=shipment.id,
                              **item, **extra))
    session.flush()


def create_shipment(session: Session, *, principal: Principal, data: ShipmentCreate | dict) -> Shipment:
    enterprise_id = principal.tenant(Action.WRITE)
    checked = _Check(session, principal).run({"legs": [], "containers": [], "lines": [], **_given(data)}, None)
    shipment = _insert_numbered(session, enterprise_id)
    for key, value in checked.head.items():
        setattr(shipment, key, value)
    repo = ShipmentRepository(session, principal)
    _replace(session, repo, shipment, checked)
    refresh(session, principal, shipment)
    audit.record(session, principal=principal, action="logistics.shipment.create", entity_type="shipment",
                 entity_id=shipment.id, after=snapshot(session, principal, shipment))
    return shipment


def update_shipment(session: Session, *, principal: Principal, shipment_id: uuid.UUID,
                    data: ShipmentUpdate | dict) -> Shipment:
    """Change the head, legs and containers at any time; the carried lines only before departure."""
    principal.tenant(Action.WRITE)
    repo = ShipmentRepository(session, principal)
    shipment = repo.get(shipment_id, for_update=True)
    given = _given(data)
    if given.get("lines") is not None and shipment.status != ShipmentStatus.PLANNED:
        raise Conflict("The goods on a shipment can change only before it departs.",
                       message_zh="运单出发后不能再修改所载货物", status_now=shipment.status)
    checked = _Check(session, principal).run(given, shipment)
    before = snapshot(session, principal, shipment)
    for key, value in checked.head.items():
        setattr(shipment, key, value)
    _replace(session, repo, shipment, checked)
    refresh(session, principal, shipment)
    after = snapshot(session, principal, shipment)
    if _same(before, after):
        return shipment
    audit.record(session, principal=principal, action="logistics.shipment.update", entity_type="shipment",
                 entity_id=shipment.id, before=before, after=after)
    return shipment


def _same(before: dict, after: dict) -> bool:
    """Equal but for row ids (replaced children) and the update time."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("id", "updated_at")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(before) == strip(after)


def delete_shipment(session: Session, *, principal: Principal, shipment_id: uuid.UUID) -> None:
    """Only a shipment nothing has been reported for: once events exist it is part of the record."""
    principal.tenant(Action.WRITE)
    repo = ShipmentRepository(session, principal)
    shipment = repo.get(shipment_id, for_update=True)
    if repo.has_events(shipment.id):
        raise Conflict("A shipment with tracking events cannot be deleted.",
                       message_zh="已有跟踪事件的运单不能删除")
    before = snapshot(session, principal, shipment)
    session.delete(shipment)
    session.flush()
    audit.record(session, principal=principal, action="logistics.shipment.delete", entity_type="shipment",
                 entity_id=shipment_id, before=before)


# --- late shipments -----------------------------------------------------------------------------

DEFAULT_THRESHOLD_HOURS = 24


@dataclass(frozen=True)
class Lateness:
    days_late: Decimal
    reasons: list[str]


def lateness(shipment: Shipment, *, now: datetime, threshold: timedelta) -> Lateness:
    """How late a shipment that has not arrived is: from the earlier of its ETA and its planned arrival to
    the later of now and its ETA, in days (one decimal)."""
    eta = shipment.eta
    reasons = []
    if eta < now:
        reasons.append("eta_passed")
    if shipment.delay_minutes is not None and timedelta(minutes=shipment.delay_minutes) > threshold:
        reasons.append("estimate_after_plan")
    start = min(eta, shipment.planned_arrival or eta)
    seconds = Decimal(int((max(now, eta) - start).total_seconds()))
    return Lateness((seconds / 86400).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), reasons)
