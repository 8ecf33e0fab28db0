"""Realistic CEB entities of every export message type, as ``writer.build`` takes them.

A silk apparel maker in Suzhou (苏州丝绸服饰有限公司) sells silk scarves (真丝围巾) on Amazon US; the
codes are invented but have the lengths the schema asks for.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tradeloop.customs.ceb.reader import Entity
from tradeloop.customs.ceb.writer import build

#: The official samples, in the shared reference folder beside the repository (as laid out for CI too).
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "customs-ceb-202205" / "samples-export"

EBC = {"ebcCode": "91320505MA1P8XK21Q", "ebcName": "苏州丝绸服饰有限公司"}
EBP = {"ebpCode": "无", "ebpName": "亚马逊美国站 Amazon.com"}
LOGISTICS = {"logisticsCode": "3205980AB1", "logisticsName": "苏州顺丰速运有限公司"}
AGENT = {"agentCode": "3205980123", "agentName": "苏州海通报关有限公司"}
OPERATOR = {"operatorCode": "3205980777", "operatorName": "苏州工业园区综合保税监管场所有限公司"}
TRANSFER = {"copCode": "91320505MA1P8XK21Q", "copName": "苏州丝绸服饰有限公司", "dxpMode": "DXP",
            "dxpId": "DXPENT0000012345"}
APP_TIME = "20250310093000"
RETURN_TIME = "20250310093512345"
CUSTOMS = "2305"
GUID = "3F2A9C1E-7B4D-4E21-9A0C-5D6E7F8A9B01"
ORDER_NO = "AMZ-113-4567890-1234567"
LOGISTICS_NO = "SF1234567890123"
COP_NO = "SZSILK20250310001"
PRE_NO = "B20250310000000001"
INVT_NO = "23052025E000000001"
BILL_NO = "MAWB78444192956"


def _app(guid: str = GUID, status: str = "2") -> dict:
    return {"guid": guid, "appType": "1", "appTime": APP_TIME, "appStatus": status}


def _return(status: str = "2", info: str = "新增申报成功") -> dict:
    return {"guid": GUID, "returnStatus": status, "returnTime": RETURN_TIME, "returnInfo": info}


def _price(gnum: int) -> Decimal:
    return Decimal("25.5") + gnum


def order(lines: int = 1) -> dict:
    items = [
        {"gnum": n, "itemNo": f"SC-{n:03d}", "itemName": "真丝围巾", "itemDescribe": "100%桑蚕丝 90x90cm 方巾",
         "barCode": "6901234567892", "unit": "011", "currency": "502", "qty": 2, "price": _price(n),
         "totalPrice": 2 * _price(n), "note": None}
        for n in range(1, lines + 1)
    ]
    head = {**_app(), "orderType": "E", "orderNo": ORDER_NO, **EBP, **EBC,
            "goodsValue": sum(item["totalPrice"] for item in items), "freight": Decimal("0"), "currency": "502",
            "note": "亚马逊订单"}
    return {"Order": {"OrderList": items, "OrderHead": head}}  # list first: the writer orders by schema


def receipts() -> dict:
    return {"Receipts": {**_app(), **EBP, **EBC, "orderNo": ORDER_NO, "payCode": "3101962XYZ",
                         "payName": "连连银通电子支付有限公司", "payNo": "LL2025031000001", "charge": Decimal("53"),
                         "currency": "502", "accountingDate": "20250312101500"}}


def logistics() -> dict:
    return {"Logistics": {**_app(), **LOGISTICS, "logisticsNo": LOGISTICS_NO, "freight": Decimal("12.80"),
                          "insuredFee": Decimal("0"), "currency": "142", "grossWeight": Decimal("0.35"), "packNo": 1,
                          "goodsInfo": "真丝围巾", **EBC, "ebcTelephone": "0512-65550000"}}


def arrival(lines: int = 2) -> dict:
    head = {**_app(), "customsCode": CUSTOMS, "copNo": COP_NO, **OPERATOR, "ieFlag": "E", "trafMode": "5",
            "billNo": BILL_NO, "domesticTrafNo": "苏E12345", **LOGISTICS, "msgCount": 1, "msgSeqNo": 1}
    items = [{"gnum": n, "logisticsNo": f"{LOGISTICS_NO[:-1]}{n}"} for n in range(1, lines + 1)]
    return {"Arrival": {"ArrivalHead": head, "ArrivalList": items}}


def departure(lines: int = 2) -> dict:
    head = {**_app(), "customsCode": CUSTOMS, "copNo": COP_NO, **LOGISTICS, "trafMode": "5", "trafName": "CA1234",
            "voyageNo": "CA1234", "billNo": BILL_NO, "leaveTime": "20250311220000", "msgCount": 1, "msgSeqNo": 1}
    items = [{"gnum": n, "logisticsNo": f"{LOGISTICS_NO[:-1]}{n}"} for n in range(1, lines + 1)]
    return {"Departure": {"DepartureHead": head, "DepartureList": items}}


def inventory(lines: int = 1) -> dict:
    items = [
        {"gnum": n, "itemNo": f"SC-{n:03d}", "itemName": "真丝围巾", "gcode": "6214100000", "gname": "真丝围巾",
         "gmodel": "100%桑蚕丝|机织|90x90cm|无品牌", "barCode": "无", "country": "502", "currency": "502",
         "qty": 2, "qty1": Decimal("0.12"), "unit": "011", "unit1": "035", "price": _price(n),
         "totalPrice": 2 * _price(n)}
        for n in range(1, lines + 1)
    ]
    head = {**_app(), "customsCode": CUSTOMS, **EBP, "orderNo": ORDER_NO, **LOGISTICS, "logisticsNo": LOGISTICS_NO,
            "copNo": COP_NO, "ieFlag": "E", "portCode": CUSTOMS, "ieDate": "20250310", "statisticsFlag": "B",
            **AGENT, **EBC, "ownerCode": "91320505MA1P8XK21Q", "ownerName": "苏州丝绸服饰有限公司",
            "tradeMode": "9610", "trafMode": "5", "country": "502", "POD": "2249", "freight": Decimal("12.8"),
            "fCurrency": "142", "fFlag": "3", "insuredFee": 0, "iCurrency": "142", "iFlag": "3", "wrapType": "2",
            "packNo": 1, "grossWeight": Decimal("0.35"), "netWeight": Decimal("0.24")}
    return {"Inventory": {"InventoryHead": head, "InventoryList": items}}


def invt_cancel() -> dict:
    return {"InvtCancel": {**_app(), "customsCode": CUSTOMS, "copNo": COP_NO, "preNo": PRE_NO, "invtNo": INVT_NO,
                           "reason": "买家取消订单", **AGENT, **EBC}}


def way_bill(lines: int = 2) -> dict:
    head = {**_app(), "customsCode": CUSTOMS, "copNo": COP_NO, **AGENT, "trafMode": "5", "trafName": "CA1234",
            "voyageNo": "CA1234", "billNo": BILL_NO, "grossWeight": Decimal("0.7"), **LOGISTICS, "msgCount": 1,
            "msgSeqNo": 1}
    items = [{"gnum": n, "logisticsNo": f"{LOGISTICS_NO[:-1]}{n}", "invtNo": INVT_NO} for n in range(1, lines + 1)]
    return {"WayBill": {"WayBillHead": head, "WayBillList": items}}


def summary_apply(lines: int = 2) -> dict:
    head = {**_app(), "customsCode": CUSTOMS, "copNo": "SUM20250401001", **AGENT, **EBC,
            "declAgentCode": AGENT["agentCode"], "declAgentName": AGENT["agentName"], "summaryFlag": "1",
            "itemNameFlag": "1", "msgCount": 1, "msgSeqNo": 1}
    items = [{"invtNo": f"{INVT_NO[:-1]}{n}"} for n in range(1, lines + 1)]
    return {"SummaryApply": {"SummaryApplyHead": head, "SummaryApplyList": items}}


def invt_refund(lines: int = 1) -> dict:
    head = {**_app(), "customsCode": CUSTOMS, **EBP, **EBC, "logisticsNo": LOGISTICS_NO, **LOGISTICS,
            "coElNo": "RET20250420001", "invtNo": INVT_NO, "tradeMode": "9610", **AGENT, "billNo": BILL_NO,
            "ieFlag": "I", "trafMode": "5", "trafName": "CA1235", "portCode": CUSTOMS, "reason": "尺寸不合退货",
            "country": "502", "voyageNo": "CA1235"}
    items = [{"gnum": n, "gcode": "6214100000", "gname": "真丝围巾", "gmodel": "100%桑蚕丝|机织|90x90cm|无品牌",
              "qty": 1, "qty1": Decimal("0.06"), "unit": "011", "unit1": "035"} for n in range(1, lines + 1)]
    return {"InvtRefund": {"InvtRefundHead": head, "InvtRefundList": items}}


def invt_refund_detail() -> dict:
    return {"InvtRefundDetail": {**_app(), "customsCode": CUSTOMS, **OPERATOR, **LOGISTICS,
                                 "logisticsNo": LOGISTICS_NO, "invtNo": INVT_NO, "coElNo": "RET20250420001",
                                 "billNo": BILL_NO, "ieFlag": "I", "trafMode": "5", "trafName": "CA1235",
                                 "voyageNo": "CA1235", "location": "苏州工业园区跨境电商监管中心"}}


def summary_result(lines: int = 2) -> dict:
    head = {"guid": GUID, "customsCode": CUSTOMS, "sumNo": "230520250000000001", "opDate": RETURN_TIME,
            "declSeqNo": "230520250000000002", "entryId": "230520250000123456", "decState": "A", **AGENT, **EBC,
            "declAgentCode": AGENT["agentCode"], "declAgentName": AGENT["agentName"], "grossWeight": Decimal("0.7"),
            "netWeight": Decimal("0.48"), "msgCount": 1, "msgSeqNo": 1}
    items = [{"invtNo": INVT_NO, "logisticsNo": LOGISTICS_NO, "gseqno": n, "gnum": n, "gcode": "6214100000"}
             for n in range(1, lines + 1)]
    return {"SummaryResult": {"SummaryResultHead": head, "SummaryResultList": items}}


RECEIPTS = {
    "CEB304": lambda: {"OrderReturn": {**_return(), "ebpCode": EBP["ebpCode"], "ebcCode": EBC["ebcCode"],
                                       "orderNo": ORDER_NO}},
    "CEB404": lambda: {"ReceiptsReturn": {**_return(), "ebcCode": EBC["ebcCode"], "orderNo": ORDER_NO,
                                          "payNo": "LL2025031000001"}},
    "CEB506": lambda: {"LogisticsReturn": {**_return(), "logisticsCode": LOGISTICS["logisticsCode"],
                                           "logisticsNo": LOGISTICS_NO}},
    "CEB508": lambda: {"ArrivalReturn": {**_return("399", "审结"), "operatorCode": OPERATOR["operatorCode"],
                                         "logisticsCode": LOGISTICS["logisticsCode"], "preNo": PRE_NO,
                                         "copNo": COP_NO, "billNo": BILL_NO, "msgSeqNo": 1}},
    "CEB510": lambda: {"DepartureReturn": {**_return(), "logisticsCode": LOGISTICS["logisticsCode"], "copNo": COP_NO,
                                           "preNo": PRE_NO, "msgSeqNo": 1}},
    "CEB604": lambda: {"InventoryReturn": {**_return("800", "放行"), "agentCode": AGENT["agentCode"], "copNo": COP_NO,
                                           "preNo": PRE_NO, "invtNo": INVT_NO, "ebcCode": EBC["ebcCode"],
                                           "ebpCode": EBP["ebpCode"], "orderNo": ORDER_NO, "statisticsFlag": "B"}},
    "CEB606": lambda: {"InvtCancelReturn": {**_return("399", "撤销审结"), "agentCode": AGENT["agentCode"],
                                            "copNo": COP_NO, "preNo": PRE_NO, "invtNo": INVT_NO}},
    "CEB608": lambda: {"WayBillReturn": {**_return(), "agentCode": AGENT["agentCode"],
                                         "logisticsCode": LOGISTICS["logisticsCode"], "copNo": COP_NO,
                                         "preNo": PRE_NO, "billNo": BILL_NO, "msgSeqNo": 1}},
    "CEB702": lambda: {"SummaryReturn": {**_return("-301010", "已存在相同编号的汇总申请单"),
                                         "agentCode": AGENT["agentCode"], "ebcCode": EBC["ebcCode"],
                                         "copNo": "SUM20250401001", "preNo": PRE_NO, "msgSeqNo": 1}},
    "CEB792": summary_result,
    "CEB214": lambda: {"RefundReturn": {**_return("120", "海关入库"), "agentCode": AGENT["agentCode"],
                                        "coElNo": "RET20250420001", "preNo": PRE_NO, "invtNo": INVT_NO}},
    "CEB216": lambda: {"InvtRefundDetailReturn": {**_return(), "operatorCode": OPERATOR["operatorCode"],
                                                  "logisticsCode": LOGISTICS["logisticsCode"],
                                                  "logisticsNo": LOGISTICS_NO, "coElNo": "RET20250420001",
                                                  "preNo": PRE_NO}},
}
BUSINESS = {
    "CEB303": order,
    "CEB403": receipts,
    "CEB505": logistics,
    "CEB507": arrival,
    "CEB509": departure,
    "CEB603": inventory,
    "CEB605": invt_cancel,
    "CEB607": way_bill,
    "CEB701": summary_apply,
    "CEB213": invt_refund,
    "CEB215": invt_refund_detail,
}


def example(message_type: str) -> tuple[list[dict], dict | None]:
    """(entities, transfer) of one realistic message; receipts have no BaseTransfer."""
    if message_type in BUSINESS:
        return [BUSINESS[message_type]()], TRANSFER
    return [RECEIPTS[message_type]()], None


def built(message_type: str, **options) -> bytes:
    """The XML of :func:`example`; ``options`` go to ``build`` (e.g. ``signer``)."""
    entities, transfer = example(message_type)
    return build(message_type, entities, transfer=transfer, **options)


def text(value) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def as_entity(name: str, content: dict) -> Entity:
    """What the reader should give back for an entity dict: every value as text, None left out."""
    entity = Entity(name, {}, {})
    for key, value in content.items():
        if isinstance(value, dict | list):
            entity.children[key] = [as_entity(key, item) for item in (value if isinstance(value, list) else [value])]
        elif value is not None:
            entity.fields[key] = text(value)
    return entity
