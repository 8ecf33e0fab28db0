"""Generic writer of export messages: nested dicts in, schema-valid XML out.

Children are written in the order of the schema's ``xs:sequence`` whatever the dict order; the result
is validated against the official XSD before it is returned, so an invalid message is never emitted.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING

from lxml import etree

from tradeloop.customs.ceb import schema
from tradeloop.customs.ceb.schema import CEB, Child, Facets, SchemaError

if TYPE_CHECKING:
    from tradeloop.customs.ceb.signing import Signer

DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "  "


class CebInvalid(ValueError):
    """The message would not be valid; each error names the element path."""

    def __init__(self, errors: list[SchemaError]):
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


def build(
    message_type: str,
    entities: list[dict],
    *,
    transfer: dict | None,
    guid: str | None = None,
    signer: Signer | None = None,
    subscribe: list[dict] | None = None,
) -> bytes:
    """The UTF-8 XML of ``message_type`` (e.g. "CEB303") holding ``entities``, signed when ``signer``."""
    root_name = f"{message_type}Message"
    if root_name not in schema.complex_types():
        raise ValueError(f"unknown message type {message_type!r}")
    root = etree.Element(f"{{{CEB}}}{root_name}", nsmap={"ceb": CEB})
    root.set("guid", guid or str(uuid.uuid4()).upper())
    root.set("version", "1.0")
    content = {**_entities(message_type, entities), "BaseTransfer": transfer, "BaseSubscribe": subscribe}
    errors: list[SchemaError] = []
    _fill(root, root_name, content, root_name, errors)
    if errors:
        raise CebInvalid(errors)
    etree.indent(root, space=INDENT)
    if signer is not None:
        signer.sign(root)
    data = DECLARATION + etree.tostring(root, encoding="UTF-8")
    errors = schema.validate(data)
    if errors:
        raise CebInvalid(errors)
    return data


def _entities(message_type: str, entities: list[dict]) -> dict[str, list[dict]]:
    """``[{"Order": {...}}, …]`` → ``{"Order": [{...}, …]}``, checking every entity has the one right name."""
    name = schema.children(f"{message_type}Message")[0].name
    for entity in entities:
        if set(entity) != {name}:
            raise ValueError(f"{message_type} entities are {{{name!r}: {{...}}}}, got keys {sorted(entity)}")
    return {name: [entity[name] for entity in entities]}


def _fill(parent: etree._Element, type_name: str, content: dict, path: str, errors: list[SchemaError]) -> None:
    """Append ``content`` to ``parent`` in schema order, collecting errors rather than stopping at one."""
    sequence = schema.children(type_name)
    known = {child.name for child in sequence}
    unknown = [key for key, value in content.items() if key not in known and value is not None]
    errors.extend(_error(f"{path}/{key}", "not an element of the schema here") for key in unknown)
    for child in sequence:
        values = _as_list(content.get(child.name))
        _check_occurs(child, len(values), f"{path}/{child.name}", errors)
        for number, value in enumerate(values, start=1):
            child_path = f"{path}/{child.name}" + (f"[{number}]" if child.max_occurs != 1 else "")
            element = etree.SubElement(parent, f"{{{child.namespace}}}{child.name}")
            if child.complex:
                _fill_complex(element, child, value, child_path, errors)
            else:
                _set_text(element, value, child.facets, child_path, errors)


def _fill_complex(element, child: Child, value, path: str, errors: list[SchemaError]) -> None:
    if isinstance(value, dict):
        _fill(element, child.name, value, path, errors)
    else:
        errors.append(_error(path, f"expected a dict of fields, got {type(value).__name__}"))


def _as_list(value) -> list:
    if value is None:
        return []
    values = value if isinstance(value, list | tuple) else [value]
    return [item for item in values if item is not None]


def _check_occurs(child: Child, count: int, path: str, errors: list[SchemaError]) -> None:
    if count < child.min_occurs:
        errors.append(_error(path, "required element is missing"))
    elif child.max_occurs is not None and count > child.max_occurs:
        errors.append(_error(path, f"{count} occurrences, at most {child.max_occurs} allowed"))


def _set_text(element, value, facets: Facets, path: str, errors: list[SchemaError]) -> None:
    try:
        element.text = text(value, facets)
    except ValueError as exc:
        errors.append(_error(path, str(exc)))


def text(value: str | int | Decimal, facets: Facets) -> str:
    """The XML text of a field value; ValueError when it cannot be written exactly."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"{type(value).__name__} is not accepted; use str, int or Decimal")
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return _decimal_text(value, facets)


def _decimal_text(value: Decimal, facets: Facets) -> str:
    if not value.is_finite():
        raise ValueError(f"{value} is not a number")
    allowed = facets.fraction_digits if facets.base == "decimal" else 0
    if allowed is not None and -value.as_tuple().exponent > allowed:
        value = value.normalize()  # drop trailing zeros, never digits that carry value
        if -value.as_tuple().exponent > allowed:
            raise ValueError(f"{value} has more than {allowed} fraction digits")
    return format(value, "f")


def _error(path: str, message: str) -> SchemaError:
    return SchemaError(line=0, message=message, path=path)
