"""Reference code tables: the packaged datasets, idempotent loading, bad files applying nothing, the API.

The reference tables are kept between tests on PostgreSQL (see conftest ``KEPT_TABLES``), so every load here
runs in a session that is always rolled back.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.factories import bearer, make_enterprise, scratch
from tradeloop.audit.models import AuditLog
from tradeloop.identity import service as identity
from tradeloop.identity.models import ApiScope
from tradeloop.kit.errors import Forbidden, ValidationFailed
from tradeloop.kit.tenancy import Principal, system_principal
from tradeloop.reference.repository import DATASET_MODELS, ReferenceRepository
from tradeloop.reference.service import load_reference_data, packaged_data_dir, packaged_data_dirs

PACKAGED = packaged_data_dir()
#: Every packaged dataset (the code tables here, the HS reference in catalog/data) with its directory.
ENTRIES = [(d, e) for d in packaged_data_dirs()
           for e in json.loads((d / "manifest.json").read_text(encoding="utf-8"))["datasets"]]
EXPECTED_ROWS = {e["name"]: e["rows"] for _d, e in ENTRIES}
LOADER = system_principal(label="reference tests")




def snapshot(session) -> dict:
    """Every reference table's rows, and the dataset records without their load time."""
    out = {}
    for name, model in DATASET_MODELS.items():
        cols = list(model.__table__.columns)
        out[name] = sorted(tuple(r) for r in session.execute(select(*cols)))
    out["datasets"] = sorted((d.name, d.version, d.sha256, d.rows) for d in ReferenceRepository(session).datasets())
    return out


def load_audits(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "reference.load"))


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A copy of the packaged data directory, for breaking or changing one file."""
    return Path(shutil.copytree(PACKAGED, tmp_path / "reference-data"))


def edit_lines(path: Path, change) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(change(lines)), encoding="utf-8")


class TestPackagedDatasets:
    def test_row_counts_match_the_manifest(self, db):
        assert set(EXPECTED_ROWS) == set(DATASET_MODELS)
        with db.transaction(write=False) as s:
            repo = ReferenceRepository(s)
            for directory, entry in ENTRIES:
                name = entry["name"]
                assert repo.count(name) == entry["rows"], name
                loaded = repo.dataset(name)
                assert (loaded.version, loaded.rows) == (entry["version"], entry["rows"]), name
                assert loaded.sha256 == hashlib.sha256((directory / entry["file"]).read_bytes()).hexdigest(), name

    def test_codes_used_elsewhere_are_present(self, db):
        with db.transaction(write=False) as s:
            repo = ReferenceRepository(s)
            assert repo.country_by_alpha2("de").customs_code == "304"
            assert repo.unlocode("uslax").country == "US"
            assert repo.customs_office("0100").name_zh == "北京关区"


class TestLoadAgain:
    def test_loading_the_same_files_changes_nothing(self, db):
        with scratch(db) as s:
            before, audits, stamps = snapshot(s), load_audits(s), {d.name: d.loaded_at for d in
                                                                  ReferenceRepository(s).datasets()}
            results = load_reference_data(s, principal=LOADER)
            assert [(r.name, r.rows, r.changed) for r in results] == [
                (name, rows, False) for name, rows in EXPECTED_ROWS.items()]
            s.flush()
            assert snapshot(s) == before
            assert load_audits(s) == audits
            assert {d.name: d.loaded_at for d in ReferenceRepository(s).datasets()} == stamps

    def test_force_reloads_every_dataset_with_one_audit_row_each(self, db):
        with scratch(db) as s:
            before, audits = snapshot(s), load_audits(s)
            results = load_reference_data(s, principal=LOADER, force=True)
            assert all(r.changed for r in results)
            s.flush()
            assert snapshot(s) == before
            assert load_audits(s) == audits + len(EXPECTED_ROWS)


class TestLoadChangedDirectory:
    def test_only_the_modified_dataset_is_reloaded(self, db, data_dir):
        edit_lines(data_dir / "units.csv", lambda lines: [*lines, "165,测试单位\n"])
        new_sha = hashlib.sha256((data_dir / "units.csv").read_bytes()).hexdigest()
        with scratch(db) as s:
            before, audits = snapshot(s), load_audits(s)
            old_sha = ReferenceRepository(s).dataset("units").sha256
            results = {r.name: r for r in load_reference_data(s, principal=LOADER, data_dir=data_dir)}
            assert {n for n, r in results.items() if r.changed} == {"units"}
            assert results["units"].rows == 124
            s.flush()
            after = snapshot(s)
            assert {n for n in before if before[n] != after[n]} == {"units", "datasets"}
            assert sorted(set(after["units"]) - set(before["units"])) == [("165", "测试单位")]
            assert ReferenceRepository(s).dataset("units").sha256 == new_sha
            rows = list(s.scalars(select(AuditLog).where(AuditLog.action == "reference.load")
                                  .order_by(AuditLog.id).offset(audits)))
            assert [(r.entity_id, r.enterprise_id) for r in rows] == [("units", None)]
            assert rows[0].after == {"version": results["units"].version, "sha256": new_sha, "rows": 124}
            assert old_sha != new_sha

    def test_the_audit_row_keeps_the_previous_hash(self, db, data_dir):
        edit_lines(data_dir / "units.csv", lambda lines: [*lines, "165,测试单位\n"])
        with scratch(db) as s:
            old_sha = ReferenceRepository(s).dataset("units").sha256
            audits = load_audits(s)
            load_reference_data(s, principal=LOADER, data_dir=data_dir)
            s.flush()
            (row,) = s.scalars(select(AuditLog).where(AuditLog.action == "reference.load").order_by(AuditLog.id)
                               .offset(audits))
            assert row.before["sha256"] == old_sha
            assert row.before != {k: row.after[k] for k in row.before}

    def test_an_excel_saved_csv_with_bom_and_crlf_loads_the_same_rows(self, db, data_dir):
        path = data_dir / "units.csv"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
        with scratch(db) as s:
            before = snapshot(s)
            results = {r.name: r for r in load_reference_data(s, principal=LOADER, data_dir=data_dir)}
            assert results["units"].changed and results["units"].rows == 123
            s.flush()
            assert snapshot(s)["units"] == before["units"]

    def test_only_the_platform_may_load(self, db):
        tenant_admin = Principal(kind="user", label="a-admin", user_id=uuid.uuid4(), enterprise_id=uuid.uuid4(),
                                 role="admin")
        with scratch(db) as s, pytest.raises(Forbidden):
            load_reference_data(s, principal=tenant_admin)


class TestBadFiles:
    def _fails(self, db, data_dir) -> ValidationFailed:
        """Load ``data_dir``, expect it to fail, and check that nothing of it was applied."""
        with scratch(db) as s:
            before, audits = snapshot(s), load_audits(s)
        with scratch(db) as s, pytest.raises(ValidationFailed) as exc:
            load_reference_data(s, principal=LOADER, data_dir=data_dir)
        # The loader runs in the caller's transaction; a failure rolls it back whole.
        with scratch(db) as s:
            assert snapshot(s) == before
            assert load_audits(s) == audits
        return exc.value

    def test_duplicate_code_names_file_and_row_and_applies_nothing(self, db, data_dir):
        # countries.csv (loaded first) changes validly; unlocodes.csv (loaded last) repeats a code.
        edit_lines(data_dir / "countries.csv", lambda ls: [line.replace(",Germany", ",Deutschland") for line in ls])
        edit_lines(data_dir / "unlocodes.csv", lambda ls: [*ls, next(line for line in ls if line.startswith("USLAX"))])
        exc = self._fails(db, data_dir)
        assert "unlocodes.csv row 24" in exc.detail and "duplicate" in exc.detail and "USLAX" in exc.detail
        assert [(e.field, e.message_en) for e in exc.errors] == [("unlocode", "unlocodes.csv row 24: duplicate")]
        assert "第24行" in exc.errors[0].message_zh

    def test_missing_required_value_names_file_row_and_field(self, db, data_dir):
        edit_lines(data_dir / "countries.csv",
                   lambda ls: [line.replace(",德国,", ",,") if line.startswith("304,") else line for line in ls])
        exc = self._fails(db, data_dir)
        assert exc.detail == "countries.csv row 115: name_zh is empty"
        assert [e.field for e in exc.errors] == ["name_zh"]
        assert "countries.csv" in exc.errors[0].message_zh and "第115行" in exc.errors[0].message_zh

    def test_missing_column_is_named(self, db, data_dir):
        edit_lines(data_dir / "units.csv", lambda ls: [line.split(",")[0] + "\n" for line in ls])
        exc = self._fails(db, data_dir)
        assert "units.csv" in exc.detail and "name_zh" in exc.detail
        assert [e.field for e in exc.errors] == ["name_zh"]

    def test_too_long_value_names_file_and_row(self, db, data_dir):
        edit_lines(data_dir / "units.csv", lambda ls: [*ls, "1650,过长代码\n"])
        exc = self._fails(db, data_dir)
        assert exc.detail == "units.csv row 125: code longer than 3"

    def test_unknown_dataset_in_the_manifest(self, db, data_dir):
        manifest = json.loads((data_dir / "manifest.json").read_text(encoding="utf-8"))
        manifest["datasets"].append({"name": "planets", "file": "planets.csv", "version": "1", "rows": 8})
        (data_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        assert "planets" in self._fails(db, data_dir).detail

    def test_non_numeric_minor_units_names_file_and_row(self, db, data_dir):
        edit_lines(data_dir / "currencies.csv",
                   lambda ls: [line.replace(",USD,美元,US Dollar,2,", ",USD,美元,US Dollar,two,") for line in ls])
        exc = self._fails(db, data_dir)
        assert "currencies.csv row 21" in exc.detail and "minor_units" in exc.detail


@pytest.fixture
def read_key(db) -> str:
    with db.transaction() as s:
        ent = make_enterprise(s, kind="trader", name="查询企业")
        _row, key = identity.create_api_key(s, principal=replace(system_principal(), enterprise_id=ent.id),
                                            name="ref-read", scope=ApiScope.READ)
    return key


class TestReferenceApi:
    def test_currencies(self, client, read_key):
        r = client.get("/api/v1/reference/currencies", headers=bearer(read_key))
        assert r.status_code == 200
        items = {c["id"]: c for c in r.json()["items"]}
        assert len(items) == EXPECTED_ROWS["currencies"]
        assert (items["502"]["iso_4217"], items["502"]["minor_units"]) == ("USD", 2)
        assert (items["142"]["iso_4217"], items["142"]["minor_units"], items["142"]["name_zh"]) == ("CNY", 2, "人民币")

    def test_country_search(self, client, read_key):
        r = client.get("/api/v1/reference/countries", params={"q": "DE"}, headers=bearer(read_key))
        assert r.status_code == 200
        items = r.json()["items"]
        germany = next(c for c in items if c["iso_alpha2"] == "DE")
        assert (germany["id"], germany["customs_code"], germany["name_en"], germany["name_zh"]) == (
            "304", "304", "Germany", "德国")
        assert len(items) < EXPECTED_ROWS["countries"]
        for c in items:  # every hit matches somewhere, ignoring case
            assert any("de" in str(v).lower() for v in c.values() if isinstance(v, str)), c

    def test_datasets_listing(self, client, read_key):
        items = client.get("/api/v1/reference/datasets", headers=bearer(read_key)).json()["items"]
        assert {d["name"]: d["rows"] for d in items} == EXPECTED_ROWS

    def test_unknown_dataset_and_anonymous_caller(self, client, read_key):
        assert client.get("/api/v1/reference/planets", headers=bearer(read_key)).status_code == 422
        assert client.get("/api/v1/reference/currencies").status_code == 401
