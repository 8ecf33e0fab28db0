"""The official export schema (202205): validation, and the element model the writer follows.

The model is read from the XSD itself — child order, occurrences and facets — so no field order or
length is written down twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from lxml import etree

from tradeloop.customs.ceb.safe import parse

CEB = "http://www.chinaport.gov.cn/ceb"
DS = "http://www.w3.org/2000/09/xmldsig#"
XS = "http://www.w3.org/2001/XMLSchema"
_PREFIXES = {CEB: "ceb", DS: "ds"}
_FACETS = {"length": "length", "minLength": "min_length", "maxLength": "max_length", "totalDigits": "total_digits",
           "fractionDigits": "fraction_digits"}


@dataclass(frozen=True)
class SchemaError:
    line: int
    message: str
    path: str = ""

    def __str__(self) -> str:
        """"line N: message (at path)" for schema errors, "path: message" for the writer's own checks."""
        if not self.line:
            return f"{self.path}: {self.message}"
        where = f" (at {self.path})" if self.path else ""
        return f"line {self.line}: {self.message}{where}"


@dataclass(frozen=True)
class Facets:
    """Restriction of a simple element: ``base`` is the XSD type without prefix (string, decimal, int)."""

    base: str
    length: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    total_digits: int | None = None
    fraction_digits: int | None = None


@dataclass(frozen=True)
class Child:
    """One element of a complex type's ``xs:sequence``; ``max_occurs`` None means unbounded."""

    name: str
    namespace: str
    min_occurs: int
    max_occurs: int | None
    facets: Facets | None  # None for complex children (references to global elements)

    @property
    def complex(self) -> bool:
        return self.facets is None


@lru_cache(maxsize=1)
def _export_xsd() -> etree._ElementTree:
    """The vendored XSD, parsed from its file so that its relative import of xmldsig resolves."""
    xsd = resources.files("tradeloop.customs.ceb") / "xsd" / "ceb-export-202205.xsd"
    with resources.as_file(xsd) as path:
        return etree.parse(str(path), etree.XMLParser(no_network=True, resolve_entities=False))


@lru_cache(maxsize=1)
def xml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(_export_xsd())


@lru_cache(maxsize=1)
def complex_types() -> dict[str, tuple[Child, ...]]:
    """Sequence of every global complex element of the export schema, by local name."""
    root = _export_xsd().getroot()
    sequence = f"{{{XS}}}complexType/{{{XS}}}sequence"
    return {
        element.get("name"): tuple(_child(item) for item in element.iterfind(f"{sequence}/{{{XS}}}element"))
        for element in root.iterfind(f"{{{XS}}}element")
        if element.find(sequence) is not None
    }


def children(name: str) -> tuple[Child, ...]:
    """Sequence of the complex element ``name`` (e.g. "OrderHead", "CEB303Message"); KeyError if none."""
    return complex_types()[name]


def _child(item: etree._Element) -> Child:
    max_occurs = item.get("maxOccurs", "1")
    common = {
        "min_occurs": int(item.get("minOccurs", "1")),
        "max_occurs": None if max_occurs == "unbounded" else int(max_occurs),
    }
    ref = item.get("ref")
    if ref:
        prefix, _, local = ref.rpartition(":")
        return Child(name=local, namespace=item.nsmap[prefix or None], facets=None, **common)
    return Child(name=item.get("name"), namespace=CEB, facets=_facets(item), **common)


def _facets(item: etree._Element) -> Facets:
    restriction = item.find(f"{{{XS}}}simpleType/{{{XS}}}restriction")
    if restriction is None:  # typed by reference (e.g. ExtendMessage/Message): no facets to apply
        return Facets(base=(item.get("type") or "anyType").rpartition(":")[2])
    values = {
        field: int(facet.get("value"))
        for xsd_name, field in _FACETS.items()
        if (facet := restriction.find(f"{{{XS}}}{xsd_name}")) is not None
    }
    return Facets(base=restriction.get("base").rpartition(":")[2], **values)


def validate(document: bytes | etree._Element) -> list[SchemaError]:
    """Errors of ``document`` against the export schema; empty when valid. Bytes are parsed safely."""
    if isinstance(document, bytes):
        document = parse(document)
    schema = xml_schema()
    if schema.validate(document):
        return []
    log = schema.error_log
    return [SchemaError(line=entry.line, message=readable(entry.message), path=entry.path) for entry in log]


def readable(message: str) -> str:
    """Schema messages with ``{namespace}`` replaced by the usual prefixes."""
    for namespace, prefix in _PREFIXES.items():
        message = message.replace(f"{{{namespace}}}", f"{prefix}:")
    return message
