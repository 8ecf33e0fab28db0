"""Document numbers: gap-free counters per enterprise and kind, never duplicated under concurrency.

The counter row is bumped with one ``UPDATE … RETURNING``: on PostgreSQL the row lock makes concurrent
transactions take turns (and a rolled-back transaction gives its number back); on SQLite the write
transaction already holds the database write lock (``BEGIN IMMEDIATE``). The unique constraint on each
document table's ``(enterprise_id, number)`` is the last line of defence.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, String, Uuid, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from tradeloop.kit.db import Base


class DocumentSequence(Base):
    __tablename__ = "document_sequences"

    enterprise_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


def next_value(session: Session, enterprise_id: uuid.UUID, kind: str) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(DocumentSequence).values(enterprise_id=enterprise_id, kind=kind, last_value=0)
                    .on_conflict_do_nothing(index_elements=["enterprise_id", "kind"]))
    return session.execute(update(DocumentSequence).where(
        DocumentSequence.enterprise_id == enterprise_id, DocumentSequence.kind == kind)
        .values(last_value=DocumentSequence.last_value + 1).returning(DocumentSequence.last_value)).scalar_one()


def next_number(session: Session, enterprise_id: uuid.UUID, kind: str, prefix: str, width: int = 8) -> str:
    """``prefix`` + the next counter value, zero-padded: ``OB00000042``."""
    return f"{prefix}{next_value(session, enterprise_id, kind):0{width}d}"


def reserve_values(session: Session, enterprise_id: uuid.UUID, kind: str, count: int) -> int:
    """Take ``count`` consecutive values at once (a batch of documents); returns the first of them."""
    if count <= 0:
        raise ValueError("count must be positive")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(DocumentSequence).values(enterprise_id=enterprise_id, kind=kind, last_value=0)
                    .on_conflict_do_nothing(index_elements=["enterprise_id", "kind"]))
    last = session.execute(update(DocumentSequence).where(
        DocumentSequence.enterprise_id == enterprise_id, DocumentSequence.kind == kind)
        .values(last_value=DocumentSequence.last_value + count).returning(DocumentSequence.last_value)).scalar_one()
    return last - count + 1
