"""The export messages of the 202205 edition and the receipt status codes (domain.md §2.4, §2.6)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MessageType:
    """``direction`` is "out" for what the enterprise sends, "in" for receipts and customs' own messages."""

    code: str
    name_zh: str
    name_en: str
    direction: str
    entity: str
    receipt: str | None = None


_TYPES = (
    MessageType("CEB303", "电子订单", "e-commerce order", "out", "Order", "CEB304"),
    MessageType("CEB304", "电子订单回执", "order receipt", "in", "OrderReturn"),
    MessageType("CEB403", "收款单", "payment receipt", "out", "Receipts", "CEB404"),
    MessageType("CEB404", "收款单回执", "payment receipt answer", "in", "ReceiptsReturn"),
    MessageType("CEB505", "物流运单", "waybill", "out", "Logistics", "CEB506"),
    MessageType("CEB506", "物流运单回执", "waybill receipt", "in", "LogisticsReturn"),
    MessageType("CEB507", "物流运抵单", "arrival", "out", "Arrival", "CEB508"),
    MessageType("CEB508", "物流运抵单回执", "arrival receipt", "in", "ArrivalReturn"),
    MessageType("CEB509", "物流离境单", "departure", "out", "Departure", "CEB510"),
    MessageType("CEB510", "物流离境单回执", "departure receipt", "in", "DepartureReturn"),
    MessageType("CEB603", "出口申报清单", "export inventory list", "out", "Inventory", "CEB604"),
    MessageType("CEB604", "出口申报清单回执", "export list receipt", "in", "InventoryReturn"),
    MessageType("CEB605", "撤销申请单", "list cancellation", "out", "InvtCancel", "CEB606"),
    MessageType("CEB606", "撤销申请单回执", "cancellation receipt", "in", "InvtCancelReturn"),
    MessageType("CEB607", "清单总分单", "master/sub bill", "out", "WayBill", "CEB608"),
    MessageType("CEB608", "清单总分单回执", "bill receipt", "in", "WayBillReturn"),
    MessageType("CEB701", "汇总申请单", "summary application", "out", "SummaryApply", "CEB702"),
    MessageType("CEB702", "汇总申请单回执", "summary application receipt", "in", "SummaryReturn"),
    MessageType("CEB792", "汇总结果单", "summary result", "in", "SummaryResult"),
    MessageType("CEB213", "零售出口退货申请单", "retail export return application", "out", "InvtRefund", "CEB214"),
    MessageType("CEB214", "退货申请单回执", "return application receipt", "in", "RefundReturn"),
    MessageType("CEB215", "出口退运理货明细单", "return tally list", "out", "InvtRefundDetail", "CEB216"),
    MessageType("CEB216", "理货明细单回执", "return tally receipt", "in", "InvtRefundDetailReturn"),
)
MESSAGE_TYPES: dict[str, MessageType] = {message.code: message for message in _TYPES}

STATUS_CODES: dict[str, tuple[str, str]] = {
    "1": ("电子口岸已暂存", "saved at E-Port"),
    "2": ("电子口岸申报中", "being declared"),
    "3": ("发送海关成功", "sent to customs"),
    "4": ("发送海关失败", "failed to send to customs"),
    "100": ("海关退单", "rejected by customs"),
    "120": ("海关入库", "accepted by customs"),
    "300": ("人工审核", "manual review"),
    "399": ("海关审结", "audit completed"),
    "500": ("查验", "inspection"),
    "501": ("扣留移送通关", "detained, passed to clearance"),
    "502": ("扣留移送缉私", "detained, passed to anti-smuggling"),
    "503": ("扣留移送法规", "detained, passed to legal affairs"),
    "505": ("移交", "handed over"),
    "599": ("其他扣留", "other detention"),
    "600": ("挂起", "suspended"),
    "700": ("退运", "returned"),
    "800": ("放行", "released"),
    "899": ("结关", "closed"),
}
ERROR_LABEL = ("处理异常", "processing error")


def status_text(code: str | None) -> tuple[str, str] | None:
    """(Chinese, English) meaning of a receipt status; negative codes are processing errors."""
    if code is None:
        return None
    code = code.strip()
    if code in STATUS_CODES:
        return STATUS_CODES[code]
    if code.startswith("-") and code[1:].isdigit():
        return ERROR_LABEL
    return None


def status_label(code: str | None) -> str | None:
    """``"放行 / released"`` for ``"800"``; None when the code is unknown (e.g. a CEB792 decState)."""
    text = status_text(code)
    return f"{text[0]} / {text[1]}" if text else None


def is_error(code: str | None) -> bool:
    return status_text(code) == ERROR_LABEL
