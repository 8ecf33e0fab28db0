"""HS reference rates by date, product service rules, bulk import and export, tenancy (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import login
from tradeloop.audit.models import AuditLog
from tradeloop.catalog import service
from tradeloop.catalog.models import Product
from tradeloop.catalog.repository import rates_on
from tradeloop.catalog.schemas import ProductCreate, ProductUpdate
from tradeloop.kit.errors import ValidationFailed
from tradeloop.kit.tenancy import system_principal

HEADER_ZH = ("SKU,中文名称,英文名称,申报品名,申报要素,HS编码,申报计量单位,法定第一计量单位,第一单位换算系数,"
             "毛重(千克),净重(千克),原产国(地区),品牌,GTIN条码,采购成本,成本币种\n")
GOOD_ROWS = [
    "SCARF-01,真丝围巾,Silk scarf,围巾,0|0|丝|围巾|无品牌,6214100090,011,035,0.08,0.1,0.08,142,Loop,4006381333931,"
    "45.50,CNY\n",
    "BATT-01,充电宝,Power bank,锂离子蓄电池,0|0|锂离子|10000mAh,8507600090,011,,,0.35,0.3,142,,,12.5,USD\n",
]


def principal_of(tenant):
    return replace(system_principal(), enterprise_id=tenant.enterprise.id)


def count(s, model, **where):
    stmt = select(func.count()).select_from(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return s.scalar(stmt)


def audits(s) -> int:
    return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.entity_type == "product"))


def do_import(db, tenant, data: bytes, filename="products.csv"):
    with db.transaction() as s:
        return service.import_products(s, principal=principal_of(tenant), filename=filename, data=data)


def base(**extra):
    values = dict(sku="SKU-1", name_zh="真丝围巾", declared_name="围巾", hs_code="6214100090", customs_unit="011")
    values.update(extra)
    return ProductCreate(**values)


class TestHsRates:
    @pytest.mark.parametrize(("day", "rebate"), [
        (date(2024, 1, 18), Decimal("13")), (date(2024, 11, 30), Decimal("13")), (date(2024, 12, 1), Decimal("9")),
        (date(2026, 3, 31), Decimal("9")), (date(2026, 4, 1), Decimal("6")), (date(2026, 12, 31), Decimal("6")),
        (date(2027, 1, 1), Decimal("0")), (date(2030, 6, 1), Decimal("0")),
    ])
    def test_battery_rebate_follows_the_announcements(self, db, day, rebate):
        with db.transaction(write=False) as s:
            rates = rates_on(s, "8507600090", day)
            assert rates is not None and rates.rebate_rate_pct == rebate and rates.vat_rate_pct == Decimal("13")
            if day >= date(2026, 4, 1):
                assert "2026年第2号" in rates.legal_basis
            elif day >= date(2024, 12, 1):
                assert "2024年第15号" in rates.legal_basis

    def test_unknown_rate_is_none_not_zero_and_unknown_code_is_none(self, db):
        with db.transaction(write=False) as s:
            rates = rates_on(s, "6214100010", date(2025, 1, 1))
            assert rates.vat_rate_pct == Decimal("13") and rates.rebate_rate_pct is None
            assert rates.source and rates.confidence == "secondary source"
            assert rates_on(s, "0000000000", date(2025, 1, 1)) is None
            assert rates_on(s, "44191210", date(2025, 1, 1)) is None  # 8-digit row: no 10-digit line

    def test_lookup_api(self, client, world):
        login(client, world.a.users["viewer"])
        items = client.get("/api/v1/catalog/hs-codes", params={"q": "85076000"}).json()
        periods = [(i["valid_from"], i["rebate_rate_pct"]) for i in items if i["code10"] == "8507600090"]
        assert periods == [(None, "13.00"), ("2024-12-01", "9.00"), ("2026-04-01", "6.00"), ("2027-01-01", "0.00")]
        assert client.get("/api/v1/catalog/hs-codes", params={"q": "围巾"}).json()


class TestCreateProduct:
    def test_created_and_audited(self, db, world):
        with db.transaction() as s:
            p = service.create_product(s, principal=principal_of(world.a), data=base(
                gtin="4006381333931", cost=Decimal("12.50"), cost_currency="usd", unit1="035",
                unit1_factor=Decimal("0.08"), gross_weight_kg=Decimal("0.1"), net_weight_kg=Decimal("0.08"),
                origin_country="CN"))
            assert (p.cost_minor, p.cost_currency, p.origin_country) == (1250, "USD", "142")
            assert audits(s) == 1

    def test_every_field_error_at_once_in_both_languages(self, db, world):
        with pytest.raises(ValidationFailed) as exc, db.transaction() as s:
            service.create_product(s, principal=principal_of(world.a), data=base(
                hs_code="1234567890", customs_unit="999", gtin="4006381333932", cost=Decimal("12.505"),
                cost_currency="CNY", gross_weight_kg=Decimal("1"), net_weight_kg=Decimal("2"),
                origin_country="XX", unit1="035"))
        fields = {e.field for e in exc.value.errors}
        assert fields == {"hs_code", "customs_unit", "gtin", "cost", "net_weight_kg", "origin_country",
                          "unit1_factor"}
        assert all(e.message_zh and e.message_en for e in exc.value.errors)

    def test_jpy_has_no_minor_units(self, db, world):
        with db.transaction() as s:
            p = service.create_product(s, principal=principal_of(world.a), data=base(cost=Decimal("1200"),
                                                                                     cost_currency="JPY"))
            assert p.cost_minor == 1200
            with pytest.raises(ValidationFailed):
                service.create_product(s, principal=principal_of(world.a), data=base(
                    sku="SKU-2", cost=Decimal("1200.5"), cost_currency="JPY"))

    def test_sku_unique_per_enterprise_only(self, db, world):
        with db.transaction() as s:
            service.create_product(s, principal=principal_of(world.a), data=base())
            service.create_product(s, principal=principal_of(world.b), data=base())
            with pytest.raises(ValidationFailed):
                service.create_product(s, principal=principal_of(world.a), data=base())


class TestUpdateAndDeactivate:
    def test_unchanged_update_writes_no_audit_row(self, db, world):
        with db.transaction() as s:
            p = service.create_product(s, principal=principal_of(world.a), data=base())
            service.update_product(s, principal=principal_of(world.a), product_id=p.id,
                                   data=ProductUpdate(name_zh="真丝围巾"))
            assert audits(s) == 1
            service.update_product(s, principal=principal_of(world.a), product_id=p.id,
                                   data=ProductUpdate(brand="Loop"))
            service.deactivate_product(s, principal=principal_of(world.a), product_id=p.id)
            service.deactivate_product(s, principal=principal_of(world.a), product_id=p.id)
            assert audits(s) == 3 and p.active is False


def csv_bytes(rows, header=HEADER_ZH, encoding="utf-8") -> bytes:
    return (header + "".join(rows)).encode(encoding)


class TestImport:
    def test_good_file(self, db, world):
        result = do_import(db, world.a, csv_bytes(GOOD_ROWS))
        assert (result.rows, result.created, result.updated, result.unchanged) == (2, 2, 0, 0)
        with db.transaction(write=False) as s:
            scarf = s.scalar(select(Product).where(Product.sku == "SCARF-01"))
            assert (scarf.cost_minor, scarf.unit1_factor, scarf.gtin) == (4550, Decimal("0.08"), "4006381333931")
            assert audits(s) == 2

    def test_errors_apply_nothing_and_name_row_column_value(self, db, world):
        do_import(db, world.a, csv_bytes(GOOD_ROWS[:1]))
        bad = [GOOD_ROWS[0].replace("Silk scarf", "Silk scarf v2"),  # valid change: must not be applied
               "BAD-1,坏商品,,坏,,1234567890,011,,,1,2,142,,4006381333932,12.505,CNY\n",
               GOOD_ROWS[1], "SCARF-01,重复,,x,,6214100090,011,,,,,,,,,\n"]
        with pytest.raises(service.ImportRejected) as exc:
            do_import(db, world.a, csv_bytes(bad))
        got = {(e.row, e.column, e.value) for e in exc.value.row_errors}
        assert {(3, "HS编码", "1234567890"), (3, "GTIN条码", "4006381333932"), (3, "采购成本", "12.505"),
                (3, "净重(千克)", "2"), (5, "SKU", "SCARF-01")} <= got
        with db.transaction(write=False) as s:
            assert count(s, Product) == 1 and audits(s) == 1
            assert s.scalar(select(Product.name_en)) == "Silk scarf"

    def test_same_file_twice_changes_nothing(self, db, world):
        data = csv_bytes(GOOD_ROWS)
        do_import(db, world.a, data)
        with db.transaction(write=False) as s:
            stamps = {p.sku: p.updated_at for p in s.scalars(select(Product))}
            before = audits(s)
        result = do_import(db, world.a, data)
        assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
        with db.transaction(write=False) as s:
            assert audits(s) == before and count(s, Product) == 2
            assert {p.sku: p.updated_at for p in s.scalars(select(Product))} == stamps

    def test_gb18030_and_bom_and_english_headers(self, db, world):
        result = do_import(db, world.a, csv_bytes(GOOD_ROWS[:1], encoding="gb18030"))
        assert result.encoding == "gb18030" and result.created == 1
        header_en = "SKU,Name (Chinese),Declared name,HS code,Customs unit\n"
        result = do_import(db, world.b, b"\xef\xbb\xbf" + csv_bytes(["X-1,蚕丝枕套,枕套,6302391010,011\n"],
                                                                     header=header_en))
        assert result.encoding == "utf-8-sig" and result.created == 1
        with db.transaction(write=False) as s:
            names = set(s.scalars(select(Product.name_zh)))
            assert names == {"真丝围巾", "蚕丝枕套"}

    def test_xlsx(self, db, world):
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(["SKU", "中文名称", "申报品名", "HS编码", "申报计量单位", "净重（千克）", "毛重(千克)", "采购成本",
                   "成本币种", "GTIN"])
        ws.append(["XL-1", "LED台灯", "台灯", 9405210010, "011", 0.5, 0.75, 99.9, "CNY", 4006381333931.0])
        buf = io.BytesIO()
        wb.save(buf)
        result = do_import(db, world.a, buf.getvalue(), "products.xlsx")
        assert result.created == 1 and result.encoding is None
        with db.transaction(write=False) as s:
            p = s.scalar(select(Product))
            assert (p.net_weight_kg, p.gross_weight_kg, p.cost_minor) == (Decimal("0.5"), Decimal("0.75"), 9990)
            assert p.gtin == "4006381333931"

    def test_not_a_table(self, db, world):
        with pytest.raises(service.ImportRejected):
            do_import(db, world.a, b"%PDF-1.4 nothing here\xff\xfe\x00", "x.pdf")


class TestApiAndPages:
    def test_export_then_import_round_trip_and_other_tenant_sees_nothing(self, client, world, db):
        do_import(db, world.a, csv_bytes(GOOD_ROWS))
        token = login(client, world.a.users["operator"])
        export = client.get("/catalog.xlsx")
        assert export.status_code == 200
        r = client.post("/api/v1/catalog/products/import", headers={"X-CSRF-Token": token},
                        files={"file": ("products.xlsx", export.content, "application/octet-stream")})
        assert r.status_code == 200, r.text
        assert r.json() | {"encoding": None} == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2,
                                                  "encoding": None}
        items = client.get("/api/v1/catalog/products", params={"hs_code": "8507"}).json()["items"]
        assert [i["sku"] for i in items] == ["BATT-01"] and items[0]["cost"] == "12.50"
        pid = items[0]["id"]

        other = client.__class__(client.app)
        login(other, world.b.users["admin"])
        assert other.get("/api/v1/catalog/products").json()["items"] == []
        assert other.get(f"/api/v1/catalog/products/{pid}").status_code == 404
        assert "BATT-01" not in other.get("/catalog").text

    def test_api_import_error_report(self, client, world):
        token = login(client, world.a.users["admin"])
        bad = csv_bytes(["BAD-1,坏商品,,坏,,1234567890,011,,,,,,,,,\n"])
        r = client.post("/api/v1/catalog/products/import", headers={"X-CSRF-Token": token},
                        files={"file": ("bad.csv", bad, "text/csv")})
        assert r.status_code == 422
        body = r.json()
        assert {"row": 2, "column": "HS编码", "value": "1234567890"}.items() <= body["row_errors"][0].items()

    def test_pages(self, client, world):
        from tests.factories import csrf_from, page_login

        page_login(client, world.a.users["admin"])
        assert client.get("/catalog").status_code == 200
        assert "8507600090" in client.get("/reference", params={"dataset": "hs_codes"}).text
        assert client.get("/catalog/import").status_code == 200
        token = csrf_from(client.get("/catalog/new").text)
        r = client.post("/catalog", data={"csrf_token": token, "sku": "P-1", "name_zh": "丝巾", "declared_name": "围巾",
                                          "hs_code": "6214100090", "customs_unit": "011", "cost": "10.5",
                                          "cost_currency": "CNY"}, follow_redirects=False)
        assert r.status_code == 303, r.text[:500]
        page = client.get("/catalog").text
        assert "P-1" in page and "10.50" in page
        r = client.post("/catalog", data={"csrf_token": token, "sku": "P-2", "name_zh": "丝巾", "declared_name": "x",
                                          "hs_code": "123", "customs_unit": "011"})
        assert r.status_code == 422 and 'data-error-for="hs_code"' in r.text
        r = client.post("/catalog/import", data={"csrf_token": token},
                        files={"file": ("bad.csv", csv_bytes(["BAD-1,坏,,坏,,1234567890,011,,,,,,,,,\n"]), "text/csv")})
        assert r.status_code == 422 and "data:text/csv" in r.text and "1234567890" in r.text
        r = client.post("/catalog/import", data={"csrf_token": token},
                        files={"file": ("good.csv", csv_bytes(GOOD_ROWS), "text/csv")})
        assert r.status_code == 200 and 'id="import-result"' in r.text


class TestApiProducts:
    def test_create_patch_deactivate_and_exact_cost(self, client, world):
        token = login(client, world.a.users["operator"])
        h = {"X-CSRF-Token": token}
        body = {"sku": "API-1", "name_zh": "真丝枕套", "declared_name": "枕套", "hs_code": "6302.39.1010",
                "customs_unit": "011", "cost": "12.50", "cost_currency": "USD", "gtin": "10614141000415"}
        r = client.post("/api/v1/catalog/products", json=body, headers=h)
        assert r.status_code == 201, r.text
        p = r.json()
        assert (p["hs_code"], p["cost"], p["cost_minor"]) == ("6302391010", "12.50", 1250)
        r = client.post("/api/v1/catalog/products", json=body | {"sku": "API-2", "cost": "12.505"}, headers=h)
        assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"cost"}
        r = client.patch(f"/api/v1/catalog/products/{p['id']}", json={"active": False, "net_weight_kg": "0.2"},
                         headers=h)
        assert r.status_code == 200 and r.json()["active"] is False
        assert Decimal(r.json()["net_weight_kg"]) == Decimal("0.2")
        assert client.get("/api/v1/catalog/products", params={"active": True}).json()["items"] == []
        assert len(client.get("/api/v1/catalog/products", params={"q": "枕套"}).json()["items"]) == 1
