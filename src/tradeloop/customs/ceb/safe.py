"""Parsing of untrusted XML: customs messages arrive from outside, so nothing in them is resolved.

Customs messages never carry a DOCTYPE, so any document with one is refused before lxml sees it; that
alone shuts out entity bombs ("billion laughs") and external entities. The parser is locked down as
well (no entities, no DTD, no network, no huge trees) in case a DOCTYPE slips past the byte check,
for instance in a UTF-16 document, and the parsed tree is checked again for a DTD.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

MAX_BYTES = 20 * 1024 * 1024
KINDS = frozenset({"malformed", "unsafe", "unknown_root", "too_large"})

_BOM = b"\xef\xbb\xbf"
# XML declaration, comments, processing instructions and white space may precede a DOCTYPE.
_DOCTYPE_IN_PROLOG = re.compile(rb"\A(?:\s|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL)
_POSITION_SUFFIX = re.compile(r", line \d+, column \d+$")  # lxml repeats the position in its message


class CebRefused(ValueError):
    """A message that is not read at all; ``kind`` is one of :data:`KINDS`."""

    def __init__(self, kind: str, message: str):
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind = kind
        self.message = message


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse(data: bytes, *, source: str = "<bytes>") -> etree._Element:
    """Parse ``data`` safely and return the root element, or raise :class:`CebRefused`."""
    if len(data) > MAX_BYTES:
        raise CebRefused("too_large", f"{source}: {len(data)} bytes, more than the limit of {MAX_BYTES}")
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if _DOCTYPE_IN_PROLOG.match(data):
        raise CebRefused("unsafe", f"{source}: document has a DOCTYPE, which customs messages never have")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise CebRefused("malformed", f"{source}: {_describe(exc)}") from exc
    if root is None:
        raise CebRefused("malformed", f"{source}: no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise CebRefused("unsafe", f"{source}: document has a DOCTYPE, which customs messages never have")
    return root


def load(path: Path) -> bytes:
    """Read a file, refusing one above the size limit without reading it. OSError passes through."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise CebRefused("too_large", f"{path}: {size} bytes, more than the limit of {MAX_BYTES}")
    return path.read_bytes()


def _describe(exc: etree.XMLSyntaxError) -> str:
    line, column = exc.position if exc.position else (exc.lineno, None)
    where = f"line {line}, column {column}" if column else f"line {line}"
    return f"malformed XML at {where}: {_POSITION_SUFFIX.sub('', exc.msg)}"
