"""Customs cross-border e-commerce export messages, 202205 edition (CEB XML): pure, no database.

``writer.build`` makes schema-valid messages, ``reader.read`` reads messages and receipts tolerantly,
``signing`` signs and verifies them, ``safe.parse`` refuses hostile XML, ``schema`` is the official XSD.
"""

from tradeloop.customs.ceb.catalogue import MESSAGE_TYPES, STATUS_CODES, MessageType, status_label
from tradeloop.customs.ceb.reader import CebMessage, Entity, Record, read
from tradeloop.customs.ceb.safe import CebRefused
from tradeloop.customs.ceb.schema import SchemaError, validate
from tradeloop.customs.ceb.writer import CebInvalid, build

__all__ = [
    "MESSAGE_TYPES",
    "STATUS_CODES",
    "CebInvalid",
    "CebMessage",
    "CebRefused",
    "Entity",
    "MessageType",
    "Record",
    "SchemaError",
    "build",
    "read",
    "status_label",
    "validate",
]
