"""What every importer shares: finding the header, mapping headers to fields by name (extra columns are
ignored, required ones checked, a file of another channel named as such), and the loop over data rows."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tradeloop.sales.importers.source import Source
from tradeloop.sales.importers.values import Context, FatalFile, Issue, Row, line_hash

#: Returned by ``parse`` when the rest of the file is not data (eBay's footer).
STOP = object()


def header_key(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\ufeff", "").strip().casefold())


#: Headers that only one channel's files have: a file of another layout is named in the refusal.
SIGNATURES = {
    "amazon": ({"amazon-order-id", "purchase-date"}, "an Amazon All Orders report", "亚马逊All Orders报告"),
    "shopify": ({"name", "lineitem quantity"}, "a Shopify orders export", "Shopify订单导出文件"),
    "ebay": ({"order number", "item number", "sold for"}, "an eBay Seller Hub orders report",
             "eBay Seller Hub订单报告"),
}


class Importer:
    channel = ""
    #: English and Chinese name of the layout, for messages.
    title = ("", "")
    #: The delimiter of text files; None sniffs it from the header line.
    delimiter: str | None = None
    #: field key -> accepted headers (the first is the one named in messages).
    COLUMNS: dict[str, tuple[str, ...]] = {}
    REQUIRED: tuple[str, ...] = ()

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.index: dict[str, int] = {}
        self.headers: dict[str, str] = {}
        self.width = 0

    def bind(self, number: int, cells: list[str]) -> None:
        """Map the header row; FatalFile when a required column is missing."""
        self.width = len(cells)
        position = {}
        for i, cell in enumerate(cells):
            position.setdefault(header_key(cell), i)
        for key, names in self.COLUMNS.items():
            for name in names:
                i = position.get(header_key(name))
                if i is not None:
                    self.index[key] = i
                    self.headers[key] = cells[i].replace("\ufeff", "").strip()
                    break
        missing = [k for k in self.REQUIRED if k not in self.index]
        if missing:
            raise FatalFile(self._missing(number, missing, set(position)))

    def _missing(self, number: int, missing: list[str], present: set[str]) -> list[Issue]:
        for channel, (signature, en, zh) in SIGNATURES.items():
            if channel != self.channel and signature <= present:
                return [Issue(number, "", "", f"this file looks like {en}, not {self.title[0]}: choose the channel "
                              f"{channel}", f"该文件看起来是{zh}，而不是{self.title[1]}，请选择渠道{channel}")]
        return [Issue(number, self.COLUMNS[k][0], "", f"the required column {self.COLUMNS[k][0]!r} of "
                      f"{self.title[0]} is missing", f"缺少{self.title[1]}的必需列“{self.COLUMNS[k][0]}”")
                for k in missing]

    def positions(self, keys: tuple[str, ...]) -> tuple[int, ...]:
        """Column positions of ``keys``; a column the file lacks reads the empty cell ``pad`` appends (-1)."""
        return tuple(self.index.get(k, -1) for k in keys)

    def pad(self, cells: list[str]) -> list[str]:
        """``cells`` as long as the header (short rows read as empty), plus one empty cell at the end."""
        missing = self.width - len(cells)
        if missing > 0:
            cells.extend([""] * missing)
        cells.append("")
        return cells

    def cell(self, cells: list[str], key: str) -> str:
        i = self.index.get(key)
        if i is None or i >= len(cells):
            return ""
        return cells[i]

    def column(self, key: str) -> str:
        return self.headers.get(key) or self.COLUMNS[key][0]

    def parse(self, number: int, cells: list[str]):
        """A data row -> the line's values (``values.LINE_FIELDS`` order), a Row with issues, None when the
        row is not an order line, or STOP."""
        raise NotImplementedError

    def parse_line(self, number: int, cells: list[str]):
        """``parse``, with the line's hash (``values.line_hash``) appended to its values. An importer may
        override it with a path that builds the hash text as it reads the row (Amazon's)."""
        out = self.parse(number, cells)
        if out.__class__ is tuple:
            return (*out, line_hash(out))
        return out


def _bound_records(source: Source, importer: Importer) -> Iterator[tuple[int, list[str]]]:
    """The records after the header row, which ``importer`` is bound to first."""
    records = source.records()
    for number, cells in records:
        if any(c.strip() for c in cells):
            importer.bind(number, cells)
            break
    else:
        raise FatalFile(Issue(1, "", source.path.name, "the file has no header row", "文件没有标题行"))
    return records


def parsed_rows(source: Source, importer: Importer) -> Iterator[tuple[int, tuple | Row]]:
    """(line number, values or Row with issues) for every data row of the file."""
    records = _bound_records(source, importer)
    parse = importer.parse
    for number, cells in records:
        if not any(cells):
            continue  # blank lines and rows of empty cells carry nothing
        out = parse(number, cells)
        if out is None:
            continue
        if out is STOP:
            break
        yield number, out


def hashed_rows(source: Source, importer: Importer) -> Iterator[tuple[int, tuple | Row]]:
    """``parsed_rows`` with each line's hash appended to its values (``Importer.parse_line``): the import's loop."""
    records = _bound_records(source, importer)
    parse = importer.parse_line
    for number, cells in records:
        if not any(cells):
            continue  # blank lines and rows of empty cells carry nothing
        out = parse(number, cells)
        if out is None:
            continue
        if out is STOP:
            break
        yield number, out
