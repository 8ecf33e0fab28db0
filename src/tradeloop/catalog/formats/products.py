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

from decimal import Decimal

from tradeloop.kit.tables import FileRejected, Table, header_keys, to_csv
from tradeloop.kit.tables import read_table as read_columns

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
header_key = header_keys(COLUMNS)


def read_table(filename: str, data: bytes) -> Table:
    return read_columns(filename, data, header_key)


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


__all__ = ["FileRejected", "to_csv"]
