"""Reading an order file as a stream of records, never the whole file at once.

Text files (CSV, TSV) are checked for their encoding first in one pass over the bytes — UTF-8 with a BOM,
UTF-8, else GB18030, as ``kit.tables.decode`` decides for small files — then read record by record; each
record carries the number of the line it starts on (quoted cells may span lines, e.g. Shopify addresses).
Excel files (.xlsx) are read with openpyxl in read-only mode, row by row. Progress is the bytes read of a
text file, or the rows read of a workbook.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from itertools import chain
from pathlib import Path

from tradeloop.kit.tables import FileRejected
from tradeloop.sales.importers.values import FatalFile, Issue

CHUNK = 1 << 20
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: A cell longer than this is not an order file's cell (csv's default limit is 128 KiB).
csv.field_size_limit(1 << 22)


def _valid(path: Path, encoding: str, skip: int = 0) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as fh:
        fh.seek(skip)
        try:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def detect_encoding(path: Path) -> str:
    """``utf-8-sig``, ``utf-8`` or ``gb18030``; FileRejected when the bytes are neither."""
    with path.open("rb") as fh:
        head = fh.read(3)
    if head == codecs.BOM_UTF8:
        if _valid(path, "utf-8", 3):
            return "utf-8-sig"
    elif _valid(path, "utf-8"):
        return "utf-8"
    if _valid(path, "gb18030"):
        return "gb18030"
    raise FileRejected("the file is neither UTF-8 nor GB18030 text", "文件既不是UTF-8也不是GB18030编码的文本")


class _Counting(io.RawIOBase):
    """A binary file that counts the bytes handed to the text decoder (the progress of the read)."""

    def __init__(self, fh):
        self.fh = fh
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(buffer)
        self.count += n or 0
        return n

    def close(self) -> None:
        self.fh.close()
        super().close()


def _xlsx_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # Excel keeps numbers as doubles: 12.99 is the shortest text that reads back as the same double.
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    return str(value).strip()


@dataclass
class Source:
    """A file being read: ``records()`` yields (line number, cells); ``done``/``total`` measure progress."""

    path: Path
    kind: str  # "text" or "xlsx"
    encoding: str | None
    delimiter: str | None
    total: int
    unit: str
    _counter: _Counting | None = None
    _rows: int = 0

    @property
    def done(self) -> int:
        if self.kind == "text":
            return self._counter.count if self._counter else 0
        return self._rows

    def records(self) -> Iterator[tuple[int, list[str]]]:
        if self.kind == "xlsx":
            yield from self._xlsx_records()
            return
        raw = _Counting(self.path.open("rb"))
        self._counter = raw
        text = io.TextIOWrapper(io.BufferedReader(raw, CHUNK), encoding=self.encoding, newline="")
        try:
            delimiter = self.delimiter
            if delimiter is None:
                first = text.readline()
                delimiter = sniff_delimiter(first)
                lines = chain((first,), text)
            else:
                lines = text
            nul = [False]

            def checked(lines):
                for line in lines:
                    if "\x00" in line:
                        nul[0] = True
                    yield line

            reader = csv.reader(checked(lines), delimiter=delimiter)
            previous = 0
            try:
                for cells in reader:
                    start = previous + 1
                    previous = reader.line_num
                    if nul[0]:  # a NUL byte: the file is binary or damaged (PostgreSQL cannot store it either)
                        column = next((i for i, c in enumerate(cells, start=1) if "\x00" in c), 0)
                        raise FatalFile(Issue(start, f"column {column}" if column else "", "",
                                              "contains a NUL byte: the file is binary or damaged",
                                              "含有NUL字节：文件为二进制或已损坏"))
                    yield start, cells
            except csv.Error as exc:
                raise FatalFile(Issue(previous + 1, "", "", f"the file is not valid CSV: {exc}",
                                      f"文件不是有效的CSV：{exc}")) from None
        finally:
            text.close()

    def _xlsx_records(self) -> Iterator[tuple[int, list[str]]]:
        from openpyxl import load_workbook

        fh = self.path.open("rb")  # a file object: openpyxl checks the name's extension of a path, not of this
        try:
            try:
                wb = load_workbook(fh, read_only=True, data_only=True)
            except Exception:  # noqa: BLE001 - any unreadable workbook is the same refusal
                raise FatalFile(Issue(1, "", self.path.name, "the .xlsx file cannot be read",
                                      "无法读取该 .xlsx 文件")) from None
            try:
                ws = wb.worksheets[0]
                if ws.max_row:
                    self.total = ws.max_row
                for number, values in enumerate(ws.iter_rows(values_only=True), start=ws.min_row or 1):
                    self._rows = number
                    yield number, [_xlsx_cell(v) for v in values]
            finally:
                wb.close()
        finally:
            fh.close()


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def open_source(path: Path, *, delimiter: str | None = None) -> Source:
    """Open ``path`` for reading; FatalFile when it is empty, an old .xls, or not UTF-8/GB18030 text."""
    size = os.path.getsize(path)
    if size == 0:
        raise FatalFile(Issue(1, "", path.name, "the file is empty", "文件为空"))
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(XLSX_MAGIC):
        return Source(path, "xlsx", None, None, 0, "rows")
    if head.startswith(OLE_MAGIC):
        raise FatalFile(Issue(1, "", path.name, "old .xls files are not read: save as .xlsx or CSV",
                              "不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV"))
    try:
        encoding = detect_encoding(path)
    except FileRejected as exc:
        raise FatalFile(Issue(1, "", path.name, exc.en, exc.zh)) from None
    return Source(path, "text", encoding, delimiter, size, "bytes")
