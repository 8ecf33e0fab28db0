"""Declaration rules: refused before anything is written, field by field, in Chinese and English."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy import update as sql_update

from tests.customs.builders import CONFIG, add_products, body_9810, create, load, principal_of, submit
from tradeloop.catalog.models import Product
from tradeloop.customs import service
from tradeloop.customs.models import Declaration, DeclarationStatus, Message
from tradeloop.kit.errors import Conflict, NotFound, ValidationFailed


@pytest.fixture
def exporter(db, world):
    add_products(db, world.a)
    return world.a


def refused(db, tenant, body) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        create(db, tenant, body)
    return {e.field: f"{e.message_en} / {e.message_zh}" for e in info.value.errors}


def test_a_good_declaration_takes_its_lines_from_the_catalogue(db, world, exporter):
    decl = create(db, exporter, body_9810(world))
    decl, lines, _docs = load(db, exporter, decl.id)
    assert decl.goods_value_minor == 500 * 850 + 120 * 3240  # USD cents, exact
    assert decl.gross_weight_kg == Decimal("96") and decl.net_weight_kg == Decimal("74")
    scarf, blouse = lines
    assert (scarf.gnum, scarf.item_no, scarf.gcode, scarf.gname) == (1, "SILK-SCARF-01", "6214100090", "围巾")
    assert scarf.bar_code == "4006381333931" and blouse.bar_code == "无"
    assert blouse.qty2 == Decimal("24") and blouse.unit2 == "035"
    assert scarf.country == "502"  # US as the customs country code
    assert decl.order_no.startswith("OWB") and decl.cop_no.startswith("TL") and len(decl.cop_no) <= 30


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"country": "ZZ"}, "country", "国家"),
    ({"country": "CN"}, "country", "中国"),
    ({"currency": "XYZ"}, "currency", "币制"),
    ({"customs_code": "23A5"}, "customs_code", "4位"),
    ({"traf_mode": "Q"}, "traf_mode", "运输方式"),
    ({"wrap_type": "9"}, "wrap_type", "包装种类"),
    ({"logistics_no": "X" * 33}, "logistics_no", "32"),
    ({"pack_no": 0}, "pack_no", "件数"),
    ({"warehouse_id": None}, "warehouse_id", "海外仓"),
    ({"lines": []}, "lines", "至少"),
    ({"lines": [{"sku": "NOPE", "qty": "1", "price": "1"}]}, "lines[0].sku", "商品目录"),
    ({"lines": [{"sku": "SILK-SCARF-01", "qty": "1.123456", "price": "1"}]}, "lines[0].qty", "5位小数"),
    ({"lines": [{"sku": "SILK-SCARF-01", "qty": "-1", "price": "1"}]}, "lines[0].qty", "大于零"),
    ({"freight": "1.234"}, "freight", "小数"),
])
def test_bad_fields_are_refused_naming_the_field(db, world, exporter, change, field, words):
    errors = refused(db, exporter, body_9810(world, **change))
    assert field in errors, errors
    assert words in errors[field]
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Declaration)) == 0


def test_a_product_whose_hs_code_or_unit_went_bad_is_refused_before_writing(db, world, exporter):
    decl = create(db, exporter, body_9810(world))
    with db.transaction() as s:  # the catalogue row is changed behind the service's back
        s.execute(sql_update(Product).where(Product.sku == "SILK-SCARF-01").values(hs_code="6214109999",
                                                                                   customs_unit="999"))
    with pytest.raises(ValidationFailed) as info:
        submit(db, exporter, decl.id)
    fields = {e.field for e in info.value.errors}
    assert {"lines[0].gcode", "lines[0].customs_unit"} <= fields
    with db.transaction(write=False) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0
    assert load(db, exporter, decl.id)[0].status == DeclarationStatus.DRAFT


def test_more_than_100_lines_are_refused(db, world, exporter):
    lines = [{"sku": "SILK-SCARF-01", "qty": "1", "price": "1"}] * 101
    assert "lines" in refused(db, exporter, body_9810(world, lines=lines))


def test_retail_9610_needs_payment_and_sends_four_messages(db, world, exporter):
    body = body_9810(world, mode="9610", warehouse_id=None, ebp_code="3205966666", ebp_name="丝路跨境商城",
                     statistics_flag="B")
    assert "pay_name" in refused(db, exporter, body)
    decl = create(db, exporter, {**body, "pay_name": "连连支付", "pay_code": "3301960000", "pay_no": "LL001",
                                 "paid_at": "2026-11-01T10:00:00+08:00"})
    assert decl.order_type == "E"
    submit(db, exporter, decl.id)
    with db.transaction(write=False) as s:
        types = sorted(s.scalars(select(Message.message_type)))
    assert types == ["CEB303", "CEB403", "CEB505", "CEB603"]


def test_bonded_1210_needs_zone_fields(db, world, exporter):
    body = body_9810(world, mode="1210", warehouse_id=None, ebp_code="3205966666", ebp_name="丝路跨境商城")
    errors = refused(db, exporter, body)
    assert {"iac_code", "iac_name", "ems_no", "lines[0].item_record_no"} <= set(errors)


def test_order_number_is_unique_per_enterprise(db, world, exporter):
    create(db, exporter, body_9810(world, order_no="OWB-2026-001"))
    assert "order_no" in refused(db, exporter, body_9810(world, order_no="OWB-2026-001"))


def test_submitted_declaration_cannot_be_edited_or_deleted(db, world, exporter):
    decl = create(db, exporter, body_9810(world))
    submit(db, exporter, decl.id)
    with pytest.raises(Conflict), db.transaction() as s:
        service.update_declaration(s, principal=principal_of(exporter), declaration_id=decl.id, data={"note": "x"})
    with pytest.raises(Conflict), db.transaction() as s:
        service.delete_draft(s, principal=principal_of(exporter), declaration_id=decl.id)
    with pytest.raises(Conflict):
        submit(db, exporter, decl.id)
    with pytest.raises(Conflict), db.transaction() as s:  # no invtNo yet: wait for the receipt
        service.cancel_declaration(s, principal=principal_of(exporter), declaration_id=decl.id, reason="x",
                                   config=CONFIG)


def test_another_tenant_cannot_see_or_touch_a_declaration(db, world, exporter):
    decl = create(db, exporter, body_9810(world))
    with pytest.raises(NotFound), db.transaction() as s:
        service.submit_declaration(s, principal=principal_of(world.b), declaration_id=decl.id, config=CONFIG)
    with pytest.raises(NotFound), db.transaction() as s:
        service.update_declaration(s, principal=principal_of(world.b), declaration_id=decl.id, data={"note": "x"})


def test_tenant_b_cannot_use_a_warehouse_it_does_not_use(db, world):
    add_products(db, world.b)
    errors = refused(db, world.b, body_9810(world))  # the operator's warehouse is tenant a's, not b's
    assert "warehouse_id" in errors


def test_a_new_currency_does_not_reinterpret_stored_amounts(db, world, exporter):
    decl = create(db, exporter, body_9810(world, freight="10.50"))
    with pytest.raises(ValidationFailed) as info, db.transaction() as s:
        service.update_declaration(s, principal=principal_of(exporter), declaration_id=decl.id,
                                   data={"currency": "JPY"})
    assert "freight" in {e.field for e in info.value.errors}
    with db.transaction() as s:
        service.update_declaration(s, principal=principal_of(exporter), declaration_id=decl.id,
                                   data={"currency": "EUR"})
    assert load(db, exporter, decl.id)[0].freight_minor == 1050


@pytest.mark.parametrize(("change", "field"), [
    ({"note": "ok\u0001bad"}, "note"),
    ({"lines": [{"sku": "SILK-SCARF-01", "qty": "9999999999999", "price": "99999999"}]}, "lines[0].price"),
    ({"freight": "1E+30"}, "freight"),
])
def test_values_no_message_could_carry_are_refused_up_front(db, world, exporter, change, field):
    assert field in refused(db, exporter, body_9810(world, **change))
