"""Warehouse services: validation with field errors in zh and en, nothing half-applied, one audit row per change.

Tenants here are three bare enterprises (no users or keys): the services take a principal directly, which
keeps these tests cheap on both backends.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.factories import make_enterprise, new_uscc, scratch
from tradeloop.audit.models import AuditLog
from tradeloop.kit.errors import Conflict, NotFound, ValidationFailed
from tradeloop.kit.files import FileStore, sniff_type
from tradeloop.kit.tenancy import system_principal
from tradeloop.warehouse import service as svc
from tradeloop.warehouse.models import (
    FilingStatus,
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
    WarehouseUpdate,
)

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 32
CJK = re.compile(r"[\u4e00-\u9fff]")

VALID = dict(code="US-LAX-1", name_zh="洛杉矶仓", name_en="LA warehouse", country="US",
             address="1 Harbor Way, Los Angeles, CA", unlocode="USLAX", area_m2=Decimal("1000"),
             tenure="owned", operator_name="Harbor 3PL")
LEASE = dict(tenure="leased", lease_start=date(2024, 1, 1), lease_end=date(2026, 12, 31))
HYPOTHESIS = dict(max_examples=50, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@dataclass
class Tenants:
    a: object  # manufacturer
    b: object  # trader
    op: object  # warehouse operator


@pytest.fixture
def ents(db) -> Tenants:
    with db.transaction() as s:
        return Tenants(make_enterprise(s, kind="manufacturer", name="甲企业"),
                       make_enterprise(s, kind="trader", name="乙企业"),
                       make_enterprise(s, kind="warehouse", name="丙海外仓"))


def as_(enterprise):
    return replace(system_principal(), enterprise_id=enterprise.id)


def create(db, enterprise, **over) -> Warehouse:
    with db.transaction() as s:
        return svc.create_warehouse(s, principal=as_(enterprise), data=WarehouseCreate(**{**VALID, **over}))


def update(db, enterprise, warehouse_id, **fields) -> Warehouse:
    with db.transaction() as s:
        return svc.update_warehouse(s, principal=as_(enterprise), warehouse_id=warehouse_id,
                                    data=WarehouseUpdate(**fields))


def field_errors(exc: ValidationFailed) -> dict[str, list]:
    out: dict[str, list] = {}
    for e in exc.errors:
        assert e.message_en and e.message_zh, e
        assert CJK.search(e.message_zh), e  # the Chinese message really is Chinese
        out.setdefault(e.field, []).append(e)
    return out


def rejected(db, enterprise, **over) -> dict[str, list]:
    with pytest.raises(ValidationFailed) as exc:
        create(db, enterprise, **over)
    return field_errors(exc.value)


def count(db, model, **where) -> int:
    with db.transaction(write=False) as s:
        stmt = select(func.count()).select_from(model)
        for k, v in where.items():
            stmt = stmt.where(getattr(model, k) == v)
        return s.scalar(stmt)


def audits(db, enterprise, action: str | None = None) -> list[AuditLog]:
    """The enterprise's audit rows of warehouse actions (its own creation is audited too)."""
    with db.transaction(write=False) as s:
        stmt = select(AuditLog).where(AuditLog.enterprise_id == enterprise.id,
                                      AuditLog.action.like("warehouse.%")).order_by(AuditLog.id)
        if action:
            stmt = stmt.where(AuditLog.action == action)
        return list(s.scalars(stmt))


def load(db, model, row_id):
    with db.transaction(write=False) as s:
        return s.scalar(select(model).where(model.id == row_id))


@contextmanager
def savepoint(session):
    nested = session.begin_nested()
    try:
        yield
    finally:
        if nested.is_active:
            nested.rollback()


class TestCreateWarehouse:
    def test_stores_normalised_values(self, db, ents):
        w = create(db, ents.a, country=" us ", unlocode="uslax", area_m2=Decimal("1234.567"), name_en="  LA  ",
                   contact="   ")
        stored = load(db, Warehouse, w.id)
        assert stored.enterprise_id == ents.a.id
        assert (stored.country, stored.unlocode, stored.name_en) == ("US", "USLAX", "LA")
        assert stored.area_m2 == Decimal("1234.57")
        assert stored.contact is None
        assert stored.operator_name == "Harbor 3PL" and stored.operator_enterprise_id is None

    def test_writes_one_audit_row_with_the_new_values(self, db, ents):
        w = create(db, ents.a)
        rows = audits(db, ents.a)
        assert [r.action for r in rows] == ["warehouse.create"]
        assert rows[0].entity_id == str(w.id) and rows[0].before is None
        assert rows[0].after["code"] == "US-LAX-1" and rows[0].after["country"] == "US"

    def test_blank_required_fields_are_named(self, db, ents):
        errors = rejected(db, ents.a, code="", name_zh="   ", address="", country="")
        for name in ("code", "name_zh", "address", "country"):
            assert errors[name][0].message_en == "is required", name
            assert errors[name][0].message_zh.endswith("为必填项"), name

    def test_reports_every_problem_at_once(self, db, ents):
        errors = rejected(db, ents.a, country="CN", unlocode="CNSHA", area_m2=Decimal("-5"), tenure="leased")
        assert {"country", "area_m2", "lease_start", "lease_end"} <= set(errors)

    def test_china_is_not_overseas(self, db, ents):
        for country in ("CN", "cn"):
            errors = rejected(db, ents.a, country=country, unlocode=None)
            assert list(errors) == ["country"]
            assert "outside China" in errors["country"][0].message_en
            assert "境外" in errors["country"][0].message_zh

    def test_country_must_be_an_iso_code(self, db, ents):
        for country in ("XX", "USA", "U1", "1A", "ÄB"):
            errors = rejected(db, ents.a, country=country, unlocode=None)
            assert list(errors) == ["country"], country
            assert "ISO 3166" in errors["country"][0].message_en
            assert "ISO 3166" in errors["country"][0].message_zh

    def test_unlocode_must_lie_in_the_warehouse_country(self, db, ents):
        errors = rejected(db, ents.a, country="DE", unlocode="USLAX")
        assert list(errors) == ["unlocode"]
        assert "US" in errors["unlocode"][0].message_en and "DE" in errors["unlocode"][0].message_en
        assert "不一致" in errors["unlocode"][0].message_zh

    def test_malformed_unlocode(self, db, ents):
        for code in ("US-LA", "USLA", "USLAXX", "USLA1", "US LA", "12LAX", "USLA0"):
            errors = rejected(db, ents.a, unlocode=code)
            assert list(errors) == ["unlocode"], code
            assert "UN/LOCODE" in errors["unlocode"][0].message_zh

    def test_leased_needs_both_lease_dates(self, db, ents):
        errors = rejected(db, ents.a, tenure="leased")
        assert set(errors) == {"lease_start", "lease_end"}
        assert "租期" in errors["lease_start"][0].message_zh
        errors = rejected(db, ents.a, tenure="leased", lease_start=date(2024, 1, 1))
        assert set(errors) == {"lease_end"}

    def test_lease_must_end_after_it_starts(self, db, ents):
        for end in (date(2023, 12, 31), date(2024, 1, 1)):
            errors = rejected(db, ents.a, **{**LEASE, "lease_end": end})
            assert list(errors) == ["lease_end"], end
            assert "after the lease start" in errors["lease_end"][0].message_en
        w = create(db, ents.a, **{**LEASE, "lease_end": date(2024, 1, 2)})
        assert (w.tenure, w.lease_start, w.lease_end) == ("leased", date(2024, 1, 1), date(2024, 1, 2))

    def test_owned_has_no_lease_period(self, db, ents):
        for extra in ({"lease_start": date(2024, 1, 1)}, {"lease_end": date(2025, 1, 1)}):
            errors = rejected(db, ents.a, tenure="owned", **extra)
            assert list(errors) == ["lease_start"]
            assert "自有仓库" in errors["lease_start"][0].message_zh

    def test_area_must_be_positive(self, db, ents):
        for area in (Decimal("-1"), Decimal("0"), Decimal("0.001"), Decimal("1e10")):
            errors = rejected(db, ents.a, area_m2=area)
            assert list(errors) == ["area_m2"], area
            assert "positive" in errors["area_m2"][0].message_en

    def test_code_format(self, db, ents):
        for code in ("has space", "-LEADING", "X" * 31, "仓库1"):
            errors = rejected(db, ents.a, code=code)
            assert list(errors) == ["code"], code

    def test_code_is_unique_in_the_enterprise_ignoring_case(self, db, ents):
        create(db, ents.a, code="US-LAX-1")
        errors = rejected(db, ents.a, code="us-lax-1")
        assert list(errors) == ["code"]
        assert "already used" in errors["code"][0].message_en and "已被" in errors["code"][0].message_zh
        assert count(db, Warehouse, enterprise_id=ents.a.id) == 1
        # Another enterprise may use the same code.
        assert create(db, ents.b, code="US-LAX-1").code == "US-LAX-1"

    def test_operator_by_uscc_copies_its_name(self, db, ents):
        w = create(db, ents.a, operator_uscc=f"  {ents.op.uscc.lower()} ", operator_name="typed by hand")
        assert w.operator_enterprise_id == ents.op.id
        assert w.operator_name == "丙海外仓"

    def test_operator_uscc_must_be_a_warehouse_enterprise_on_the_platform(self, db, ents):
        for code in (ents.b.uscc, new_uscc()):  # a trader; a valid USCC nobody registered
            errors = rejected(db, ents.a, operator_uscc=code)
            assert list(errors) == ["operator_uscc"], code
            assert "海外仓企业" in errors["operator_uscc"][0].message_zh

    def test_warehouse_enterprise_operates_its_own_warehouse_by_default(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        assert w.operator_enterprise_id == ents.op.id and w.operator_name == "丙海外仓"

    def test_warehouse_enterprise_may_name_another_operator(self, db, ents):
        w = create(db, ents.op, operator_name="Partner Logistics LLC")
        assert w.operator_enterprise_id is None and w.operator_name == "Partner Logistics LLC"

    def test_an_exporter_must_name_the_operator(self, db, ents):
        errors = rejected(db, ents.a, operator_name=None)
        assert list(errors) == ["operator_name"]
        assert errors["operator_name"][0].message_zh == "运营企业为必填项"

    def test_failed_create_leaves_no_row_and_no_audit(self, db, ents):
        rejected(db, ents.a, country="CN")
        rejected(db, ents.a, tenure="leased")
        assert count(db, Warehouse, enterprise_id=ents.a.id) == 0
        assert audits(db, ents.a) == []


class TestUnlocodeRule:
    """Property: after upper-casing, a code of the form [A-Z]{2}[A-Z2-9]{3} that starts with the warehouse
    country is accepted; everything else is rejected on the ``unlocode`` field alone."""

    @hsettings(**HYPOTHESIS)
    @given(raw=st.one_of(
        st.from_regex(r"US[A-Z2-9]{3}", fullmatch=True),
        st.from_regex(r"[A-Z]{2}[A-Z2-9]{3}", fullmatch=True),
        st.from_regex(r"[a-zA-Z0-9 _-]{1,7}", fullmatch=True),
        st.text(max_size=7),
    ))
    def test_accepts_exactly_well_formed_codes_of_the_country(self, db, ents, raw):
        norm = raw.strip().upper()
        expected_ok = not norm or (re.fullmatch(r"[A-Z]{2}[A-Z2-9]{3}", norm) is not None and norm[:2] == "US")
        with scratch(db) as s, savepoint(s):
            try:
                w = svc.create_warehouse(s, principal=as_(ents.a), data=WarehouseCreate(
                    **{**VALID, "code": f"P-{uuid.uuid4().hex[:12]}", "unlocode": raw}))
            except ValidationFailed as exc:
                assert not expected_ok, (raw, exc.errors)
                assert [e.field for e in exc.errors] == ["unlocode"], (raw, exc.errors)
            else:
                assert expected_ok, raw
                assert w.unlocode == (norm or None)

    def test_every_well_formed_code_of_another_country_is_rejected(self, db, ents):
        with scratch(db) as s:
            for code in ("DEHAM", "GBLON", "CNSHA", "JPTYO", "NLRTM"):
                with savepoint(s), pytest.raises(ValidationFailed) as exc:
                    svc.create_warehouse(s, principal=as_(ents.a), data=WarehouseCreate(**{**VALID, "unlocode": code}))
                assert [e.field for e in exc.value.errors] == ["unlocode"]


class TestUpdateWarehouse:
    def test_keeps_unspecified_fields(self, db, ents):
        w = create(db, ents.a, **LEASE, contact=None)
        before = load(db, Warehouse, w.id)
        update(db, ents.a, w.id, contact="ops@example.com")
        after = load(db, Warehouse, w.id)
        assert after.contact == "ops@example.com"
        for name in ("code", "name_zh", "name_en", "country", "address", "unlocode", "area_m2", "tenure",
                     "lease_start", "lease_end", "operator_name", "operator_enterprise_id"):
            assert getattr(after, name) == getattr(before, name), name

    def test_writes_one_audit_row_with_before_and_after(self, db, ents):
        w = create(db, ents.a)
        update(db, ents.a, w.id, name_zh="洛杉矶二号仓", area_m2=Decimal("2500"))
        rows = audits(db, ents.a, "warehouse.update")
        assert len(rows) == 1 and rows[0].entity_id == str(w.id)
        assert rows[0].before["name_zh"] == "洛杉矶仓" and rows[0].after["name_zh"] == "洛杉矶二号仓"
        assert Decimal(rows[0].before["area_m2"]) == 1000 and Decimal(rows[0].after["area_m2"]) == 2500

    def test_checks_the_merged_record(self, db, ents):
        w = create(db, ents.a)  # US, USLAX
        with pytest.raises(ValidationFailed) as exc:
            update(db, ents.a, w.id, country="DE")
        assert list(field_errors(exc.value)) == ["unlocode"]
        assert update(db, ents.a, w.id, country="DE", unlocode="DEHAM").unlocode == "DEHAM"

    def test_code_may_change_case_but_not_take_a_siblings(self, db, ents):
        w = create(db, ents.a, code="US-LAX-1")
        create(db, ents.a, code="US-ONT-1")
        with pytest.raises(ValidationFailed) as exc:
            update(db, ents.a, w.id, code="us-ont-1")
        assert list(field_errors(exc.value)) == ["code"]
        assert update(db, ents.a, w.id, code="us-lax-1").code == "us-lax-1"

    def test_explicit_null_for_a_required_field_is_an_error(self, db, ents):
        w = create(db, ents.a)
        for name in ("code", "name_zh", "country", "address", "tenure"):
            with pytest.raises(ValidationFailed) as exc:
                update(db, ents.a, w.id, **{name: None})
            assert name in field_errors(exc.value), name

    def test_switching_to_owned_needs_the_lease_cleared(self, db, ents):
        w = create(db, ents.a, **LEASE)
        with pytest.raises(ValidationFailed) as exc:
            update(db, ents.a, w.id, tenure="owned")
        assert list(field_errors(exc.value)) == ["lease_start"]
        w = update(db, ents.a, w.id, tenure="owned", lease_start=None, lease_end=None)
        assert (w.tenure, w.lease_start, w.lease_end) == ("owned", None, None)

    def test_failed_update_changes_nothing(self, db, ents):
        w = create(db, ents.a)
        with pytest.raises(ValidationFailed):
            update(db, ents.a, w.id, name_zh="新名字", area_m2=Decimal("-3"))
        assert load(db, Warehouse, w.id).name_zh == "洛杉矶仓"
        assert audits(db, ents.a, "warehouse.update") == []

    def test_another_tenant_gets_not_found(self, db, ents):
        w = create(db, ents.a)
        with pytest.raises(NotFound):
            update(db, ents.b, w.id, contact="x")
        assert load(db, Warehouse, w.id).contact is None

    def test_link_to_a_platform_operator_is_kept_when_other_fields_change(self, db, ents):
        w = create(db, ents.a, operator_uscc=ents.op.uscc)
        w = update(db, ents.a, w.id, contact="ops@example.com")
        assert w.operator_enterprise_id == ents.op.id and w.operator_name == "丙海外仓"

    def test_naming_an_off_platform_operator_unlinks_the_platform_operator(self, db, ents):
        w = create(db, ents.a, operator_uscc=ents.op.uscc)
        w = update(db, ents.a, w.id, operator_name="Other 3PL Inc.")
        assert w.operator_name == "Other 3PL Inc."
        assert w.operator_enterprise_id is None

    def test_re_sending_the_current_operator_name_keeps_the_link(self, db, ents):
        w = create(db, ents.a, operator_uscc=ents.op.uscc)
        w = update(db, ents.a, w.id, operator_name="丙海外仓", contact="ops@example.com")
        assert w.operator_enterprise_id == ents.op.id
        own = create(db, ents.op, code="OWN-1", operator_name=None)
        own = update(db, ents.op, own.id, operator_name="丙海外仓")
        assert own.operator_enterprise_id == ents.op.id


class TestAddClient:
    def test_adds_by_uscc_and_audits(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        with db.transaction() as s:
            link = svc.add_client(s, principal=as_(ents.op), warehouse_id=w.id,
                                  data=ClientCreate(client_uscc=f" {ents.a.uscc.lower()} ", since=date(2025, 3, 1)))
        assert (link.client_enterprise_id, link.since) == (ents.a.id, date(2025, 3, 1))
        rows = audits(db, ents.op, "warehouse.client_add")
        assert len(rows) == 1 and rows[0].after["client_enterprise_id"] == str(ents.a.id)
        with db.transaction(write=False) as s:
            seen = WarehouseRepository(s, as_(ents.a)).get(w.id)
            assert seen.id == w.id

    def test_unknown_uscc_is_a_field_error(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        with pytest.raises(ValidationFailed) as exc, db.transaction() as s:
            svc.add_client(s, principal=as_(ents.op), warehouse_id=w.id, data=ClientCreate(client_uscc=new_uscc()))
        assert list(field_errors(exc.value)) == ["client_uscc"]

    def test_own_enterprise_is_not_a_client(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        with pytest.raises(ValidationFailed) as exc, db.transaction() as s:
            svc.add_client(s, principal=as_(ents.op), warehouse_id=w.id, data=ClientCreate(client_uscc=ents.op.uscc))
        assert list(field_errors(exc.value)) == ["client_uscc"]
        assert count(db, WarehouseClient, warehouse_id=w.id) == 0

    def test_the_same_client_twice_is_a_conflict(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        with db.transaction() as s:
            svc.add_client(s, principal=as_(ents.op), warehouse_id=w.id, data=ClientCreate(client_uscc=ents.a.uscc))
        with pytest.raises(Conflict), db.transaction() as s:
            svc.add_client(s, principal=as_(ents.op), warehouse_id=w.id, data=ClientCreate(client_uscc=ents.a.uscc))
        assert count(db, WarehouseClient, warehouse_id=w.id) == 1
        assert len(audits(db, ents.op, "warehouse.client_add")) == 1

    def test_only_the_owner_adds_clients(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        with pytest.raises(NotFound), db.transaction() as s:
            svc.add_client(s, principal=as_(ents.a), warehouse_id=w.id, data=ClientCreate(client_uscc=ents.b.uscc))


class TestRemoveClient:
    def test_removal_ends_the_clients_access(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        with db.transaction() as s:
            link = svc.add_client(s, principal=as_(ents.op), warehouse_id=w.id,
                                  data=ClientCreate(client_uscc=ents.a.uscc))
        with db.transaction() as s:
            svc.remove_client(s, principal=as_(ents.op), warehouse_id=w.id, client_id=link.id)
        rows = audits(db, ents.op, "warehouse.client_remove")
        assert len(rows) == 1 and rows[0].before["id"] == str(link.id) and rows[0].after is None
        with pytest.raises(NotFound), db.transaction(write=False) as s:
            WarehouseRepository(s, as_(ents.a)).get(w.id)

    def test_unknown_link_is_not_found(self, db, ents):
        w = create(db, ents.op, operator_name=None)
        with pytest.raises(NotFound), db.transaction() as s:
            svc.remove_client(s, principal=as_(ents.op), warehouse_id=w.id, client_id=uuid.uuid4())
        assert audits(db, ents.op, "warehouse.client_remove") == []


class TestUploadEvidence:
    @pytest.fixture
    def store(self, tmp_path):
        return FileStore(tmp_path / "files")

    def _add(self, db, ent, store, w, data, *, filename="lease.pdf", kind="lease", max_bytes=10_000, **kw):
        with db.transaction() as s:
            return svc.add_evidence(s, principal=as_(ent), store=store, max_bytes=max_bytes, warehouse_id=w.id,
                                    kind=kind, filename=filename, data=data, **kw)

    def _rejected(self, db, ent, store, w, data, **kw):
        with pytest.raises(ValidationFailed) as exc:
            self._add(db, ent, store, w, data, **kw)
        return field_errors(exc.value)

    def test_type_comes_from_the_bytes_not_the_name(self, db, ents, store):
        w = create(db, ents.a)
        for data, name, expected in ((PDF, "lease.pdf", "application/pdf"), (PNG, "lease.pdf", "image/png"),
                                     (JPEG, "scan.png", "image/jpeg")):
            row = self._add(db, ents.a, store, w, data, filename=name)
            assert (row.content_type, row.filename, row.size_bytes) == (expected, name, len(data))
            assert row.sha256 == hashlib.sha256(data).hexdigest()

    def test_keeps_only_the_base_name(self, db, ents, store):
        w = create(db, ents.a)
        row = self._add(db, ents.a, store, w, PDF, filename="C:\\Users\\me\\租赁合同.pdf")
        assert row.filename == "租赁合同.pdf"
        row = self._add(db, ents.a, store, w, PNG, filename="../../etc/passwd")
        assert row.filename == "passwd"

    def test_other_types_are_rejected(self, db, ents, store):
        w = create(db, ents.a)
        for data in (b"just some text, named x.pdf", b"PK\x03\x04zip", b"GIF89a....", b" %PDF-1.4"):
            errors = self._rejected(db, ents.a, store, w, data, filename="x.pdf")
            assert list(errors) == ["file"], data
            assert "PDF" in errors["file"][0].message_zh
        assert count(db, WarehouseEvidence, warehouse_id=w.id) == 0
        assert not (store.root.exists() and any(store.root.rglob("*")))

    def test_empty_file_is_rejected(self, db, ents, store):
        w = create(db, ents.a)
        errors = self._rejected(db, ents.a, store, w, b"")
        assert errors["file"][0].message_en == "is empty" and errors["file"][0].message_zh == "文件为空"

    def test_file_over_the_limit_is_rejected(self, db, ents, store):
        w = create(db, ents.a)
        limit = 2 * 1024 * 1024
        data = PDF + b"0" * (limit - len(PDF) + 1)
        errors = self._rejected(db, ents.a, store, w, data, max_bytes=limit)
        assert "2 MiB" in errors["file"][0].message_en and "2 MiB" in errors["file"][0].message_zh
        assert self._add(db, ents.a, store, w, data[:limit], max_bytes=limit).size_bytes == limit

    def test_size_message_states_a_small_limit_truthfully(self, db, ents, store):
        w = create(db, ents.a)
        errors = self._rejected(db, ents.a, store, w, PDF + b"0" * 1000, max_bytes=1000)
        assert "1000" in errors["file"][0].message_en and "1000" in errors["file"][0].message_zh
        assert "0 MiB" not in errors["file"][0].message_en
        assert "0 MiB" not in errors["file"][0].message_zh

    def test_the_same_file_twice_is_one_record_and_one_blob(self, db, ents, store):
        w = create(db, ents.a)
        first = self._add(db, ents.a, store, w, PDF, filename="a.pdf")
        again = self._add(db, ents.a, store, w, PDF, filename="b.pdf", kind="ownership")
        assert again.id == first.id and again.filename == "a.pdf"
        assert count(db, WarehouseEvidence, warehouse_id=w.id) == 1
        assert len(audits(db, ents.a, "warehouse.evidence_add")) == 1
        sha = first.sha256
        assert [p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()] == [
            f"{sha[:2]}/{sha}"]
        assert (store.root / sha[:2] / sha).read_bytes() == PDF

    def test_valid_to_before_valid_from_is_rejected(self, db, ents, store):
        w = create(db, ents.a)
        errors = self._rejected(db, ents.a, store, w, PDF, valid_from=date(2025, 1, 1), valid_to=date(2024, 12, 31))
        assert list(errors) == ["valid_to"]
        row = self._add(db, ents.a, store, w, PDF, valid_from=date(2025, 1, 1), valid_to=date(2025, 1, 1))
        assert (row.valid_from, row.valid_to) == (date(2025, 1, 1), date(2025, 1, 1))

    def test_unknown_kind_is_rejected(self, db, ents, store):
        w = create(db, ents.a)
        assert list(self._rejected(db, ents.a, store, w, PDF, kind="passport")) == ["kind"]

    def test_only_the_owner_uploads(self, db, ents, store):
        w = create(db, ents.a)
        with pytest.raises(NotFound):
            self._add(db, ents.b, store, w, PDF)


class TestFileTypeAndStore:
    @hsettings(max_examples=200, database=None)
    @given(tail=st.binary(max_size=64), magic=st.sampled_from([(b"%PDF-", "application/pdf"),
                                                               (b"\x89PNG\r\n\x1a\n", "image/png"),
                                                               (b"\xff\xd8\xff", "image/jpeg")]))
    def test_magic_bytes_decide_the_type(self, tail, magic):
        head, content_type = magic
        assert sniff_type((head + tail)[:16]) == content_type

    @hsettings(max_examples=200, database=None)
    @given(data=st.binary(max_size=64))
    def test_anything_without_magic_is_refused(self, data):
        if not data.startswith((b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
            assert sniff_type(data[:16]) is None

    @hsettings(max_examples=50, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.binary(min_size=1, max_size=256))
    def test_store_is_content_addressed(self, tmp_path, data):
        store = FileStore(tmp_path / "blobs")
        sha = store.put(data)
        assert sha == hashlib.sha256(data).hexdigest()
        assert store.put(data) == sha
        assert store.path_for(sha) == store.root / sha[:2] / sha
        assert store.path_for(sha).read_bytes() == data
        assert not list(store.path_for(sha).parent.glob(".upload-*"))


class TestRecordFiling:
    def _record(self, db, ent, w, **over):
        body = {"customs_office": "2248", "filing_no": "HWC-2022-001", "modes": "9810", "filed_on": date(2022, 5, 1),
                **over}
        with db.transaction() as s:
            return svc.record_filing(s, principal=as_(ent), warehouse_id=w.id, data=FilingCreate(**body))

    def _rejected(self, db, ent, w, **over):
        with pytest.raises(ValidationFailed) as exc:
            self._record(db, ent, w, **over)
        return field_errors(exc.value)

    def test_records_a_historic_filing_with_its_first_event(self, db, ents):
        w = create(db, ents.a)
        f = self._record(db, ents.a, w, modes=" 1210, 9810 ,9810")
        assert (f.status, f.modes, f.filed_on) == ("filed", "1210,9810", date(2022, 5, 1))
        with db.transaction(write=False) as s:
            events = WarehouseRepository(s, as_(ents.a)).filing_events([f.id])[f.id]
        assert [(e.status, e.effective_on) for e in events] == [("filed", date(2022, 5, 1))]
        assert len(audits(db, ents.a, "warehouse.filing_record")) == 1

    def test_no_filing_on_or_after_the_abolition(self, db, ents):
        w = create(db, ents.a)
        for filed_on in (date(2024, 12, 15), date(2025, 6, 1)):
            errors = self._rejected(db, ents.a, w, filed_on=filed_on)
            assert list(errors) == ["filed_on"]
            assert "No. 167" in errors["filed_on"][0].message_en
            assert "第167号" in errors["filed_on"][0].message_zh
        assert self._record(db, ents.a, w, filed_on=date(2024, 12, 14)).filed_on == date(2024, 12, 14)

    def test_no_filing_before_it_was_introduced(self, db, ents):
        w = create(db, ents.a)
        errors = self._rejected(db, ents.a, w, filed_on=date(2020, 6, 30))
        assert list(errors) == ["filed_on"] and "2020-07-01" in errors["filed_on"][0].message_en
        assert "第75号" in errors["filed_on"][0].message_zh
        assert self._record(db, ents.a, w, filed_on=date(2020, 7, 1)).filed_on == date(2020, 7, 1)

    @hsettings(**{**HYPOTHESIS, "max_examples": 30})
    @given(filed_on=st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31)))
    def test_accepted_exactly_inside_the_filing_era(self, db, ents, filed_on):
        w = create(db, ents.a, code=f"F-{uuid.uuid4().hex[:10]}")
        with scratch(db) as s:
            try:
                svc.record_filing(s, principal=as_(ents.a), warehouse_id=w.id,
                                  data=FilingCreate(customs_office="2248", filed_on=filed_on))
                ok = True
            except ValidationFailed as exc:
                assert [e.field for e in exc.errors] == ["filed_on"]
                ok = False
        assert ok == (svc.FILING_INTRODUCED_ON <= filed_on < svc.FILING_ABOLISHED_ON), filed_on

    def test_customs_office_is_four_digits(self, db, ents):
        w = create(db, ents.a)
        for office in ("224", "22480", "22A8", ""):
            errors = self._rejected(db, ents.a, w, customs_office=office)
            assert list(errors) == ["customs_office"], office

    def test_modes_are_9810_or_1210(self, db, ents):
        w = create(db, ents.a)
        for modes in ("9610", "9810,9710", "", " , "):
            errors = self._rejected(db, ents.a, w, modes=modes)
            assert list(errors) == ["modes"], modes

    def test_failed_filing_leaves_nothing(self, db, ents):
        w = create(db, ents.a)
        self._rejected(db, ents.a, w, filed_on=date(2025, 1, 1))
        assert count(db, WarehouseFiling, warehouse_id=w.id) == 0
        assert count(db, WarehouseFilingEvent, enterprise_id=ents.a.id) == 0
        assert audits(db, ents.a, "warehouse.filing_record") == []


class TestAddFilingEvent:
    @pytest.fixture
    def filing(self, db, ents):
        w = create(db, ents.a)
        with db.transaction() as s:
            f = svc.record_filing(s, principal=as_(ents.a), warehouse_id=w.id, data=FilingCreate(
                customs_office="2248", modes="9810", filed_on=date(2022, 5, 1)))
        return w, f

    def _event(self, db, ents, filing, status, effective_on, note=None):
        w, f = filing
        with db.transaction() as s:
            return svc.add_filing_event(s, principal=as_(ents.a), warehouse_id=w.id, filing_id=f.id,
                                        data=FilingEventCreate(status=status, effective_on=effective_on, note=note))

    def _rejected(self, db, ents, filing, status, effective_on):
        with pytest.raises(ValidationFailed) as exc:
            self._event(db, ents, filing, status, effective_on)
        return field_errors(exc.value)

    def _status(self, db, filing):
        return load(db, WarehouseFiling, filing[1].id).status

    def test_changes_then_cancellation(self, db, ents, filing):
        self._event(db, ents, filing, FilingStatus.CHANGED, date(2023, 1, 10), "扩建")
        self._event(db, ents, filing, FilingStatus.CHANGED, date(2023, 6, 1))
        self._event(db, ents, filing, FilingStatus.CANCELLED, date(2024, 3, 1))
        assert self._status(db, filing) == "cancelled"
        rows = audits(db, ents.a, "warehouse.filing_event")
        assert len(rows) == 3
        assert rows[-1].before["status"] == "changed" and rows[-1].after["status"] == "cancelled"
        assert rows[-1].after["event"]["effective_on"] == "2024-03-01"

    def test_a_cancelled_filing_takes_no_further_events(self, db, ents, filing):
        self._event(db, ents, filing, FilingStatus.CANCELLED, date(2023, 1, 1))
        for status, on in ((FilingStatus.CHANGED, date(2023, 2, 1)), (FilingStatus.CANCELLED, date(2023, 2, 1)),
                           (FilingStatus.LAPSED, date(2024, 12, 15))):
            errors = self._rejected(db, ents, filing, status, on)
            assert "status" in errors, status
        assert self._status(db, filing) == "cancelled"

    def test_filed_is_not_an_event(self, db, ents, filing):
        assert "status" in self._rejected(db, ents, filing, FilingStatus.FILED, date(2023, 1, 1))

    def test_lapses_only_on_the_abolition_date(self, db, ents, filing):
        for on in (date(2024, 12, 14), date(2024, 12, 16), date(2025, 1, 1)):
            errors = self._rejected(db, ents, filing, FilingStatus.LAPSED, on)
            assert list(errors) == ["effective_on"], on
            assert "第167号" in errors["effective_on"][0].message_zh
        self._event(db, ents, filing, FilingStatus.LAPSED, date(2024, 12, 15))
        assert self._status(db, filing) == "lapsed"
        assert "status" in self._rejected(db, ents, filing, FilingStatus.CHANGED, date(2024, 1, 1))

    def test_no_changes_after_the_abolition(self, db, ents, filing):
        for status in (FilingStatus.CHANGED, FilingStatus.CANCELLED):
            errors = self._rejected(db, ents, filing, status, date(2024, 12, 15))
            assert list(errors) == ["effective_on"]
        assert self._status(db, filing) == "filed"

    def test_no_event_before_the_filing(self, db, ents, filing):
        errors = self._rejected(db, ents, filing, FilingStatus.CHANGED, date(2022, 4, 30))
        assert list(errors) == ["effective_on"]
        assert count(db, WarehouseFilingEvent, filing_id=filing[1].id) == 1
        assert audits(db, ents.a, "warehouse.filing_event") == []

    def test_events_are_in_date_order(self, db, ents, filing):
        self._event(db, ents, filing, FilingStatus.CHANGED, date(2023, 6, 1))
        errors = self._rejected(db, ents, filing, FilingStatus.CANCELLED, date(2023, 1, 1))
        assert list(errors) == ["effective_on"]

    def test_filing_of_another_warehouse_is_not_found(self, db, ents, filing):
        other = create(db, ents.a, code="DE-HAM-1", country="DE", unlocode="DEHAM")
        with pytest.raises(NotFound), db.transaction() as s:
            svc.add_filing_event(s, principal=as_(ents.a), warehouse_id=other.id, filing_id=filing[1].id,
                                 data=FilingEventCreate(status="changed", effective_on=date(2023, 1, 1)))


class TestEffectiveFilingStatus:
    def _filing(self, status):
        return WarehouseFiling(status=status, filed_on=date(2022, 5, 1))

    def test_an_open_filing_lapsed_with_the_abolition(self):
        for status in ("filed", "changed"):
            assert svc.effective_filing_status(self._filing(status)) == "lapsed"
            assert svc.effective_filing_status(self._filing(status), date(2024, 12, 15)) == "lapsed"
            assert svc.effective_filing_status(self._filing(status), date(2024, 12, 14)) == status

    def test_closed_filings_keep_their_status(self):
        for status in ("cancelled", "lapsed"):
            assert svc.effective_filing_status(self._filing(status)) == status
            assert svc.effective_filing_status(self._filing(status), date.today() + timedelta(days=400)) == status
