"""Document numbers: counters per enterprise and kind, never duplicated under concurrency.

The counter row is bumped with one ``UPDATE … RETURNING``: on PostgreSQL in a short transaction of its
own (the row lock makes concurrent bumps take turns; a caller that later rolls back leaves a gap); on
SQLite inside the caller's write transaction, which holds the database write lock (``BEGIN IMMEDIATE``)
and gives the number back on rollback. The unique constraint on each document table's
``(enterprise_id, number)`` is the last line of defence.
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


def _bump(conn, enterprise_id: uuid.UUID, kind: str) -> int:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(DocumentSequence).values(enterprise_id=enterprise_id, kind=kind, last_value=0)
                 .on_conflict_do_nothing(index_elements=["enterprise_id", "kind"]))
    return conn.execute(update(DocumentSequence).where(
        DocumentSequence.enterprise_id == enterprise_id, DocumentSequence.kind == kind)
        .values(last_value=DocumentSequence.last_value + 1).returning(DocumentSequence.last_value)).scalar_one()


def next_value(session: Session, enterprise_id: uuid.UUID, kind: str) -> int:
    """The next number. On PostgreSQL it is taken in a transaction of its own that commits at once, so the
    counter row is locked for microseconds instead of for the caller's whole transaction (which made every
    order of one enterprise wait for the previous one to commit); a caller that rolls back leaves a gap,
    never a duplicate. On SQLite the caller's write transaction holds the database lock anyway, so the
    number is taken inside it (a second connection would wait for that very lock)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return _bump(session.connection(), enterprise_id, kind)
    with bind.engine.connect() as conn, conn.begin():
        return _bump(conn, enterprise_id, kind)


def next_number(session: Session, enterprise_id: uuid.UUID, kind: str, prefix: str, width: int = 8) -> str:
    """``prefix`` + the next counter value, zero-padded: ``OB00000042``."""
    return f"{prefix}{next_value(session, enterprise_id, kind):0{width}d}"
