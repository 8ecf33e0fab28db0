"""Tolerant reader of export messages and receipts (202205 edition), plain or in a DxpMsg envelope.

Tolerant of what the official samples themselves get wrong — a repeated BaseTransfer, elements out of
order, the CEB214 root written ``ceb:CEB214`` — while saying exactly what deviated from the schema.
Anything that is not a customs export message at all is refused.
"""

from __future__ import annotations

import base64
import copy
import re
from dataclasses import dataclass, field

from lxml import etree

from tradeloop.customs.ceb import schema
from tradeloop.customs.ceb.catalogue import MESSAGE_TYPES
from tradeloop.customs.ceb.safe import CebRefused, parse
from tradeloop.customs.ceb.schema import CEB, DS

DXP = "http://www.chinaport.gov.cn/dxp"
KEY_FIELDS = (
    "copNo", "preNo", "invtNo", "orderNo", "logisticsNo", "sumNo", "declSeqNo", "entryId", "billNo", "payNo",
    "ebcCode", "ebpCode", "agentCode", "logisticsCode", "guid",
)  # fmt: skip
#: CEB213–216 call the enterprise's own number ``coElNo``; records report it as ``copNo``.
KEY_ALIASES = {"copNo": "coElNo"}
_ROOT_NAME = re.compile(r"(CEB\d{3})(Message)?")
_NOT_ENTITIES = frozenset({"BaseTransfer", "BaseSubscribe", "ExtendMessage"})


@dataclass
class Entity:
    """An element of the message: leaf children as ``fields``, element children grouped by name."""

    name: str
    fields: dict[str, str]
    children: dict[str, list[Entity]] = field(default_factory=dict)


@dataclass
class Record:
    """One business document flattened: its head merged with its own fields, list rows as ``lines``."""

    name: str
    fields: dict[str, str]
    keys: dict[str, str]
    status: str | None
    note: str | None
    time: str | None
    lines: list[dict[str, str]]


@dataclass
class CebMessage:
    """A message as read; ``raw`` is the business XML (the Base64 ``Data`` when it came in a DxpMsg)."""

    message_type: str
    guid: str
    version: str
    entities: list[Entity]
    transfer: dict[str, str] | None
    signed: bool
    deviations: list[str]
    raw: bytes

    def records(self) -> list[Record]:
        return [_record(entity) for entity in self.entities]


def read(data: bytes, *, source: str = "<bytes>") -> CebMessage:
    """Read a message; raise :class:`CebRefused` when it is unsafe, malformed or not an export message."""
    data, root, message_type = _business(data, source)
    entities, transfer, signed = _content(root)
    return CebMessage(
        message_type=message_type,
        guid=root.get("guid", ""),
        version=root.get("version", ""),
        entities=entities,
        transfer=transfer,
        signed=signed,
        deviations=deviations(root, message_type),
        raw=data,
    )


def parse_message(data: bytes, *, source: str = "<bytes>") -> etree._Element:
    """The root of the business message in ``data`` (taken out of a DxpMsg envelope), not yet validated."""
    return _business(data, source)[1]


def message_type_of(root: etree._Element, *, source: str = "<bytes>") -> str:
    """"CEB604" for a ``ceb:CEB604Message`` root (or the sample's ``ceb:CEB214``); else unknown_root."""
    name = etree.QName(root)
    match = _ROOT_NAME.fullmatch(name.localname)
    if name.namespace != CEB or match is None or match[1] not in MESSAGE_TYPES:
        raise CebRefused("unknown_root", f"{source}: root element {name.text} is not an export message (202205)")
    return match[1]


def _business(data: bytes, source: str) -> tuple[bytes, etree._Element, str]:
    """(business XML, its root, its message type), unwrapping one DxpMsg envelope."""
    root = parse(data, source=source)
    if etree.QName(root).namespace == DXP:
        data, source = _unwrap(root, source), f"{source} (DxpMsg Data)"
        root = parse(data, source=source)
    return data, root, message_type_of(root, source=source)


def deviations(root: etree._Element, message_type: str) -> list[str]:
    """Schema errors as "line N: message"; a misnamed root is reported, then its content is checked."""
    expected = f"{message_type}Message"
    found = etree.QName(root).localname
    if found == expected:
        return [f"line {error.line}: {error.message}" for error in schema.validate(root)]
    renamed = copy.deepcopy(root)
    renamed.tag = f"{{{CEB}}}{expected}"
    head = f"line {root.sourceline}: root element ceb:{found} is not declared in the schema; expected ceb:{expected}"
    return [head, *deviations(renamed, message_type)]


def _unwrap(envelope: etree._Element, source: str) -> bytes:
    name = etree.QName(envelope).localname
    if name == "DxpMsgSv":  # the transfer-node layer around the terminal-node one
        envelope = envelope.find(f"{{{DXP}}}DxpMsg")
    elif name != "DxpMsg":
        raise CebRefused("unknown_root", f"{source}: dxp:{name} is not a DxpMsg envelope with a message")
    data = None if envelope is None else envelope.find(f"{{{DXP}}}Data")
    if data is None or not (data.text or "").strip():
        raise CebRefused("malformed", f"{source}: DxpMsg envelope without Data")
    try:
        return base64.b64decode("".join(data.text.split()), validate=True)
    except ValueError as exc:  # binascii.Error
        raise CebRefused("malformed", f"{source}: line {data.sourceline}: DxpMsg Data is not Base64") from exc


def _content(root: etree._Element) -> tuple[list[Entity], dict[str, str] | None, bool]:
    entities, transfer, signed = [], None, False
    for child in root.iterchildren(tag=etree.Element):
        name = etree.QName(child)
        if name.namespace == DS and name.localname == "Signature":
            signed = True
        elif name.localname == "BaseTransfer":
            transfer = transfer or _entity(child).fields
        elif name.localname not in _NOT_ENTITIES:
            entities.append(_entity(child))
    return entities, transfer, signed


def _entity(element: etree._Element) -> Entity:
    entity = Entity(etree.QName(element).localname, {}, {})
    for child in element.iterchildren(tag=etree.Element):
        name = etree.QName(child).localname
        if len(child) or name in schema.complex_types():
            entity.children.setdefault(name, []).append(_entity(child))
        else:
            entity.fields[name] = (child.text or "").strip()
    return entity


def _record(entity: Entity) -> Record:
    fields = dict(entity.fields)
    lines = []
    for name, group in entity.children.items():
        for child in group:
            if name.endswith("Head"):
                fields.update(child.fields)
            else:
                lines.append(child.fields)
    return Record(
        name=entity.name,
        fields=fields,
        keys=_keys(fields),
        status=_first(fields, "returnStatus", "decState"),
        note=_first(fields, "returnInfo", "note"),
        time=_first(fields, "returnTime", "opDate"),
        lines=lines,
    )


def _keys(fields: dict[str, str]) -> dict[str, str]:
    keys = {}
    for key in KEY_FIELDS:
        value = _first(fields, key, KEY_ALIASES.get(key, key))
        if value:
            keys[key] = value
    return keys


def _first(fields: dict[str, str], *names: str) -> str | None:
    return next((fields[name] for name in names if fields.get(name)), None)
