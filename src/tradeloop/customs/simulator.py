"""A customs simulator — NOT customs. It stands where E-Port and customs stand, for the demo and the tests.

It takes the files the platform dropped into the exchange outbox (as the data-exchange client would send
them) and drops into the inbox the receipts customs would send back, built with the same schema-checked
writer as everything else: order/payment/waybill receipts, the list sequence 2 申报中 → 3 发送海关成功 →
120 海关入库 → 399 海关审结 (→ 500 查验) → 800 放行 → 899 结关, cancellations (606), and for a summary
application the receipt (702, with a sumNo) and the summary result (792, with declSeqNo and an entryId).

What customs does is decided per message by ``decide`` (default: words in the note — ``SIM:REJECT``
rejects a first submission with 100 退单 and passes its correction (appType=2); ``SIM:INSPECT`` adds an
inspection 500 before release; ``SIM:HOLD`` stops after 399, as if the goods had not yet arrived).
Numbers it hands out (preNo, invtNo, sumNo, declSeqNo, entryId) follow the documented shapes (domain.md
§2.2) but are invented; its state lives in ``<exchange>/simulator/state.json``, apart from the platform.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from tradeloop.customs.ceb import reader, writer
from tradeloop.customs.gateway import ExchangeFolders, incoming, write_atomic
from tradeloop.customs.messages import BEIJING

log = logging.getLogger(__name__)

LIST_HAPPY = [("2", "新增申报成功"), ("3", "发送海关成功"), ("120", "海关入库"), ("399", "海关审结")]
LIST_AFTER = [("800", "放行"), ("899", "结关（已离境）")]
REJECT_INFO = "海关退单：申报品名与商品编码不符，请核对后变更申报"


def decide_from_note(message_type: str, fields: dict, app_type: str) -> str:
    note = fields.get("note") or ""
    if "SIM:REJECT" in note and app_type == "1":
        return "reject"
    if "SIM:INSPECT" in note:
        return "inspect"
    if "SIM:HOLD" in note:
        return "hold"
    return "pass"


class CustomsSimulator:
    def __init__(self, folders: ExchangeFolders, *, decide: Callable[[str, dict, str], str] = decide_from_note,
                 clock: Callable[[], datetime] | None = None):
        self.folders = folders.ensure()
        self.home = folders.root / "simulator"
        self.received = self.home / "received"
        self.received.mkdir(parents=True, exist_ok=True)
        self.state_path = self.home / "state.json"
        self.decide = decide
        self.clock = clock or (lambda: datetime.now(BEIJING))
        self.state = self._load()

    # --- state ----------------------------------------------------------------------------------

    def _load(self) -> dict:
        if self.state_path.exists():
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        return {"seq": 0, "last_ms": 0, "lists": {}, "summaries": {}}

    def _save(self) -> None:
        write_atomic(self.home, "state.json", json.dumps(self.state, ensure_ascii=False, indent=1).encode())

    def _next(self) -> int:
        self.state["seq"] += 1
        return self.state["seq"]

    def _time(self) -> str:
        """yyyyMMddHHmmssfff, strictly increasing across receipts (customs' own clock)."""
        now_ms = int(self.clock().timestamp() * 1000)
        ms = max(now_ms, self.state["last_ms"] + 1)
        self.state["last_ms"] = ms
        moment = datetime.fromtimestamp(ms / 1000, BEIJING)
        return moment.strftime("%Y%m%d%H%M%S") + f"{ms % 1000:03d}"

    def _number(self, prefix: str) -> str:
        return f"{prefix}{self.clock().strftime('%Y%m%d')}{self._next():09d}"

    # --- the loop -------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Answer every file waiting in the outbox; returns how many receipts were written."""
        written = 0
        for path in incoming(self.folders.outbox):
            data = path.read_bytes()
            os.replace(path, self.received / path.name)
            try:
                receipts = self.answer(data)
            except Exception:  # a file customs cannot read gets no business receipt
                log.exception("simulator could not answer %s", path.name)
                continue
            for message_type, entity in receipts:
                content = writer.build(message_type, [entity], transfer=None)
                guid = str(uuid.uuid4()).upper()
                write_atomic(self.folders.inbox, f"{message_type}Message_{guid}.xml", content)
                written += 1
            self._save()
        return written

    def answer(self, data: bytes) -> list[tuple[str, dict]]:
        msg = reader.read(data)
        handler = {"CEB303": self._order, "CEB403": self._payment, "CEB505": self._waybill,
                   "CEB603": self._list, "CEB605": self._cancel, "CEB607": self._bill,
                   "CEB701": self._summary}.get(msg.message_type)
        if handler is None:
            log.info("simulator does not answer %s", msg.message_type)
            return []
        out: list[tuple[str, dict]] = []
        for record in msg.records():
            out.extend(handler(record))
        return out

    def _say(self, message_type: str, entity: str, fields: dict, steps) -> list[tuple[str, dict]]:
        return [(message_type, {entity: {"guid": str(uuid.uuid4()).upper(), **fields, "returnStatus": code,
                                         "returnTime": self._time(), "returnInfo": info}}) for code, info in steps]

    def _outcome(self, message_type: str, record) -> str:
        return self.decide(message_type, record.fields, record.fields.get("appType") or "1")

    def _order(self, record) -> list:
        f = record.fields
        steps = [("2", "电子口岸申报中"), ("120", "海关入库")]
        if self._outcome("CEB303", record) == "reject":
            steps = [("2", "电子口岸申报中"), ("100", "海关退单：订单商品与清单不一致")]
        return self._say("CEB304", "OrderReturn", {"ebpCode": f["ebpCode"], "ebcCode": f["ebcCode"],
                                                   "orderNo": f["orderNo"]}, steps)

    def _payment(self, record) -> list:
        f = record.fields
        return self._say("CEB404", "ReceiptsReturn", {"ebcCode": f["ebcCode"], "orderNo": f["orderNo"],
                                                      "payNo": f.get("payNo")},
                         [("2", "电子口岸申报中"), ("120", "海关入库")])

    def _waybill(self, record) -> list:
        f = record.fields
        return self._say("CEB506", "LogisticsReturn", {"logisticsCode": f["logisticsCode"],
                                                       "logisticsNo": f["logisticsNo"]},
                         [("2", "电子口岸申报中"), ("120", "海关入库")])

    def _list(self, record) -> list:
        f = record.fields
        cop = f["copNo"]
        known = self.state["lists"].get(cop)
        if known is None:
            known = {"preNo": self._number("B"), "invtNo": f"{f['customsCode']}{self.clock().year}E"
                     f"{self._next():09d}"}
        known.update({"logisticsNo": f["logisticsNo"], "customsCode": f["customsCode"],
                      "grossWeight": f.get("grossWeight"), "netWeight": f.get("netWeight"),
                      "lines": [[line.get("gnum"), line.get("gcode")] for line in record.lines]})
        self.state["lists"][cop] = known
        keys = {"agentCode": f["agentCode"], "copNo": cop, "preNo": known["preNo"], "invtNo": known["invtNo"],
                "ebcCode": f["ebcCode"], "ebpCode": f["ebpCode"], "orderNo": f["orderNo"],
                "statisticsFlag": f["statisticsFlag"]}
        outcome = self._outcome("CEB603", record)
        if outcome == "reject":
            steps = [("2", "新增申报成功"), ("3", "发送海关成功"), ("100", REJECT_INFO)]
        elif outcome == "hold":
            steps = LIST_HAPPY
        elif outcome == "inspect":
            steps = [*LIST_HAPPY, ("500", "查验：布控查验"), *LIST_AFTER]
        else:
            steps = [*LIST_HAPPY, *LIST_AFTER]
        return self._say("CEB604", "InventoryReturn", keys, steps)

    def _cancel(self, record) -> list:
        f = record.fields
        known = self.state["lists"].get(f["copNo"], {})
        return self._say("CEB606", "InvtCancelReturn", {
            "agentCode": f["agentCode"], "copNo": f["copNo"], "preNo": known.get("preNo") or f.get("preNo")
            or self._number("B"), "invtNo": f["invtNo"]}, [("2", "电子口岸申报中"), ("399", "撤销审核通过")])

    def _bill(self, record) -> list:
        f = record.fields
        return self._say("CEB608", "WayBillReturn", {
            "agentCode": f["agentCode"], "logisticsCode": f["logisticsCode"], "copNo": f["copNo"],
            "preNo": self._number("B"), "billNo": f["billNo"], "msgSeqNo": f.get("msgSeqNo") or 1},
            [("2", "电子口岸申报中"), ("399", "海关审结")])

    def _summary(self, record) -> list:
        f = record.fields
        cop = f["copNo"]
        known = self.state["summaries"].get(cop) or {"preNo": self._number("B"), "sumNo": self._number("S")}
        self.state["summaries"][cop] = known
        out = self._say("CEB702", "SummaryReturn", {
            "agentCode": f["agentCode"], "ebcCode": f["ebcCode"], "copNo": cop, "preNo": known["preNo"],
            "sumNo": known["sumNo"], "msgSeqNo": 1}, [("2", "电子口岸申报中"), ("399", "汇总申请审核通过")])
        lists = {v["invtNo"]: v for v in self.state["lists"].values()}
        rows, gross, net, gseq = [], Decimal(0), Decimal(0), {}
        for line in record.lines:
            invt = lists.get(line.get("invtNo"))
            if invt is None:
                continue
            gross += Decimal(invt.get("grossWeight") or 0)
            net += Decimal(invt.get("netWeight") or 0)
            for gnum, gcode in invt["lines"]:
                gseq.setdefault(gcode, len(gseq) + 1)  # one declaration item per HS code
                rows.append({"invtNo": invt["invtNo"], "logisticsNo": invt["logisticsNo"],
                             "gseqno": gseq[gcode], "gnum": gnum, "gcode": gcode})
        known.setdefault("declSeqNo", self._number("D"))
        known.setdefault("entryId", f"{f['customsCode']}{self.clock().year}1{self._next():09d}")
        head = {"guid": str(uuid.uuid4()).upper(), "customsCode": f["customsCode"], "sumNo": known["sumNo"],
                "opDate": (self.clock() + timedelta(seconds=1)).strftime("%Y%m%d%H%M%S") + "000",
                "declSeqNo": known["declSeqNo"], "entryId": known["entryId"], "decState": "A",
                "agentCode": f["agentCode"], "agentName": f["agentName"], "ebcCode": f["ebcCode"],
                "ebcName": f["ebcName"], "declAgentCode": f["declAgentCode"], "declAgentName": f["declAgentName"],
                "grossWeight": gross, "netWeight": net, "msgCount": 1, "msgSeqNo": 1}
        out.append(("CEB792", {"SummaryResult": {"SummaryResultHead": head, "SummaryResultList": rows}}))
        return out
