"""The tracking-event file layout: one event per row, the columns below, Chinese or English headers.

| key | English header | Chinese header | value |
|---|---|---|---|
| event_id | Event ID | 事件编号 | UUID, required; the same id again is a duplicate |
| retracts_event_id | Retracts event ID | 撤回事件编号 | UUID of the event this row corrects |
| shipment_number | Shipment number | 头程运单号 | or leave it empty and give a B/L, air waybill or container |
| event_created_at | Created at | 事件创建时间 | ISO 8601 with offset, ``2026-11-05T08:00:00+08:00`` |
| event_time | Event time | 事件时间 | ISO 8601 with offset |
| classifier | Classifier | 类别 | ACT / EST / PLN |
| event_type | Event type | 事件类型 | TRANSPORT / EQUIPMENT / SHIPMENT |
| event_code | Event code | 事件代码 | DCSA code or UN/ECE Rec. 24 number |
| mode | Mode | 运输方式 | sea, air, rail, road, express |
| location | Location | 地点 | UN/LOCODE |
| container_no | Container | 集装箱号 | ISO 6346 |
| bl_no / awb_no | B/L / Air waybill | 提单号 / 空运单号 | |
| vessel_name / voyage_no / flight_no | Vessel / Voyage / Flight | 船名 / 航次 / 航班号 | |
| remark | Remark | 备注 | |

CSV in UTF-8 (with or without BOM) or GB18030, comma- or tab-separated, or .xlsx (first sheet). The key itself
is also accepted as a header. Nothing is applied when any row is wrong.
"""

from __future__ import annotations

from tradeloop.kit.tables import FileRejected, Table, header_keys, read_table

COLUMNS: list[tuple[str, str, str]] = [
    ("event_id", "Event ID", "事件编号"),
    ("retracts_event_id", "Retracts event ID", "撤回事件编号"),
    ("shipment_number", "Shipment number", "头程运单号"),
    ("event_created_at", "Created at", "事件创建时间"),
    ("event_time", "Event time", "事件时间"),
    ("classifier", "Classifier", "类别"),
    ("event_type", "Event type", "事件类型"),
    ("event_code", "Event code", "事件代码"),
    ("mode", "Mode", "运输方式"),
    ("location", "Location", "地点"),
    ("container_no", "Container", "集装箱号"),
    ("bl_no", "B/L", "提单号"),
    ("awb_no", "Air waybill", "空运单号"),
    ("vessel_name", "Vessel", "船名"),
    ("voyage_no", "Voyage", "航次"),
    ("flight_no", "Flight", "航班号"),
    ("remark", "Remark", "备注"),
]
header_key = header_keys(COLUMNS)

__all__ = ["COLUMNS", "FileRejected", "read_events"]


def read_events(filename: str, data: bytes) -> Table:
    return read_table(filename, data, header_key)
