"""Tracking events: a batch from the API (webhook style), a CSV file, or one event typed on a page.

Each event is applied once. Its ``event_id`` (the sender's, DCSA ``eventID``) is unique per enterprise:
the same event again is a *duplicate* and changes nothing; the same id with other content is *rejected*
(a correction is a new event that retracts the first). An event with ``retracts_event_id`` is stored and
the event it names stays stored but no longer counts, whichever of the two arrives first.

In a batch every event stands alone: a malformed one is *rejected* with its reasons and the others are
applied. A file is all or nothing: any wrong row and no row is applied. Then, per shipment touched, the
derived state is recomputed and one audit row written.

Concurrency: the shipments a batch touches are locked (in id order) before their events are read and
written, so concurrent batches for one shipment take turns; an ``event_id`` sent at the same moment
for two different shipments is caught by the unique key inside a savepoint and reported.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.kit.errors import Conflict, FieldError, ValidationFailed
from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.kit.tables import ImportRejected, RowError
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors
from tradeloop.logistics import codes
from tradeloop.logistics.checks import Checker, offset_text
from tradeloop.logistics.formats import events as layout
from tradeloop.logistics.models import Mode, Shipment, TrackingEvent
from tradeloop.logistics.repository import ShipmentRepository
from tradeloop.logistics.service import derived_of, refresh

#: What an event says; two events with the same id and these values are the same event.
STORED = ("shipment_id", "retracts_event_id", "event_created_at", "event_time", "tz_offset", "classifier",
          "event_type", "event_code", "mode", "location", "container_no", "bl_no", "awb_no", "vessel_name",
          "voyage_no", "flight_no", "remark")
#: Clocks differ; an actual event further ahead than this is refused.
FUTURE_TOLERANCE = timedelta(hours=1)
#: DCSA codes are ocean codes; air and express legs report with UN/ECE Rec. 24 codes.
REC24_ONLY_MODES = {Mode.AIR, Mode.EXPRESS}


class Outcome(enum.StrEnum):
    INSERTED = "inserted"
    DUPLICATE = "duplicate"
    RETRACTED = "retracted"
    REJECTED = "rejected"


@dataclass
class Result:
    index: int
    event_id: str | None
    values: dict = field(default_factory=dict, repr=False)
    outcome: str | None = None
    shipment_id: uuid.UUID | None = None
    errors: list[FieldError] = field(default_factory=list)
    note: tuple[str, str] | None = None  # (English, Chinese)
    sha256: str = ""

    def reject(self, name: str, en: str, zh: str) -> None:
        self.errors.append(FieldError(name, en, zh))
        self.outcome = Outcome.REJECTED

    @property
    def reason(self) -> str | None:
        if self.errors:
            return "; ".join(f"{e.field}: {e.message_en}" for e in self.errors)
        return self.note[0] if self.note else None

    @property
    def reason_zh(self) -> str | None:
        if self.errors:
            return "；".join(f"{e.field}：{e.message_zh}" for e in self.errors)
        return self.note[1] if self.note else None


@dataclass
class BatchResult:
    results: list[Result]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)


def payload_sha256(raw: dict) -> str:
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_event(chk: Checker, raw: dict) -> dict:
    """Every field of one event; problems go to ``chk.errors``."""
    e = chk.errors
    v = {"event_id": chk.uuid("event_id", raw.get("event_id"), "事件编号", required=True),
         "retracts_event_id": chk.uuid("retracts_event_id", raw.get("retracts_event_id"), "撤回事件编号"),
         "event_created_at": chk.when("event_created_at", raw.get("event_created_at"), "事件创建时间", required=True,
                                      need_offset=True),
         "event_time": chk.when("event_time", raw.get("event_time"), "事件时间", required=True, need_offset=True),
         "classifier": chk.choice("classifier", raw.get("classifier"), list(codes.Classifier), "事件类别",
                                  required=True),
         "event_type": chk.choice("event_type", raw.get("event_type"), list(codes.EventType), "事件类型",
                                  required=True),
         "event_code": chk.text("event_code", raw.get("event_code"), "事件代码", 4, required=True, upper=True),
         "mode": chk.choice("mode", raw.get("mode"), list(Mode), "运输方式", aliases=codes.MODE_ALIASES),
         "location": chk.locode("location", raw.get("location"), "地点"),
         "shipment_id": chk.uuid("shipment_id", raw.get("shipment_id"), "运单"),
         "shipment_number": chk.text("shipment_number", raw.get("shipment_number"), "头程运单号", 20, upper=True),
         "container_no": chk.container("container_no", raw.get("container_no")),
         "bl_no": chk.bl("bl_no", raw.get("bl_no")),
         "awb_no": chk.awb("awb_no", raw.get("awb_no")),
         "vessel_name": chk.text("vessel_name", raw.get("vessel_name"), "船名", 100, upper=True),
         "voyage_no": chk.text("voyage_no", raw.get("voyage_no"), "航次", 20, upper=True, pattern=codes.VOYAGE_RE),
         "flight_no": chk.text("flight_no", raw.get("flight_no"), "航班号", 10, upper=True, pattern=codes.FLIGHT_RE),
         "remark": chk.text("remark", raw.get("remark"), "备注", 1000)}
    _check_code(e, v)
    if v["event_id"] and v["event_id"] == v["retracts_event_id"]:
        e.add("retracts_event_id", "must name another event", "不能撤回事件本身")
    if v["classifier"] == codes.Classifier.ACT and v["event_time"] and v["event_time"] > utcnow() + FUTURE_TOLERANCE:
        e.add("event_time", "an actual (ACT) event cannot lie in the future", "实际（ACT）事件的时间不能在将来")
    v["tz_offset"] = offset_text(v["event_time"]) if v["event_time"] else None
    return v


def _check_code(e: Errors, v: dict) -> None:
    code, event_type = v["event_code"], v["event_type"]
    if not code or not event_type:
        return
    v["code_list"] = codes.code_list_of(code)
    if not codes.known_code(event_type, code):
        e.add("event_code", f"is not a DCSA {event_type} event code (" + ", ".join(codes.dcsa_codes_of(event_type))
              + ") or a UN/ECE Rec. 24 status code accepted here",
              f"不是DCSA {event_type} 事件代码或本系统接受的UN/ECE第24号建议书状态代码")
    elif v["mode"] in REC24_ONLY_MODES and v["code_list"] == codes.DCSA and event_type != codes.EventType.SHIPMENT:
        e.add("event_code", f"{v['mode']} events use UN/ECE Rec. 24 codes (e.g. 24 departure, 1 arrival, 21 delivery)",
              f"{v['mode']}运输事件应使用UN/ECE第24号建议书代码（如24出发、1到达、21交付）")


def _content(event: TrackingEvent | dict) -> tuple:
    """What an event says (stored row or checked values), for telling a duplicate from a conflict."""
    if isinstance(event, dict):
        return tuple(event.get(k) for k in STORED)
    return tuple(getattr(event, k) for k in STORED)


class _Batch:
    def __init__(self, session: Session, principal: Principal, source: str):
        self.session = session
        self.principal = principal
        self.enterprise_id = principal.tenant(Action.WRITE)
        self.source = source
        self.repo = ShipmentRepository(session, principal)
        self.chk = Checker(session)
        self.shipments: dict[tuple, tuple[Shipment | None, bool]] = {}  # key -> (shipment, ambiguous)
        self.locked: dict[uuid.UUID, Shipment] = {}
        self.before: dict[uuid.UUID, dict] = {}
        self.targets: dict[uuid.UUID, TrackingEvent] = {}

    # --- plan: check, resolve, lock, classify (nothing written yet) ------------------------------

    def plan(self, raws: list[tuple[int, object]]) -> list[Result]:
        results = [self._check(index, raw) for index, raw in raws]
        ok = [r for r in results if not r.errors]
        for r in ok:
            self._resolve(r)
        ok = [r for r in ok if not r.errors]
        self.targets = self.repo.events_by_id(r.values["retracts_event_id"] for r in ok
                                              if r.values["retracts_event_id"])
        self._lock({r.shipment_id for r in ok} | {t.shipment_id for t in self.targets.values()})
        stored = self.repo.events_by_id(r.values["event_id"] for r in ok)
        first: dict[uuid.UUID, Result] = {}
        for r in ok:
            self._classify(r, stored, first)
        return results

    def _check(self, index: int, raw) -> Result:
        if not isinstance(raw, dict):
            result = Result(index, None)
            result.reject("event", "must be a JSON object", "应为JSON对象")
            return result
        self.chk.errors = Errors()
        values = check_event(self.chk, raw)
        result = Result(index, str(raw.get("event_id")) if raw.get("event_id") is not None else None, values,
                        sha256=payload_sha256(raw))
        for err in self.chk.errors.items:
            result.reject(err.field, err.message_en, err.message_zh)
        return result

    def _resolve(self, r: Result) -> None:
        v = r.values
        key = (v["shipment_id"], v["shipment_number"], v["bl_no"], v["awb_no"], v["container_no"])
        if key not in self.shipments:
            self.shipments[key] = self._find(v)
        shipment, ambiguous = self.shipments[key]
        if ambiguous:
            r.reject("shipment", "the references match several shipments: give shipment_number",
                     "这些单证号对应多个运单，请提供运单号")
        elif shipment is None:
            r.reject("shipment", "names no shipment of your enterprise (give shipment_id or shipment_number, or a "
                     "B/L, air waybill or container number of one shipment)",
                     "未对应本企业的运单（请提供运单ID或运单号，或仅属于一个运单的提单号、空运单号或集装箱号）")
        else:
            r.shipment_id = v["shipment_id"] = shipment.id

    def _find(self, v: dict) -> tuple[Shipment | None, bool]:
        if v["shipment_id"]:
            return self.repo.find(v["shipment_id"]), False
        if v["shipment_number"]:
            return self.repo.by_number(v["shipment_number"]), False
        found = self.repo.matching(bl_no=v["bl_no"], awb_no=v["awb_no"], container_no=v["container_no"])
        return (found[0] if len(found) == 1 else None), len(found) > 1

    def _lock(self, shipment_ids) -> None:
        self.locked = self.repo.lock(shipment_ids)
        self.before = {sid: derived_of(s) for sid, s in self.locked.items()}

    def _classify(self, r: Result, stored: dict[uuid.UUID, TrackingEvent], first: dict[uuid.UUID, Result]) -> None:
        event_id = r.values["event_id"]
        earlier = stored.get(event_id)
        if earlier is not None or event_id in first:
            if _content(earlier if earlier is not None else first[event_id].values) == _content(r.values):
                r.outcome = Outcome.DUPLICATE
            else:
                r.reject("event_id", "was already used for a different event: send a new event that retracts it",
                         "该事件编号已用于另一事件：请发送一个撤回它的新事件")
            return
        first[event_id] = r
        retracts = r.values["retracts_event_id"]
        r.outcome = Outcome.RETRACTED if retracts else Outcome.INSERTED
        if retracts and retracts not in self.targets and not any(
                x.values["event_id"] == retracts for x in first.values()):
            r.note = ("the retracted event is not known yet: it will not count when it arrives",
                      "被撤回的事件尚未收到：收到后将不计入")

    # --- apply: insert, refresh, audit -----------------------------------------------------------

    def apply(self, results: list[Result]) -> None:
        stored = [r for r in results if r.outcome in (Outcome.INSERTED, Outcome.RETRACTED) and self._insert(r)]
        touched: dict[uuid.UUID, dict] = {}
        for r in stored:
            entry = touched.setdefault(r.shipment_id, {"events": [], "retracted": []})
            entry["events"].append(str(r.values["event_id"]))
            target = self.targets.get(r.values["retracts_event_id"])
            if target is not None:
                touched.setdefault(target.shipment_id, {"events": [], "retracted": []})["retracted"].append(
                    str(target.event_id))
        for shipment_id in sorted(touched):
            self._refresh(self.locked[shipment_id], touched[shipment_id])

    def _insert(self, r: Result) -> bool:
        v = r.values
        row = TrackingEvent(enterprise_id=self.enterprise_id, id=uuid7(), source=self.source,
                            payload_sha256=r.sha256, **{k: v[k] for k in ("event_id", "code_list", *STORED)})
        try:
            with self.session.begin_nested():
                self.session.add(row)
                self.session.flush()
            return True
        except IntegrityError:  # the same event id, stored for another shipment by a concurrent request
            stored = self.repo.events_by_id([v["event_id"]])
            r.errors, r.outcome = [], None
            self._classify(r, stored, {})
            if r.outcome != Outcome.DUPLICATE and not r.errors:
                r.reject("event_id", "was stored by another request at the same time; send it again",
                         "另一请求同时写入了该事件编号，请重新发送")
            return False

    def _refresh(self, shipment: Shipment, change: dict) -> None:
        refresh(self.session, self.principal, shipment)
        audit.record(self.session, principal=self.principal, action="logistics.shipment.events",
                     entity_type="shipment", entity_id=shipment.id, before=self.before[shipment.id],
                     after={**derived_of(shipment), **change})


def apply_events(session: Session, *, principal: Principal, events: list, source: str = "api") -> BatchResult:
    """Apply a batch: every event is inserted, a duplicate or rejected on its own."""
    batch = _Batch(session, principal, source)
    results = batch.plan(list(enumerate(events)))
    batch.apply(results)
    return BatchResult(results)


def record_event(session: Session, *, principal: Principal, values: dict) -> Result:
    """One event typed on a page: refused as a whole, with field errors, when it is not applied."""
    [result] = apply_events(session, principal=principal, events=[values], source="form").results
    if result.outcome == Outcome.REJECTED:
        raise ValidationFailed("The event was not recorded.", errors=result.errors)
    return result


def import_events(session: Session, *, principal: Principal, filename: str, data: bytes) -> BatchResult:
    """A CSV file of events: all rows are checked first; any wrong row and nothing is applied. Rows that
    are already stored (the same file again) are duplicates and change nothing."""
    batch = _Batch(session, principal, "csv")
    try:
        table = layout.read_events(filename, data)
    except layout.FileRejected as exc:
        raise ImportRejected([RowError(1, "", "", exc.en, exc.zh)]) from None
    row_errors = [RowError(1, header, header, "unknown column", "无法识别的列") for _n, header in table.unknown]
    results = batch.plan(table.rows)
    by_row = dict(table.rows)
    for r in results:
        for e in r.errors:
            column = table.columns.get(e.field, e.field)
            row_errors.append(RowError(r.index, column, by_row[r.index].get(e.field, ""), e.message_en, e.message_zh))
    if row_errors:
        raise ImportRejected(row_errors, table.encoding)
    batch.apply(results)
    if any(r.outcome == Outcome.REJECTED for r in results):
        raise Conflict("Another request stored some of these events at the same time; import the file again.",
                       message_zh="另一请求同时写入了部分事件，请重新导入该文件")
    return BatchResult(results)
