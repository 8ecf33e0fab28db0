"""The catalogue's file layout: one row per product, columns below, Chinese or English headers.

| key | English header | Chinese header | value |
|---|---|---|---|
| sku | SKU | SKU | required; the upsert key |
| name_zh | Name (Chinese) | 中文名称 | required |
| name_en | Name (English) | 英文名称 | |
| declared_name | Declared name | 申报品名 | required |
| declared_elements | Declared elements | 申报要素 | e.g. ``0|0|丝|围巾|无品牌`` |
| hs_code | HS code | HS编码 | 10 digits, in the HS reference |
| customs_unit | Customs unit | 申报计量单位 | 3-digit customs unit code (035 千克, 011 件) |
| unit1 / unit1_factor | Legal unit 1 / Unit 1 factor | 法定第一计量单位 / 第一单位换算系数 | unit1 per customs unit |
| unit2 / unit2_factor | Legal unit 2 / Unit 2 factor | 法定第二计量单位 / 第二单位换算系数 | |
| gross_weight_kg / net_weight_kg | Gross weight (kg) / Net weight (kg) | 毛重(千克) / 净重(千克) | net ≤ gross |
| origin_country | Origin country | 原产国(地区) | 3-digit customs code (142 China) |
| brand | Brand | 品牌 | |
| gtin | GTIN | GTIN条码 | 8, 12, 13 or 14 digits with a valid check digit |
| cost / cost_currency | Purchase cost / Cost currency | 采购成本 / 成本币种 | ``12.50`` and ISO 4217 ``CNY`` |
| active | Active | 启用 | 1/0, yes/no, 是/否; empty = unchanged (new: active) |

The key itself is also accepted as a header. A column left out of the file leaves that field as it is;
an empty cell clears an optional field. Files: CSV in UTF-8 (with or without BOM) or GB18030 (detected),
or .xlsx (first sheet). Exports write the same columns, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

COLUMNS: list[tuple[str, str, str]] = [
    ("sku", "SKU", "SKU"),
    ("name_zh", "Name (Chinese)", "中文名称"),
    ("name_en", "Name (English)", "英文名称"),
    ("declared_name", "Declared name", "申报品名"),
    ("declared_elements", "Declared elements", "申报要素"),
    ("hs_code", "HS code", "HS编码"),
    ("customs_unit", "Customs unit", "申报计量单位"),
    ("unit1", "Legal unit 1", "法定第一计量单位"),
    ("unit1_factor", "Unit 1 factor", "第一单位换算系数"),
    ("unit2", "Legal unit 2", "法定第二计量单位"),
    ("unit2_factor", "Unit 2 factor", "第二单位换算系数"),
    ("gross_weight_kg", "Gross weight (kg)", "毛重(千克)"),
    ("net_weight_kg", "Net weight (kg)", "净重(千克)"),
    ("origin_country", "Origin country", "原产国(地区)"),
    ("brand", "Brand", "品牌"),
    ("gtin", "GTIN", "GTIN条码"),
    ("cost", "Purchase cost", "采购成本"),
    ("cost_currency", "Cost currency", "成本币种"),
    ("active", "Active", "启用"),
]
KEYS = [c[0] for c in COLUMNS]
_BY_HEADER = {h.strip().lower(): key for key, en, zh in COLUMNS for h in (key, en, zh)}
#: Full-width brackets are common in Chinese spreadsheets.
_WIDTH = str.maketrans("（）", "()")


class FileRejected(ValueError):
    def __init__(self, en: str, zh: str):
        super().__init__(en)
        self.en, self.zh = en, zh


@dataclass
class Table:
    encoding: str | None  # None for .xlsx
    columns: dict[str, str]  # key -> header as written in the file
    unknown: list[tuple[int, str]]  # (column number, header) not in the layout
    rows: list[tuple[int, dict[str, str]]]  # (row number in the file, key -> cell text)


def header_key(header: str) -> str | None:
    return _BY_HEADER.get(header.translate(_WIDTH).strip().lower())


def decode(data: bytes) -> tuple[str, str]:
    """UTF-8 with BOM, UTF-8, else GB18030 (which decodes any GBK/GB2312 file too)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise FileRejected("the file is neither UTF-8 nor GB18030 text",
                           "文件既不是UTF-8也不是GB18030编码的文本") from None


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # Excel keeps numbers as doubles: 4006381333931.0 is a GTIN typed as a number, 0.1 is 0.1.
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _table(records, encoding) -> Table:
    it = iter(records)
    try:
        header = next(it)
    except StopIteration:
        raise FileRejected("the file is empty", "文件为空") from None
    columns: dict[str, str] = {}
    positions: dict[int, str] = {}
    unknown: list[tuple[int, str]] = []
    for i, raw in enumerate(header):
        text = _cell(raw)
        if not text:
            continue
        key = header_key(text)
        if key is None or key in columns:
            unknown.append((i + 1, text))
            continue
        columns[key] = text
        positions[i] = key
    rows = []
    for number, record in enumerate(it, start=2):
        values = [_cell(v) for v in record]
        if not any(values):
            continue  # blank lines carry nothing
        rows.append((number, {key: (values[i] if i < len(values) else "") for i, key in positions.items()}))
    if not columns:
        raise FileRejected("no known column headers in the first row", "首行没有可识别的列标题")
    return Table(encoding, columns, unknown, rows)


def read_table(filename: str, data: bytes) -> Table:
    if not data:
        raise FileRejected("the file is empty", "文件为空")
    if data[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook is the same refusal
            raise FileRejected("the .xlsx file cannot be read", "无法读取该 .xlsx 文件") from None
        try:
            return _table(wb.worksheets[0].iter_rows(values_only=True), None)
        finally:
            wb.close()
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileRejected("old .xls files are not read: save as .xlsx or CSV",
                           "不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV")
    text, encoding = decode(data)
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    return _table(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), encoding)


def headers(zh: bool) -> list[str]:
    return [zh_h if zh else en for _key, en, zh_h in COLUMNS]


def text(v) -> str:
    """A stored value as the text a person types: exact decimals without trailing zeros."""
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    return str(v)


def export_row(product, cost: Decimal | None) -> list[str]:
    """Every value as text (exact decimals, codes with leading zeros, GTIN not turned into a number)."""
    values = {k: getattr(product, k, None) for k in KEYS}
    values["cost"] = cost
    values["active"] = "1" if product.active else "0"
    return [text(values[k]) for k in KEYS]


def to_csv(header: list[str], rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
