"""Declarations as CEB business entities (the dicts ``ceb.writer.build`` takes), field by field.

Field names and meanings: domain.md §2.5 (generated from the official 202205 XSD). The writer orders
the fields by the schema; here only the values are chosen. Amounts are written from exact minor units;
codes are the customs (pre-2018) code sets: 3-digit currency and country codes, 3-digit units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from tradeloop.customs.models import Declaration, DeclarationLine, DocumentKind, Mode, Summary
from tradeloop.kit.money import from_minor

BEIJING = ZoneInfo("Asia/Shanghai")

#: Which documents a declaration is written as, in the order they must reach customs: the electronic
#: data (order, payment, waybill) before the list (domain.md §1.4 timing rule).
MESSAGE_OF_KIND = {
    DocumentKind.ORDER: "CEB303",
    DocumentKind.PAYMENT: "CEB403",
    DocumentKind.WAYBILL: "CEB505",
    DocumentKind.LIST: "CEB603",
    DocumentKind.BILL: "CEB607",
    DocumentKind.CANCEL: "CEB605",
    DocumentKind.REFUND: "CEB213",
    DocumentKind.SUMMARY: "CEB701",
}
ORDER_TYPE = {Mode.RETAIL: "E", Mode.B2B_DIRECT: "B", Mode.OVERSEAS_WAREHOUSE: "W", Mode.BONDED: "E"}


def kinds_for(decl: Declaration) -> list[DocumentKind]:
    """9610 sends order, payment (收款单), waybill and list; 9710/9810/1210 order (订仓单 for 9810), waybill
    and list — no 收款单 is required at declaration for 9810 (domain.md §1.6)."""
    kinds = [DocumentKind.ORDER]
    if decl.mode == Mode.RETAIL:
        kinds.append(DocumentKind.PAYMENT)
    return [*kinds, DocumentKind.WAYBILL, DocumentKind.LIST]


def app_time(moment: datetime) -> str:
    """``YYYYMMDDhhmmss`` in Beijing time, as the messages carry it."""
    return moment.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def return_time(moment: datetime) -> str:
    """``yyyyMMddHHmmssfff`` in Beijing time, the receipts' time format."""
    local = moment.astimezone(BEIJING)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"


def parse_return_time(text: str | None) -> datetime | None:
    """A receipt's ``yyyyMMddHHmmssfff`` (Beijing time) as an aware datetime; None when unreadable."""
    if not text or len(text) < 14 or not text[:14].isdigit():
        return None
    try:
        moment = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    except ValueError:
        return None
    millis = text[14:17]
    return moment.replace(microsecond=int(millis) * 1000) if millis.isdigit() and len(millis) == 3 else moment


@dataclass(frozen=True)
class Codes:
    """Customs codes the messages need beyond the declaration: the currency's 3-digit code and minor units."""

    currency: str
    minor_units: int


def _head(guid: str, app_type: str, now: datetime) -> dict:
    return {"guid": guid, "appType": app_type, "appTime": app_time(now), "appStatus": "2"}


def _amount(minor: int, codes: Codes) -> Decimal:
    return from_minor(minor, codes.minor_units)


def order(decl: Declaration, lines: list[DeclarationLine], codes: Codes, *, guid: str, app_type: str,
          now: datetime) -> dict:
    head = {**_head(guid, app_type, now), "orderType": decl.order_type, "orderNo": decl.order_no,
            "ebpCode": decl.ebp_code, "ebpName": decl.ebp_name, "ebcCode": decl.ebc_code, "ebcName": decl.ebc_name,
            "goodsValue": _amount(decl.goods_value_minor, codes), "freight": _amount(decl.freight_minor, codes),
            "currency": codes.currency, "note": decl.note}
    items = [{"gnum": li.gnum, "itemNo": li.item_no, "itemName": li.item_name or li.gname, "barCode": li.bar_code,
              "unit": li.unit, "currency": codes.currency, "qty": li.qty, "price": li.price,
              "totalPrice": _amount(li.total_minor, codes), "note": li.note} for li in lines]
    return {"Order": {"OrderHead": head, "OrderList": items}}


def payment(decl: Declaration, codes: Codes, *, guid: str, app_type: str, now: datetime) -> dict:
    paid = decl.paid_at or now
    charge = decl.goods_value_minor + decl.freight_minor
    return {"Receipts": {**_head(guid, app_type, now), "ebpCode": decl.ebp_code, "ebpName": decl.ebp_name,
                         "ebcCode": decl.ebc_code, "ebcName": decl.ebc_name, "orderNo": decl.order_no,
                         "payCode": decl.pay_code, "payName": decl.pay_name, "payNo": decl.pay_no,
                         "charge": _amount(charge, codes), "currency": codes.currency,
                         "accountingDate": app_time(paid)}}


def goods_info(lines: list[DeclarationLine]) -> str:
    text = ";".join(f"{li.gname}*{li.qty.normalize():f}" for li in lines)
    return text if len(text) <= 200 else text[:199] + "…"


def waybill(decl: Declaration, lines: list[DeclarationLine], codes: Codes, *, guid: str, app_type: str,
            now: datetime) -> dict:
    return {"Logistics": {**_head(guid, app_type, now), "logisticsCode": decl.logistics_code,
                          "logisticsName": decl.logistics_name, "logisticsNo": decl.logistics_no,
                          "freight": _amount(decl.freight_minor, codes),
                          "insuredFee": _amount(decl.insured_fee_minor, codes), "currency": codes.currency,
                          "grossWeight": decl.gross_weight_kg, "packNo": decl.pack_no,
                          "goodsInfo": goods_info(lines), "ebcCode": decl.ebc_code, "ebcName": decl.ebc_name}}


def inventory(decl: Declaration, lines: list[DeclarationLine], codes: Codes, *, guid: str, app_type: str,
              now: datetime) -> dict:
    head = {**_head(guid, app_type, now), "customsCode": decl.customs_code, "ebpCode": decl.ebp_code,
            "ebpName": decl.ebp_name, "orderNo": decl.order_no, "logisticsCode": decl.logistics_code,
            "logisticsName": decl.logistics_name, "logisticsNo": decl.logistics_no, "copNo": decl.cop_no,
            "preNo": decl.pre_no, "invtNo": decl.invt_no, "ieFlag": "E", "portCode": decl.port_code,
            "ieDate": decl.ie_date.strftime("%Y%m%d"), "statisticsFlag": decl.statistics_flag,
            "agentCode": decl.agent_code, "agentName": decl.agent_name, "ebcCode": decl.ebc_code,
            "ebcName": decl.ebc_name, "ownerCode": decl.owner_code, "ownerName": decl.owner_name,
            "iacCode": decl.iac_code, "iacName": decl.iac_name, "emsNo": decl.ems_no, "tradeMode": decl.mode,
            "trafMode": decl.traf_mode, "trafName": decl.traf_name, "voyageNo": decl.voyage_no,
            "billNo": decl.bill_no, "licenseNo": decl.license_no, "country": decl.country, "POD": decl.pod,
            "freight": _amount(decl.freight_minor, codes), "fCurrency": codes.currency, "fFlag": "3",
            "insuredFee": _amount(decl.insured_fee_minor, codes), "iCurrency": codes.currency, "iFlag": "3",
            "wrapType": decl.wrap_type, "packNo": decl.pack_no, "grossWeight": decl.gross_weight_kg,
            "netWeight": decl.net_weight_kg, "note": decl.note}
    items = [{"gnum": li.gnum, "itemNo": li.item_no, "itemRecordNo": li.item_record_no, "itemName": li.item_name,
              "gcode": li.gcode, "gname": li.gname, "gmodel": li.gmodel, "barCode": li.bar_code,
              "country": li.country, "currency": codes.currency, "qty": li.qty, "qty1": li.qty1, "qty2": li.qty2,
              "unit": li.unit, "unit1": li.unit1, "unit2": li.unit2, "price": li.price,
              "totalPrice": _amount(li.total_minor, codes), "note": li.note} for li in lines]
    return {"Inventory": {"InventoryHead": head, "InventoryList": items}}


def cancel(decl: Declaration, *, guid: str, now: datetime) -> dict:
    return {"InvtCancel": {**_head(guid, "1", now), "customsCode": decl.customs_code, "copNo": decl.cop_no,
                           "preNo": decl.pre_no, "invtNo": decl.invt_no, "reason": decl.cancel_reason,
                           "agentCode": decl.agent_code, "agentName": decl.agent_name, "ebcCode": decl.ebc_code,
                           "ebcName": decl.ebc_name}}


def bill_cop_no(decl: Declaration) -> str:
    return f"{decl.cop_no}B"


def bill(decl: Declaration, *, guid: str, now: datetime) -> dict:
    """清单总分单: the bill of lading that carries the list's waybill, when the list went without one."""
    head = {**_head(guid, "1", now), "customsCode": decl.customs_code, "copNo": bill_cop_no(decl),
            "agentCode": decl.agent_code, "agentName": decl.agent_name, "trafMode": decl.traf_mode,
            "trafName": decl.traf_name, "voyageNo": decl.voyage_no, "billNo": decl.bill_no,
            "grossWeight": decl.gross_weight_kg, "logisticsCode": decl.logistics_code,
            "logisticsName": decl.logistics_name, "msgCount": 1, "msgSeqNo": 1}
    return {"WayBill": {"WayBillHead": head,
                        "WayBillList": [{"gnum": 1, "logisticsNo": decl.logistics_no, "invtNo": decl.invt_no}]}}


def summary_apply(summary: Summary, invt_nos: list[str], *, guid: str, now: datetime) -> dict:
    """汇总申请单 listing its lists by number. summaryFlag 2 = by consignor and producer (the merge key
    includes the producer); itemNameFlag 1 = keep the lists' own goods names (used as the rebate name)."""
    head = {**_head(guid, "1", now), "customsCode": summary.customs_code, "copNo": summary.cop_no,
            "preNo": summary.pre_no, "sumNo": summary.sum_no, "agentCode": summary.agent_code,
            "agentName": summary.agent_name, "ebcCode": summary.ebc_code, "ebcName": summary.ebc_name,
            "declAgentCode": summary.decl_agent_code, "declAgentName": summary.decl_agent_name,
            "summaryFlag": summary.summary_flag, "itemNameFlag": "1", "msgCount": 1, "msgSeqNo": 1}
    return {"SummaryApply": {"SummaryApplyHead": head, "SummaryApplyList": [{"invtNo": n} for n in invt_nos]}}
