"""Reading tabular files users upload: CSV (UTF-8 with or without BOM, or GB18030; comma or tab) and
.xlsx (first sheet), with headers mapped to field keys by a layout; and the row-level error report every
import gives (row, column, value, reason) when it applies nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from tradeloop.kit.errors import FieldError, ValidationFailed

#: Full-width brackets are common in Chinese spreadsheets.
_WIDTH = str.maketrans("（）", "()")


def header_keys(columns: list[tuple[str, str, str]]) -> Callable[[str], str | None]:
    """A header → key function for a layout of (key, English header, Chinese header) columns; the key
    itself is accepted as a header too."""
    by_header = {h.strip().lower(): key for key, en, zh in columns for h in (key, en, zh)}
    return lambda header: by_header.get(header.translate(_WIDTH).strip().lower())


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


def _table(records, encoding, header_key) -> Table:
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


def read_table(filename: str, data: bytes, header_key: Callable[[str], str | None]) -> Table:
    if not data:
        raise FileRejected("the file is empty", "文件为空")
    if data[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # noqa: BLE001 - any unreadable workbook is the same refusal
            raise FileRejected("the .xlsx file cannot be read", "无法读取该 .xlsx 文件") from None
        try:
            return _table(wb.worksheets[0].iter_rows(values_only=True), None, header_key)
        finally:
            wb.close()
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileRejected("old .xls files are not read: save as .xlsx or CSV",
                           "不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV")
    text, encoding = decode(data)
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    return _table(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), encoding, header_key)




@dataclass
class RowError:
    row: int
    column: str
    value: str
    message_en: str
    message_zh: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message_en,
                "message_zh": self.message_zh}


class ImportRejected(ValidationFailed):
    """The file had errors; nothing was applied. ``row_errors`` is the report."""

    def __init__(self, row_errors: list[RowError], encoding: str | None = None):
        super().__init__(f"The file has {len(row_errors)} error(s); nothing was imported.",
                         errors=[FieldError(f"row {e.row}: {e.column}", e.message_en, e.message_zh)
                                 for e in row_errors[:50]],
                         message_zh=f"文件有{len(row_errors)}处错误，未导入任何数据",
                         row_errors=[e.as_dict() for e in row_errors])
        self.row_errors = row_errors
        self.encoding = encoding


def to_csv(header: list[str], rows) -> bytes:
    """CSV with a UTF-8 BOM (Excel opens it with the right encoding)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
