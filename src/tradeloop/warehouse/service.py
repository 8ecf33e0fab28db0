"""Registering overseas warehouses, their clients, evidence files and the historic customs filing."""

from __future__ import annotations

import re
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from tradeloop.audit import service as audit
from tradeloop.enterprises import uscc as uscc_rules
from tradeloop.enterprises.models import EnterpriseKind
from tradeloop.enterprises.repository import EnterpriseRepository
from tradeloop.kit.errors import Conflict, ValidationFailed
from tradeloop.kit.files import FileStore, sniff_type
from tradeloop.kit.ids import uuid7
from tradeloop.kit.tenancy import Action, Principal
from tradeloop.kit.validation import Errors, clean
from tradeloop.reference.repository import ReferenceRepository
from tradeloop.warehouse.models import (
    EvidenceKind,
    FilingStatus,
    Tenure,
    Warehouse,
    WarehouseClient,
    WarehouseEvidence,
    WarehouseFiling,
    WarehouseFilingEvent,
)
from tradeloop.warehouse.repository import WarehouseRepository
from tradeloop.warehouse.schemas import (
    ClientCreate,
    FilingCreate,
    FilingEventCreate,
    WarehouseCreate,
    WarehouseFields,
    WarehouseUpdate,
)

#: GACC announcement 2024 No. 167 abolished the overseas-warehouse filing (海外仓备案) from this date;
#: since then only the 订仓单 e-data is needed (reference/domain.md §1.3, sources S18, S19).
FILING_ABOLISHED_ON = date(2024, 12, 15)
#: The filing was introduced by GACC announcement 2020 No. 75 (effective 2020-07-01, domain.md §1.3).
FILING_INTRODUCED_ON = date(2020, 7, 1)
FILING_MODES = {"9810", "1210"}
UNLOCODE_RE = r"[A-Z]{2}[A-Z2-9]{3}"


def _check(errors: Errors, data: WarehouseFields, session: Session, repo: WarehouseRepository,
           principal: Principal, current: Warehouse | None) -> dict:
    given = data.model_dump(exclude_unset=True)
    merged = {
        key: (given[key] if key in given else getattr(current, key, None))
        for key in ("code", "name_zh", "name_en", "country", "address", "unlocode", "area_m2", "tenure",
                    "lease_start", "lease_end", "contact", "operator_name")
    }
    for key in ("code", "name_zh", "name_en", "country", "address", "unlocode", "contact", "operator_name"):
        merged[key] = clean(merged[key])
    if errors.required("code", merged["code"], "仓库编码"):
        errors.pattern("code", merged["code"], r"[A-Za-z0-9][A-Za-z0-9._-]{0,29}",
                       "use 1-30 letters, digits, '.', '_' or '-'", "仓库编码为1-30位字母、数字或 . _ -")
        if repo.code_taken(merged["code"], except_id=current.id if current else None):
            errors.add("code", "is already used by another of your warehouses", "仓库编码已被本企业其他仓库使用")
    errors.required("name_zh", merged["name_zh"], "仓库名称")
    errors.max_len("name_zh", merged["name_zh"], 200)
    errors.max_len("name_en", merged["name_en"], 200)
    errors.required("address", merged["address"], "地址")
    errors.max_len("address", merged["address"], 1000)
    country = (merged["country"] or "").upper() or None
    merged["country"] = country
    refs = ReferenceRepository(session)
    if errors.required("country", country, "国家（地区）"):
        if country == "CN":
            errors.add("country", "an overseas warehouse lies outside China", "海外仓应位于境外")
        elif not re.fullmatch(r"[A-Z]{2}", country) or refs.country_by_alpha2(country) is None:
            errors.add("country", "is not an ISO 3166-1 alpha-2 country code", "不是有效的ISO 3166国家代码（两位字母）")
    unlocode = (merged["unlocode"] or "").upper() or None
    merged["unlocode"] = unlocode
    if unlocode:
        if not re.fullmatch(UNLOCODE_RE, unlocode):
            errors.add("unlocode", "is not a UN/LOCODE (2-letter country + 3 characters)",
                       "不是有效的UN/LOCODE（两位国家代码+三位地点代码）")
        elif country and unlocode[:2] != country:
            errors.add("unlocode", f"lies in {unlocode[:2]}, not in the warehouse country {country}",
                       f"UN/LOCODE 所属国家 {unlocode[:2]} 与仓库所在国家 {country} 不一致")
    area = merged["area_m2"]
    if area is not None:
        try:
            area = Decimal(str(area)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            area = None
            errors.add("area_m2", "must be a number", "面积应为数字")
        if area is not None and not area.is_finite():
            area = None
            errors.add("area_m2", "must be a number", "面积应为数字")
        if area is not None and (area <= 0 or area >= Decimal("10000000000")):
            errors.add("area_m2", "must be a positive number of square metres", "面积应为正数（平方米）")
        merged["area_m2"] = area
    tenure = merged["tenure"]
    if errors.required("tenure", tenure, "产权性质"):
        errors.one_of("tenure", tenure, [t.value for t in Tenure], "产权性质")
        tenure = Tenure(tenure).value if tenure in [t.value for t in Tenure] else tenure
        merged["tenure"] = tenure
        if tenure == Tenure.LEASED:
            if merged["lease_start"] is None:
                errors.add("lease_start", "a leased warehouse needs the lease start date", "租赁仓库须填写租期起始日")
            if merged["lease_end"] is None:
                errors.add("lease_end", "a leased warehouse needs the lease end date", "租赁仓库须填写租期截止日")
            if merged["lease_start"] and merged["lease_end"] and merged["lease_end"] <= merged["lease_start"]:
                errors.add("lease_end", "must be after the lease start", "租期截止日须晚于起始日")
        elif tenure == Tenure.OWNED and (merged["lease_start"] or merged["lease_end"]):
            errors.add("lease_start", "an owned warehouse has no lease period", "自有仓库无需填写租期")
    # The operator: an enterprise on the platform (by USCC), the registering warehouse enterprise itself,
    # or a name for an operator that is not on the platform.
    operator_id = current.operator_enterprise_id if current else None
    renamed = clean(given.get("operator_name")) != (current.operator_name if current else None)
    if given.get("operator_name") and renamed and not given.get("operator_uscc"):
        operator_id = None  # another operator named: one that is not on the platform
    if "operator_uscc" in given and given["operator_uscc"]:
        code = uscc_rules.normalise(given["operator_uscc"])
        operator = EnterpriseRepository(session, principal).lookup_by_uscc(code)
        if operator is None or operator.kind != EnterpriseKind.WAREHOUSE:
            errors.add("operator_uscc", "no warehouse-operator enterprise with this USCC is registered",
                       "平台上没有该统一社会信用代码的海外仓企业")
        else:
            operator_id = operator.id
            merged["operator_name"] = operator.name_zh
    elif current is None:
        me = EnterpriseRepository(session, principal).get(principal.tenant(Action.READ))
        if me.kind == EnterpriseKind.WAREHOUSE and not merged["operator_name"]:
            operator_id = me.id
            merged["operator_name"] = me.name_zh
    errors.required("operator_name", merged["operator_name"], "运营企业")
    errors.max_len("operator_name", merged["operator_name"], 200)
    merged["operator_enterprise_id"] = operator_id
    return merged


def create_warehouse(session: Session, *, principal: Principal, data: WarehouseCreate) -> Warehouse:
    enterprise_id = principal.tenant(Action.WRITE)
    repo = WarehouseRepository(session, principal)
    errors = Errors()
    values = _check(errors, data, session, repo, principal, None)
    errors.raise_if_any()
    warehouse = Warehouse(enterprise_id=enterprise_id, id=uuid7(), **values)
    session.add(warehouse)
    audit.record(session, principal=principal, action="warehouse.create", entity_type="warehouse",
                 entity_id=warehouse.id, after=warehouse)
    return warehouse


def update_warehouse(session: Session, *, principal: Principal, warehouse_id: uuid.UUID,
                     data: WarehouseUpdate) -> Warehouse:
    principal.tenant(Action.WRITE)
    repo = WarehouseRepository(session, principal)
    warehouse = repo.get_owned(warehouse_id, for_update=True)
    before = audit.snapshot(warehouse)
    errors = Errors()
    values = _check(errors, data, session, repo, principal, warehouse)
    errors.raise_if_any()
    for key, value in values.items():
        setattr(warehouse, key, value)
    session.flush()
    audit.record(session, principal=principal, action="warehouse.update", entity_type="warehouse",
                 entity_id=warehouse.id, before=before, after=warehouse)
    return warehouse


def add_client(session: Session, *, principal: Principal, warehouse_id: uuid.UUID,
               data: ClientCreate) -> WarehouseClient:
    """Record that an exporter on the platform stores goods in this warehouse."""
    enterprise_id = principal.tenant(Action.WRITE)
    repo = WarehouseRepository(session, principal)
    warehouse = repo.get_owned(warehouse_id, for_update=True)
    code = uscc_rules.normalise(data.client_uscc)
    client = EnterpriseRepository(session, principal).lookup_by_uscc(code)
    if client is None:
        raise ValidationFailed(errors=[_fe("client_uscc", "no enterprise with this USCC is registered",
                                           "平台上没有该统一社会信用代码的企业")])
    if client.id == enterprise_id:
        raise ValidationFailed(errors=[_fe("client_uscc", "the warehouse's own enterprise is not a client",
                                           "不能将本企业添加为客户")])
    if repo.client_link_exists(warehouse.id, client.id):
        raise Conflict("This enterprise is already a client of the warehouse.", message_zh="该企业已是此仓库的客户")
    link = WarehouseClient(enterprise_id=enterprise_id, id=uuid7(), warehouse_id=warehouse.id,
                           client_enterprise_id=client.id, since=data.since)
    session.add(link)
    audit.record(session, principal=principal, action="warehouse.client_add", entity_type="warehouse_client",
                 entity_id=link.id, after=link)
    return link


def remove_client(session: Session, *, principal: Principal, warehouse_id: uuid.UUID, client_id: uuid.UUID) -> None:
    principal.tenant(Action.WRITE)
    repo = WarehouseRepository(session, principal)
    repo.get_owned(warehouse_id, for_update=True)
    link = repo.client(warehouse_id, client_id)
    before = audit.snapshot(link)
    session.delete(link)
    audit.record(session, principal=principal, action="warehouse.client_remove", entity_type="warehouse_client",
                 entity_id=link.id, before=before)


def _fe(field, en, zh):
    from tradeloop.kit.errors import FieldError

    return FieldError(field, en, zh)


def add_evidence(session: Session, *, principal: Principal, store: FileStore, max_bytes: int,
                 warehouse_id: uuid.UUID, kind: str, filename: str, data: bytes,
                 valid_from: date | None = None, valid_to: date | None = None) -> WarehouseEvidence:
    """Attach a lease or ownership proof. The same file twice returns the first record."""
    enterprise_id = principal.tenant(Action.WRITE)
    repo = WarehouseRepository(session, principal)
    warehouse = repo.get_owned(warehouse_id, for_update=True)
    errors = Errors()
    errors.one_of("kind", kind, [k.value for k in EvidenceKind], "证明类型")
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "evidence"
    content_type = sniff_type(data[:16])
    if not data:
        errors.add("file", "is empty", "文件为空")
    elif len(data) > max_bytes:
        limit = format_size(max_bytes)
        errors.add("file", f"is larger than the limit of {limit}", f"文件超过{limit}上限")
    elif content_type is None:
        errors.add("file", "must be a PDF, PNG or JPEG file", "仅接受PDF、PNG或JPEG文件")
    if valid_from and valid_to and valid_to < valid_from:
        errors.add("valid_to", "must not be before valid_from", "有效期截止日不能早于起始日")
    errors.raise_if_any()
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    existing = repo.evidence_by_sha(warehouse.id, digest)
    if existing is not None:
        return existing
    store.put(data)
    row = WarehouseEvidence(enterprise_id=enterprise_id, id=uuid7(), warehouse_id=warehouse.id, kind=kind,
                            filename=name, content_type=content_type, size_bytes=len(data), sha256=digest,
                            valid_from=valid_from, valid_to=valid_to)
    session.add(row)
    audit.record(session, principal=principal, action="warehouse.evidence_add", entity_type="warehouse_evidence",
                 entity_id=row.id, after=row)
    return row


def format_size(n: int) -> str:
    """A byte count as people read it: 10 MiB, 1.5 MiB, 512 KiB, 1000 bytes."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def record_filing(session: Session, *, principal: Principal, warehouse_id: uuid.UUID,
                  data: FilingCreate) -> WarehouseFiling:
    """Keep a historic 海外仓备案 (the filing existed from 2020-07-01 until 2024-12-14)."""
    enterprise_id = principal.tenant(Action.WRITE)
    repo = WarehouseRepository(session, principal)
    warehouse = repo.get_owned(warehouse_id, for_update=True)
    errors = Errors()
    office = (data.customs_office or "").strip()
    errors.pattern("customs_office", office, r"\d{4}", "must be a 4-digit customs office code", "关区代码应为4位数字")
    errors.required("customs_office", office, "关区代码")
    modes = sorted({m.strip() for m in (data.modes or "").split(",") if m.strip()})
    if not modes or not set(modes) <= FILING_MODES:
        errors.add("modes", "must be 9810, 1210 or both", "备案模式应为9810、1210或两者")
    if data.filed_on >= FILING_ABOLISHED_ON:
        errors.add("filed_on", "customs abolished the overseas-warehouse filing on 2024-12-15 (GACC 2024 No. 167); "
                   "no filing can be made on or after that date",
                   "海关总署公告2024年第167号自2024年12月15日起取消海外仓备案，此后无需也无法备案")
    elif data.filed_on < FILING_INTRODUCED_ON:
        errors.add("filed_on", "the filing was introduced on 2020-07-01 (GACC 2020 No. 75)",
                   "海外仓备案自2020年7月1日（海关总署公告2020年第75号）起实施")
    errors.max_len("filing_no", data.filing_no, 50)
    errors.raise_if_any()
    filing = WarehouseFiling(enterprise_id=enterprise_id, id=uuid7(), warehouse_id=warehouse.id,
                             customs_office=office, filing_no=clean(data.filing_no), modes=",".join(modes),
                             status=FilingStatus.FILED.value, filed_on=data.filed_on)
    session.add(filing)
    session.flush()  # the event references the filing; no ORM relationship orders the inserts
    session.add(WarehouseFilingEvent(enterprise_id=enterprise_id, id=uuid7(), filing_id=filing.id,
                                     status=FilingStatus.FILED.value, effective_on=data.filed_on, note=None))
    audit.record(session, principal=principal, action="warehouse.filing_record", entity_type="warehouse_filing",
                 entity_id=filing.id, after=filing)
    return filing


#: Allowed status changes of a filing.
FILING_TRANSITIONS = {
    FilingStatus.FILED: {FilingStatus.CHANGED, FilingStatus.CANCELLED, FilingStatus.LAPSED},
    FilingStatus.CHANGED: {FilingStatus.CHANGED, FilingStatus.CANCELLED, FilingStatus.LAPSED},
    FilingStatus.CANCELLED: set(),
    FilingStatus.LAPSED: set(),
}


def add_filing_event(session: Session, *, principal: Principal, warehouse_id: uuid.UUID, filing_id: uuid.UUID,
                     data: FilingEventCreate) -> WarehouseFilingEvent:
    enterprise_id = principal.tenant(Action.WRITE)
    repo = WarehouseRepository(session, principal)
    repo.get_owned(warehouse_id, for_update=True)
    filing = repo.filing(warehouse_id, filing_id, for_update=True)
    before = audit.snapshot(filing)
    errors = Errors()
    current = FilingStatus(filing.status)
    if data.status not in FILING_TRANSITIONS[current]:
        errors.add("status", f"a {current.value} filing cannot become {data.status.value}",
                   f"备案状态不能从 {current.value} 变为 {data.status.value}")
    latest = max((e.effective_on for e in repo.filing_events([filing.id])[filing.id]), default=filing.filed_on)
    if data.effective_on < filing.filed_on:
        errors.add("effective_on", "must not be before the filing date", "生效日期不能早于备案日期")
    elif data.effective_on < latest:
        errors.add("effective_on", f"must not be before the last recorded change ({latest.isoformat()})",
                   f"生效日期不能早于上一次状态变更（{latest.isoformat()}）")
    if data.status == FilingStatus.LAPSED and data.effective_on != FILING_ABOLISHED_ON:
        errors.add("effective_on", "a filing lapsed on 2024-12-15, when GACC 2024 No. 167 took effect",
                   "备案因海关总署公告2024年第167号于2024年12月15日失效")
    elif data.status != FilingStatus.LAPSED and data.effective_on >= FILING_ABOLISHED_ON:
        errors.add("effective_on", "no filing changes exist after the filing was abolished on 2024-12-15",
                   "2024年12月15日取消备案后不再有备案变更")
    errors.max_len("note", data.note, 2000)
    errors.raise_if_any()
    event = WarehouseFilingEvent(enterprise_id=enterprise_id, id=uuid7(), filing_id=filing.id,
                                 status=data.status.value, effective_on=data.effective_on, note=clean(data.note))
    session.add(event)
    filing.status = data.status.value
    session.flush()
    audit.record(session, principal=principal, action="warehouse.filing_event", entity_type="warehouse_filing",
                 entity_id=filing.id, before=before, after={**audit.snapshot(filing), "event": audit.snapshot(event)})
    return event


def effective_filing_status(filing: WarehouseFiling, today: date | None = None) -> str:
    today = today or date.today()
    if filing.status in (FilingStatus.FILED, FilingStatus.CHANGED) and today >= FILING_ABOLISHED_ON:
        return FilingStatus.LAPSED.value
    return filing.status
