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
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from tradeloop.kit.ids import uuid7
from tradeloop.kit.models import utcnow
from tradeloop.sales.importers.values import LINE_FIELDS, TIME_TEXTS, time_text

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

    def write(self, lines: list[tuple], product_ids: dict) -> tuple[int, int, int]:
        """(inserted, updated, unchanged) for a batch whose keys are distinct."""
        raise NotImplementedError


#: The columns COPY-ed into the staging table: those that differ between the lines of an import. The merge adds
#: the rest (enterprise, channel, sku_unknown = no product, import, created/updated) as parameters.
STAGED = ("id", *(c for c in LINE_FIELDS if c != "channel"), "row_hash", "product_id")


class PostgresWriter(Writer):
    #: The code path taken (tests check that imports on PostgreSQL really use COPY).
    uses_copy = True
    #: Written from a thread of its own, beside the parsing (see ``service._BatchWriter``).
    threaded = True

    def __init__(self, session, enterprise_id, import_id):
        super().__init__(session, enterprise_id, import_id)
        staged = ", ".join(STAGED)
        with self.driver.cursor() as cur:
            # Typed like the table's columns, without its constraints, indexes or WAL (temporary).
            cur.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} ON COMMIT DROP AS "
                        f"SELECT {staged} FROM {TABLE} WITH NO DATA")
        self.copy_sql = f"COPY {STAGE} ({staged}) FROM STDIN"
        values = {"enterprise_id": "%(enterprise)s::uuid", "channel": "%(channel)s",
                  "sku_unknown": "product_id IS NULL", "import_id": "%(import)s::uuid",
                  "created_at": "%(now)s::timestamptz", "updated_at": "%(now)s::timestamptz"}
        self.merge_sql = (f"INSERT INTO {TABLE} AS t ({', '.join(COLUMNS)}) "
                          f"SELECT {', '.join(values.get(c, c) for c in COLUMNS)} FROM {STAGE} "
                          f"{UPSERT_TAIL} RETURNING (xmax = 0)")

    def write(self, lines, product_ids):
        if not lines:
            return 0, 0, 0
        now = utcnow()
        with self.driver.cursor() as cur:
            cur.execute(f"TRUNCATE {STAGE}")
            with cur.copy(self.copy_sql) as copy:
                text, special = self.copy_text(lines, product_ids)
                copy.write(text)
                for row in special:  # lines with a character COPY text escapes (or refuses): psycopg writes them
                    copy.write_row(row)
            cur.execute(self.merge_sql, {"enterprise": self.enterprise_id.hex, "channel": lines[0][0],
                                         "import": self.import_id.hex, "now": now})
            flags = [r[0] for r in cur.fetchall()]
        inserted = sum(flags)
        updated = len(flags) - inserted
        return inserted, updated, len(lines) - inserted - updated

    def copy_text(self, lines: list[tuple], product_ids: dict) -> tuple[str, list[tuple]]:
        """The batch's ``STAGED`` columns as COPY text (one line per row, ``\\N`` for NULL, times as ``str()``:
        ISO 8601 with the offset), one f-string per row; a line with a backslash, tab, newline, CR or NUL in
        a text is returned apart, as a row of values for ``write_row``."""
        rows = []
        special = []
        n = "\\N"
        for line, row_id in zip(lines, new_ids(len(lines)), strict=True):
            (channel, marketplace, order_id, line_id, order_date, ship_date, updated, country, currency, status,
             raw_status, fulfilment, sku, quantity, item_price, item_tax, shipping, shipping_tax, other, discount,
             fees, refunded, row_hash) = line
            product_id = product_ids.get(sku)
            texts = f"{marketplace}{order_id}{line_id}{country}{currency}{status}{raw_status}{fulfilment}{sku}"
            if "\\" in texts or "\t" in texts or "\n" in texts or "\r" in texts or "\x00" in texts:
                special.append((row_id, *line[1:], product_id.hex if product_id else None))
                continue
            rows.append(
                f"{row_id}\t{n if marketplace is None else marketplace}\t{order_id}\t{line_id}"
                f"\t{time_text(order_date)}\t{n if ship_date is None else time_text(ship_date)}"
                f"\t{n if updated is None else time_text(updated)}\t{n if country is None else country}"
                f"\t{n if currency is None else currency}\t{status}\t{n if raw_status is None else raw_status}"
                f"\t{n if fulfilment is None else fulfilment}\t{sku}\t{quantity}\t{item_price}\t{item_tax}"
                f"\t{shipping}\t{shipping_tax}\t{other}\t{discount}\t{n if fees is None else fees}"
                f"\t{n if refunded is None else refunded}\t{row_hash}\t{n if product_id is None else product_id.hex}\n")
        return "".join(rows), special


def _sqlite_time(value: datetime | None) -> str | None:
    """UTCDateTime on SQLite: naive UTC in SQLAlchemy's DATETIME text (``2026-01-15 09:12:33.000000``), so
    that stored values compare as SQLAlchemy's bound parameters do. Values are aware UTC datetimes."""
    return None if value is None else value.isoformat(" ", "microseconds")[:26]


class SqliteWriter(Writer):
    uses_copy = False
    threaded = False

    def __init__(self, session, enterprise_id, import_id):
        super().__init__(session, enterprise_id, import_id)
        cols = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        self.insert_sql = f"INSERT INTO {TABLE} ({cols}) VALUES ({marks})"
        self.upsert_sql = f"INSERT INTO {TABLE} AS t ({cols}) VALUES ({marks}) {UPSERT_TAIL}"
        self.enterprise_hex = enterprise_id.hex
        self.times: dict[datetime, str] = {}

    def _time(self, value: datetime) -> str:
        """``_sqlite_time``, cached for UTC times (all an importer produces; the lines of an order share them).
        The text is cut from the time's ``str()`` when the importer left that in ``values.time_text``'s cache:
        ``2026-01-15 09:12:33+00:00`` -> ``2026-01-15 09:12:33.000000``."""
        if value.tzinfo is not UTC:
            return _sqlite_time(value)
        text = TIME_TEXTS.get(value)  # str(): "2026-01-15 09:12:33+00:00" or "…:33.123456+00:00"
        if text is None:
            return self._keep(value, _sqlite_time(value))
        return self._keep(value, f"{text[:19]}.000000" if len(text) == 25 else text[:26])

    def _keep(self, value: datetime, text: str) -> str:
        if len(self.times) >= 8192:
            self.times.clear()
        self.times[value] = text
        return text

    def _rows(self, lines: list[tuple], product_ids: dict) -> list[tuple]:
        """Rows in SQLite's representations (Uuid: 32 hex digits, times: SQLAlchemy's text, bool: 0/1)."""
        now = _sqlite_time(utcnow())
        enterprise, import_id = self.enterprise_hex, self.import_id.hex
        times, time = self.times, self._time
        out = []
        for line, row_id in zip(lines, new_ids(len(lines)), strict=True):
            order_date, ship_date, updated = line[4:7]
            order_text = times.get(order_date)
            if order_text is None or order_date.tzinfo is not UTC:
                order_text = time(order_date)
            if ship_date is not None:
                ship_date = time(ship_date)
            if updated is not None:
                updated_text = times.get(updated)
                updated = time(updated) if updated_text is None or updated.tzinfo is not UTC else updated_text
            product_id = product_ids.get(line[12])
            out.append((enterprise, row_id, *line[:4], order_text, ship_date, updated, *line[7:],
                        product_id.hex if product_id else None, 0 if product_id else 1, import_id, now, now))
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
        new, changed = [], []
        for line in lines:
            old = stored.get((line[_I_EXT - 2], line[_I_LINE - 2]))
            if old is None:
                new.append(line)
                continue
            new_updated = line[updated_at]
            older = old[1] is not None and new_updated is not None and _sqlite_time(new_updated) < old[1]
            if old[0] != line[hash_at] and not older:
                changed.append(line)
        # The write lock is held since BEGIN IMMEDIATE and the batch's keys are distinct: the lines not stored
        # are inserted plainly (SQLite's upsert costs about half as much again per row), the changed ones upserted.
        if new:
            self.driver.executemany(self.insert_sql, self._rows(new, product_ids))
        if changed:
            self.driver.executemany(self.upsert_sql, self._rows(changed, product_ids))
        return len(new), len(changed), len(lines) - len(new) - len(changed)


def writer_for(session: Session, enterprise_id: uuid.UUID, import_id: uuid.UUID) -> Writer:
    if session.get_bind().dialect.name == "postgresql":
        return PostgresWriter(session, enterprise_id, import_id)
    return SqliteWriter(session, enterprise_id, import_id)
