"""Imports are idempotent upserts in one transaction per file: the same file twice changes nothing, a later
file updates what changed, an older one never overwrites a newer one, and an import killed midway leaves
nothing behind (SQLite and PostgreSQL). Also: the PostgreSQL path really uses COPY, and memory stays bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc

import pytest
from sqlalchemy import func, select

from tests.sales.conftest import do_import, make_seller, stored
from tests.sales.generate import write_amazon
from tradeloop.audit.models import AuditLog
from tradeloop.sales import bulk
from tradeloop.sales.models import SalesOrderLine


def audit_rows(db) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "sales.orders.import"))


def line_count(db) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(select(func.count()).select_from(SalesOrderLine))


class TestSameFileTwice:
    @pytest.mark.parametrize(("name", "channel", "lines"), [
        ("amazon_all_orders.txt", "amazon", 9), ("shopify_orders.csv", "shopify", 6),
        ("ebay_orders_gb18030.csv", "ebay", 4)])
    def test_second_import_changes_nothing(self, db, seller, name, channel, lines):
        first = do_import(db, seller, name, channel)
        before = {k: (v.id, v.row_hash, v.updated_at) for k, v in stored(db, seller).items()}
        second = do_import(db, seller, name, channel)
        assert (first.inserted, second.read, second.inserted, second.updated, second.unchanged) == (
            lines, lines, 0, 0, lines)
        assert {k: (v.id, v.row_hash, v.updated_at) for k, v in stored(db, seller).items()} == before
        assert audit_rows(db) == 1  # an import that changed nothing writes no audit row


class TestLaterFile:
    def test_new_statuses_update_those_lines_only(self, db, seller):
        first = do_import(db, seller, "amazon_all_orders.txt", "amazon")
        later = do_import(db, seller, "amazon_all_orders_later.txt", "amazon")
        assert (later.read, later.inserted, later.updated, later.unchanged) == (9, 0, 3, 6)
        lines = stored(db, seller)
        assert lines[("111-0000003-0000003", "SILK-SCARF-01")].status == "shipped"
        assert lines[("113-0000005-0000005", "MYSTERY-SKU-9")].status == "shipped"
        changed = {k for k, v in lines.items() if v.import_id == later.import_id}
        assert changed == {("111-0000003-0000003", "SILK-PJ-03"), ("111-0000003-0000003", "SILK-SCARF-01"),
                           ("113-0000005-0000005", "MYSTERY-SKU-9")}
        assert all(v.import_id == first.import_id for k, v in lines.items() if k not in changed)
        assert audit_rows(db) == 2

    def test_an_older_report_never_overwrites_a_newer_one(self, db, seller):
        do_import(db, seller, "amazon_all_orders_later.txt", "amazon")
        older = do_import(db, seller, "amazon_all_orders.txt", "amazon")
        assert (older.inserted, older.updated, older.unchanged) == (0, 0, 9)
        assert stored(db, seller)[("113-0000005-0000005", "MYSTERY-SKU-9")].status == "shipped"

    def test_a_line_repeated_in_one_file_is_rejected(self, db, seller, tmp_path):
        path = tmp_path / "repeat.txt"
        path.write_text("amazon-order-id\torder-item-id\tpurchase-date\torder-status\tsku\tquantity\tcurrency\t"
                        "item-price\n"
                        "111-1\t11111\t2026-01-15T09:00:00+00:00\tShipped\tSILK-TIE-02\t1\tUSD\t19.99\n"
                        "111-1\t11111\t2026-01-15T09:00:00+00:00\tCancelled\tSILK-TIE-02\t1\tUSD\t19.99\n")
        result = do_import(db, seller, path, "amazon")
        assert (result.read, result.inserted, result.rejected) == (2, 1, 1)
        assert [(e.row, e.reason) for e in result.errors] == [(3, "repeats the order line of row 2")]
        assert stored(db, seller)[("111-1", "11111")].status == "shipped"


class TestKilledImport:
    def test_failure_in_the_batch_loop_applies_nothing_and_a_rerun_leaves_one_copy(self, db, seller, tmp_path):
        path = write_amazon(tmp_path / "orders.txt", 250)
        calls = []

        def progress(p):
            calls.append(p.read)
            if len(calls) == 3:  # after the first batch went to the database
                raise KeyboardInterrupt("killed")

        with pytest.raises(KeyboardInterrupt):
            do_import(db, seller, path, "amazon", batch_size=100, progress=progress)
        assert calls[1] >= 100 and line_count(db) == 0 and audit_rows(db) == 0
        result = do_import(db, seller, path, "amazon", batch_size=100)
        assert (result.read, result.inserted) == (250, 250)
        assert line_count(db) == 250

    def test_failure_while_writing_the_second_batch(self, db, seller, tmp_path, monkeypatch):
        path = write_amazon(tmp_path / "orders.txt", 250)
        written = []
        real = {cls: cls.write for cls in (bulk.PostgresWriter, bulk.SqliteWriter)}

        def failing(cls):
            def write(self, lines, product_ids):
                if written:
                    raise OSError("disk full")
                written.append(len(lines))
                return real[cls](self, lines, product_ids)
            return write

        for cls in real:
            monkeypatch.setattr(cls, "write", failing(cls))
        with pytest.raises(OSError):
            do_import(db, seller, path, "amazon", batch_size=100)
        assert written == [100] and line_count(db) == 0
        monkeypatch.undo()
        assert do_import(db, seller, path, "amazon", batch_size=100).inserted == 250
        assert line_count(db) == 250

    def test_process_killed_midway_then_run_again(self, db, database_url, tmp_path):
        """A real kill (SIGKILL) of ``tradeloop import orders`` while its transaction has written batches leaves
        nothing; the rerun leaves exactly one copy of each line."""
        seller = make_seller(db)
        path = write_amazon(tmp_path / "big.txt", 60_000)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADELOOP_")}
        env["TRADELOOP_DATABASE_URL"] = database_url
        args = [sys.executable, "-m", "tradeloop", "import", "orders", str(path), "--channel", "amazon",
                "--enterprise", seller.enterprise.uscc, "--data-dir", str(tmp_path / "data"), "--json"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not _writing(db, database_url):
                assert proc.poll() is None, "the import ended before it was seen writing"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert line_count(db) == 0
        rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert json.loads(rerun.stdout)["inserted"] == 60_000
        with db.transaction(write=False) as s:
            keys = s.scalar(select(func.count()).select_from(
                select(SalesOrderLine.external_order_id, SalesOrderLine.line_id).distinct().subquery()))
        assert keys == line_count(db) == 60_000


def _writing(db, database_url: str) -> bool:
    """Whether another process is inside an import transaction that has written lines: on PostgreSQL a
    session holds a write lock on sales_order_lines; on SQLite the write lock is taken and the write-ahead
    log holds uncommitted pages."""
    if db.is_sqlite:
        import sqlite3

        file = database_url.removeprefix("sqlite:///")
        wal = file + "-wal"
        if not os.path.exists(wal) or os.path.getsize(wal) < 1 << 20:
            return False
        con = sqlite3.connect(file, timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            con.close()
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'sales_order_lines' AND l.mode = 'RowExclusiveLock' "
            "AND l.pid <> pg_backend_pid()")))


class TestBulkPath:
    def test_postgresql_copies_into_staging_and_merges_once_per_batch(self, db, seller, tmp_path, monkeypatch):
        statements = []
        if db.is_sqlite:
            real = bulk.SqliteWriter.write

            def spy(self, lines, product_ids):
                statements.append(("executemany", len(lines)))
                return real(self, lines, product_ids)

            monkeypatch.setattr(bulk.SqliteWriter, "write", spy)
        else:
            import psycopg

            real_copy, real_execute = psycopg.Cursor.copy, psycopg.Cursor.execute

            def copy(self, statement, *a, **kw):
                statements.append(("copy", str(statement)))
                return real_copy(self, statement, *a, **kw)

            def execute(self, query, *a, **kw):
                if "sales_order_lines" in str(query):
                    statements.append(("execute", str(query).split(" ")[0]))
                return real_execute(self, query, *a, **kw)

            monkeypatch.setattr(psycopg.Cursor, "copy", copy)
            monkeypatch.setattr(psycopg.Cursor, "execute", execute)
        path = write_amazon(tmp_path / "orders.txt", 2_500)
        result = do_import(db, seller, path, "amazon", batch_size=1_000)
        assert result.inserted == 2_500
        if db.is_sqlite:
            assert statements == [("executemany", 1000), ("executemany", 1000), ("executemany", 500)]
        else:
            copies = [s for kind, s in statements if kind == "copy"]
            assert len(copies) == 3 and all(s.startswith("COPY sales_order_lines_stage") for s in copies)
            # Per batch: TRUNCATE staging, COPY, one INSERT … SELECT … ON CONFLICT; no row-by-row INSERTs.
            writes = [s for kind, s in statements if kind == "execute" and s != "SELECT"]
            assert writes == ["CREATE", "TRUNCATE", "INSERT"] + ["TRUNCATE", "INSERT"] * 2

    def test_memory_does_not_grow_with_the_file(self, db, tmp_path):
        """A 60,000-line report (12+ MB) is read in one streaming pass: the peak of traced memory while importing
        it stays near that of a 20,000-line one (a bound on growth, not on time)."""
        small = write_amazon(tmp_path / "small.txt", 20_000, seed=1)
        big = write_amazon(tmp_path / "big.txt", 60_000, seed=2)
        assert big.stat().st_size > 12 * 1024 * 1024
        peaks = []
        for path in (small, big):
            seller = make_seller(db, name=f"卖家{path.stem}")
            tracemalloc.start()
            try:
                result = do_import(db, seller, path, "amazon")
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
            assert result.inserted == result.read
        assert peaks[1] < peaks[0] * 1.5, [p // 1024 for p in peaks]
        assert peaks[1] < 40 * 1024 * 1024
