"""The tolerant reader against the official samples (shared/reference/customs-ceb-202205/samples-export)."""

from __future__ import annotations

import pytest

from tests.customs import ceb_examples as ex
from tradeloop.customs.ceb.catalogue import MESSAGE_TYPES, is_error, status_label
from tradeloop.customs.ceb.reader import Entity, read

SAMPLE_FILES = sorted(ex.SAMPLES.glob("*.xml"))
#: What the reference README says deviates from the schema as published.
DEVIATING = {"CEB303", "CEB403", "CEB505", "CEB507", "CEB509", "CEB603", "CEB605", "CEB607", "CEB792", "CEB214"}


def sample(message_type: str):
    return read((ex.SAMPLES / f"{message_type}Message.xml").read_bytes(), source=f"{message_type}Message.xml")


def test_every_export_message_type_has_a_sample():
    assert sorted(path.stem.removesuffix("Message") for path in SAMPLE_FILES) == sorted(MESSAGE_TYPES)


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda path: path.stem)
def test_every_official_sample_reads(path):
    message = read(path.read_bytes(), source=path.name)

    assert message.message_type == path.stem.removesuffix("Message")
    assert message.version == "1.0"
    assert message.entities
    assert all(entity.name == MESSAGE_TYPES[message.message_type].entity for entity in message.entities)
    assert len(message.records()) == len(message.entities)
    assert bool(message.deviations) == (message.message_type in DEVIATING)
    assert all(deviation.startswith("line ") for deviation in message.deviations)
    business = MESSAGE_TYPES[message.message_type].direction == "out"
    assert (message.transfer is not None) == business
    assert message.signed == business


class TestSamples:
    def test_inventory_receipt(self):
        message = sample("CEB604")
        records = message.records()
        assert len(records) == 10  # the sample repeats one receipt ten times
        first = records[0]
        assert first.name == "InventoryReturn"
        assert first.keys == {
            "copNo": "Cop20180507001", "preNo": "P20180507000000001", "invtNo": "Invt20180507000001",
            "orderNo": "1105910159", "ebcCode": "1105910159", "ebpCode": "1105910159", "agentCode": "1105910159",
            "guid": "4CDE1CFD-EDED-46B1-946C-B8022E42FC94",
        }  # fmt: skip
        assert (first.status, first.time) == ("2", "20180507153001001")
        assert first.note == "新增申报成功[4CDE1CFD-EDED-46B1-946C-B8022E42FC94]"
        assert first.lines == []
        assert message.transfer is None

    def test_summary_result_with_its_lines_and_order_deviation(self):
        message = sample("CEB792")
        record = message.records()[0]
        assert record.keys["sumNo"] == "S20180507000000001"
        assert record.keys["declSeqNo"] == "S20180508000000001"
        assert record.status == "A"
        assert record.time == "20180508101112012"
        assert record.lines == [
            {"invtNo": "Invt20180507000001", "logisticsNo": "L2018050700001", "gnum": "1", "gcode": "8541401000"},
            {"invtNo": "Invt20180507000001", "logisticsNo": "L2018050700001", "gnum": "2", "gcode": "8541401001"},
        ]
        assert message.deviations[0] == (
            "line 26: Element 'ceb:gnum': This element is not expected. Expected is ( ceb:gseqno )."
        )

    def test_order_with_repeated_base_transfer(self):
        message = sample("CEB303")
        assert message.deviations == [
            "line 321: Element 'ceb:BaseTransfer': This element is not expected. "
            "Expected is one of ( ceb:BaseSubscribe, ds:Signature, ceb:ExtendMessage )."
        ]
        assert message.transfer == {"copCode": "1105910159", "copName": "东方物通科技(北京)有限公司",
                                    "dxpMode": "DXP", "dxpId": "DXPLGS0000000001", "note": "test"}
        order = message.entities[0]
        assert order.name == "Order" and order.fields == {}
        assert list(order.children) == ["OrderHead", "OrderList"]
        record = message.records()[0]
        assert record.keys["orderNo"] == "order2018050711340001"
        assert record.status is None
        assert record.lines[0]["itemName"] == "小米盒子"

    def test_return_receipt_with_undeclared_root(self):
        message = sample("CEB214")
        assert message.message_type == "CEB214"
        assert message.deviations[0] == (
            "line 3: root element ceb:CEB214 is not declared in the schema; expected ceb:CEB214Message"
        )
        assert "ceb:appSenderId" in message.deviations[1]  # and the content does not match RefundReturn either
        record = message.records()[0]
        assert record.keys["copNo"] == "Cop20220407001"  # coElNo, reported as copNo
        assert record.fields["coElNo"] == "Cop20220407001"
        assert (record.status, record.note) == ("2", "新增申报成功")

    def test_default_namespace_sample(self):
        record = sample("CEB216").records()[0]
        assert record.name == "InvtRefundDetailReturn"
        assert record.keys["copNo"] == "Cop20180507056"

    def test_business_message_lines(self):
        record = sample("CEB603").records()[0]
        assert record.keys["copNo"] == "Cop20180507001"
        assert record.lines[0]["gcode"] == "8541401000"

    def test_raw_is_kept(self):
        data = (ex.SAMPLES / "CEB604Message.xml").read_bytes()
        assert read(data).raw == data


class TestEntities:
    def test_flat_entity(self):
        (entity,) = read(ex.built("CEB505")).entities
        assert entity.name == "Logistics" and entity.children == {}
        assert entity.fields["logisticsNo"] == ex.LOGISTICS_NO

    def test_head_and_lines(self):
        (entity,) = read(ex.built("CEB701")).entities
        head = ex.summary_apply()["SummaryApply"]["SummaryApplyHead"]
        assert entity == Entity("SummaryApply", {}, {
            "SummaryApplyHead": [ex.as_entity("SummaryApplyHead", head)],
            "SummaryApplyList": [Entity("SummaryApplyList", {"invtNo": ex.INVT_NO[:-1] + str(n)}, {}) for n in (1, 2)],
        })  # fmt: skip


class TestStatus:
    @pytest.mark.parametrize(
        ("code", "label"),
        [("800", "放行 / released"), ("2", "电子口岸申报中 / being declared"), ("399", "海关审结 / audit completed"),
         ("-301010", "处理异常 / processing error"), ("A", None), (None, None)],
    )  # fmt: skip
    def test_labels(self, code, label):
        assert status_label(code) == label

    def test_negative_codes_are_errors(self):
        assert is_error("-625009")
        assert not is_error("100")
