"""The generic CEB writer: schema order, exact numbers, limits, and never an invalid message."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from lxml import etree

from tests.customs import ceb_examples as ex
from tradeloop.customs.ceb import schema
from tradeloop.customs.ceb.catalogue import MESSAGE_TYPES
from tradeloop.customs.ceb.reader import read
from tradeloop.customs.ceb.schema import CEB
from tradeloop.customs.ceb.writer import CebInvalid, build

ALL_TYPES = [*ex.BUSINESS, *ex.RECEIPTS]


def _order(**head_changes) -> list[dict]:
    entity = ex.order()
    entity["Order"]["OrderHead"].update(head_changes)
    return [entity]


def _paths(exc: pytest.ExceptionInfo[CebInvalid]) -> list[str]:
    return [error.path for error in exc.value.errors]


class TestRoundTrip:
    @pytest.mark.parametrize("message_type", ALL_TYPES)
    def test_builds_valid_message_and_reads_back_equal(self, message_type):
        entities, transfer = ex.example(message_type)
        data = build(message_type, entities, transfer=transfer)

        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ceb:' + message_type.encode())
        assert schema.validate(data) == []
        message = read(data)
        name = MESSAGE_TYPES[message_type].entity
        assert message.message_type == message_type
        assert message.entities == [ex.as_entity(name, entities[0][name])]
        assert message.transfer == transfer
        assert message.deviations == []
        assert message.signed is False

    def test_chinese_text_and_markup_characters_survive(self):
        note = "<真丝围巾> & \"披肩\""
        data = build("CEB303", _order(ebcName="苏州丝绸服饰有限公司", note=note), transfer=ex.TRANSFER)
        assert "苏州丝绸服饰有限公司".encode() in data
        head = read(data).records()[0]
        assert head.fields["note"] == note

    def test_guid_is_generated_upper_case_or_taken_as_given(self):
        generated = etree.fromstring(build("CEB304", [ex.RECEIPTS["CEB304"]()], transfer=None))
        assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12}", generated.get("guid"))
        assert generated.get("version") == "1.0"
        given = read(build("CEB304", [ex.RECEIPTS["CEB304"]()], transfer=None, guid=ex.GUID))
        assert given.guid == ex.GUID

    def test_several_entities_in_one_message(self):
        returns = [ex.RECEIPTS["CEB604"]() for _ in range(3)]
        returns[2]["InventoryReturn"]["copNo"] = "SZSILK20250310003"
        message = read(build("CEB604", returns, transfer=None))
        assert [record.keys["copNo"] for record in message.records()] == [ex.COP_NO, ex.COP_NO, "SZSILK20250310003"]

    def test_subscriptions_follow_the_transfer(self):
        subscribe = [{"status": "ALL", "dxpMode": "DXP", "dxpAddress": "DXPENT0000099999"}]
        root = etree.fromstring(build("CEB505", [ex.logistics()], transfer=ex.TRANSFER, subscribe=subscribe))
        assert [etree.QName(child).localname for child in root] == ["Logistics", "BaseTransfer", "BaseSubscribe"]


class TestSchemaOrder:
    def test_children_follow_the_xsd_sequence_whatever_the_dict_order(self):
        entity = ex.order()
        head = entity["Order"]["OrderHead"]
        entity["Order"]["OrderHead"] = dict(reversed(list(head.items())))
        root = etree.fromstring(build("CEB303", [entity], transfer=dict(reversed(list(ex.TRANSFER.items())))))

        order = root.find(f"{{{CEB}}}Order")
        assert [etree.QName(child).localname for child in order] == ["OrderHead", "OrderList"]
        written = [etree.QName(child).localname for child in order.find(f"{{{CEB}}}OrderHead")]
        assert written == [child.name for child in schema.children("OrderHead") if child.name in head]

    def test_model_is_read_from_the_xsd(self):
        head = {child.name: child for child in schema.children("OrderHead")}
        assert list(head)[:6] == ["guid", "appType", "appTime", "appStatus", "orderType", "orderNo"]
        assert head["orderNo"].facets.max_length == 60
        assert head["guid"].facets.length == 36
        assert (head["goodsValue"].facets.total_digits, head["goodsValue"].facets.fraction_digits) == (19, 5)
        assert head["note"].min_occurs == 0
        order_list = schema.children("Order")[1]
        assert (order_list.name, order_list.min_occurs, order_list.max_occurs) == ("OrderList", 1, 100)
        assert schema.children("Departure")[1].max_occurs is None  # unbounded

    @pytest.mark.parametrize("message_type", sorted(MESSAGE_TYPES))
    def test_catalogue_entities_are_the_schema_roots_first_child(self, message_type):
        info = MESSAGE_TYPES[message_type]
        assert schema.children(f"{message_type}Message")[0].name == info.entity
        if info.receipt:
            assert MESSAGE_TYPES[info.receipt].direction == "in"

    def test_receipts_carry_no_base_transfer(self):
        receipts = [code for code, info in MESSAGE_TYPES.items() if info.direction == "in"]
        for code in receipts:
            assert [child.name for child in schema.children(f"{code}Message")] == [MESSAGE_TYPES[code].entity]
        with pytest.raises(CebInvalid) as exc:
            build("CEB604", [ex.RECEIPTS["CEB604"]()], transfer=ex.TRANSFER)
        assert _paths(exc) == ["CEB604Message/BaseTransfer"]


class TestNumbers:
    def test_decimals_are_written_plainly(self):
        data = build("CEB303", _order(goodsValue=Decimal("1.5E+3"), freight=Decimal("12.500000")), transfer=ex.TRANSFER)
        fields = read(data).records()[0].fields
        assert (fields["goodsValue"], fields["freight"]) == ("1500", "12.5")

    def test_more_fraction_digits_than_the_schema_allows_are_refused(self):
        with pytest.raises(CebInvalid) as exc:
            build("CEB303", _order(goodsValue=Decimal("10.123456")), transfer=ex.TRANSFER)
        assert _paths(exc) == ["CEB303Message/Order[1]/OrderHead/goodsValue"]
        assert "more than 5 fraction digits" in str(exc.value)

    def test_five_fraction_digits_are_fine(self):
        data = build("CEB303", _order(goodsValue=Decimal("10.12345")), transfer=ex.TRANSFER)
        assert read(data).records()[0].fields["goodsValue"] == "10.12345"

    @pytest.mark.parametrize("value", [1.5, True, Decimal("NaN"), Decimal("Infinity")])
    def test_inexact_values_are_refused(self, value):
        with pytest.raises(CebInvalid):
            build("CEB303", _order(freight=value), transfer=ex.TRANSFER)

    def test_integer_fields_refuse_fractions(self):
        entity = ex.logistics()
        entity["Logistics"]["packNo"] = Decimal("1.5")
        with pytest.raises(CebInvalid) as exc:
            build("CEB505", [entity], transfer=ex.TRANSFER)
        assert _paths(exc) == ["CEB505Message/Logistics[1]/packNo"]


class TestLimits:
    @pytest.mark.parametrize(
        ("message_type", "make", "entity", "list_name"),
        [
            ("CEB303", ex.order, "Order", "OrderList"),
            ("CEB603", ex.inventory, "Inventory", "InventoryList"),
            ("CEB213", ex.invt_refund, "InvtRefund", "InvtRefundList"),
        ],
    )
    def test_maximum_lines_validate_and_one_more_is_refused(self, message_type, make, entity, list_name):
        maximum = next(child.max_occurs for child in schema.children(entity) if child.name == list_name)
        assert maximum == 100
        message = read(build(message_type, [make(lines=maximum)], transfer=ex.TRANSFER))
        assert len(message.records()[0].lines) == maximum

        with pytest.raises(CebInvalid) as exc:
            build(message_type, [make(lines=maximum + 1)], transfer=ex.TRANSFER)
        assert f"{maximum + 1} occurrences, at most {maximum} allowed" in str(exc.value)

    def test_more_than_100_entities_are_refused(self):
        with pytest.raises(CebInvalid, match="at most 100"):
            build("CEB304", [ex.RECEIPTS["CEB304"]() for _ in range(101)], transfer=None)

    def test_missing_required_field_is_refused_naming_it(self):
        with pytest.raises(CebInvalid) as exc:
            build("CEB303", _order(orderNo=None), transfer=ex.TRANSFER)
        assert _paths(exc) == ["CEB303Message/Order[1]/OrderHead/orderNo"]
        assert "CEB303Message/Order[1]/OrderHead/orderNo: required element is missing" in str(exc.value)

    def test_missing_transfer_is_refused(self):
        with pytest.raises(CebInvalid) as exc:
            build("CEB303", _order(), transfer=None)
        assert _paths(exc) == ["CEB303Message/BaseTransfer"]

    def test_too_long_name_is_refused_by_the_schema(self):
        build("CEB303", _order(ebcName="绸" * 100), transfer=ex.TRANSFER)  # length counts characters
        with pytest.raises(CebInvalid) as exc:
            build("CEB303", _order(ebcName="绸" * 101), transfer=ex.TRANSFER)
        (error,) = exc.value.errors
        assert error.line > 0
        assert error.path.endswith("ceb:OrderHead/ceb:ebcName")
        assert "maxLength" in error.message

    def test_unknown_field_is_refused_naming_it(self):
        with pytest.raises(CebInvalid) as exc:
            build("CEB303", _order(orderNumber="X"), transfer=ex.TRANSFER)
        assert _paths(exc) == ["CEB303Message/Order[1]/OrderHead/orderNumber"]

    def test_wrong_entity_or_type_is_a_programming_error(self):
        with pytest.raises(ValueError, match="unknown message type"):
            build("CEB311", [], transfer=ex.TRANSFER)
        with pytest.raises(ValueError, match="'Order'"):
            build("CEB303", [ex.logistics()], transfer=ex.TRANSFER)
