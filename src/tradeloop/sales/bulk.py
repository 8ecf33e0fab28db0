"""The bulk write of order lines, one batch at a time, inside the caller's transaction.

PostgreSQL: the batch is ``COPY``-ed (psycopg 3 ``cursor.copy``) into a temporary staging table, then merged
with ONE set-based statement::

    INSERT INTO sales_order_lines … SELECT … FROM staging
    ON CONFLICT (enterprise_id, channel, external_order_id, line_id) DO UPDATE SET …
    WHERE the stored row_hash differs (and the file is not older than the stored line)
    RETURNING (xmax = 0)

Rows the ``WHERE`` skips are not returned: returned ``true`` = inserted, ``false`` = updated, the rest of the
batch unchanged. The ``ON CONFLICT`` makes two imports of the same lines at once safe.

SQLite: the stored hashes of the batch's keys are read with one query (the write transaction already holds
the database write lock, ``BEGIN IMMEDIATE``, so nothing changes them meanwhile); new and changed lines are
written with one ``executemany`` of ``INSERT … ON CONFLICT DO UPDATE … WHERE hash differs``; unchanged lines
are not written at all.

Both write through the driver's connection of the session (no ORM objects, no per-row SQLAlchemy type
processing), with values in the representations SQLAlchemy's types use on each backend (tests read the
rows back through the ORM).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.sales.importers.values import LINE_FIELDS

TABLE = "sales_order_lines"
STAGE = "sales_order_lines_stage"
KEY = ("enterprise_id", "channel", "external_order_id", "line_id")
#: Columns written by an import, in this order: the key of the tenant, the id, the line, and bookkeeping.
COLUMNS = ("enterprise_id", "id", *LINE_FIELDS, "row_hash", "product_id", "sku_unknown", "import_id",
           "created_at", "updated_at")
#: Columns an update changes (never the key, id or created_at).
UPDATED = tuple(c for c in COLUMNS if c not in (*KEY, "id", "created_at"))
_STALE_GUARD = ("(t.source_updated_at IS NULL OR EXCLUDED.source_updated_at IS NULL "
                "OR EXCLUDED.source_updated_at >= t.source_updated_at)")
UPSERT_TAIL = (f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET "
               + ", ".join(f"{c} = EXCLUDED.{c}" for c in UPDATED)
               + f" WHERE t.row_hash <> EXCLUDED.row_hash AND {_STALE_GUARD}")
_I_EXT, _I_LINE = 2 + LINE_FIELDS.index("external_order_id"), 2 + LINE_FIELDS.index("line_id")


def new_ids(n: int) -> list[str]:
    """``n`` new UUIDv7 as 32 hex digits: one ``uuid7()`` gives the time and counter, the batch numbers the
    low bits. Ids stay unique (each call's base differs in time or counter), time-ordered, and cost a string
    format each instead of a UUID object (both databases read the hex text)."""
    base = uuid7().int & ~0xFFFFFFFF
    return [f"{base | i:032x}" for i in range(n)]


class Writer:
    """Writes batches of ``(values + (row_hash,))`` tuples for one enterprise and one import."""

    uses_copy = False
    threaded = False

    def __init__(self, session: Session, enterprise_id: uuid.UUID, import_id: uuid.UUID):
        self.session = session
        self.enterprise_id = enterprise_id
        self.import_id = import_id
        self.driver = session.connection().connection.driver_connection

    def rows(self, lines: list[tuple], product_ids: dict[str, uuid.UUID | None]):
        """COPY rows, one at a time: uuids as hex text, times as aware datetimes."""
        now = utcnow()
        sku_at = LINE_FIELDS.index("sku")
        enterprise, import_id = self.enterprise_id.hex, self.import_id.hex
        for line, row_id in zip(lines, new_ids(len(lines)), strict=True):
            product_id = product_ids.get(line[sku_at])
            yield (enterprise, row_id, *line, product_id.hex if product_id else None, product_id is None,
                   import_id, now, now)

    def write(self, lines: list[tuple], product_ids: dict) -> tuple[int, int, int]:
        """(inserted, updated, unchanged) for a batch whose keys are distinct."""
        raise NotImplementedError


class PostgresWriter(Writer):
    #: The code path taken (tests check that imports on PostgreSQL really use COPY).
    uses_copy = True
    #: Written from a thread of its own, beside the parsing (see ``service._BatchWriter``).
    threaded = True

    def __init__(self, session, enterprise_id, import_id):
        super().__init__(session, enterprise_id, import_id)
        with self.driver.cursor() as cur:
            cur.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} "
                        f"(LIKE {TABLE} INCLUDING DEFAULTS) ON COMMIT DROP")
        cols = ", ".join(COLUMNS)
        self.copy_sql = f"COPY {STAGE} ({cols}) FROM STDIN"
        self.merge_sql = (f"INSERT INTO {TABLE} AS t ({cols}) SELECT {cols} FROM {STAGE} "
                          f"{UPSERT_TAIL} RETURNING (xmax = 0)")

    def write(self, lines, product_ids):
        with self.driver.cursor() as cur:
            cur.execute(f"TRUNCATE {STAGE}")
            with cur.copy(self.copy_sql) as copy:
                for row in self.rows(lines, product_ids):
                    copy.write_row(row)
            cur.execute(self.merge_sql)
            flags = [r[0] for r in cur.fetchall()]
        inserted = sum(flags)
        updated = len(flags) - inserted
        return inserted, updated, len(lines) - inserted - updated


def _sqlite_time(value: datetime | None) -> str | None:
    """UTCDateTime on SQLite: naive UTC in SQLAlchemy's DATETIME text (``2026-01-15 09:12:33.000000``), so
    that stored values compare as SQLAlchemy's bound parameters do. Values are aware UTC datetimes."""
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


_TIMES = tuple(2 + LINE_FIELDS.index(k) for k in ("order_date", "ship_date", "source_updated_at"))


class SqliteWriter(Writer):
    uses_copy = False
    threaded = False

    def __init__(self, session, enterprise_id, import_id):
        super().__init__(session, enterprise_id, import_id)
        cols = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        self.upsert_sql = f"INSERT INTO {TABLE} AS t ({cols}) VALUES ({marks}) {UPSERT_TAIL}"
        self.enterprise_hex = enterprise_id.hex

    def _rows(self, lines: list[tuple], product_ids: dict) -> list[tuple]:
        """Rows in SQLite's representations (Uuid: 32 hex digits, times: SQLAlchemy's text, bool: 0/1)."""
        now = _sqlite_time(utcnow())
        sku_at = LINE_FIELDS.index("sku")
        i_order, i_ship, i_updated = (i - 2 for i in _TIMES)
        enterprise, import_id = self.enterprise_hex, self.import_id.hex
        out = []
        for line, row_id in zip(lines, new_ids(len(lines)), strict=True):
            product_id = product_ids.get(line[sku_at])
            values = list(line)
            values[i_order] = _sqlite_time(line[i_order])
            if line[i_ship] is not None:
                values[i_ship] = _sqlite_time(line[i_ship])
            if line[i_updated] is not None:
                values[i_updated] = _sqlite_time(line[i_updated])
            out.append((enterprise, row_id, *values, product_id.hex if product_id else None,
                        0 if product_id else 1, import_id, now, now))
        return out

    def _stored(self, channel: str, order_ids: list[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
        stored = {}
        cur = self.driver.cursor()
        try:
            for i in range(0, len(order_ids), 500):
                chunk = order_ids[i:i + 500]
                cur.execute(f"SELECT external_order_id, line_id, row_hash, source_updated_at FROM {TABLE} "
                            f"WHERE enterprise_id = ? AND channel = ? AND external_order_id IN "
                            f"({', '.join('?' for _ in chunk)})", (self.enterprise_hex, channel, *chunk))
                for ext, line_id, row_hash, updated_at in cur.fetchall():
                    stored[(ext, line_id)] = (row_hash, updated_at)
        finally:
            cur.close()
        return stored

    def write(self, lines, product_ids):
        if not lines:
            return 0, 0, 0
        channel = lines[0][0]
        stored = self._stored(channel, list({line[_I_EXT - 2] for line in lines}))
        hash_at, updated_at = len(LINE_FIELDS), LINE_FIELDS.index("source_updated_at")
        inserted = updated = 0
        todo = []
        for line in lines:
            old = stored.get((line[_I_EXT - 2], line[_I_LINE - 2]))
            if old is None:
                inserted += 1
                todo.append(line)
                continue
            new_updated = line[updated_at]
            older = old[1] is not None and new_updated is not None and _sqlite_time(new_updated) < old[1]
            if old[0] != line[hash_at] and not older:
                updated += 1
                todo.append(line)
        if todo:
            self.driver.executemany(self.upsert_sql, self._rows(todo, product_ids))
        return inserted, updated, len(lines) - inserted - updated


def writer_for(session: Session, enterprise_id: uuid.UUID, import_id: uuid.UUID) -> Writer:
    if session.get_bind().dialect.name == "postgresql":
        return PostgresWriter(session, enterprise_id, import_id)
    return SqliteWriter(session, enterprise_id, import_id)
